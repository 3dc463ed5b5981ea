/** `GET /events`: the newest retained events by source, type, id and time, bounded (lib/engine/event-search.ts). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EVENT_SEARCH_SCAN } from '../../lib/engine/event-search.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

describe('GET /events', () => {
  let bus: TestBus;
  let middle = 0;
  before(async () => {
    bus = await startTestBus({ partitions: 3 });
    const batch = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({
        specversion: '1.0',
        id: `e-${from + i}`,
        source: `/search/${(from + i) % 2 === 0 ? 'even' : 'odd'}`,
        type: (from + i) % 3 === 0 ? 'three' : 'other',
        data: { n: from + i },
      }));
    const first = await request(bus.url, 'POST', '/events', JSON.stringify(batch(0, 30)), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(first.body.accepted, 30);
    // Log times are in ms: the second batch is appended strictly later than the first.
    const t = Date.now();
    while (Date.now() <= t + 1) await new Promise((r) => setImmediate(r));
    middle = Date.now();
    const second = await request(bus.url, 'POST', '/events', JSON.stringify(batch(30, 40)), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(second.body.accepted, 10);
  });
  after(async () => {
    await bus?.stop();
  });

  test('answers the newest events first, up to limit, with their position and time', async () => {
    const res = await request(bus.url, 'GET', '/events?limit=5');
    assert.equal(res.status, 200);
    assert.equal(res.body.events.length, 5);
    for (const found of res.body.events) {
      assert.ok(Number(found.event.id.slice(2)) >= 30, `${found.event.id} is of the newest batch`);
      assert.equal(typeof found.partition, 'number');
      assert.equal(typeof found.offset, 'number');
      assert.ok(!Number.isNaN(Date.parse(found.acceptedAt)));
    }
    const times = res.body.events.map((f: { acceptedAt: string }) => Date.parse(f.acceptedAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );
  });

  test('filters by source, type, id and time', async () => {
    const even = await request(bus.url, 'GET', '/events?source=/search/even&type=three&limit=100');
    assert.deepEqual(
      even.body.events.map((f: { event: { id: string } }) => f.event.id).sort(),
      ['e-0', 'e-12', 'e-18', 'e-24', 'e-30', 'e-36', 'e-6'].sort(),
    );
    const one = await request(bus.url, 'GET', '/events?id=e-7');
    assert.equal(one.body.events.length, 1);
    assert.deepEqual(one.body.events[0].event.data, { n: 7 });
    const older = await request(bus.url, 'GET', `/events?to=${middle}&limit=100`);
    assert.equal(older.body.events.length, 30);
    const newer = await request(bus.url, 'GET', `/events?from=${new Date(middle).toISOString()}&limit=100`);
    assert.equal(newer.body.events.length, 10);
    assert.ok(newer.body.scanned <= EVENT_SEARCH_SCAN);
    const none = await request(bus.url, 'GET', '/events?id=nothing');
    assert.deepEqual(none.body.events, []);
  });

  test('refuses a bad limit or time range, naming the field', async () => {
    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=many', 'limit'],
      ['from=yesterday', 'from'],
      ['from=2000&to=1000', 'to'],
    ]) {
      const res = await request(bus.url, 'GET', `/events?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.field, field, query);
    }
    const put = await request(bus.url, 'PUT', '/events', {});
    assert.equal(put.status, 405);
  });
});
