/**
 * Whole-bus benchmarks: durable ingest against a do-nothing node:http ceiling, end-to-end latency to a function's
 * start at a fixed rate, the cost of exactly-once, and a healthy target's latency beside a failing sibling. The bus
 * and the load generator run in separate processes; every figure of a table comes from the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChildBus, freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { fixtureFunction, request } from '../helpers/bus.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';
import { sharedNow } from './support/clock.ts';
import { type BenchTable, printTable } from './table.ts';

/** What one run of the load generator (test/bench/support/load.ts) reports. */
export interface LoadResult {
  ok: number;
  failed: number;
  events: number;
  seconds: number;
}

/**
 * Runs the load generator in a process of its own (so it does not share the bus's event loop); `script` names another
 * generator of the same protocol (one JSON line of counts on stdout), e.g. `support/load-nats.ts`.
 */
export function runLoad(
  options: Record<string, unknown>,
  script = 'load.ts',
  launch: { readonly nice?: number | 'idle' } = {},
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const argv = [
      process.execPath,
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'test/bench/support', script),
      JSON.stringify(options),
    ];
    // `nice`: the load generator runs at that niceness (through coreutils nice, so every thread has it), or in Linux's
    // idle scheduling class (util-linux chrt).
    const [command, ...args] =
      launch.nice === undefined
        ? argv
        : launch.nice === 'idle'
          ? ['chrt', '--idle', '0', ...argv]
          : ['nice', '-n', String(launch.nice), ...argv];
    const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`${script} exited ${code}`)),
    );
  });
}

