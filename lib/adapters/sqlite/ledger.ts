/** Ledger on SQLite: one row per delivery (source, id, rule, target); claims are single conditional UPDATEs. */
import type { SQLInputValue } from 'node:sqlite';
import { serializeEvent } from '../../core/cloudevent.ts';
import { decodeCursor, encodeCursor } from '../../core/cursor.ts';
import { JunctionError } from '../../core/errors.ts';
import type {
  Attempt,
  Clock,
  CompleteOptions,
  DeliveryFilter,
  DeliveryKey,
  DeliveryPage,
  EnqueueOptions,
  Ledger,
  LedgerEntry,
  LedgerState,
  LiveDelivery,
  PendingDelivery,
  PendingStat,
  ReopenItem,
  ReopenOutcome,
} from '../../ports.ts';
import { systemClock } from '../../ports.ts';
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

export interface SqliteLedgerOptions {
  /** Where `updatedAt` of enqueue, reschedule and reopen comes from. @default systemClock */
  readonly clock?: Clock;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ledger (
  source TEXT NOT NULL, id TEXT NOT NULL, rule TEXT NOT NULL, target TEXT NOT NULL,
  state TEXT NOT NULL, event TEXT, partition INTEGER, offset INTEGER,
  created_at INTEGER NOT NULL, due_at INTEGER NOT NULL, attempts TEXT NOT NULL DEFAULT '[]',
  lease_until INTEGER, redrive_of TEXT, updated_at INTEGER NOT NULL,
  PRIMARY KEY (source, id, rule, target));
DROP INDEX IF EXISTS ledger_state_due;
DROP INDEX IF EXISTS ledger_state_updated;
CREATE INDEX IF NOT EXISTS ledger_pending_due ON ledger (due_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS ledger_done ON ledger (updated_at) WHERE state IN ('delivered', 'dead-lettered');
CREATE INDEX IF NOT EXISTS ledger_live ON ledger (rule, target, created_at)
  WHERE state IN ('pending', 'in-flight');
CREATE INDEX IF NOT EXISTS ledger_leases ON ledger (lease_until) WHERE state = 'in-flight';
`;

const KEY_WHERE = 'source = ? AND id = ? AND rule = ? AND target = ?';
const COLUMNS =
  'source, id, rule, target, state, event, partition, offset, created_at, due_at, attempts, lease_until, redrive_of, updated_at';

/** The SQLite Ledger. Every write goes through the database's group commit (one fsync per tick). */
export class SqliteLedger implements Ledger {
  readonly #db: SqliteDatabase;
  readonly #clock: Clock;

  constructor(db: SqliteDatabase, options: SqliteLedgerOptions = {}) {
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
    db.migrate(SCHEMA);
  }

  async enqueue(deliveries: readonly PendingDelivery[], options: EnqueueOptions = {}): Promise<boolean[]> {
    if (!Array.isArray(deliveries)) {
      throw new JunctionError('InvalidRequest', `deliveries must be an array; got ${typeof deliveries}`, {
        field: 'deliveries',
      });
    }
    if (deliveries.length === 0) {
      options.onAdded?.([]);
      return [];
    }
    const rows = deliveries.map((d, i) => this.#toRow(d, `deliveries[${i}]`));
    return this.#db.write(
      () =>
        rows.map(
          (params) =>
            this.#db.run(
              `INSERT INTO ledger (${COLUMNS}) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, NULL, ?, ?) ON CONFLICT DO NOTHING`,
              ...params,
            ) === 1,
        ),
      {
        durable: options.durable ?? true,
        // A non-durable enqueue's commit starts its deliveries: it does not wait for an fsync under way.
        eager: options.durable === false,
        ...(options.onAdded === undefined ? {} : { onCommit: options.onAdded }),
      },
    );
  }

  async due(now: number, limit: number): Promise<LiveDelivery[]> {
    requireNumber('now', now);
    requireInteger('limit', limit, 0);
    if (limit === 0) return [];
    return this.#db
      .all(
        // Two index range scans with their own LIMIT, merged: no sort of the whole backlog. Pending ones by
        // (state, due_at); in-flight ones by their lease's end (only leases that ran out are read: not the many a
        // busy process holds, which a scan by due_at would read on every call).
        `SELECT * FROM (SELECT ${COLUMNS}, rowid AS rid FROM ledger
           WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at, rowid LIMIT ?2)
         UNION ALL SELECT * FROM (SELECT ${COLUMNS}, rowid AS rid FROM ledger INDEXED BY ledger_leases
           WHERE state = 'in-flight' AND lease_until <= ?1 AND due_at <= ?1 ORDER BY due_at, rowid LIMIT ?2)
         ORDER BY due_at, rid LIMIT ?2`,
        now,
        limit,
      )
      .map(toLive);
  }

  async nextDueAt(): Promise<number | undefined> {
    const row = this.#db.get(
      `SELECT min(t) AS next FROM (
         SELECT min(due_at) AS t FROM ledger WHERE state = 'pending'
         UNION ALL SELECT min(max(due_at, lease_until)) FROM ledger WHERE state = 'in-flight')`,
    );
    return optionalNumber(row?.next);
  }

  async claim(key: DeliveryKey, now: number, leaseUntil: number): Promise<boolean> {
    const k = keyParams(key);
    requireNumber('now', now);
    requireNumber('leaseUntil', leaseUntil);
    return this.#db.write(
      () =>
        this.#db.run(
          `UPDATE ledger SET state = 'in-flight', lease_until = ?, updated_at = ?
           WHERE ${KEY_WHERE} AND (state = 'pending' OR (state = 'in-flight' AND lease_until <= ?))`,
          leaseUntil,
          now,
          ...k,
          now,
        ) === 1,
    );
  }

  async complete(
    key: DeliveryKey,
    attempt: Attempt,
    now: number,
    options: CompleteOptions = {},
  ): Promise<void> {
    const k = keyParams(key);
    requireNumber('now', now);
    const attemptJson = attemptText(attempt);
    await this.#db.write(
      () => {
        const changed = this.#db.run(
          `UPDATE ledger SET state = 'delivered', event = NULL, lease_until = NULL, updated_at = ?,
           attempts = json_insert(attempts, '$[#]', json(?)) WHERE ${KEY_WHERE}`,
          now,
          attemptJson,
          ...k,
        );
        if (changed === 0) throw missing(key);
      },
      { atomic: true, durable: options.durable ?? true },
    );
  }

  async reschedule(key: DeliveryKey, attempt: Attempt, dueAt: number): Promise<void> {
    const k = keyParams(key);
    requireNumber('dueAt', dueAt);
    const attemptJson = attemptText(attempt);
    const now = this.#clock.now();
    await this.#db.write(() => {
      const changed = this.#db.run(
        `UPDATE ledger SET state = 'pending', due_at = ?, lease_until = NULL, updated_at = ?,
           attempts = json_insert(attempts, '$[#]', json(?))
         WHERE ${KEY_WHERE} AND state IN ('pending', 'in-flight')`,
        dueAt,
        now,
        attemptJson,
        ...k,
      );
      if (changed === 0 && this.#stateOf(key) === undefined) throw missing(key);
    });
  }

  async abandon(key: DeliveryKey, now: number): Promise<void> {
    const k = keyParams(key);
    requireNumber('now', now);
    await this.#db.write(() => {
      const changed = this.#db.run(
        `UPDATE ledger SET state = 'dead-lettered', event = NULL, lease_until = NULL, updated_at = ?
         WHERE ${KEY_WHERE} AND state IN ('pending', 'in-flight')`,
        now,
        ...k,
      );
      if (changed === 0 && this.#stateOf(key) === undefined) throw missing(key);
    });
  }

  async get(key: DeliveryKey): Promise<{ entry: LedgerEntry; pending?: PendingDelivery } | undefined> {
    const row = this.#db.get(`SELECT ${COLUMNS} FROM ledger WHERE ${KEY_WHERE}`, ...keyParams(key));
    if (row === undefined) return undefined;
    const state = String(row.state) as LedgerState;
    const leaseUntil = state === 'in-flight' ? optionalNumber(row.lease_until) : undefined;
    const entry: LedgerEntry = {
      key: {
        source: String(row.source),
        id: String(row.id),
        rule: String(row.rule),
        target: String(row.target),
      },
      state,
      ...(leaseUntil === undefined ? {} : { leaseUntil }),
      updatedAt: Number(row.updated_at),
    };
    return state === 'pending' || state === 'in-flight' ? { entry, pending: toPending(row) } : { entry };
  }

  async reopen(delivery: PendingDelivery, options: { keepDelivered: boolean }): Promise<boolean> {
    const params = this.#toRow(delivery, 'delivery');
    const key = keyParams(delivery);
    return this.#db.write(() => {
      const state = this.#stateOf(delivery);
      if (state === 'pending' || state === 'in-flight') return false;
      if (state === 'delivered' && options.keepDelivered) return false;
      if (state !== undefined) this.#db.run(`DELETE FROM ledger WHERE ${KEY_WHERE}`, ...key);
      this.#db.run(
        `INSERT INTO ledger (${COLUMNS}) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
        ...params,
      );
      return true;
    });
  }

  async reopenMany(items: readonly ReopenItem[]): Promise<ReopenOutcome[]> {
    if (!Array.isArray(items)) {
      throw new JunctionError('InvalidRequest', `items must be an array; got ${typeof items}`, {
        field: 'items',
      });
    }
    if (items.length === 0) return [];
    const rows = items.map((item, i) => ({
      key: keyParams(item.delivery),
      params: this.#toRow(item.delivery, `items[${i}].delivery`),
      keepDelivered: item.keepDelivered === true,
    }));
    return this.#db.write(() =>
      rows.map(({ key, params, keepDelivered }): ReopenOutcome => {
        const state = this.#stateOfParams(key);
        if (state === 'pending' || state === 'in-flight') return 'live';
        if (state === 'delivered' && keepDelivered) return 'delivered';
        if (state !== undefined) this.#db.run(`DELETE FROM ledger WHERE ${KEY_WHERE}`, ...key);
        this.#db.run(
          `INSERT INTO ledger (${COLUMNS}) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, NULL, ?, ?)`,
          ...params,
        );
        return 'reopened';
      }),
    );
  }

  /** Deletes finished entries updated before `before`, the oldest first, in bounded writes; answers how many. */
  async prune(before: number): Promise<number> {
    requireNumber('before', before);
    return this.#db.pruneInWrites(
      (limit) => {
        const rows = this.#db.run(
          `DELETE FROM ledger WHERE rowid IN (SELECT rowid FROM ledger INDEXED BY ledger_done
           WHERE state IN ('delivered', 'dead-lettered') AND updated_at < ? ORDER BY updated_at LIMIT ?)`,
          before,
          limit,
        );
        return { rows, counted: rows };
      },
      // Finished entries gone: nothing to fsync for (the next durable write makes it durable); it refuses nothing.
      { durable: false, atomic: true },
    );
  }

  async pendingCount(): Promise<number> {
    const row = this.#db.get("SELECT count(*) AS n FROM ledger WHERE state IN ('pending', 'in-flight')");
    return Number(row?.n ?? 0);
  }

  /** One pass over the partial index `ledger_live` (it covers rule, target and created_at). */
  async pendingByTarget(): Promise<PendingStat[]> {
    return this.#db
      .all(
        `SELECT rule, target, count(*) AS n, min(created_at) AS oldest FROM ledger INDEXED BY ledger_live
         WHERE state IN ('pending', 'in-flight') GROUP BY rule, target ORDER BY rule, target`,
      )
      .map((row) => ({
        rule: String(row.rule),
        target: String(row.target),
        count: Number(row.n),
        oldestCreatedAt: Number(row.oldest),
      }));
  }

  /**
   * Live deliveries in (rule, target, createdAt, rowid) order, through the partial index `ledger_live`: none of
   * these change while a delivery is live, so the cursor (the last row's four) is stable under retries.
   */
  async list(filter: DeliveryFilter = {}): Promise<DeliveryPage> {
    const limit = requireInteger('limit', filter.limit ?? 100, 0);
    const where = ["state IN ('pending', 'in-flight')"];
    const params: Array<string | number> = [];
    if (filter.state !== undefined) {
      if (filter.state !== 'pending' && filter.state !== 'in-flight') {
        throw new JunctionError(
          'InvalidRequest',
          `state must be "pending" or "in-flight"; got ${JSON.stringify(filter.state)}`,
          { field: 'state' },
        );
      }
      where.push('state = ?');
      params.push(filter.state);
    }
    if (filter.rule !== undefined) {
      where.push('rule = ?');
      params.push(filter.rule);
    }
    if (filter.target !== undefined) {
      where.push('target = ?');
      params.push(filter.target);
    }
    if (filter.cursor !== undefined) {
      const position = decodeCursor(filter.cursor, ['string', 'string', 'number', 'number']);
      where.push('(rule, target, created_at, rowid) > (?, ?, ?, ?)');
      params.push(...(position as [string, string, number, number]));
    }
    if (limit === 0) return { deliveries: [] };
    // One more than asked tells whether another page follows.
    const rows = this.#db.all(
      `SELECT ${COLUMNS}, rowid AS rid FROM ledger INDEXED BY ledger_live WHERE ${where.join(' AND ')}
       ORDER BY rule, target, created_at, rowid LIMIT ?`,
      ...params,
      limit + 1,
    );
    const { page, last } = splitPage(rows, limit);
    return {
      deliveries: page.map(toLive),
      ...(last !== undefined
        ? {
            nextCursor: encodeCursor([
              String(last.rule),
              String(last.target),
              Number(last.created_at),
              Number(last.rid),
            ]),
          }
        : {}),
    };
  }

  async makeDue(keys: readonly DeliveryKey[], now: number): Promise<number> {
    return this.#updateEach(
      keys,
      now,
      `UPDATE ledger SET due_at = ?, updated_at = ? WHERE ${KEY_WHERE} AND state = 'pending' AND due_at > ?`,
      (k, updatedAt) => [now, updatedAt, ...k, now],
    );
  }

  async release(keys: readonly DeliveryKey[], now: number): Promise<number> {
    return this.#updateEach(
      keys,
      now,
      `UPDATE ledger SET lease_until = ?, due_at = min(due_at, ?), updated_at = ?
           WHERE ${KEY_WHERE} AND state = 'in-flight' AND lease_until > ?`,
      (k, updatedAt) => [now, now, updatedAt, ...k, now],
    );
  }

  /** Runs one UPDATE per delivery key in one write; answers how many rows changed. */
  async #updateEach(
    keys: readonly DeliveryKey[],
    now: number,
    sql: string,
    params: (key: ReturnType<typeof keyParams>, updatedAt: number) => SQLInputValue[],
  ): Promise<number> {
    if (!Array.isArray(keys)) {
      throw new JunctionError('InvalidRequest', `keys must be an array; got ${typeof keys}`, {
        field: 'keys',
      });
    }
    requireNumber('now', now);
    const keyed = keys.map(keyParams);
    if (keyed.length === 0) return 0;
    const updatedAt = this.#clock.now();
    return this.#db.write(() => {
      let changed = 0;
      for (const k of keyed) changed += this.#db.run(sql, ...params(k, updatedAt));
      return changed;
    });
  }

  #stateOf(key: DeliveryKey): LedgerState | undefined {
    return this.#stateOfParams(keyParams(key));
  }

  #stateOfParams(key: ReturnType<typeof keyParams>): LedgerState | undefined {
    const row = this.#db.get(`SELECT state FROM ledger WHERE ${KEY_WHERE}`, ...key);
    return row === undefined ? undefined : (String(row.state) as LedgerState);
  }

  /** The insert parameters (after the key) of a pending delivery, validated. */
  #toRow(d: PendingDelivery, field: string): Array<string | number | null> {
    for (const name of ['source', 'id', 'rule', 'target'] as const) {
      if (typeof d?.[name] !== 'string' || d[name].length === 0) {
        throw new JunctionError(
          'InvalidRequest',
          `${field}.${name} must be a non-empty string; got ${JSON.stringify(d?.[name])}`,
          { field: `${field}.${name}` },
        );
      }
    }
    requireNumber(`${field}.createdAt`, d.createdAt);
    requireNumber(`${field}.dueAt`, d.dueAt);
    if (d.event === null || typeof d.event !== 'object') {
      throw new JunctionError('InvalidRequest', `${field}.event must be a CloudEvent object`, {
        field: `${field}.event`,
      });
    }
    return [
      d.source,
      d.id,
      d.rule,
      d.target,
      serializeEvent(d.event),
      d.position?.partition ?? null,
      d.position?.offset ?? null,
      d.createdAt,
      d.dueAt,
      JSON.stringify(d.attempts ?? []),
      d.redriveOf ?? null,
      this.#clock.now(),
    ];
  }
}

