/**
 * The cost of tracing (issue #17): two buses side by side, OpenTelemetry off and on (every span sampled, exported
 * over OTLP/HTTP to a receiver in this process that does not decode them), loaded in interleaved rounds (who goes
 * first alternates). Two tables: single-event ingest (32 connections, events per second and per bus CPU-second), and
 * end to end at a fixed 500 events/s to a function (ingest request sent → handler starts; p50/p99 and the bus's CPU
 * per event). The cost is stated as the median of the paired per-round ratios; per CPU-second (and CPU per event at
 * a fixed rate) holds where a shared machine moves wall-clock figures.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildBus } from '../e2e/support/child-bus.ts';
import { request } from '../helpers/bus.ts';
import { startOtlpCollector } from '../helpers/otlp-collector.ts';
import { repoRoot } from '../helpers/paths.ts';
import { runLoad, withBus } from './bus.ts';
import { type Contestant, interleave, pairedRatio, rows } from './ingest.ts';
import { cpuSeconds } from './support/cpu.ts';
import { type BenchTable, printTable } from './table.ts';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function spread(values: readonly number[], digits = 1): string {
  const s = [...values].sort((a, b) => a - b);
  return `${(s[0] ?? Number.NaN).toFixed(digits)}–${(s.at(-1) ?? Number.NaN).toFixed(digits)}`;
}

/** The machine's load average over the last minute, from /proc. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
  } catch {
    return '?';
  }
}

/** Both buses up at once (off, on), so that rounds can alternate between them. */
function withBoth<T>(
  on: Record<string, string>,
  fn: (off: ChildBus, on: ChildBus) => Promise<T>,
): Promise<T> {
  return withBus((offBus) => withBus((onBus) => fn(offBus, onBus), on));
}

interface LatencyRound {
  readonly p50: number;
  readonly p99: number;
  /** The bus process's CPU per event delivered, µs (function workers included: they are its threads). */
  readonly cpuPerEvent: number;
  readonly received: number;
  readonly sent: number;
}

/** Puts the latency probe function and its rule on a bus. */
async function probe(bus: ChildBus): Promise<void> {
  const put = await request(
    bus.url,
    'PUT',
    '/functions/probe',
    readFileSync(join(repoRoot, 'test/bench/support/latency-probe.ts')),
  );
  if (put.status >= 300) throw new Error(`PUT /functions/probe answered ${put.status}`);
  const rule = await request(bus.url, 'PUT', '/rules/probe', {
    pattern: { type: ['bench.event'] },
    targets: [{ id: 'probe', type: 'function', function: 'probe' }],
  });
  if (rule.status >= 300) throw new Error(`PUT /rules/probe answered ${rule.status}`);
}

