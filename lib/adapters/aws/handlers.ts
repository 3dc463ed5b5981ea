/**
 * The Lambda handlers as functions of a runtime: `ingest` and `api` (API Gateway → the app), `router` (an
 * MSK event source mapping → the router, then deliveries), `scheduler` (due retries), `connector` (a Kafka event
 * source mapping on another topic → events into the log). `functions/` wires them to
 * the environment's runtime; tests wire them to their own.
 */
import { validateEvent } from '../../core/cloudevent.ts';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { type RecordMapping, validateConnectorName, validateMapping } from '../../core/connector.ts';
import { JunctionError, toJunctionError } from '../../core/errors.ts';
import { connectorDeadLetter, connectorRefusedLetter } from '../../engine/connectors.ts';
import type { DeadLetter, InvalidSourceRecord, TraceEntry } from '../../ports.ts';
import { type ApiRequest, answeredOnce } from '../../server/app.ts';
import { type ConsoleSignIn, serveConsole } from '../../server/console.ts';
import { decodeSourceRecord } from '../kafka/source.ts';
import {
  type ApiGatewayResult,
  apiGatewayVersion,
  fromApiGatewayEvent,
  toApiGatewayResult,
} from './apigateway.ts';
import { authorizeGatewayRequest, browserBase, type GatewayAuth } from './gateway-auth.ts';
import { decodeMskEvent, mskSourceRecords, type UndecodableRecord } from './msk-event.ts';
import type { HandlerRuntime } from './wiring.ts';

/** The part of the Lambda context the handlers use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

export type RuntimeProvider = () => Promise<HandlerRuntime>;

export interface WaitOptions {
  /** Stop waiting for running deliveries this long before the invocation's time runs out. @default 2000 */
  readonly marginMs?: number;
}

/** The ingest routes: CloudEvents on `POST /events`, EventBridge PutEvents on `POST /`. */
function isIngestRoute(method: string, path: string): boolean {
  return method === 'POST' && (path === '/events' || path === '/events/' || path === '/' || path === '');
}

function notFoundResult(method: string, path: string, version: '1.0' | '2.0'): ApiGatewayResult {
  const error = new JunctionError(
    'NotFound',
    `${method} ${path} is not an ingest route: POST /events or POST /`,
  );
  return toApiGatewayResult(
    { status: 404, headers: { 'content-type': 'application/json' }, body: JSON.stringify(error.toJSON()) },
    version,
  );
}

/**
 * Runs an invocation, then writes the counters that moved as CloudWatch EMF records (lib/adapters/aws/emf.ts) and
 * exports its spans: Lambda freezes the process once the handler returns, so nothing is left to a background timer.
 */
async function metered<T>(runtime: RuntimeProvider, invocation: () => Promise<T>): Promise<T> {
  try {
    return await invocation();
  } finally {
    try {
      const rt = await runtime();
      rt.emf?.flush();
      // Bounded (OTLP_FLUSH_TIMEOUT_MS) and never throws: a collector that hangs drops spans, not invocations.
      await rt.tracer?.flush();
    } catch {
      // Metrics and spans never fail an invocation.
    }
  }
}

/** API Gateway (HTTP API or REST API) → the app, answering only the ingest routes. */
export function createIngestHandler(runtime: RuntimeProvider): (event: unknown) => Promise<ApiGatewayResult> {
  return async (event) => {
    const version = apiGatewayVersion(event);
    const request = fromApiGatewayEvent(event);
    if (!isIngestRoute(request.method, request.path))
      return notFoundResult(request.method, request.path, version);
    const { app } = await runtime();
    return metered(runtime, async () => toApiGatewayResult(await app(request), version));
  };
}

