/**
 * Junction's engine composed from ports: ingest, the rule set, the router on the log, the dispatcher, and the
 * management operations the HTTP API and the CLI expose. The local server and the Lambda handlers both use it.
 */
import { compileFilter } from '../core/cesql/index.ts';
import { serializeEvent, validateEvent, withAttributes } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { DEFAULT_INGEST_LIMITS } from '../core/codec/http.ts';
import { defineRawData, JsonText, rawDataText } from '../core/codec/raw-data.ts';
import { invalidRequest, JunctionError, notFound } from '../core/errors.ts';
import {
  eventBridgeJson,
  fromEventBridgeEvent,
  isEventBridgeEvent,
  matchingView,
  toCloudEventsPattern,
} from '../core/eventbridge-shape.ts';
import { compileJsonata, type JsonataTransform } from '../core/jsonata.ts';
import { explain, validatePattern } from '../core/pattern/index.ts';
import { redactRule, restoreRedacted } from '../core/redact.ts';
import { validateRule, validateTarget } from '../core/rule.ts';
import type { Rule, Target } from '../core/rule-types.ts';
import { compileInput, type InputTransform } from '../core/transform.ts';
import { isObject } from '../core/values.ts';
import type {
  AggregateStore,
  AppendResult,
  Attempt,
  Clock,
  CorrelationStore,
  DeadLetter,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetters,
  DeliveryFilter,
  DeliveryKey,
  EventLog,
  FunctionConfig,
  FunctionInfo,
  FunctionRunner,
  Ledger,
  LogRecord,
  PendingDelivery,
  RuleStore,
  Subscription,
  TargetDriver,
  TraceEntry,
  Tracer,
  TraceStore,
} from '../ports.ts';
import { systemClock } from '../ports.ts';
import { Aggregator } from './aggregator.ts';
import { Correlator } from './correlator.ts';
import type { SchemaDiscovery } from './discovery.ts';
import { Dispatcher, type EmittedContext, type StopOptions, type StopReport } from './dispatcher.ts';
import type { FunctionActivity, FunctionActivitySnapshot } from './function-activity.ts';
import { createFunctionDriver } from './function-driver.ts';
import { createIngest, type Ingest, type PublishOptions } from './ingest.ts';
import { Metrics } from './metrics.ts';
import { type QuotaOptions, SourceQuota } from './quota.ts';
import { Router } from './router.ts';
import { RuleMatcher } from './rule-matcher.ts';
import { Scheduler } from './scheduler.ts';
import type { Schemas } from './schemas.ts';

export interface JunctionOptions {
  readonly log: EventLog;
  readonly rules: RuleStore;
  readonly ledger: Ledger;
  readonly deadLetters: DeadLetters;
  readonly traces: TraceStore;
  readonly functions: FunctionRunner;
  /**
   * Where invocations and log lines of the functions are kept for `GET /functions/{name}/activity` (the process that
   * runs them: the embedded bus). @default none (the endpoint answers 404 with where to look instead)
   */
  readonly functionActivity?: FunctionActivity;
  /** Drivers for `http`, `kafka` and `bus` targets (the `function` driver is built from `functions`). */
  readonly drivers?: Readonly<Partial<Record<Target['type'], TargetDriver>>>;
  readonly clock?: Clock;
  readonly metrics?: Metrics;
  /** @default 86400000 (24 h) */
  readonly dedupWindowMs?: number;
  /** How long finished deliveries and traces are kept. @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** Per-source ingest quotas (429 with Retry-After over the quota). @default none */
  readonly quota?: QuotaOptions;
  /** A quota on all the bus's events together (a named bus's `quota`), checked before the per-source ones. */
  readonly busQuota?: { readonly bus: string; readonly eventsPerSecond: number; readonly burst?: number };
  /** @default 30000 */
  readonly leaseMs?: number;
  /** @default 1000 */
  readonly pollMs?: number;
  /**
   * Most dead letters one redrive call takes up; past it the call answers a `nextCursor` to continue from. Bounds
   * the work (and the time to an answer) of one request. @default 5000
   */
  readonly redriveLimit?: number;
  /** The router's consumer group. @default 'junction-router' */
  readonly group?: string;
  /**
   * Whether the log commits the router's positions in the ledger's store (one SQLite database): the router's
   * enqueue then answers at commit, not after its fsync (RouterOptions.positionsInLedgerStore). @default false
   */
  readonly positionsInLedgerStore?: boolean;
  /** The bus this engine serves (it names the rules' ARNs in input transformers). @default 'default' */
  readonly busName?: string;
  /** Records per router batch (`ROUTER_MAX_BATCH`). @default 2000 */
  readonly maxBatch?: number;
  readonly onError?: (error: unknown) => void;
  /** Where aggregation rules keep their windows (docs/aggregation.md); without it, such rules are refused. */
  readonly aggregates?: AggregateStore;
  /** Where correlation rules keep their pending events and timers (docs/correlation.md); without it, such rules are refused. */
  readonly correlations?: CorrelationStore;
  /**
   * Whether the log's partitions may move to another process sharing these stores (Kafka consumer groups): then the
   * aggregation and correlation state of a partition is read from its store at each batch and tick, never from what
   * this process kept from before (docs/aggregation.md). @default false
   */
  readonly movingPartitions?: boolean;
  /**
   * More checks on a rule's targets at `PUT /rules` (the deployment's, e.g. the SSRF policy on literal addresses):
   * throws a `JunctionError` naming the field (`targets[i].url`) to refuse the rule.
   */
  readonly checkTarget?: (target: Target, path: string) => void;
  /**
   * Distributed tracing: an `ingest`, a `route` and a `deliver` span per attempt for each event, linked by the W3C
   * trace context the event carries (docs/tracing.md). @default none (nothing traced, events unchanged)
   */
  readonly tracer?: Tracer;
  /**
   * The bus's schema registry (docs/schemas.md): every event entering the bus is checked against it — in `admit`
   * (the API, MQTT, connectors, functions' events, other buses) and before a schedule's or an aggregation's publish.
   * @default none (nothing checked)
   */
  readonly schemas?: Pick<Schemas, 'check'>;
  /** Schema discovery: reads every event `publish` appended, whatever its entry. @default none */
  readonly discovery?: Pick<SchemaDiscovery, 'observe' | 'enabled'>;
}

/** How `putRule` and `setRuleEnabled` treat a rule. */
export interface RulePutOptions {
  /** Keep an enabled rule that has no targets (it matches and delivers nothing). @default false */
  readonly allowNoTargets?: boolean;
}

export interface PatternTestRequest {
  readonly pattern?: unknown;
  readonly filter?: unknown;
  readonly event?: unknown;
}

export interface PatternTestResult {
  readonly matches: boolean;
  readonly explanation?: unknown[];
}

/** `POST /targets/test`: what a target would receive for an event (issue #17, the console's transformer preview). */
export type TargetPreview =
  | {
      readonly ok: true;
      /** The CloudEvent the target receives (a function's argument; an HTTP target's ce-* headers and body). */
      readonly event: unknown;
      /** Its data as text: the body of an HTTP target's request. */
      readonly body: string | undefined;
      readonly contentType: string | undefined;
    }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

/** `POST /deliveries/retry`: which pending deliveries to make due now. */
export interface RetryRequest {
  readonly all?: boolean;
  readonly rule?: string;
  readonly target?: string;
  readonly keys?: readonly DeliveryKey[];
}

