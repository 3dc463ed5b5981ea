import type { AggregateBody } from './aggregate.ts';
import type { CorrelateBody } from './correlate.ts';

/** The rule model: what a rule matches (pattern and/or CESQL filter) and the targets it delivers to. */

/** Retry policy of a target. Defaults follow Amazon EventBridge. */
export interface RetryPolicy {
  /** @default 185 */
  readonly maxAttempts: number;
  /** @default 86400 (24 h) */
  readonly maxAgeSeconds: number;
  readonly backoff: {
    /** @default 'exponential' */
    readonly kind: 'exponential' | 'fixed';
    /** First delay. @default 1000 */
    readonly initialMs: number;
    /** Largest delay. @default 300000 (5 min) */
    readonly maxMs: number;
    /** Full jitter: the delay is uniform in [0, computed]. @default true */
    readonly jitter: boolean;
  };
}

export type DeliveryMode = 'at-least-once' | 'exactly-once';

/** EventBridge InputPath / InputTransformer, as `input` on a target. */
export interface TargetInput {
  /** InputPath: a JSONPath (`$.data.order`) whose value is the delivered payload. */
  readonly path?: string;
  /** InputTransformer's InputPathsMap: variable → JSONPath. */
  readonly paths?: Readonly<Record<string, string>>;
  /** InputTransformer's InputTemplate, with `<var>` placeholders. */
  readonly template?: string;
}

/**
 * What a target receives: `cloudevents`, the CloudEvent (in the target's binding); `eventbridge`, the event in Amazon
 * EventBridge's JSON shape (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`,
 * `detail`), as a function or endpoint written for EventBridge expects it (docs/eventbridge.md).
 */
export type TargetFormat = 'cloudevents' | 'eventbridge';

interface TargetBase {
  /** Unique within the rule. */
  readonly id: string;
  /** @default 'at-least-once' */
  readonly delivery: DeliveryMode;
  readonly retry: RetryPolicy;
  /**
   * At most this many deliveries to this target at once. For `http` and `bus` targets the limit adapts: it starts
   * here and moves between 1 and `maxConcurrency` (halving on overload, growing back while answers are fast).
   * @default 16
   */
  readonly concurrency: number;
  /** Per-attempt timeout. @default 10000 */
  readonly timeoutMs: number;
  readonly input?: TargetInput;
  /**
   * A JSONata expression (https://jsonata.org) whose result, as JSON, is the body the target receives; it reads the
   * CloudEvent (or the event in EventBridge's shape with `format: "eventbridge"`). Not with `input`. Evaluated
   * within bounds (lib/core/jsonata.ts, docs/patterns.md).
   */
  readonly inputJsonata?: string;
  /**
   * Ordered delivery per key: deliveries whose events have the same key reach the target one at a time, in log
   * order; a failing delivery holds back only its own key (docs/delivery.md). Not with `batch`.
   */
  readonly ordering?: OrderingOption;
}

export interface OrderingOption {
  /** `partitionkey` (the event's extension) or a JSON path into the CloudEvent (`$.data.orderId`). */
  readonly key: string;
  /**
   * What a dead-lettered delivery does to its key: `continue` (the next one goes on) or `hold` (the key waits until
   * the dead letter is redriven and delivered). @default 'continue'
   */
  readonly onFailure: 'continue' | 'hold';
}

export interface FunctionTarget extends TargetBase {
  readonly type: 'function';
  readonly function: string;
  /** `eventbridge`: the handler's `event` is the event in EventBridge's shape. Absent: the CloudEvent. */
  readonly format?: 'eventbridge';
}

export interface HttpTarget extends TargetBase {
  readonly type: 'http';
  readonly url: string;
  /** @default 'POST' */
  readonly method: 'POST' | 'PUT';
  /** CloudEvents HTTP binding mode. @default 'binary' */
  readonly mode: 'binary' | 'structured';
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The most deliveries at once the adaptive limit may reach (it grows while the target answers fast and halves on
   * timeouts, 429, 5xx and slow answers). @default `concurrency`
   */
  readonly maxConcurrency?: number;
  /** Keep the start of a failed answer's body in attempts and dead letters (traces always do). @default false */
  readonly keepResponseBody?: boolean;
  /** Opt-in batched delivery (`application/cloudevents-batch+json`). */
  readonly batch?: { readonly maxSize: number; readonly windowMs: number };
  /**
   * Publish the CloudEvent the target answers with (binary or structured mode, in a 2xx answer) back onto the bus,
   * caused by the delivered event, as Knative brokers do with a subscriber's reply. @default false
   */
  readonly reply?: boolean;
  /**
   * `eventbridge`: the body is the event in EventBridge's shape (`application/json`, no `ce-` headers). Absent: the
   * CloudEvent in the binding `mode` says.
   */
  readonly format?: 'eventbridge';
}

