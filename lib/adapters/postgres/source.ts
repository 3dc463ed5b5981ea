/**
 * PostgreSQL change data capture (issue #18): logical replication with `pgoutput` (through the `pg-logical-replication`
 * client on `pg`) of a publication through a replication slot. One CloudEvent per row change, typed
 * `<prefix>.<schema>.<table>.insert|update|delete|truncate`, with `{before, after}` as data, the transaction id and
 * commit LSN and time as extensions, and an id from the position (the commit LSN and the change's index in its
 * transaction), so a transaction streamed again after a crash is dropped by the idempotent publish. The slot's
 * confirmed LSN is the connector's position: it moves past a transaction only once the log took every change of it.
 *
 * With `snapshot: true`, a slot the source creates starts with an initial snapshot: the slot is created on a
 * replication connection with `EXPORT_SNAPSHOT`, and every row of the publication's tables is read in that snapshot
 * (`SET TRANSACTION SNAPSHOT`) through a cursor, a page of `maxBatch` rows at a time, as
 * `<prefix>.<schema>.<table>.read` events with ids from the table and the primary key; streaming from the slot's LSN
 * starts once every page was taken by the log. A snapshot in progress is marked durably by a physical slot
 * `<slot>_junction_snap` (it reserves no WAL) created before the logical slot and dropped once the snapshot is done:
 * a start that finds both slots reads the tables again (in a new snapshot; the ids drop the rows already published),
 * then streams from the slot's LSN, which nothing moved while the snapshot was not done.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Pgoutput } from 'pg-logical-replication';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { validateEvent } from '../../core/cloudevent.ts';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { encodeBase64 } from '../../core/codec/base64.ts';
import { DEFAULT_INGEST_LIMITS } from '../../core/codec/http.ts';
import {
  type PostgresCdcConnectorSpec,
  type PostgresConnection,
  parsePostgresConnection,
} from '../../core/connector.ts';
import type { InvalidSourceRecord, Source, SourceContext, SourceStatus } from '../../ports.ts';
import { pgClientConfig } from './client.ts';

export interface PostgresCdcSourceOptions {
  readonly spec: PostgresCdcConnectorSpec;
  /** Largest event, in bytes of JSON; a larger row change is handed over as invalid. @default 1 MiB */
  readonly maxEventBytes?: number;
  /** How long `start` waits for a slot another connection still holds. @default 30 s */
  readonly slotWaitMs?: number;
  /**
   * Changes received and not yet taken by the bus past which a run ends and streams again from the confirmed LSN
   * after a backoff (see `#onData`). @default 50000
   */
  readonly maxUnhandled?: number;
}

const RETRY_BASE_MS = 250;
/** The cursor of a snapshot's table read. */
const SNAPSHOT_CURSOR = 'junction_snapshot';

/**
 * The physical slot marking a snapshot in progress for a logical slot (slot names are 1-63 of `[a-z0-9_]`): the name
 * with `_junction_snap`, a long name cut and told apart by a hash of it.
 */
export function snapshotMarkerSlot(slot: string): string {
  const suffix = '_junction_snap';
  if (slot.length + suffix.length <= 63) return `${slot}${suffix}`;
  const hash = createHash('sha256').update(slot).digest('hex').slice(0, 8);
  return `${slot.slice(0, 63 - suffix.length - 9)}_${hash}${suffix}`;
}
const RETRY_MAX_MS = 30_000;

/** An LSN (`XXXXXXXX/XXXXXXXX`) as a number (exact below 2^53 bytes of WAL). */
export function lsnNumber(lsn: string): number {
  const [high, low] = lsn.split('/');
  return Number.parseInt(high ?? '0', 16) * 2 ** 32 + Number.parseInt(low ?? '0', 16);
}