/** A live delivery as the API shows it: its key, state, times, and its attempts counted with the last one. */
export interface DeliveryView extends DeliveryKey {
  readonly state: 'pending' | 'in-flight';
  readonly createdAt: number;
  readonly dueAt: number;
  /** While in flight: when its lease runs out. */
  readonly leaseUntil?: number;
  readonly attempts: number;
  readonly lastAttempt?: Attempt;
  /** Set when a redrive created it: the dead letter's id. */
  readonly redriveOf?: string;
}

/** An event's trace with the traces of the events functions returned for it (`?follow=true`). */
export interface TraceTree {
  readonly source: string;
  readonly id: string;
  readonly entries: TraceEntry[];
  readonly emitted: readonly TraceTree[];
}

/** The events `emitted` trace entries name, in order. */
function emittedBy(entries: readonly TraceEntry[]): Array<{ source: string; id: string }> {
  const out: Array<{ source: string; id: string }> = [];
  for (const entry of entries) {
    const events = entry.kind === 'emitted' ? entry.detail?.events : undefined;
    if (!Array.isArray(events)) continue;
    for (const e of events) {
      if (isObject(e) && typeof e.source === 'string' && typeof e.id === 'string') {
        out.push({ source: e.source, id: e.id });
      }
    }
  }
  return out;
}

export interface RedriveRequest {
  readonly all?: boolean;
  readonly rule?: string;
  readonly target?: string;
  readonly ids?: readonly string[];
  /** Where the previous call stopped (its `nextCursor`). */
  readonly cursor?: string;
}

/** Which dead letters `deleteDeadLetters` removes: a redrive's choice, and optionally only those dead-lettered before `to`. */
export interface DeleteDeadLettersRequest extends RedriveRequest {
  /** Only letters dead-lettered before this time, ms since the epoch. */
  readonly to?: number;
}

const DAY = 86_400_000;
/**
 * Records the router takes from the log at once. Each batch's trace rows and position are written behind the
 * fsync under way (they are not durable writes), so under saturating ingest the router routes about one batch per
 * fsync: at 500 it fell behind batch ingest (≈ 90k events/s here) without end — 257k events behind after 8 s, 1.6 s
 * from ingest to route on average, and reading its records back from SQLite instead of the log's window of its own
 * appends. At 2,000 it keeps up (800 behind, 3.7 ms). A lagging router's turn is this many events long; an idle
 * one's batches are what arrived since the last.
 */
const ROUTER_MAX_BATCH = 2000;
/** The largest page any list answers, and the most keys or ids one request may name. */
export const MAX_LIST = 1000;
/** How far `?follow=true` follows emitted events: levels below the event, and nodes in all. */
const TRACE_DEPTH = 8;
const TRACE_NODES = 100;
/** Ledger entries read per page of a retry. */
const RETRY_PAGE = 500;
const RETRY_USAGE =
  'say what to retry: {"all": true}, {"rule": "name"}, {"rule": "name", "target": "id"} or {"keys": [{"source", "id", "rule", "target"}]}';
/** Dead letters read per page of a redrive, and the most one redrive call takes up (`redriveLimit`). */
const REDRIVE_PAGE = 500;
const REDRIVE_LIMIT = 5000;

/** The letters a redrive or a delete names, checked: all, a rule's (and a target's), or by id; a page's worth. */
function deadLetterSelection(request: RedriveRequest, verb: 'redrive' | 'delete'): DeadLetterFilter {
  if (typeof request !== 'object' || request === null) {
    throw invalidRequest(`say what to ${verb}: {"all": true}, {"rule": "name"} or {"ids": [...]}`, 'ids');
  }
  if (request.all !== undefined && typeof request.all !== 'boolean') {
    throw invalidRequest('"all" must be true or false', 'all');
  }
  if (!request.all && request.rule === undefined && request.ids === undefined) {
    throw invalidRequest(`say what to ${verb}: {"all": true}, {"rule": "name"} or {"ids": [...]}`, 'ids');
  }
  if (request.ids !== undefined) {
    if (!Array.isArray(request.ids) || request.ids.some((id) => typeof id !== 'string')) {
      throw invalidRequest('"ids" must be an array of dead letter ids (strings)', 'ids');
    }
    if (request.ids.length > MAX_LIST) {
      throw invalidRequest(`"ids" holds at most ${MAX_LIST} ids; got ${request.ids.length}`, 'ids');
    }
  }
  for (const field of ['rule', 'target', 'cursor'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') {
      throw invalidRequest(`"${field}" must be a string`, field);
    }
  }
  return {
    ...(request.rule === undefined ? {} : { rule: request.rule }),
    ...(request.target === undefined ? {} : { target: request.target }),
    ...(request.ids === undefined ? {} : { ids: request.ids }),
    limit: REDRIVE_PAGE,
  };
}

/** Most events one function call may publish (more fail the lot, as an oversized batch does). */
export const MAX_EMITTED_EVENTS = 100;
/** The extension counting how many functions, replies and buses an event has passed through. */
export const HOPS_EXTENSION = 'junctionhops';
/** Events a function returns at this many hops are not published: the loop is reported instead. */
export const MAX_FUNCTION_HOPS = 16;

/** How many function, reply and bus hops an event has behind it (`junctionhops`; binary mode may carry it as a string). */
export function hopsOf(event: CloudEvent): number {
  const value = (event as Readonly<Record<string, unknown>>)[HOPS_EXTENSION];
  const hops = typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : value;
  return typeof hops === 'number' && Number.isSafeInteger(hops) && hops > 0 ? hops : 0;
}

