/**
 * Named event buses (issue #13): create, list, describe, change and delete buses; each bus routes its own events
 * with its own rules, quotas and data; bus targets cross buses, with a loop guard; the default bus's paths keep
 * working; a deleted bus leaves the others intact and its directory gone.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

function event(id: string, source = '/shop', type = 'order.placed', data: unknown = { n: 1 }) {
  return { specversion: '1.0', id, source, type, datacontenttype: 'application/json', data };
}

describe('named buses', () => {
  let bus: TestBus;
  let target: HttpTarget;
  const ids = (): string[] => target.received.map((r) => String(r.headers['ce-id']));
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    target = await startHttpTarget();
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  test('the default bus is listed and cannot be deleted or changed', async () => {
    const list = await request(bus.url, 'GET', '/buses');
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.buses.map((b: { name: string }) => b.name),
      ['default'],
    );
    assert.match(list.body.buses[0].arn, /:event-bus\/default$/);
    const del = await request(bus.url, 'DELETE', '/buses/default');
    assert.equal(del.status, 400);
    assert.equal(del.body.error.code, 'InvalidBus');
    const put = await request(bus.url, 'PUT', '/buses/default', {});
    assert.equal(put.status, 400);
  });

  test('bad bus names and bodies are refused with the field named', async () => {
    const bad = await request(bus.url, 'PUT', '/buses/-x', {});
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidBus');
    assert.equal(bad.body.error.field, 'name');
    const quota = await request(bus.url, 'PUT', '/buses/q', { quota: { eventsPerSecond: 0 } });
    assert.equal(quota.status, 400);
    assert.equal(quota.body.error.field, 'quota.eventsPerSecond');
    const unknown = await request(bus.url, 'PUT', '/buses/q', { colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.field, 'colour');
    const json = await request(bus.url, 'PUT', '/buses/q', '{', { 'content-type': 'application/json' });
    assert.equal(json.status, 400);
    assert.equal(json.body.error.code, 'InvalidJson');
    const missing = await request(bus.url, 'GET', '/buses/nope');
    assert.equal(missing.status, 404);
    const under = await request(bus.url, 'GET', '/buses/nope/rules');
    assert.equal(under.status, 404);
    assert.match(under.body.error.message, /no bus named "nope"/);
  });

  test('a bus routes its own events with its own rules; the default bus does not see them', async () => {
    const created = await request(bus.url, 'PUT', '/buses/orders', { description: 'orders of the shop' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'orders');
    assert.ok(existsSync(join(bus.dataDir, 'buses', 'orders')));
    const again = await request(bus.url, 'PUT', '/buses/orders', { description: 'orders' });
    assert.equal(again.status, 200);
    assert.equal(again.body.createdAt, created.body.createdAt);

    const rule = await request(bus.url, 'PUT', '/buses/orders/rules/all', {
      pattern: { type: ['order.placed'] },
      targets: [{ id: 'hook', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    assert.equal(
      (await request(bus.url, 'GET', '/rules/all')).status,
      404,
      'the default bus has no such rule',
    );
    assert.deepEqual((await request(bus.url, 'GET', '/rules')).body.rules, []);
    assert.equal((await request(bus.url, 'GET', '/buses/orders/rules')).body.rules.length, 1);

    const onDefault = await request(bus.url, 'POST', '/events', event('d-1'), {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(onDefault.status, 202);
    const onOrders = await request(bus.url, 'POST', '/buses/orders/events', event('o-1'), {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(onOrders.status, 202, JSON.stringify(onOrders.body));
    await waitFor(() => ids().includes('o-1'), 'o-1 delivered by the orders bus');
    // d-1 went to the default bus, which has no rule: its trace says so, and the target never gets it.
    await waitFor(
      async () => (await traceOf(bus, 'd-1', '/shop')).some((e) => e.kind === 'unmatched'),
      'd-1 unmatched',
    );
    assert.ok(!ids().includes('d-1'));
    // Traces are the bus's own.
    assert.equal((await request(bus.url, 'GET', '/events/o-1/trace?source=%2Fshop')).status, 404);
    const trace = await request(bus.url, 'GET', '/buses/orders/events/o-1/trace?source=%2Fshop');
    assert.equal(trace.status, 200);
    assert.ok(trace.body.entries.some((e: { kind: string }) => e.kind === 'delivered'));
    // Metrics carry the bus label, per bus.
    const metrics = await request(bus.url, 'GET', '/metrics');
    assert.match(String(metrics.body), /junction_events_in_total\{bus="orders"\} 1/);
    assert.match(String(metrics.body), /junction_router_lag_events\{bus="orders"\} \d+/);
    const own = await request(bus.url, 'GET', '/buses/orders/metrics');
    assert.doesNotMatch(String(own.body), /bus="default"/);
  });

  test('a bus target forwards across buses; a loop between buses ends in dead letters', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/audit', {})).status, 201);
    const toSelf = await request(bus.url, 'PUT', '/buses/audit/rules/self', {
      pattern: { type: ['x'] },
      targets: [{ id: 'me', type: 'bus', bus: 'audit' }],
    });
    assert.equal(toSelf.status, 400);
    assert.equal(toSelf.body.error.path, 'targets[0].bus');
    const toNowhere = await request(bus.url, 'PUT', '/rules/nowhere', {
      pattern: { type: ['x'] },
      targets: [{ id: 'b', type: 'bus', bus: 'missing' }],
    });
    assert.equal(toNowhere.status, 400);
    assert.match(toNowhere.body.error.message, /no bus named "missing"/);
    const both = await request(bus.url, 'PUT', '/rules/both', {
      pattern: { type: ['x'] },
      targets: [{ id: 'b', type: 'bus', bus: 'audit', url: 'http://127.0.0.1:1' }],
    });
    assert.equal(both.status, 400);

    // default → audit: the audit bus's rule delivers to the HTTP target.
    assert.equal(
      (
        await request(bus.url, 'PUT', '/rules/forward', {
          pattern: { type: ['audit.me'] },
          targets: [{ id: 'to-audit', type: 'bus', bus: 'audit' }],
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await request(bus.url, 'PUT', '/buses/audit/rules/hook', {
          pattern: { type: ['audit.me'] },
          targets: [{ id: 'hook', type: 'http', url: target.url }],
        })
      ).status,
      201,
    );
    await request(bus.url, 'POST', '/events', event('a-1', '/shop', 'audit.me'), {
      'content-type': 'application/cloudevents+json',
    });
    await waitFor(() => ids().includes('a-1'), 'a-1 forwarded to the audit bus and delivered');
    const delivered = target.received.find((r) => r.headers['ce-id'] === 'a-1');
    assert.equal(delivered?.headers['ce-junctionhops'], '1');

    // ping ↔ pong: a loop. The event comes back to ping with its own source and id, a duplicate: it stops there.
    assert.equal((await request(bus.url, 'PUT', '/buses/ping', {})).status, 201);
    assert.equal((await request(bus.url, 'PUT', '/buses/pong', {})).status, 201);
    for (const [from, to] of [
      ['ping', 'pong'],
      ['pong', 'ping'],
    ]) {
      const r = await request(bus.url, 'PUT', `/buses/${from}/rules/loop`, {
        pattern: { type: ['loop'] },
        targets: [{ id: 'next', type: 'bus', bus: to, retry: { maxAttempts: 1 } }],
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await request(bus.url, 'POST', '/buses/ping/events', event('l-1', '/loop', 'loop'), {
      'content-type': 'application/cloudevents+json',
    });
    await waitFor(
      async () =>
        /junction_events_duplicate_total\{bus="ping"\} 1/.test(
          String((await request(bus.url, 'GET', '/metrics')).body),
        ),
      'the event back on ping as a duplicate',
    );
    // An event that already passed the hop limit (16: functions, replies and buses together) is not forwarded.
    await request(
      bus.url,
      'POST',
      '/buses/ping/events',
      { ...event('l-2', '/loop', 'loop'), junctionhops: 16 },
      {
        'content-type': 'application/cloudevents+json',
      },
    );
    await waitFor(
      async () => (await request(bus.url, 'GET', '/buses/ping/dead-letters')).body.deadLetters.length === 1,
      'the event at the hop limit dead-lettered',
    );
    const letter = (await request(bus.url, 'GET', '/buses/ping/dead-letters')).body.deadLetters[0];
    assert.match(JSON.stringify(letter), /LoopDetected/);
    assert.deepEqual((await request(bus.url, 'GET', '/buses/pong/dead-letters')).body.deadLetters, []);
  });

  test('a bus quota refuses over it with 429 and leaves other buses alone', async () => {
    const r = await request(bus.url, 'PUT', '/buses/small', { quota: { eventsPerSecond: 1, burst: 2 } });
    assert.equal(r.status, 201);
    const batch = Array.from({ length: 5 }, (_, i) => event(`q-${i}`, `/s${i}`));
    const answer = await request(bus.url, 'POST', '/buses/small/events', batch, {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(answer.status, 200);
    assert.ok(answer.body.accepted >= 2 && answer.body.accepted <= 3, JSON.stringify(answer.body));
    assert.match(JSON.stringify(answer.body.results), /the bus \\"small\\" is over its quota/);
    const other = await request(bus.url, 'POST', '/buses/orders/events', batch, {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(other.body.accepted, 5);
  });

  test('deleting a bus with rules needs force; it leaves the other buses intact and removes its data', async () => {
    const refused = await request(bus.url, 'DELETE', '/buses/orders');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.rules, 1);
    assert.equal((await request(bus.url, 'DELETE', '/buses/orders?force=true')).status, 204);
    assert.equal((await request(bus.url, 'GET', '/buses/orders')).status, 404);
    assert.equal((await request(bus.url, 'GET', '/buses/orders/rules')).status, 404);
    assert.ok(!existsSync(join(bus.dataDir, 'buses', 'orders')));
    // The other buses keep their rules and still route.
    assert.equal((await request(bus.url, 'GET', '/buses/audit/rules')).body.rules.length, 1);
    assert.equal((await request(bus.url, 'GET', '/rules/forward')).status, 200);
    await request(bus.url, 'POST', '/events', event('a-2', '/shop', 'audit.me'), {
      'content-type': 'application/cloudevents+json',
    });
    await waitFor(() => ids().includes('a-2'), 'a-2 still forwarded after another bus was deleted');
    // A new bus of the same name starts empty.
    assert.equal((await request(bus.url, 'PUT', '/buses/orders', {})).status, 201);
    assert.deepEqual((await request(bus.url, 'GET', '/buses/orders/rules')).body.rules, []);
  });

  test('buses and their rules come back after a restart', async () => {
    const dataDir = bus.dataDir;
    await bus.stop({ keepData: true });
    bus = await startTestBus({ dataDir, pollMs: 50 });
    const names = (await request(bus.url, 'GET', '/buses')).body.buses.map((b: { name: string }) => b.name);
    assert.deepEqual(names, ['default', 'audit', 'orders', 'ping', 'pong', 'small']);
    assert.equal((await request(bus.url, 'GET', '/buses/audit/rules')).body.rules.length, 1);
    assert.deepEqual((await request(bus.url, 'GET', '/buses/small')).body.quota, {
      eventsPerSecond: 1,
      burst: 2,
    });
  });
});
