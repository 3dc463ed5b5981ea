/**
 * The noisy neighbour (issue #13): bus A is flooded above its quota while bus B publishes 500 events/s; B's publish →
 * delivery latency (at an HTTP receiver) with A flooding against B alone, in interleaved rounds of one run. Two
 * storage models side by side, in the same bus process: per-bus storage (A and B are named buses, each with its own
 * log and stores) and one shared bus (A's flood and B's events are two sources of one bus with a per-source quota,
 * what `--quota-per-source` sets); A as a bus in a process of its own in B's deployment (`isolation: process`: through
 * the front door, on its own endpoint, and on its own endpoint with its bus process and load generator in Linux's idle
 * class, or with `--a-nice=19` at niceness 19); A and B in two deployments (no front door shared); and floors without
 * the bus (A's load generator at normal priority and as in the goal's row). On SQLite, and on Kafka (each named bus its
 * own topic and consumer group). The goal's rows (A idle and its floor) run last, in a deployment of their own (on
 * Kafka, its own topics).
 * The bus, both load generators and both receivers run in processes of their own; each phase starts once the machine
 * is quiet. `--quick` for a short run.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { ChildBus } from '../e2e/support/child-bus.ts';
import { request } from '../helpers/bus.ts';
import { type LoadResult, runLoad, withBus } from './bus.ts';
import { startReceiver } from './http-targets.ts';
import { cpuSeconds } from './support/cpu.ts';
import { type BenchTable, printTable } from './table.ts';

/**
 * A's quotas (events/s, burst the same), a table each; A's load generator sends twice its quota. 2,000/s is more than
 * a 2-core machine's bus routes and delivers beside B without its event loop saturating; 500/s is within it.
 */
const QUOTAS = [2000, 500] as const;
/** B's rate. */
const B_RATE = 500;

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

interface Model {
  /** The row's name. */
  readonly name: string;
  /** Where A's and B's events go (a bus's base URL). */
  readonly aUrl: string;
  readonly bUrl: string;
  /** A's quota; A sends twice that. */
  readonly quota: number;
  /** The bus process that serves B (its CPU, loop delay and GC are the row's process columns). */
  readonly busOf: ChildBus;
  /**
   * The niceness A's load generator runs at: it stands for A's publishers, which run on machines of their own in a
   * deployment; here they share B's two cores, and this keeps them behind B's processes as A's bus process is.
   */
  readonly aNice?: number | 'idle';
  /** The goal's row and its floor: measured over more rounds (GOAL_ROUNDS), as the ratio the goal is read from. */
  readonly goal?: boolean;
}

/**
 * Rounds of the goal's row and its floor in a full run. Their ratio divides two p99s of a few milliseconds: with six
 * rounds the same code gave 0.95× and 3.63× in two runs of 2026-12-06, with ten 1.68–1.88× in four.
 */
const GOAL_ROUNDS = 10;

/**
 * The CPU priority of A's bus process and A's load generator in the rows that lower A's priority (the goal's): Linux's
 * idle class (`nice: "idle"`), or with `--a-nice=19` niceness 19, what those rows used before 2026-12-06 18:00.
 */
const A_NICE: number | 'idle' = process.argv.includes('--a-nice=19') ? 19 : 'idle';
/** How the rows' notes name A_NICE. */
const A_PRIORITY = A_NICE === 'idle' ? "Linux's idle scheduling class (SCHED_IDLE)" : `niceness ${A_NICE}`;

