/**
 * What the aggregation and correlation stores share: per partition a fence (the log offset the state has applied up
 * to, `<prefix>_fences`) and per rule a state row (`<prefix>_rules`), changed in one transaction with the rule's own
 * rows (`items`: windows, pending events) and only when the fence is where the writer expects it (a second writer of
 * the partition is refused with `Conflict`).
 */
import { JunctionError } from '../../core/errors.ts';
import type { SqliteDatabase } from './database.ts';

export interface FencedTables {
  /** `aggregate` or `correlate`: the tables are `<prefix>_fences` and `<prefix>_rules`. */
  readonly prefix: string;
  /** The table of the rules' own rows, keyed by (partition, rule, …). */
  readonly items: string;
  /** What the state is, for the Conflict message ("aggregation"). */
  readonly what: string;
}

export interface FencedRuleRow {
  readonly rule: string;
  readonly version: number;
  readonly state: string;
}

/** The schema of the fence and rule tables for `prefix` (the items table is the store's own). */
export function fencedSchema(prefix: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${prefix}_fences (
  partition INTEGER PRIMARY KEY,
  fence INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ${prefix}_rules (
  partition INTEGER NOT NULL,
  rule TEXT NOT NULL,
  version INTEGER NOT NULL,
  state TEXT NOT NULL,
  PRIMARY KEY (partition, rule)
);
`;
}

/** A partition's fence (0 when it has none) and its rules' state rows. */
export function loadFenced(
  db: SqliteDatabase,
  t: FencedTables,
  partition: number,
): { fence: number; rules: FencedRuleRow[] } {
  const fence = db.get(`SELECT fence FROM ${t.prefix}_fences WHERE partition = ?`, partition);
  return {
    fence: fence === undefined ? 0 : Number(fence.fence),
    rules: db
      .all(`SELECT rule, version, state FROM ${t.prefix}_rules WHERE partition = ?`, partition)
      .map((r) => ({ rule: String(r.rule), version: Number(r.version), state: String(r.state) })),
  };
}

/**
 * One commit of a partition's state: checks the fence, drops the `dropRules` (their rows and their items), upserts
 * the `rules`, runs `items` (the store's own rows), and moves the fence — in one transaction.
 */
export function commitFenced(
  db: SqliteDatabase,
  t: FencedTables,
  change: {
    readonly partition: number;
    readonly expectedFence: number;
    readonly fence: number;
    readonly dropRules: readonly string[];
    readonly rules: readonly FencedRuleRow[];
  },
  items: () => void,
): Promise<void> {
  const { partition } = change;
  return db.write(
    () => {
      const row = db.get(`SELECT fence FROM ${t.prefix}_fences WHERE partition = ?`, partition);
      const stored = row === undefined ? 0 : Number(row.fence);
      if (stored !== change.expectedFence) {
        throw new JunctionError(
          'Conflict',
          `the ${t.what} state of partition ${partition} is at offset ${stored}, not ${change.expectedFence}: another writer moved it`,
          { field: 'expectedFence' },
        );
      }
      for (const rule of change.dropRules) {
        db.run(`DELETE FROM ${t.items} WHERE partition = ? AND rule = ?`, partition, rule);
        db.run(`DELETE FROM ${t.prefix}_rules WHERE partition = ? AND rule = ?`, partition, rule);
      }
      for (const r of change.rules) {
        db.run(
          `INSERT INTO ${t.prefix}_rules (partition, rule, version, state) VALUES (?, ?, ?, ?)
           ON CONFLICT (partition, rule) DO UPDATE SET version = excluded.version, state = excluded.state`,
          partition,
          r.rule,
          r.version,
          r.state,
        );
      }
      items();
      db.run(
        `INSERT INTO ${t.prefix}_fences (partition, fence) VALUES (?, ?)
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

// Keys are stored as UTF-8 bytes: a key may hold U+0000, which SQLite's text binding would cut.
export const keyBytes = (key: string): Uint8Array => Buffer.from(key, 'utf8');
export const keyText = (value: unknown): string => Buffer.from(value as Uint8Array).toString('utf8');
