/** One SQLite database file shared by every SQLite adapter: WAL, fsync'd commits, cached statements, group commit. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { isJunctionError, JunctionError } from '../../core/errors.ts';

export interface SqliteDatabaseOptions {
  /** The folder that holds `junction.db`; created when missing. */
  readonly dataDir: string;
  /** How long a write waits for another process's lock before failing, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
}

/** A row as node:sqlite answers it. */
export type Row = Record<string, SQLOutputValue>;

interface Job {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** The name of the database file inside the data dir. */
export const DATABASE_FILE = 'junction.db';

/**
 * A `DatabaseSync` with a statement cache and group commit: every write submitted in the same tick runs in one
 * `BEGIN IMMEDIATE … COMMIT` (one fsync). Each write runs in its own savepoint, so a write that throws a
 * `JunctionError` (bad input) fails alone; any other failure (I/O, lock, schema) fails the whole flush and every
 * caller of it gets a retriable `BufferUnavailable`, with nothing of the flush committed.
 */
export class SqliteDatabase {
  /** The absolute path of the database file (the key of in-process registries). */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #queue: Job[] = [];
  #scheduled = false;
  #closed = false;
  #commits = 0;
  #writes = 0;

  constructor(options: SqliteDatabaseOptions) {
    if (typeof options?.dataDir !== 'string' || options.dataDir.length === 0) {
      throw new JunctionError(
        'InvalidRequest',
        `dataDir must be a non-empty path; got ${String(options?.dataDir)}`,
        {
          field: 'dataDir',
        },
      );
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new JunctionError(
        'InvalidRequest',
        `busyTimeoutMs must be an integer ≥ 0; got ${busyTimeoutMs}`,
        {
          field: 'busyTimeoutMs',
        },
      );
    }
    const dir = resolve(options.dataDir);
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, DATABASE_FILE);
    try {
      this.#db = new DatabaseSync(this.path);
      this.#db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      this.#db.exec('PRAGMA journal_mode = WAL');
      // FULL: the commit that answers an append is fsync'd, also in WAL mode.
      this.#db.exec('PRAGMA synchronous = FULL');
    } catch (error) {
      throw unavailable(`cannot open the SQLite database ${this.path}`, error);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Committed group-commit transactions and the writes they carried, since open (for tests and metrics). */
  get stats(): { readonly commits: number; readonly writes: number } {
    return { commits: this.#commits, writes: this.#writes };
  }

  /** Runs schema statements (idempotent `CREATE … IF NOT EXISTS`) in one transaction. */
  migrate(sql: string): void {
    this.#assertOpen();
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      this.#db.exec(sql);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw unavailable('cannot create the SQLite schema', error);
    }
  }

  /** A prepared statement, cached by its SQL text. */
  statement(sql: string): StatementSync {
    this.#assertOpen();
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The first row of a query, or undefined. */
  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.statement(sql).get(...params);
  }

  /** Every row of a query. */
  all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.statement(sql).all(...params);
  }

  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.statement(sql).run(...params).changes);
  }

  /**
   * Queues a write for the next group commit and answers its result once it is committed (fsync'd). `work`
   * runs synchronously inside the transaction; it must not await.
   */
  write<T>(work: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(unavailable(`the SQLite database ${this.path} is closed`));
    return new Promise<T>((resolvePromise, reject) => {
      this.#queue.push({ run: work, resolve: resolvePromise as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Commits queued writes now, then closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#statements.clear();
    try {
      this.#db.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const jobs = this.#queue;
    this.#queue = [];
    if (jobs.length === 0) return;
    if (this.#closed) {
      for (const job of jobs) job.reject(unavailable(`the SQLite database ${this.path} is closed`));
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      const failure = unavailable('cannot start a SQLite write transaction', error);
      for (const job of jobs) job.reject(failure);
      return;
    }
    try {
      for (const job of jobs) outcomes.push(this.#runJob(job));
      this.#db.exec('COMMIT');
    } catch (error) {
      try {
        this.#db.exec('ROLLBACK');
      } catch {
        // The transaction may already be gone (SQLite rolls back on some I/O errors).
      }
      const failure = unavailable('the SQLite write failed; nothing of it was committed', error);
      for (const job of jobs) job.reject(failure);
      return;
    }
    this.#commits += 1;
    this.#writes += jobs.length;
    for (const [i, job] of jobs.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    }
  }

  /** Runs one job in a savepoint; a JunctionError fails only this job, anything else the whole flush. */
  #runJob(job: Job): { ok: true; value: unknown } | { ok: false; error: unknown } {
    this.#db.exec('SAVEPOINT job');
    try {
      const value = job.run();
      this.#db.exec('RELEASE job');
      return { ok: true, value };
    } catch (error) {
      if (!isJunctionError(error)) throw error;
      this.#db.exec('ROLLBACK TO job');
      this.#db.exec('RELEASE job');
      return { ok: false, error };
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw unavailable(`the SQLite database ${this.path} is closed`);
  }
}

/** A retriable `BufferUnavailable` error, keeping the cause's message. */
export function unavailable(message: string, cause?: unknown): JunctionError {
  const detail =
    cause instanceof Error ? `: ${cause.message}` : cause === undefined ? '' : `: ${String(cause)}`;
  return new JunctionError('BufferUnavailable', `${message}${detail}`, { retriable: true, cause });
}

/** Freezes a parsed JSON value and everything inside it. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Parses stored JSON text and freezes it. */
export function parseFrozen<T>(text: SQLOutputValue | undefined): T {
  return deepFreeze(JSON.parse(String(text)) as T);
}

/** A column as a number, or undefined when NULL. */
export function optionalNumber(value: SQLOutputValue | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/** Rejects a value that is not an integer within [min, max], naming the field and the value received. */
export function requireInteger(
  field: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} must be an integer from ${min} to ${max}; got ${JSON.stringify(value)}`,
      { field },
    );
  }
  return value;
}

/** Rejects a value that is not a finite number, naming the field and the value received. */
export function requireNumber(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} must be a finite number; got ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  return value;
}