/** A free TCP port on 127.0.0.1 (for a bus's own endpoint). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Phase {
  readonly p50: number;
  readonly p99: number;
  /** B's latencies (ms), sorted. */
  readonly latencies: readonly number[];
  readonly received: number;
  readonly sent: number;
  /** A's events accepted per second, and its 429 answers (with A flooding). */
  readonly aAccepted: number;
  readonly aRejected: number;
  /** The bus process's CPU over B's window, in cores. */
  readonly busCores: number;
  /** How long A's backlog took to reach its receiver once the flood stopped (s). */
  readonly aDrain: number;
  /**
   * The bus process's event-loop delay over B's window (ms, as bucket bounds): p99 and longest
   * (`nodejs_eventloop_delay_seconds`, docs/operations.md#process-metrics).
   */
  readonly loopP99: number;
  readonly loopMax: number;
  /** How long the phase waited for the machine to go quiet before it started (s). */
  readonly settled: number;
  /** Garbage-collection pauses over B's window, in ms per second. */
  readonly gcMsPerSecond: number;
}

/**
 * The bus process's event-loop delay histogram (cumulative counts by bucket bound, s) and GC time so far (s): the
 * deployment process's own series (those without a `bus` label; a bus in a process of its own labels its process's).
 */
async function processState(bus: ChildBus): Promise<{ delay: Map<number, number>; gcSeconds: number }> {
  const text = await (await fetch(`${bus.url}/metrics`)).text();
  const delay = new Map<number, number>();
  for (const m of text.matchAll(/^nodejs_eventloop_delay_seconds_bucket\{(.*?)le="([^"]+)"\} (\S+)$/gm)) {
    if (m[1] !== '') continue;
    delay.set(m[2] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[2]), Number(m[3]));
  }
  let gcSeconds = 0;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_sum\{(.*?)kind="[^"]*"\} (\S+)$/gm)) {
    if (m[1] === '') gcSeconds += Number(m[2]);
  }
  return { delay, gcSeconds };
}

/**
 * The loop's delay between two states (ms), as the bucket bounds hold it: the bound under which 99% of the ticks
 * fell, and the bound of the highest bucket any tick reached (buckets of LATENCY_BUCKETS: 0.5, 1, 2.5, 5, 10, 25 ms…).
 */
function delayBetween(before: Map<number, number>, after: Map<number, number>): { p99: number; max: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (bound: number) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
  const total = count(Number.POSITIVE_INFINITY);
  if (total <= 0) return { p99: Number.NaN, max: Number.NaN };
  const p99 = bounds.find((bound) => count(bound) >= 0.99 * total) ?? Number.NaN;
  const max = bounds.find((bound) => count(bound) >= total) ?? Number.NaN;
  return { p99: p99 * 1000, max: max * 1000 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** Waits (60 s at most) until the receiver has `count` events. */
async function waitFor(receiver: Receiver, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await receiver.stats()).count < count) await sleep(50);
}

