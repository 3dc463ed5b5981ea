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

/**
 * What a target receives: the CloudEvent (in the target's binding), or EventBridge's JSON shape of the event alone
 * (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail`), as a target
 * written for EventBridge expects (docs/eventbridge.md).
 */
export type TargetFormat = 'cloudevents' | 'eventbridge';

/** EventBridge InputPath / InputTransformer, as `input` on a target. */
export interface TargetInput {
  /** InputPath: a JSONPath (`$.data.order`) whose value is the delivered payload. */
  readonly path?: string;
  /** InputTransformer's InputPathsMap: variable → JSONPath. */
  readonly paths?: Readonly<Record<string, string>>;
  /** InputTransformer's InputTemplate, with `<var>` placeholders. */
  readonly template?: string;
}

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
}

export interface FunctionTarget extends TargetBase {
  readonly type: 'function';
  readonly function: string;
  /**
   * `eventbridge`: the handler's event is the EventBridge-shaped event (or the input transformer's output) instead
   * of the CloudEvent. @default 'cloudevents'
   */
  readonly format?: TargetFormat;
}

export interface HttpTarget extends TargetBase {
  readonly type: 'http';
  readonly url: string;
  /** @default 'POST' */
  readonly method: 'POST' | 'PUT';
  /** CloudEvents HTTP binding mode (a target of format `eventbridge` has no binding). @default 'binary' */
  readonly mode: 'binary' | 'structured';
  /**
   * `eventbridge`: the body is the EventBridge-shaped event as JSON (or the input transformer's output), without
   * `ce-` headers, as an EventBridge API destination sends it. @default 'cloudevents'
   */
  readonly format?: TargetFormat;
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
}

export interface KafkaTarget extends TargetBase {
  readonly type: 'kafka';
  readonly topic: string;
  /** Bootstrap brokers; the bus's own Kafka when absent. */
  readonly brokers?: readonly string[];
  /** @default 'structured' */
  readonly mode: 'binary' | 'structured';
}

export interface BusTarget extends TargetBase {
  readonly type: 'bus';
  /** Another Junction bus: its base URL (events are POSTed to `<url>/events`, structured). */
  readonly url: string;
  /** As an `http` target's. @default `concurrency` */
  readonly maxConcurrency?: number;
}

export type Target = FunctionTarget | HttpTarget | KafkaTarget | BusTarget;

export interface Rule {
  readonly name: string;
  readonly description?: string;
  /** @default true */
  readonly enabled: boolean;
  /** An EventBridge event pattern (JSON), applied to the CloudEvent as JSON. */
  readonly pattern?: unknown;
  /** A CloudEvents SQL expression. */
  readonly filter?: string;
  readonly targets: readonly Target[];
  readonly createdAt: number;
  readonly updatedAt: number;
}
