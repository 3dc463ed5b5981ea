/**
 * CorrelationStore on SQLite: pending A's of correlation rules and each partition's fence in the bus's database. A
 * commit is one transaction (the fence checked and moved with the state it describes).
 */
import { JunctionError } from '../../core/errors.ts';
import type { CorrelationCommit, CorrelationPartition, CorrelationStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS correlate_fences (
  partition INTEGER PRIMARY KEY,
  fence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS correlate_rules (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule)
);
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

// Keys are stored as UTF-8 bytes: a key may hold U+0000, which SQLite's text binding would cut.
const keyBytes = (key: string): Uint8Array => Buffer.from(key, 'utf8');
const keyText = (value: unknown): string => Buffer.from(value as Uint8Array).toString('utf8');

export class SqliteCorrelationStore implements CorrelationStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async load(partition: number): Promise<CorrelationPartition> {
    const fence = this.#db.get('SELECT fence FROM correlate_fences WHERE partition = ?', partition);
    return {
      fence: fence === undefined ? 0 : Number(fence.fence),
      rules: this.#db
        .all('SELECT rule, version, state FROM correlate_rules WHERE partition = ?', partition)
        .map((r) => ({ rule: String(r.rule), version: Number(r.version), state: String(r.state) })),
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
    return this.#db.write(
      () => {
        const row = this.#db.get('SELECT fence FROM correlate_fences WHERE partition = ?', partition);
        const stored = row === undefined ? 0 : Number(row.fence);
        if (stored !== change.expectedFence) {
          throw new JunctionError(
            'Conflict',
            `the correlation state of partition ${partition} is at offset ${stored}, not ${change.expectedFence}: another writer moved it`,
            { field: 'expectedFence' },
          );
        }
        for (const rule of change.dropRules) {
          this.#db.run('DELETE FROM correlate_pending WHERE partition = ? AND rule = ?', partition, rule);
          this.#db.run('DELETE FROM correlate_rules WHERE partition = ? AND rule = ?', partition, rule);
        }
        for (const r of change.rules) {
          this.#db.run(
            `INSERT INTO correlate_rules (partition, rule, version, state) VALUES (?, ?, ?, ?)
             ON CONFLICT (partition, rule) DO UPDATE SET version = excluded.version, state = excluded.state`,
            partition,
            r.rule,
            r.version,
            r.state,
          );
        }
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
        this.#db.run(
          `INSERT INTO correlate_fences (partition, fence) VALUES (?, ?)
           ON CONFLICT (partition) DO UPDATE SET fence = excluded.fence`,
          partition,
          change.fence,
        );
      },
      // Not waiting for the fsync, as the aggregation store does not (docs/aggregation.md#guarantees): the router's
      // position follows in the same WAL, so a power cut that takes this back takes the position back too.
      { durable: false, atomic: true },
    );
  }
}
