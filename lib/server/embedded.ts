/**
 * The embedded bus: one process, SQLite for the log and the stores, user functions in sandboxed child processes,
 * the HTTP API on node:http. This is what `npm start` (`junction dev`) runs.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createHttpDriver } from '../adapters/http/http-driver.ts';
import type { KafkaEventLogOptions } from '../adapters/kafka/config.ts';
import { KafkaSource } from '../adapters/kafka/source.ts';
import { createKafkaTargetDriver } from '../adapters/kafka/target-driver.ts';
import { tracerFromConfig } from '../adapters/otel/index.ts';
import { createPostgresTargetDriver } from '../adapters/postgres/sink.ts';
import { PostgresCdcSource } from '../adapters/postgres/source.ts';
import type { SandboxOptions } from '../adapters/process/index.ts';
import { SqliteAggregateStore } from '../adapters/sqlite/aggregate-store.ts';
import { SqliteBusRegistry } from '../adapters/sqlite/bus-registry.ts';
import { SqliteConnectorStore } from '../adapters/sqlite/connector-store.ts';
import { SqliteCorrelationStore } from '../adapters/sqlite/correlation-store.ts';
import { SqliteCredentialStore } from '../adapters/sqlite/credential-store.ts';
import { SqliteDatabase } from '../adapters/sqlite/database.ts';
import { SqliteDraftStore } from '../adapters/sqlite/draft-store.ts';
import { openSqliteStores, type SqliteStores } from '../adapters/sqlite/index.ts';
import { SqliteSchemaStore } from '../adapters/sqlite/schema-store.ts';
import { createWorkerRunner } from '../adapters/workers/index.ts';
import type { Need, Principal } from '../core/auth/scopes.ts';
import { type BusSpec, DEFAULT_BUS } from '../core/bus.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import type { IngestLimits } from '../core/codec/http.ts';
import { JunctionError } from '../core/errors.ts';
import { awsErrorBody } from '../core/eventbridge.ts';
import { amzBuses } from '../core/eventbridge-api.ts';
import { createAddressPolicy, isLoopbackHost } from '../core/net/address-policy.ts';
import { type BusInbox, createBusDriver } from '../engine/bus-driver.ts';
import { Connectors } from '../engine/connectors.ts';
import { SchemaDiscovery } from '../engine/discovery.ts';
import type { StopOptions, StopReport } from '../engine/dispatcher.ts';
import { FunctionActivity } from '../engine/function-activity.ts';
import { Junction } from '../engine/junction.ts';
import { Metrics } from '../engine/metrics.ts';
import type { QuotaOptions } from '../engine/quota.ts';
import { Schemas } from '../engine/schemas.ts';
import { scopedTracer } from '../engine/spans.ts';
import type { Clock, EventLog, TargetDriver, TraceEntry, Tracer, TraceStore } from '../ports.ts';
import { systemClock } from '../ports.ts';
import { type App, createApp } from './app.ts';
import { type AuthOptions, asPrincipal, createAuthLayer, refuseExposedWithoutAuth } from './auth.ts';
import { SecretBox } from './auth-keys.ts';
import { bodyJson, bodyText } from './body.ts';
import {
  type BusDirectory,
  BusHost,
  type BusListing,
  createBusesApp,
  inProcess,
  listingDirectory,
  type OpenedBus,
  removeBusDir,
} from './buses.ts';
import { checkConnectorBrokers, guardedSource, resolveConnectorBrokers } from './connector-guard.ts';
import { serveConsole, validateSignIn } from './console.ts';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { schemaRefresher, withFreshSchemas } from './fresh-schemas.ts';
import {
  type BusProcessConfig,
  type BusProcessOptions,
  CALLER_HEADER,
  cloneable,
  openIsolatedBus,
} from './isolated-bus.ts';
import { type MqttFrontDoor, startMqttFrontDoor } from './mqtt.ts';
import { type RunningServer, serve } from './node-server.ts';
import { createReplayExtensions } from './replay.ts';
import { RuntimeMetrics } from './runtime-metrics.ts';
import { observeSqliteStorage } from './sqlite-metrics.ts';
import { targetChecker } from './target-guard.ts';

/** How stale a process's schema registry may be when processes share the data dir (the Kafka log). */
const SHARED_SCHEMA_REFRESH_MS = 1_000;

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
  /**
   * Dedup keys of windows up to 10 minutes each bus's SQLite log holds in memory, at most (21–43 bytes a key); past
   * it, and for longer windows, they are rows of its index (docs/delivery.md, "Idempotent publish"). 0 keeps them all
   * there. @default 4000000
   */
  readonly dedupMemoryKeys?: number;
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
  /** Hears every trace entry as it is recorded, with its bus's name (the `junction dev` terminal). @default none */
  readonly onTrace?: (entries: readonly TraceEntry[], bus: string) => void;
  /** Replaces a target driver (tests). */
  readonly drivers?: Readonly<Partial<Record<'kafka' | 'http' | 'bus' | 'postgres', TargetDriver>>>;
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
  /**
   * Export OpenTelemetry traces over OTLP/HTTP to this collector (a base URL such as `http://localhost:4318`, or the
   * full `…/v1/traces` URL); also `JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT` and the standard `OTEL_EXPORTER_OTLP_*`
   * variables (docs/tracing.md). @default off
   */
  readonly otlpEndpoint?: string;
  /**
   * How: `http/json`, `http/protobuf` or `grpc` (then `otlpEndpoint` is the collector's gRPC URL, e.g.
   * `http://localhost:4317`); also `JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL` and the standard `OTEL_EXPORTER_OTLP_*PROTOCOL`
   * variables. @default 'http/json'
   */
  readonly otlpProtocol?: string;
  /** Trace with this tracer instead (tests; it is closed with the bus). @default from `otlpEndpoint` */
  readonly tracer?: Tracer;
  /**
   * Open the MQTT front door on this port (0 picks one), on the bus's host, with TLS when the bus has `tls`:
   * devices publish CloudEvents to `events/<anything>` (docs/mqtt.md). @default off
   */
  readonly mqttPort?: number;
  /**
   * Schema discovery on every bus: infer a draft schema per (source, type) from the events accepted, served at
   * `/schemas/discovered` (docs/schemas.md#discovery). @default false
   */
  readonly schemaDiscovery?: boolean;
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
  /** The MQTT front door, when `mqttPort` opened it. */
  readonly mqtt?: MqttFrontDoor;
  /** Stops within `stopDeadlineMs` (see there); answers what happened to the held deliveries. */
  close(): Promise<CloseReport>;
}

