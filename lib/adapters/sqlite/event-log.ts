/** EventLog on SQLite: a partitioned, durable, replayable log in one table, with dedup, consumer groups and retention. */

import type { SQLOutputValue } from 'node:sqlite';
import {
  readStoredAttributes,
  readStoredEvent,
  type StoredEvent,
  serializeStoredEvent,
  storedEvent,
} from '../../core/cloudevent.ts';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { partitionKeyOf } from '../../core/cloudevent-types.ts';
import { JunctionError } from '../../core/errors.ts';
import type {
  AppendOptions,
  AppendResult,
  Clock,
  EventLog,
  LogRecord,
  Position,
  RecordHandler,
  SubscribeOptions,
  Subscription,
} from '../../ports.ts';
import { systemClock } from '../../ports.ts';
import { type PruneBatch, parseStoredEvent, requireInteger, type SqliteDatabase } from './database.ts';
import { partitionFor } from './partitioner.ts';
import { MEMORY_DEDUP_MAX_KEYS, MEMORY_DEDUP_MAX_WINDOW_MS, RecentKeys } from './recent-keys.ts';
import { RecentRecords } from './recent-records.ts';

export interface SqliteEventLogOptions {
  /** Number of partitions; fixed when the log is first created. @default 4 (or the count the file already has) */
  readonly partitions?: number;
  /** Where record timestamps and dedup times come from. @default systemClock */
  readonly clock?: Clock;
  /** Records older than this go at the periodic retention pass (never past a group's commit). @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** How often the retention pass runs, in ms; 0 turns it off. @default 60000 */
  readonly retentionIntervalMs?: number;
  /**
   * How often an idle subscription looks for appends made by other processes, in ms: this often at first, then half
   * as often after each read that found nothing, down to once a second (`idlePause`). @default 100
   */
  readonly pollIntervalMs?: number;
  /** First delay before a rejected handler call is retried, doubling up to 5 s. @default 100 */
  readonly retryBackoffMs?: number;
  /** Told about handler failures and background errors (nothing is logged to the console). */
  readonly onError?: (error: unknown) => void;
  /**
   * Dedup keys of windows up to 10 minutes held in memory, at most (`RecentKeys`); past it, and for longer windows,
   * keys are rows of `log_dedup`. 0 keeps every key in `log_dedup`. @default 4000000
   */
  readonly dedupMemoryKeys?: number;
}

const DEFAULT_PARTITIONS = 4;
const MAX_PARTITIONS = 1024;
const WEEK_MS = 7 * 24 * 60 * 60 * 1000;
const MAX_BACKOFF_MS = 5000;
const DEDUP_PRUNE_EVERY_MS = 1000;
const DEDUP_PRUNE_BATCH = 5000;
/** Records read a statement when the keys in memory are built from the log. */
const KEY_INDEX_CHUNK = 4096;
/** Ids per dedup lookup statement (one statement step finds which of them were accepted within the window). */
const DEDUP_LOOKUP_CHUNK = 32;
/** Fewer ids than this are looked up one at a time (a padded chunk would look one id up many times). */
const DEDUP_LOOKUP_FEW = 4;
/** The newest acceptance time `log_dedup` was given, kept in `log_meta` (see `#tableHoldsSince`). */
const DEDUP_NEWEST_SELECT = "SELECT value FROM log_meta WHERE name = 'dedup_newest'";
const DEDUP_NEWEST_UPDATE =
  "UPDATE log_meta SET value = ? WHERE name = 'dedup_newest' AND CAST(value AS INTEGER) < ?";
/** The first row of `log_dedup` at or after a rowid, and the last rowid (`#dedupExpiredBelow`). */
const DEDUP_FIRST_ROW =
  'SELECT rowid, accepted_at AS at FROM log_dedup WHERE rowid >= ? ORDER BY rowid LIMIT 1';
