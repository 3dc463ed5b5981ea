/**
 * CorrelationStore on SQLite: pending A's of correlation rules and each partition's fence in the bus's database. A
 * commit is one transaction (the fence checked and moved with the state it describes).
 */
import type { CorrelationCommit, CorrelationPartition, CorrelationStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';
import {
  commitFenced,
  type FencedTables,
  fencedSchema,
  keyBytes,
  keyText,
  loadFenced,
} from './fenced-state.ts';

const TABLES: FencedTables = { prefix: 'correlate', items: 'correlate_pending', what: 'correlation' };

const SCHEMA = `${fencedSchema(TABLES.prefix)}
CREATE TABLE IF NOT EXISTS correlate_pending (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  offset INTEGER NOT NULL,
  key BLOB NOT NULL,
  deadline INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule, offset)
) WITHOUT ROWID;
`;

export class SqliteCorrelationStore implements CorrelationStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async load(partition: number): Promise<CorrelationPartition> {
    return {
      ...loadFenced(this.#db, TABLES, partition),
      pending: this.#db
        .all(
          'SELECT rule, offset, key, deadline, state FROM correlate_pending WHERE partition = ? ORDER BY rule, offset',
          partition,
        )
        .map((r) => ({
          rule: String(r.rule),
          offset: Number(r.offset),
          key: keyText(r.key),
          deadline: Number(r.deadline),
          state: String(r.state),
        })),
    };
  }

  commit(change: CorrelationCommit): Promise<void> {
    const { partition } = change;
    return commitFenced(this.#db, TABLES, change, () => {
      for (const p of change.remove) {
        this.#db.run(
          'DELETE FROM correlate_pending WHERE partition = ? AND rule = ? AND offset = ?',
          partition,
          p.rule,
          p.offset,
        );
      }
      for (const p of change.put) {
        this.#db.run(
          `INSERT INTO correlate_pending (partition, rule, offset, key, deadline, state) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (partition, rule, offset) DO UPDATE SET key = excluded.key, deadline = excluded.deadline,
               state = excluded.state`,
          partition,
          p.rule,
          p.offset,
          keyBytes(p.key),
          p.deadline,
          p.state,
        );
      }
    });
  }
}
