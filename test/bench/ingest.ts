/**
 * Ingest side by side with its peers (issue #20), every peer measured in the same run in interleaved rounds (who
 * goes first rotates), medians and spreads of the rounds, and events per CPU-second of each server process (the
 * steadier measure on a shared 2-core machine):
 *
 * 1. single events (binary mode), 32 connections: Junction against a do-nothing node:http server, with the load
 *    generator's ids in order and again with random UUID ids;
 * 2. EventBridge PutEvents (10 entries × 8 connections) against CloudEvents batches of the same 10 events, on one
 *    bus with rules active, and the answer time of each at a low rate;
 * 3. durable batches (100 events × 8 connections): Junction (fsync before the 202) against NATS JetStream's file
 *    store, in its default mode (acks before the fsync) and with `sync_interval: always` (an fsync per message);
 *    then both again with random UUID ids (what producers mostly send) instead of ids in order.
 *
 * `npm run bench -- --only=ingest` (`--quick` for a short run); `npx node test/bench/ingest.ts [--quick]
 * [--single] [--putevents] [--durable]` runs some tables alone.
 */
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { type LoadResult, metricSum, runLoad, startNoop, withBus } from './bus.ts';
import { startReceiver } from './http-targets.ts';
import { cpuSeconds } from './support/cpu.ts';
import { NATS_SERVER_VERSION, startNats } from './support/nats.ts';
import { type BenchTable, printTable } from './table.ts';

export interface Settings {
  readonly rounds: number;
  readonly seconds: number;
}

/** One side of a comparison: how to load it once, and the server process whose CPU time counts. */
export interface Contestant {
  readonly name: string;
  readonly pid: () => number | undefined;
  readonly load: (prefix: string) => Promise<LoadResult>;
}

interface Sample {
  /** Events (requests, for single events) per second of wall time. */
  readonly rate: number;
  /** …per CPU-second of the server process. */
  readonly perCpu: number;
  readonly failed: number;
}

/** Runs the load generator for NATS (support/load-nats.ts) in a process of its own. */
function runNatsLoad(options: Record<string, unknown>): Promise<LoadResult> {
  return runLoad(options, 'load-nats.ts');
}

function percentile(sortedValues: readonly number[], p: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  return sortedValues[
    Math.min(sortedValues.length - 1, Math.floor((p / 100) * sortedValues.length))
  ] as number;
}

/** Times a 4 KiB write + fdatasync of a file in `dir` every 20 ms until stopped; answers the times in ms. */
function probeFsync(dir: string): { stop: () => Promise<number[]> } {
  const fd = openSync(join(dir, 'fsync-probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      writeSync(fd, block, 0, block.length, (i % 256) * block.length);
      const started = performance.now();
      await new Promise<void>((resolve, reject) =>
        fdatasync(fd, (error) => (error ? reject(error) : resolve())),
      );
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      closeSync(fd);
      return times;
    },
  };
}

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

function median(values: readonly number[]): number {
  const s = sorted(values);
  const mid = s.length >> 1;
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return value >= 10 ? value.toFixed(0) : value.toFixed(2);
}

function spread(values: readonly number[]): string {
  const s = sorted(values);
  return `${fmt(s[0] ?? Number.NaN)}–${fmt(s.at(-1) ?? Number.NaN)}`;
}

function ratioText(values: readonly number[]): string {
  const s = sorted(values);
  return `${median(values).toFixed(2)}× (${(s[0] ?? Number.NaN).toFixed(2)}–${(s.at(-1) ?? Number.NaN).toFixed(2)})`;
}

/**
 * Loads each contestant once per round, rotating who goes first; answers each one's samples by round. A short
 * warm-up load of each comes first (connections, JIT), not counted.
 */
export async function interleave(
  contestants: readonly Contestant[],
  settings: Settings,
  countRequests = false,
): Promise<Sample[][]> {
  for (const c of contestants) await c.load(`warm-${c.name.length}-${Math.random().toString(36).slice(2)}`);
  const samples: Sample[][] = contestants.map(() => []);
  for (let round = 0; round < settings.rounds; round++) {
    for (let k = 0; k < contestants.length; k++) {
      const index = (round + k) % contestants.length;
      const c = contestants[index] as Contestant;
      const before = cpuSeconds(c.pid());
      const r = await c.load(`r${round}-${index}`);
      const after = cpuSeconds(c.pid());
      const count = countRequests ? r.ok : r.events;
      const cpu = before === undefined || after === undefined ? Number.NaN : after - before;
      samples[index]?.push({
        rate: count / r.seconds,
        perCpu: cpu > 0 ? count / cpu : Number.NaN,
        failed: r.failed,
      });
    }
  }
  return samples;
}

