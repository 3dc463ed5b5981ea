/**
 * AggregateStore on SQLite: aggregation windows and each partition's fence in the bus's database. A commit is one
 * transaction (the fence checked and moved with the state it describes).
 */
import type { AggregateCommit, AggregatePartition, AggregateStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';
import {
  commitFenced,
  type FencedTables,
  fencedSchema,
  keyBytes,
  keyText,
  loadFenced,
} from './fenced-state.ts';

const TABLES: FencedTables = { prefix: 'aggregate', items: 'aggregate_windows', what: 'aggregation' };

const SCHEMA = `${fencedSchema(TABLES.prefix)}
CREATE TABLE IF NOT EXISTS aggregate_windows (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  key BLOB NOT NULL,
  start INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule, key, start)
) WITHOUT ROWID;
`;

export class SqliteAggregateStore implements AggregateStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async load(partition: number): Promise<AggregatePartition> {
    return {
      ...loadFenced(this.#db, TABLES, partition),
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
    return commitFenced(this.#db, TABLES, change, () => {
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
    });
  }
}
