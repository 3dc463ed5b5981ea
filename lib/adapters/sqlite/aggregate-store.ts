/**
 * AggregateStore on SQLite: aggregation windows and each partition's fence in the bus's database. A commit is one
 * transaction (the fence checked and moved with the state it describes).
 */
import { JunctionError } from '../../core/errors.ts';
import type { AggregateCommit, AggregatePartition, AggregateStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS aggregate_fences (
  partition INTEGER PRIMARY KEY,
  fence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aggregate_rules (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule)
);
CREATE TABLE IF NOT EXISTS aggregate_windows (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  key BLOB NOT NULL,
  start INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule, key, start)
) WITHOUT ROWID;
`;

// Keys are stored as UTF-8 bytes: a key may hold U+0000, which SQLite's text binding would cut.
const keyBytes = (key: string): Uint8Array => Buffer.from(key, 'utf8');
const keyText = (value: unknown): string => Buffer.from(value as Uint8Array).toString('utf8');

export class SqliteAggregateStore implements AggregateStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async load(partition: number): Promise<AggregatePartition> {
    const fence = this.#db.get('SELECT fence FROM aggregate_fences WHERE partition = ?', partition);
    return {
      fence: fence === undefined ? 0 : Number(fence.fence),
      rules: this.#db
        .all('SELECT rule, version, state FROM aggregate_rules WHERE partition = ?', partition)
        .map((r) => ({ rule: String(r.rule), version: Number(r.version), state: String(r.state) })),
      windows: this.#db
        .all('SELECT rule, key, start, state FROM aggregate_windows WHERE partition = ?', partition)
        .map((r) => ({
          rule: String(r.rule),
          key: keyText(r.key),
          start: Number(r.start),
          state: String(r.state),
        })),
    };
  }

  commit(change: AggregateCommit): Promise<void> {
    const { partition } = change;
    return this.#db.write(
      () => {
        const row = this.#db.get('SELECT fence FROM aggregate_fences WHERE partition = ?', partition);
        const stored = row === undefined ? 0 : Number(row.fence);
        if (stored !== change.expectedFence) {
          throw new JunctionError(
            'Conflict',
            `the aggregation state of partition ${partition} is at offset ${stored}, not ${change.expectedFence}: another writer moved it`,
            { field: 'expectedFence' },
          );
        }
        for (const rule of change.dropRules) {
          this.#db.run('DELETE FROM aggregate_windows WHERE partition = ? AND rule = ?', partition, rule);
          this.#db.run('DELETE FROM aggregate_rules WHERE partition = ? AND rule = ?', partition, rule);
        }
        for (const r of change.rules) {
          this.#db.run(
            `INSERT INTO aggregate_rules (partition, rule, version, state) VALUES (?, ?, ?, ?)
             ON CONFLICT (partition, rule) DO UPDATE SET version = excluded.version, state = excluded.state`,
            partition,
            r.rule,
            r.version,
            r.state,
          );
        }
        for (const w of change.windows) {
          if (w.state === null) {
            this.#db.run(
              'DELETE FROM aggregate_windows WHERE partition = ? AND rule = ? AND key = ? AND start = ?',
              partition,
              w.rule,
              keyBytes(w.key),
              w.start,
            );
          } else {
            this.#db.run(
              `INSERT INTO aggregate_windows (partition, rule, key, start, state) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (partition, rule, key, start) DO UPDATE SET state = excluded.state`,
              partition,
              w.rule,
              keyBytes(w.key),
              w.start,
              w.state,
            );
          }
        }
        this.#db.run(
          `INSERT INTO aggregate_fences (partition, fence) VALUES (?, ?)
           ON CONFLICT (partition) DO UPDATE SET fence = excluded.fence`,
          partition,
          change.fence,
        );
      },
      // Not waiting for the fsync, as the log's own commit does not: the router's position follows in the same WAL,
      // so a power cut that takes this back takes the position back too and the records are applied again.
      { durable: false, atomic: true },
    );
  }
}