function attemptText(attempt: Attempt): string {
  if (attempt === null || typeof attempt !== 'object' || typeof attempt.at !== 'number') {
    throw new JunctionError(
      'InvalidRequest',
      `attempt must be an Attempt object; got ${JSON.stringify(attempt)}`,
      {
        field: 'attempt',
      },
    );
  }
  return JSON.stringify(attempt);
}

/** The key as statement parameters, checked first: a bad key must fail its caller alone, not a group commit. */
function keyParams(key: DeliveryKey): [string, string, string, string] {
  for (const name of ['source', 'id', 'rule', 'target'] as const) {
    if (typeof key?.[name] !== 'string') {
      throw new JunctionError(
        'InvalidRequest',
        `key.${name} must be a string; got ${JSON.stringify(key?.[name])}`,
        {
          field: `key.${name}`,
        },
      );
    }
  }
  return [key.source, key.id, key.rule, key.target];
}

function missing(key: DeliveryKey): JunctionError {
  return new JunctionError(
    'NotFound',
    `delivery ${JSON.stringify(key.id)} from ${JSON.stringify(key.source)} to ${key.rule}/${key.target} is not in the ledger`,
    { details: { key } },
  );
}

function toLive(row: Row): LiveDelivery {
  const state = String(row.state) as 'pending' | 'in-flight';
  const leaseUntil = state === 'in-flight' ? optionalNumber(row.lease_until) : undefined;
  return { ...toPending(row), state, ...(leaseUntil === undefined ? {} : { leaseUntil }) };
}

function toPending(row: Row): PendingDelivery {
  const partition = optionalNumber(row.partition);
  const offset = optionalNumber(row.offset);
  const redriveOf = row.redrive_of === null ? undefined : String(row.redrive_of);
  return {
    source: String(row.source),
    id: String(row.id),
    rule: String(row.rule),
    target: String(row.target),
    event: parseStoredEvent(row.event),
    ...(partition === undefined || offset === undefined ? {} : { position: { partition, offset } }),
    createdAt: Number(row.created_at),
    dueAt: Number(row.due_at),
    attempts: parseFrozen<Attempt[]>(row.attempts),
    ...(redriveOf === undefined ? {} : { redriveOf }),
  };
}
