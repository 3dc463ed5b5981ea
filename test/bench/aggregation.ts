/**
 * Aggregation windows (issue #19): events/s through the aggregator with 10 and with 100,000 keys, in the same run,
 * interleaved. Each round opens a fresh SQLite database (the bus's stores), gives the aggregator one partition's
 * records in batches of 500 (the router's batch until 2026-12-05; it now takes up to 2,000 when behind) for a count/sum/max rule over 1 s tumbling windows, and publishes
 * what closes to the real log; every batch ends with the state commit. Rates are per wall second and per CPU second
 * of this process (`process.cpuUsage`), so that other load on the machine cancels out of the second. `--quick` for a
 * short run.
 */

import { SqliteAggregateStore } from '../../lib/adapters/sqlite/aggregate-store.ts';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { validateEvent } from '../../lib/core/cloudevent.ts';
import { validateRule } from '../../lib/core/rule.ts';
import { Aggregator } from '../../lib/engine/aggregator.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import type { LogRecord } from '../../lib/ports.ts';
import { tempDir } from '../helpers/paths.ts';
import type { BenchTable } from './table.ts';

const BATCH = 500;
const BASE = Date.parse('2026-12-04T00:00:00Z');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function spread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `${Math.round(sorted[0] ?? 0)}–${Math.round(sorted.at(-1) ?? 0)}`;
}

/** Event n: key n mod keys, 25 events per ms of event time (so a 1 s window holds 25,000 events). */
function records(events: number, keys: number): LogRecord[] {
  return Array.from({ length: events }, (_, n) => ({
    partition: 0,
    offset: n,
    key: `k${n % keys}`,
    timestamp: BASE,
    event: validateEvent({
      specversion: '1.0',
      id: `e-${n}`,
      source: '/bench',
      type: 'bench.sale',
      time: new Date(BASE + Math.floor(n / 25)).toISOString(),
      datacontenttype: 'application/json',
      data: { key: `k${n % keys}`, amount: n % 100 },
    }),
  }));
}

async function round(input: readonly LogRecord[]): Promise<{ wall: number; cpu: number; windows: number }> {
  const dir = tempDir('junction-bench-agg-');
  const stores = openSqliteStores({ dataDir: dir.path, partitions: 1 });
  try {
    let windows = 0;
    const aggregator = new Aggregator({
      store: new SqliteAggregateStore(stores.database),
      metrics: new Metrics(),
      publish: async (events) => {
        windows += events.length;
        await stores.log.append(events, { dedupWindowMs: 86_400_000 });
      },
    });
    aggregator.set(
      validateRule(
        'bench',
        {
          pattern: { type: ['bench.sale'] },
          aggregate: {
            groupBy: '$.data.key',
            window: { tumbling: '1s' },
            maxOpenWindows: 1_000_000,
            aggregates: { n: { count: {} }, total: { sum: '$.data.amount' }, high: { max: '$.data.amount' } },
          },
        },
        1,
      ),
    );
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < input.length; i += BATCH) await aggregator.process(input.slice(i, i + BATCH));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return { wall: input.length / seconds, cpu: input.length / cpuSeconds, windows };
  } finally {
    await stores.close();
    dir.remove();
  }
}

export async function benchAggregation({ quick = false } = {}): Promise<BenchTable> {
  const events = quick ? 100_000 : 300_000;
  const rounds = quick ? 2 : 3;
  const variants = [10, 100_000];
  const inputs = new Map(variants.map((keys) => [keys, records(events, keys)]));
  const results = new Map<number, { wall: number[]; cpu: number[]; windows: number }>(
    variants.map((k) => [k, { wall: [], cpu: [], windows: 0 }]),
  );
  for (let r = 0; r < rounds; r++) {
    for (const keys of variants) {
      const result = await round(inputs.get(keys) as LogRecord[]);
      const entry = results.get(keys) as { wall: number[]; cpu: number[]; windows: number };
      entry.wall.push(result.wall);
      entry.cpu.push(result.cpu);
      entry.windows = result.windows;
    }
  }
  return {
    title: 'Aggregation windows: events/s through the aggregator (count, sum, max; 1 s tumbling windows)',
    columns: [
      'keys',
      'events/s (median)',
      'spread',
      'events per CPU-second (median)',
      'spread',
      'windows closed',
    ],
    rows: variants.map((keys) => {
      const r = results.get(keys) as { wall: number[]; cpu: number[]; windows: number };
      return [
        keys.toLocaleString('en'),
        Math.round(median(r.wall)),
        spread(r.wall),
        Math.round(median(r.cpu)),
        spread(r.cpu),
        r.windows,
      ];
    }),
    notes: [
      `${events} events per round (25 per ms of event time), batches of ${BATCH}, ${rounds} rounds interleaved, a fresh SQLite database per round.`,
      'Per batch: match, fold, publish the closed windows to the log, commit the changed windows with the fence.',
      'With 100,000 keys each event opens a window of its own (a window holds 25,000 events): each batch writes 500 window rows.',
    ],
  };
}
