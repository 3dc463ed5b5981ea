/** TraceStore on SQLite: every event's journey as rows keyed by (source, id), detail as JSON. */
import { JunctionError } from '../../core/errors.ts';
import type { TraceEntry, TraceKind, TraceStore } from '../../ports.ts';
import { parseFrozen, type Row, requireInteger, requireNumber, type SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS traces (
  seq INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
  kind TEXT NOT NULL, rule TEXT, target TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS traces_key ON traces (id, source, at);
CREATE INDEX IF NOT EXISTS traces_at ON traces (at);
DROP INDEX IF EXISTS traces_event;
DROP INDEX IF EXISTS traces_id;
`;

const INSERT = 'INSERT INTO traces (source, id, at, kind, rule, target, detail)';

/** The SQLite TraceStore. `record` goes through the database's group commit (one write per tick). */
export class SqliteTraceStore implements TraceStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async record(entries: readonly TraceEntry[]): Promise<void> {
    if (!Array.isArray(entries)) {
      throw new JunctionError('InvalidRequest', `entries must be an array; got ${typeof entries}`, {
        field: 'entries',
      });
    }
    if (entries.length === 0) return;
    const rows = entries.map((e, i) => {
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
      return [
        e.source,
        e.id,
        e.at,
        e.kind,
        e.rule ?? null,
        e.target ?? null,
        e.detail === undefined ? null : JSON.stringify(e.detail),
      ];
    });
    // Traces are a record, not a promise: they answer at commit, and the next durable write makes them durable.
    await this.#db.write(() => this.#db.insertRows(INSERT, rows), { durable: false, atomic: true });
  }

  async get(source: string, id: string): Promise<TraceEntry[]> {
    return this.#db
      .all(
        'SELECT source, id, at, kind, rule, target, detail FROM traces WHERE source = ? AND id = ? ORDER BY at, seq',
        source,
        id,
      )
      .map(toEntry);
  }

  async sourcesOf(id: string, limit: number): Promise<string[]> {
    requireInteger('limit', limit, 0);
    return this.#db
      .all('SELECT DISTINCT source FROM traces WHERE id = ? ORDER BY source LIMIT ?', id, limit)
      .map((row) => String(row.source));
  }

  async prune(before: number): Promise<number> {
    requireNumber('before', before);
    return this.#db.write(() => this.#db.run('DELETE FROM traces WHERE at < ?', before));
  }
}

function toEntry(row: Row): TraceEntry {
  return {
    source: String(row.source),
    id: String(row.id),
    at: Number(row.at),
    kind: String(row.kind) as TraceKind,
    ...(row.rule === null ? {} : { rule: String(row.rule) }),
    ...(row.target === null ? {} : { target: String(row.target) }),
    ...(row.detail === null ? {} : { detail: parseFrozen<Record<string, unknown>>(row.detail) }),
  };
}