export interface ApiHandlerOptions {
  /**
   * How the gateway authenticates: with `jwt` (a JWT or Cognito authorizer) the function enforces the token's
   * scopes on every call (lib/adapters/aws/gateway-auth.ts). @default { type: 'iam' }
   */
  readonly auth?: GatewayAuth;
  /**
   * The web console's assets bundled into the function (`index.html`, `app.css`, `app.js`: the CDK construct's
   * build writes them beside the handler) and its sign-in. Served only with `jwt` auth. @default no console
   */
  readonly console?: { readonly prebuiltDir: string; readonly signIn?: ConsoleSignIn };
  /**
   * How long one `GET /events/tail` answers: API Gateway and Lambda answer once, so the tail's frames of this window
   * are the body, ended by its cursor, and the client goes on from it (a long poll; docs/api.md). At most the
   * invocation's remaining time less 2 s. @default 10000
   */
  readonly tailWindowMs?: number;
}

/** `/console` and below: the console's page and assets, public (they hold no data), or why there are none. */
async function consoleResult(
  request: ApiRequest,
  event: unknown,
  options: ApiHandlerOptions,
  version: '1.0' | '2.0',
): Promise<ApiGatewayResult> {
  if ((options.auth?.type ?? 'iam') === 'iam') {
    return errorResult(
      new JunctionError(
        'NotFound',
        "the console is not served with IAM auth: a browser cannot sign requests with SigV4. Deploy the bus with auth { type: 'jwt' } or { type: 'cognito' } (docs/aws.md, \"The console on AWS\"), or use the CLI",
      ),
      version,
    );
  }
  if (options.console === undefined) {
    return errorResult(
      new JunctionError('NotFound', 'this api function was built without the console'),
      version,
    );
  }
  const response = await serveConsole(request, {
    prebuiltDir: options.console.prebuiltDir,
    base: browserBase(event, request.path),
    ...(options.console.signIn === undefined ? {} : { signIn: options.console.signIn }),
  });
  return toApiGatewayResult(response, version);
}

function errorResult(error: JunctionError, version: '1.0' | '2.0'): ApiGatewayResult {
  return toApiGatewayResult(
    {
      status: error.status,
      headers: {
        'content-type': 'application/json',
        ...(error.code === 'Unauthorized' ? { 'www-authenticate': 'Bearer realm="junction"' } : {}),
      },
      body: JSON.stringify(error.toJSON()),
    },
    version,
  );
}

/** API Gateway → the whole HTTP API of CONTRACT.md (rules, functions, traces, dead letters, replays, ingest). */
export function createApiHandler(
  runtime: RuntimeProvider,
  options: ApiHandlerOptions = {},
): (event: unknown, context?: LambdaContextLike) => Promise<ApiGatewayResult> {
  const auth = options.auth ?? { type: 'iam' };
  const tailWindowMs = options.tailWindowMs ?? 10_000;
  return async (event, context) => {
    const version = apiGatewayVersion(event);
    let request = fromApiGatewayEvent(event);
    if (request.path === '/console' || request.path.startsWith('/console/'))
      return consoleResult(request, event, options, version);
    try {
      request = authorizeGatewayRequest(request, event, auth);
    } catch (error) {
      return errorResult(toJunctionError(error), version);
    }
    const { app } = await runtime();
    const window = Math.max(
      0,
      Math.min(tailWindowMs, (context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY) - 2_000),
    );
    return metered(runtime, async () =>
      toApiGatewayResult(await answeredOnce(await app(request), window), version),
    );
  };
}