function lsnText(n: number): string {
  const high = Math.floor(n / 2 ** 32);
  const low = n - high * 2 ** 32;
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** An LSN as the stream's events show it (`00000000/0153A2B8`, as pg-logical-replication formats commit LSNs). */
function lsnPadded(lsn: string): string {
  const [high, low] = lsn.split('/');
  return `${(high ?? '0').toUpperCase().padStart(8, '0')}/${(low ?? '0').toUpperCase().padStart(8, '0')}`;
}

/** A column value as JSON: dates as RFC 3339, bytes as base64, big integers as strings. */
function jsonValue(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return encodeBase64(value);
  if (depth > 32) return null;
  if (Array.isArray(value)) return value.map((v) => jsonValue(v, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Undefined: a column the message does not carry (a key-only old row, an unchanged TOASTed value): left out.
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonValue(v, depth + 1);
    return out;
  }
  return value;
}

function row(values: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  return values === null || values === undefined ? null : (jsonValue(values) as Record<string, unknown>);
}

/** What is being streamed now: the transaction in progress, the changes not yet handed over. */
interface Run {
  readonly service: LogicalReplicationService;
  failed: boolean;
  tx: { xid: number; lsn: string; time: string; index: number } | undefined;
  events: CloudEvent[];
  invalid: InvalidSourceRecord[];
  /** The end LSN of the last transaction whose changes are all in `events` or handed over. */
  ackable: string | undefined;
  /** Row changes received, and handed over, since this run started (from the confirmed LSN). */
  received: number;
  handed: number;
  chain: Promise<void>;
  flushTimer: NodeJS.Immediate | undefined;
}

/** A PostgreSQL logical replication source for one connector. */
export class PostgresCdcSource implements Source {
  readonly #spec: PostgresCdcConnectorSpec;
  readonly #connection: PostgresConnection;
  readonly #maxEventBytes: number;
  readonly #maxUnhandled: number;
  readonly #slotWaitMs: number;
  #context: SourceContext | undefined;
  #run: Run | undefined;
  #closed = false;
  /** The slot's confirmed LSN (what the server streams from after a restart). */
  #confirmed: string | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  /** What a failed run had received and not handed over: still behind the confirmed LSN while the next run starts. */
  #behind = 0;
  /** The initial snapshot to read before streaming (set by `#prepare`), and the rows of it taken so far. */
  #snapshot: { reader: pg.Client; lsn: string } | undefined;
  #snapshotRows = 0;
  /** The snapshot page being handed to the log (`close` waits for it). */
  #snapshotHandling: Promise<void> | undefined;

  constructor(options: PostgresCdcSourceOptions) {
    this.#spec = options.spec;
    this.#connection = parsePostgresConnection(options.spec.connection);
    this.#maxEventBytes = options.maxEventBytes ?? DEFAULT_INGEST_LIMITS.maxEventBytes;
    this.#maxUnhandled = options.maxUnhandled ?? 50_000;
    this.#slotWaitMs = options.slotWaitMs ?? 30_000;
  }

  #clientConfig(): pg.ClientConfig {
    return pgClientConfig(this.#connection, `junction-cdc-${this.#spec.slot}`);
  }

  async start(context: SourceContext): Promise<void> {
    if (this.#closed) throw new Error('the connector is closed');
    this.#context = context;
    await this.#open();
  }

  async #open(): Promise<void> {
    await this.#prepare();
    if (this.#closed) {
      await this.#endSnapshot();
      throw new Error('the connector was closed while it started');
    }
    if (this.#snapshot !== undefined) await this.#readSnapshot(this.#snapshot);
    const deadline = Date.now() + this.#slotWaitMs;
    for (;;) {
      try {
        await this.#subscribe();
        return;
      } catch (error) {
        // The slot is still held by a connection that is going away (a restart, a closed source): wait for it.
        const inUse = (error as { code?: string }).code === '55006';
        if (!inUse || this.#closed || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
        if (this.#closed) throw new Error('the connector was closed while it started');
      }
    }
  }

  /** Checks the publication, creates the slot when missing, and reads its confirmed LSN. */
  async #prepare(): Promise<void> {
    const { publication, slot } = this.#spec;
    const client = new pg.Client(this.#clientConfig());
    client.on('error', () => undefined);
    await client.connect();
    try {
      const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
      if (pub.rowCount === 0) {
        throw new Error(
          `publication "${publication}" does not exist in database "${this.#connection.database}" (CREATE PUBLICATION ${publication} FOR TABLE …)`,
        );
      }
      let found = await client.query<{ plugin: string; database: string; confirmed: string | null }>(
        'SELECT plugin, database, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      const marker = snapshotMarkerSlot(slot);
      if (found.rowCount === 0 && this.#spec.snapshot) {
        // Marked first: a crash after the slot was made and before the snapshot was taken leaves the mark.
        try {
          await client.query('SELECT pg_create_physical_replication_slot($1)', [marker]);
        } catch (error) {
          if ((error as { code?: string }).code !== '42710') throw error;
          if (!(await this.#marked(client, marker))) {
            throw new Error(
              `replication slot "${marker}" exists and is not a physical slot marking a snapshot`,
            );
          }
        }
        this.#snapshot = await this.#createSlotWithSnapshot();
      } else if (found.rowCount === 0) {
        try {
          await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
        } catch (error) {
          if ((error as { code?: string }).code !== '42710') throw error; // created meanwhile by another
        }
      } else if (this.#spec.snapshot) {
        if (await this.#marked(client, marker)) {
          // A snapshot that did not finish: read again in a new snapshot; the ids drop what was published.
          const lsn = found.rows[0]?.confirmed ?? '0/0';
          this.#context?.onWarning(
            `the initial snapshot of slot ${slot} did not finish; reading the tables again (rows already published are dropped by their ids)`,
          );
          this.#snapshot = { reader: await this.#openReader(undefined), lsn };
        }
      }
      if (found.rowCount === 0) {
        found = await client.query(
          'SELECT plugin, database, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots WHERE slot_name = $1',
          [slot],
        );
      }
      const info = found.rows[0];
      if (info === undefined) throw new Error(`replication slot "${slot}" could not be created`);
      if (info.plugin !== 'pgoutput' || info.database !== this.#connection.database) {
        throw new Error(
          `replication slot "${slot}" is not a pgoutput slot of database "${this.#connection.database}"`,
        );
      }
      if (info.confirmed !== null) this.#confirmed = info.confirmed;
    } catch (error) {
      await this.#endSnapshot();
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Whether the physical slot marking a snapshot in progress exists. */
  async #marked(client: pg.Client, marker: string): Promise<boolean> {
    const found = await client.query(
      "SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'",
      [marker],
    );
    return found.rowCount !== 0;
  }

  /**
   * Creates the slot on a replication connection exporting its snapshot, and imports that snapshot into a reader's
   * transaction (the export lives only until the replication connection's next command, so it is imported first).
   */
  async #createSlotWithSnapshot(): Promise<{ reader: pg.Client; lsn: string }> {
    const replication = new pg.Client({
      ...this.#clientConfig(),
      replication: 'database',
    } as pg.ClientConfig);
    replication.on('error', () => undefined);
    await replication.connect();
    try {
      const created = await replication.query<{ consistent_point: string; snapshot_name: string | null }>(
        `CREATE_REPLICATION_SLOT ${this.#spec.slot} LOGICAL pgoutput EXPORT_SNAPSHOT`,
      );
      const info = created.rows[0];
      if (info?.snapshot_name == null)
        throw new Error(`replication slot "${this.#spec.slot}" exported no snapshot`);
      const reader = await this.#openReader(info.snapshot_name);
      return { reader, lsn: info.consistent_point };
    } finally {
      await replication.end().catch(() => undefined);
    }
  }

  /** A connection in a read-only repeatable-read transaction, in the given exported snapshot or a new one. */
  async #openReader(snapshotName: string | undefined): Promise<pg.Client> {
    const reader = new pg.Client(this.#clientConfig());
    reader.on('error', () => undefined);
    await reader.connect();
    try {
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      if (snapshotName !== undefined) {
        await reader.query(`SET TRANSACTION SNAPSHOT ${reader.escapeLiteral(snapshotName)}`);
      }
      return reader;
    } catch (error) {
      await reader.end().catch(() => undefined);
      throw error;
    }
  }

  async #endSnapshot(): Promise<void> {
    const snapshot = this.#snapshot;
    this.#snapshot = undefined;
    if (snapshot !== undefined) await snapshot.reader.end().catch(() => undefined);
  }

  /**
   * Reads every row of the publication's tables in the snapshot, a page of `maxBatch` rows at a time through a cursor,
   * hands each page to the log, then drops the mark: from then on the slot streams from its LSN.
   */
  async #readSnapshot(snapshot: { reader: pg.Client; lsn: string }): Promise<void> {
    const { reader, lsn } = snapshot;
    const spec = this.#spec;
    this.#snapshotRows = 0;
    try {
      const time = (await reader.query<{ now: Date }>('SELECT now() AS now')).rows[0]?.now ?? new Date();
      // As JSON: the column list (`attnames`) and row filter (`rowfilter`) exist from PostgreSQL 15 on.
      const tables = await reader.query<{
        t: { schemaname: string; tablename: string; attnames?: string[] | null; rowfilter?: string | null };
      }>(
        'SELECT to_jsonb(p) AS t FROM pg_publication_tables p WHERE pubname = $1 ORDER BY schemaname, tablename',
        [spec.publication],
      );
      for (const { t } of tables.rows) {
        const { schemaname: schema, tablename: table } = t;
        if (this.#closed) throw new Error('the connector was closed while it read its snapshot');
        const keys = (
          await reader.query<{ name: string }>(
            `SELECT a.attname AS name
               FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
              WHERE i.indrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND i.indisprimary
              ORDER BY array_position(i.indkey::int2[], a.attnum)`,
            [schema, table],
          )
        ).rows.map((r) => r.name);
        const name = `${reader.escapeIdentifier(schema)}.${reader.escapeIdentifier(table)}`;
        // Without a primary key, the row's place in the table names it (stable unless the row moved).
        // The publication's column list and row filter (an expression from the catalog) apply as to the stream.
        const columns = Array.isArray(t.attnames) ? t.attnames : undefined;
        const keyed = keys.length > 0 && (columns === undefined || keys.every((k) => columns.includes(k)));
        const list = columns === undefined ? '*' : columns.map((c) => reader.escapeIdentifier(c)).join(', ');
        const where = typeof t.rowfilter === 'string' && t.rowfilter !== '' ? ` WHERE ${t.rowfilter}` : '';
        const select = `SELECT ${keyed ? '' : 'ctid::text AS "$ctid", '}${list} FROM ${name}${where}`;
        await reader.query(`DECLARE ${SNAPSHOT_CURSOR} NO SCROLL CURSOR FOR ${select}`);
        for (;;) {
          if (this.#closed) throw new Error('the connector was closed while it read its snapshot');
          const page = await reader.query<Record<string, unknown>>(
            `FETCH FORWARD ${spec.maxBatch} FROM ${SNAPSHOT_CURSOR}`,
          );
          if (page.rows.length === 0) break;
          const events: CloudEvent[] = [];
          const invalid: InvalidSourceRecord[] = [];
          for (const raw of page.rows) {
            this.#read(schema, table, keyed ? keys : [], raw, lsn, time, events, invalid);
          }
          this.#snapshotHandling = (this.#context as SourceContext).handle({ events, invalid });
          try {
            await this.#snapshotHandling;
          } finally {
            this.#snapshotHandling = undefined;
          }
          this.#snapshotRows += page.rows.length;
          if (page.rows.length < spec.maxBatch) break;
        }
        await reader.query(`CLOSE ${SNAPSHOT_CURSOR}`);
      }
      await reader.query('COMMIT');
      await reader.query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'physical'",
        [snapshotMarkerSlot(spec.slot)],
      );
    } finally {
      await this.#endSnapshot();
    }
  }

  /** One snapshot row as a `read` event (or an invalid record when it cannot be one). */
  #read(
    schema: string,
    table: string,
    keys: readonly string[],
    raw: Record<string, unknown>,
    lsn: string,
    time: Date,
    events: CloudEvent[],
    invalid: InvalidSourceRecord[],
  ): void {
    const spec = this.#spec;
    const { $ctid: ctid, ...values } = raw;
    const after = row(values) ?? {};
    const subject =
      keys.length > 0
        ? keys
            .map((k) => `${k}=${typeof after[k] === 'string' ? after[k] : JSON.stringify(after[k])}`)
            .join(',')
        : undefined;
    const id = `snapshot:${schema}.${table}:${subject ?? `ctid=${String(ctid)}`}`;
    const at = time.toISOString();
    const event: Record<string, unknown> = {
      specversion: '1.0',
      id,
      source: spec.source,
      type: `${spec.typePrefix}.${schema}.${table}.read`,
      time: at,
      ...(subject === undefined ? {} : { subject }),
      datacontenttype: 'application/json',
      data: spec.data === 'row' ? after : { before: null, after },
      pglsn: lsnPadded(lsn),
    };
    try {
      events.push(validateEvent(event, { maxEventBytes: this.#maxEventBytes }));
    } catch (error) {
      invalid.push({
        position: id,
        reason: error instanceof Error ? error.message : String(error),
        record: {
          schema,
          table,
          operation: 'read',
          snapshotLsn: lsn,
          ...(subject === undefined ? {} : { key: subject }),
        },
      });
    }
  }

  /** Streams from the slot's confirmed LSN; resolves once the server started streaming. */
  async #subscribe(): Promise<void> {
    const service = new LogicalReplicationService(this.#clientConfig(), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    const run: Run = {
      service,
      failed: false,
      tx: undefined,
      events: [],
      invalid: [],
      ackable: undefined,
      received: 0,
      handed: 0,
      chain: Promise.resolve(),
      flushTimer: undefined,
    };
    this.#run = run;
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [this.#spec.publication] });
    let started = false;
    const ready = new Promise<void>((resolve, reject) => {
      service.on('start', () => {
        started = true;
        resolve();
      });
      service.on('data', (_lsn: string, message: Pgoutput.Message) => this.#onData(run, message));
      service.on('heartbeat', (_lsn: string, _time: number, shouldRespond: boolean) => {
        if (shouldRespond) this.#sendStatus(run);
      });
      service.on('error', (error: Error) => {
        if (!started) reject(error);
        else this.#fail(run, error);
      });
      // Streaming from 0/0 starts at the slot's confirmed LSN.
      service.subscribe(plugin, this.#spec.slot).then(
        () => {
          if (!started) reject(new Error('the server ended replication before it started'));
          else this.#fail(run, new Error('the server ended replication'));
        },
        (error: unknown) => {
          if (!started) reject(error);
          else this.#fail(run, error);
        },
      );
    });
    try {
      await ready;
      if (this.#closed) throw new Error('the connector was closed while it started');
    } catch (error) {
      if (this.#run === run) this.#run = undefined;
      run.failed = true;
      await service.destroy().catch(() => undefined);
      throw error;
    }
    this.#failures = 0;
  }

  /** Tells the server the confirmed LSN (the library sends the LSN it is given plus one, hence the minus one). */
  #sendStatus(run: Run): void {
    if (run.failed || this.#confirmed === undefined) return;
    const n = lsnNumber(this.#confirmed);
    if (n === 0) return;
    void run.service.acknowledge(lsnText(n - 1)).catch(() => undefined);
  }

  async #onData(run: Run, message: Pgoutput.Message): Promise<void> {
    if (run.failed || this.#run !== run) return;
    // The stream does not wait for the bus: while batches wait (a slow log, a quota holding the connector back), what
    // arrives is kept here. Past a bound the run ends and streams again, after a backoff, from the confirmed LSN.
    if (run.received - run.handed > this.#maxUnhandled) {
      this.#fail(run, new Error(`over ${this.#maxUnhandled} changes received and not yet taken by the bus`));
      return;
    }
    switch (message.tag) {
      case 'begin':
        run.tx = {
          xid: message.xid,
          lsn: message.commitLsn ?? '0/0',
          time: new Date(Number(BigInt(message.commitTime as bigint) / 1000n)).toISOString(),
          index: 0,
        };
        return;
      case 'insert':
        this.#change(run, message.relation, 'insert', null, row(message.new));
        break;
      case 'update':
        this.#change(run, message.relation, 'update', row(message.old ?? message.key), row(message.new));
        break;
      case 'delete':
        this.#change(run, message.relation, 'delete', row(message.old ?? message.key), null);
        break;
      case 'truncate':
        for (const relation of message.relations) this.#change(run, relation, 'truncate', null, null);
        break;
      case 'commit':
        run.tx = undefined;
        if (message.commitEndLsn !== null) run.ackable = message.commitEndLsn;
        // Not awaited: with the library's flow control an awaited handle would stall the stream behind a slow bus
        // whenever changes arrived together (one read), and only then; the bound above is what limits memory.
        if (run.events.length + run.invalid.length >= this.#spec.maxBatch) void this.#flush(run);
        else if (run.flushTimer === undefined) {
          // Everything already received is handled first (the library drains its queue without a macrotask).
          run.flushTimer = setImmediate(() => {
            run.flushTimer = undefined;
            void this.#flush(run);
          });
        }
        return;
      default:
        return;
    }
    // Within a large transaction: hand over a full batch (nothing is confirmed before its commit).
    if (run.events.length + run.invalid.length >= this.#spec.maxBatch) void this.#flush(run);
  }

  #change(
    run: Run,
    relation: Pgoutput.MessageRelation,
    operation: 'insert' | 'update' | 'delete' | 'truncate',
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
  ): void {
    const tx = run.tx;
    if (tx === undefined) return;
    const index = tx.index++;
    run.received += 1;
    const id = `${tx.lsn}:${index}`;
    const spec = this.#spec;
    // The replica identity's columns (the primary key by default; with FULL every column, so no subject).
    const keys = relation.replicaIdentity === 'full' ? [] : relation.keyColumns;
    const keyRow = after ?? before;
    const subject =
      keyRow !== null && keys.length > 0
        ? keys
            .map((k) => `${k}=${typeof keyRow[k] === 'string' ? keyRow[k] : JSON.stringify(keyRow[k])}`)
            .join(',')
        : undefined;
    const raw: Record<string, unknown> = {
      specversion: '1.0',
      id,
      source: spec.source,
      type: `${spec.typePrefix}.${relation.schema}.${relation.name}.${operation}`,
      time: tx.time,
      ...(subject === undefined ? {} : { subject }),
      datacontenttype: 'application/json',
      data: spec.data === 'row' ? (after ?? before) : { before, after },
      pgxid: String(tx.xid),
      pglsn: tx.lsn,
      pgcommittime: tx.time,
    };
    try {
      run.events.push(validateEvent(raw, { maxEventBytes: this.#maxEventBytes }));
    } catch (error) {
      run.invalid.push({
        position: id,
        reason: error instanceof Error ? error.message : String(error),
        record: {
          schema: relation.schema,
          table: relation.name,
          operation,
          xid: tx.xid,
          commitLsn: tx.lsn,
          index,
          commitTime: tx.time,
          ...(subject === undefined ? {} : { key: subject }),
        },
      });
    }
  }

  /** Hands what was received to the bus, then confirms the last whole transaction in it; batches go in order. */
  #flush(run: Run): Promise<void> {
    const events = run.events;
    const invalid = run.invalid;
    const ack = run.ackable;
    run.events = [];
    run.invalid = [];
    run.ackable = undefined;
    run.chain = run.chain.then(async () => {
      if (run.failed || this.#run !== run) return;
      try {
        if (events.length > 0 || invalid.length > 0) {
          await (this.#context as SourceContext).handle({ events, invalid });
          run.handed += events.length + invalid.length;
        }
        if (ack !== undefined && !run.failed) {
          this.#confirmed = ack;
          this.#behind = 0;
          this.#sendStatus(run);
        }
      } catch (error) {
        this.#fail(run, error);
      }
    });
    return run.chain;
  }

  /** Ends a run and streams again from the confirmed LSN after a backoff (what was not confirmed comes again). */
  #fail(run: Run, error: unknown): void {
    if (run.failed) return;
    run.failed = true;
    this.#behind = Math.max(this.#behind, run.received - run.handed);
    if (run.flushTimer !== undefined) clearImmediate(run.flushTimer);
    if (this.#run === run) this.#run = undefined;
    void run.service.destroy().catch(() => undefined);
    this.#retry(error);
  }

  #retry(error: unknown): void {
    if (this.#closed) return;
    this.#failures += 1;
    const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(16, this.#failures - 1));
    this.#context?.onWarning(
      `replication from slot ${this.#spec.slot} stopped; streaming again in ${delay} ms`,
      error,
    );
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed) return;
      this.#open().catch((again: unknown) => this.#retry(again));
    }, delay);
    this.#retryTimer.unref();
  }

  async status(): Promise<SourceStatus> {
    const position: Record<string, number> =
      this.#confirmed === undefined ? {} : { lsn: lsnNumber(this.#confirmed) };
    const run = this.#run;
    // The changes received past the confirmed LSN and not yet taken by the log (PostgreSQL cannot count the ones it
    // has not decoded yet).
    const lag = Math.max(this.#behind, run === undefined ? 0 : run.received - run.handed);
    if (this.#snapshot !== undefined) position.snapshotRows = this.#snapshotRows;
    return run === undefined && this.#behind === 0 ? { position } : { position, lag };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    // A snapshot page being taken is waited for; the read stops before the next (it is read again on the next start).
    await this.#snapshotHandling?.catch(() => undefined);
    await this.#endSnapshot();
    this.#retryTimer = undefined;
    const run = this.#run;
    this.#run = undefined;
    if (run === undefined) return;
    if (run.flushTimer !== undefined) clearImmediate(run.flushTimer);
    await run.chain; // a running handle, and its confirmation
    run.failed = true;
    await run.service.destroy().catch(() => undefined);
  }
}
