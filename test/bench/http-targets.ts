/**
 * HTTP targets (issue #20): a rule → one HTTP target (a node:http receiver in its own process) at 250 and 1,000
 * events/s, publish → received p50/p99 and the ingest answer's p99, against the raw floor (the same load generator
 * posting straight to the receiver at the same rate); and the sustained delivery rate to one keep-alive target
 * against the receiver's own ceiling (the load generator posting to it with 64 connections). Interleaved rounds,
 * medians and spreads, delivered events per bus CPU-second. `--quick` for a short run.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildBus } from '../e2e/support/child-bus.ts';
import { request } from '../helpers/bus.ts';
import { repoRoot } from '../helpers/paths.ts';
import { metric, runLoad, withBus } from './bus.ts';
import { cpuSeconds } from './support/cpu.ts';
import { type BenchTable, printTable } from './table.ts';

interface Receiver {
  readonly url: string;
  stats(reset?: boolean): Promise<{ count: number; latencies: number[] }>;
  stop(): void;
}

export function startReceiver(args: readonly string[] = []): Promise<Receiver> {
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(repoRoot, 'test/bench/support/receiver.ts'), ...args],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
    child.stdout.on('data', (c: Buffer) => {
      const m = /ready (\S+)/.exec(c.toString());
      if (!m) return;
      const url = m[1] as string;
      resolve({
        url,
        stats: async (reset = false) =>
          (await (await fetch(`${url}/stats${reset ? '?reset=1' : ''}`)).json()) as {
            count: number;
            latencies: number[];
          },
        stop: () => child.kill('SIGTERM'),
      });
    });
  });
}

/**
 * Starts the disk-heavy neighbour (test/bench/support/fsync-neighbour.ts) in the temp folder the buses use; `stop()`
 * answers what its own fsyncs took.
 */
function startFsyncNeighbour(): Promise<{ stop(): Promise<string> }> {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'test/bench/support/fsync-neighbour.ts'),
      tmpdir(),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fsync neighbour exited (${code})`)));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (!out.includes('ready\n')) return;
      out = '';
      child.removeAllListeners('exit');
      let stopped: Promise<string> | undefined;
      resolve({
        // Once: the table stops it before it answers, and the finally of a failed run again.
        stop: () => {
          stopped ??= new Promise((done) => {
            child.once('exit', () => done(out.trim()));
            child.kill('SIGTERM');
          });
          return stopped;
        },
      });
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

function spread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `${f(sorted[0] ?? Number.NaN)}–${f(sorted.at(-1) ?? Number.NaN)}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (30 s at most) until the receiver has `count` events; answers its latencies, sorted, and resets it. */
async function collect(receiver: Receiver, count: number): Promise<number[]> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && (await receiver.stats()).count < count) await sleep(50);
  return (await receiver.stats(true)).latencies.sort((a, b) => a - b);
}

interface Round {
  p50: number;
  p99: number;
  answerP99: number;
  received: number;
  sent: number;
}

async function rateRound(url: string, receiver: Receiver, rate: number, seconds: number, prefix: string) {
  await receiver.stats(true);
  const load = await runLoad({ url, mode: 'rate', rate, seconds, concurrency: 64, prefix, file: 'bench' });
  const latencies = await collect(receiver, load.ok);
  const answerP99 = (load as unknown as { answerP99?: number }).answerP99 ?? Number.NaN;
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    answerP99,
    received: latencies.length,
    sent: load.ok,
  } satisfies Round;
}

export async function putRule(
  bus: ChildBus,
  url: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const answer = await request(bus.url, 'PUT', '/rules/to-http', {
    pattern: { type: ['bench.event'] },
    targets: [{ id: 'receiver', type: 'http', url: `${url}/in`, ...extra }],
  });
  if (answer.status >= 300) throw new Error(`PUT /rules answered ${answer.status}`);
}

