/**
 * The process's own metrics, under the names Node.js exporters use (prom-client's defaults): CPU time, resident
 * memory, the V8 heap, garbage-collection pauses, and the event loop's delay — the one loop every bus of the process
 * shares, so that a bus whose events wait can be told apart from a process whose loop is saturated
 * (docs/operations.md#process-metrics). One per process; `/metrics` shows them to callers that may read the default
 * bus.
 */
import {
  constants,
  createHistogram,
  PerformanceObserver,
  performance,
  type RecordableHistogram,
} from 'node:perf_hooks';
import { Metrics } from '../engine/metrics.ts';

/** How often the event-loop delay is sampled (ms): the smallest delay it can see. */
const DELAY_RESOLUTION_MS = 10;

/** V8's garbage-collection kinds (`PerformanceEntry.detail.kind`) as the `kind` label. */
const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export class RuntimeMetrics {
  readonly metrics = new Metrics();
  /** How late each 10 ms tick of `#ticker` ran, in nanoseconds (at least 1: the histogram's floor). */
  readonly #delay: RecordableHistogram = createHistogram();
  readonly #ticker: NodeJS.Timeout;
  readonly #gc: PerformanceObserver;
  /** CPU time counted so far: the first scrape counts everything since the process started. */
  #cpu: NodeJS.CpuUsage = { user: 0, system: 0 };

  constructor() {
    const m = this.metrics;
    // A tick of our own rather than monitorEventLoopDelay: that one skips the first interval after each reset, so a
    // stall that starts right after a scrape would be missed (found by test/ops/runtime-metrics.test.ts).
    let last = performance.now();
    this.#ticker = setInterval(() => {
      const now = performance.now();
      this.#delay.record(Math.max(1, Math.round((now - last - DELAY_RESOLUTION_MS) * 1e6)));
      last = now;
    }, DELAY_RESOLUTION_MS);
    this.#ticker.unref();
    m.declare('process_cpu_user_seconds_total', 'counter', 'User CPU time the process spent, in seconds.');
    m.declare(
      'process_cpu_system_seconds_total',
      'counter',
      'System CPU time the process spent, in seconds.',
    );
    m.declare(
      'process_cpu_seconds_total',
      'counter',
      'User and system CPU time the process spent, in seconds.',
    );
    m.declare('nodejs_gc_duration_seconds', 'histogram', 'Garbage-collection pauses by kind, in seconds.');
    m.set(
      'process_start_time_seconds',
      Math.round((Date.now() - process.uptime() * 1000) / 1000),
      undefined,
      'When the process started, in seconds since the Unix epoch.',
    );
    this.#gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
        m.observe('nodejs_gc_duration_seconds', entry.duration / 1000, { kind });
      }
    });
    this.#gc.observe({ entryTypes: ['gc'] });
    m.collect(async () => this.#refresh());
  }

  /** Sets the gauges and counters to now; the event-loop delay covers the time since the previous scrape. */
  #refresh(): void {
    const m = this.metrics;
    const cpu = process.cpuUsage();
    const user = (cpu.user - this.#cpu.user) / 1e6;
    const system = (cpu.system - this.#cpu.system) / 1e6;
    this.#cpu = cpu;
    m.inc('process_cpu_user_seconds_total', undefined, user);
    m.inc('process_cpu_system_seconds_total', undefined, system);
    m.inc('process_cpu_seconds_total', undefined, user + system);
    const memory = process.memoryUsage();
    m.set('process_resident_memory_bytes', memory.rss, undefined, 'Resident memory size, in bytes.');
    m.set('nodejs_heap_size_total_bytes', memory.heapTotal, undefined, 'The V8 heap, in bytes.');
    m.set('nodejs_heap_size_used_bytes', memory.heapUsed, undefined, 'The V8 heap in use, in bytes.');
    m.set(
      'nodejs_external_memory_bytes',
      memory.external,
      undefined,
      'Memory of C++ objects bound to JavaScript objects, in bytes.',
    );
    const d = this.#delay;
    // No tick yet (a scrape right after start, or right after the previous one): 0, not NaN.
    const seconds = (ns: number) => (d.count === 0 || !Number.isFinite(ns) ? 0 : ns / 1e9);
    const since = 'since the previous scrape, in seconds (sampled every 10 ms).';
    m.set(
      'nodejs_eventloop_lag_p50_seconds',
      seconds(d.percentile(50)),
      undefined,
      `The event loop's median delay ${since}`,
    );
    m.set(
      'nodejs_eventloop_lag_p99_seconds',
      seconds(d.percentile(99)),
      undefined,
      `The event loop's 99th-percentile delay ${since}`,
    );
    m.set(
      'nodejs_eventloop_lag_max_seconds',
      seconds(d.max),
      undefined,
      `The event loop's longest delay ${since}`,
    );
    m.set(
      'nodejs_eventloop_lag_mean_seconds',
      seconds(d.mean),
      undefined,
      `The event loop's mean delay ${since}`,
    );
    d.reset();
  }

  close(): void {
    clearInterval(this.#ticker);
    this.#gc.disconnect();
  }
}
