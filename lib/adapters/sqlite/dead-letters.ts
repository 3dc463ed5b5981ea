/** DeadLetters on SQLite: one row per dead letter, listed newest first with optional filters. */
import { serializeEvent } from '../../core/cloudevent.ts';
import { decodeCursor, encodeCursor } from '../../core/cursor.ts';
import { JunctionError } from '../../core/errors.ts';
import type {
  Attempt,
  DeadLetter,
  DeadLetterCount,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetters,
} from '../../ports.ts';
import {
  optionalNumber,
  parseFrozen,
  parseStoredEvent,
  type Row,
  requireInteger,
  requireNumber,
  type SqliteDatabase,
  splitPage,
} from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS dead_letters (
  dl_id TEXT PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, rule TEXT NOT NULL, target TEXT NOT NULL,
  event TEXT NOT NULL, reason TEXT NOT NULL, attempts TEXT NOT NULL, at INTEGER NOT NULL,
  partition INTEGER, offset INTEGER);
CREATE INDEX IF NOT EXISTS dead_letters_at ON dead_letters (at);
CREATE INDEX IF NOT EXISTS dead_letters_rule_at ON dead_letters (rule, at);
`;

const COLUMNS = 'dl_id, source, id, rule, target, event, reason, attempts, at, partition, offset';

/** The SQLite DeadLetters store. Writes go through the database's group commit. */
export class SqliteDeadLetters implements DeadLetters {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async add(letter: DeadLetter): Promise<void> {
    for (const name of ['dlId', 'source', 'id', 'rule', 'target', 'reason'] as const) {
      if (typeof letter?.[name] !== 'string') {
        throw new JunctionError(
          'InvalidRequest',
          `${name} must be a string; got ${JSON.stringify(letter?.[name])}`,
          {
            field: name,
          },
        );
      }
    }
    if (typeof letter.at !== 'number' || !Number.isFinite(letter.at)) {
      throw new JunctionError('InvalidRequest', `at must be a number; got ${JSON.stringify(letter.at)}`, {
        field: 'at',
      });
    }
    const params = [
      letter.dlId,
      letter.source,
      letter.id,
      letter.rule,
      letter.target,
      serializeEvent(letter.event),
      letter.reason,
      JSON.stringify(letter.attempts ?? []),
      letter.at,
      letter.position?.partition ?? null,
      letter.position?.offset ?? null,
    ];
    await this.#db.write(() => {
      this.#db.run(
        `INSERT OR REPLACE INTO dead_letters (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ...params,
      );
    });
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return [...(await this.page(filter)).deadLetters];
  }

  /** Newest first by (at, rowid); the cursor is the last letter's (at, rowid). */
  async page(filter: DeadLetterFilter = {}): Promise<DeadLetterPage> {
    const limit = requireInteger('limit', filter.limit ?? 100, 0);
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (filter.rule !== undefined) {
      where.push('rule = ?');
      params.push(filter.rule);
    }
    if (filter.target !== undefined) {
      where.push('target = ?');
      params.push(filter.target);
    }
    if (filter.from !== undefined) {
      where.push('at >= ?');
      params.push(filter.from);
    }
    if (filter.to !== undefined) {
      where.push('at < ?');
      params.push(filter.to);
    }
    if (filter.ids !== undefined) {
      if (!Array.isArray(filter.ids)) {
        throw new JunctionError(
          'InvalidRequest',
          `ids must be an array of strings; got ${typeof filter.ids}`,
          {
            field: 'ids',
          },
        );
      }
      if (filter.ids.length === 0) return { deadLetters: [] };
      where.push('dl_id IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(filter.ids));
    }
    if (filter.cursor !== undefined) {
      const [at, rowid] = decodeCursor(filter.cursor, ['number', 'number']) as [number, number];
      where.push('(at, rowid) < (?, ?)');
      params.push(at, rowid);
    }
    if (limit === 0) return { deadLetters: [] };
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
    // One more than asked tells whether another page follows.
    const rows = this.#db.all(
      `SELECT ${COLUMNS}, rowid AS rid FROM dead_letters ${clause} ORDER BY at DESC, rowid DESC LIMIT ?`,
      ...params,
      limit + 1,
    );
    const { page, last } = splitPage(rows, limit);
    return {
      deadLetters: page.map(toDeadLetter),
      ...(last !== undefined ? { nextCursor: encodeCursor([Number(last.at), Number(last.rid)]) } : {}),
    };
  }

  async get(dlId: string): Promise<DeadLetter | undefined> {
    const row = this.#db.get(`SELECT ${COLUMNS} FROM dead_letters WHERE dl_id = ?`, dlId);
    return row === undefined ? undefined : toDeadLetter(row);
  }

  async remove(dlIds: readonly string[]): Promise<number> {
    if (!Array.isArray(dlIds)) {
      throw new JunctionError('InvalidRequest', `dlIds must be an array of strings; got ${typeof dlIds}`, {
        field: 'dlIds',
      });
    }
    if (dlIds.length === 0) return 0;
    const ids = JSON.stringify(dlIds);
    return this.#db.write(() =>
      this.#db.run('DELETE FROM dead_letters WHERE dl_id IN (SELECT value FROM json_each(?))', ids),
    );
  }

  async count(): Promise<number> {
    return Number(this.#db.get('SELECT count(*) AS n FROM dead_letters')?.n ?? 0);
  }

  async countByTarget(): Promise<DeadLetterCount[]> {
    return this.#db
      .all('SELECT rule, target, count(*) AS n FROM dead_letters GROUP BY rule, target ORDER BY rule, target')
      .map((row) => ({ rule: String(row.rule), target: String(row.target), count: Number(row.n) }));
  }

  /** Drops dead letters dead-lettered before `before`. Answers how many went. */
  async prune(before: number): Promise<number> {
    requireNumber('before', before);
    return this.#db.write(() => this.#db.run('DELETE FROM dead_letters WHERE at < ?', before));
  }
}

function toDeadLetter(row: Row): DeadLetter {
  const partition = optionalNumber(row.partition);
  const offset = optionalNumber(row.offset);
  return {
    dlId: String(row.dl_id),
    source: String(row.source),
    id: String(row.id),
    rule: String(row.rule),
    target: String(row.target),
    event: parseStoredEvent(row.event),
    reason: String(row.reason),
    attempts: parseFrozen<Attempt[]>(row.attempts),
    at: Number(row.at),
    ...(partition === undefined || offset === undefined ? {} : { position: { partition, offset } }),
  };
}