const DEDUP_LAST_ROWID = 'SELECT rowid FROM log_dedup ORDER BY rowid DESC LIMIT 1';
const DEDUP_LOOKUP_SQL = `SELECT id, partition, offset FROM log_dedup WHERE source = ? AND accepted_at > ? AND id IN (${Array(DEDUP_LOOKUP_CHUNK).fill('?').join(', ')})`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS log_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log_partitions (
  partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL, last_timestamp INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log_records (
  partition INTEGER NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL, timestamp INTEGER NOT NULL,
  event TEXT NOT NULL, data_at INTEGER, data_end INTEGER, PRIMARY KEY (partition, offset));
DROP INDEX IF EXISTS log_records_time;
CREATE TABLE IF NOT EXISTS log_dedup (
  source TEXT NOT NULL, id TEXT NOT NULL, accepted_at INTEGER NOT NULL, partition INTEGER NOT NULL,
  offset INTEGER NOT NULL, PRIMARY KEY (source, id));
CREATE TABLE IF NOT EXISTS log_commits (
  grp TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (grp, partition));
`;

/**
 * The columns that mark a record as written by this bus from an event it had validated (format 1): `data_at` and
 * `data_end` are the span of the event's JSON data text in `event` (`serializeStoredEvent`), read back with
 * `readStoredEvent` — no scan of the record. NULL (rows written before the columns existed, events whose data is not
 * such text, rows from elsewhere): the record is read with the codec's full check (`parseStoredEvent`).
 */
const LAYOUT_COLUMNS = ['data_at', 'data_end'] as const;

/** How many just-appended events a log keeps in memory for its readers, at most (see `#recent`). */
const RECENT_MAX_EVENTS = 8192;
/** …and how many characters of their stored text, at most. */
const RECENT_MAX_CHARS = 16 * 1024 * 1024;

/** An event on its way into the log: its partition key, stored text, and record timestamp once appended. */
interface Prepared {
  readonly event: CloudEvent;
  readonly key: string;
  readonly text: string;
  /** Where the event's JSON data text is in `text` (`serializeStoredEvent`), or -1. */
  readonly dataAt: number;
  readonly dataEnd: number;
  timestamp: number;
}

/** Appends that share one write: their events in call order, and the write's answer for all of them. */
interface PendingAppend {
  readonly items: Prepared[];
  readonly done: Promise<AppendResult[]>;
}

/** Wake-ups of idle subscriptions after local appends, keyed by database file (several logs on one file). */
const appendListeners = new Map<string, Set<(partitions: ReadonlySet<number>) => void>>();
/** Groups with a running member in this process, keyed by database file. */
const activeGroups = new Map<string, Set<string>>();

/**
 * The SQLite EventLog. Partition = Kafka's default partitioner (murmur2) of the partition key; offsets are dense
 * per partition from 0; `timestamp` is the append time from the clock, never decreasing within a partition.
 * One member per consumer group (per database file and process): the member owns every partition.
 */
export class SqliteEventLog implements EventLog {
  readonly partitions: number;
  readonly #db: SqliteDatabase;
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #pollMs: number;
  readonly #backoffMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #subscriptions = new Set<SqliteSubscription>();
  readonly #retentionTimer: NodeJS.Timeout | undefined;
  #maxDedupWindowMs = 0;
  #lastDedupPrune = 0;
  /** The keys of short dedup windows (undefined: all in `log_dedup`), and by partition the offset they cover up to. */
  readonly #keys: RecentKeys | undefined;
  #indexed: number[] = [];
  /** Whether the keys in memory must be built from the log again before a windowed append (a start, a failed write, a longer window). */
  #stale = false;
  /** Keys of short windows that went to `log_dedup` because memory held `maxKeys` (`dedupMemory`). */
  #spilled = 0;
  /** That build while it runs (`#rebuildKeys`). */
  #rebuilding: Promise<void> | undefined;
  #closed = false;
  /**
   * The records this log appended most recently, per partition in offset order: a subscription
   * reading them moments later takes them from here (the validated event object, not its stored text scanned
   * again; and no rows read at all when every record it asks for is here). Filled at commit (a rolled-back append
   * leaves nothing), bounded by `RECENT_MAX_EVENTS` and `RECENT_MAX_CHARS`, emptied when retention deletes records.
   */
  readonly #recent = new RecentRecords<CloudEvent>(RECENT_MAX_EVENTS, RECENT_MAX_CHARS);
  /** By partition, the offset after the last record this log appended (`localEnd`). */
  readonly #localEnd: number[] = [];
  /** The appends of this tick whose write has not run yet, by dedup window (see `#startBatch`). */
  readonly #pending = new Map<number, PendingAppend>();

  constructor(db: SqliteDatabase, options: SqliteEventLogOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
    this.#retentionMs = requireInteger('retentionMs', options.retentionMs ?? WEEK_MS, 1);
    this.#pollMs = requireInteger('pollIntervalMs', options.pollIntervalMs ?? 100, 1);
    this.#backoffMs = requireInteger('retryBackoffMs', options.retryBackoffMs ?? 100, 0);
    this.#onError = options.onError ?? (() => {});
    const retentionInterval = requireInteger('retentionIntervalMs', options.retentionIntervalMs ?? 60_000, 0);
    if (options.partitions !== undefined) requireInteger('partitions', options.partitions, 1, MAX_PARTITIONS);
    const memoryKeys = requireInteger('dedupMemoryKeys', options.dedupMemoryKeys ?? MEMORY_DEDUP_MAX_KEYS, 0);
    this.#keys = memoryKeys > 0 ? new RecentKeys(memoryKeys) : undefined;
    db.migrate(SCHEMA);
    // A database made before records carried their layout gets the columns (its rows have none: NULL, full check).
    const columns = new Set(db.all('PRAGMA table_info(log_records)').map((column) => String(column.name)));
    for (const name of LAYOUT_COLUMNS) {
      if (!columns.has(name)) db.migrate(`ALTER TABLE log_records ADD COLUMN ${name} INTEGER`);
    }
    this.#initDedupNewest();
    this.partitions = this.#initPartitions(options.partitions);
    if (retentionInterval > 0) {
      this.#retentionTimer = setInterval(() => {
        this.pruneBefore(this.#clock.now() - this.#retentionMs).catch(this.#onError);
      }, retentionInterval);
      this.#retentionTimer.unref();
    }
  }

  async append(events: readonly CloudEvent[], options?: AppendOptions): Promise<AppendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(events)) {
      throw new JunctionError('InvalidRequest', `events must be an array; got ${typeof events}`, {
        field: 'events',
      });
    }
    const windowMs = options?.dedupWindowMs ?? 0;
    if (typeof windowMs !== 'number' || !Number.isFinite(windowMs) || windowMs < 0) {
      throw new JunctionError(
        'InvalidRequest',
        `dedupWindowMs must be a number ≥ 0; got ${JSON.stringify(windowMs)}`,
        {
          field: 'dedupWindowMs',
        },
      );
    }
    if (events.length === 0) return [];
    for (const [i, event] of events.entries()) {
      for (const name of ['source', 'id'] as const) {
        if (typeof event?.[name] !== 'string' || event[name].length === 0) {
          throw new JunctionError(
            'InvalidEvent',
            `events[${i}].${name} must be a non-empty string; got ${JSON.stringify(event?.[name])}`,
            { field: name },
          );
        }
      }
    }
    const prepared: Prepared[] = events.map((event) => {
      const { text, dataAt, dataEnd } = serializeStoredEvent(event);
      return { event, key: partitionKeyOf(event), text, dataAt, dataEnd, timestamp: 0 };
    });
    if (windowMs > this.#maxDedupWindowMs) this.#maxDedupWindowMs = windowMs;
    const memory = this.#keys;
    if (windowMs > 0 && memory !== undefined) {
      if (windowMs <= MEMORY_DEDUP_MAX_WINDOW_MS && memory.cover(windowMs)) this.#stale = true;
      if (memory.spanMs > 0 && (this.#stale || this.#rebuilding !== undefined)) {
        await this.#rebuildKeys(memory);
      }
    }
    const batch = this.#pending.get(windowMs) ?? this.#startBatch(windowMs);
    const start = batch.items.length;
    for (const item of prepared) batch.items.push(item);
    return batch.done.then((results) => results.slice(start, start + prepared.length));
  }

  /**
   * One write for every append of this tick (with the same dedup window), in the order they were called: each call
   * cost a lookup, an insert and a partition head read and update of its own (most of a single event's append).
   * The events of later calls are duplicates of earlier ones as if each had been a write of its own, and a failure
   * fails them all, as it failed the whole group commit before.
   */
  #startBatch(windowMs: number): PendingAppend {
    const items: Prepared[] = [];
    const touched = new Set<number>();
    const forget = () => {
      if (this.#pending.get(windowMs)?.items === items) this.#pending.delete(windowMs);
    };
    // Subscribers are woken at commit, before the fsync that the producer's answer waits for: routing starts while
    // the disk catches up. Were the append then lost to a power cut, the producer got no answer and sends again, so
    // an event delivered early is at worst delivered twice (at-least-once); an exactly-once claim is durable and,
    // coming later in the same WAL, makes the append durable before the target runs. An append waits for an fsync
    // under way at most `APPEND_SYNC_PATIENCE_MS` before it is committed: on a disk another bus kept busy, fsyncs took
    // up to 100 ms, and every event appended meanwhile was routed that much later (docs/benchmarks.md).
    const done = this.#db.write(
      () => {
        forget();
        return this.#appendNow(items, windowMs, touched);
      },
      {
        // It refuses nothing once it writes (a failure of SQLite fails the whole group commit).
        atomic: true,
        syncPatienceMs: APPEND_SYNC_PATIENCE_MS,
        onCommit: (results) => {
          this.#remember(items, results);
          notifyAppend(this.#db.path, touched);
        },
      },
    );
    // A write refused before it ran (the database closed) must not take the appends that come after it. One that
    // failed rolled back: what the keys in memory cover is read from the log again (`#indexKeys`).
    done.then(forget, () => {
      forget();
      this.#indexed = [];
      this.#stale = true;
    });
    const batch = { items, done };
    this.#pending.set(windowMs, batch);
    return batch;
  }

  async read(partition: number, fromOffset: number, limit: number): Promise<LogRecord[]> {
    this.#assertOpen();
    this.#checkPartition(partition);
    requireInteger('fromOffset', fromOffset, 0);
    requireInteger('limit', limit, 0);
    if (limit === 0) return [];
    return this.readNow(partition, fromOffset, limit);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.#assertOpen();
    if (typeof options?.group !== 'string' || options.group.length === 0) {
      throw new JunctionError(
        'InvalidRequest',
        `group must be a non-empty string; got ${JSON.stringify(options?.group)}`,
        {
          field: 'group',
        },
      );
    }
    if (typeof options.handler !== 'function') {
      throw new JunctionError('InvalidRequest', 'handler must be a function', { field: 'handler' });
    }
    const maxBatch = requireInteger('maxBatch', options.maxBatch ?? 500, 1);
    const groups = activeGroups.get(this.#db.path) ?? new Set<string>();
    if (groups.has(options.group)) {
      throw new JunctionError(
        'InvalidRequest',
        `group ${JSON.stringify(options.group)} already has a member in this process; the SQLite log runs one member per group`,
        { field: 'group' },
      );
    }
    groups.add(options.group);
    activeGroups.set(this.#db.path, groups);
    const subscription = new SqliteSubscription({
      log: this,
      group: options.group,
      handler: options.handler,
      maxBatch,
      pollMs: this.#pollMs,
      backoffMs: this.#backoffMs,
      onError: this.#onError,
      path: this.#db.path,
      onClosed: (s) => {
        this.#subscriptions.delete(s);
        activeGroups.get(this.#db.path)?.delete(options.group);
      },
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /**
   * The dedup keys of short windows this log holds in memory, and how many such keys went to `log_dedup` instead
   * because memory was full (the storage metrics, docs/operations.md).
   */
  get dedupMemory(): { readonly keys: number; readonly spilled: number } {
    return { keys: this.#keys?.size ?? 0, spilled: this.#spilled };
  }

  async offsetsForTime(timestamp: number): Promise<Position[]> {
    this.#assertOpen();
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) {
      throw new JunctionError(
        'InvalidRequest',
        `timestamp must be a number; got ${JSON.stringify(timestamp)}`,
        {
          field: 'timestamp',
        },
      );
    }
    const ends = this.#endOffsetsNow();
    return ends.map(({ partition, offset: end }) => ({
      partition,
      offset: this.#firstAtOrAfter(partition, timestamp, end),
    }));
  }

  async endOffsets(): Promise<Position[]> {
    this.#assertOpen();
    return this.#endOffsetsNow();
  }

  async committed(group: string): Promise<Position[]> {
    this.#assertOpen();
    const offsets = this.committedNow(group);
    return offsets.map((offset, partition) => ({ partition, offset }));
  }

  /**
   * Deletes records with a timestamp before `timestamp`, but never a record at or past any group's committed
   * offset, and expired dedup entries. Answers how many records went.
   */
  async pruneBefore(timestamp: number): Promise<number> {
    this.#assertOpen();
    if (typeof timestamp !== 'number' || Number.isNaN(timestamp)) {
      throw new JunctionError(
        'InvalidRequest',
        `timestamp must be a number; got ${JSON.stringify(timestamp)}`,
        {
          field: 'timestamp',
        },
      );
    }
    // In bounded writes: a minute of records at thousands of events a second, or the dedup keys a lazy prune left.
    return this.#db.pruneInWrites((limit) => this.#pruneSome(timestamp, limit), {
      // A read served from memory must not answer records retention has deleted.
      onCommit: ({ counted }) => {
        if (counted > 0) this.#recent.clear();
      },
    });
  }

  /**
   * Deletes up to `budget` rows of what `pruneBefore` deletes: records first, partition by partition, the oldest of
   * each first, then expired dedup keys. Answers how many rows went in all, and how many of them were records.
   */
  #pruneSome(timestamp: number, budget: number): PruneBatch {
    let records = 0;
    for (const { partition, offset: end } of this.#endOffsetsNow()) {
      if (records >= budget) break;
      const first = this.#db.get(
        'SELECT offset FROM log_records WHERE partition = ? ORDER BY offset LIMIT 1',
        partition,
      );
      if (first === undefined) continue;
      const row = this.#db.get('SELECT min(offset) AS low FROM log_commits WHERE partition = ?', partition);
      const low = row?.low === null || row?.low === undefined ? Number.MAX_SAFE_INTEGER : Number(row.low);
      // The records before `timestamp` are a prefix of the partition (timestamps never decrease in it).
      const before = this.#firstAtOrAfter(partition, timestamp, end);
      records += this.#db.run(
        'DELETE FROM log_records WHERE partition = ? AND offset < ?',
        partition,
        Math.min(before, low, Number(first.offset) + budget - records),
      );
    }
    const keys =
      this.#maxDedupWindowMs > 0 && records < budget
        ? this.#deleteExpiredKeys(this.#clock.now() - this.#maxDedupWindowMs, budget - records)
        : 0;
    return { rows: records + keys, counted: records };
  }

  /** Stops every subscription (waiting for running handlers); the database stays open for its owner. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retentionTimer !== undefined) clearInterval(this.#retentionTimer);
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }

  /** @internal Whether the shared database has been closed under the log (subscriptions then stop). */
  get databaseClosed(): boolean {
    return this.#db.closed;
  }

  /** @internal The committed offsets of a group, by partition. */
  committedNow(group: string): number[] {
    const offsets = new Array<number>(this.partitions).fill(0);
    for (const row of this.#db.all('SELECT partition, offset FROM log_commits WHERE grp = ?', group)) {
      const partition = Number(row.partition);
      if (partition < this.partitions) offsets[partition] = Number(row.offset);
    }
    return offsets;
  }

  /**
   * @internal Records the group's position in a partition, through group commit. It answers at commit, without
   * waiting for durability: the handler's own writes came first in the same WAL, so a power cut that takes the
   * position back takes back nothing before it, and the records are processed again (their deliveries are keyed).
   */
  commit(group: string, partition: number, offset: number): Promise<void> {
    return this.#db.write(
      () => {
        this.#db.run(
          'INSERT INTO log_commits (grp, partition, offset) VALUES (?, ?, ?) ON CONFLICT (grp, partition) DO UPDATE SET offset = excluded.offset',
          group,
          partition,
          offset,
        );
      },
      { durable: false, atomic: true },
    );
  }

  /**
   * The first offset of `partition` whose record's timestamp is at or after `timestamp`, else `end` (the partition's
   * next offset). Record timestamps never decrease within a partition, so this is a binary search over offsets: a
   * few primary-key lookups, where an index on time cost every append a b-tree insert (and its page in each commit).
   */
  #firstAtOrAfter(partition: number, timestamp: number, end: number): number {
    const next = (offset: number) =>
      this.#db.get(
        'SELECT offset, timestamp FROM log_records WHERE partition = ? AND offset >= ? ORDER BY offset LIMIT 1',
        partition,
        offset,
      );
    const first = next(0);
    if (first === undefined) return end;
    let low = Number(first.offset);
    let high = end;
    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      const row = next(middle);
      if (row === undefined || Number(row.timestamp) >= timestamp) high = middle;
      else low = Number(row.offset) + 1;
    }
    // Retention only ever deletes a prefix, so offsets are dense from the first; were one missing, the answer is the
    // record at or after where the search ended.
    const found = next(low);
    return found === undefined ? end : Number(found.offset);
  }

  /** @internal Reads without the open check, for subscriptions finishing after close began. */
  readNow(partition: number, fromOffset: number, limit: number): LogRecord[] {
    return this.#readRecent(partition, fromOffset, limit) ?? this.#readRows(partition, fromOffset, limit);
  }

  #readRows(partition: number, fromOffset: number, limit: number): LogRecord[] {
    const rows = this.#db.all(
      'SELECT offset, key, timestamp, event, data_at, data_end FROM log_records WHERE partition = ? AND offset >= ? ORDER BY offset LIMIT ?',
      partition,
      fromOffset,
      limit,
    );
    return rows.map((row) => {
      const offset = Number(row.offset);
      const key = String(row.key);
      const timestamp = Number(row.timestamp);
      const event = this.#recent.get(partition, offset)?.event;
      if (event !== undefined) return { partition, offset, key, timestamp, event };
      const stored = readStored(row);
      if (stored !== undefined) return new StoredRecord(partition, offset, key, timestamp, stored);
      return { partition, offset, key, timestamp, event: readRecord(row) };
    });
  }

  /**
   * The records from `fromOffset` on when every one of them (up to `limit`, up to the partition's end) is in
   * `#recent`: offsets are dense, so the partition's next offset (one row) says which there are. Else undefined.
   */
  #readRecent(partition: number, fromOffset: number, limit: number): LogRecord[] | undefined {
    if (!this.#recent.has(partition, fromOffset)) return undefined;
    const row = this.#db.get('SELECT next_offset FROM log_partitions WHERE partition = ?', partition);
    const wanted = Math.max(0, Math.min(Number(row?.next_offset ?? 0), fromOffset + limit) - fromOffset);
    const records = this.readOwnAppends(partition, fromOffset, wanted);
    return records?.length === wanted ? records : undefined;
  }

  /**
   * @internal For subscriptions: the records from `fromOffset` on, up to `limit`, that follow one another in
   * `#recent` — no row read — or undefined when `fromOffset` is not there. Offsets are dense and `#recent` is filled
   * at commit, so a record there has every offset before it committed; but the answer stops before the first offset
   * it does not hold (not appended yet, or appended by another process), so a short answer is not the partition's
   * end: `read` answers that (`localEnd` says whether this process appended past the stop).
   */
  readOwnAppends(partition: number, fromOffset: number, limit: number): LogRecord[] | undefined {
    if (!this.#recent.has(partition, fromOffset)) return undefined;
    const records: LogRecord[] = [];
    for (let offset = fromOffset; records.length < limit; offset++) {
      const item = this.#recent.get(partition, offset);
      if (item === undefined) break;
      records.push({ partition, offset, key: item.key, timestamp: item.timestamp, event: item.event });
    }
    return records;
  }

  /** @internal The offset after the last record this log appended to `partition` (0 before its first append). */
  localEnd(partition: number): number {
    return this.#localEnd[partition] ?? 0;
  }

  /** Keeps the records an append committed (not its duplicates) for the subscriptions about to read them. */
  #remember(prepared: readonly Prepared[], results: readonly AppendResult[]): void {
    for (let i = 0; i < results.length; i++) {
      const result = results[i]!;
      const item = prepared[i];
      if (result.duplicate || item === undefined) continue;
      const { partition, offset } = result.position;
      this.#recent.add(partition, offset, {
        event: item.event,
        key: item.key,
        timestamp: item.timestamp,
        chars: item.text.length,
      });
      if (offset >= (this.#localEnd[partition] ?? 0)) this.#localEnd[partition] = offset + 1;
    }
  }

  #appendNow(prepared: readonly Prepared[], windowMs: number, touched: Set<number>): AppendResult[] {
    const now = this.#clock.now();
    this.#pruneDedupLazily(now);
    const heads = new Map<number, { next: number; last: number }>();
    const head = (partition: number) => {
      let h = heads.get(partition);
      if (h === undefined) {
        const row = this.#db.get(
          'SELECT next_offset, last_timestamp FROM log_partitions WHERE partition = ?',
          partition,
        );
        h = { next: Number(row?.next_offset ?? 0), last: Number(row?.last_timestamp ?? 0) };
        heads.set(partition, h);
      }
      return h;
    };
    // The keys accepted within the window: in memory for a short window (`RecentKeys`), else in `log_dedup` (read a
    // chunk at a time) — and in both when each holds some. A repeat of one of them or of a key this append takes is
    // a duplicate, answered with the position of the copy that was accepted.
    const since = now - windowMs;
    const memory = windowMs > 0 ? this.#keys : undefined;
    const indexed = memory !== undefined && memory.spanMs > 0;
    if (indexed) this.#indexKeys(memory, now);
    const short = memory !== undefined && windowMs <= MEMORY_DEDUP_MAX_WINDOW_MS;
    const inMemory = short && memory.size + prepared.length <= memory.maxKeys;
    let taken: Map<string, Map<string, Position>> | undefined;
    if (windowMs > 0) {
      taken = !inMemory || this.#tableHoldsSince(since) ? this.#acceptedSince(prepared, since) : new Map();
    }
    const results: AppendResult[] = [];
    const records: [number, number, string, number, string, number | null, number | null][] = [];
    const keys: [string, string, number, number, number][] = [];
    for (const item of prepared) {
      const { event, key, text, dataAt, dataEnd } = item;
      if (taken !== undefined) {
        let position = taken.get(event.source)?.get(event.id);
        if (position === undefined && memory !== undefined && memory.size > 0) {
          position = this.#acceptedInMemory(memory, event, since);
        }
        if (position !== undefined) {
          results.push({ duplicate: true, position });
          continue;
        }
      }
      const partition = partitionFor(key, this.partitions);
      const h = head(partition);
      const offset = h.next;
      const position = { partition, offset };
      if (taken !== undefined) {
        positionsOf(taken, event.source).set(event.id, position);
        if (inMemory) memory?.set(event.source, event.id, this.#pack(partition, offset), now);
        else keys.push([event.source, event.id, now, partition, offset]);
      }
      const timestamp = Math.max(now, h.last);
      item.timestamp = timestamp;
      records.push([
        partition,
        offset,
        key,
        timestamp,
        text,
        dataAt < 0 ? null : dataAt,
        dataAt < 0 ? null : dataEnd,
      ]);
      h.next = offset + 1;
      h.last = timestamp;
      touched.add(partition);
      results.push({ duplicate: false, position });
    }
    if (short && !inMemory) this.#spilled += keys.length;
    if (keys.length > 0) {
      // A key that is in the table is older than the window: this append takes it over, as a new row (REPLACE
      // deletes the old one), so that rows stay in the order of their acceptance (`#dedupExpiredBelow`).
      this.#db.insertRows(
        'INSERT OR REPLACE INTO log_dedup (source, id, accepted_at, partition, offset)',
        keys,
      );
      this.#db.run(DEDUP_NEWEST_UPDATE, now, now);
    }
    this.#db.insertRows(
      'INSERT INTO log_records (partition, offset, key, timestamp, event, data_at, data_end)',
      records,
    );
    for (const [partition, h] of heads) {
      this.#db.run(
        'UPDATE log_partitions SET next_offset = ?, last_timestamp = ? WHERE partition = ?',
        h.next,
        h.last,
        partition,
      );
      // Indexed up to the head before this append (not if it had no window: another process's appends may come
      // before it): its own keys are in memory already, or, past the bound, in the table.
      if (indexed) this.#indexed[partition] = h.next;
    }
    return results;
  }

  /**
   * Puts in memory the keys of records appended since it last looked: those another process (or another log on the
   * file) appended, or any append's while it built them (`#rebuildKeys`). Runs in the write, so no append comes
   * between; were memory not built (a write failed since the append that waited for the build), it builds it here.
   */
  #indexKeys(memory: RecentKeys, now: number): void {
    for (const { partition, offset: end } of this.#endOffsetsNow()) {
      let from = this.#startOfSpan(memory, partition, end, now, this.#indexed[partition]);
      while (from < end) from = this.#indexChunk(memory, partition, from, end, now);
      this.#indexed[partition] = end;
    }
  }

  /**
   * Builds the keys in memory from the records of the kept span, a chunk of `KEY_INDEX_CHUNK` records an event-loop
   * turn (a million records take about a second), while windowed appends wait for it: after a start, a failed
   * write or a longer window. Records appended meanwhile are indexed by the next write (`#indexKeys`).
   */
  #rebuildKeys(memory: RecentKeys): Promise<void> {
    if (this.#rebuilding === undefined) {
      this.#stale = false;
      const build = async () => {
        const now = this.#clock.now();
        const indexed: number[] = [];
        for (const { partition, offset: end } of this.#endOffsetsNow()) {
          let from = this.#startOfSpan(memory, partition, end, now, undefined);
          while (from < end) {
            from = this.#indexChunk(memory, partition, from, end, now);
            await new Promise((resolve) => setImmediate(resolve));
            this.#assertOpen();
          }
          indexed[partition] = end;
        }
        // A write that failed meanwhile asks for another build.
        if (!this.#stale) this.#indexed = indexed;
      };
      this.#rebuilding = build().finally(() => {
        this.#rebuilding = undefined;
      });
    }
    return this.#rebuilding;
  }

  /**
   * Where the keys of a partition that memory does not cover start: after `indexed` if given, else at the kept span;
   * and at most `maxKeys / partitions` records before its end (past the bound, a repeat of an older key in the span
   * is not found: let in twice, never refused wrongly).
   */
  #startOfSpan(
    memory: RecentKeys,
    partition: number,
    end: number,
    now: number,
    indexed: number | undefined,
  ): number {
    const from = indexed ?? this.#firstAtOrAfter(partition, now - memory.spanMs, end);
    return Math.max(from, end - Math.ceil(memory.maxKeys / this.partitions));
  }

  /** Puts in memory the keys of up to `KEY_INDEX_CHUNK` records of `partition` from `from` (before `end`); answers where the next chunk starts. */
  #indexChunk(memory: RecentKeys, partition: number, from: number, end: number, now: number): number {
    const rows = this.#db.all(
      'SELECT offset, event, data_at, data_end FROM log_records WHERE partition = ? AND offset >= ? AND offset < ? ORDER BY offset LIMIT ?',
      partition,
      from,
      end,
      KEY_INDEX_CHUNK,
    );
    if (rows.length === 0) return end;
    let next = from;
    for (const row of rows) {
      const offset = Number(row.offset);
      const { source, id } = attributesOf(row);
      if (typeof source === 'string' && typeof id === 'string') {
        memory.set(source, id, this.#pack(partition, offset), now);
      }
      next = offset + 1;
    }
    return next;
  }

  /** A position as one number, `offset * partitions + partition`: the value of `#keys`. */
  #pack(partition: number, offset: number): number {
    return offset * this.partitions + partition;
  }

  #unpack(packed: number): Position {
    const partition = packed % this.partitions;
    return { partition, offset: (packed - partition) / this.partitions };
  }

  /**
   * Whether `log_dedup` may hold a key accepted after `since`: the newest acceptance time it was given
   * (`dedup_newest` in `log_meta`, raised with every insert, never lowered by a prune), one row read.
   */
  #tableHoldsSince(since: number): boolean {
    const row = this.#db.get(DEDUP_NEWEST_SELECT);
    return row !== undefined && Number(row.value) > since;
  }

  /**
   * `log_dedup` has no index on time (a third b-tree for every key, ≈ 4% of durable batch ingest): its rows are in
   * the order of their acceptance, by rowid, as each write takes its time inside the write lock and a key taken over
   * gets a new row. So the expired rows are those below a rowid, found by a binary search of ≈ log₂(rows) steps.
   * Answers that rowid: every row under it was accepted at or before `cutoff`, unless the clock stepped (a row
   * accepted later with an earlier time, or the other way) — callers delete under it only the rows with
   * `accepted_at <= cutoff`, and lookups check the time anyway: a row out of order stays until a later prune, and
   * answers no lookup past its window. A database made before rows were taken over as new ones has such rows too.
   */
  #dedupExpiredBelow(cutoff: number): number {
    const first = this.#db.get(DEDUP_FIRST_ROW, Number.MIN_SAFE_INTEGER);
    if (first === undefined) return Number.MIN_SAFE_INTEGER;
    let low = Number(first.rowid);
    let high = Number(this.#db.get(DEDUP_LAST_ROWID)?.rowid ?? low) + 1;
    // Invariant: rows under `low` are expired (in order); the first row at or after `high`, if any, is not. A row
    // out of order misleads a step at most: the delete's time check keeps it, and no row blocks the search.
    while (low < high) {
      const middle = low + Math.floor((high - low) / 2);
      const row = this.#db.get(DEDUP_FIRST_ROW, middle);
      if (row !== undefined && Number(row.at) <= cutoff) low = Number(row.rowid) + 1;
      else high = middle;
    }
    return low;
  }

  /**
   * Sets `dedup_newest` once: from the time index of a database made before the index went (one step of it, then
   * the index goes), else from the rows (none in a new database).
   */
  #initDedupNewest(): void {
    if (this.#db.get(DEDUP_NEWEST_SELECT) === undefined) {
      const row = this.#db.get('SELECT max(accepted_at) AS at FROM log_dedup');
      const newest = row?.at === null || row?.at === undefined ? 0 : Number(row.at);
      this.#db.migrate(`INSERT OR IGNORE INTO log_meta (name, value) VALUES ('dedup_newest', '${newest}')`);
    }
    this.#db.migrate('DROP INDEX IF EXISTS log_dedup_time');
  }

  /**
   * The position of the copy of `event` accepted after `since`, as memory has it and the record there confirms
   * (a key left by a rolled-back write, or whose record is gone, names a record of another event or none).
   */
  #acceptedInMemory(memory: RecentKeys, event: CloudEvent, since: number): Position | undefined {
    const packed = memory.get(event.source, event.id);
    if (packed === undefined) return undefined;
    const { partition, offset } = this.#unpack(packed);
    let source: unknown;
    let id: unknown;
    let timestamp: number;
    const recent = this.#recent.get(partition, offset);
    if (recent !== undefined) {
      ({ source, id } = recent.event);
      timestamp = recent.timestamp;
    } else {
      const row = this.#db.get(
        'SELECT event, data_at, data_end, timestamp FROM log_records WHERE partition = ? AND offset = ?',
        partition,
        offset,
      );
      if (row === undefined) return undefined;
      ({ source, id } = attributesOf(row));
      timestamp = Number(row.timestamp);
    }
    return source === event.source && id === event.id && timestamp > since
      ? { partition, offset }
      : undefined;
  }

  /**
   * The positions of the keys among `prepared` accepted after `since` (within the dedup window), by source then
   * id: one lookup per `DEDUP_LOOKUP_CHUNK` ids of a source (a short chunk is padded with its last id, a very short
   * one looked up an id at a time).
   */
  #acceptedSince(
    prepared: ReadonlyArray<{ event: CloudEvent }>,
    since: number,
  ): Map<string, Map<string, Position>> {
    const bySource = new Map<string, string[]>();
    for (const { event } of prepared) {
      const ids = bySource.get(event.source);
      if (ids === undefined) bySource.set(event.source, [event.id]);
      else ids.push(event.id);
    }
    const taken = new Map<string, Map<string, Position>>();
    const lookup = this.#db.statement(DEDUP_LOOKUP_SQL);
    for (const [source, ids] of bySource) {
      for (let i = 0; i < ids.length; i += DEDUP_LOOKUP_CHUNK) {
        const chunk = ids.slice(i, i + DEDUP_LOOKUP_CHUNK);
        if (chunk.length < DEDUP_LOOKUP_FEW) {
          for (const id of chunk) {
            const row = this.#db.get(
              'SELECT partition, offset FROM log_dedup WHERE source = ? AND id = ? AND accepted_at > ?',
              source,
              id,
              since,
            );
            if (row !== undefined) {
              positionsOf(taken, source).set(id, {
                partition: Number(row.partition),
                offset: Number(row.offset),
              });
            }
          }
          continue;
        }
        while (chunk.length < DEDUP_LOOKUP_CHUNK) chunk.push(chunk[chunk.length - 1] as string);
        for (const row of lookup.all(source, since, ...chunk)) {
          positionsOf(taken, source).set(String(row.id), {
            partition: Number(row.partition),
            offset: Number(row.offset),
          });
        }
      }
    }
    return taken;
  }

  /** Drops dedup entries older than the largest window seen, a bounded batch at most once a second. */
  #pruneDedupLazily(now: number): void {
    if (this.#maxDedupWindowMs === 0 || now - this.#lastDedupPrune < DEDUP_PRUNE_EVERY_MS) return;
    this.#lastDedupPrune = now;
    this.#deleteExpiredKeys(now - this.#maxDedupWindowMs, DEDUP_PRUNE_BATCH);
  }

  /** Deletes up to `limit` dedup keys accepted at or before `cutoff`, the oldest first; answers how many. */
  #deleteExpiredKeys(cutoff: number, limit: number): number {
    return this.#db.run(
      'DELETE FROM log_dedup WHERE rowid IN (SELECT rowid FROM log_dedup WHERE rowid < ? AND accepted_at <= ? LIMIT ?)',
      this.#dedupExpiredBelow(cutoff),
      cutoff,
      limit,
    );
  }

  #initPartitions(requested: number | undefined): number {
    const row = this.#db.get("SELECT value FROM log_meta WHERE name = 'partitions'");
    if (row !== undefined) {
      const existing = Number(row.value);
      if (requested !== undefined && requested !== existing) {
        throw new JunctionError(
          'InvalidRequest',
          `partitions: the log in ${this.#db.path} has ${existing} partitions and cannot change; got ${requested}`,
          { field: 'partitions' },
        );
      }
      return existing;
    }
    const count = requested ?? DEFAULT_PARTITIONS;
    this.#db.migrate(
      `INSERT OR IGNORE INTO log_meta (name, value) VALUES ('partitions', '${count}');
       ${Array.from({ length: count }, (_, p) => `INSERT OR IGNORE INTO log_partitions VALUES (${p}, 0, 0);`).join('\n')}`,
    );
    return Number(this.#db.get("SELECT value FROM log_meta WHERE name = 'partitions'")?.value ?? count);
  }

  #endOffsetsNow(): Position[] {
    return this.#db
      .all('SELECT partition, next_offset FROM log_partitions ORDER BY partition')
      .filter((row) => Number(row.partition) < this.partitions)
      .map((row) => ({ partition: Number(row.partition), offset: Number(row.next_offset) }));
  }

  #checkPartition(partition: number): void {
    requireInteger('partition', partition, 0, this.partitions - 1);
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new JunctionError('BufferUnavailable', 'the SQLite event log is closed', { retriable: true });
    }
  }
}