async function put(bus: ChildBus, path: string, body: unknown): Promise<void> {
  const answer = await request(bus.url, 'PUT', path, body);
  if (answer.status >= 300)
    throw new Error(`PUT ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
}

/**
 * Buses a (bus quota), b and shared (per-source quota) in one process, and b in a second process, each with rules to
 * the receivers; answers the models.
 */
async function setUp(
  bus: ChildBus,
  other: ChildBus,
  a: Receiver,
  b: Receiver,
  eventsPerSecond: number,
): Promise<Model[]> {
  const endpointPort = await freePort();
  const nicePort = await freePort();
  const quota = { eventsPerSecond, burst: eventsPerSecond };
  await put(bus, '/buses/a', { quota });
  await put(bus, '/buses/b', {});
  await put(bus, '/buses/shared', { sourceQuota: quota });
  const rule = (source: string, receiver: Receiver) => ({
    pattern: { source: [source] },
    targets: [{ id: 'receiver', type: 'http', url: `${receiver.url}/in` }],
  });
  await put(bus, '/buses/a/rules/to-a', rule('/bench-a', a));
  await put(bus, '/buses/b/rules/to-b', rule('/bench-b', b));
  await put(bus, '/buses/shared/rules/to-a', rule('/bench-a', a));
  await put(bus, '/buses/shared/rules/to-b', rule('/bench-b', b));
  await put(other, '/buses/b', {});
  await put(other, '/buses/b/rules/to-b', rule('/bench-b', b));
  // The hybrid model: the large (flooding) bus in a bus process of its own, B in the deployment's process — A's
  // publishers through the deployment's front door, or on A's own endpoint (`port`), which the front door never sees.
  await put(bus, '/buses/a-isolated', { quota, isolation: 'process' });
  await put(bus, '/buses/a-isolated/rules/to-a', rule('/bench-a', a));
  await put(bus, '/buses/a-endpoint', { quota, isolation: 'process', port: endpointPort });
  await put(bus, '/buses/a-endpoint/rules/to-a', rule('/bench-a', a));
  // …and the same at the lowest CPU priority: the kernel runs B's deployment first when both want a core.
  await put(bus, '/buses/a-nice', { quota, isolation: 'process', port: nicePort, nice: A_NICE });
  await put(bus, '/buses/a-nice/rules/to-a', rule('/bench-a', a));
  return [
    {
      name: 'per-bus storage: A and B are buses of their own',
      aUrl: `${bus.url}/buses/a`,
      bUrl: `${bus.url}/buses/b`,
      quota: eventsPerSecond,
      busOf: bus,
    },
    {
      name: 'isolated flood: A in a bus process of its own, its publishers through the front door; B in the deployment process',
      aUrl: `${bus.url}/buses/a-isolated`,
      bUrl: `${bus.url}/buses/b`,
      quota: eventsPerSecond,
      busOf: bus,
    },
    {
      name: 'isolated flood, own endpoint: A in a bus process of its own, its publishers on its port; B in the deployment process',
      aUrl: `http://127.0.0.1:${endpointPort}`,
      bUrl: `${bus.url}/buses/b`,
      quota: eventsPerSecond,
      busOf: bus,
    },
    {
      name: `isolated flood, own endpoint, nice ${A_NICE}: as above, A's bus process and A's load generator in ${A_PRIORITY}`,
      aUrl: `http://127.0.0.1:${nicePort}`,
      bUrl: `${bus.url}/buses/b`,
      quota: eventsPerSecond,
      busOf: bus,
      aNice: A_NICE,
      goal: true,
    },
    {
      // Two deployments, one bus each: A's bus and B's share the cores, not a loop nor a front door.
      name: 'process per bus: A and B in deployments of their own',
      aUrl: `${bus.url}/buses/a`,
      bUrl: `${other.url}/buses/b`,
      quota: eventsPerSecond,
      busOf: other,
    },
    {
      name: 'shared: A and B are two sources of one bus',
      aUrl: `${bus.url}/buses/shared`,
      bUrl: `${bus.url}/buses/shared`,
      quota: eventsPerSecond,
      busOf: bus,
    },
    {
      // The same processes with the bus left out: what the machine alone does to B's latency when A's load runs.
      name: 'floor: no bus, each load generator posts straight to its receiver',
      aUrl: a.url,
      bUrl: b.url,
      quota: eventsPerSecond,
      busOf: bus,
    },
    {
      name: `floor, nice ${A_NICE}: as above, A's load generator in ${A_PRIORITY}`,
      aUrl: a.url,
      bUrl: b.url,
      quota: eventsPerSecond,
      busOf: bus,
      aNice: A_NICE,
      goal: true,
    },
  ];
}

