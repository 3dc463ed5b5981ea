/**
 * A bus's SQLite storage in its metrics (docs/operations.md#storage-metrics): how long the WAL's fsyncs take — what
 * every durable write's answer waits for, and the first thing to look at when ingest or routing slows down with the
 * CPU idle — the group commits and the writes they carry, the WAL's and the database file's sizes, and how often
 * writes waited for a checkpoint (past 32 MiB of WAL, or for a catch-up).
 */
import { statSync } from 'node:fs';
import type { SqliteDatabase } from '../adapters/sqlite/database.ts';
import type { Metrics } from '../engine/metrics.ts';

/** The dedup keys an event log keeps in memory (`SqliteEventLog.dedupMemory`). */
export interface DedupMemory {
  readonly dedupMemory: { readonly keys: number; readonly spilled: number };
}

/**
 * Observes `database` (and the dedup keys in memory of `log`, the bus's log on it) into `metrics` (the bus's
 * registry) from now on; answers how to stop.
 */
export function observeSqliteStorage(
  database: SqliteDatabase,
  metrics: Metrics,
  log?: DedupMemory,
): () => void {
  metrics.declare(
    'junction_sqlite_fsync_seconds',
    'histogram',
    "How long each fsync of the bus's SQLite WAL took, in seconds (a durable write's answer waits for one).",
  );
  metrics.declare(
    'junction_sqlite_commits_total',
    'counter',
    "Group-commit transactions of the bus's SQLite database.",
  );
  metrics.declare(
    'junction_sqlite_writes_total',
    'counter',
    "Writes the bus's SQLite group commits carried (appends, ledger and trace writes, …).",
  );
  metrics.declare(
    'junction_sqlite_checkpoint_waits_total',
    'counter',
    "Times the bus's queued writes waited for a checkpoint because its WAL had passed 32 MiB.",
  );
  metrics.declare(
    'junction_sqlite_checkpoint_catchups_total',
    'counter',
    "Second checkpoints of the bus's SQLite WAL, run at once after one that left frames committed meanwhile in a WAL past 16 MiB, the bus's writes waiting for it, so that the WAL starts over.",
  );
  metrics.declare('junction_sqlite_wal_bytes', 'gauge', "The size of the bus's SQLite WAL file, in bytes.");
  metrics.declare(
    'junction_sqlite_database_bytes',
    'gauge',
    "The size of the bus's SQLite database file (its log within retention, ledger, traces, dead letters; pages not yet checkpointed are in the WAL), in bytes.",
  );
  metrics.declare(
    'junction_sqlite_dedup_keys_in_memory',
    'gauge',
    "Dedup keys of the bus's short windows (up to 10 minutes) held in memory instead of the dedup index.",
  );
  metrics.declare(
    'junction_sqlite_dedup_keys_spilled_total',
    'counter',
    "Dedup keys of the bus's short windows written to the dedup index because memory held its bound (--dedup-memory-keys, 4 million by default).",
  );
  let spilled = 0;
  const stop = database.observeFsyncs((seconds) => metrics.observe('junction_sqlite_fsync_seconds', seconds));
  let last = { commits: 0, writes: 0, held: 0, catchUps: 0 };
  metrics.collect(async () => {
    if (database.closed) return;
    const now = database.stats;
    metrics.inc('junction_sqlite_commits_total', undefined, now.commits - last.commits);
    metrics.inc('junction_sqlite_writes_total', undefined, now.writes - last.writes);
    metrics.inc('junction_sqlite_checkpoint_waits_total', undefined, now.held - last.held);
    metrics.inc('junction_sqlite_checkpoint_catchups_total', undefined, now.catchUps - last.catchUps);
    metrics.set('junction_sqlite_wal_bytes', now.walBytes);
    if (log !== undefined) {
      const memory = log.dedupMemory;
      metrics.set('junction_sqlite_dedup_keys_in_memory', memory.keys);
      metrics.inc('junction_sqlite_dedup_keys_spilled_total', undefined, memory.spilled - spilled);
      spilled = memory.spilled;
    }
    try {
      metrics.set('junction_sqlite_database_bytes', statSync(database.path).size);
    } catch {
      // Gone (the bus is being deleted): the gauge keeps its last value until the bus's metrics go.
    }
    last = now;
  });
  return stop;
}