/** The source and id of a `log_records` row, as its layout gives them or else from its whole text. */
function attributesOf(row: Readonly<Record<string, SQLOutputValue>>): { source?: unknown; id?: unknown } {
  const stored = readStored(row);
  if (stored !== undefined) return stored.attributes;
  try {
    return parseStoredEvent(row.event);
  } catch {
    return {};
  }
}

/** The positions by id of one source in a map of sources, made when missing. */
function positionsOf(taken: Map<string, Map<string, Position>>, source: string): Map<string, Position> {
  let positions = taken.get(source);
  if (positions === undefined) {
    positions = new Map();
    taken.set(source, positions);
  }
  return positions;
}

/**
 * How long an append waits for an fsync of the WAL under way before it is committed anyway (`syncPatienceMs`): an
 * fsync here takes 0.5 ms at the median, and the appends of its time go in one transaction; one that a busy disk
 * holds for tens of milliseconds no longer holds the routing of what is appended meanwhile. Committing every append
 * at once (`eager`) cost single-event ingest ≈ 15% of its events per CPU-second (a transaction per turn).
 */
export const APPEND_SYNC_PATIENCE_MS = 2;

function notifyAppend(path: string, partitions: ReadonlySet<number>): void {
  if (partitions.size === 0) return;
  for (const listener of appendListeners.get(path) ?? []) listener(partitions);
}

