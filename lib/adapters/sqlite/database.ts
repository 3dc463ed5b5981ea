/**
 * One SQLite database file shared by every SQLite adapter: WAL, cached statements, group commit, and commits made
 * durable by an fsync of the WAL that runs off the event loop.
 */
import {
  chmodSync,
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { parseEventJson } from '../../core/cloudevent.ts';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { isJunctionError, JunctionError } from '../../core/errors.ts';
import { type CheckpointLane, joinCheckpointer } from './checkpointer.ts';

export interface SqliteDatabaseOptions {
  /** The folder that holds `junction.db`; created when missing. */
  readonly dataDir: string;
  /** How long a write waits for another process's lock before failing, in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** How often the WAL is checkpointed into the database file (when anything was committed since). @default 250 */
  readonly checkpointIntervalMs?: number;
  /**
   * @internal How a commit's fsync of the WAL runs (off the event loop): `fs.fdatasync` but for tests, which hold it
   * to see what waits for it.
   */
  readonly fdatasync?: Fdatasync;
}

/** `fs.fdatasync`'s callback form. */
export type Fdatasync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

/** How a write is committed. */
export interface WriteOptions<T> {
  /**
   * Whether the write answers only once it is durable (the WAL fsync'd). A write that is not durable answers at
   * commit: visible to every reader and safe from a process crash, and made durable by the next durable write's
   * fsync (the WAL keeps commits in order), but a power cut before then may take it back. @default true
   */
  readonly durable?: boolean;
  /**
   * Runs synchronously once the transaction has committed, before it is durable: what it starts may read the rows
   * but must not answer anyone outside the process on their strength.
   */
  readonly onCommit?: (value: T) => void;
  /**
   * `work` throws a `JunctionError` (the refusal of this write alone) only before it writes anything: it needs no
   * savepoint of its own to fail alone, which saves two statements per write. (Any other error fails the whole
   * transaction either way.) @default false
   */
  readonly atomic?: boolean;
  /**
   * Commits in the next turn even while an fsync is under way, instead of waiting for it to return with the writes
   * queued meanwhile: for a write that is not durable and whose commit starts work that should not wait for the disk
   * (a router's enqueue, whose commit starts the deliveries). The durable writes queued by then go in the same
   * transaction and are answered after the next fsync, as they would have been. @default false
   */
  readonly eager?: boolean;
  /**
   * How long (ms) the write may wait for an fsync under way before it is committed anyway, in a transaction of its
   * own with the writes queued by then (as `eager` does at once): for a durable write whose commit starts work (a
   * log's append wakes the router), so that a slow fsync delays that work by this much at most, while a fast one
   * still gathers the writes of its time into one transaction. A durable write is answered after an fsync that
   * starts after its commit either way. @default unbounded (it waits for the fsync to return)
   */
  readonly syncPatienceMs?: number;
}

/** A row as node:sqlite answers it. */
export type Row = Record<string, SQLOutputValue>;

interface Job {
  readonly run: () => unknown;
  readonly onCommit: ((value: unknown) => void) | undefined;
  readonly durable: boolean;
  readonly atomic: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Makes the database file the owner's only (0600), creating it empty when missing: SQLite gives the WAL and SHM
 * files it creates the database file's mode. WAL and SHM files left by an older version are narrowed too.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/** The name of the database file inside the data dir. */
export const DATABASE_FILE = 'junction.db';

/** Rows a write of `pruneInWrites` deletes, about. */
export const PRUNE_BATCH_ROWS = 5000;

/** What one write of `pruneInWrites` deleted: its rows, and how many of what the caller counts (entries, records). */
export interface PruneBatch {
  readonly rows: number;
  readonly counted: number;
}

/**
 * A `DatabaseSync` with a statement cache and group commit: every write submitted in the same tick runs in one
 * `BEGIN IMMEDIATE … COMMIT`. Each write runs in its own savepoint, so a write that throws a `JunctionError` (bad
 * input) fails alone; any other failure (I/O, lock, schema) fails the whole flush and every caller of it gets a
 * retriable `BufferUnavailable`, with nothing of the flush committed.
 *
 * Durability without blocking the event loop: the connection commits with `synchronous = NORMAL` (the commit writes
 * its WAL frames but does not fsync), and a write's promise resolves only after an fsync of the WAL file that
 * started after its commit — run in libuv's thread pool. Writes queued while an fsync runs wait for it to return and
 * are then committed together, before the next fsync starts: that costs a durable write no time (it would have
 * waited for the next fsync anyway), and under load it makes one transaction of what would have been many (each
 * COMMIT writes its dirty pages to the WAL again; ledger rows and index pages touched by many writes are written
 * once). An eager write (`WriteOptions.eager`: not durable, and its commit starts work) does not wait: it commits in
 * the next turn with the writes queued so far. A WAL survives a power cut as a prefix of its commits (SQLite checks each frame's checksum), so once a
 * commit's fsync returns, it and every commit before it are durable: the guarantee `synchronous = FULL` gives,
 * without an fsync on the loop per commit. Checkpoints (which fsync the WAL and the database file) run on a timer, on a
 * checkpoint thread (shared with the process's other databases, `checkpointer.ts`), rather than inside whichever commit
 * crosses a size threshold (see `#checkpoint`).
 */
export class SqliteDatabase {
  /** The absolute path of the database file (the key of in-process registries). */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  /** The SQL of `insertRows`, by its `INSERT INTO t (…)` prefix: a whole chunk of rows, and one row. */
  readonly #insertSql = new Map<string, { readonly chunk: string; readonly one: string }>();
  #queue: Job[] = [];
  #scheduled = false;
  /** Writes are queued while an fsync runs: they are committed together once it returns. */
  #deferred = false;
  /** Commits the deferred writes when a write's `syncPatienceMs` runs out before the fsync returns; when it is due. */
  #patience: NodeJS.Timeout | undefined;
  #patienceDue = Number.POSITIVE_INFINITY;
  #closed = false;
  #commits = 0;
  #writes = 0;
  #syncs = 0;
  /** The WAL file, opened for fsync once it exists. */
  #walFd: number | undefined;
  /** Callbacks of commits waiting for an fsync that has not started yet. */
  #unsynced: Array<(error: unknown) => void> = [];
  #syncing = false;
  #fsyncListeners: Array<(seconds: number) => void> = [];
  readonly #checkpointTimer: NodeJS.Timeout;
  #checkpointedAt = 0;
  readonly #busyTimeoutMs: number;
  readonly #fdatasync: Fdatasync;
  /** This database's place among the checkpoint threads (see `#checkpoint`), once it has one. */
  #checkpointer: CheckpointLane | undefined;
  #noCheckpointer = false;
  /** Whether the checkpoint thread is at work. */
  #checkpointing = false;
  /**
   * Whether the checkpoint thread runs a catch-up: a second checkpoint, with commits held, so that the WAL starts over
   * (see `#checkpointLane`).
   */
  #catchingUp = false;
  /** Whether queued writes wait for the checkpoint thread (a WAL past `WAL_HOLD_BYTES`, or a catch-up; see `#flush`). */
  #heldForCheckpoint = false;
  #held = 0;
  #catchUps = 0;
  #checkpointsHere = 0;

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
    this.#busyTimeoutMs = busyTimeoutMs;
    if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new JunctionError(
        'InvalidRequest',
        `busyTimeoutMs must be an integer ≥ 0; got ${busyTimeoutMs}`,
        {
          field: 'busyTimeoutMs',
        },
      );
    }
    const checkpointIntervalMs = options.checkpointIntervalMs ?? 250;
    if (!Number.isInteger(checkpointIntervalMs) || checkpointIntervalMs < 1) {
      throw new JunctionError(
        'InvalidRequest',
        `checkpointIntervalMs must be an integer ≥ 1; got ${checkpointIntervalMs}`,
        { field: 'checkpointIntervalMs' },
      );
    }
    this.#fdatasync = options.fdatasync ?? fdatasync;
    const dir = resolve(options.dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.path = join(dir, DATABASE_FILE);
    try {
      ownerOnly(this.path);
      this.#db = new DatabaseSync(this.path);
      this.#db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      this.#db.exec('PRAGMA journal_mode = WAL');
      // NORMAL: a commit writes the WAL without an fsync; write() fsyncs the WAL off the loop before it answers.
      this.#db.exec('PRAGMA synchronous = NORMAL');
      // Checkpoints run on a timer between transactions, not inside whichever commit crosses a threshold.
      this.#db.exec('PRAGMA wal_autocheckpoint = 0');
      // After a burst, a WAL that restarts is cut back to this size.
      this.#db.exec(`PRAGMA journal_size_limit = ${64 * 1024 * 1024}`);
      // The WAL exists once a connection has read in WAL mode; its directory entry is made durable once, here.
      this.#db.exec('SELECT count(*) FROM sqlite_schema');
      this.#walFd = openSync(`${this.path}-wal`, 'r');
      const dirFd = openSync(dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    } catch (error) {
      throw unavailable(`cannot open the SQLite database ${this.path}`, error);
    }
    this.#checkpointTimer = setInterval(() => this.#checkpoint(), checkpointIntervalMs);
    this.#checkpointTimer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Committed group-commit transactions, the writes they carried, the WAL fsyncs that made them durable, how often
   * queued writes waited for a checkpoint (a WAL past `WAL_HOLD_BYTES`, see `#flush`), the catch-up checkpoints that
   * let the WAL start over (commits held meanwhile, see `#checkpointLane`), the checkpoints run on the event loop
   * (only without a checkpoint thread), and the WAL file's size now.
   */
  get stats(): {
    readonly commits: number;
    readonly writes: number;
    readonly syncs: number;
    readonly held: number;
    readonly catchUps: number;
    readonly checkpointsHere: number;
    readonly walBytes: number;
  } {
    return {
      commits: this.#commits,
      writes: this.#writes,
      syncs: this.#syncs,
      held: this.#held,
      catchUps: this.#catchUps,
      checkpointsHere: this.#checkpointsHere,
      walBytes: this.#walBytes(),
    };
  }

  /**
   * Tells `listener` how long each fsync of the WAL run off the event loop took, in seconds, from now on (metrics: a
   * durable write's answer waits for one). Answers how to stop.
   */
  observeFsyncs(listener: (seconds: number) => void): () => void {
    this.#fsyncListeners.push(listener);
    return () => {
      this.#fsyncListeners = this.#fsyncListeners.filter((l) => l !== listener);
    };
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
    this.#syncNow();
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
   * Inserts rows with multi-row INSERTs of up to `INSERT_CHUNK` rows each: one statement step per chunk instead of
   * one per row (appends and traces are on the hot path). `insert` is the statement up to `VALUES`, e.g.
   * `INSERT INTO t (a, b)`; every row has one value per column. `tail` follows the values (an `ON CONFLICT` clause).
   */
  insertRows(insert: string, rows: readonly (readonly SQLInputValue[])[], tail = ''): void {
    if (rows.length === 0) return;
    const cacheKey = tail === '' ? insert : `${insert}\n${tail}`;
    let sql = this.#insertSql.get(cacheKey);
    if (sql === undefined) {
      const columns = rows[0]!.length;
      sql = {
        chunk: valuesSql(insert, columns, INSERT_CHUNK, tail),
        one: valuesSql(insert, columns, 1, tail),
      };
      this.#insertSql.set(cacheKey, sql);
    }
    let i = 0;
    if (rows.length >= INSERT_CHUNK) {
      const chunk = this.statement(sql.chunk);
      // One array of a chunk's values, filled in place (a slice and a flat per chunk were ≈ 1.5% of batch ingest).
      const columns = rows[0]!.length;
      const params = new Array<SQLInputValue>(INSERT_CHUNK * columns);
      for (; i + INSERT_CHUNK <= rows.length; i += INSERT_CHUNK) {
        let at = 0;
        for (let r = i; r < i + INSERT_CHUNK; r++) {
          const row = rows[r]!;
          for (let c = 0; c < columns; c++) params[at++] = row[c] as SQLInputValue;
        }
        chunk.run(...params);
      }
    }
    // The rest one row at a time: a statement per leftover size would crowd the statement cache.
    if (i < rows.length) {
      const one = this.statement(sql.one);
      for (; i < rows.length; i++) one.run(...rows[i]!);
    }
  }

  /**
   * Deletes what `batch` deletes in writes of about `PRUNE_BATCH_ROWS` rows each, until one deletes fewer, the event
   * loop free between them: retention deletes a busy bus's hour of traces or minute of records, millions of rows
   * that one statement deleted while the loop waited (docs/benchmarks.md, "Retention without stalls"). `batch` runs
   * inside each write with the rows it may delete; answers the sum of what the batches counted.
   */
  async pruneInWrites(
    batch: (limit: number) => PruneBatch,
    options: WriteOptions<PruneBatch> = {},
  ): Promise<number> {
    let counted = 0;
    for (;;) {
      const done = await this.write(() => batch(PRUNE_BATCH_ROWS), options);
      counted += done.counted;
      if (done.rows < PRUNE_BATCH_ROWS) return counted;
    }
  }

  /**
   * Queues a write for the next group commit and answers its result once it is committed and durable (the WAL
   * fsync'd), or at commit when `options.durable` is false. `work` runs synchronously inside the transaction; it
   * must not await.
   */
  write<T>(work: () => T, options: WriteOptions<T> = {}): Promise<T> {
    if (this.#closed) return Promise.reject(unavailable(`the SQLite database ${this.path} is closed`));
    return new Promise<T>((resolvePromise, reject) => {
      this.#queue.push({
        run: work,
        onCommit: options.onCommit as ((value: unknown) => void) | undefined,
        durable: options.durable ?? true,
        atomic: options.atomic ?? false,
        resolve: resolvePromise as (value: unknown) => void,
        reject,
      });
      if (!this.#scheduled) {
        this.#scheduled = true;
        if (this.#syncing && options.eager !== true) {
          this.#deferred = true;
          this.#limitDeferral(options.syncPatienceMs);
        } else setImmediate(() => this.#flush());
      } else if (this.#deferred && options.eager === true) {
        // Queued behind the fsync under way: commit in the next turn instead, this write and those waiting.
        this.#deferred = false;
        this.#stopPatience();
        setImmediate(() => this.#flush());
      } else if (this.#deferred) this.#limitDeferral(options.syncPatienceMs);
    });
  }

  /** Commits queued writes now and makes them durable, then closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#flush(true);
    this.#closed = true;
    clearInterval(this.#checkpointTimer);
    this.#stopPatience();
    this.#stopCheckpointThread();
    const waiting = this.#unsynced.splice(0);
    let failure: unknown;
    try {
      this.#syncNow();
    } catch (error) {
      failure = unavailable('cannot fsync the SQLite WAL', error);
    }
    for (const done of waiting) done(failure);
    this.#statements.clear();
    try {
      this.#db.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
    // An fsync in flight still uses the descriptor; it is closed when that one returns.
    if (!this.#syncing) this.#closeWal();
  }

  /**
   * Commits every queued write in one transaction. While the checkpoint thread is at work and the WAL has passed
   * `WAL_HOLD_BYTES`, the queue waits for that checkpoint to end instead (`force` commits anyway: close): a checkpoint
   * slowed down by a busy disk or CPU would otherwise let commits that never pause grow the WAL without a bound. It
   * waits too while the thread runs a catch-up (see `#checkpointLane`), which must see no new commit.
   */
  #flush(force = false): void {
    if (
      !force &&
      this.#checkpointing &&
      this.#queue.length > 0 &&
      (this.#catchingUp || this.#walBytes() > WAL_HOLD_BYTES)
    ) {
      this.#scheduled = true;
      if (!this.#heldForCheckpoint && !this.#catchingUp) this.#held += 1;
      this.#heldForCheckpoint = true;
      // The thread is unref'd (a database left open must not keep its process alive), but writes that wait for its
      // answer must: without a ref a process with nothing else to do would end with their promises pending.
      this.#checkpointer?.hold();
      return;
    }
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
      this.#control('BEGIN IMMEDIATE');
    } catch (error) {
      const failure = unavailable('cannot start a SQLite write transaction', error);
      for (const job of jobs) job.reject(failure);
      return;
    }
    try {
      for (const job of jobs) outcomes.push(this.#runJob(job));
      this.#control('COMMIT');
    } catch (error) {
      try {
        this.#control('ROLLBACK');
      } catch {
        // The transaction may already be gone (SQLite rolls back on some I/O errors).
      }
      const failure = unavailable('the SQLite write failed; nothing of it was committed', error);
      for (const job of jobs) job.reject(failure);
      return;
    }
    this.#commits += 1;
    this.#writes += jobs.length;
    const durable: number[] = [];
    for (const [i, job] of jobs.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.ok && job.onCommit !== undefined) {
        try {
          job.onCommit(outcome.value);
        } catch {
          // A commit hook's failure is its own: the write stands and answers as usual.
        }
      }
      if (!outcome.ok) job.reject(outcome.error);
      else if (!job.durable) job.resolve(outcome.value);
      else durable.push(i);
    }
    if (durable.length === 0) return;
    this.#afterSync((syncError) => {
      const failure =
        syncError === undefined
          ? undefined
          : unavailable('the SQLite write was committed but could not be made durable', syncError);
      for (const i of durable) {
        const job = jobs[i]!;
        if (failure !== undefined) job.reject(failure);
        else job.resolve((outcomes[i] as { value: unknown }).value);
      }
    });
  }

  /**
   * Has the deferred writes committed `patienceMs` from now if the fsync under way has not returned by then
   * (`WriteOptions.syncPatienceMs`); the earliest such time of the writes deferred wins. Counted from the write, not
   * from the fsync's start: during a slow fsync that makes one transaction per `patienceMs` at most (from its start,
   * every write after the first commit would commit in a transaction of its own: in two quick runs single-event ingest
   * made 0.40× and 0.41× of a do-nothing server's requests per CPU-second, against 0.46× and 0.45× without patience).
   */
  #limitDeferral(patienceMs: number | undefined): void {
    if (patienceMs === undefined) return;
    const due = performance.now() + patienceMs;
    if (due >= this.#patienceDue) return;
    this.#stopPatience();
    this.#patienceDue = due;
    this.#patience = setTimeout(
      () => {
        this.#patience = undefined;
        this.#patienceDue = Number.POSITIVE_INFINITY;
        if (!this.#deferred) return;
        this.#deferred = false;
        this.#flush();
      },
      Math.max(0, due - performance.now()),
    );
  }

  #stopPatience(): void {
    if (this.#patience === undefined) return;
    clearTimeout(this.#patience);
    this.#patience = undefined;
    this.#patienceDue = Number.POSITIVE_INFINITY;
  }

  /** Calls `done` once an fsync of the WAL that started after now has returned (with its error, if any). */
  #afterSync(done: (error: unknown) => void): void {
    this.#unsynced.push(done);
    if (!this.#syncing) this.#startSync();
  }

  /** One fsync in the thread pool for every commit waiting; commits made meanwhile wait for the next one. */
  #startSync(): void {
    const fd = this.#walFd;
    const waiting = this.#unsynced.splice(0);
    if (fd === undefined) {
      for (const done of waiting) done(new Error('the WAL file is closed'));
      return;
    }
    this.#syncing = true;
    const started = performance.now();
    this.#fdatasync(fd, (error) => {
      this.#syncing = false;
      this.#syncs += 1;
      if (this.#fsyncListeners.length > 0) {
        const seconds = (performance.now() - started) / 1000;
        for (const listener of this.#fsyncListeners) listener(seconds);
      }
      for (const done of waiting) done(error ?? undefined);
      if (this.#closed) this.#closeWal();
      if (this.#deferred) {
        // The writes deferred behind this fsync are committed first, so that the next fsync covers them and any an
        // eager write committed meanwhile (`WriteOptions.eager`) together: one fsync more for them otherwise.
        this.#deferred = false;
        this.#stopPatience();
        setImmediate(() => {
          this.#flush();
          if (!this.#closed && !this.#syncing && this.#unsynced.length > 0) this.#startSync();
        });
      } else if (!this.#closed && this.#unsynced.length > 0) this.#startSync();
    });
  }

  /** An fsync of the WAL on the calling thread (startup, schema, close). */
  #syncNow(): void {
    if (this.#walFd === undefined) return;
    fdatasyncSync(this.#walFd);
    this.#syncs += 1;
  }

  /**
   * Copies the WAL into the database file (PASSIVE: it never waits for a lock) so that the next write starts the WAL
   * over instead of growing it; each checkpoint fsyncs the WAL and the database file. It runs on a checkpoint thread
   * (its own connection), where it costs the event loop nothing (at 40k events/s one took 16 ms, up to 100 ms, on
   * the loop). Only a checkpoint that ends with no newer commit lets the next write start the WAL over, which under
   * a steady load one on another thread seldom does: see `#checkpointLane` for the catch-up. A failure (another
   * process holds the lock) is left for the next round.
   */
  #checkpoint(): void {
    if (this.#closed || this.#checkpointing || this.#commits === this.#checkpointedAt) return;
    this.#checkpointedAt = this.#commits;
    const lane = this.#checkpointLane();
    if (lane === undefined) {
      this.#checkpointHere();
      return;
    }
    this.#checkpointing = true;
    lane.checkpoint();
  }

  /**
   * This database's place among the checkpoint threads, taken on first use; undefined once lost (checkpoints run
   * here). When a checkpoint ends with the WAL past `WAL_RESTART_FRAMES` and commits made meanwhile (frames it did not
   * copy), the thread runs a second one at once, a catch-up, while commits wait (`#flush`): it copies what was committed
   * during the first, and with nothing newer the next write starts the WAL over. The event loop stays free
   * meanwhile; the catch-up ran on it before (a 0.1–45 ms stall a few times a second under durable batches, 322 ms
   * once beside a large prune).
   */
  #checkpointLane(): CheckpointLane | undefined {
    if (this.#checkpointer !== undefined || this.#noCheckpointer) return this.#checkpointer;
    this.#checkpointer = joinCheckpointer(this.path, this.#busyTimeoutMs, {
      done: (log) => {
        this.#checkpointing = false;
        // Commits made since it started are frames it did not copy (it copies up to the WAL's end when it started).
        const behind = this.#commits !== this.#checkpointedAt;
        if (!this.#closed && !this.#catchingUp && behind && log >= WAL_RESTART_FRAMES) {
          this.#catchingUp = true;
          this.#catchUps += 1;
          this.#checkpoint();
          return;
        }
        this.#catchingUp = false;
        this.#releaseHeld();
      },
      lost: () => {
        // The thread cannot serve this database: checkpoints run here from now on.
        this.#catchingUp = false;
        this.#checkpointing = false;
        this.#checkpointer?.close();
        this.#checkpointer = undefined;
        this.#noCheckpointer = true;
        this.#releaseHeld();
      },
    });
    return this.#checkpointer;
  }

  /** Commits what waited for the checkpoint thread (see `#flush`). */
  #releaseHeld(): void {
    if (!this.#heldForCheckpoint) return;
    this.#heldForCheckpoint = false;
    this.#checkpointer?.release();
    if (this.#syncing) this.#deferred = true;
    else setImmediate(() => this.#flush());
  }

  /** The WAL file's size in bytes (0 when it cannot be told). */
  #walBytes(): number {
    if (this.#walFd === undefined) return 0;
    try {
      return fstatSync(this.#walFd).size;
    } catch {
      return 0;
    }
  }

  /** A checkpoint on this connection, between two transactions. */
  #checkpointHere(): void {
    this.#checkpointedAt = this.#commits;
    this.#checkpointsHere += 1;
    try {
      this.statement('PRAGMA wal_checkpoint(PASSIVE)').get();
    } catch {
      // Busy or failing: the WAL keeps its frames, which stay readable, and the next round tries again.
    }
  }

  #closeWal(): void {
    if (this.#walFd === undefined) return;
    try {
      closeSync(this.#walFd);
    } catch {
      // Nothing left to release.
    }
    this.#walFd = undefined;
  }

  /** Runs one job in a savepoint; a JunctionError fails only this job, anything else the whole flush. */
  #runJob(job: Job): { ok: true; value: unknown } | { ok: false; error: unknown } {
    if (job.atomic) {
      // One statement (all or nothing by itself), or a refusal before any write: nothing to roll back.
      try {
        return { ok: true, value: job.run() };
      } catch (error) {
        if (!isJunctionError(error)) throw error;
        return { ok: false, error };
      }
    }
    this.#control('SAVEPOINT job');
    try {
      const value = job.run();
      this.#control('RELEASE job');
      return { ok: true, value };
    } catch (error) {
      if (!isJunctionError(error)) throw error;
      this.#control('ROLLBACK TO job');
      this.#control('RELEASE job');
      return { ok: false, error };
    }
  }

  /** Runs a transaction-control statement, prepared once (exec would parse it on every call). */
  #control(sql: string): void {
    this.statement(sql).run();
  }

  /**
   * Has the checkpoint thread close its connection, and waits (a checkpoint's time, 5 s at most) until it has: a
   * connection left open after `close()` would delete the WAL when it closes later, under whoever removes the
   * folder or opens the file next.
   */
  #stopCheckpointThread(): void {
    const lane = this.#checkpointer;
    this.#checkpointer = undefined;
    // Writes held for it (see `#flush`) were committed by the close: the lane no longer keeps the process alive.
    lane?.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw unavailable(`the SQLite database ${this.path} is closed`);
  }
}

/** WAL frames past which a catch-up checkpoint follows one that left frames, so that the WAL starts over (16 MiB of 4 KiB pages). */
const WAL_RESTART_FRAMES = 4096;

/**
 * WAL bytes past which commits wait for a running checkpoint to end (twice `WAL_RESTART_FRAMES` of 4 KiB pages): the
 * WAL stays well under `journal_size_limit` (64 MiB) however slow the checkpoint thread is.
 */
const WAL_HOLD_BYTES = 32 * 1024 * 1024;

/** Rows per multi-row INSERT of `insertRows`. */
const INSERT_CHUNK = 32;

/** `insert` followed by `rows` groups of `columns` placeholders, then `tail`. */
function valuesSql(insert: string, columns: number, rows: number, tail: string): string {
  const row = `(${Array(columns).fill('?').join(', ')})`;
  return `${insert} VALUES ${Array(rows).fill(row).join(', ')}${tail === '' ? '' : ` ${tail}`}`;
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

/**
 * Reads an event the adapters stored with `serializeEvent`: read by the codec's scanner, so JSON data stays the
 * stored text (forwarded as the producer sent it, parsed only when something reads it). Whatever the scanner or
 * today's validation would not take (an event stored by an older version) is read with a plain parse instead:
 * an event once accepted is never refused on the way out.
 */
export function parseStoredEvent(text: SQLOutputValue | undefined): CloudEvent {
  const json = String(text);
  try {
    return parseEventJson(json);
  } catch {
    return parseFrozen<CloudEvent>(json);
  }
}

/** A column as a number, or undefined when NULL. */
export function optionalNumber(value: SQLOutputValue | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

/**
 * A page of rows read with `LIMIT limit + 1` (the extra row tells whether another page follows): the rows to
 * answer, and the last of them when another page follows — the row the next cursor is made from.
 */
export function splitPage<T>(rows: readonly T[], limit: number): { page: readonly T[]; last?: T } {
  if (rows.length <= limit) return { page: rows };
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return last === undefined ? { page } : { page, last };
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