/** One round at `rate` events/s for `seconds` on a bus: latencies from the probe's file, and the bus's CPU. */
async function latencyRound(
  bus: ChildBus,
  dir: string,
  prefix: string,
  seconds: number,
): Promise<LatencyRound> {
  const file = join(dir, `${prefix}.txt`);
  const before = cpuSeconds(bus.child.pid);
  const load = await runLoad({
    url: bus.url,
    mode: 'rate',
    rate: 500,
    seconds,
    concurrency: 64,
    prefix,
    file,
  });
  const deadline = Date.now() + 60_000;
  let samples: number[] = [];
  while (Date.now() < deadline) {
    samples = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
    if (samples.length >= load.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const after = cpuSeconds(bus.child.pid);
  samples.sort((a, b) => a - b);
  const cpu = before === undefined || after === undefined ? Number.NaN : after - before;
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    cpuPerEvent: samples.length > 0 ? (cpu / samples.length) * 1e6 : Number.NaN,
    received: samples.length,
    sent: load.ok,
  };
}

export async function benchTracing(options: { quick: boolean }): Promise<BenchTable[]> {
  const seconds = options.quick ? 2 : 5;
  const rounds = options.quick ? 3 : 5;
  // The receiver shares the machine's two cores with the buses and the load generator: it does not decode.
  const collector = await startOtlpCollector({ decode: false });
  const on: Record<string, string> = {
    JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    OTEL_TRACES_SAMPLER: 'always_on',
  };
  const loadBefore = loadAverage();
  try {
    const ingest = await withBoth(on, async (offBus, onBus) => {
      const contestants: Contestant[] = [offBus, onBus].map((bus, i) => ({
        name: i === 0 ? 'tracing off' : 'tracing on (always_on, OTLP/HTTP)',
        pid: () => bus.child.pid,
        load: (prefix) => runLoad({ url: bus.url, mode: 'single', seconds, concurrency: 32, prefix }),
      }));
      const samples = await interleave(contestants, { rounds, seconds });
      return { contestants, samples };
    });
    const latency = await withBoth(on, async (offBus, onBus) => {
      const buses = [offBus, onBus];
      for (const bus of buses) await probe(bus);
      const dir = mkdtempSync(join(tmpdir(), 'junction-bench-tracing-'));
      try {
        for (const [i, bus] of buses.entries()) await latencyRound(bus, dir, `warm-${i}`, 1);
        const results: LatencyRound[][] = [[], []];
        for (let round = 0; round < rounds; round++) {
          for (let k = 0; k < 2; k++) {
            const i = (round + k) % 2;
            results[i]?.push(await latencyRound(buses[i] as ChildBus, dir, `r${round}-${i}`, seconds));
          }
        }
        return results;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    const [off, traced] = latency as [LatencyRound[], LatencyRound[]];
    const paired = (pick: (r: LatencyRound) => number) =>
      median(traced.map((r, round) => pick(r) / pick(off[round] as LatencyRound)));
    const cpuCost = paired((r) => r.cpuPerEvent);
    const notes = [
      `${rounds} interleaved rounds of ${seconds} s (who goes first alternates), two bus processes up side by side; load average (1 min) before: ${loadBefore}, after: ${loadAverage()}.`,
      `The OTLP receiver (in the benchmark's process, not decoding) got ${collector.requests} export requests, ${Math.round(collector.bytes / 1024)} KiB; default batch span processor settings (2,048 spans queued, 512 per export, every 5 s).`,
      'Tracing on: an ingest, a route and a deliver span per event, each event stored with its traceparent.',
    ];
    return [
      {
        title: 'The cost of tracing: single-event ingest, 32 connections, OpenTelemetry off and on',
        columns: [
          'bus',
          'events/s',
          'spread',
          'per bus CPU-s',
          'spread',
          'on/off wall (paired)',
          'on/off per CPU-s (paired)',
          'failed',
        ],
        rows: rows(ingest.contestants, ingest.samples),
        notes: [
          ...notes,
          `Cost of tracing on ingest: ${((1 - pairedRatio(ingest.samples, 1, 0, true)) * 100).toFixed(0)}% of the events per bus CPU-second (median of the paired rounds).`,
        ],
      },
      {
        title:
          'The cost of tracing: end to end at 500 events/s (ingest request sent → function handler starts)',
        columns: [
          'bus',
          'p50 ms',
          'spread',
          'p99 ms',
          'spread',
          'bus CPU per event µs',
          'spread',
          'received/sent',
        ],
        rows: [off, traced].map((list, i) => [
          i === 0 ? 'tracing off' : 'tracing on (always_on, OTLP/HTTP)',
          Number(median(list.map((r) => r.p50)).toFixed(1)),
          spread(list.map((r) => r.p50)),
          Number(median(list.map((r) => r.p99)).toFixed(1)),
          spread(list.map((r) => r.p99)),
          Math.round(median(list.map((r) => r.cpuPerEvent))),
          spread(
            list.map((r) => r.cpuPerEvent),
            0,
          ),
          `${list.reduce((n, r) => n + r.received, 0)}/${list.reduce((n, r) => n + r.sent, 0)}`,
        ]),
        notes: [
          ...notes,
          `Paired on/off ratios (medians): bus CPU per event ${cpuCost.toFixed(2)}× (tracing costs ${((cpuCost - 1) * 100).toFixed(0)}% more CPU per event), p50 ${paired((r) => r.p50).toFixed(2)}×, p99 ${paired((r) => r.p99).toFixed(2)}×.`,
        ],
      },
    ];
  } finally {
    await collector.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const table of await benchTracing({ quick: process.argv.includes('--quick') })) printTable(table);
}
