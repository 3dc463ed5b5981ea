/**
 * CloudWatch metrics in the Embedded Metric Format (lib/adapters/aws/emf.ts): each counter series that moved since
 * the last flush is one EMF record (its labels as dimensions, the increase as the value), read here as CloudWatch
 * would read the function's log.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEmfPublisher } from '../../../lib/adapters/aws/emf.ts';
import { Metrics } from '../../../lib/engine/metrics.ts';

/** A publisher's output, and the records written by `fn`. */
function sink() {
  const lines: string[] = [];
  return {
    output: { log: (line: string) => void lines.push(line) },
    taken(fn: () => void): Array<Record<string, unknown>> {
      lines.length = 0;
      fn();
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

test('writes the increase of each moved counter series as an EMF record with its labels as dimensions', () => {
  const metrics = new Metrics({ bus: 'orders' });
  metrics.declare('junction_events_in_total', 'counter', 'in');
  metrics.inc('junction_events_in_total', undefined, 5);
  metrics.inc('junction_deliveries_total', { rule: 'r1', target: 't1', outcome: 'delivered' }, 2);
  metrics.set('junction_target_pending', 7, { rule: 'r1', target: 't1' });
  const out = sink();
  const emf = createEmfPublisher(metrics, { namespace: 'Test', output: out.output });
  const first = out.taken(() => assert.equal(emf.flush(), 2));
  assert.equal(first.length, 4, "two series and their two families' totals; gauges are not written");
  const totals = first.filter((r) => r.rule === undefined && r.bus === undefined);
  assert.equal(totals.length, 2);
  const totalAws = totals[0]?._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> } | undefined;
  assert.deepEqual(
    totalAws?.CloudWatchMetrics[0]?.Dimensions,
    [['service']],
    'a total carries the service (the bus) alone',
  );
  const delivered = first.find((r) => 'junction_deliveries_total' in r && r.rule !== undefined) as Record<
    string,
    unknown
  >;
  assert.equal(delivered.junction_deliveries_total, 2);
  assert.equal(delivered.bus, 'orders');
  assert.equal(delivered.rule, 'r1');
  assert.equal(delivered.target, 't1');
  const aws = delivered._aws as {
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: unknown[] }>;
  };
  assert.equal(aws.CloudWatchMetrics[0]?.Namespace, 'Test');
  assert.deepEqual([...(aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [])].sort(), [
    'bus',
    'outcome',
    'rule',
    'service',
    'target',
  ]);
  assert.deepEqual(aws.CloudWatchMetrics[0]?.Metrics, [{ Name: 'junction_deliveries_total', Unit: 'Count' }]);
  // Nothing moved: nothing written. Then only the increase.
  assert.equal(out.taken(() => assert.equal(emf.flush(), 0)).length, 0);
  metrics.inc('junction_events_in_total', undefined, 3);
  const second = out.taken(() => emf.flush());
  assert.equal(second.length, 2, 'the series and its total');
  assert.ok(second.every((r) => r.junction_events_in_total === 3));
});

test('bounds the series written per flush; the rest follow at the next one', () => {
  const metrics = new Metrics();
  for (let i = 0; i < 5; i++) metrics.inc('junction_rule_matched_total', { rule: `r${i}` });
  const out = sink();
  const emf = createEmfPublisher(metrics, { maxSeries: 3, output: out.output });
  assert.equal(out.taken(() => assert.equal(emf.flush(), 3)).length, 4, 'three series and the family total');
  const rest = out.taken(() => assert.equal(emf.flush(), 2));
  assert.equal(rest.length, 3);
  assert.equal(
    rest.find((r) => r.rule === undefined)?.junction_rule_matched_total,
    2,
    'the total of what moved',
  );
});

test('labels with quotes, backslashes and new lines come back as written', () => {
  const metrics = new Metrics();
  metrics.inc('junction_x_total', { rule: 'a"b\\c\nd' });
  const out = sink();
  const [record] = out
    .taken(() => createEmfPublisher(metrics, { output: out.output }).flush())
    .filter((r) => r.rule !== undefined);
  assert.equal(record?.rule, 'a"b\\c\nd');
});

test('writes the latencies observed since the last flush as samples in milliseconds, per series and per family', () => {
  const metrics = new Metrics({ bus: 'orders' });
  const out = sink();
  const emf = createEmfPublisher(metrics, { output: out.output });
  const lane = { rule: 'r1', target: 't1' };
  for (const seconds of [0.001, 0.002, 0.25])
    metrics.observe('junction_delivery_latency_seconds', seconds, lane);
  metrics.observe('junction_delivery_latency_seconds', 0.004, { rule: 'r2', target: 't2' });
  const records = out.taken(() => emf.flush());
  const lat = records.filter((r) => 'junction_delivery_latency_ms' in r);
  assert.equal(lat.length, 3, 'the family total and two series');
  const total = lat.find((r) => r.rule === undefined);
  assert.deepEqual(total?.junction_delivery_latency_ms, [1, 2, 250, 4]);
  const aws = total?._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][]; Metrics: unknown[] }> };
  assert.deepEqual(aws.CloudWatchMetrics[0]?.Dimensions, [['service']]);
  assert.deepEqual(aws.CloudWatchMetrics[0]?.Metrics, [
    { Name: 'junction_delivery_latency_ms', Unit: 'Milliseconds' },
  ]);
  const r1 = lat.find((r) => r.rule === 'r1');
  assert.deepEqual(r1?.junction_delivery_latency_ms, [1, 2, 250]);
  assert.equal(r1?.bus, 'orders');
  assert.equal(r1?.target, 't1');
  // Only what was observed since: nothing, then the new observation alone.
  assert.equal(out.taken(() => emf.flush()).filter((r) => 'junction_delivery_latency_ms' in r).length, 0);
  metrics.observe('junction_delivery_latency_seconds', 0.003, lane);
  const again = out.taken(() => emf.flush()).filter((r) => r.rule === 'r1');
  assert.equal(again[0]?.junction_delivery_latency_ms, 3, 'one value is written as a number');
});

