/**
 * PostgreSQL change data capture (issue #18): logical replication with `pgoutput` (through the `pg-logical-replication`
 * client on `pg`) of a publication through a replication slot. One CloudEvent per row change, typed
 * `<prefix>.<schema>.<table>.insert|update|delete|truncate`, with `{before, after}` as data, the transaction id and
 * commit LSN and time as extensions, and an id from the position (the commit LSN and the change's index in its
 * transaction), so a transaction streamed again after a crash is dropped by the idempotent publish. The slot's
 * confirmed LSN is the connector's position: it moves past a transaction only once the log took every change of it.
 */
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
}

const RETRY_BASE_MS = 250;
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

  constructor(options: PostgresCdcSourceOptions) {
    this.#spec = options.spec;
    this.#connection = parsePostgresConnection(options.spec.connection);
    this.#maxEventBytes = options.maxEventBytes ?? DEFAULT_INGEST_LIMITS.maxEventBytes;
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
    if (this.#closed) throw new Error('the connector was closed while it started');
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
      if (found.rowCount === 0) {
        try {
          await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
        } catch (error) {
          if ((error as { code?: string }).code !== '42710') throw error; // created meanwhile by another
        }
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
    } finally {
      await client.end().catch(() => undefined);
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
        if (run.events.length + run.invalid.length >= this.#spec.maxBatch) await this.#flush(run);
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
    if (run.events.length + run.invalid.length >= this.#spec.maxBatch) await this.#flush(run);
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
    return run === undefined && this.#behind === 0 ? { position } : { position, lag };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
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