async function latencyTable(quick: boolean, fsyncNeighbour = false): Promise<BenchTable> {
  const seconds = quick ? 3 : 5;
  const rounds = quick ? 2 : 3;
  const receiver = await startReceiver();
  const neighbour = fsyncNeighbour ? await startFsyncNeighbour() : undefined;
  try {
    return await withBus(async (bus) => {
      await putRule(bus, receiver.url);
      await rateRound(bus.url, receiver, 200, 1, 'warm');
      const rows: (string | number)[][] = [];
      for (const rate of [250, 1000]) {
        const floor: Round[] = [];
        const junction: Round[] = [];
        for (let round = 0; round < rounds; round++) {
          floor.push(await rateRound(`${receiver.url}`, receiver, rate, seconds, `f${rate}-${round}`));
          junction.push(await rateRound(bus.url, receiver, rate, seconds, `j${rate}-${round}`));
        }
        for (const [name, list] of [
          ['raw floor: load generator → receiver', floor],
          ['Junction: publish → rule → HTTP target', junction],
        ] as const) {
          const p99s = list.map((r) => r.p99);
          rows.push([
            `${rate}/s`,
            name,
            `${list.reduce((n, r) => n + r.received, 0)}/${list.reduce((n, r) => n + r.sent, 0)}`,
            median(list.map((r) => r.p50)),
            median(p99s),
            spread(p99s),
            name.startsWith('raw') ? '' : median(list.map((r) => r.answerP99)),
          ]);
        }
        const ratio = median(junction.map((r) => r.p99)) / median(floor.map((r) => r.p99));
        rows.push([`${rate}/s`, 'p99 ratio (Junction / floor)', '', '', `${ratio.toFixed(1)}×`, '', '']);
      }
      const neighbourFsyncs = await neighbour?.stop();
      return {
        title: `HTTP target latency: publish → received by one HTTP target (ms), interleaved rounds${neighbour === undefined ? '' : ', beside a disk-heavy neighbour'}`,
        columns: [
          'rate',
          'path',
          'received/sent',
          'p50 (median)',
          'p99 (median)',
          'p99 spread',
          'ingest answer p99',
        ],
        rows,
        notes: [
          `${rounds} rounds of ${seconds} s each, floor and Junction alternating; medians of the rounds' percentiles.`,
          'Target (#20): p99 < 50 ms at 1,000 events/s.',
          ...(neighbourFsyncs === undefined
            ? []
            : [`The neighbour wrote 8 MiB and fdatasync'd it in a loop all along: ${neighbourFsyncs}.`]),
        ],
      };
    });
  } finally {
    await neighbour?.stop();
    receiver.stop();
  }
}

/** Delivered events/s to one target while the bus is fed faster than it can deliver (batches of 100 × 8). */
async function saturationRound(bus: ChildBus, receiver: Receiver, seconds: number, prefix: string) {
  await receiver.stats(true);
  const pid = bus.child.pid;
  const load = runLoad({ url: bus.url, mode: 'batch', batch: 100, seconds, concurrency: 8, prefix });
  // Skip the first second (connections, JIT), then measure until the load ends.
  await sleep(1000);
  const startCount = (await receiver.stats()).count;
  const startAt = performance.now();
  const cpuStart = cpuSeconds(pid);
  const published = await load;
  const endCount = (await receiver.stats()).count;
  const elapsed = (performance.now() - startAt) / 1000;
  const cpuEnd = cpuSeconds(pid);
  const delivered = endCount - startCount;
  // Then the backlog alone (no ingest beside it). The router first catches up with the log (its lag: what ingest put
  // there faster than it routed), which takes a few seconds in which deliveries ramp up; the drain is measured once
  // it has (30 s at most), for 5 s or until every published event arrived.
  const routedBy = performance.now() + 30_000;
  while (performance.now() < routedBy && (await metric(bus, 'junction_router_lag_events')) > 0)
    await sleep(100);
  const caughtUp = (performance.now() - startAt) / 1000 - elapsed;
  const drainFrom = (await receiver.stats()).count;
  const drainCpuStart = cpuSeconds(pid);
  const drainStart = performance.now();
  const drainDeadline = drainStart + 5000;
  let drained = drainFrom;
  while (performance.now() < drainDeadline && drained < published.events) {
    await sleep(100);
    drained = (await receiver.stats()).count;
  }
  const drainCpu = cpuSeconds(pid);
  await receiver.stats(true);
  return {
    rate: delivered / elapsed,
    perCpu: cpuStart === undefined || cpuEnd === undefined ? Number.NaN : delivered / (cpuEnd - cpuStart),
    published: published.events / published.seconds,
    caughtUp,
    drainRate: (drained - drainFrom) / ((performance.now() - drainStart) / 1000),
    drainPerCpu:
      drainCpuStart === undefined || drainCpu === undefined
        ? Number.NaN
        : (drained - drainFrom) / (drainCpu - drainCpuStart),
  };
}

