/**
 * TraceStore on SQLite: every event's journey as rows keyed by (source, id), detail as JSON. The entries one
 * `record` call makes for one event at one time (the router's `received` and `unmatched`, or `received` and each
 * `matched`) share a row: the first in its columns, the others in `more` (a JSON array) — one row per routed event
 * instead of two or more, each row three b-tree inserts.
 */
import type { SQLInputValue } from 'node:sqlite';
import { JunctionError } from '../../core/errors.ts';
import type { TraceEntry, TraceKind, TraceStore } from '../../ports.ts';
import {
  deepFreeze,
  parseFrozen,
  type Row,
  requireInteger,
  requireNumber,
  type SqliteDatabase,
} from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS traces (
  seq INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
  kind TEXT NOT NULL, rule TEXT, target TEXT, detail TEXT, more TEXT);
CREATE INDEX IF NOT EXISTS traces_key ON traces (id, source, at);
CREATE INDEX IF NOT EXISTS traces_at ON traces (at);
DROP INDEX IF EXISTS traces_event;
DROP INDEX IF EXISTS traces_id;
`;

const INSERT = 'INSERT INTO traces (source, id, at, kind, rule, target, detail, more)';

/** An entry after the first of its row, as `more` holds it. */
interface MoreEntry {
  readonly kind: TraceKind;
  readonly rule?: string;
  readonly target?: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * The SQLite TraceStore. `record` goes through the database's group commit: the rows of every `record` call made
 * before a flush are inserted by one write, with multi-row INSERTs (the dispatcher records each delivery on its own;
 * one statement per row cost three times as much).
 */
export class SqliteTraceStore implements TraceStore {
  readonly #db: SqliteDatabase;
  /** Rows waiting for the next flush, and the write that will insert them (undefined when none is queued). */
  #rows: SQLInputValue[][] = [];
  #write: Promise<void> | undefined;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
    // A database made before entries shared rows gets the column (its rows have none: NULL).
    if (!db.all('PRAGMA table_info(traces)').some((column) => column.name === 'more')) {
      db.migrate('ALTER TABLE traces ADD COLUMN more TEXT');
    }
  }

  async record(entries: readonly TraceEntry[]): Promise<void> {
    if (!Array.isArray(entries)) {
      throw new JunctionError('InvalidRequest', `entries must be an array; got ${typeof entries}`, {
        field: 'entries',
      });
    }
    if (entries.length === 0) return;
    // Plain loops, and `more` written as text entry by entry (no spread objects to stringify again).
    const rows: SQLInputValue[][] = [];
    let row: SQLInputValue[] | undefined;
    let more = '';
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as TraceEntry;
      if (typeof e?.source !== 'string' || typeof e.id !== 'string' || typeof e.kind !== 'string') {
        throw new JunctionError('InvalidRequest', `entries[${i}] needs string source, id and kind`, {
          field: `entries[${i}]`,
        });
      }
      if (typeof e.at !== 'number' || !Number.isFinite(e.at)) {
        throw new JunctionError(
          'InvalidRequest',
          `entries[${i}].at must be a number; got ${JSON.stringify(e.at)}`,
          {
            field: `entries[${i}].at`,
          },
        );
      }
      if (row !== undefined && row[0] === e.source && row[1] === e.id && row[2] === e.at) {
        more += `${more === '' ? '[' : ','}${moreEntry(e)}`;
        continue;
      }
      if (row !== undefined) row[7] = more === '' ? null : `${more}]`;
      more = '';
      row = [
        e.source,
        e.id,
        e.at,
        e.kind,
        e.rule ?? null,
        e.target ?? null,
        e.detail === undefined ? null : JSON.stringify(e.detail),
        null,
      ];
      rows.push(row);
    }
    if (row !== undefined) row[7] = more === '' ? null : `${more}]`;
    for (let i = 0; i < rows.length; i++) this.#rows.push(rows[i] as SQLInputValue[]);
    // Traces are a record, not a promise: they answer at commit, and the next durable write makes them durable.
    let write = this.#write;
    if (write === undefined) {
      const queued = this.#db.write(
        () => {
          const rows = this.#rows;
          this.#rows = [];
          this.#write = undefined;
          this.#db.insertRows(INSERT, rows);
        },
        { durable: false, atomic: true },
      );
      // A flush that failed before inserting them fails their callers; the next record starts afresh.
      queued.catch(() => {
        if (this.#write !== queued) return;
        this.#write = undefined;
        this.#rows = [];
      });
      this.#write = queued;
      write = queued;
    }
    await write;
  }

  async get(source: string, id: string): Promise<TraceEntry[]> {
    return this.#db
      .all(
        'SELECT source, id, at, kind, rule, target, detail, more FROM traces WHERE source = ? AND id = ? ORDER BY at, seq',
        source,
        id,
      )
      .flatMap(toEntries);
  }

  async sourcesOf(id: string, limit: number): Promise<string[]> {
    requireInteger('limit', limit, 0);
    return this.#db
      .all('SELECT DISTINCT source FROM traces WHERE id = ? ORDER BY source LIMIT ?', id, limit)
      .map((row) => String(row.source));
  }

  /** Deletes the entries older than `before`; answers how many (entries, not rows). */
  async prune(before: number): Promise<number> {
    requireNumber('before', before);
    return this.#db.write(() => {
      const row = this.#db.get(
        'SELECT count(*) + coalesce(sum(json_array_length(more)), 0) AS n FROM traces WHERE at < ?',
        before,
      );
      this.#db.run('DELETE FROM traces WHERE at < ?', before);
      return Number(row?.n ?? 0);
    });
  }
}

/** An entry after the first of its row, as JSON text (`more` holds an array of them). */
function moreEntry(e: TraceEntry): string {
  let text = `{"kind":${JSON.stringify(e.kind)}`;
  if (e.rule !== undefined) text += `,"rule":${JSON.stringify(e.rule)}`;
  if (e.target !== undefined) text += `,"target":${JSON.stringify(e.target)}`;
  if (e.detail !== undefined) text += `,"detail":${JSON.stringify(e.detail)}`;
  return `${text}}`;
}

/** The entries of a row: its own, then those of `more`. */
function toEntries(row: Row): TraceEntry[] {
  const source = String(row.source);
  const id = String(row.id);
  const at = Number(row.at);
  const first: TraceEntry = {
    source,
    id,
    at,
    kind: String(row.kind) as TraceKind,
    ...(row.rule === null ? {} : { rule: String(row.rule) }),
    ...(row.target === null ? {} : { target: String(row.target) }),
    ...(row.detail === null ? {} : { detail: parseFrozen<Record<string, unknown>>(row.detail) }),
  };
  if (row.more === null || row.more === undefined) return [first];
  const more = JSON.parse(String(row.more)) as MoreEntry[];
  return [
    first,
    ...more.map((m) => ({
      source,
      id,
      at,
      kind: m.kind,
      ...(m.rule === undefined ? {} : { rule: m.rule }),
      ...(m.target === undefined ? {} : { target: m.target }),
      ...(m.detail === undefined ? {} : { detail: deepFreeze(m.detail) }),
    })),
  ];
}
