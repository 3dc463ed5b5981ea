/**
 * The process's own series on `/metrics` (lib/server/runtime-metrics.ts), on a real bus in this process: CPU time
 * that grows, memory, the event loop's delay (a loop held for 300 ms is counted in the histogram at once, and shows
 * in the gauges of the window it fell in, whoever scrapes), garbage-collection pauses by kind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RuntimeMetrics } from '../../lib/server/runtime-metrics.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { metricValue } from '../helpers/metrics.ts';

describe('process metrics: the delay gauges', () => {
  test('describe the last complete window, whoever scrapes and however often', async () => {
    const runtime = new RuntimeMetrics({ windowMs: 200 });
    try {
      const gauge = async (name: string) => metricValue(await runtime.metrics.render(), name) ?? Number.NaN;
      const held = Date.now();
      while (Date.now() - held < 300) {
        // Busy on purpose.
      }
      await waitFor(
        async () => (await gauge('nodejs_eventloop_lag_max_seconds')) >= 0.25,
        'the held loop in a window',
      );
      // A scrape starts nothing over: the next one reads the same window.
      assert.ok((await gauge('nodejs_eventloop_lag_max_seconds')) >= 0.25, 'a second scrape reads it too');
      // Later windows, the loop free: the gauges go back down without a scrape in between.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await waitFor(
        async () => (await gauge('nodejs_eventloop_lag_max_seconds')) < 0.25,
        'a window without the hold',
      );
    } finally {
      runtime.close();
    }
  });
});

describe('process metrics', () => {
  let bus: TestBus;
  const scrape = async () => (await fetch(`${bus.url}/metrics`)).text();

  before(async () => {
    bus = await startTestBus();
  });
  after(async () => {
    await bus.stop();
  });

  test('CPU time, memory and the start time, under the names Node.js exporters use', async () => {
    const first = await scrape();
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_heap_size_total_bytes',
      'nodejs_external_memory_bytes',
    ]) {
      assert.ok((metricValue(first, name) ?? 0) > 0, `${name} in\n${first}`);
    }
    const started = metricValue(first, 'process_start_time_seconds') ?? 0;
    assert.ok(Math.abs(started - (Date.now() / 1000 - process.uptime())) < 5, `start time ${started}`);
    assert.match(first, /^# TYPE process_cpu_seconds_total counter$/m);
    const before = metricValue(first, 'process_cpu_seconds_total') ?? Number.NaN;
    // The counter starts at the process's start, not at the bus's: at least what this process had used before.
    const usage = process.cpuUsage();
    assert.ok(
      before >= 0.9 * ((usage.user + usage.system) / 1e6) - 0.05,
      `CPU seconds ${before} since start`,
    );
    // 50 ms of this process's CPU time (not of the clock: a busy machine may give it less) for the next scrape.
    const spin = process.cpuUsage();
    while (process.cpuUsage(spin).user < 50_000) {
      // Busy on purpose.
    }
    const later = metricValue(await scrape(), 'process_cpu_seconds_total') ?? Number.NaN;
    assert.ok(later >= before + 0.03, `CPU seconds ${before} → ${later}`);
    assert.equal(first.includes('bus="default"'), true, 'the buses’ series are still there');
    assert.doesNotMatch(first, /^process_cpu_seconds_total\{/m, 'process series carry no bus label');
  });

  test("the event loop's delay: a held loop is counted in the histogram at once", async () => {
    const over = (text: string) =>
      (metricValue(text, 'nodejs_eventloop_delay_seconds_count') ?? 0) -
      (metricValue(text, 'nodejs_eventloop_delay_seconds_bucket', { le: '0.25' }) ?? 0);
    const before = over(await scrape());
    // Hold the loop the bus runs on (this process's) for 300 ms: the timer due meanwhile fires that late.
    const held = Date.now();
    while (Date.now() - held < 300) {
      // Busy on purpose.
    }
    await waitFor(async () => over(await scrape()) >= before + 1, 'a delay over 250 ms counted');
    assert.match(await scrape(), /^# TYPE nodejs_eventloop_delay_seconds histogram$/m);
  });

  test('garbage-collection pauses by kind', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    // Garbage enough for a scavenge, whether or not the test runs with --expose-gc.
    let keep: unknown[] = [];
    await waitFor(async () => {
      for (let i = 0; i < 200_000; i++) keep.push({ i, s: `x${i}` });
      keep = [];
      gc?.();
      await new Promise((resolve) => setTimeout(resolve, 20));
      return /^nodejs_gc_duration_seconds_count\{kind="(minor|major|incremental)"\} [1-9]/m.test(
        await scrape(),
      );
    }, 'a garbage collection in nodejs_gc_duration_seconds');
    assert.match(await scrape(), /^# TYPE nodejs_gc_duration_seconds histogram$/m);
  });
});