/**
 * Rows for `samples` against the first contestant (the baseline): medians and spreads of the rates, and the
 * median of the paired per-round ratios (one disturbed round moves a mean of rates, not this).
 */
export function rows(
  contestants: readonly Contestant[],
  samples: Sample[][],
  baseline = 0,
): (string | number)[][] {
  const base = samples[baseline] as Sample[];
  return contestants.map((c, i) => {
    const mine = samples[i] as Sample[];
    const wall = mine.map((s, round) => s.rate / (base[round] as Sample).rate);
    const cpu = mine.map((s, round) => s.perCpu / (base[round] as Sample).perCpu);
    return [
      c.name,
      Math.round(median(mine.map((s) => s.rate))),
      spread(mine.map((s) => s.rate)),
      Math.round(median(mine.map((s) => s.perCpu))),
      spread(mine.map((s) => s.perCpu)),
      i === baseline ? '1' : ratioText(wall),
      i === baseline ? '1' : ratioText(cpu),
      mine.reduce((n, s) => n + s.failed, 0),
    ];
  });
}

export function pairedRatio(samples: Sample[][], i: number, baseline: number, cpu: boolean): number {
  const base = samples[baseline] as Sample[];
  return median(
    (samples[i] as Sample[]).map((s, round) =>
      cpu ? s.perCpu / (base[round] as Sample).perCpu : s.rate / (base[round] as Sample).rate,
    ),
  );
}

export function verdict(value: number, goal: number): string {
  return `${value.toFixed(2)}× ${value >= goal ? 'met' : 'NOT met'}`;
}

/** Makes a bus with JetStream's default dedup window (2 minutes), whose keys the log holds in memory; answers its URL. */
async function shortWindowBus(url: string): Promise<string> {
  const made = await request(url, 'PUT', '/buses/short', { dedupWindowMs: 120_000 });
  if (made.status !== 201) throw new Error(`PUT /buses/short answered ${made.status}`);
  return `${url}/buses/short`;
}

/** Goal 1: single events against a do-nothing node:http server, 32 connections. */
async function singleTable(settings: Settings): Promise<BenchTable> {
  const noop = await startNoop();
  try {
    return await withBus(async (bus, dir) => {
      const concurrency = 32;
      const shortUrl = await shortWindowBus(bus.url);
      const contestants: Contestant[] = [
        {
          name: 'do-nothing node:http server',
          pid: () => noop.child.pid,
          load: (prefix) =>
            runLoad({ url: noop.url, mode: 'single', seconds: settings.seconds, concurrency, prefix }),
        },
        {
          name: 'Junction, durable (fsync before the 202)',
          pid: () => bus.child.pid,
          load: (prefix) =>
            runLoad({ url: bus.url, mode: 'single', seconds: settings.seconds, concurrency, prefix }),
        },
        // Producers mostly send random ids: the dedup and trace indexes then take a random page per event.
        {
          name: 'Junction, durable, random UUID ids',
          pid: () => bus.child.pid,
          load: (prefix) =>
            runLoad({
              url: bus.url,
              mode: 'single',
              seconds: settings.seconds,
              concurrency,
              prefix,
              ids: 'uuid',
            }),
        },
        {
          name: 'Junction, durable, random UUID ids, a bus with a 2-minute dedup window',
          pid: () => bus.child.pid,
          load: (prefix) =>
            runLoad({
              url: shortUrl,
              mode: 'single',
              seconds: settings.seconds,
              concurrency,
              prefix,
              ids: 'uuid',
            }),
        },
      ];
      const disk = probeFsync(dir);
      const samples = await interleave(contestants, settings, true);
      const fsyncs = (await disk.stop()).sort((x, y) => x - y);
      return {
        title: `Ingest, single events (binary mode, one event per request), ${concurrency} connections — ${settings.rounds} interleaved rounds of ${settings.seconds} s`,
        columns: [
          'server',
          'req/s (median)',
          'spread',
          'req per server CPU-s',
          'spread',
          'ratio (median of rounds)',
          'ratio per CPU-s',
          'failed',
        ],
        rows: rows(contestants, samples),
        notes: [
          `Goal (#20) ≥ 0.6× the do-nothing server: wall ${verdict(pairedRatio(samples, 1, 0, false), 0.6)}, per server CPU-second ${verdict(pairedRatio(samples, 1, 0, true), 0.6)}. With random UUID ids: wall ${pairedRatio(samples, 2, 0, false).toFixed(2)}×, per server CPU-second ${pairedRatio(samples, 2, 0, true).toFixed(2)}×; and on a bus with a 2-minute dedup window (JetStream's default; the keys in memory): ${pairedRatio(samples, 3, 0, false).toFixed(2)}× / ${pairedRatio(samples, 3, 0, true).toFixed(2)}×.`,
          'Same load generator (node:http, keep-alive, its own process), same requests; the do-nothing server reads the body and answers 202 with a JSON body of the same shape. No rules on the bus.',
          `The bus answers after an fdatasync of its WAL, one per group commit: with ${concurrency} connections its rate is bounded by them over the disk's time, and a 4 KiB write + fdatasync beside the rounds took p50 ${percentile(fsyncs, 50).toFixed(1)} / p99 ${percentile(fsyncs, 99).toFixed(1)} ms (${fsyncs.length} probes).`,
        ],
      };
    });
  } finally {
    noop.stop();
  }
}