/** Waits for running deliveries, but not past the invocation's remaining time minus the margin. */
async function idleWithin(
  runtime: HandlerRuntime,
  context: LambdaContextLike | undefined,
  marginMs: number,
): Promise<boolean> {
  const budget = context === undefined ? 60_000 : context.getRemainingTimeInMillis() - marginMs;
  if (runtime.junction.dispatcher.inFlight === 0) return true;
  if (budget <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), budget);
  });
  try {
    return await Promise.race([runtime.junction.dispatcher.idle().then(() => true as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** The placeholder event a dead letter of an undecodable record carries (its raw value as `data_base64`). */
function undecodableEvent(record: UndecodableRecord) {
  return validateEvent({
    specversion: '1.0',
    id: `${record.topic}-${record.partition}-${record.offset}`,
    source: `kafka://${record.topic}`,
    type: 'junction.undecodable',
    datacontenttype: 'application/octet-stream',
    ...(record.value === null || record.value === '' ? {} : { data_base64: record.value }),
  });
}

/** Dead letters and traces for records that are not CloudEvents: they have an outcome and do not block the batch. */
async function recordUndecodable(
  runtime: HandlerRuntime,
  records: readonly UndecodableRecord[],
  now: number,
): Promise<void> {
  const letters: DeadLetter[] = [];
  const traces: TraceEntry[] = [];
  for (const record of records) {
    const event = undecodableEvent(record);
    const error = {
      code: record.error.code,
      message: record.error.message,
      ...(record.error.field ? { field: record.error.field } : {}),
    };
    letters.push({
      dlId: `undecodable-${record.topic}-${record.partition}-${record.offset}`,
      source: event.source,
      id: event.id,
      rule: '$undecodable',
      target: '$log',
      event,
      reason: `${error.code}: ${error.message}`,
      attempts: [],
      at: now,
      position: { partition: record.partition, offset: record.offset },
    });
    traces.push({
      source: event.source,
      id: event.id,
      at: now,
      kind: 'dead-lettered',
      detail: {
        reason: 'undecodable',
        error,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key,
        value: record.value,
        headers: record.headers,
      },
    });
  }
  await Promise.all([...letters.map((l) => runtime.deadLetters.add(l)), runtime.traces.record(traces)]);
}

export interface RouterSummary {
  /** Records routed (matched deliveries durably enqueued, or traced as unmatched). */
  readonly routed: number;
  /** Records that were not CloudEvents, dead-lettered with their raw bytes. */
  readonly undecodable: number;
  /** Deliveries still running when the handler returned (their lease expires; the scheduler retries them). */
  readonly stillRunning: number;
}

/**
 * MSK event source mapping → the router: each partition's records in offset order through
 * `router.processBatch`, then deliveries until the time budget. Throws (so the mapping retries the batch) only
 * when routing failed; an undecodable record is dead-lettered instead.
 */
export function createRouterHandler(
  runtime: RuntimeProvider,
  options: WaitOptions = {},
): (event: unknown, context?: LambdaContextLike) => Promise<RouterSummary> {
  const marginMs = options.marginMs ?? 2000;
  return (event, context) =>
    metered(runtime, async () => {
      const batches = decodeMskEvent(event);
      const rt = await runtime();
      // What functions return and rules forward is checked against the registry: reload it when it is stale.
      await rt.freshenSchemas?.();
      const now = rt.junction.clock.now();
      const failures: JunctionError[] = [];
      let routed = 0;
      let undecodable = 0;
      await Promise.all(
        batches.map(async (batch) => {
          try {
            if (batch.undecodable.length > 0) await recordUndecodable(rt, batch.undecodable, now);
            undecodable += batch.undecodable.length;
            if (batch.records.length > 0) {
              await rt.junction.router.processBatch(batch.records);
              // Aggregation and correlation state of the partition, fenced in DynamoDB and read afresh: another
              // instance may have moved it since (movingPartitions; docs/aggregation.md#state-on-aws).
              await rt.junction.foldState(batch.records);
            }
            routed += batch.records.length;
          } catch (error) {
            const e = toJunctionError(error);
            failures.push(
              new JunctionError(e.code, `${batch.topic}-${batch.partition}: ${e.message}`, {
                retriable: true,
                cause: error,
              }),
            );
          }
        }),
      );
      if (failures.length > 0) {
        await idleWithin(rt, context, marginMs);
        throw new JunctionError(
          'BufferUnavailable',
          `routing failed for ${failures.length} of ${batches.length} partition batches; the mapping retries the batch: ${failures.map((f) => f.message).join('; ')}`,
          { retriable: true, cause: failures[0] },
        );
      }
      await idleWithin(rt, context, marginMs);
      return { routed, undecodable, stillRunning: rt.junction.dispatcher.inFlight };
    });
}

export interface SchedulerSummary {
  /** Due deliveries claimed and started. */
  readonly taken: number;
  readonly stillRunning: number;
  /** Slots of scheduled rules published (a slot published by an earlier run is a duplicate, counted here too). */
  readonly schedules: number;
  /** Gauge series written as EMF (0 without a publisher). */
  readonly gauges: number;
}

/**
 * A schedule → the slots of scheduled rules in the last `scheduleLookbackMs` published (docs/schedules.md), then due
 * retries: `dispatcher.runDue()`, and waits for them within the time budget; then the gauges as EMF.
 */
export function createSchedulerHandler(
  runtime: RuntimeProvider,
  options: WaitOptions & {
    /** How far back slots are published: more than the schedule's rate. @default JUNCTION_SCHEDULE_LOOKBACK_MS, else 3 min */
    readonly scheduleLookbackMs?: number;
  } = {},
): (event?: unknown, context?: LambdaContextLike) => Promise<SchedulerSummary> {
  const marginMs = options.marginMs ?? 2000;
  const lookback =
    options.scheduleLookbackMs ?? (Number(process.env.JUNCTION_SCHEDULE_LOOKBACK_MS) || 180_000);
  return (_event, context) =>
    metered(runtime, async () => {
      const rt = await runtime();
      // Scheduled events, and what retried functions return, are checked against the registry.
      await rt.freshenSchemas?.();
      const schedules = await rt.junction.fireDueSchedules(lookback);
      // Timers of correlation rules on idle partitions (absence: the timeout events), from the stored state.
      // Each partition's state is read afresh (movingPartitions); a failed tick (a router instance moved the partition
      // meanwhile: Conflict) fires again at the next run.
      await rt.junction.correlator
        ?.tick()
        .catch((error) => console.error('junction: a correlation tick:', error));
      const taken = await rt.junction.dispatcher.runDue();
      await idleWithin(rt, context, marginMs);
      // Once a minute (this function's rate), the gauges: pending deliveries, their oldest age, dead letters.
      const gauges = (await rt.emf?.flushGauges((error) => console.error('junction: a gauge:', error))) ?? 0;
      return { taken, stillRunning: rt.junction.dispatcher.inFlight, schedules, gauges };
    });
}

/** What a connector function reads from, as the construct declares it (`kafkaSources`). */
export interface ConnectorFunctionConfig {
  /** The connector's name: its dead letters are the rule `connector/<name>`. */
  readonly name: string;
  /** How records that are not CloudEvents become events (ids from their position by default). */
  readonly mapping: RecordMapping;
}

/** Reads `JUNCTION_CONNECTOR_NAME` and `JUNCTION_CONNECTOR_MAPPING` (JSON, optional); throws naming the variable. */
export function readConnectorConfig(
  env: Readonly<Record<string, string | undefined>>,
): ConnectorFunctionConfig {
  const name = env.JUNCTION_CONNECTOR_NAME?.trim() ?? '';
  try {
    validateConnectorName(name);
  } catch (error) {
    throw new JunctionError(
      'InvalidRequest',
      `JUNCTION_CONNECTOR_NAME: ${toJunctionError(error).message}; received ${JSON.stringify(name)}`,
      { field: 'JUNCTION_CONNECTOR_NAME' },
    );
  }
  const text = env.JUNCTION_CONNECTOR_MAPPING?.trim();
  let mapping: unknown;
  try {
    mapping = text === undefined || text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new JunctionError('InvalidRequest', 'JUNCTION_CONNECTOR_MAPPING must be a JSON object', {
      field: 'JUNCTION_CONNECTOR_MAPPING',
    });
  }
  return { name, mapping: validateMapping(mapping, 'JUNCTION_CONNECTOR_MAPPING') };
}

export interface ConnectorSummary {
  /** Events taken into the log (duplicates not counted). */
  readonly published: number;
  /** Events the log already held (a batch delivered again): dropped by the idempotent publish. */
  readonly duplicates: number;
  /** Records that could not become events, or whose events the bus refuses (a schema), dead-lettered with the reason. */
  readonly invalid: number;
}

/** Dead letters written at once at most (DynamoDB calls in flight). */
const LETTERS_AT_ONCE = 16;

/**
 * A Kafka event source mapping on a topic that is not Junction's log → the bus's log, as the embedded Kafka source
 * does it: each record a CloudEvent as it is (Kafka binding) or through the mapping (`decodeSourceRecord`, the
 * same code), with an id from its position by default; published through the quotas and the idempotent publish,
 * so a batch the mapping delivers again publishes nothing twice. A record that cannot become an event is
 * dead-lettered (rule `connector/<name>`) with the reason and does not hold the partition. Throws (so the mapping
 * retries the batch) when the log refused or failed: nothing is lost.
 */
export function createConnectorHandler(
  runtime: RuntimeProvider,
  connector: () => ConnectorFunctionConfig,
): (event: unknown) => Promise<ConnectorSummary> {
  return (event) =>
    metered(runtime, async () => {
      const { name, mapping } = connector();
      const batches = mskSourceRecords(event);
      const rt = await runtime();
      // The events are checked against the bus's schemas (admit): with the registry as other instances left it.
      await rt.freshenSchemas?.();
      const events: CloudEvent[] = [];
      const invalid: InvalidSourceRecord[] = [];
      for (const batch of batches) {
        invalid.push(...batch.malformed);
        for (const record of batch.records) {
          const decoded = decodeSourceRecord(record, mapping);
          if ('event' in decoded) events.push(decoded.event);
          else invalid.push(decoded.invalid);
        }
      }
      const now = rt.junction.clock.now();
      for (let i = 0; i < invalid.length; i += LETTERS_AT_ONCE) {
        await Promise.all(
          invalid
            .slice(i, i + LETTERS_AT_ONCE)
            .map((record) => rt.deadLetters.add(connectorDeadLetter(name, record, now))),
        );
      }
      let taken = events;
      let refused = 0;
      if (events.length > 0) {
        const verdicts = rt.junction.admit(events);
        // Over a quota the mapping delivers the batch again later: a quota delays a connector, never drops events.
        const limited = verdicts.find((verdict) => verdict?.code === 'RateLimited');
        if (limited !== undefined) throw limited;
        // An event refused for what it is (its data breaks its schema) would be refused on every delivery of the
        // batch: dead-lettered, as the embedded connector does, and the batch goes on.
        const letters = events.flatMap((event, i) => {
          const verdict = verdicts[i];
          return verdict === undefined ? [] : [connectorRefusedLetter(name, event, verdict, now)];
        });
        for (let i = 0; i < letters.length; i += LETTERS_AT_ONCE) {
          await Promise.all(
            letters.slice(i, i + LETTERS_AT_ONCE).map((letter) => rt.deadLetters.add(letter)),
          );
        }
        refused = letters.length;
        if (refused > 0) taken = events.filter((_e, i) => verdicts[i] === undefined);
      }
      const labels = { connector: name };
      if (invalid.length + refused > 0)
        rt.junction.metrics.inc('junction_connector_invalid_total', labels, invalid.length + refused);
      let published = 0;
      let duplicates = 0;
      if (taken.length > 0) {
        const results = await rt.junction.publish(taken);
        duplicates = results.filter((r) => r.duplicate).length;
        published = results.length - duplicates;
        if (published > 0) rt.junction.metrics.inc('junction_connector_events_total', labels, published);
      }
      return { published, duplicates, invalid: invalid.length + refused };
    });
}