interface SubscriptionParts {
  readonly log: SqliteEventLog;
  readonly group: string;
  readonly handler: RecordHandler;
  readonly maxBatch: number;
  readonly pollMs: number;
  readonly backoffMs: number;
  readonly onError: (error: unknown) => void;
  readonly path: string;
  readonly onClosed: (subscription: SqliteSubscription) => void;
}

/** The longest an idle partition's loop waits between reads (see `idlePause`). */
const IDLE_POLL_MAX_MS = 1_000;

/**
 * How long a partition's loop waits after its `empty`-th read in a row that found nothing: `pollMs`, doubling from
 * the second such read on, up to `IDLE_POLL_MAX_MS` (or `pollMs` if that is longer). Appends made in this process
 * wake the loop at once whatever the wait; only another process's appends wait for the next read — up to a second
 * on a partition idle for a while. Before, an idle bus read each of its partitions ten times a second: `junction dev`
 * with 11 idle buses used 4.5% of a core, 3.0% with the back-off.
 */
export function idlePause(pollMs: number, empty: number): number {
  const ceiling = Math.max(pollMs, IDLE_POLL_MAX_MS);
  return Math.min(ceiling, pollMs * 2 ** Math.min(Math.max(0, empty - 1), 30));
}

/** One consumer-group member: a loop per partition, one handler call in flight per partition. */
class SqliteSubscription implements Subscription {
  readonly #parts: SubscriptionParts;
  readonly #wakers = new Map<number, () => void>();
  /** By partition, how many appends in this process were announced to it (a change says: read again at once). */
  readonly #announced: number[] = [];
  readonly #listener: (partitions: ReadonlySet<number>) => void;
  #loops: Promise<void>[] = [];
  #closed = false;

