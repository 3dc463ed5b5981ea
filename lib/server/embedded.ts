/**
 * The embedded bus: one process, SQLite for the log and the stores, user functions in sandboxed child processes,
 * the HTTP API on node:http. This is what `npm start` (`junction dev`) runs.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createHttpDriver } from '../adapters/http/http-driver.ts';
import type { KafkaEventLogOptions } from '../adapters/kafka/config.ts';
import { createKafkaTargetDriver } from '../adapters/kafka/target-driver.ts';
import type { SandboxOptions } from '../adapters/process/index.ts';
import { SqliteCredentialStore } from '../adapters/sqlite/credential-store.ts';
import { openSqliteStores } from '../adapters/sqlite/index.ts';
import { createWorkerRunner } from '../adapters/workers/index.ts';
import type { IngestLimits } from '../core/codec/http.ts';
import { JunctionError } from '../core/errors.ts';
import { createAddressPolicy, isLoopbackHost, parseAddress } from '../core/net/address-policy.ts';
import type { Target } from '../core/rule-types.ts';
import type { StopReport } from '../engine/dispatcher.ts';
import { Junction } from '../engine/junction.ts';
import type { QuotaOptions } from '../engine/quota.ts';
import type { Clock, EventLog, TargetDriver, TraceEntry, TraceStore } from '../ports.ts';
import { systemClock } from '../ports.ts';
import { createApp } from './app.ts';
import { type AuthOptions, createAuthLayer, refuseExposedWithoutAuth } from './auth.ts';
import { SecretBox } from './auth-keys.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { type RunningServer, serve } from './node-server.ts';
import { createReplayExtensions } from './replay.ts';

export interface EmbeddedOptions {
  /** @default 8080 */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default './.junction' */
  readonly dataDir?: string;
  /** Partitions of the SQLite log. @default 4 */
  readonly partitions?: number;
  /** Use this log instead of SQLite's (e.g. Kafka); the stores stay in SQLite. */
  readonly log?: EventLog;
  readonly limits?: Partial<IngestLimits>;
  /** @default 86400000 */
  readonly dedupWindowMs?: number;
  /** How long traces and finished deliveries are kept. @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** Ledger poll interval for due retries. @default 1000 */
  readonly pollMs?: number;
  /** How long a delivery is held by one process before another may take it over. @default 30000 */
  readonly leaseMs?: number;
  /** Per-source ingest quotas (429 with Retry-After over the quota). @default none */
  readonly quota?: QuotaOptions;
  /** Most dead letters one `POST /dead-letters/redrive` takes up (past it, it answers a `nextCursor`). @default 5000 */
  readonly redriveLimit?: number;
  /** The bus's Kafka, for `kafka` targets that name no brokers (set when the log is Kafka). */
  readonly kafka?: KafkaEventLogOptions;
  /**
   * The SSRF policy of `http` and `bus` targets: addresses in private, link-local, metadata and unspecified ranges
   * are refused unless `allow` lists them (CIDR blocks or addresses); loopback is allowed when the bus itself
   * listens on loopback (`host` 127.0.0.1, ::1 or localhost). @default { allow: [] }
   */
  readonly httpTargets?: { readonly allow?: readonly string[] };
  /** Hears every trace entry as it is recorded (the `junction dev` terminal). @default none */
  readonly onTrace?: (entries: readonly TraceEntry[]) => void;
  /** Replaces a target driver (tests). */
  readonly drivers?: Readonly<Partial<Record<'kafka' | 'http' | 'bus', TargetDriver>>>;
  readonly clock?: Clock;
  /** Where errors that no caller can receive go. @default stderr */
  readonly onError?: (error: unknown) => void;
  /** Console lines of user functions. @default stderr with a `[fn:name]` prefix */
  readonly functionLog?: (fn: string, line: string) => void;
  /**
   * Authentication (keys in the data dir, JWTs), the Host/Origin allow-lists and the cross-site guard (always on).
   * @default open on loopback until a key exists; a non-loopback `host` without a way to authenticate is refused
   */
  readonly auth?: AuthOptions;
  /** Serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate and key. @default plain HTTP */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** Where functions run: sandboxed processes, or worker threads (not a boundary). @default 'process' */
  readonly functionIsolation?: 'process' | 'thread';
  /** How the process sandbox confines functions (see docs/security.md). @default nobody (as root), network on */
  readonly functionSandbox?: SandboxOptions;
  /**
   * `close()` (SIGTERM, Ctrl-C) finishes within this, whatever the backlog: queued deliveries go back to the ledger at
   * once, running ones (HTTP requests, function calls) get until `stopDeadlineMs` less a reserve for closing the rest
   * (a quarter of it, at most 2 s), then are cut off — requests aborted, function processes killed — and stay in
   * the ledger, due at the next start (an exactly-once one as a possible duplicate). A stuck target or function
   * cannot hold up a shutdown. @default 10000
   */
  readonly stopDeadlineMs?: number;
}

/** What `close()` did with the deliveries the bus held (see `stopDeadlineMs`). */
export type CloseReport = StopReport;

export interface EmbeddedBus {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly junction: Junction;
  readonly server: RunningServer;
  /** Whether calls need a credential now (open on loopback until a key exists, unless told otherwise). */
  authRequired(): Promise<boolean>;
  /** Stops within `stopDeadlineMs` (see there); answers what happened to the held deliveries. */
  close(): Promise<CloseReport>;
}

