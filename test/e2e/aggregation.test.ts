/**
 * Aggregation rules through the real server: a window's event reaches an HTTP target through a rule of its own, late
 * events are counted, and bad settings are refused with the field named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';

describe('aggregation rules', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
  });
  after(async () => {
    await bus.stop();
  });

  test('a closed window is published and routed to an HTTP target', async () => {
    const target = await startHttpTarget();
    try {
      const agg = await request(bus.url, 'PUT', '/rules/sales-per-region', {
        pattern: { type: ['order.paid'] },
        aggregate: {
          groupBy: '$.data.region',
          window: { tumbling: '1m' },
          allowedLateness: '10s',
          aggregates: {
            orders: { count: {} },
            revenue: { sum: '$.data.amount' },
            biggest: { max: '$.data.amount' },
            p50: { percentile: { path: '$.data.amount', p: 0.5 } },
          },
          emit: { type: 'sales.per-region', source: '/aggregations/sales' },
        },
      });
      assert.equal(agg.status, 201, JSON.stringify(agg.body));
      assert.deepEqual(agg.body.targets, []);
      const route = await request(bus.url, 'PUT', '/rules/sales-out', {
        pattern: { type: ['sales.per-region'] },
        targets: [{ id: 'report', type: 'http', url: target.url, mode: 'structured' }],
      });
      assert.equal(route.status, 201, JSON.stringify(route.body));
      const sale = (id: string, region: string, at: string, amount: number) => ({
        specversion: '1.0',
        id,
        source: '/shop',
        type: 'order.paid',
        time: `2026-12-04T10:${at}Z`,
        // All of a region's events on one partition: the window sees them all (docs/aggregation.md#partitions).
        partitionkey: region,
        datacontenttype: 'application/json',
        data: { region, amount },
      });
      const events = [
        sale('s1', 'eu', '00:05', 10),
        sale('s2', 'eu', '00:50', 30),
        sale('s3', 'us', '00:20', 7),
        sale('s4', 'eu', '01:05', 100), // next window; the watermark is 00:55, [00:00, 01:00) still open
        sale('s5', 'eu', '00:58', 20), // out of order, within the lateness: counts
        sale('s6', 'eu', '01:20', 1), // watermark 01:10: [00:00, 01:00) closes
        sale('s7', 'eu', '00:30', 999), // late: dropped and counted
      ];
      for (const e of events) {
        const res = await request(bus.url, 'POST', '/events', e, {
          'content-type': 'application/cloudevents+json',
        });
        assert.equal(res.status, 202, JSON.stringify(res.body));
      }
      await waitFor(() => target.received.length >= 1, 'the eu window at the target', 60_000);
      const body = JSON.parse(target.received[0]!.body.toString('utf8'));
      assert.equal(body.type, 'sales.per-region');
      assert.equal(body.source, '/aggregations/sales');
      assert.equal(body.subject, 'eu');
      assert.deepEqual(body.data.window, {
        start: '2026-12-04T10:00:00.000Z',
        end: '2026-12-04T10:01:00.000Z',
      });
      assert.deepEqual(
        { ...body.data.aggregates, p50: undefined },
        { orders: 3, revenue: 60, biggest: 30, p50: undefined },
      );
      assert.ok(Math.abs(body.data.aggregates.p50 - 20) <= 0.2, String(body.data.aggregates.p50));
      // Counted once the state commit that follows the publish is done.
      await waitFor(
        async () => {
          const text = String((await request(bus.url, 'GET', '/metrics')).body);
          return (
            /junction_aggregate_late_total\{[^}]*rule="sales-per-region"[^}]*\} 1\b/.test(text) &&
            /junction_aggregate_windows_total\{[^}]*rule="sales-per-region"[^}]*\} 1\b/.test(text) &&
            // Open: eu's [10:01, 10:02) and us's [10:00, 10:01).
            /junction_aggregate_open_windows\{[^}]*rule="sales-per-region"[^}]*\} 2\b/.test(text)
          );
        },
        'the late event and the closed window counted',
        60_000,
      );
      // The us window is still open (its partition's watermark has not passed 10:01): nothing else arrived.
      assert.equal(target.received.length, 1);
    } finally {
      await target.close();
    }
  });

  test('bad settings are refused with the field named', async () => {
    const res = await request(bus.url, 'PUT', '/rules/bad', {
      pattern: { type: ['x'] },
      aggregate: { window: { hopping: { size: '10m', advance: '3m' } }, aggregates: { n: { count: {} } } },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidRule');
    assert.equal(res.body.error.field, 'aggregate.window.hopping.size');
  });
});