/** Where a named bus keeps its data: `<data dir>/buses/<name>` (the default bus is the data dir itself). */
export function busDir(dataDir: string, name: string): string {
  return resolve(dataDir, 'buses', name);
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
  onTrace: ((entries: readonly TraceEntry[], bus: string) => void) | undefined,
  bus: string,
  onError: (error: unknown) => void,
): TraceStore {
  if (onTrace === undefined) return traces;
  return {
    record(entries) {
      try {
        onTrace(entries, bus);
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

/** What every bus of a process shares: the deployment's options, its drivers, and how to reach the other buses. */
interface BusEnvironment {
  readonly options: EmbeddedOptions;
  readonly clock: Clock;
  readonly onError: (error: unknown) => void;
  readonly tracer: Tracer;
  readonly drivers: Readonly<Record<'kafka' | 'http' | 'bus' | 'postgres', TargetDriver>>;
  readonly addressPolicy: ReturnType<typeof createAddressPolicy>;
  readonly checkAddress: ReturnType<typeof targetChecker>;
  /** The deployment's buses, for `bus` targets: whether one exists, whether it accepts another's rules. */
  readonly directory: BusDirectory;
}

/** Opens one bus's engine and API on its stores (the default bus's are the data dir's own). */
async function openBus(
  env: BusEnvironment,
  name: string,
  spec: BusSpec | undefined,
  dir: string,
  busStores: SqliteStores,
  log: EventLog,
  steps: Array<() => Promise<void> | void>,
  ownStores: boolean,
): Promise<OpenedBus & { readonly junction: Junction }> {
  const { options, clock, onError, tracer, drivers, checkAddress, directory } = env;
  // Each line a function writes goes to the bus's activity (GET /functions/{name}/activity), then to the log.
  const functionActivity = new FunctionActivity({}, () => clock.now());
  const functionLog =
    options.functionLog ?? ((fn: string, line: string) => process.stderr.write(`[fn:${fn}] ${line}\n`));
  const functions = await createWorkerRunner({
    dataDir: dir,
    clock,
    logger: (fn, line) => {
      functionActivity.log(fn, line);
      functionLog(fn, line);
    },
    ...(options.functionIsolation === undefined ? {} : { isolation: options.functionIsolation }),
    ...(options.functionSandbox === undefined ? {} : { sandbox: options.functionSandbox }),
  });
  steps.push(() => functions.close());
  const retentionMs = spec?.retentionMs ?? options.retentionMs;
  const dedupWindowMs = spec?.dedupWindowMs ?? options.dedupWindowMs;
  const sourceQuota = spec?.sourceQuota ?? options.quota;
  const metrics = new Metrics({ bus: name });
  steps.push(observeSqliteStorage(busStores.database, metrics, busStores.log));
  // The registry and discovery before the engine: the engine checks every event that enters the bus against the
  // registry and hands every event it appends to discovery, whatever its entry (docs/schemas.md).
  const schemas = new Schemas({
    store: new SqliteSchemaStore(busStores.database),
    metrics,
    clock,
    traces: busStores.traces,
    onError,
  });
  await schemas.start();
  const discovery = new SchemaDiscovery({
    store: new SqliteDraftStore(busStores.database),
    metrics,
    clock,
    schemas,
    enabled: options.schemaDiscovery === true,
    onError,
  });
  await discovery.start();
  steps.push(() => discovery.close());
  const junction = await Junction.open({
    ...busStores,
    // Aggregation and correlation state in the data dir's SQLite, fenced per log partition. On Kafka the processes
    // of one data dir share it and a rebalance moves partitions between them: each batch and tick reads the state of
    // its partition afresh (docs/aggregation.md).
    aggregates: new SqliteAggregateStore(busStores.database),
    correlations: new SqliteCorrelationStore(busStores.database),
    ...(log === busStores.log ? { positionsInLedgerStore: true } : { movingPartitions: true }),
    traces: observed(busStores.traces, options.onTrace, name, onError),
    log,
    functions,
    functionActivity,
    drivers: { ...drivers, ...options.drivers },
    clock,
    onError,
    metrics,
    schemas,
    discovery,
    busName: name,
    ...(tracer.enabled
      ? { tracer: scopedTracer(tracer, { 'junction.bus.name': name, 'messaging.destination.name': name }) }
      : {}),
    ...(name === DEFAULT_BUS || options.kafka === undefined ? {} : { group: `junction-router.${name}` }),
    ...(dedupWindowMs === undefined ? {} : { dedupWindowMs }),
    ...(retentionMs === undefined ? {} : { retentionMs }),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
    ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
    ...(sourceQuota === undefined ? {} : { quota: sourceQuota }),
    ...(spec?.quota === undefined ? {} : { busQuota: { bus: name, ...spec.quota } }),
    ...(options.redriveLimit === undefined ? {} : { redriveLimit: options.redriveLimit }),
    checkTarget: (target, path) => {
      checkAddress(target, path);
      if (target.type !== 'bus' || target.bus === undefined) return;
      if (target.bus === name) {
        throw new JunctionError(
          'InvalidRule',
          `${path}.bus: a rule cannot deliver to its own bus (it would loop)`,
          {
            field: `${path}.bus`,
            path: `${path}.bus`,
          },
        );
      }
      if (!directory.exists(target.bus)) {
        throw new JunctionError(
          'InvalidRule',
          `${path}.bus: there is no bus named ${JSON.stringify(target.bus)}`,
          {
            field: `${path}.bus`,
            path: `${path}.bus`,
          },
        );
      }
    },
  });
  await junction.start();
  steps.push(async () => {
    await junction.stop();
  });
  const connectors = new Connectors({
    store: new SqliteConnectorStore(busStores.database),
    open: (_connector, spec) =>
      guardedSource(
        spec.type === 'postgres-cdc'
          ? new PostgresCdcSource({ spec })
          : new KafkaSource({
              spec,
              clientId: `junction-connector-${name}`,
              ...(options.kafka === undefined ? {} : { connection: options.kafka }),
            }),
        () => resolveConnectorBrokers(env.addressPolicy, spec),
      ),
    checkSpec: (spec) => checkConnectorBrokers(env.addressPolicy, spec),
    admit: (events) => junction.admit(events),
    publish: (events) => junction.publish(events),
    deadLetters: busStores.deadLetters,
    metrics: junction.metrics,
    clock,
    hasOwnKafka: options.kafka !== undefined,
    onWarning: (message, error) => onError(new Error(message, { cause: error })),
  });
  await connectors.start();
  steps.push(() => connectors.close());
  const served = createApp({
    junction,
    connectors,
    schemas,
    discovery,
    busName: name,
    busAccepts: (from, to) => directory.accepts(from, to),
    onError,
    extensions: createReplayExtensions({
      junction,
      log,
      file: resolve(dir, 'replays.json'),
      onError,
      tail: {},
    }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  // On the Kafka log, processes share the data dir and with it the schema store, each holding the registry in
  // memory: each reloads it every second (for what the router publishes) and before requests when it is older,
  // and always before a change to /schemas, as Lambda instances do on DynamoDB (docs/schemas.md).
  let app = served;
  let refreshTimer: NodeJS.Timeout | undefined;
  if (options.kafka !== undefined) {
    const refresher = schemaRefresher(schemas, SHARED_SCHEMA_REFRESH_MS, clock, onError);
    app = withFreshSchemas(served, schemas, refresher, onError);
    refreshTimer = setInterval(() => void refresher.fresh(), SHARED_SCHEMA_REFRESH_MS);
    refreshTimer.unref();
  }
  return inProcess({
    name,
    junction,
    app,
    async close(stop = {}) {
      clearInterval(refreshTimer);
      await connectors.close();
      await discovery.close();
      const report = await junction.stop(stop);
      await functions.close();
      if (log !== busStores.log) await log.close();
      if (ownStores) await busStores.close();
      return report;
    },
  });
}

/**
 * What the buses of one process share: the target drivers (the `bus` driver reaches the deployment's buses through
 * `lookup`) and how they see the deployment's buses. `close` closes the drivers.
 */
function openBusEnvironment(
  options: EmbeddedOptions,
  context: Pick<BusEnvironment, 'clock' | 'onError' | 'tracer' | 'addressPolicy' | 'directory'>,
  lookup: (name: string) => Promise<BusInbox | undefined>,
): { readonly env: BusEnvironment; close(): Promise<void> } {
  const { clock, addressPolicy } = context;
  const http = createHttpDriver({ clock, addressPolicy });
  const kafka = createKafkaTargetDriver(options.kafka === undefined ? {} : { connection: options.kafka });
  const postgres = createPostgresTargetDriver({ addressPolicy });
  return {
    env: {
      ...context,
      options,
      drivers: { http, kafka, postgres, bus: createBusDriver({ lookup, http }) },
      checkAddress: targetChecker(addressPolicy),
    },
    async close() {
      await http.close?.();
      await kafka.close?.();
      await postgres.close?.();
    },
  };
}

/** A named bus in this process, on its own directory (and, with `kafkaLog`, its own Kafka topic). */
async function openNamedBus(
  env: BusEnvironment,
  dataDir: string,
  spec: BusSpec,
  kafkaLog: boolean,
): Promise<OpenedBus & { readonly junction: Junction }> {
  const { options, clock, onError } = env;
  const steps: Array<() => Promise<void> | void> = [];
  try {
    const dir = busDir(dataDir, spec.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const busStores = openSqliteStores({
      dataDir: dir,
      clock,
      onError,
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      ...(options.dedupMemoryKeys === undefined ? {} : { dedupMemoryKeys: options.dedupMemoryKeys }),
      ...((spec.retentionMs ?? options.retentionMs) === undefined
        ? {}
        : { retentionMs: spec.retentionMs ?? options.retentionMs }),
    });
    steps.push(() => busStores.close());
    let log: EventLog = busStores.log;
    if (kafkaLog && options.kafka !== undefined) {
      const { createKafkaEventLog } = await import('../adapters/kafka/index.ts');
      log = await createKafkaEventLog({
        ...options.kafka,
        topic: `${options.kafka.topic}.${spec.name}`,
        onWarning: (message, error) => onError(new Error(message, { cause: error })),
        ...(spec.retentionMs === undefined ? {} : { retentionMs: spec.retentionMs }),
      });
      const opened = log;
      steps.push(() => opened.close());
    }
    return await openBus(env, spec.name, spec, dir, busStores, log, steps, true);
  } catch (error) {
    for (const step of steps.reverse()) await Promise.resolve(step()).catch(() => undefined);
    throw error;
  }
}

/** The deployment's options a bus process takes (besides `host`, which the bus process needs resolved). */
const BUS_PROCESS_OPTIONS = [
  'auth',
  'tls',
  'partitions',
  'limits',
  'dedupWindowMs',
  'dedupMemoryKeys',
  'retentionMs',
  'pollMs',
  'leaseMs',
  'quota',
  'redriveLimit',
  'kafka',
  'httpTargets',
  'functionIsolation',
  'functionSandbox',
  'stopDeadlineMs',
  'otlpEndpoint',
  'otlpProtocol',
  'schemaDiscovery',
] as const satisfies ReadonlyArray<keyof BusProcessOptions>;

function busProcessOptions(options: EmbeddedOptions, host: string): BusProcessOptions {
  const picked: Record<string, unknown> = { host };
  for (const key of BUS_PROCESS_OPTIONS) if (options[key] !== undefined) picked[key] = options[key];
  return picked as BusProcessOptions;
}

/** What the bus process needs of the deployment that started it. */
export interface DeploymentLink {
  /** Offers an event to another bus of the deployment (a `bus` target). */
  offer(bus: string, event: CloudEvent): Promise<JunctionError | undefined>;
  /** The deployment's buses, as last told. */
  buses(): readonly BusListing[];
  readonly onTrace?: (entries: readonly TraceEntry[]) => void;
  readonly functionLog: (fn: string, line: string) => void;
  readonly onError: (error: unknown) => void;
}

/** A bus open in a bus process: what the entry module drives. */
export interface BusProcess {
  readonly junction: Junction;
  /** The URL of the bus's own endpoint, when it has a `port`. */
  readonly endpoint?: string;
  ruleCount(): Promise<number>;
  /** The bus's series and the process's, labelled with the bus. */
  exposition(): Promise<string>;
  close(options?: StopOptions): Promise<StopReport>;
}

/**
 * Opens one named bus in this process, a bus process of its own (`isolation: process`): the bus's storage under the
 * deployment's data dir, its API on the config's Unix socket (who calls comes with each request from the front
 * door), its `bus` targets through the deployment.
 */
export async function startBusProcess(config: BusProcessConfig, link: DeploymentLink): Promise<BusProcess> {
  const options: EmbeddedOptions = {
    ...config.options,
    functionLog: link.functionLog,
    onError: link.onError,
    ...(link.onTrace === undefined ? {} : { onTrace: (entries) => link.onTrace?.(entries) }),
  };
  const { spec } = config;
  const dir = busDir(config.dataDir, spec.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const host = options.host ?? '127.0.0.1';
  const addressPolicy = createAddressPolicy({
    allow: options.httpTargets?.allow ?? [],
    allowLoopback: isLoopbackHost(host),
  });
  // The SQLite log is this process's alone, as the deployment's own; on Kafka, processes share stores on purpose.
  const lock: DataDirLock = config.kafkaLog ? { path: dir, release: () => undefined } : lockDataDir(dir);
  const undo: Array<() => Promise<void> | void> = [() => lock.release()];
  try {
    const clock = systemClock;
    const onError = link.onError;
    const tracer = await tracerFromConfig(options.otlpEndpoint, {}, process.env, options.otlpProtocol);
    undo.push(() => tracer.close());
    const directory = listingDirectory(link.buses);
    const shared = openBusEnvironment(
      options,
      { clock, onError, tracer, addressPolicy, directory },
      async (name) => (directory.exists(name) ? { offer: (event) => link.offer(name, event) } : undefined),
    );
    undo.push(() => shared.close());
    const env = shared.env;
    const bus = await openNamedBus(env, config.dataDir, spec, config.kafkaLog);
    undo.push(async () => {
      await bus.close();
    });
    const runtime = new RuntimeMetrics({ labels: { bus: spec.name } });
    undo.push(() => runtime.close());
    const maxBodyBytes = options.limits?.maxBatchBytes ?? 10 * 1024 * 1024;
    const server = await serve({
      app: fromFrontDoor(bus.app),
      socketPath: config.socketPath,
      maxBodyBytes,
    });
    undo.push(() => server.close());
    let endpoint: RunningServer | undefined;
    let deployment: SqliteDatabase | undefined;
    if (spec.port !== undefined) {
      // Its own endpoint: the front door's authentication, on the deployment's keys (a second connection to its
      // database: keys created there are seen here at the next request, as processes on Kafka share them).
      const database = new SqliteDatabase({ dataDir: config.dataDir });
      deployment = database;
      undo.push(() => database.close());
      const credentials = new SqliteCredentialStore(database);
      await refuseExposedWithoutAuth(host, options.auth ?? {}, credentials);
      let secrets: SecretBox | undefined;
      const port = spec.port;
      const auth = createAuthLayer({
        ...options.auth,
        app: withoutBusPrefix(spec.name, bus.app),
        buses: env.directory,
        store: credentials,
        secrets: () => {
          secrets ??= SecretBox.open(config.dataDir);
          return secrets;
        },
        host,
        port: () => port,
        tls: options.tls !== undefined,
        clock,
        onError,
      });
      endpoint = await serve({
        app: onBusPaths(spec.name, auth.app),
        port,
        host,
        maxBodyBytes,
        ...(options.tls === undefined ? {} : { tls: options.tls }),
      });
      const opened = endpoint;
      undo.push(() => opened.close());
    }
    return {
      junction: bus.junction,
      ...(endpoint === undefined ? {} : { endpoint: endpoint.url }),
      ruleCount: () => bus.ruleCount(),
      exposition: () => Metrics.renderAll([runtime.metrics, bus.junction.metrics]),
      async close(stop = {}) {
        await endpoint?.close();
        await server.close();
        const report = await bus.close(stop);
        await shared.close();
        await tracer.close();
        runtime.close();
        await deployment?.close();
        lock.release();
        return report;
      },
    };
  } catch (error) {
    for (const step of undo.reverse()) await Promise.resolve(step()).catch(() => undefined);
    throw error;
  }
}

/**
 * A bus endpoint's requests as the auth layer judges them: each path on the bus (`/events` is
 * `/buses/{name}/events`), but `/healthz` (public) and the EventBridge calls, which must name this bus in their
 * `EventBusName` (an endpoint serves its bus only; a call naming none or another is refused).
 */
function onBusPaths(name: string, app: App): App {
  const prefix = `/buses/${encodeURIComponent(name)}`;
  return async (request) => {
    const amzTarget = request.headers['x-amz-target'];
    if (request.path === '/' && request.method === 'POST' && typeof amzTarget === 'string') {
      const operation = amzTarget.startsWith('AWSEvents.') ? amzTarget.slice(10) : '';
      let named: ReadonlySet<string> | undefined;
      try {
        named = amzBuses(operation, bodyText(request.body), () => bodyJson(request.body)).buses;
      } catch {
        return app(request); // its answer names the bad body
      }
      if (named === undefined || [...named].some((bus) => bus !== name)) {
        return {
          status: 400,
          headers: { 'content-type': 'application/x-amz-json-1.1' },
          body: JSON.stringify(
            awsErrorBody(
              'ValidationException',
              `this endpoint serves the event bus ${name} only: name it in EventBusName (the deployment's endpoint serves the others)`,
            ),
          ),
        };
      }
      return app(request);
    }
    if (request.path === '/healthz') return app(request);
    return app({ ...request, path: request.path === '/' ? prefix : `${prefix}${request.path}` });
  };
}

/** The bus's app behind `onBusPaths` and the auth layer: the `/buses/{name}` prefix taken off again. */
function withoutBusPrefix(name: string, app: App): App {
  const prefix = `/buses/${encodeURIComponent(name)}`;
  return (request) => {
    if (request.path === prefix) return app({ ...request, path: '/' });
    if (request.path.startsWith(`${prefix}/`))
      return app({ ...request, path: request.path.slice(prefix.length) });
    if (request.path === '/' || request.path === '/healthz') return app(request);
    return Promise.resolve({
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        error: { code: 'NotFound', message: `this endpoint serves the bus ${name} only` },
      }),
    });
  };
}

/** The bus's API as the front door hands it requests: who calls (if anyone had to say) comes in a header. */
function fromFrontDoor(app: App): App {
  return (request) => {
    const header = request.headers[CALLER_HEADER];
    if (typeof header !== 'string') return app(request);
    let caller: { principal: Principal; need: Need };
    try {
      caller = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as typeof caller;
    } catch {
      return Promise.resolve({
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: { code: 'InvalidRequest', message: `bad ${CALLER_HEADER} header` } }),
      });
    }
    return app(asPrincipal(request, caller.principal, caller.need));
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
  const tracer =
    options.tracer ?? (await tracerFromConfig(options.otlpEndpoint, {}, process.env, options.otlpProtocol));
  undo.push(() => tracer.close());
  const stores = openSqliteStores({
    dataDir,
    clock,
    onError,
    ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    ...(options.retentionMs === undefined ? {} : { retentionMs: options.retentionMs }),
    ...(options.dedupMemoryKeys === undefined ? {} : { dedupMemoryKeys: options.dedupMemoryKeys }),
  });
  undo.push(() => stores.close());
  const credentials = new SqliteCredentialStore(stores.database);
  const registry = new SqliteBusRegistry(stores.database);
  await refuseExposedWithoutAuth(host, options.auth ?? {}, credentials);
  let buses: BusHost | undefined;
  const shared = openBusEnvironment(
    options,
    {
      clock,
      onError,
      tracer,
      addressPolicy,
      directory: {
        // While the default bus opens (its rules load) the bus host is not there yet: nothing to check against.
        exists: (name) => buses === undefined || buses.exists(name),
        accepts: (from, to) => buses?.accepts(from, to) ?? false,
      },
    },
    async (name) => buses?.inbox(name),
  );
  undo.push(() => shared.close());
  const env = shared.env;
  const kafkaLog = options.kafka !== undefined && options.log !== undefined;

  /** A named bus on its own directory (and, on Kafka, its own topic): in this process, or in one of its own. */
  function openNamed(spec: BusSpec): Promise<OpenedBus> {
    if (spec.isolation !== 'process') return openNamedBus(env, dataDir, spec, kafkaLog);
    return openIsolatedBus({
      spec,
      config: {
        dataDir,
        kafkaLog,
        options: cloneable(busProcessOptions(options, host)),
        traces: options.onTrace !== undefined,
      },
      buses: () => buses?.listing() ?? [{ name: DEFAULT_BUS }],
      forward: async (name, event) => {
        const inbox = await buses?.inbox(name);
        // Retriable, as for a bus in this process: the bus process's list may be a step ahead or behind.
        if (inbox === undefined)
          return new JunctionError('NotFound', `there is no bus named ${JSON.stringify(name)}`, {
            retriable: true,
          });
        return inbox.offer(event);
      },
      ...(options.onTrace === undefined ? {} : { onTrace: options.onTrace }),
      ...(options.functionLog === undefined ? {} : { functionLog: options.functionLog }),
      onError,
    });
  }

  const log = options.log ?? stores.log;
  const defaultSteps: Array<() => Promise<void> | void> = [];
  undo.push(async () => {
    for (const step of defaultSteps.reverse()) await Promise.resolve(step()).catch(() => undefined);
  });
  const defaultBus = await openBus(env, DEFAULT_BUS, undefined, dataDir, stores, log, defaultSteps, false);
  const junction = defaultBus.junction;
  const runtime = new RuntimeMetrics();
  undo.push(() => runtime.close());
  buses = new BusHost({
    defaultBus,
    registry,
    processMetrics: runtime.metrics,
    open: openNamed,
    destroy: async (name) => {
      await removeBusDir(busDir(dataDir, name));
      if (options.kafka !== undefined && options.log !== undefined) {
        const { deleteKafkaTopic } = await import('../adapters/kafka/index.ts');
        await deleteKafkaTopic({ ...options.kafka, topic: `${options.kafka.topic}.${name}` }, [
          `junction-router.${name}`,
        ]);
      }
    },
    onDeleted: async (name) => {
      // Keys of a deleted bus must not come back to life should a bus of the same name be created later.
      for (const credential of await credentials.list()) {
        if (credential.bus === name) await credentials.revoke(credential.name);
      }
    },
    defaults: {
      retentionMs: options.retentionMs ?? 7 * 86_400_000,
      dedupWindowMs: options.dedupWindowMs ?? 86_400_000,
    },
    clock,
    onError,
  });
  const busHost = buses;
  undo.push(async () => {
    await busHost.close();
  });
  await busHost.start();
  let listeningPort = options.port ?? 8080;
  let secrets: SecretBox | undefined;
  const signIn = options.auth?.jwt?.signIn;
  const consoleOptions = signIn === undefined ? {} : { signIn: validateSignIn(signIn, 'jwt.signIn') };
  const auth = createAuthLayer({
    ...options.auth,
    app: createBusesApp(busHost, onError),
    buses: busHost,
    console: (request) => serveConsole(request, consoleOptions),
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
  let mqtt: MqttFrontDoor | undefined;
  if (options.mqttPort !== undefined) {
    try {
      mqtt = await startMqttFrontDoor({
        app: auth.app,
        port: options.mqttPort,
        host,
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        // A loopback name with the HTTP port: what the Host guard always accepts.
        httpHost: () => `127.0.0.1:${listeningPort}`,
        credentialsRequired: () => auth.required(),
        onWarning: (message, error) => onError(new Error(message, { cause: error })),
      });
    } catch (error) {
      await server.close();
      throw error;
    }
  }
  let closing: Promise<CloseReport> | undefined;
  const stopDeadlineMs = options.stopDeadlineMs ?? 10_000;
  const close = async (): Promise<CloseReport> => {
    await mqtt?.close();
    await server.close();
    // Running deliveries get the deadline less a reserve for the rest of the close; then they are cut off (their
    // requests aborted; function processes are killed just below) and left in the ledger for the next start.
    const deadlineMs = stopDeadlineMs - Math.min(2_000, stopDeadlineMs / 4);
    const [report] = await Promise.all([defaultBus.close({ deadlineMs }), busHost.close({ deadlineMs })]);
    await shared.close();
    await stores.close();
    // The last spans are exported within a bounded time: a collector that does not answer cannot hold up the stop.
    await tracer.close();
    runtime.close();
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
    ...(mqtt === undefined ? {} : { mqtt }),
    close() {
      closing ??= close();
      return closing;
    },
  };
}