/** One phase: B at 500/s for `seconds`, with A flooding (from half a second before B to B's end) or not. */
async function phase(
  model: Model,
  receivers: { a: Receiver; b: Receiver },
  options: { flood: boolean; seconds: number; prefix: string },
): Promise<Phase> {
  // What the last phase left running (an idle A's bus process finishing its backlog's bookkeeping on CPU time nobody
  // wants, but with fsyncs of its own) must not run into this one: B alone would not be alone.
  const settled = await machineQuiet();
  await receivers.a.stats(true);
  await receivers.b.stats(true);
  const { seconds, prefix } = options;
  const bus = model.busOf;
  const aLoad = options.flood
    ? runLoad(
        {
          url: model.aUrl,
          mode: 'rate',
          rate: 2 * model.quota,
          seconds: seconds + 0.5,
          concurrency: 64,
          prefix: `${prefix}-a`,
          file: 'bench',
          source: '/bench-a',
        },
        'load.ts',
        model.aNice === undefined ? {} : { nice: model.aNice },
      )
    : undefined;
  if (aLoad !== undefined) await sleep(500);
  const before = await processState(bus);
  const pid = bus.child.pid;
  const cpuStart = cpuSeconds(pid);
  const startedAt = performance.now();
  const bLoad = await runLoad({
    url: model.bUrl,
    mode: 'rate',
    rate: B_RATE,
    seconds,
    concurrency: 64,
    prefix: `${prefix}-b`,
    file: 'bench',
    source: '/bench-b',
  });
  const cpuEnd = cpuSeconds(pid);
  const elapsed = (performance.now() - startedAt) / 1000;
  const during = await processState(bus);
  const loop = delayBetween(before.delay, during.delay);
  const a = (await aLoad) as (LoadResult & { rejected?: number }) | undefined;
  const aEnded = performance.now();
  await waitFor(receivers.b, bLoad.ok);
  // A's backlog is delivered before the next phase starts: B alone must not run beside it.
  if (a !== undefined) await waitFor(receivers.a, a.ok);
  const aDrain = (performance.now() - aEnded) / 1000;
  const latencies = (await receivers.b.stats(true)).latencies.sort((x, y) => x - y);
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    latencies,
    received: latencies.length,
    sent: bLoad.ok,
    aAccepted: a === undefined ? 0 : a.ok / a.seconds,
    aRejected: a?.rejected ?? 0,
    busCores: cpuStart === undefined || cpuEnd === undefined ? Number.NaN : (cpuEnd - cpuStart) / elapsed,
    aDrain: a === undefined ? 0 : aDrain,
    loopP99: loop.p99,
    loopMax: loop.max,
    gcMsPerSecond: ((during.gcSeconds - before.gcSeconds) * 1000) / elapsed,
    settled,
  };
}

/** The machine counts as quiet when its processes use less than this many cores together (over QUIET_WINDOW_MS). */
const QUIET_CORES = 0.2;
const QUIET_WINDOW_MS = 250;
/** How long a phase waits for a quiet machine before it starts anyway. */
const QUIET_WAIT_MS = 10_000;

/** Waits until the machine's CPU use (all processes, from /proc/stat) falls under QUIET_CORES; the seconds waited. */
async function machineQuiet(): Promise<number> {
  const started = performance.now();
  let last = busyJiffies();
  while (performance.now() - started < QUIET_WAIT_MS) {
    await sleep(QUIET_WINDOW_MS);
    const now = busyJiffies();
    if (last === undefined || now === undefined) break;
    // USER_HZ is 100 on Linux: a jiffy is 10 ms of one core.
    const cores = ((now - last) * 10) / QUIET_WINDOW_MS;
    if (cores < QUIET_CORES) break;
    last = now;
  }
  return (performance.now() - started) / 1000;
}

/** Jiffies all cores spent busy since boot (/proc/stat's `cpu` line without idle and iowait), if readable. */
function busyJiffies(): number | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user and nice)
    return fields.slice(0, 8).reduce((sum, v, i) => (i === 3 || i === 4 ? sum : sum + v), 0);
  } catch {
    return undefined;
  }
}

/** The goal's rows' p99 round by round (ms), in the order measured: what the medians are taken from. */
function goalRoundsNotes(
  models: readonly Model[],
  results: readonly { alone: readonly Phase[]; flooded: readonly Phase[] }[],
): string[] {
  return models.flatMap((model, m) => {
    const result = results[m];
    if (model.goal !== true || result === undefined) return [];
    const p99s = (list: readonly Phase[]) => list.map((r) => r.p99.toFixed(1)).join(' ');
    return [
      `${model.name.split(':')[0]}, p99 per round (ms): alone ${p99s(result.alone)}; with A ${p99s(result.flooded)}.`,
    ];
  });
}