async function saturationTable(quick: boolean, env: Record<string, string> = {}): Promise<BenchTable> {
  const seconds = quick ? 4 : 8;
  const rounds = quick ? 2 : 3;
  const receiver = await startReceiver();
  try {
    const floor: number[] = [];
    const rates: number[] = [];
    const perCpu: number[] = [];
    const published: number[] = [];
    const drain: number[] = [];
    const drainPerCpu: number[] = [];
    const caughtUp: number[] = [];
    for (let round = 0; round < rounds; round++) {
      await receiver.stats(true);
      const raw = await runLoad({
        url: `${receiver.url}`,
        mode: 'single',
        seconds: Math.max(2, seconds / 2),
        concurrency: 64,
        prefix: `raw-${round}`,
      });
      floor.push(raw.events / raw.seconds);
      // A bus of its own each round: no backlog carried over from the round before.
      const r = await withBus(async (bus) => {
        await putRule(bus, receiver.url);
        return saturationRound(bus, receiver, seconds, `sat-${round}`);
      }, env);
      rates.push(r.rate);
      perCpu.push(r.perCpu);
      published.push(r.published);
      drain.push(r.drainRate);
      drainPerCpu.push(r.drainPerCpu);
      caughtUp.push(r.caughtUp);
    }
    return {
      title: 'HTTP target throughput: sustained deliveries/s to one keep-alive HTTP/1.1 target',
      columns: ['path', 'events/s (median)', 'spread', 'per bus CPU-second', 'vs floor'],
      rows: [
        [
          'raw floor: load generator → receiver, 64 connections',
          Math.round(median(floor)),
          spread(floor),
          '',
          '100%',
        ],
        [
          `Junction: rule → HTTP target, while ingesting ${Math.round(median(published))}/s`,
          Math.round(median(rates)),
          spread(rates),
          Math.round(median(perCpu)),
          `${((median(rates) / median(floor)) * 100).toFixed(0)}%`,
        ],
        [
          `Junction: the backlog alone, once the router caught up (${median(caughtUp).toFixed(1)} s after ingest stopped), 5 s at most`,
          Math.round(median(drain)),
          spread(drain),
          Math.round(median(drainPerCpu)),
          `${((median(drain) / median(floor)) * 100).toFixed(0)}%`,
        ],
      ],
      notes: [
        `${rounds} interleaved rounds; Junction (a fresh bus each round) fed batches of 100 × 8 connections for ${seconds} s, measured from the first second to the end of the load.`,
        'While ingest saturates the bus, ingest comes first (#20: backpressure never slows ingest); the goal (#20, ≥ 5,000 events/s sustained) is measured by the sustained table, at a fixed feed rate; the backlog row is how fast a backlog drains once routed.',
      ],
    };
  } finally {
    receiver.stop();
  }
}

/**
 * One round of the sustained test: a fresh bus fed batches of 100 at `rate` events/s for `seconds`; deliveries/s
 * while fed (from the first second on), publish → received p50/p99 of that window, and how long the bus took after
 * the feed ended to deliver the rest (the lag it built up).
 */