/** Goal 2: PutEvents against CloudEvents batches of the same events, rules active. */
async function putEventsTable(settings: Settings): Promise<BenchTable> {
  const receiver = await startReceiver();
  try {
    return await withBus(async (bus, dir) => {
      // Two rules: one that matches every 100th event (delivered to an HTTP receiver), one that matches none; the
      // router matches every event against both.
      for (const [name, rule] of [
        [
          'sampled',
          {
            pattern: { source: ['/bench'], data: { kind: ['sampled'] } },
            targets: [{ id: 'receiver', type: 'http', url: `${receiver.url}/in` }],
          },
        ],
        [
          'elsewhere',
          {
            pattern: { source: [{ prefix: '/elsewhere' }] },
            targets: [{ id: 'receiver', type: 'http', url: `${receiver.url}/in` }],
          },
        ],
      ] as const) {
        const answer = await request(bus.url, 'PUT', `/rules/${name}`, rule);
        if (answer.status >= 300) throw new Error(`PUT /rules/${name} answered ${answer.status}`);
      }
      const entries = 10;
      const concurrency = 8;
      const common = { url: bus.url, seconds: settings.seconds, concurrency, batch: entries, sample: 100 };
      const contestants: Contestant[] = [
        {
          name: `CloudEvents batch of ${entries}`,
          pid: () => bus.child.pid,
          load: (prefix) => runLoad({ ...common, mode: 'batch', like: 'putevents', prefix }),
        },
        {
          name: `PutEvents, ${entries} entries`,
          pid: () => bus.child.pid,
          load: (prefix) => runLoad({ ...common, mode: 'putevents', prefix }),
        },
        {
          name: `CloudEvents batch of ${entries}, random UUID ids`,
          pid: () => bus.child.pid,
          load: (prefix) => runLoad({ ...common, mode: 'batch', like: 'putevents', ids: 'uuid', prefix }),
        },
      ];
      const samples = await interleave(contestants, settings);
      // The answer time at a low rate (10 calls/s): what one call waits for, with nothing queued beside it.
      const latency: Record<'batch-rate' | 'putevents-rate', { p50: number[]; p99: number[] }> = {
        'batch-rate': { p50: [], p99: [] },
        'putevents-rate': { p50: [], p99: [] },
      };
      // The disk's own answer time meanwhile: a 4 KiB write and an fdatasync every 20 ms, in the bus's temp dir.
      const disk = probeFsync(dir);
      for (let round = 0; round < settings.rounds; round++) {
        const order =
          round % 2 === 0
            ? (['batch-rate', 'putevents-rate'] as const)
            : (['putevents-rate', 'batch-rate'] as const);
        for (const mode of order) {
          const r = (await runLoad({
            ...common,
            mode,
            like: 'putevents',
            rate: 100,
            seconds: Math.min(settings.seconds, 3),
            prefix: `l${round}-${mode}`,
          })) as LoadResult & { answerP50?: number; answerP99?: number };
          latency[mode].p50.push(r.answerP50 ?? Number.NaN);
          latency[mode].p99.push(r.answerP99 ?? Number.NaN);
        }
      }
      const fsyncs = (await disk.stop()).sort((x, y) => x - y);
      const out = rows(contestants, samples).map((row, i) => {
        const l = i === 2 ? undefined : latency[i === 0 ? 'batch-rate' : 'putevents-rate'];
        return [...row, l === undefined ? '' : `${median(l.p50).toFixed(1)} / ${median(l.p99).toFixed(1)}`];
      });
      return {
        title: `Ingest, PutEvents against CloudEvents batches of the same events, ${entries} per call × ${concurrency} connections, rules active — ${settings.rounds} interleaved rounds of ${settings.seconds} s`,
        columns: [
          'call',
          'events/s (median)',
          'spread',
          'events per bus CPU-s',
          'spread',
          'ratio (median of rounds)',
          'ratio per CPU-s',
          'failed',
          'answer ms p50 / p99 at 10 calls/s',
        ],
        rows: out,
        notes: [
          `Goal (#20) PutEvents ≥ 0.8× the batch: wall ${verdict(pairedRatio(samples, 1, 0, false), 0.8)}, per bus CPU-second ${verdict(pairedRatio(samples, 1, 0, true), 0.8)}.`,
          "The same events both ways: source /bench, type bench.event, time, datacontenttype application/json, data {n} (PutEvents: Source, DetailType, Detail; the bus makes the ids, time-ordered UUID v7; the batches carry the load generator's ordered ids). Two rules: one matching every 100th event (to an HTTP receiver), one matching none.",
          `Answer times at 10 calls/s are the disk's: a 4 KiB write + fdatasync beside them took p50 ${percentile(fsyncs, 50).toFixed(1)} / p99 ${percentile(fsyncs, 99).toFixed(1)} ms (${fsyncs.length} probes); nothing in either path waits on a timer.`,
          'The third row is the batch again with random UUID v4 ids, as many producers send: each new id is a write on a random page of the dedup and trace indexes (PutEvents ids were v4 too before: 0.59× per CPU-second).',
        ],
      };
    });
  } finally {
    receiver.stop();
  }
}