/** The same refusal, its message prefixed with what was refused (the code, field and details kept). */
function refusedAt(error: JunctionError, what: string): JunctionError {
  return new JunctionError(error.code, `${what}: ${error.message}`, {
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

export class Junction {
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly ingest: Ingest;
  readonly router: Router;
  readonly dispatcher: Dispatcher;
  /** Runs the aggregation rules on the router's batches; absent without an aggregate store. */
  readonly aggregator: Aggregator | undefined;
  /** Runs the correlation rules on the router's batches and fires their timers; absent without a correlation store. */
  readonly correlator: Correlator | undefined;
  readonly #o: JunctionOptions;
  readonly #matcher = new RuleMatcher();
  /** Publishes the events of scheduled rules while the engine runs (`start` to `stop`). */
  readonly #scheduler: Scheduler;
  readonly #rules = new Map<string, Rule>();
  readonly #transforms = new WeakMap<Target, InputTransform>();
  /** Compiled `inputJsonata` expressions, once per target of a rule version. */
  readonly #jsonata = new WeakMap<Target, JsonataTransform>();
  readonly #quota: SourceQuota | undefined;
  readonly #busQuota: { readonly bus: string; readonly quota: SourceQuota } | undefined;
  #unwatch: (() => void) | undefined;
  #subscription: Subscription | undefined;
  #housekeeping: NodeJS.Timeout | undefined;

  private constructor(options: JunctionOptions) {
    this.#o = options;
    this.clock = options.clock ?? systemClock;
    this.metrics = options.metrics ?? new Metrics();
    this.#scheduler = new Scheduler({
      publish: (events) => this.#publishOwn(events, 'a schedule'),
      clock: this.clock,
      onFired: (rule) => this.metrics.inc('junction_schedule_fired_total', { rule }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    this.#quota = options.quota === undefined ? undefined : new SourceQuota(options.quota, this.clock);
    const busQuota = options.busQuota;
    this.#busQuota =
      busQuota === undefined
        ? undefined
        : {
            bus: busQuota.bus,
            quota: new SourceQuota(
              {
                eventsPerSecond: busQuota.eventsPerSecond,
                ...(busQuota.burst === undefined ? {} : { burst: busQuota.burst }),
                subject: { describe: (bus) => `the bus ${JSON.stringify(bus)}` },
              },
              this.clock,
            ),
          };
    this.ingest = createIngest({
      log: options.log,
      metrics: this.metrics,
      ...(options.dedupWindowMs === undefined ? {} : { dedupWindowMs: options.dedupWindowMs }),
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
    });
    this.dispatcher = new Dispatcher({
      ledger: options.ledger,
      deadLetters: options.deadLetters,
      traces: options.traces,
      clock: this.clock,
      metrics: this.metrics,
      lookup: (name) => this.#rules.get(name),
      drivers: {
        ...options.drivers,
        function: createFunctionDriver(options.functions, this.metrics, options.functionActivity),
      },
      transform: (event, rule, target, createdAt) => this.#transform(event, rule, target, createdAt),
      onEmitted: (returned, context) => this.#publishEmitted(returned, context),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
    });
    this.router = new Router({
      matcher: this.#matcher,
      ledger: options.ledger,
      traces: options.traces,
      clock: this.clock,
      metrics: this.metrics,
      dispatcher: this.dispatcher,
      group: options.group ?? 'junction-router',
      ...(options.positionsInLedgerStore === true ? { positionsInLedgerStore: true } : {}),
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
    });
    this.aggregator =
      options.aggregates === undefined
        ? undefined
        : new Aggregator({
            store: options.aggregates,
            metrics: this.metrics,
            publish: (events) => this.#publishOwn(events, 'an aggregation', { kind: 'producer' }),
          });
    this.correlator =
      options.correlations === undefined
        ? undefined
        : new Correlator({
            store: options.correlations,
            metrics: this.metrics,
            clock: this.clock,
            partitions: options.log.partitions,
            endOffsets: () => options.log.endOffsets(),
            // Checked against the bus's schemas like every event entering the bus; a refused one is not published.
            publish: (events) => this.#publishOwn(events, 'a correlation', { kind: 'producer' }),
            ...(options.onError === undefined ? {} : { onError: options.onError }),
            ...(options.movingPartitions === true ? { freshTicks: true } : {}),
          });
    // Per rule and target: bounded by the bus's rules and their targets (the rule limits), not by the traffic.
    this.metrics.declare('junction_rule_matches_total', 'counter', 'Events a rule matched.');
    this.metrics.declare(
      'junction_events_rate_limited_total',
      'counter',
      'Events refused by a bus or source quota.',
    );
    this.metrics.declare(
      'junction_target_pending',
      'gauge',
      'Live (pending and in-flight) deliveries per rule and target.',
    );
    this.metrics.declare(
      'junction_target_dead_letters',
      'gauge',
      'Dead letters stored per rule and target (a redrive or a delete removes them).',
    );
    this.metrics.declare(
      'junction_target_oldest_pending_age_seconds',
      'gauge',
      'Age of the oldest live delivery per rule and target, seconds since it was routed.',
    );
    this.metrics.collect(async () => {
      const [ends, committed] = await Promise.all([
        options.log.endOffsets(),
        options.log.committed(options.group ?? 'junction-router'),
      ]);
      let lag = 0;
      for (const end of ends) {
        const c = committed.find((p) => p.partition === end.partition)?.offset ?? 0;
        lag += Math.max(0, end.offset - c);
      }
      this.metrics.set('junction_router_lag_events', lag, undefined, 'Events in the log not yet routed.');
    });
    // Apart from the lag: where the log cannot answer (on AWS only the router may describe its group), the
    // deliveries' gauges still can.
    this.metrics.collect(async () => {
      this.metrics.set(
        'junction_deliveries_pending',
        await options.ledger.pendingCount(),
        undefined,
        'Deliveries pending.',
      );
      this.metrics.set(
        'junction_dead_letters',
        await options.deadLetters.count(),
        undefined,
        'Dead letters stored.',
      );
      const [stats, dead] = await Promise.all([
        options.ledger.pendingByTarget(),
        options.deadLetters.countByTarget(),
      ]);
      const now = this.clock.now();
      this.metrics.clear('junction_target_pending');
      this.metrics.clear('junction_target_oldest_pending_age_seconds');
      this.metrics.clear('junction_target_dead_letters');
      for (const count of dead)
        this.metrics.set('junction_target_dead_letters', count.count, {
          rule: count.rule,
          target: count.target,
        });
      for (const stat of stats) {
        const labels = { rule: stat.rule, target: stat.target };
        this.metrics.set('junction_target_pending', stat.count, labels);
        this.metrics.set(
          'junction_target_oldest_pending_age_seconds',
          Math.max(0, now - stat.oldestCreatedAt) / 1000,
          labels,
        );
      }
    });
  }

  /** Builds the engine and loads the rules; call `start()` to consume the log and deliver. */
  static async open(options: JunctionOptions): Promise<Junction> {
    const junction = new Junction(options);
    for (const rule of await options.rules.list()) junction.#apply(rule);
    junction.#unwatch = options.rules.watch((change) => {
      if (change.kind === 'put') junction.#apply(change.rule);
      else junction.#remove(change.name);
    });
    return junction;
  }

  #apply(rule: Rule): void {
    this.#rules.set(rule.name, rule);
    // An aggregation rule is the aggregator's: it has no targets for the router to deliver to.
    if (Aggregator.handles(rule)) {
      this.#matcher.delete(rule.name);
      this.correlator?.delete(rule.name);
      this.aggregator?.set(rule);
    } else if (Correlator.handles(rule)) {
      this.#matcher.delete(rule.name);
      this.aggregator?.delete(rule.name);
      this.correlator?.set(rule);
    } else {
      this.aggregator?.delete(rule.name);
      this.correlator?.delete(rule.name);
      this.#matcher.set(rule);
    }
    this.#scheduler.set(rule);
  }

  #remove(name: string): void {
    this.#rules.delete(name);
    this.#matcher.delete(name);
    this.#scheduler.delete(name);
    this.aggregator?.delete(name);
    this.correlator?.delete(name);
  }

  /**
   * Folds a batch of one partition, once routed, into the aggregation and correlation state. With `movingPartitions`
   * the partition's state is read from its store first: another process (or Lambda instance) may have moved it since.
   */
  async foldState(records: readonly LogRecord[]): Promise<void> {
    const partition = records[0]?.partition;
    if (partition === undefined) return;
    if (this.#o.movingPartitions === true) {
      this.aggregator?.forget(partition);
      this.correlator?.forget(partition);
    }
    await this.aggregator?.process(records);
    await this.correlator?.process(records);
  }

  /** Consumes the log and delivers, until `stop()`. */
  async start(): Promise<void> {
    this.dispatcher.start();
    this.#subscription = await this.#o.log.subscribe({
      group: this.#o.group ?? 'junction-router',
      handler: async (records) => {
        await this.router.processBatch(records);
        await this.foldState(records);
      },
      maxBatch: this.#o.maxBatch ?? ROUTER_MAX_BATCH,
    });
    this.metrics.declare(
      'junction_schedule_fired_total',
      'counter',
      'Slots of scheduled rules whose event was published (or found published: another process fired it).',
    );
    this.#scheduler.start();
    this.correlator?.start();
    const retention = this.#o.retentionMs ?? 7 * DAY;
    const prune = async () => {
      const before = this.clock.now() - retention;
      await this.#o.traces.prune(before);
      await this.#o.ledger.prune(Math.min(before, this.clock.now() - (this.#o.dedupWindowMs ?? DAY)));
    };
    this.#housekeeping = setInterval(() => void prune().catch((e) => this.#o.onError?.(e)), 3_600_000);
    this.#housekeeping.unref();
  }

  /**
   * Stops consuming and delivering: queued deliveries go back to the ledger, running ones get until
   * `options.deadlineMs` (then they are cut off and left in the ledger for the next start). The ports stay open (their
   * owner closes them).
   */
  async stop(options: StopOptions = {}): Promise<StopReport> {
    if (this.#housekeeping) clearInterval(this.#housekeeping);
    this.#scheduler.stop();
    await this.correlator?.stop();
    this.#unwatch?.();
    await this.#subscription?.close();
    this.#subscription = undefined;
    return this.dispatcher.stop(options);
  }

  /**
   * Publishes the slots of scheduled rules that fell in the last `lookbackMs` (a host without timers: the AWS
   * scheduler Lambda). Slots published before are duplicates for the log. Answers how many slots were published.
   */
  fireDueSchedules(lookbackMs: number): Promise<number> {
    const now = this.clock.now();
    return this.#scheduler.fireDue(now - lookbackMs, now);
  }

  // ---- ingest ------------------------------------------------------------------------------------------

  /**
   * Appends events durably (and hands them to schema discovery); `options.parent` is the caller's trace context (e.g.
   * the HTTP `traceparent` header). Checks nothing: call `admit` first.
   */
  publish(events: readonly CloudEvent[], options?: PublishOptions): Promise<AppendResult[]> {
    const discovery = this.#o.discovery;
    const appended = this.ingest.publish(events, options);
    if (discovery === undefined || !discovery.enabled) return appended;
    return appended.then((results) => {
      discovery.observe(events);
      return results;
    });
  }

  /**
   * Publishes the bus's own events (a schedule's, an aggregation's; `what` names it): checked against the schemas
   * (not the quotas). There is no caller to answer, so an event the schemas refuse is not published and the refusal
   * is its trace (`schema-violation`, `refused`), the bus's error log and the violations counter; the others are.
   */
  async #publishOwn(events: readonly CloudEvent[], what: string, options?: PublishOptions): Promise<void> {
    const verdicts = this.#o.schemas?.check(events, { traceRefused: true });
    if (verdicts === undefined || verdicts.every((v) => v === undefined)) {
      await this.publish(events, options);
      return;
    }
    const accepted: CloudEvent[] = [];
    for (const [i, event] of events.entries()) {
      const verdict = verdicts[i];
      if (verdict === undefined) accepted.push(event);
      else this.#o.onError?.(refusedAt(verdict, `the event ${event.id} of ${what} was not published`));
    }
    if (accepted.length > 0) await this.publish(accepted, options);
  }

  /**
   * Applies the bus's quota, then the per-source quotas, then the schemas bound to the events the quotas let through:
   * per event, undefined (admitted), a `RateLimited` error (HTTP 429) or a `SchemaViolation` (400). An event the bus
   * quota refuses takes no token from its source's bucket. `traceRefused` records a trace entry for each event the
   * schemas refuse (entries with no caller to answer).
   */
  admit(
    events: readonly CloudEvent[],
    options?: { readonly traceRefused?: boolean },
  ): Array<JunctionError | undefined> {
    const verdicts = this.#admitQuotas(events);
    const schemas = this.#o.schemas;
    if (schemas === undefined) return verdicts;
    if (verdicts.every((v) => v === undefined)) return schemas.check(events, options);
    const checked = schemas.check(
      events.filter((_e, i) => verdicts[i] === undefined),
      options,
    );
    let next = 0;
    return verdicts.map((verdict) => verdict ?? checked[next++]);
  }

  #admitQuotas(events: readonly CloudEvent[]): Array<JunctionError | undefined> {
    if (this.#quota === undefined && this.#busQuota === undefined) return events.map(() => undefined);
    const bus = this.#busQuota;
    const verdicts: Array<JunctionError | undefined> =
      bus === undefined ? events.map(() => undefined) : bus.quota.admit(events.map(() => bus.bus));
    if (this.#quota !== undefined) {
      const open = events.flatMap((_e, i) => (verdicts[i] === undefined ? [i] : []));
      const bySource = this.#quota.admit(open.map((i) => (events[i] as CloudEvent).source));
      open.forEach((i, k) => {
        verdicts[i] = bySource[k];
      });
    }
    const limited = verdicts.filter((v) => v !== undefined).length;
    if (limited > 0)
      this.metrics.inc(
        'junction_events_rate_limited_total',
        undefined,
        limited,
        'Events refused by a bus or source quota.',
      );
    return verdicts;
  }

  /**
   * The event a target receives: as it is; or, with an input transformer or the `eventbridge` format, a CloudEvent
   * with the same attributes whose data is the body the target gets (the transformer's output, or the event in
   * EventBridge's shape). JSON output is kept as text, so the data's big integers keep their digits on the way out.
   */
  #transform(
    event: CloudEvent,
    rule: Rule,
    target: Target,
    createdAt: number,
  ): CloudEvent | Promise<CloudEvent> {
    const eventBridge =
      (target.type === 'http' || target.type === 'function') && target.format === 'eventbridge';
    if (target.inputJsonata !== undefined) return this.#transformJsonata(event, rule, target, createdAt);
    if (target.input === undefined && !eventBridge) return event;
    const ingestionTime = new Date(createdAt).toISOString();
    let body: string;
    let contentType: 'application/json' | 'text/plain' = 'application/json';
    if (target.input === undefined) {
      body = eventBridgeJson(event, { ingestionTime });
    } else {
      let transform = this.#transforms.get(target);
      if (!transform) {
        transform = compileInput(target.input, 'input', eventBridge ? { format: 'eventbridge' } : {});
        this.#transforms.set(target, transform);
      }
      ({ body, contentType } = transform(event, {
        ruleName: rule.name,
        targetId: target.id,
        ingestionTime,
        ...(this.#o.busName === undefined ? {} : { bus: this.#o.busName }),
      }));
      if (contentType === 'application/json') {
        try {
          JSON.parse(body);
        } catch {
          contentType = 'text/plain';
        }
      }
    }
    return withBody(event, body, contentType);
  }

  /**
   * The event a target with `inputJsonata` receives: its attributes, and as data the expression's result (JSON), the
   * expression reading the CloudEvent as JSON (or the event in EventBridge's shape with the `eventbridge` format).
   * Throws `DeliveryFailed` (not retried: the delivery goes to the dead letters with the reason) when the evaluation
   * fails or passes its bounds.
   */
  async #transformJsonata(
    event: CloudEvent,
    rule: Rule,
    target: Target,
    createdAt: number,
  ): Promise<CloudEvent> {
    const expression = target.inputJsonata as string;
    let transform = this.#jsonata.get(target);
    if (!transform) {
      transform = compileJsonata(expression, 'inputJsonata');
      this.#jsonata.set(target, transform);
    }
    const ingestionTime = new Date(createdAt).toISOString();
    const eventBridge =
      (target.type === 'http' || target.type === 'function') && target.format === 'eventbridge';
    const input = JSON.parse(eventBridge ? eventBridgeJson(event, { ingestionTime }) : serializeEvent(event));
    const body = await transform(input, { ruleName: rule.name, targetId: target.id, ingestionTime });
    return withBody(event, body, 'application/json');
  }

  async #publishEmitted(
    returned: readonly unknown[],
    context: EmittedContext,
  ): Promise<Array<{ source: string; id: string }>> {
    const { delivery, rule, target } = context;
    const fn = target.type === 'function' ? target.function : target.id;
    const who = target.type === 'function' ? `function "${fn}"` : `target "${fn}" (its reply)`;
    if (returned.length > MAX_EMITTED_EVENTS) {
      throw new JunctionError(
        'InvalidEvent',
        `${who} returned ${returned.length} events; at most ${MAX_EMITTED_EVENTS} are published per call, so none were`,
        { field: 'returned', details: { returned: returned.length, limit: MAX_EMITTED_EVENTS } },
      );
    }
    const hops = hopsOf(delivery.event) + 1;
    if (returned.length > 0 && hops >= MAX_FUNCTION_HOPS) {
      const loop = new JunctionError(
        'InvalidEvent',
        `${who} returned events from an event that has already passed ${hops - 1} function or reply hops (${HOPS_EXTENSION}); a loop is likely, so they were not published (limit ${MAX_FUNCTION_HOPS})`,
        { field: HOPS_EXTENSION, details: { hops, limit: MAX_FUNCTION_HOPS } },
      );
      this.#o.onError?.(loop);
      throw loop;
    }
    const events = returned.map((raw, i) => {
      if (!isObject(raw)) {
        throw new JunctionError(
          'InvalidEvent',
          `${who} returned a ${typeof raw} at index ${i}; return CloudEvent objects`,
        );
      }
      const limits = { maxEventBytes: DEFAULT_INGEST_LIMITS.maxEventBytes };
      const link = {
        [HOPS_EXTENSION]: hops,
        causationid: delivery.event.id,
        causationsource: delivery.event.source,
      };
      // An HTTP subscriber's reply is an event already read by the codec: it keeps its own source and id, as
      // Knative's brokers keep them (the rule's owner opted into publishing what that endpoint answers, `reply`),
      // and its data as the subscriber wrote it.
      if (target.type !== 'function') return withAttributes(raw as CloudEvent, link, limits);
      return validateEvent(
        {
          specversion: '1.0',
          // Deterministic, so a retried invocation's events are deduplicated (idempotent publish).
          id: `${delivery.id}.${rule.name}.${target.id}.${i}`,
          ...raw,
          // A function publishes as itself only: it cannot pose as a producer (nor block one's ids as duplicates).
          source: `/functions/${fn}`,
          ...link,
        },
        limits,
      );
    });
    // The per-source ingest quota holds for a function's source as for any producer's, and the schemas for its
    // events as for anyone's: when either refuses one event, none are published (as past MAX_EMITTED_EVENTS).
    const verdicts = this.admit(events, { traceRefused: true });
    const refused = verdicts.findIndex((verdict) => verdict !== undefined);
    if (refused >= 0) {
      const verdict = verdicts[refused] as JunctionError;
      if (verdict.code !== 'SchemaViolation') throw verdict;
      const error = refusedAt(
        verdict,
        `${who} returned an event (index ${refused}, id ${(events[refused] as CloudEvent).id}) its bus refuses, so none of its ${events.length} were published`,
      );
      this.#o.onError?.(error);
      if (target.type === 'function') this.#o.functionActivity?.log(fn, `junction: ${error.message}`);
      throw error;
    }
    // Their `ingest` spans continue the trace of the attempt that returned them (unless they carry their own).
    await this.publish(events, {
      kind: 'producer',
      ...(context.trace === undefined ? {} : { parent: context.trace }),
    });
    return events.map((e) => ({ source: e.source, id: e.id }));
  }

  // ---- rules ------------------------------------------------------------------------------------------

  /**
   * Creates or replaces a rule; answers it as reads show it (header values `***`). A header value that is
   * exactly `***` keeps the stored value (a rule read back and PUT again keeps its secrets). Beyond its shape,
   * refuses (`InvalidRule`, naming the target's field) a rule that could never deliver: a function target whose
   * function is not deployed, a target type this bus has no driver for or whose driver says it cannot deliver (a
   * `kafka` target naming no brokers on a bus without Kafka), an HTTP target at an address the SSRF policy refuses,
   * and an enabled rule with no targets (a rule without targets may be kept as a draft with `"enabled": false`).
   * `options.allowNoTargets` keeps an enabled rule without targets (EventBridge's PutRule creates one; it matches
   * and delivers nothing): the EventBridge management API sets it, the REST API does not.
   */
  async putRule(
    name: string,
    body: unknown,
    options: RulePutOptions = {},
  ): Promise<{ rule: Rule; created: boolean }> {
    const previous = await this.#o.rules.get(name);
    const rule = validateRule(name, restoreRedacted(body, previous), this.clock.now(), previous);
    for (const [i, target] of rule.targets.entries()) this.#o.checkTarget?.(target, `targets[${i}]`);
    await this.#checkDeliverable(rule, options);
    const { created } = await this.#o.rules.put(rule);
    this.#apply(rule);
    return { rule: redactRule(rule), created };
  }

  /** `POST /rules/{name}/enable|disable`: a disabled rule matches nothing; its live deliveries still finish. */
  async setRuleEnabled(name: string, enabled: boolean, options: RulePutOptions = {}): Promise<Rule> {
    // The stored rule, not getRule's redacted view: header values must survive the switch.
    const current = await this.#o.rules.get(name);
    if (!current) throw notFound(`rule "${name}"`);
    const rule: Rule = Object.freeze({ ...current, enabled, updatedAt: this.clock.now() });
    if (enabled) await this.#checkDeliverable(rule, options);
    await this.#o.rules.put(rule);
    this.#apply(rule);
    return redactRule(rule);
  }

  async #checkDeliverable(rule: Rule, options: RulePutOptions = {}): Promise<void> {
    if (rule.aggregate !== undefined) {
      if (this.aggregator === undefined) {
        throw new JunctionError(
          'InvalidRule',
          'this bus keeps no aggregation state (aggregation rules run on the embedded bus, on either log, and on AWS); see docs/aggregation.md',
          { path: 'aggregate', field: 'aggregate' },
        );
      }
      return;
    }
    if (rule.correlate !== undefined) {
      if (this.correlator === undefined) {
        throw new JunctionError(
          'InvalidRule',
          'this bus keeps no correlation state (correlation rules run on the embedded bus, on either log, and on AWS); see docs/correlation.md',
          { path: 'correlate', field: 'correlate' },
        );
      }
      return;
    }
    if (rule.targets.length === 0 && rule.enabled && options.allowNoTargets !== true) {
      throw new JunctionError(
        'InvalidRule',
        'a rule with no targets delivers nothing; give it targets, or keep it as a draft with "enabled": false',
        { path: 'targets', field: 'targets' },
      );
    }
    for (const [i, target] of rule.targets.entries()) await this.#checkDriver(target, `targets[${i}]`);
  }

  /**
   * Refuses (`InvalidRule`, the field under `path`) a valid target this bus could never deliver to: a function
   * that is not deployed, a target type without a driver or whose driver says no, an address the SSRF policy
   * refuses. `putRule` checks every target with it; the EventBridge API checks targets one by one.
   */
  async checkTarget(target: Target, path: string): Promise<void> {
    this.#o.checkTarget?.(target, path);
    await this.#checkDriver(target, path);
  }

  async #checkDriver(target: Target, path: string): Promise<void> {
    const refuse = (message: string, at: string) =>
      new JunctionError('InvalidRule', message, { path: at, field: at });
    if (target.type === 'function') {
      if ((await this.#o.functions.get(target.function)) === undefined) {
        throw refuse(
          `function "${target.function}" is not deployed; deploy it first (PUT /functions/${target.function})`,
          `${path}.function`,
        );
      }
      return;
    }
    const driver = this.#o.drivers?.[target.type];
    if (driver === undefined) {
      throw refuse(`this bus cannot deliver to "${target.type}" targets`, `${path}.type`);
    }
    const problem = driver.check?.(target);
    if (problem !== undefined) {
      throw refuse(problem.message, `${path}${problem.field === undefined ? '' : `.${problem.field}`}`);
    }
  }

  /** How long the bus keeps finished deliveries and traces (the embedded bus keeps its log as long). */
  get retentionMs(): number {
    return this.#o.retentionMs ?? 7 * DAY;
  }

  /** A rule as reads show it: HTTP target header values are `***`. */
  async getRule(name: string): Promise<Rule> {
    const rule = await this.#o.rules.get(name);
    if (!rule) throw notFound(`rule "${name}"`);
    return redactRule(rule);
  }

  /** The rules as reads show them: HTTP target header values are `***`. */
  async listRules(): Promise<Rule[]> {
    return (await this.#o.rules.list()).map(redactRule);
  }

  async deleteRule(name: string): Promise<void> {
    if (!(await this.#o.rules.delete(name))) throw notFound(`rule "${name}"`);
    this.#remove(name);
  }

  /** `POST /patterns/test`: matches a pattern and/or a CESQL filter against any JSON object. */
  testPattern(request: unknown): PatternTestResult {
    if (!isObject(request))
      throw invalidRequest('the body must be a JSON object with "event" and "pattern" or "filter"');
    const { pattern, filter, event } = request as PatternTestRequest;
    if (!isObject(event)) throw invalidRequest('"event" must be a JSON object', 'event');
    if (pattern === undefined && filter === undefined) {
      throw invalidRequest('give a "pattern", a "filter", or both', 'pattern');
    }
    let matches = true;
    const explanation: unknown[] = [];
    // An EventBridge-shaped event is read as the CloudEvent PutEvents makes of one; patterns in their CloudEvents
    // shape, on the event as routing reads it (docs/eventbridge.md, "Events and patterns").
    const read = isEventBridgeEvent(event) ? fromEventBridgeEvent(event) : event;
    if (pattern !== undefined) {
      validatePattern(pattern);
      const translated = toCloudEventsPattern(pattern);
      validatePattern(translated);
      const result = explain(translated, matchingView(read));
      matches = result.matches;
      explanation.push(...result.explanation);
    }
    if (filter !== undefined) {
      if (typeof filter !== 'string') throw invalidRequest('"filter" must be a CESQL string', 'filter');
      const compiled = compileFilter(filter, { path: 'filter' });
      const { value, errors } = compiled.evaluate(read);
      if (value !== true) {
        matches = false;
        explanation.push({
          path: 'filter',
          condition: filter,
          actual: value,
          reason: 'the filter did not evaluate to true',
          errors,
        });
      }
    }
    return matches ? { matches } : { matches, explanation };
  }

  /**
   * `POST /targets/test {"event", "target", "rule"?}`: shapes the event as the target would receive it (its input
   * path, input transformer, `inputJsonata` or `eventbridge` format), without delivering anything. A bad event or
   * target is a 400 naming the field; a transformation that fails answers `ok: false` with the reason the delivery
   * would be dead-lettered with.
   */
  async previewTarget(request: unknown): Promise<TargetPreview> {
    if (!isObject(request)) throw invalidRequest('the body must be a JSON object with "event" and "target"');
    const { event, target, rule } = request as { event?: unknown; target?: unknown; rule?: unknown };
    if (!isObject(event)) throw invalidRequest('"event" must be a JSON object', 'event');
    if (rule !== undefined && (typeof rule !== 'string' || rule === '' || rule.length > 256)) {
      throw invalidRequest('"rule" must be a rule name (1–256 characters)', 'rule');
    }
    let checked: Target;
    try {
      checked = validateTarget(target, 0);
    } catch (error) {
      if (!(error instanceof JunctionError)) throw error;
      const rename = (text: string | undefined) => text?.replaceAll('targets[0]', 'target');
      throw new JunctionError(error.code, rename(error.message) as string, {
        field: rename(error.field) ?? 'target',
        ...(error.path === undefined ? {} : { path: rename(error.path) as string }),
      });
    }
    const read = isEventBridgeEvent(event) ? fromEventBridgeEvent(event) : event;
    let input: CloudEvent;
    try {
      input = validateEvent(read);
    } catch (error) {
      if (!(error instanceof JunctionError)) throw error;
      throw new JunctionError(error.code, `event: ${error.message}`, {
        field: error.field === undefined ? 'event' : `event.${error.field}`,
      });
    }
    const now = this.clock.now();
    const shaped: Rule = {
      name: (rule as string | undefined) ?? 'preview',
      enabled: true,
      targets: [checked],
      createdAt: now,
      updatedAt: now,
    };
    try {
      const out = await this.#transform(input, shaped, checked, now);
      const json = JSON.parse(serializeEvent(out)) as Record<string, unknown>;
      const body =
        out.data === undefined && out.data_base64 === undefined
          ? undefined
          : (rawDataText(out) ?? (typeof out.data === 'string' ? out.data : JSON.stringify(out.data)));
      return {
        ok: true,
        event: json,
        body,
        contentType: typeof out.datacontenttype === 'string' ? out.datacontenttype : undefined,
      };
    } catch (error) {
      if (!(error instanceof JunctionError)) throw error;
      return { ok: false, error: { code: error.code, message: error.message } };
    }
  }

  // ---- functions --------------------------------------------------------------------------------------

  deployFunction(name: string, source: Uint8Array, config?: FunctionConfig): Promise<FunctionInfo> {
    return this.#o.functions.deploy(name, source, config);
  }

  /** `GET /functions/{name}/activity`: what the function did lately in this process (its invocations and logs). */
  async functionActivity(name: string): Promise<FunctionActivitySnapshot & { readonly name: string }> {
    const activity = this.#o.functionActivity;
    if (activity === undefined) {
      throw new JunctionError(
        'NotFound',
        `the activity of function "${name}" is kept by the embedded bus only; on AWS its invocations and log lines are in CloudWatch (Lambda metrics, the log group /aws/lambda/<function name>)`,
      );
    }
    await this.getFunction(name);
    return { name, ...activity.snapshot(name) };
  }

  listFunctions(): Promise<FunctionInfo[]> {
    return this.#o.functions.list();
  }

  async getFunction(name: string): Promise<FunctionInfo> {
    const info = await this.#o.functions.get(name);
    if (!info) throw notFound(`function "${name}"`);
    return info;
  }

  /** Refuses (409 `Conflict`, naming them) while rules still deliver to the function. */
  async deleteFunction(name: string): Promise<void> {
    if ((await this.#o.functions.get(name)) === undefined) throw notFound(`function "${name}"`);
    const users = (await this.#o.rules.list())
      .filter((rule) => rule.targets.some((t) => t.type === 'function' && t.function === name))
      .map((rule) => rule.name);
    if (users.length > 0) {
      throw new JunctionError(
        'Conflict',
        `function "${name}" is a target of rule${users.length > 1 ? 's' : ''} ${users.join(', ')}; change or delete ${users.length > 1 ? 'them' : 'it'} first`,
        { field: 'name', details: { rules: users } },
      );
    }
    if (!(await this.#o.functions.delete(name))) throw notFound(`function "${name}"`);
    this.#o.functionActivity?.forget(name);
  }

  // ---- traces and dead letters ------------------------------------------------------------------------

  /** An event's journey. Without `source`, the id must identify one event. */
  async trace(id: string, source?: string): Promise<{ source: string; id: string; entries: TraceEntry[] }> {
    let src = source;
    if (src === undefined) {
      const sources = await this.#o.traces.sourcesOf(id, 10);
      if (sources.length === 0) throw notFound(`event "${id}"`);
      if (sources.length > 1) {
        throw new JunctionError(
          'InvalidRequest',
          `several events have the id "${id}"; add ?source=… (one of ${sources.join(', ')})`,
          {
            field: 'source',
            details: { sources },
          },
        );
      }
      src = sources[0] as string;
    }
    const entries = await this.#o.traces.get(src, id);
    if (entries.length === 0) throw notFound(`event "${id}" from source "${src}"`);
    return { source: src, id, entries };
  }

  /** One page of dead letters, newest first; `nextCursor` when more follow. */
  /**
   * `GET /events/{id}/trace?follow=true`: the trace, and the trace of every event a function returned for it,
   * recursively (`emitted`, each node the same shape), breadth first, at most `TRACE_DEPTH` levels below the event
   * and `TRACE_NODES` nodes in all; `truncated: true` on the top node says the bounds cut the tree. An emitted event
   * not routed yet has no entries.
   */
  async traceFollow(id: string, source?: string): Promise<TraceTree & { truncated?: true }> {
    const top: TraceTree = { ...(await this.trace(id, source)), emitted: [] };
    const seen = new Set([`${top.source}\u0000${top.id}`]);
    let nodes = 1;
    let truncated = false;
    let level = [top];
    for (let depth = 1; level.length > 0; depth++) {
      const next: TraceTree[] = [];
      for (const node of level) {
        for (const child of emittedBy(node.entries)) {
          const key = `${child.source}\u0000${child.id}`;
          if (seen.has(key)) continue;
          if (depth > TRACE_DEPTH || nodes >= TRACE_NODES) {
            truncated = true;
            continue;
          }
          seen.add(key);
          nodes++;
          const tree: TraceTree = {
            source: child.source,
            id: child.id,
            entries: await this.#o.traces.get(child.source, child.id),
            emitted: [],
          };
          (node.emitted as TraceTree[]).push(tree);
          next.push(tree);
        }
      }
      level = next;
    }
    return truncated ? { ...top, truncated: true } : top;
  }

  listDeadLetters(filter: DeadLetterFilter = {}): Promise<DeadLetterPage> {
    return this.#o.deadLetters.page(filter);
  }

  /**
   * Re-delivers dead letters to their target, with the same idempotency key. Pages through the letters with a
   * cursor (newest first, `REDRIVE_PAGE` at a time) and gives the event loop a turn between pages, so that the bus
   * keeps answering meanwhile. One call takes up at most `redriveLimit` letters and then answers the `nextCursor`
   * to call again with. Letters dead-lettered again during the redrive are
   * newer than the cursor and are not taken up again.
   */
  async redrive(
    request: RedriveRequest,
  ): Promise<{ redriven: number; skipped: number; nextCursor?: string }> {
    const filter = deadLetterSelection(request, 'redrive');
    let redriven = 0;
    let skipped = 0;
    const nextCursor = await this.#eachLetterPage(filter, request.cursor, async (letters) => {
      // A connector's letters hold records that never became events: there is no delivery to redrive.
      const deliveries = letters.filter((letter) => !letter.rule.startsWith('connector/'));
      const counts = await this.#redrivePage(deliveries);
      redriven += counts.redriven;
      skipped += counts.skipped + letters.length - deliveries.length;
    });
    return nextCursor === undefined ? { redriven, skipped } : { redriven, skipped, nextCursor };
  }

  /**
   * Deletes dead letters (`POST /dead-letters/delete`): the same choice as a redrive — all, a rule's (and target's),
   * or by id — and optionally only those dead-lettered before `to`. For letters no redrive can take away: a deleted
   * rule's (a redrive dead-letters them again), a connector's (records that never became events), or old ones nobody
   * will redrive. Each event's trace gets a `dead-letter-deleted` entry, and a key an ordered target held for a
   * deleted letter (`onFailure: "hold"`) goes on with its next event. Pages like `redrive`: at most `redriveLimit`
   * letters a call, then a `nextCursor`.
   */
  async deleteDeadLetters(
    request: DeleteDeadLettersRequest,
  ): Promise<{ deleted: number; nextCursor?: string }> {
    const selection = deadLetterSelection(request, 'delete');
    if (request.to !== undefined && (typeof request.to !== 'number' || !Number.isFinite(request.to))) {
      throw invalidRequest('"to" must be a time: epoch milliseconds or RFC 3339', 'to');
    }
    const filter: DeadLetterFilter = request.to === undefined ? selection : { ...selection, to: request.to };
    let deleted = 0;
    const nextCursor = await this.#eachLetterPage(filter, request.cursor, async (letters) => {
      if (letters.length === 0) return;
      const now = this.clock.now();
      const [removed] = await Promise.all([
        this.#o.deadLetters.remove(letters.map((letter) => letter.dlId)),
        this.#o.traces.record(
          // On the event's trace (a replayed delivery's key carries the replay's name; its event does not).
          letters.map((letter) => ({
            source: letter.event.source,
            id: letter.event.id,
            at: now,
            kind: 'dead-letter-deleted' as const,
            rule: letter.rule,
            target: letter.target,
            detail: { dlId: letter.dlId },
          })),
        ),
      ]);
      deleted += removed;
      this.dispatcher.discarded(letters);
    });
    return nextCursor === undefined ? { deleted } : { deleted, nextCursor };
  }

  /**
   * Hands `handle` the letters `filter` names, newest first, `REDRIVE_PAGE` at a time from `cursor`, with a turn of the
   * event loop between pages (the bus keeps answering). Paging visits each letter once even as `handle` removes
   * letters, and letters dead-lettered meanwhile are newer than the cursor. At most `redriveLimit` letters a call:
   * answers the `nextCursor` to go on from when more may follow.
   */
  async #eachLetterPage(
    filter: DeadLetterFilter,
    from: string | undefined,
    handle: (letters: readonly DeadLetter[]) => Promise<void>,
  ): Promise<string | undefined> {
    const limit = this.#o.redriveLimit ?? REDRIVE_LIMIT;
    let taken = 0;
    let cursor = from;
    for (;;) {
      const pageFilter = { ...filter, limit: Math.min(REDRIVE_PAGE, limit - taken) };
      const page = await this.#o.deadLetters.page(
        cursor === undefined ? pageFilter : { ...pageFilter, cursor },
      );
      await handle(page.deadLetters);
      taken += page.deadLetters.length;
      if (page.nextCursor === undefined || page.deadLetters.length === 0) return undefined;
      if (taken >= limit) return page.nextCursor;
      cursor = page.nextCursor;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Re-opens a page of letters in the ledger in one write (`reopenMany`), then removes the re-opened and the
   * already-delivered ones and records their traces in one write each: a few durable writes per page, not per letter.
   */
  async #redrivePage(letters: readonly DeadLetter[]): Promise<{ redriven: number; skipped: number }> {
    const now = this.clock.now();
    const items = letters.map((letter) => {
      const target = this.#rules.get(letter.rule)?.targets.find((t) => t.id === letter.target);
      const delivery: PendingDelivery = {
        source: letter.source,
        id: letter.id,
        rule: letter.rule,
        target: letter.target,
        event: letter.event,
        createdAt: now,
        dueAt: now + this.dispatcher.leaseMs,
        attempts: [],
        redriveOf: letter.dlId,
        ...(letter.position === undefined ? {} : { position: letter.position }),
      };
      return { delivery, keepDelivered: target?.delivery === 'exactly-once' };
    });
    const outcomes = await this.#o.ledger.reopenMany(items);
    let redriven = 0;
    let skipped = 0;
    const removed: string[] = [];
    const traces: TraceEntry[] = [];
    const fresh: PendingDelivery[] = [];
    letters.forEach((letter, i) => {
      const outcome = outcomes[i];
      if (outcome !== 'reopened' && outcome !== 'delivered') {
        // The delivery is live: the dispatcher is closing it right now (the letter is written first) or it was
        // taken up again. The letter stays, for a redrive once it is closed; removing it could lose the event.
        skipped++;
        return;
      }
      removed.push(letter.dlId);
      traces.push({
        source: letter.event.source,
        id: letter.event.id,
        at: now,
        kind: 'redriven',
        rule: letter.rule,
        target: letter.target,
        detail: {
          dlId: letter.dlId,
          ...(outcome === 'reopened' ? {} : { skipped: 'already delivered (exactly-once)' }),
        },
      });
      if (outcome === 'reopened') {
        redriven++;
        fresh.push((items[i] as { delivery: PendingDelivery }).delivery);
      } else {
        skipped++;
      }
    });
    await Promise.all([this.#o.deadLetters.remove(removed), this.#o.traces.record(traces)]);
    this.dispatcher.submit(fresh);
    return { redriven, skipped };
  }

  // ---- live deliveries -------------------------------------------------------------------------------

  /** One page of pending and in-flight deliveries (`GET /deliveries`). */
  async listDeliveries(filter: DeliveryFilter): Promise<{ deliveries: DeliveryView[]; nextCursor?: string }> {
    const page = await this.#o.ledger.list(filter);
    return {
      deliveries: page.deliveries.map((d) => {
        const last = d.attempts[d.attempts.length - 1];
        return {
          source: d.source,
          id: d.id,
          rule: d.rule,
          target: d.target,
          state: d.state,
          createdAt: d.createdAt,
          dueAt: d.dueAt,
          ...(d.leaseUntil === undefined ? {} : { leaseUntil: d.leaseUntil }),
          attempts: d.attempts.length,
          ...(last === undefined ? {} : { lastAttempt: last }),
          ...(d.redriveOf === undefined ? {} : { redriveOf: d.redriveOf }),
        };
      }),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    };
  }

  /**
   * Makes pending deliveries due now and wakes the dispatcher (`POST /deliveries/retry`). Pages through the ledger
   * (`RETRY_PAGE` at a time, yielding between pages); answers how many deliveries were moved forward — those
   * pending and not yet due. In-flight deliveries are left to finish.
   */
  async retryDeliveries(input: unknown): Promise<{ retried: number }> {
    if (!isObject(input)) throw invalidRequest(RETRY_USAGE);
    const request = input as RetryRequest;
    for (const field of ['rule', 'target'] as const) {
      if (request[field] !== undefined && (typeof request[field] !== 'string' || request[field] === '')) {
        throw invalidRequest(`"${field}" must be a non-empty string`, field);
      }
    }
    const now = this.clock.now();
    let retried = 0;
    if (request.keys !== undefined) {
      if (request.all !== undefined || request.rule !== undefined || request.target !== undefined) {
        throw invalidRequest(`give "keys" alone; ${RETRY_USAGE}`, 'keys');
      }
      if (!Array.isArray(request.keys) || request.keys.length === 0) {
        throw invalidRequest(
          '"keys" must be a non-empty array of {"source", "id", "rule", "target"}',
          'keys',
        );
      }
      if (request.keys.length > MAX_LIST) {
        throw invalidRequest(`"keys" holds at most ${MAX_LIST} keys; got ${request.keys.length}`, 'keys');
      }
      const keys = request.keys.map((key, i) => {
        for (const name of ['source', 'id', 'rule', 'target'] as const) {
          if (!isObject(key) || typeof key[name] !== 'string') {
            throw invalidRequest(`keys[${i}].${name} must be a string`, `keys[${i}].${name}`);
          }
        }
        return { source: key.source, id: key.id, rule: key.rule, target: key.target };
      });
      retried = await this.#o.ledger.makeDue(keys, now);
    } else {
      if (request.all !== true && request.rule === undefined) throw invalidRequest(RETRY_USAGE, 'all');
      if (request.all === true && (request.rule !== undefined || request.target !== undefined)) {
        throw invalidRequest(`give "all" alone; ${RETRY_USAGE}`, 'all');
      }
      if (request.all !== undefined && request.all !== true) {
        throw invalidRequest(`"all" must be true; ${RETRY_USAGE}`, 'all');
      }
      const filter: DeliveryFilter = {
        state: 'pending',
        ...(request.rule === undefined ? {} : { rule: request.rule }),
        ...(request.target === undefined ? {} : { target: request.target }),
        limit: RETRY_PAGE,
      };
      let cursor: string | undefined;
      for (;;) {
        const page = await this.#o.ledger.list(cursor === undefined ? filter : { ...filter, cursor });
        retried += await this.#o.ledger.makeDue(
          page.deliveries.map((d) => ({ source: d.source, id: d.id, rule: d.rule, target: d.target })),
          now,
        );
        if (page.nextCursor === undefined) break;
        cursor = page.nextCursor;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    if (retried > 0) this.dispatcher.wake();
    return { retried };
  }

  // ---- health -----------------------------------------------------------------------------------------

  async health(): Promise<Record<string, unknown>> {
    const ends = await this.#o.log.endOffsets();
    let disabled = 0;
    for (const rule of this.#rules.values()) if (!rule.enabled) disabled++;
    return {
      status: 'ok',
      partitions: this.#o.log.partitions,
      rules: this.#rules.size - disabled,
      rulesDisabled: disabled,
      events: ends.reduce((n, p) => n + p.offset, 0),
      deliveriesInFlight: this.dispatcher.inFlight,
    };
  }
}

/** The event with the same attributes and `body` as its data. */
function withBody(
  event: CloudEvent,
  body: string,
  contentType: 'application/json' | 'text/plain',
): CloudEvent {
  const delivered: Record<string, unknown> = {};
  for (const key of Object.keys(event))
    if (key !== 'data' && key !== 'data_base64') delivered[key] = event[key];
  delivered.datacontenttype = contentType;
  if (contentType === 'application/json') defineRawData(delivered, new JsonText(body, 0));
  else delivered.data = body;
  return Object.freeze(delivered) as CloudEvent;
}
