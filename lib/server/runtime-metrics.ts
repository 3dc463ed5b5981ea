/**
 * The process's own metrics, under the names Node.js exporters use (prom-client's defaults): CPU time, resident
 * memory, the V8 heap, garbage-collection pauses, and the event loop's delay — the one loop every bus of the process
 * shares, so that a bus whose events wait can be told apart from a process whose loop is saturated
 * (docs/operations.md#process-metrics). One per process; `/metrics` shows them to callers that may read the default
 * bus. Nothing depends on who scrapes or how often: the delay is a cumulative histogram, and its p50/p99/max/mean
 * gauges describe the last complete window of `windowMs` (10 s), not the time since the previous scrape (the console
 * polls every 2 s, and would otherwise shorten Prometheus's window to that).
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

/** The window the delay's gauges describe (ms). */
const WINDOW_MS = 10_000;

export interface RuntimeMetricsOptions {
  /** The window the delay's p50/p99/max/mean gauges describe. @default 10 s */
  readonly windowMs?: number;
  /**
   * Labels on every series: a bus in a process of its own labels its process's series with its bus, so the
   * deployment's `/metrics` tells them from the deployment process's own. @default none
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/** V8's garbage-collection kinds (`PerformanceEntry.detail.kind`) as the `kind` label. */
const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export class RuntimeMetrics {
  readonly metrics: Metrics;
  /** How late each 10 ms tick of `#ticker` ran in the window under way, in nanoseconds (at least 1: the floor). */
  readonly #delay: RecordableHistogram = createHistogram();
  readonly #ticker: NodeJS.Timeout;
  readonly #window: NodeJS.Timeout;
  /** The delay's figures over the last complete window (seconds), or zeros before the first one ends. */
  #last = { p50: 0, p99: 0, max: 0, mean: 0 };
  readonly #windowMs: number;
  readonly #gc: PerformanceObserver;
  /** CPU time counted so far: the first scrape counts everything since the process started. */
  #cpu: NodeJS.CpuUsage = { user: 0, system: 0 };

  constructor(options: RuntimeMetricsOptions = {}) {
    this.metrics = new Metrics(options.labels);
    const m = this.metrics;
    m.declare(
      'nodejs_eventloop_delay_seconds',
      'histogram',
      'How late the event loop ran a timer due every 10 ms, in seconds (each tick one observation).',
    );
    // A tick of our own rather than monitorEventLoopDelay: that one skips the first interval after each reset, so a
    // stall that starts right after a window ends would be missed (found by test/ops/runtime-metrics.test.ts).
    let last = performance.now();
    this.#ticker = setInterval(() => {
      const now = performance.now();
      const lateMs = Math.max(0, now - last - DELAY_RESOLUTION_MS);
      last = now;
      this.#delay.record(Math.max(1, Math.round(lateMs * 1e6)));
      m.observe('nodejs_eventloop_delay_seconds', lateMs / 1000);
    }, DELAY_RESOLUTION_MS);
    this.#ticker.unref();
    this.#windowMs = options.windowMs ?? WINDOW_MS;
    this.#window = setInterval(() => this.#closeWindow(), this.#windowMs);
    this.#window.unref();
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

  /** Sets the gauges and counters to now (the delay's gauges to the last complete window). */
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
    const w = this.#last;
    const window = `over the last complete ${this.#windowMs / 1000} s window, in seconds (a timer due every 10 ms).`;
    m.set('nodejs_eventloop_lag_p50_seconds', w.p50, undefined, `The event loop's median delay ${window}`);
    m.set(
      'nodejs_eventloop_lag_p99_seconds',
      w.p99,
      undefined,
      `The event loop's 99th-percentile delay ${window}`,
    );
    m.set('nodejs_eventloop_lag_max_seconds', w.max, undefined, `The event loop's longest delay ${window}`);
    m.set('nodejs_eventloop_lag_mean_seconds', w.mean, undefined, `The event loop's mean delay ${window}`);
  }

  /** Ends the delay's window: its figures are what the gauges show until the next one ends. */
  #closeWindow(): void {
    const d = this.#delay;
    // No tick in the window (the loop was held throughout): the tick that ends the hold lands in the next one.
    const seconds = (ns: number) => (d.count === 0 || !Number.isFinite(ns) ? 0 : ns / 1e9);
    this.#last = {
      p50: seconds(d.percentile(50)),
      p99: seconds(d.percentile(99)),
      max: seconds(d.max),
      mean: seconds(d.mean),
    };
    d.reset();
  }

  close(): void {
    clearInterval(this.#ticker);
    clearInterval(this.#window);
    this.#gc.disconnect();
  }
}