export async function startEmbedded(options: EmbeddedOptions = {}): Promise<EmbeddedBus> {
  const dataDir = resolve(options.dataDir ?? './.junction');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const host = options.host ?? '127.0.0.1';
  const addressPolicy = createAddressPolicy({
    allow: options.httpTargets?.allow ?? [],
    allowLoopback: isLoopbackHost(host),
  });
  // One bus per data dir, unless the log is Kafka: then several processes of one machine share the SQLite stores
  // on purpose (WAL, leases and the consumer group keep them apart; docs/kafka.md), and there is no lock to take.
  const lock: DataDirLock =
    options.log === undefined ? lockDataDir(dataDir) : { path: dataDir, release: () => undefined };
  const undo: Array<() => Promise<void> | void> = [() => lock.release()];
  try {
    return await open(options, { dataDir, host, addressPolicy, lock }, undo);
  } catch (error) {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
    throw error;
  }
}

/** The trace store, with `onTrace` hearing each write (an observer that throws does not fail the write). */
function observed(
  traces: TraceStore,
  onTrace: ((entries: readonly TraceEntry[]) => void) | undefined,
  onError: (error: unknown) => void,
): TraceStore {
  if (onTrace === undefined) return traces;
  return {
    record(entries) {
      try {
        onTrace(entries);
      } catch (error) {
        onError(error);
      }
      return traces.record(entries);
    },
    get: (source, id) => traces.get(source, id),
    sourcesOf: (id, limit) => traces.sourcesOf(id, limit),
    prune: (before) => traces.prune(before),
  };
}

/** Refuses, at `PUT /rules`, an `http` or `bus` target whose URL is a literal address the policy refuses. */
function targetChecker(policy: ReturnType<typeof createAddressPolicy>) {
  return (target: Target, path: string): void => {
    if (target.type !== 'http' && target.type !== 'bus') return;
    const { hostname } = new URL(target.url);
    if (parseAddress(hostname) === undefined) return; // a name: checked when connecting
    const verdict = policy(hostname);
    if (verdict.allowed) return;
    throw new JunctionError('InvalidRule', `${path}.url: ${verdict.reason}`, {
      field: `${path}.url`,
      path: `${path}.url`,
    });
  };
}

/** Opens the stores, the engine and the server; `undo` collects how to close what is open should a step fail. */
async function open(
  options: EmbeddedOptions,
  context: {
    readonly dataDir: string;
    readonly host: string;
    readonly addressPolicy: ReturnType<typeof createAddressPolicy>;
    readonly lock: DataDirLock;
  },
  undo: Array<() => Promise<void> | void>,
): Promise<EmbeddedBus> {
  const { dataDir, host, addressPolicy, lock } = context;
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? ((error: unknown) => console.error('junction:', error));
  const stores = openSqliteStores({
    dataDir,
    clock,
    onError,
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
  });
  undo.push(() => stores.close());
  const credentials = new SqliteCredentialStore(stores.database);
  await refuseExposedWithoutAuth(host, options.auth ?? {}, credentials);
  const log = options.log ?? stores.log;
  const functions = await createWorkerRunner({
    dataDir,
    clock,
    ...(options.functionLog === undefined ? {} : { logger: options.functionLog }),
    ...(options.functionIsolation === undefined ? {} : { isolation: options.functionIsolation }),
    ...(options.functionSandbox === undefined ? {} : { sandbox: options.functionSandbox }),
  });
  undo.push(() => functions.close());
  const http = createHttpDriver({ clock, addressPolicy });
  undo.push(() => http.close?.());
  const kafkaTargets = createKafkaTargetDriver(
    options.kafka === undefined ? {} : { connection: options.kafka },
  );
  undo.push(async () => kafkaTargets.close?.());
  const junction = await Junction.open({
    ...stores,
    traces: observed(stores.traces, options.onTrace, onError),
    log,
    functions,
    drivers: { http, bus: http, kafka: kafkaTargets, ...options.drivers },
    clock,
    onError,
    ...(options.dedupWindowMs === undefined ? {} : { dedupWindowMs: options.dedupWindowMs }),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(options.quota === undefined ? {} : { quota: options.quota }),
    ...(options.redriveLimit === undefined ? {} : { redriveLimit: options.redriveLimit }),
    checkTarget: targetChecker(addressPolicy),
  });
  await junction.start();
  undo.push(async () => {
    await junction.stop();
  });
  let listeningPort = options.port ?? 8080;
  let secrets: SecretBox | undefined;
  const auth = createAuthLayer({
    ...options.auth,
    app: createApp({
      junction,
      onError,
      extensions: createReplayExtensions({ junction, log, file: resolve(dataDir, 'replays.json'), onError }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    }),
    store: credentials,
    secrets: () => {
      secrets ??= SecretBox.open(dataDir);
      return secrets;
    },
    host,
    port: () => listeningPort,
    tls: options.tls !== undefined,
    clock,
    onError,
  });
  const server = await serve({
    app: auth.app,
    port: options.port ?? 8080,
    host,
    maxBodyBytes: options.limits?.maxBatchBytes ?? 10 * 1024 * 1024,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  listeningPort = server.port;
  let closing: Promise<CloseReport> | undefined;
  const stopDeadlineMs = options.stopDeadlineMs ?? 10_000;
  const close = async (): Promise<CloseReport> => {
    await server.close();
    // Running deliveries get the deadline less a reserve for the rest of the close; then they are cut off (their
    // requests aborted; function processes are killed just below) and left in the ledger for the next start.
    const report = await junction.stop({ deadlineMs: stopDeadlineMs - Math.min(2_000, stopDeadlineMs / 4) });
    await functions.close();
    await http.close?.();
    await kafkaTargets.close?.();
    if (log !== stores.log) await log.close();
    await stores.close();
    lock.release();
    return report;
  };
  return {
    url: server.url,
    port: server.port,
    dataDir,
    junction,
    server,
    authRequired: () => auth.required(),
    close() {
      closing ??= close();
      return closing;
    },
  };
}