  constructor(parts: SubscriptionParts) {
    this.#parts = parts;
    this.#listener = (partitions) => {
      for (const partition of partitions) {
        this.#announced[partition] = (this.#announced[partition] ?? 0) + 1;
        this.#wakers.get(partition)?.();
      }
    };
  }

  start(): void {
    const listeners = appendListeners.get(this.#parts.path) ?? new Set();
    listeners.add(this.#listener);
    appendListeners.set(this.#parts.path, listeners);
    const committed = this.#parts.log.committedNow(this.#parts.group);
    this.#loops = committed.map((offset, partition) => this.#run(partition, offset));
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      appendListeners.get(this.#parts.path)?.delete(this.#listener);
      for (const wake of this.#wakers.values()) wake();
    }
    await Promise.all(this.#loops);
    this.#parts.onClosed(this);
  }

  async #run(partition: number, start: number): Promise<void> {
    const { log, group, handler, maxBatch, pollMs, backoffMs, onError } = this.#parts;
    let position = start;
    let failures = 0;
    /** Reads in a row that found nothing: an idle partition polls less and less often (`idlePause`). */
    let empty = 0;
    while (!this.#closed && !log.databaseClosed) {
      let records: LogRecord[] | undefined;
      const announced = this.#announced[partition] ?? 0;
      let fromRecent = true;
      try {
        records = log.readOwnAppends(partition, position, maxBatch);
        if (records === undefined) {
          fromRecent = false;
          records = log.readNow(partition, position, maxBatch);
        }
      } catch (error) {
        onError(error);
        await this.#pause(partition, pollMs);
        continue;
      }
      if (records.length === 0) {
        empty += 1;
        await this.#pause(partition, idlePause(pollMs, empty));
        continue;
      }
      empty = 0;
      try {
        await handler(records);
        const next = records.at(-1)!.offset + 1;
        await log.commit(group, partition, next);
        position = next;
        failures = 0;
        // Caught up with what this process appended, and nothing announced since the read: the rows' end is where
        // `#recent`'s was, unless another process appended meanwhile — which an idle loop finds by polling anyway.
        // Waiting here (woken by the next append) spares a read of no rows per batch (a read transaction, ≈ 40 µs
        // of the loop per event at 500 events/s).
        if (
          fromRecent &&
          records.length < maxBatch &&
          position >= log.localEnd(partition) &&
          (this.#announced[partition] ?? 0) === announced
        ) {
          await this.#pause(partition, pollMs);
        }
      } catch (error) {
        onError(error);
        failures += 1;
        await this.#pause(partition, Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (failures - 1)), false);
        try {
          position = log.committedNow(group)[partition] ?? position;
        } catch (readError) {
          onError(readError);
        }
      }
    }
  }

  /** Waits `ms`, or less when an append wakes this partition (unless `wakeOnAppend` is false) or close() runs. */
  #pause(partition: number, ms: number, wakeOnAppend = true): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wakers.get(partition) === wake) this.#wakers.delete(partition);
        resolve();
      };
      const timer = setTimeout(done, ms);
      const wake = wakeOnAppend ? done : () => (this.#closed ? done() : undefined);
      this.#wakers.set(partition, wake);
    });
  }
}

/**
 * A row the bus marked, as its attributes and data text (`LogRecord.stored`); the event is built when first read —
 * the router reads it only for records that matched a rule.
 */
class StoredRecord implements LogRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly timestamp: number;
  readonly stored: StoredEvent;
  #event: CloudEvent | undefined;

  constructor(partition: number, offset: number, key: string, timestamp: number, stored: StoredEvent) {
    this.partition = partition;
    this.offset = offset;
    this.key = key;
    this.timestamp = timestamp;
    this.stored = stored;
  }

  get event(): CloudEvent {
    this.#event ??= storedEvent(this.stored);
    return this.#event;
  }
}