async function sustainedRound(
  rate: number,
  seconds: number,
  receiver: Receiver,
  prefix: string,
  env: Record<string, string>,
) {
  return withBus(async (bus) => {
    await putRule(bus, receiver.url);
    await receiver.stats(true);
    const pid = bus.child.pid;
    const load = runLoad({
      url: bus.url,
      mode: 'batch-rate',
      batch: 100,
      rate,
      seconds,
      concurrency: 8,
      prefix,
    });
    await sleep(1000);
    const start = (await receiver.stats(true)).count;
    const startAt = performance.now();
    const cpuStart = cpuSeconds(pid);
    const published = await load;
    const window = await receiver.stats();
    const elapsed = (performance.now() - startAt) / 1000;
    const cpuEnd = cpuSeconds(pid);
    const endedAt = performance.now();
    let received = start + window.count;
    while (received < published.events && performance.now() - endedAt < 30_000) {
      await sleep(100);
      received = start + (await receiver.stats()).count;
    }
    const latencies = [...window.latencies].sort((a, b) => a - b);
    return {
      rate: window.count / elapsed,
      perCpu:
        cpuStart === undefined || cpuEnd === undefined ? Number.NaN : window.count / (cpuEnd - cpuStart),
      published: published.events / published.seconds,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      catchUp: received >= published.events ? (performance.now() - endedAt) / 1000 : Number.POSITIVE_INFINITY,
      lost: Math.max(0, published.events - received),
    };
  }, env);
}

/** Deliveries/s to one target when the bus is fed at a fixed rate: does it keep up, and at what latency. */
async function sustainedTable(quick: boolean, env: Record<string, string> = {}): Promise<BenchTable> {
  const seconds = quick ? 5 : 8;
  const rounds = quick ? 1 : 3;
  const rates = quick ? [2500, 5000] : [2500, 5000, 7500];
  const receiver = await startReceiver();
  const rows: (string | number)[][] = [];
  try {
    for (const rate of rates) {
      const results = [];
      for (let round = 0; round < rounds; round++) {
        results.push(await sustainedRound(rate, seconds, receiver, `sus-${rate}-${round}`, env));
      }
      const catchUps = results.map((r) => r.catchUp);
      rows.push([
        rate,
        Math.round(median(results.map((r) => r.published))),
        Math.round(median(results.map((r) => r.rate))),
        spread(results.map((r) => r.rate)),
        Math.round(median(results.map((r) => r.perCpu))),
        Number(median(results.map((r) => r.p50)).toFixed(1)),
        Number(median(results.map((r) => r.p99)).toFixed(1)),
        catchUps.every(Number.isFinite) ? Number(median(catchUps).toFixed(1)) : 'not within 30 s',
      ]);
    }
  } finally {
    receiver.stop();
  }
  return {
    title:
      'HTTP target, sustained: one rule → one keep-alive HTTP/1.1 target, fed at a fixed rate (batches of 100)',
    columns: [
      'fed at (ev/s)',
      'accepted ev/s',
      'delivered ev/s (median)',
      'spread',
      'per bus CPU-second',
      'p50 ms',
      'p99 ms',
      'rest delivered after the feed (s)',
    ],
    rows,
    notes: [
      `${rounds} round(s) of ${seconds} s per rate, a fresh bus each; rates measured from the first second to the end of the feed.`,
      'The bus keeps up when it delivers what it accepts with a bounded p99 and little left at the end.',
      'Target (#20): ≥ 5,000 events/s sustained.',
    ],
  };
}

export async function benchHttpTargets(options: { quick: boolean }): Promise<BenchTable[]> {
  return [
    await latencyTable(options.quick),
    await sustainedTable(options.quick),
    await saturationTable(options.quick),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  // `--fsync-neighbour`: the latency table beside a process that writes and fsyncs 8 MiB in a loop (a busy disk).
  if (!process.argv.includes('--saturation'))
    printTable(await latencyTable(quick, process.argv.includes('--fsync-neighbour')));
  // `--profile=DIR`: the bus of the saturation run writes a CPU profile there.
  const profile = process.argv.find((a) => a.startsWith('--profile='))?.slice('--profile='.length);
  const env: Record<string, string> =
    profile === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` };
  if (process.argv.includes('--sustained')) printTable(await sustainedTable(quick, env));
  else if (!process.argv.includes('--latency')) printTable(await saturationTable(quick, env));
}