export interface KafkaTarget extends TargetBase {
  readonly type: 'kafka';
  readonly topic: string;
  /** Bootstrap brokers; the bus's own Kafka when absent. */
  readonly brokers?: readonly string[];
  /** @default 'structured' */
  readonly mode: 'binary' | 'structured';
}

/**
 * Another bus: a named bus of this deployment (`bus`), or another Junction's (`url`). Exactly one of the two. Each hop
 * from bus to bus counts in the event's `junctionhops` extension, and an event at the hop limit is not forwarded
 * (the delivery fails for good with a loop error, and its dead letter keeps the event).
 */
export type BusTarget = BusTargetByName | BusTargetByUrl;

export interface BusTargetByName extends TargetBase {
  readonly type: 'bus';
  /** A named bus of this deployment (`PUT /buses/{name}`); not the rule's own bus. */
  readonly bus: string;
  readonly url?: undefined;
  /** As an `http` target's. @default `concurrency` */
  readonly maxConcurrency?: number;
}

export interface BusTargetByUrl extends TargetBase {
  readonly type: 'bus';
  /** Another Junction bus: its base URL (events are POSTed to `<url>/events`, structured). */
  readonly url: string;
  readonly bus?: undefined;
  /** As an `http` target's. @default `concurrency` */
  readonly maxConcurrency?: number;
}

/**
 * A PostgreSQL sink (issue #18): a row per delivered event in `table`, each column from a JSON path into the event
 * (as delivered: after its input transformer). `key` names a column that gets the delivery's key (rule, target,
 * source and id: unique per delivery) so that a retried or replayed delivery inserts nothing twice; `upsert` names
 * the columns of a unique constraint, and a row that exists is updated instead.
 */
export interface PostgresTarget extends TargetBase {
  readonly type: 'postgres';
  /** `postgres://user:password@host:port/database[?sslmode=…]`; reads show the password as `***`. */
  readonly connection: string;
  /** `table` or `schema.table`. */
  readonly table: string;
  /** Column name → JSON path into the event (`$` is the whole event, as JSON). */
  readonly columns: Readonly<Record<string, string>>;
  readonly key?: string;
  readonly upsert?: readonly string[];
}

export type Target = FunctionTarget | HttpTarget | KafkaTarget | BusTarget | PostgresTarget;

export interface RuleSchedule {
  /** `rate(5 minutes)`, `cron(0 12 * * ? *)` or `at(2026-12-24T18:00:00)`. */
  readonly expression: string;
  /** The IANA time zone of `cron` and `at`. @default 'UTC' */
  readonly timezone: string;
  /** What the bus publishes at each slot. @default source `aws.events`, type `Scheduled Event`, data `{}` */
  readonly event: {
    readonly source: string;
    readonly type: string;
    readonly subject?: string;
    readonly data: unknown;
  };
}

export interface Rule {
  readonly name: string;
  readonly description?: string;
  /** @default true */
  readonly enabled: boolean;
  /** An EventBridge event pattern (JSON), applied to the CloudEvent as JSON. */
  readonly pattern?: unknown;
  /**
   * The pattern's JSON text as the client wrote it, kept by the APIs that receive it as text: it holds what a JSON
   * value loses (number lexemes beyond a double's precision, key order, repeated keys), and matching compiles it
   * instead of `pattern` when present, so that a rule on `12345678901234567890` does not match its neighbour.
   */
  readonly patternText?: string;
  /** A CloudEvents SQL expression. */
  readonly filter?: string;
  /**
   * A scheduled rule (instead of a pattern or filter): the bus publishes `schedule.event` at each slot of the
   * expression, and the rule delivers it to its targets (docs/schedules.md).
   */
  readonly schedule?: RuleSchedule;
  readonly targets: readonly Target[];
  /**
   * An aggregation rule: the events it selects are grouped and folded into windows, and each closed window is
   * published as an event of its own (docs/aggregation.md). Such a rule has no targets.
   */
  readonly aggregate?: AggregateBody;
  /**
   * A correlation rule: "A then B with the same key within T" publishes a correlated event, or (absence) "A not
   * followed by B within T" a timeout event (docs/correlation.md). It selects with `correlate.first` and
   * `correlate.followedBy`, not with `pattern` or `filter`, and has no targets.
   */
  readonly correlate?: CorrelateBody;
  readonly createdAt: number;
  readonly updatedAt: number;
}
