/** Benchmark of the SQLite event log: append throughput and latency, one at a time vs. group commit vs. batches. */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { makeEvent } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';
import { type BenchTable, printTable } from './table.ts';

const DEDUP = { dedupWindowMs: 300_000 };

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs `total` appends of `batch` events each with `concurrency` callers in flight; answers a table row. */
async function scenario(
  name: string,
  total: number,
  batch: number,
  concurrency: number,
): Promise<(string | number)[]> {
  const dir = tempDir('junction-bench-sqlite-');
  const stores = openSqliteStores({ dataDir: dir.path });
  try {
    const payload = {
      order: 'o-1',
      total: 123.45,
      lines: [
        { sku: 'a', qty: 2 },
        { sku: 'b', qty: 1 },
      ],
    };
    const latencies: number[] = [];
    let next = 0;
    const before = stores.database.stats;
    const started = performance.now();
    const caller = async () => {
      while (next < total) {
        next += 1;
        const events = Array.from({ length: batch }, (_, i) =>
          makeEvent({ source: `urn:bench:${(next + i) % 16}`, data: payload }),
        );
        const t0 = performance.now();
        await stores.log.append(events, DEDUP);
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, caller));
    const seconds = (performance.now() - started) / 1000;
    const sorted = latencies.sort((a, b) => a - b);
    const commits = stores.database.stats.commits - before.commits;
    const syncs = stores.database.stats.syncs - before.syncs;
    return [
      name,
      total * batch,
      Math.round((total * batch) / seconds),
      percentile(sorted, 50),
      percentile(sorted, 99),
      commits,
      syncs,
    ];
  } finally {
    await stores.close();
    dir.remove();
  }
}

export async function benchSqlite(options: { quick: boolean }): Promise<BenchTable> {
  const scale = options.quick ? 0.25 : 1;
  const n = (count: number) => Math.max(10, Math.round(count * scale));
  const rows = [
    await scenario('1 event per append, 1 caller', n(300), 1, 1),
    await scenario('1 event per append, 64 callers', n(8000), 1, 64),
    await scenario('100 events per append, 1 caller', n(60), 100, 1),
    await scenario('100 events per append, 8 callers', n(200), 100, 8),
  ];
  return {
    title:
      'SQLite event log: durable appends (WAL, group commit, fdatasync off the loop, dedup on, 4 partitions)',
    columns: ['scenario', 'events', 'events/s', 'p50 ms', 'p99 ms', 'commits', 'fsyncs'],
    rows,
    notes: [
      'latency = one append call until durable; commits = group-commit transactions; fsyncs = WAL fdatasyncs (one covers every commit made while the previous one ran)',
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printTable(await benchSqlite({ quick: process.argv.includes('--quick') }));
}
