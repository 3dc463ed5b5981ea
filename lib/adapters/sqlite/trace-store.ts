/**
 * TraceStore on SQLite: every event's journey as rows keyed by (source, id), detail as JSON. The entries one
 * `record` call makes for one event at one time (the router's `received` and `unmatched`, or `received` and each
 * `matched`) share a row: the first in its columns, the others in `more` (a JSON array) — one row per routed event
 * instead of two or more, each row three b-tree inserts.
 *
 * The router writes a row for every event it routes, so the commonest row is kept short: a detail that is exactly
 * a log position and acceptance time (`{partition, offset, acceptedAt}`, integers) goes in three integer columns
 * instead of JSON, and later entries that are one kind and nothing else (`unmatched`) are that kind's name instead
 * of a JSON array. The trace store alone: 2.7 against 3.3-3.4 us of CPU a routed event (received + unmatched).
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
  kind TEXT NOT NULL, rule TEXT, target TEXT, detail TEXT, more TEXT,
  partition INTEGER, offset INTEGER, accepted_at INTEGER);
CREATE INDEX IF NOT EXISTS traces_key ON traces (id, source, at);
CREATE INDEX IF NOT EXISTS traces_at ON traces (at);
DROP INDEX IF EXISTS traces_event;
DROP INDEX IF EXISTS traces_id;
`;

/** A row's columns, in the order `record` fills them and `get` reads them. */
const COLUMNS = 'source, id, at, kind, rule, target, detail, more, partition, offset, accepted_at';
const INSERT = `INSERT INTO traces (${COLUMNS})`;

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
    // A database made before entries shared rows, or before positions had columns, gets the columns (its rows have
    // none: NULL).
    const columns = new Set(db.all('PRAGMA table_info(traces)').map((column) => String(column.name)));
    for (const [name, type] of [
      ['more', 'TEXT'],
      ['partition', 'INTEGER'],
      ['offset', 'INTEGER'],
      ['accepted_at', 'INTEGER'],
    ] as const) {
      if (!columns.has(name)) db.migrate(`ALTER TABLE traces ADD COLUMN ${name} ${type}`);
    }
  }

  async record(entries: readonly TraceEntry[]): Promise<void> {
    if (!Array.isArray(entries)) {
      throw new JunctionError('InvalidRequest', `entries must be an array; got ${typeof entries}`, {
        field: 'entries',
      });
    }
    if (entries.length === 0) return;
    const rows: SQLInputValue[][] = [];
    let row: SQLInputValue[] | undefined;
    let more: TraceEntry[] = [];
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
        more.push(e);
        continue;
      }
      if (row !== undefined) row[7] = moreText(more);
      more = [];
      row = [e.source, e.id, e.at, e.kind, e.rule ?? null, e.target ?? null, null, null, null, null, null];
      const detail = e.detail;
      if (detail !== undefined) {
        if (isPosition(detail)) {
          row[8] = detail.partition;
          row[9] = detail.offset;
          row[10] = detail.acceptedAt;
        } else row[6] = JSON.stringify(detail);
      }
      rows.push(row);
    }
    if (row !== undefined) row[7] = moreText(more);
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
      .all(`SELECT ${COLUMNS} FROM traces WHERE source = ? AND id = ? ORDER BY at, seq`, source, id)
      .flatMap(toEntries);
  }

  async sourcesOf(id: string, limit: number): Promise<string[]> {
    requireInteger('limit', limit, 0);
    return this.#db
      .all('SELECT DISTINCT source FROM traces WHERE id = ? ORDER BY source LIMIT ?', id, limit)
      .map((row) => String(row.source));
  }

  /** Deletes the entries older than `before`, the oldest first, in bounded writes; answers how many (entries, not rows). */
  async prune(before: number): Promise<number> {
    requireNumber('before', before);
    return this.#db.pruneInWrites(
      (limit) => {
        // The time of the batch's last row; rows of that same time go with it (one millisecond's rows at most more).
        // One bound on `at` (SQLite's range takes one upper bound; a second is a filter over the whole range).
        const last = this.#db.get(
          'SELECT at FROM traces WHERE at < ? ORDER BY at LIMIT 1 OFFSET ?',
          before,
          limit - 1,
        );
        const bound = last === undefined ? '<' : '<=';
        const at = last === undefined ? before : Number(last.at);
        const row = this.#db.get(
          `SELECT count(*) + coalesce(sum(CASE WHEN more IS NULL THEN 0 WHEN more LIKE '[%' THEN json_array_length(more) ELSE 1 END), 0) AS n
           FROM traces WHERE at ${bound} ?`,
          at,
        );
        const rows = this.#db.run(`DELETE FROM traces WHERE at ${bound} ?`, at);
        return { rows, counted: Number(row?.n ?? 0) };
      },
      // Expired traces gone: nothing to fsync for (the next durable write makes it durable); it refuses nothing.
      { durable: false, atomic: true },
    );
  }
}

/**
 * A row's later entries as `more` holds them: null for none; the kind's name for one entry with nothing but its kind
 * (the router's `unmatched`); else a JSON array of `MoreEntry`.
 */
function moreText(more: readonly TraceEntry[]): string | null {
  if (more.length === 0) return null;
  const [first] = more as [TraceEntry];
  if (
    more.length === 1 &&
    first.rule === undefined &&
    first.target === undefined &&
    first.detail === undefined &&
    !first.kind.startsWith('[')
  ) {
    return first.kind;
  }
  let text = '[';
  for (const e of more) {
    if (text.length > 1) text += ',';
    text += `{"kind":${JSON.stringify(e.kind)}`;
    if (e.rule !== undefined) text += `,"rule":${JSON.stringify(e.rule)}`;
    if (e.target !== undefined) text += `,"target":${JSON.stringify(e.target)}`;
    if (e.detail !== undefined) text += `,"detail":${JSON.stringify(e.detail)}`;
    text += '}';
  }
  return `${text}]`;
}

/** Whether a detail is exactly a log position and acceptance time, integers (kept in the row's columns). */
function isPosition(
  detail: Readonly<Record<string, unknown>>,
): detail is { partition: number; offset: number; acceptedAt: number } {
  let keys = 0;
  for (const _ in detail) keys++;
  return (
    keys === 3 &&
    Number.isSafeInteger(detail.partition) &&
    Number.isSafeInteger(detail.offset) &&
    Number.isSafeInteger(detail.acceptedAt)
  );
}

/** The entries of a row: its own, then those of `more`. */
function toEntries(row: Row): TraceEntry[] {
  const source = String(row.source);
  const id = String(row.id);
  const at = Number(row.at);
  let detail: Readonly<Record<string, unknown>> | undefined;
  if (row.detail !== null) detail = parseFrozen<Record<string, unknown>>(row.detail);
  else if (row.partition !== null && row.partition !== undefined) {
    detail = Object.freeze({
      partition: Number(row.partition),
      offset: Number(row.offset),
      acceptedAt: Number(row.accepted_at),
    });
  }
  const first: TraceEntry = {
    source,
    id,
    at,
    kind: String(row.kind) as TraceKind,
    ...(row.rule === null ? {} : { rule: String(row.rule) }),
    ...(row.target === null ? {} : { target: String(row.target) }),
    ...(detail === undefined ? {} : { detail }),
  };
  if (row.more === null || row.more === undefined) return [first];
  const text = String(row.more);
  if (!text.startsWith('[')) return [first, { source, id, at, kind: text as TraceKind }];
  const more = JSON.parse(text) as MoreEntry[];
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
