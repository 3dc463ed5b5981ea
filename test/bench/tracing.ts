/**
 * The cost of tracing: ingest throughput and end-to-end latency (ingest request sent → function handler starts) with
 * OpenTelemetry off and on (every span sampled, exported over OTLP/HTTP to a receiver in this process that does not
 * decode them), each pair
 * from the same run, the cost stated as a ratio.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../helpers/bus.ts';
import { startOtlpCollector } from '../helpers/otlp-collector.ts';
import { repoRoot } from '../helpers/paths.ts';
import { runLoad, withBus } from './bus.ts';
import type { BenchTable } from './table.ts';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function ingestRate(env: Record<string, string>, seconds: number): Promise<number> {
  return withBus(async (bus) => {
    const load = await runLoad({ url: bus.url, mode: 'single', seconds, concurrency: 32, prefix: 's' });
    return load.events / load.seconds;
  }, env);
}

async function latency(env: Record<string, string>, seconds: number): Promise<number[]> {
  return withBus(async (bus, dir) => {
    const file = join(dir, 'latency.txt');
    await request(
      bus.url,
      'PUT',
      '/functions/probe',
      readFileSync(join(repoRoot, 'test/bench/support/latency-probe.ts')),
    );
    await request(bus.url, 'PUT', '/rules/probe', {
      pattern: { type: ['bench.event'] },
      targets: [{ id: 'probe', type: 'function', function: 'probe' }],
    });
    const warm = join(dir, 'warm.txt');
    await runLoad({
      url: bus.url,
      mode: 'rate',
      rate: 200,
      seconds: 1,
      concurrency: 64,
      prefix: 'w',
      file: warm,
    });
    const load = await runLoad({
      url: bus.url,
      mode: 'rate',
      rate: 500,
      seconds,
      concurrency: 64,
      prefix: 'l',
      file,
    });
    const deadline = Date.now() + 30_000;
    let samples: number[] = [];
    while (Date.now() < deadline) {
      samples = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
      if (samples.length >= load.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return samples.sort((a, b) => a - b);
  }, env);
}

export async function benchTracing(options: { quick: boolean }): Promise<BenchTable> {
  const seconds = options.quick ? 2 : 8;
  // The receiver shares the machine's two cores with the bus and the load generator: it does not decode.
  const collector = await startOtlpCollector({ decode: false });
  try {
    const off: Record<string, string> = {};
    const on: Record<string, string> = {
      JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_TRACES_SAMPLER: 'always_on',
    };
    const ingestOff = await ingestRate(off, seconds);
    const ingestOn = await ingestRate(on, seconds);
    const latencyOff = await latency(off, seconds);
    const latencyOn = await latency(on, seconds);
    const p = (samples: number[], q: number) => percentile(samples, q);
    return {
      title:
        'The cost of tracing: OpenTelemetry off and on (always_on sampler, OTLP/HTTP export to a local receiver)',
      columns: ['measure', 'tracing off', 'tracing on', 'on / off'],
      rows: [
        [
          'ingest, single events, 32 connections (events/s)',
          Math.round(ingestOff),
          Math.round(ingestOn),
          (ingestOn / ingestOff).toFixed(2),
        ],
        [
          'end-to-end to a function at 500 events/s, p50 ms',
          p(latencyOff, 50),
          p(latencyOn, 50),
          (p(latencyOn, 50) / p(latencyOff, 50)).toFixed(2),
        ],
        [
          'end-to-end to a function at 500 events/s, p99 ms',
          p(latencyOff, 99),
          p(latencyOn, 99),
          (p(latencyOn, 99) / p(latencyOff, 99)).toFixed(2),
        ],
      ],
      notes: [
        `The OTLP receiver (in the benchmark's process, not decoding) got ${collector.requests} export requests, ${Math.round(collector.bytes / 1024)} KiB.`,
        'Default batch span processor settings (2048 spans queued, 512 per export, every 5 s); the machine: 2 shared cores.',
        'Tracing on: an ingest, a route and a deliver span per event, each event stored with its traceparent.',
      ],
    };
  } finally {
    await collector.close();
  }
}