/** The machine's load average over the last minute (what else ran), from /proc. */
function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
  } catch {
    return '?';
  }
}

/** Interleaved rounds of both models, B alone and with A flooding, on a bus with `env` (e.g. its Kafka). */
async function noisyTable(
  backend: string,
  quick: boolean,
  env: Record<string, string>,
  quota: number,
  options: { readonly rows?: string; readonly rounds?: number } = {},
): Promise<BenchTable> {
  const seconds = quick ? 2 : 5;
  // Six rounds: the median of four rounds' p99 moved by ±0.5× from run to run of the same code.
  const rounds = options.rounds ?? (quick ? 2 : 6);
  // `--rounds` and quick runs: the same for every row.
  const goalRounds = options.rounds !== undefined || quick ? rounds : GOAL_ROUNDS;
  const roundsOf = (model: Model) => (model.goal === true ? goalRounds : rounds);
  const loadBefore = loadAverage();
  const a = await startReceiver();
  const b = await startReceiver();
  try {
    // On Kafka, topics named after `suffix` (each bus's topic is named after the log's): a deployment of its own.
    const withTopics = (suffix: string) =>
      env.JUNCTION_KAFKA_TOPIC === undefined
        ? env
        : { ...env, JUNCTION_KAFKA_TOPIC: `${env.JUNCTION_KAFKA_TOPIC}${suffix}` };
    // The goal's rows (A's bus process at nice 19, and its floor) in a deployment of their own, after the other rows:
    // B's deployment then holds what the goal's scenario has (buses A and B), not the other rows' buses after their
    // floods (their stores, WAL and heap; the goal row's B p99 with A was 15.9 ms in a full run of 2026-12-06 and
    // 7–8 ms in runs of that row alone, with the same CPU in B's process). On Kafka it gets topics of its own too: the
    // consumer groups are named after the buses, and on the first deployment's topics they would resume at its offsets.
    // The second bus process (the process-per-bus row) has topics of its own in either.
    const measure = (goal: boolean) => {
      const suffix = goal ? '-goal' : '';
      return withBus(
        async (bus) =>
          withBus(
            async (other) => {
              const models = (await setUp(bus, other, a, b, quota)).filter(
                (m) =>
                  (m.goal === true) === goal && (options.rows === undefined || m.name.includes(options.rows)),
              );
              return { models, results: await measureModels(models) };
            },
            withTopics(`${suffix}-p2`),
          ),
        withTopics(suffix),
      );
    };
    const measureModels = async (models: readonly Model[]) => {
      for (const [m, model] of models.entries()) {
        await phase(model, { a, b }, { flood: true, seconds: 1, prefix: `warm-${m}-${groupOf(model)}` });
      }
      const results = models.map(() => ({ alone: [] as Phase[], flooded: [] as Phase[] }));
      const mostRounds = Math.max(0, ...models.map(roundsOf));
      for (let round = 0; round < mostRounds; round++) {
        // Alternate the order round by round, so that neither scenario always follows the other.
        const order = round % 2 === 0 ? [false, true] : [true, false];
        for (const [m, model] of models.entries()) {
          if (round >= roundsOf(model)) continue;
          for (const flood of order) {
            const result = await phase(
              model,
              { a, b },
              { flood, seconds, prefix: `r${round}-m${m}-${groupOf(model)}-${flood}` },
            );
            (flood ? results[m]?.flooded : results[m]?.alone)?.push(result);
          }
        }
      }
      return results;
    };
    const groupOf = (model: Model) => (model.goal === true ? 'goal' : 'other');
    const others = await measure(false);
    const goals = await measure(true);
    const models = [...others.models, ...goals.models];
    const results = [...others.results, ...goals.results];
    const rows = models.map((model, m) => {
      const { alone, flooded } = results[m] as { alone: Phase[]; flooded: Phase[] };
      const ratio = median(flooded.map((r) => r.p99)) / median(alone.map((r) => r.p99));
      // The p99 of every round's latencies together: a hundred times more samples than one round's tail.
      const pooled = (list: Phase[]) =>
        percentile(
          list.flatMap((r) => r.latencies).sort((x, y) => x - y),
          99,
        );
      const pooledAlone = pooled(alone);
      const pooledFlooded = pooled(flooded);
      const count = (list: Phase[]) =>
        `${list.reduce((n, r) => n + r.received, 0)}/${list.reduce((n, r) => n + r.sent, 0)}`;
      return [
        model.name,
        median(alone.map((r) => r.p50)),
        median(alone.map((r) => r.p99)),
        spread(alone.map((r) => r.p99)),
        median(flooded.map((r) => r.p50)),
        median(flooded.map((r) => r.p99)),
        spread(flooded.map((r) => r.p99)),
        `${ratio.toFixed(2)}×`,
        `${pooledAlone.toFixed(1)} → ${pooledFlooded.toFixed(1)} (${(pooledFlooded / pooledAlone).toFixed(2)}×)`,
        Math.round(median(flooded.map((r) => r.aAccepted))),
        Math.round(median(flooded.map((r) => r.aRejected))),
        `${median(alone.map((r) => r.busCores)).toFixed(2)} / ${median(flooded.map((r) => r.busCores)).toFixed(2)}`,
        Number(median(flooded.map((r) => r.aDrain)).toFixed(1)),
        `${median(alone.map((r) => r.loopP99)).toFixed(1)} / ${median(flooded.map((r) => r.loopP99)).toFixed(1)}`,
        `${median(alone.map((r) => r.loopMax)).toFixed(0)} / ${median(flooded.map((r) => r.loopMax)).toFixed(0)}`,
        `${median(alone.map((r) => r.gcMsPerSecond)).toFixed(0)} / ${median(flooded.map((r) => r.gcMsPerSecond)).toFixed(0)}`,
        `${median(alone.map((r) => r.settled)).toFixed(1)} / ${median(flooded.map((r) => r.settled)).toFixed(1)}`,
        `${count(alone)} · ${count(flooded)}`,
      ];
    });
    return {
      title: `Noisy neighbour (${backend}): B's publish → delivery latency (ms) at ${B_RATE} events/s, alone and with A flooding at ${2 * quota}/s over its ${quota}/s quota`,
      columns: [
        'storage model',
        'B alone p50',
        'B alone p99',
        'spread',
        'with A p50',
        'with A p99',
        'spread',
        'p99 ratio',
        'p99 of all rounds together, alone → with A',
        'A accepted/s',
        "A's 429s",
        'bus cores alone / with A',
        'A drained after (s)',
        'loop delay p99 alone / with A (ms, ≤ bucket)',
        'loop delay max alone / with A (ms, ≤ bucket)',
        'GC ms/s alone / with A',
        'quiet after (s) alone / with A',
        'B received/sent alone · with A',
      ],
      rows,
      notes: [
        `${rounds} interleaved rounds of ${seconds} s per scenario (${goalRounds} for the nice ${A_NICE} rows, the goal's and its floor), medians of the rounds' percentiles (the goal's ratio; beside it the p99 of all rounds' latencies together); A's load starts 0.5 s before B's; A's backlog is delivered before the next scenario.`,
        `Single events (binary mode), 64 connections each; each side has its own HTTP receiver (own process); A's quota is a bus quota (per-bus) or a per-source quota (shared), ${quota}/s, burst ${quota}.`,
        `Load average (1 min) before the table: ${loadBefore}, after: ${loadAverage()}.`,
        "Floor: the same load generators and receivers without the bus (A's events all reach its receiver: no quota); its ratio is what sharing the machine's cores with A's load does to B's latency by itself.",
        "Isolated flood: A's bus has `isolation: process` (and a bus quota) in B's deployment; through the front door, A's requests pass the deployment process on their way to A's bus process (a Unix socket); on its own endpoint (`port`) they never reach the deployment process. The process columns are the deployment process's (B's).",
        `The goal's rows (nice ${A_NICE}: the row and its floor) run after the others, in a deployment of their own (a new bus process and data folder with the same buses; on Kafka, topics of their own), so that B's deployment holds no store nor heap the other rows' floods left.`,
        `Nice ${A_NICE}: A's bus process runs in ${A_PRIORITY} (\`nice: ${JSON.stringify(A_NICE)}\` on the bus), and A's load generator too — it stands for A's publishers, which a deployment has on machines of their own, not on B's two cores; the floor row of the same name is that generator without the bus.`,
        "Process per bus: bus a in the first deployment's process, bus b in a second deployment (each its own event loop, database and front door); the row's process columns are B's process's.",
        `Each phase starts once the machine is quiet (its processes together under ${QUIET_CORES} cores for ${QUIET_WINDOW_MS} ms, /proc/stat; at most ${QUIET_WAIT_MS / 1000} s, the "quiet after" column), so that what a flood left running (an idle A finishing its bookkeeping) does not run into B alone.`,
        ...goalRoundsNotes(models, results),
        'Target (#13): p99 ratio ≤ 2×.',
      ],
    };
  } finally {
    a.stop();
    b.stop();
  }
}