/** The do-nothing node:http server (support/noop-server.ts) in a process of its own. */
export function startNoop(): Promise<{ url: string; child: ChildProcess; stop: () => void }> {
  const child = spawn(process.execPath, [join(repoRoot, 'test/bench/support/noop-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      const m = /ready (\S+)/.exec(c.toString());
      if (m) resolve({ url: m[1] as string, child, stop: () => child.kill('SIGTERM') });
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** A bus in a child process on a fresh data dir (inside `dir`, handed to `fn` too), with `env` added to its own. */
export async function withBus<T>(
  fn: (bus: ChildBus, dir: string) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const dir = tempDir('junction-bench-');
  const bus = await startChildBus(join(dir.path, 'data'), await freePort(), env);
  try {
    return await fn(bus, dir.path);
  } finally {
    await stopGracefully(bus);
    dir.remove();
  }
}

/** A metric of the bus's /metrics, summed over its series (every label set). */
export async function metric(bus: ChildBus, name: string): Promise<number> {
  return metricSum(await (await fetch(`${bus.url}/metrics`)).text(), name);
}

/** A metric's series summed (every label set) in a `/metrics` text. */
export function metricSum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

async function ingestTable(seconds: number): Promise<BenchTable> {
  const noop = await startNoop();
  const ceiling = await runLoad({ url: noop.url, mode: 'single', seconds, concurrency: 32, prefix: 'c' });
  noop.stop();
  return withBus(async (bus) => {
    const single = await runLoad({ url: bus.url, mode: 'single', seconds, concurrency: 32, prefix: 's' });
    const batched = await runLoad({
      url: bus.url,
      mode: 'batch',
      batch: 100,
      seconds,
      concurrency: 8,
      prefix: 'b',
    });
    const batched32 = await runLoad({
      url: bus.url,
      mode: 'batch',
      batch: 100,
      seconds,
      concurrency: 32,
      prefix: 'B',
    });
    const ceilingRate = ceiling.ok / ceiling.seconds;
    const singleRate = single.events / single.seconds;
    const batchRate = batched.events / batched.seconds;
    const batch32Rate = batched32.events / batched32.seconds;
    return {
      title: 'Ingest (durable: SQLite WAL, group commit, fdatasync off the event loop) — events/s',
      columns: ['workload', 'events/s', 'vs ceiling', 'failed requests'],
      rows: [
        [
          'do-nothing node:http server (ceiling), 32 connections',
          Math.round(ceilingRate),
          '100%',
          ceiling.failed,
        ],
        [
          'Junction, single events (binary mode), 32 connections',
          Math.round(singleRate),
          `${((singleRate / ceilingRate) * 100).toFixed(0)}%`,
          single.failed,
        ],
        [
          'Junction, batches of 100, 8 connections',
          Math.round(batchRate),
          `${((batchRate / ceilingRate) * 100).toFixed(0)}%`,
          batched.failed,
        ],
        [
          'Junction, batches of 100, 32 connections',
          Math.round(batch32Rate),
          `${((batch32Rate / ceilingRate) * 100).toFixed(0)}%`,
          batched32.failed,
        ],
      ],
      notes: [
        'Targets: single events ≥ 40% of the ceiling; batches ≥ 50,000 events/s.',
        'Durable throughput grows with concurrency: concurrent appends share one transaction and one fsync.',
      ],
    };
  });
}

async function latencyTable(seconds: number): Promise<BenchTable> {
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
    // Warm the workers, then measure.
    await runLoad({
      url: bus.url,
      mode: 'rate',
      rate: 200,
      seconds: 1,
      concurrency: 64,
      prefix: 'w',
      file: join(dir, 'warm.txt'),
    });
    const load = await runLoad({
      url: bus.url,
      mode: 'rate',
      rate: 1000,
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
    samples.sort((a, b) => a - b);
    return {
      title: 'End-to-end latency, ingest request sent → function handler starts, at 1,000 events/s',
      columns: ['events', 'achieved rate/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      rows: [
        [
          samples.length,
          Math.round(load.ok / load.seconds),
          percentile(samples, 50),
          percentile(samples, 90),
          percentile(samples, 99),
          samples[samples.length - 1] ?? Number.NaN,
        ],
      ],
      notes: ['Target: p99 < 20 ms.'],
    };
  });
}

async function deliveryRate(mode: 'at-least-once' | 'exactly-once', events: number): Promise<number> {
  return withBus(async (bus) => {
    await request(bus.url, 'PUT', '/functions/noop', fixtureFunction('noop'));
    await request(bus.url, 'PUT', '/rules/sink', {
      pattern: { type: ['bench.event'] },
      targets: [{ id: 'fn', type: 'function', function: 'noop', delivery: mode, concurrency: 64 }],
    });
    const started = performance.now();
    await runLoad({
      url: bus.url,
      mode: 'batch',
      batch: 100,
      seconds: 0.001,
      concurrency: 1,
      prefix: 'warm',
    });
    const perRequest = 100;
    const batches = Math.ceil(events / perRequest);
    for (let i = 0; i < batches; i++) {
      const list = Array.from({ length: perRequest }, (_, j) => ({
        specversion: '1.0',
        id: `d-${i}-${j}`,
        source: '/bench',
        type: 'bench.event',
      }));
      await request(bus.url, 'POST', '/events', JSON.stringify(list), {
        'content-type': 'application/cloudevents-batch+json',
      });
    }
    const total = batches * perRequest + 100;
    while ((await metric(bus, 'junction_deliveries_total')) < total)
      await new Promise((r) => setTimeout(r, 20));
    return total / ((performance.now() - started) / 1000);
  });
}

async function exactlyOnceTable(events: number): Promise<BenchTable> {
  const alo = await deliveryRate('at-least-once', events);
  const eo = await deliveryRate('exactly-once', events);
  return {
    title: `Delivery throughput to a function target, ${events} events — the cost of exactly-once (ledger claim + complete)`,
    columns: ['delivery mode', 'deliveries/s', 'relative'],
    rows: [
      ['at-least-once (ledger off: outbox only)', Math.round(alo), '1.00'],
      ['exactly-once (ledger claim before, complete after)', Math.round(eo), (eo / alo).toFixed(2)],
    ],
  };
}

async function isolationTable(seconds: number): Promise<BenchTable> {
  const latencies = async (withFailingSibling: boolean): Promise<number[]> =>
    withBus(async (bus) => {
      const got: number[] = [];
      const healthy = await startHttpTarget((r) => {
        const sentAt = JSON.parse(r.body.toString()).sentAt as number;
        got.push(sharedNow() - sentAt);
        return { status: 200 };
      });
      const failing = await startHttpTarget(() => ({ status: 503, delayMs: 50 }));
      try {
        await request(bus.url, 'PUT', '/rules/healthy', {
          pattern: { type: ['bench.event'] },
          targets: [{ id: 'ok', type: 'http', url: healthy.url }],
        });
        if (withFailingSibling) {
          await request(bus.url, 'PUT', '/rules/failing', {
            pattern: { type: ['bench.event'] },
            targets: [
              {
                id: 'bad',
                type: 'http',
                url: failing.url,
                concurrency: 4,
                retry: { maxAttempts: 100, backoff: { kind: 'fixed', initialMs: 100, maxMs: 100 } },
              },
            ],
          });
        }
        await runLoad({
          url: bus.url,
          mode: 'rate',
          rate: 500,
          seconds,
          concurrency: 64,
          prefix: 'i',
          file: '',
        });
        await new Promise((r) => setTimeout(r, 300));
        return got.sort((a, b) => a - b);
      } finally {
        await healthy.close();
        await failing.close();
      }
    });
  const alone = await latencies(false);
  const beside = await latencies(true);
  return {
    title: 'Isolation: a healthy HTTP target’s latency (send → received) at 500 events/s',
    columns: ['scenario', 'deliveries', 'p50 ms', 'p99 ms'],
    rows: [
      ['healthy target alone', alone.length, percentile(alone, 50), percentile(alone, 99)],
      [
        'beside a sibling target failing with 503 and retrying',
        beside.length,
        percentile(beside, 50),
        percentile(beside, 99),
      ],
    ],
  };
}

export async function benchBus(options: { quick: boolean; only?: readonly string[] }): Promise<BenchTable[]> {
  const seconds = options.quick ? 2 : 5;
  const tables: Record<string, () => Promise<BenchTable>> = {
    ingest: () => ingestTable(seconds),
    latency: () => latencyTable(seconds),
    'exactly-once': () => exactlyOnceTable(options.quick ? 2000 : 10_000),
    isolation: () => isolationTable(seconds),
  };
  const out: BenchTable[] = [];
  for (const [name, table] of Object.entries(tables)) {
    if (options.only === undefined || options.only.includes(name)) out.push(await table());
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `--latency`, `--isolation`, … run only those tables.
  const only = ['ingest', 'latency', 'exactly-once', 'isolation'].filter((name) =>
    process.argv.includes(`--${name}`),
  );
  if (only.length === 0) only.push('ingest', 'latency', 'exactly-once', 'isolation');
  for (const table of await benchBus({ quick: process.argv.includes('--quick'), only })) printTable(table);
}