/**
 * The stored event of a `log_records` row the bus marked (`LAYOUT_COLUMNS`; the database is the bus's own, see
 * docs/security.md), read by its layout without building the event; `undefined` when the row has no mark or the
 * marked span does not fit the text (such a row is read with the codec's full check: `readRecord`).
 */
export function readStored(row: Readonly<Record<string, SQLOutputValue>>): StoredEvent | undefined {
  const { event, data_at: dataAt, data_end: dataEnd } = row;
  if (typeof event !== 'string' || typeof dataAt !== 'number' || typeof dataEnd !== 'number')
    return undefined;
  const attributes = readStoredAttributes(event, dataAt, dataEnd);
  return attributes === undefined ? undefined : { attributes, text: event, dataAt, dataEnd };
}

/**
 * The event of a `log_records` row: by its layout when the bus marked it (`LAYOUT_COLUMNS`; the database is the bus's
 * own, see docs/security.md), else — or when the marked span does not fit the text — with the codec's full check.
 */
export function readRecord(row: Readonly<Record<string, SQLOutputValue>>): CloudEvent {
  const { event, data_at: dataAt, data_end: dataEnd } = row;
  if (typeof event === 'string' && typeof dataAt === 'number' && typeof dataEnd === 'number') {
    const read = readStoredEvent(event, dataAt, dataEnd);
    if (read !== undefined) return read;
  }
  return parseStoredEvent(event);
}
