/** The SQLite adapters: every storage port on one database file (`<dataDir>/junction.db`). */
import type { Clock, DeadLetters, EventLog, Ledger, RuleStore, TraceStore } from '../../ports.ts';
import { systemClock } from '../../ports.ts';
import { type Fdatasync, SqliteDatabase } from './database.ts';
import { SqliteDeadLetters } from './dead-letters.ts';
import { SqliteEventLog } from './event-log.ts';
import { SqliteLedger } from './ledger.ts';
import { SqliteRuleStore } from './rule-store.ts';
import { SqliteTraceStore } from './trace-store.ts';

export { SqliteAggregateStore } from './aggregate-store.ts';
export { SqliteCorrelationStore } from './correlation-store.ts';
export { SqliteCredentialStore, type SqliteCredentialStoreOptions } from './credential-store.ts';
export { DATABASE_FILE, SqliteDatabase, type SqliteDatabaseOptions } from './database.ts';
export { SqliteDeadLetters } from './dead-letters.ts';
export { SqliteEventLog, type SqliteEventLogOptions } from './event-log.ts';
export { SqliteLedger, type SqliteLedgerOptions } from './ledger.ts';
export { murmur2, partitionFor } from './partitioner.ts';
export { SqliteRuleStore, type SqliteRuleStoreOptions } from './rule-store.ts';
export { SqliteTraceStore } from './trace-store.ts';

export interface SqliteStoresOptions {
  /** The folder that holds `junction.db`; created when missing. */
  readonly dataDir: string;
  /** Partitions of the event log (fixed when the file is created). @default 4 */
  readonly partitions?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Log records older than this are pruned periodically (never past a group's commit). @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** Told about handler failures and background errors; nothing is logged to the console. */
  readonly onError?: (error: unknown) => void;
  /** Dedup keys of short windows the log holds in memory, at most (`SqliteEventLogOptions.dedupMemoryKeys`). @default 4000000 */
  readonly dedupMemoryKeys?: number;
  /** @internal How the WAL's fsync runs (see `SqliteDatabaseOptions.fdatasync`): tests hold it. */
  readonly fdatasync?: Fdatasync;
}

export interface SqliteStores {
  readonly log: EventLog & {
    pruneBefore(timestamp: number): Promise<number>;
    /** The dedup keys of short windows held in memory, and those that went to the table past the bound. */
    readonly dedupMemory: { readonly keys: number; readonly spilled: number };
  };
  readonly rules: RuleStore;
  readonly ledger: Ledger;
  readonly deadLetters: DeadLetters & { prune(before: number): Promise<number> };
  readonly traces: TraceStore;
  /** The shared database (for adapters that add tables of their own). */
  readonly database: SqliteDatabase;
  /** Stops subscriptions and watchers, commits queued writes and closes the file. Idempotent. */
  close(): Promise<void>;
}

/** Opens (creating when needed) every SQLite store on `<dataDir>/junction.db`, sharing one connection. */
export function openSqliteStores(options: SqliteStoresOptions): SqliteStores {
  const database = new SqliteDatabase({
    dataDir: options.dataDir,
    ...(options.fdatasync === undefined ? {} : { fdatasync: options.fdatasync }),
  });
  try {
    const clock = options.clock ?? systemClock;
    const log = new SqliteEventLog(database, {
      clock,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.dedupMemoryKeys === undefined ? {} : { dedupMemoryKeys: options.dedupMemoryKeys }),
    });
    const rules = new SqliteRuleStore(
      database,
      options.onError === undefined ? {} : { onError: options.onError },
    );
    const ledger = new SqliteLedger(database, { clock });
    const deadLetters = new SqliteDeadLetters(database);
    const traces = new SqliteTraceStore(database);
    let closing: Promise<void> | undefined;
    return {
      log,
      rules,
      ledger,
      deadLetters,
      traces,
      database,
      close: () => {
        closing ??= (async () => {
          rules.close();
          await log.close();
          database.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    database.close();
    throw error;
  }
}
