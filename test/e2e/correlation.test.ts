/**
 * Correlation rules through the real server: a correlated event and a timeout event reach an HTTP target through a
 * rule of their own, a B in time cancels its timeout, metrics count them, and bad settings are refused with the field.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';

const order = (id: string, type: string, orderId: string) => ({
  specversion: '1.0',
  id,
  source: '/shop',
  type,
  // A and B of an order on one partition (docs/correlation.md#partitions).
  partitionkey: orderId,
  datacontenttype: 'application/json',
  data: { orderId },
});

async function metric(bus: TestBus, name: string, rule: string): Promise<number> {
  const text = await (await fetch(`${bus.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`rule="${rule}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('correlation rules', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
  });
  after(async () => {
    await bus.stop();
  });

  test('match and absence: the correlated and the timeout events are routed; a B in time cancels the timeout', async () => {
    const target = await startHttpTarget();
    try {
      for (const [name, mode, within] of [
        ['paid-orders', 'match', '1h'],
        ['unpaid-orders', 'absence', '2s'],
      ] as const) {
        const res = await request(bus.url, 'PUT', `/rules/${name}`, {
          correlate: {
            first: { pattern: { type: ['order.created'] } },
            followedBy: { filter: "type = 'order.paid'" },
            key: '$.data.orderId',
            within,
            mode,
          },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.deepEqual(res.body.targets, []);
      }
      const route = await request(bus.url, 'PUT', '/rules/correlations-out', {
        pattern: { source: [{ prefix: '/correlations/' }] },
        targets: [{ id: 'out', type: 'http', url: target.url, mode: 'structured' }],
      });
      assert.equal(route.status, 201, JSON.stringify(route.body));
      for (const e of [
        order('c1', 'order.created', 'o1'),
        order('p1', 'order.paid', 'o1'),
        order('c2', 'order.created', 'o2'),
      ]) {
        const res = await request(bus.url, 'POST', '/events', e, {
          'content-type': 'application/cloudevents+json',
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
      }
      const received = () => target.received.map((r) => JSON.parse(r.body.toString('utf8')));
      await waitFor(
        () => received().some((e) => e.type === 'junction.absent'),
        'the timeout event of o2 at the target',
        60_000,
      );
      await waitFor(
        () => received().some((e) => e.type === 'junction.correlated'),
        'the correlated event of o1 at the target',
        60_000,
      );
      const matched = received().find((e) => e.type === 'junction.correlated');
      assert.equal(matched.source, '/correlations/paid-orders');
      assert.equal(matched.subject, 'o1');
      assert.equal(matched.data.first.id, 'c1');
      assert.equal(matched.data.followedBy.id, 'p1');
      const timeouts = received().filter((e) => e.type === 'junction.absent');
      assert.deepEqual(
        timeouts.map((e) => e.data.first.id),
        ['c2'],
      );
      assert.equal(timeouts[0].subject, 'o2');
      // o2's timeout fired, so o1's (earlier) deadline had passed too: its B cancelled it.
      await waitFor(
        async () => (await metric(bus, 'junction_correlate_timeouts_total', 'unpaid-orders')) === 1,
        'the timeout counted',
        60_000,
      );
      assert.equal(await metric(bus, 'junction_correlate_completed_total', 'unpaid-orders'), 1);
      assert.equal(await metric(bus, 'junction_correlate_completed_total', 'paid-orders'), 1);
      assert.equal(await metric(bus, 'junction_correlate_started_total', 'paid-orders'), 2);
    } finally {
      await target.close();
    }
  });

  test('bad settings are refused naming the field', async () => {
    const base = {
      first: { pattern: { type: ['a'] } },
      followedBy: { pattern: { type: ['b'] } },
      key: '$.data.k',
      within: '1m',
    };
    for (const [body, field] of [
      [{ correlate: { ...base, within: '1d1h' } }, 'correlate.within'],
      [{ correlate: { ...base, mode: 'never' } }, 'correlate.mode'],
      [{ correlate: { ...base, followedBy: { pattern: 'b' } } }, 'correlate.followedBy.pattern'],
      [{ correlate: { ...base, maxPending: 2_000_000 } }, 'correlate.maxPending'],
      [{ correlate: base, filter: "type = 'a'" }, 'filter'],
    ] as const) {
      const res = await request(bus.url, 'PUT', '/rules/bad', body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'InvalidRule');
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
  });
});
