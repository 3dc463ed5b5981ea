/**
 * Issue 11, replays: a name is used once (409 ReplayExists instead of a 202 that delivered nothing), and every
 * replay has a status (`GET /replays`, `GET /replays/{name}`) that survives a restart of the embedded bus.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

describe('replay status', () => {
  let bus: TestBus;
  let web: HttpTarget;
  let from: number;
  before(async () => {
    web = await startHttpTarget();
    bus = await startTestBus();
    await request(bus.url, 'PUT', '/rules/all', {
      pattern: { source: ['/replays'] },
      targets: [{ id: 'web', type: 'http', url: web.url }],
    });
    from = Date.now() - 1000;
    const events = Array.from({ length: 3 }, (_, i) => makeEvent({ source: '/replays', id: `r-${i}` }));
    await request(bus.url, 'POST', '/events', JSON.stringify(events), {
      'content-type': 'application/cloudevents-batch+json',
    });
    await waitFor(() => web.received.length === 3, 'the first deliveries');
  });
  after(async () => {
    await bus.stop();
    await web.close();
  });

  const window = () => ({ from, to: Date.now() + 1000 });

  test('answers a finished replay with its counts, progress and times', async () => {
    const res = await request(bus.url, 'POST', '/replays', { ...window(), name: 'fix-1' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.name, 'fix-1');
    assert.equal(res.body.state, 'completed');
    assert.deepEqual(res.body.counts, { events: 3, deliveries: 3 });
    assert.equal(res.body.events, 3);
    assert.equal(res.body.deliveries, 3);
    assert.equal(res.body.progress.read, 3);
    assert.ok(res.body.progress.total >= 3);
    assert.ok(Date.parse(res.body.startedAt) <= Date.parse(res.body.endedAt));
    assert.equal(res.body.rule, undefined);
    await waitFor(() => web.received.length === 6, 'the replayed deliveries');
    const status = await request(bus.url, 'GET', '/replays/fix-1');
    assert.equal(status.status, 200);
    const { events: _e, deliveries: _d, ...shape } = res.body;
    assert.deepEqual(status.body, shape);
  });

  test('refuses a name already used with 409 ReplayExists', async () => {
    const again = await request(bus.url, 'POST', '/replays', { ...window(), name: 'fix-1' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'ReplayExists');
    assert.equal(again.body.error.field, 'name');
  });

  test('lists replays newest first and answers 404 for an unknown one', async () => {
    const second = await request(bus.url, 'POST', '/replays', { ...window(), rule: 'all' });
    assert.equal(second.status, 202);
    assert.match(second.body.name, /^replay-/);
    assert.equal(second.body.rule, 'all');
    const list = await request(bus.url, 'GET', '/replays');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.replays.map((r: { name: string }) => r.name),
      [second.body.name, 'fix-1'],
    );
    const missing = await request(bus.url, 'GET', '/replays/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'NotFound');
  });

  test('keeps the list across a restart, names included', async () => {
    await bus.stop({ keepData: true });
    bus = await bus.restart();
    const status = await request(bus.url, 'GET', '/replays/fix-1');
    assert.equal(status.status, 200);
    assert.equal(status.body.state, 'completed');
    assert.equal((await request(bus.url, 'GET', '/replays')).body.replays.length, 2);
    const again = await request(bus.url, 'POST', '/replays', { ...window(), name: 'fix-1' });
    assert.equal(again.status, 409);
  });
});