/** Goal 3: durable batches against NATS JetStream's file store, default and sync-always. */
async function durableTable(settings: Settings): Promise<BenchTable> {
  const dir = tempDir('junction-bench-nats-');
  const natsDefault = await startNats(join(dir.path, 'default'), { syncAlways: false });
  try {
    const natsSync = await startNats(join(dir.path, 'sync'), { syncAlways: true });
    try {
      return await withBus(async (bus) => {
        const common = { seconds: settings.seconds, concurrency: 8, batch: 100 };
        // Whether routing kept pace with the appends: how far behind the router was when the load ended, how long it
        // then took to route the rest (counted in the round's CPU), and the mean time from ingest to route.
        const routing: Array<{ lag: number; catchUpMs: number; meanMs: number }> = [];
        const metrics = async () => (await fetch(`${bus.url}/metrics`)).text();
        const shortUrl = await shortWindowBus(bus.url);
        const routed = async (prefix: string, ids?: 'uuid', url = bus.url) => {
          const before = await metrics();
          const result = await runLoad({
            ...common,
            url,
            mode: 'batch',
            prefix,
            ...(ids === undefined ? {} : { ids }),
          });
          const end = await metrics();
          const started = performance.now();
          let now = end;
          while (metricSum(now, 'junction_router_lag_events') > 0 && performance.now() - started < 120_000) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            now = await metrics();
          }
          const sum = 'junction_ingest_to_route_seconds_sum';
          const count = 'junction_ingest_to_route_seconds_count';
          routing.push({
            lag: metricSum(end, 'junction_router_lag_events'),
            catchUpMs: performance.now() - started,
            meanMs:
              (1000 * (metricSum(now, sum) - metricSum(before, sum))) /
              Math.max(1, metricSum(now, count) - metricSum(before, count)),
          });
          return result;
        };
        const contestants: Contestant[] = [
          {
            name: 'NATS JetStream, file store, default (acks before fsync)',
            pid: () => natsDefault.child.pid,
            load: (prefix) => runNatsLoad({ ...common, url: natsDefault.url, prefix }),
          },
          {
            name: 'Junction (fsync before the 202)',
            pid: () => bus.child.pid,
            load: routed,
          },
          {
            name: 'NATS JetStream, file store, sync_interval: always',
            pid: () => natsSync.child.pid,
            load: (prefix) => runNatsLoad({ ...common, url: natsSync.url, prefix }),
          },
          // Producers mostly send random ids (UUIDs), where the bench's own are in order: the dedup keys then land
          // all over the index, and each commit writes a page of it per event (docs/benchmarks.md).
          {
            name: 'NATS JetStream, file store, default, random UUID ids',
            pid: () => natsDefault.child.pid,
            load: (prefix) => runNatsLoad({ ...common, url: natsDefault.url, prefix, ids: 'uuid' }),
          },
          {
            name: 'Junction (fsync before the 202), random UUID ids',
            pid: () => bus.child.pid,
            load: (prefix) => routed(prefix, 'uuid'),
          },
          // Windows up to 10 minutes keep their keys in memory, not in the index (docs/delivery.md).
          {
            name: "Junction, a bus with JetStream's 2-minute dedup window",
            pid: () => bus.child.pid,
            load: (prefix) => routed(prefix, undefined, shortUrl),
          },
          {
            name: "Junction, a bus with JetStream's 2-minute dedup window, random UUID ids",
            pid: () => bus.child.pid,
            load: (prefix) => routed(prefix, 'uuid', shortUrl),
          },
        ];
        const samples = await interleave(contestants, settings);
        // Whether the short window's keys all fit in memory over the rounds (past 4M keys they go to the index).
        const scraped = await metrics();
        const spilled = metricSum(scraped, 'junction_sqlite_dedup_keys_spilled_total');
        return {
          title: `Durable ingest, batches of 100 events × 8 connections, against NATS JetStream (nats-server ${NATS_SERVER_VERSION}) — ${settings.rounds} interleaved rounds of ${settings.seconds} s`,
          columns: [
            'server',
            'events/s (median)',
            'spread',
            'events per server CPU-s',
            'spread',
            'ratio to JetStream default',
            'ratio per CPU-s',
            'failed',
          ],
          rows: rows(contestants, samples),
          notes: [
            `Goal (#20) Junction ≥ 1.0× JetStream's default: wall ${verdict(pairedRatio(samples, 1, 0, false), 1)}, per server CPU-second ${verdict(pairedRatio(samples, 1, 0, true), 1)}; against sync-always ${pairedRatio(samples, 1, 2, false).toFixed(2)}× (wall). With random UUID ids on both (not a goal of its own; what producers mostly send): wall ${pairedRatio(samples, 4, 3, false).toFixed(2)}×, per server CPU-second ${pairedRatio(samples, 4, 3, true).toFixed(2)}×.`,
            `With JetStream's dedup window (2 minutes) on a bus of its own: ids in order ${pairedRatio(samples, 5, 0, false).toFixed(2)}× (wall), ${pairedRatio(samples, 5, 0, true).toFixed(2)}× per server CPU-second; random UUID ids ${pairedRatio(samples, 6, 3, false).toFixed(2)}× / ${pairedRatio(samples, 6, 3, true).toFixed(2)}× against JetStream with the same ids. The 24-hour default keeps its keys in the index; windows up to 10 minutes keep them in memory (docs/delivery.md), at most 4M keys: ${spilled} keys went to the index past the bound over the rounds.`,
            `Routing, over Junction's rounds (warm-up included): the router was ${spread(routing.map((r) => r.lag))} events behind when the load ended and routed the rest within ${spread(routing.map((r) => r.catchUpMs))} ms (counted in the round's CPU); ingest → route ${spread(routing.map((r) => r.meanMs))} ms on average.`,
            'Junction: POST /events with a CloudEvents batch, answered 200 once the events are committed and the WAL fsync has returned; dedup of (source, id) on; no rules. JetStream: one stream (subjects bench.>, file storage), the same CloudEvent JSON per message with its id as msgID (dedup), a batch = 100 publishes in flight, the next batch once all are acknowledged; one connection per load worker.',
          ],
        };
      });
    } finally {
      await natsSync.stop();
    }
  } finally {
    await natsDefault.stop();
    dir.remove();
  }
}

const TABLES = {
  single: singleTable,
  putevents: putEventsTable,
  durable: durableTable,
} as const;

export async function benchIngest(options: {
  quick: boolean;
  only?: readonly (keyof typeof TABLES)[];
}): Promise<BenchTable[]> {
  const settings: Settings = options.quick ? { rounds: 3, seconds: 2 } : { rounds: 5, seconds: 5 };
  const out: BenchTable[] = [];
  for (const [name, table] of Object.entries(TABLES)) {
    if (options.only === undefined || options.only.includes(name as keyof typeof TABLES))
      out.push(await table(settings));
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = (Object.keys(TABLES) as (keyof typeof TABLES)[]).filter((name) =>
    process.argv.includes(`--${name}`),
  );
  for (const table of await benchIngest({
    quick: process.argv.includes('--quick'),
    ...(only.length === 0 ? {} : { only }),
  }))
    printTable(table);
}