test('keeps at most 100 latencies of a series per flush, a uniform sample of them', () => {
  const metrics = new Metrics();
  const out = sink();
  const emf = createEmfPublisher(metrics, { output: out.output });
  for (let i = 1; i <= 10_000; i++) metrics.observe('junction_ingest_to_route_seconds', i / 1000);
  const [record] = out.taken(() => emf.flush()).filter((r) => 'junction_ingest_to_route_ms' in r);
  const values = record?.junction_ingest_to_route_ms as number[];
  assert.equal(values.length, 100);
  assert.equal(new Set(values).size, 100, 'distinct observations');
  // A uniform sample of 1..10,000 ms: its median is near 5,000 (a sample of the first 100 would be ≤ 100).
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[50] as number;
  assert.ok(median > 2_000 && median < 8_000, `median of the sample ${median}`);
});

test('writes the gauges after running the collectors: each series, a sum per family, the largest age', async () => {
  const metrics = new Metrics();
  metrics.collect(async () => {
    metrics.set('junction_target_pending', 3, { rule: 'r1', target: 't1' });
    metrics.set('junction_target_pending', 4, { rule: 'r2', target: 't2' });
    metrics.set('junction_target_oldest_pending_age_seconds', 10, { rule: 'r1', target: 't1' });
    metrics.set('junction_target_oldest_pending_age_seconds', 30, { rule: 'r2', target: 't2' });
  });
  metrics.collect(async () => {
    throw new Error('the log cannot describe the group');
  });
  const lines: string[] = [];
  const errors: unknown[] = [];
  const emf = createEmfPublisher(metrics, { output: { log: (line: string) => void lines.push(line) } });
  assert.equal(await emf.flushGauges((e) => errors.push(e)), 4);
  assert.match(String(errors[0]), /cannot describe the group/, 'the failing collector is reported');
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const totals = records.filter((r) => r.rule === undefined);
  assert.deepEqual(
    totals.map((r) => r.junction_target_pending ?? r.junction_target_oldest_pending_age_seconds),
    [7, 30],
    'pending summed, the oldest age the largest',
  );
  assert.equal(records.length, 6);
});