/**
 * The noisy-neighbour tables: on SQLite, then on Kafka on the broker `startBroker` starts (after the SQLite table, so
 * that its JVM does not run beside that one), removed at the end.
 */
export async function benchNoisy(options: {
  quick: boolean;
  startBroker?: () => Promise<{ bootstrap: string; remove(): Promise<void> }>;
}): Promise<BenchTable[]> {
  const tables: BenchTable[] = [];
  for (const quota of QUOTAS) tables.push(await noisyTable('SQLite', options.quick, {}, quota));
  if (options.startBroker !== undefined) {
    const broker = await options.startBroker();
    try {
      // Quick: the higher quota only (the run stays within about 2 minutes).
      for (const quota of options.quick ? QUOTAS.slice(0, 1) : QUOTAS) {
        tables.push(
          await noisyTable(
            'Kafka log, SQLite stores, one local broker',
            options.quick,
            { JUNCTION_KAFKA: broker.bootstrap, JUNCTION_KAFKA_TOPIC: `noisy-${quota}-${Date.now()}` },
            quota,
          ),
        );
      }
    } finally {
      await broker.remove();
    }
  }
  return tables;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // One table: on SQLite, or with `--kafka=HOST:PORT` on that broker's log; `--quota=N` sets A's quota;
  // `--profile=DIR` has the bus write CPU profiles there; `--rows=TEXT` measures the rows whose name has TEXT only;
  // `--rounds=N` sets the rounds; `--a-nice=19` runs A's side of the goal's rows at niceness 19 instead of idle.
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const quick = process.argv.includes('--quick');
  const profile = arg('profile');
  const kafka = arg('kafka');
  const quota = Number(arg('quota') ?? QUOTAS[0]);
  const env: Record<string, string> = {
    ...(profile === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` }),
    ...(kafka === undefined
      ? {}
      : { JUNCTION_KAFKA: kafka, JUNCTION_KAFKA_TOPIC: `noisy-${quota}-${Date.now()}` }),
  };
  printTable(
    await noisyTable(kafka === undefined ? 'SQLite' : 'Kafka log, SQLite stores', quick, env, quota, {
      ...(arg('rows') === undefined ? {} : { rows: arg('rows') as string }),
      ...(arg('rounds') === undefined ? {} : { rounds: Number(arg('rounds')) }),
    }),
  );
}
