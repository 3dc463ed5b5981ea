/**
 * The ports: the interfaces the engine needs from the world. Adapters in lib/adapters implement them
 * (SQLite, Kafka, DynamoDB, worker threads, Lambda). No SQL, no Kafka types, no AWS types here.
 * Every implementation of a port passes the same shared suite in test/ports/.
 */

import type { Scope } from './core/auth/scopes.ts';
import type { StoredEvent } from './core/cloudevent.ts';
import type { CloudEvent } from './core/cloudevent-types.ts';
import type { ConnectorDefinition } from './core/connector.ts';
import type { Rule, Target } from './core/rule-types.ts';
import type { SchemaDefinition } from './core/schema.ts';
import type { SchemaDraft } from './core/schema-infer.ts';
import type { TraceContext } from './core/trace-context.ts';

// ---------------------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------------------

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

// ---------------------------------------------------------------------------------------------------------
// EventLog: the buffer layer. A partitioned, durable, replayable log, shaped like Kafka.
// ---------------------------------------------------------------------------------------------------------

/** A place in the log: as in Kafka, an offset within a partition. */
export interface Position {
  readonly partition: number;
  readonly offset: number;
}

/**
 * One event as stored in the log. `event` may be an accessor that builds the event on first read (and then keeps
 * it): read it from the record, do not copy the record by spreading it.
 */
export interface LogRecord extends Position {
  /** The partition key (`partitionkey` extension, else `source`). */
  readonly key: string;
  /** When the log accepted it, ms since the epoch (Kafka: the record timestamp). */
  readonly timestamp: number;
  readonly event: CloudEvent;
  /**
   * The event as the log stored it, for a reader that can work on text (the router matches it with
   * `RuleMatcher.matchStored` and reads `event` only when a rule matched): its attributes and its JSON data text,
   * exactly those of `event` (`storedEvent(stored)` is `event`, made of the attributes object itself once read).
   * Optional: only a log whose records no one but this bus writes, and only for a record it wrote itself from an event
   * it had validated, may set it — the SQLite log for rows it marked (see docs/security.md, "Stored records"). A Kafka record, a row without the mark, or one whose
   * mark does not fit its text has none, and its `event` went through the codec's full check.
   */
  readonly stored?: StoredEvent;
}

/** The result of appending one event. */
export type AppendResult =
  | { readonly duplicate: false; readonly position: Position }
  | { readonly duplicate: true; readonly position?: Position };

export interface AppendOptions {
  /**
   * Idempotent publish: an event whose `(source, id)` the log accepted within this many ms is not appended
   * again and comes back as `{duplicate: true}`. 0 turns deduplication off.
   */
  readonly dedupWindowMs: number;
}

/** Called with records of one partition, in offset order. Resolving means every record has an outcome. */
export type RecordHandler = (records: readonly LogRecord[]) => Promise<void>;

export interface SubscribeOptions {
  /** The consumer group; positions are committed per group, as in Kafka. */
  readonly group: string;
  readonly handler: RecordHandler;
  /** At most this many records per handler call. @default 500 */
  readonly maxBatch?: number;
}

export interface Subscription {
  /** Stops consuming; resolves once no handler call is running. Positions already committed stay. */
  close(): Promise<void>;
}

export interface EventLog {
  /** How many partitions the log has. */
  readonly partitions: number;
  /**
   * Appends events durably (fsync'd, or acks=all) and answers in the order given. Events with the same
   * partition key keep their order. Rejects with a retriable `BufferUnavailable` when nothing could be
   * appended; never appends a part of the batch silently and then fails.
   */
  append(events: readonly CloudEvent[], options?: AppendOptions): Promise<AppendResult[]>;
  /** Reads a partition from an offset (inclusive). Answers fewer than `limit` at the end. */
  read(partition: number, fromOffset: number, limit: number): Promise<LogRecord[]>;
  /**
   * Consumes the log in a consumer group: calls `handler` with batches from each partition this member owns,
   * never two calls for one partition at a time, and commits a partition's position past a batch only after
   * the handler resolved for it. A rejected handler call is retried from the last committed position.
   */
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** For each partition, the first offset whose timestamp is at or after `timestamp` (the end if none). */
  offsetsForTime(timestamp: number): Promise<Position[]>;
  /** For each partition, the offset the next append will get. */
  endOffsets(): Promise<Position[]>;
  /** For each partition, the group's committed offset (the next offset to process). */
  committed(group: string): Promise<Position[]>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// RuleStore
// ---------------------------------------------------------------------------------------------------------

export type RuleChange =
  | { readonly kind: 'put'; readonly rule: Rule }
  | { readonly kind: 'delete'; readonly name: string };

export interface RuleStore {
  /** Creates or replaces. Answers whether it existed before. */
  put(rule: Rule): Promise<{ created: boolean }>;
  get(name: string): Promise<Rule | undefined>;
  /** All rules, sorted by name. */
  list(): Promise<Rule[]>;
  /** Answers whether it existed. */
  delete(name: string): Promise<boolean>;
  /** Calls the listener on every change made through any store on the same backing data. Returns unsubscribe. */
  watch(listener: (change: RuleChange) => void): () => void;
}

// ---------------------------------------------------------------------------------------------------------
// Deliveries: the ledger (per-delivery state) and the dead letters
// ---------------------------------------------------------------------------------------------------------

/** Identifies one delivery: an event (by source and id) to one target of one rule. */
export interface DeliveryKey {
  readonly source: string;
  readonly id: string;
  readonly rule: string;
  readonly target: string;
}

/** One try at a delivery. */
export interface Attempt {
  /** When it started, ms since the epoch. */
  readonly at: number;
  readonly outcome: 'delivered' | 'failed';
  /** HTTP status, when there was one. */
  readonly status?: number;
  readonly error?: string;
  readonly latencyMs: number;
  /** What the target answered besides its status (HTTP targets): headers; the body only when the target asks. */
  readonly response?: TargetResponse;
}

/** An HTTP target's answer as kept in traces and attempts: its headers and (capped) the start of its body. */
export interface TargetResponse {
  readonly headers: Readonly<Record<string, string>>;
  /** The start of the body (a few hundred bytes at most). */
  readonly body?: string;
  /** True when `body` is not the whole body. */
  readonly bodyTruncated?: boolean;
}

/** A delivery that still has to happen: its payload, history and when it is next due. */
export interface PendingDelivery extends DeliveryKey {
  readonly event: CloudEvent;
  /** The log position the event came from, when it came from the log. */
  readonly position?: Position;
  /** When the delivery was first created, ms since the epoch (the max-age clock starts here). */
  readonly createdAt: number;
  /** When it is next due, ms since the epoch. */
  readonly dueAt: number;
  readonly attempts: readonly Attempt[];
  /** Set when a redrive created it: the dead letter's id. */
  readonly redriveOf?: string;
}

/** One delivery for `Ledger.reopenMany`, with `reopen`'s option. */
export interface ReopenItem {
  readonly delivery: PendingDelivery;
  readonly keepDelivered: boolean;
}

/** What `Ledger.reopenMany` did with one delivery: re-opened it, or left it as it was live or delivered. */
export type ReopenOutcome = 'reopened' | 'live' | 'delivered';

/** The state of a delivery in the ledger. */
export type LedgerState = 'pending' | 'in-flight' | 'delivered' | 'dead-lettered';

export interface LedgerEntry {
  readonly key: DeliveryKey;
  readonly state: LedgerState;
  /** While in flight: when the lease runs out, ms since the epoch. */
  readonly leaseUntil?: number;
  readonly updatedAt: number;
}

export interface EnqueueOptions {
  /**
   * Called once, as soon as it is known which deliveries were added and they are visible to other readers —
   * possibly before the write is durable, so that they can start without waiting for an fsync. Starting them then
   * is safe: were the write lost to a power cut, the log position it precedes would be lost too and the event
   * routed again (at-least-once), and an exactly-once delivery's `claim` is a durable write of its own.
   * Not called when the write fails.
   */
  readonly onAdded?: (added: readonly boolean[]) => void;
  /**
   * false: the promise may answer once the write is committed, before it is durable — for a caller whose next
   * write to the same store (the router's log position, in the ledger's SQLite database) is ordered after it, so
   * that a power cut cannot keep the position and lose the deliveries (a WAL survives as a prefix of its commits).
   * A store that cannot tell commit from durable answers when durable. @default true
   */
  readonly durable?: boolean;
}

export interface CompleteOptions {
  /**
   * false: the promise may answer once the write is committed, before it is durable. For at-least-once deliveries:
   * were the write lost to a power cut, the delivery would be pending again and made once more. An exactly-once
   * delivery's completion is what keeps it from running twice: it stays durable. @default true
   */
  readonly durable?: boolean;
}

/**
 * The ledger holds each delivery's state durably. Pending deliveries are the router's outbox: the router
 * enqueues what an event matched before its log position is committed, and dispatchers take them from here,
 * so a crash at any instant leaves every matched delivery either done or still pending.
 * Exactly-once targets also `claim` before executing and `complete` after; the completed entry stays (for the
 * retention window) so that a redelivered or redriven event is not executed again.
 */
export interface Ledger {
  /**
   * Adds pending deliveries in one write, durable before it answers (unless `options.durable` is false). A delivery
   * whose key exists already (pending, in flight or delivered) is left as it is. Answers, per input, whether it was
   * added; `options.onAdded` hears it as soon as it is known, which may be before the write is durable.
   */
  enqueue(deliveries: readonly PendingDelivery[], options?: EnqueueOptions): Promise<boolean[]>;
  /**
   * Pending deliveries due at or before `now` whose lease (if any) has run out, oldest due first, each with its
   * state: one found `in-flight` had a lease that ran out (its process may have died mid-delivery).
   */
  due(now: number, limit: number): Promise<LiveDelivery[]>;
  /** The next due time among pending deliveries, or undefined when none is pending. */
  nextDueAt(): Promise<number | undefined>;
  /**
   * Conditional write: takes the delivery for execution until `leaseUntil` if it is pending, or in flight with
   * a lease that has run out at `now`. Answers false when another worker holds it or it is already delivered.
   */
  claim(key: DeliveryKey, now: number, leaseUntil: number): Promise<boolean>;
  /** Records a successful delivery: the entry becomes `delivered` (payload dropped); its attempt is kept. */
  complete(key: DeliveryKey, attempt: Attempt, now: number, options?: CompleteOptions): Promise<void>;
  /** Records a failed attempt and sets the next due time; the entry becomes `pending` again. */
  reschedule(key: DeliveryKey, attempt: Attempt, dueAt: number): Promise<void>;
  /** Removes the pending delivery (it has been dead-lettered); the entry becomes `dead-lettered`. */
  abandon(key: DeliveryKey, now: number): Promise<void>;
  /** The entry for a key, with the pending delivery when there is one. */
  get(key: DeliveryKey): Promise<{ entry: LedgerEntry; pending?: PendingDelivery } | undefined>;
  /**
   * Makes a delivered or dead-lettered entry pending again (redrive) unless it was delivered and `keepDelivered`.
   * Answers whether it was re-opened.
   */
  reopen(delivery: PendingDelivery, options: { keepDelivered: boolean }): Promise<boolean>;
  /**
   * `reopen` for many deliveries (a page of a redrive), in one durable write where the store allows it (SQLite: one
   * transaction). Each entry's state is read and changed together, so a delivery that is not re-opened answers
   * why: `live` (pending or in flight) or `delivered` (and `keepDelivered`). Answers per input, in order.
   */
  reopenMany(items: readonly ReopenItem[]): Promise<ReopenOutcome[]>;
  /** Drops finished entries last updated before `before`. Answers how many went. */
  prune(before: number): Promise<number>;
  /** How many deliveries are pending (for /metrics). */
  pendingCount(): Promise<number>;
  /**
   * The live (pending and in-flight) deliveries per rule and target: how many and when the oldest was created (for
   * /metrics). Stores that read entries to answer bound their work (DynamoDB: the first 10,000 live deliveries).
   */
  pendingByTarget(): Promise<PendingStat[]>;
  /**
   * One page of the live (pending and in-flight) deliveries, filtered. The order is the store's own but stable
   * under `makeDue` and `reschedule`, so paging with `nextCursor` visits each live delivery at most once
   * (deliveries created meanwhile may or may not be seen). A page may hold fewer than `limit` deliveries while
   * `nextCursor` says more may follow (stores that filter after reading bound their work per call).
   */
  list(filter?: DeliveryFilter): Promise<DeliveryPage>;
  /**
   * Makes the given deliveries due at `now` if they are pending and not due yet (in-flight ones are left alone).
   * Answers how many were changed.
   */
  makeDue(keys: readonly DeliveryKey[], now: number): Promise<number>;
  /**
   * Gives back the lease of in-flight deliveries whose process stops without their outcome (a shutdown cut their
   * attempt off): the lease ends at `now` and they are due then, so the next process takes them over at once — still
   * in flight, so that it knows an earlier attempt may have run (`possibleDuplicate`). Pending, finished and unknown
   * deliveries are left alone. Answers how many were changed.
   */
  release(keys: readonly DeliveryKey[], now: number): Promise<number>;
}

/** The live deliveries of one rule and target (`Ledger.pendingByTarget`). */
export interface PendingStat {
  readonly rule: string;
  readonly target: string;
  readonly count: number;
  /** The oldest one's `createdAt`, ms since the epoch. */
  readonly oldestCreatedAt: number;
}

/** What `Ledger.list` answers about: live deliveries, optionally of one state, rule or target. */
export interface DeliveryFilter {
  /** Both when absent. */
  readonly state?: 'pending' | 'in-flight';
  readonly rule?: string;
  readonly target?: string;
  /** At most this many. @default 100 */
  readonly limit?: number;
  /** Where the previous page ended (its `nextCursor`). */
  readonly cursor?: string;
}

/** A live delivery as listed: the pending delivery and its state. */
export interface LiveDelivery extends PendingDelivery {
  readonly state: 'pending' | 'in-flight';
  /** While in flight: when the lease runs out, ms since the epoch. */
  readonly leaseUntil?: number;
}

export interface DeliveryPage {
  readonly deliveries: readonly LiveDelivery[];
  /** Present when more deliveries may follow: pass it as `cursor`. */
  readonly nextCursor?: string;
}

export interface DeadLetter extends DeliveryKey {
  /** Stable id of the dead letter. */
  readonly dlId: string;
  readonly event: CloudEvent;
  readonly reason: string;
  readonly attempts: readonly Attempt[];
  /** When it was dead-lettered, ms since the epoch. */
  readonly at: number;
  readonly position?: Position;
}

export interface DeadLetterFilter {
  readonly rule?: string;
  readonly target?: string;
  /** Dead-lettered at or after, ms since the epoch. */
  readonly from?: number;
  /** Dead-lettered before, ms since the epoch. */
  readonly to?: number;
  readonly ids?: readonly string[];
  /** @default 100 */
  readonly limit?: number;
  /** Where the previous page ended (its `nextCursor`), for `page`. */
  readonly cursor?: string;
}

export interface DeadLetterPage {
  readonly deadLetters: readonly DeadLetter[];
  /** Present when more letters may follow (newest first): pass it as `cursor`. */
  readonly nextCursor?: string;
}

/** The dead letters of one rule and target (`DeadLetters.countByTarget`). */
export interface DeadLetterCount {
  readonly rule: string;
  readonly target: string;
  readonly count: number;
}

export interface DeadLetters {
  add(letter: DeadLetter): Promise<void>;
  /** Newest first. */
  list(filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /**
   * One page, newest first, from `filter.cursor`: paging visits each letter at most once, even while letters are
   * removed (redrive) or added (they are newer than any cursor, so they are not visited).
   */
  page(filter?: DeadLetterFilter): Promise<DeadLetterPage>;
  get(dlId: string): Promise<DeadLetter | undefined>;
  /** Removes them (after a redrive). Answers how many went. */
  remove(dlIds: readonly string[]): Promise<number>;
  count(): Promise<number>;
  /**
   * How many dead letters each rule and target has (for /metrics). Stores that read letters to answer bound their work
   * (DynamoDB: the first 10,000 letters).
   */
  countByTarget(): Promise<DeadLetterCount[]>;
}

// ---------------------------------------------------------------------------------------------------------
// Traces: every event's journey
// ---------------------------------------------------------------------------------------------------------

export type TraceKind =
  | 'received'
  | 'duplicate'
  | 'matched'
  | 'unmatched'
  | 'attempt'
  | 'delivered'
  | 'retry-scheduled'
  | 'dead-lettered'
  | 'redriven'
  | 'dead-letter-deleted'
  | 'replayed'
  | 'emitted'
  | 'skipped'
  | 'schema-violation';

export interface TraceEntry {
  /** The event's source and id. */
  readonly source: string;
  readonly id: string;
  readonly at: number;
  readonly kind: TraceKind;
  readonly rule?: string;
  readonly target?: string;
  /** Kind-specific detail: position, attempt, delay, error, emitted event ids, … (JSON). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

export interface TraceStore {
  /**
   * Appends entries (one write for the lot). A trace is a record, not a promise: a store may answer before the
   * write is durable (a power cut may then take back the newest entries, never what a later durable write follows).
   */
  record(entries: readonly TraceEntry[]): Promise<void>;
  /** The journey of one event, oldest first. */
  get(source: string, id: string): Promise<TraceEntry[]>;
  /** Events with this id (any source), for lookups without `source`: distinct sources, at most `limit`. */
  sourcesOf(id: string, limit: number): Promise<string[]>;
  /** Drops entries older than `before`. Answers how many went. */
  prune(before: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------------------
// Functions: the serverless runtime
// ---------------------------------------------------------------------------------------------------------

export interface FunctionInfo {
  readonly name: string;
  /** Size of the deployed bundle in bytes. */
  readonly size: number;
  /** sha256 of the bundle, hex. */
  readonly sha256: string;
  readonly updatedAt: number;
  /** @default 10000 */
  readonly timeoutMs: number;
  /** @default 128 */
  readonly memoryMb: number;
}

export interface FunctionConfig {
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
}

export interface InvocationContext {
  readonly functionName: string;
  readonly rule: string;
  readonly target: string;
  /** `source` + `id` of the event; the same on every retry and redrive. */
  readonly idempotencyKey: string;
  readonly attempt: number;
  /** Overrides the function's own timeout for this call. */
  readonly timeoutMs?: number;
  /** True when an earlier attempt may have completed without its outcome being recorded (after a crash). */
  readonly possibleDuplicate?: boolean;
  /** The W3C `traceparent` of the delivery's span when tracing is on: user code may start child spans from it. */
  readonly traceparent?: string;
  /** The trace's W3C `tracestate`, when it has one. */
  readonly tracestate?: string;
}

/** A handler's returned events, before validation (the engine validates and publishes them). */
export interface InvocationResult {
  readonly returned: readonly unknown[];
  readonly durationMs: number;
}

export interface FunctionRunner {
  /**
   * Bundles (esbuild) and stores a function from its source: a TypeScript or JavaScript module exporting
   * `handler`. Rejects with `InvalidFunction` (naming the line) when it does not build or has no handler.
   */
  deploy(name: string, source: Uint8Array, config?: FunctionConfig): Promise<FunctionInfo>;
  list(): Promise<FunctionInfo[]>;
  get(name: string): Promise<FunctionInfo | undefined>;
  delete(name: string): Promise<boolean>;
  /**
   * Runs the handler once with `event`: the CloudEvent, or — for a target with `format: "eventbridge"` — the event in
   * EventBridge's shape. Rejects with `FunctionError` (it threw), `FunctionTimeout` or `FunctionOutOfMemory`
   * (all retriable), or `NotFound`.
   */
  invoke(name: string, event: unknown, context: InvocationContext): Promise<InvocationResult>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Target drivers: how a delivery reaches a target of one type (HTTP, Kafka, another bus, …)
// ---------------------------------------------------------------------------------------------------------

export interface DeliveryRequest {
  readonly rule: Rule;
  readonly target: Target;
  /** The event as delivered (after the target's input transformer). */
  readonly event: CloudEvent;
  /** Stable across retries and redrives of the same delivery: `<source>#<id>`. */
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** True when an earlier attempt may have run to completion without its outcome being recorded (a crash). */
  readonly possibleDuplicate: boolean;
  readonly timeoutMs: number;
  /**
   * Aborted when the bus stops and the attempt is still running at its stop deadline: the driver should give up (the
   * dispatcher no longer waits for it, and the delivery stays in the ledger for the next start). @default none
   */
  readonly signal?: AbortSignal;
  /**
   * The trace context of this attempt's `deliver` span when tracing is on: HTTP drivers send it as the `traceparent`
   * (and `tracestate`) headers, the function driver hands it to the function. @default none
   */
  readonly trace?: TraceContext;
}

export type DeliveryResult =
  | {
      readonly ok: true;
      readonly status?: number;
      /** Events a function returned (or an HTTP target with `reply` answered), to publish back onto the bus. */
      readonly emitted?: readonly unknown[];
      /** Why the answer of an HTTP target with `reply` could not be read as events (the delivery still succeeded). */
      readonly emitError?: string;
    }
  | {
      readonly ok: false;
      /** Whether trying again may help (timeouts, 408, 429, 5xx, connection errors, thrown handlers). */
      readonly retriable: boolean;
      readonly status?: number;
      /** A delay the target asked for (`Retry-After`), in ms. */
      readonly retryAfterMs?: number;
      readonly error: string;
      /** What the target answered (HTTP targets); traces keep it, dead letters keep the body only on request. */
      readonly response?: TargetResponse;
    };

/** Why a driver can never deliver to a target (see `TargetDriver.check`). */
export interface Undeliverable {
  readonly message: string;
  /** The target's field at fault, e.g. `brokers`. */
  readonly field?: string;
}

export interface TargetDriver {
  deliver(request: DeliveryRequest): Promise<DeliveryResult>;
  /**
   * Answers why this driver can never deliver to the target in this deployment (e.g. a `kafka` target naming no
   * brokers on a bus with no Kafka of its own), or undefined. Rules with such a target are refused.
   */
  check?(target: Target): Undeliverable | undefined;
  /** Several deliveries to one target in one call (targets that opt in to batches); one outcome for all. */
  deliverBatch?(requests: readonly DeliveryRequest[]): Promise<DeliveryResult>;
  close?(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials and the audit log

/** An API key or an AWS access key, as stored: never the key itself (a hash), an AWS secret only sealed. */
export interface StoredCredential {
  /** Unique among credentials: what `keys revoke` and the audit log name. */
  readonly name: string;
  /** `key`: a bearer API key; `aws`: an access key id + secret for Signature V4. */
  readonly kind: 'key' | 'aws';
  readonly scope: Scope;
  /** The bus the scope applies to (`default`). */
  readonly bus: string;
  /** `publish` only: the prefix every event's `source` must start with. */
  readonly sourcePrefix?: string;
  /** `key`: the SHA-256 of the key, hex; `aws`: the access key id. Unique. */
  readonly lookup: string;
  /** `aws` only: the secret access key, sealed by the caller (the store keeps it as given). */
  readonly secret?: string;
  readonly createdAt: number;
}

/** One management call, as the audit log keeps it. */
export interface AuditEntry {
  readonly at: number;
  /** The principal's name (`anonymous` on an open bus). */
  readonly who: string;
  readonly method: string;
  readonly path: string;
  /** The HTTP status answered. */
  readonly status: number;
  /** `ok`, or the error code answered. */
  readonly result: string;
}

/** An audit entry with its position in the log (increasing; the cursor of `listAudit`). */
export interface AuditRecord extends AuditEntry {
  readonly seq: number;
}

export interface CredentialStore {
  /** Adds a credential; a `Conflict` error when the name or the lookup is taken. */
  create(credential: StoredCredential): Promise<void>;
  /** The credential with this lookup (key hash or access key id), if any. */
  find(lookup: string): Promise<StoredCredential | undefined>;
  /** Every credential, by name (at most `limit`, @default 1000). */
  list(limit?: number): Promise<StoredCredential[]>;
  /** Removes a credential; answers whether it existed. */
  revoke(name: string): Promise<boolean>;
  /** How many credentials exist. */
  count(): Promise<number>;
  /**
   * A number that grows whenever a credential is created or revoked, by any process on the same data (0 until the
   * first create): caches compare it on each request, so a revocation takes effect at once.
   */
  version(): Promise<number>;
  /** Appends to the audit log (bounded: the oldest entries go first). */
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Audit entries, newest first, at most `limit` (@default 100, at most 1000), with `seq` below `before` if given. */
  listAudit(options?: { readonly limit?: number; readonly before?: number }): Promise<AuditRecord[]>;
}

// ---------------------------------------------------------------------------------------------------------
// Connectors (issue #18)

/** A record a source read but could not turn into an event: dead-lettered with the reason, never retried. */
export interface InvalidSourceRecord {
  /** Where it was read, e.g. `orders/2/1041` (topic/partition/offset). */
  readonly position: string;
  readonly reason: string;
  /** What the record held, as JSON-able values (text where it is UTF-8, else base64), for the dead letter. */
  readonly record: Readonly<Record<string, unknown>>;
}

/** What a source hands the bus at a time: what it read from one place of its system, in order. */
export interface SourceBatch {
  /** Events whose ids derive from where they were read, so that reading them again publishes nothing twice. */
  readonly events: readonly CloudEvent[];
  readonly invalid: readonly InvalidSourceRecord[];
}

/** Where a source stands. */
export interface SourceStatus {
  /** Its committed position (Kafka: the next offset per partition). */
  readonly position: Readonly<Record<string, number>>;
  /** What is left to read behind that position (Kafka: records), when the source can tell. */
  readonly lag?: number;
}

export interface SourceContext {
  /** Takes a batch into the log; the source commits its position past the batch only once this resolved. */
  readonly handle: (batch: SourceBatch) => Promise<void>;
  /** Told what goes wrong while it runs (the source retries by itself). */
  readonly onWarning: (message: string, error?: unknown) => void;
}

/**
 * A connector's reader: reads from its system, hands batches to `handle`, and commits its position past a batch only
 * after `handle` resolved; a rejected `handle` is retried from the committed position after a backoff. So a crash
 * loses nothing, and what it reads again has the same event ids (dropped by the log's deduplication).
 */
export interface Source {
  /** Starts reading; rejects when the source cannot start (its system unreachable, a bad setting). */
  start(context: SourceContext): Promise<void>;
  status(): Promise<SourceStatus>;
  /** Stops reading; waits for a running `handle` and its commit. */
  close(): Promise<void>;
}

/** The connectors of a bus, as declared through the API. */
export interface ConnectorStore {
  put(definition: ConnectorDefinition): Promise<void>;
  get(name: string): Promise<ConnectorDefinition | undefined>;
  /** Every connector, by name. */
  list(): Promise<ConnectorDefinition[]>;
  /** Answers whether it existed. */
  delete(name: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------------------
// Tracer: distributed tracing (OpenTelemetry in lib/adapters/otel). The engine starts spans through it and
// propagates their W3C trace context; the no-op tracer is the default, and then nothing is traced or changed.
// ---------------------------------------------------------------------------------------------------------

/** As in OpenTelemetry: a span's role in its trace. */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** Span attributes: undefined values are left out. */
export type SpanAttributes = Readonly<
  Record<string, string | number | boolean | readonly string[] | undefined>
>;

export interface SpanOptions {
  readonly kind: SpanKind;
  /** The parent span's context (possibly another process's); absent, the span starts a new trace. */
  readonly parent?: TraceContext;
  readonly attributes?: SpanAttributes;
  /** When the span started, ms since the epoch. @default now */
  readonly startTime?: number;
}

/** One span, open until `end()`. */
export interface TraceSpan {
  /**
   * The context to propagate to what this span causes: its own `traceparent` (and the trace's `tracestate`). The
   * no-op tracer's spans answer their parent's context (or undefined): it passes through unchanged.
   */
  readonly context: TraceContext | undefined;
  setAttributes(attributes: SpanAttributes): void;
  /** Something that happened during the span (e.g. `dead-lettered`). */
  addEvent(name: string, attributes?: SpanAttributes): void;
  /** Marks the span as failed, with a message. */
  setError(message: string): void;
  /** Ends the span (later calls are ignored). @param endTime ms since the epoch, default now */
  end(endTime?: number): void;
}

export interface Tracer {
  /** False for the no-op tracer: callers skip the work that only feeds spans, and change no event. */
  readonly enabled: boolean;
  startSpan(name: string, options: SpanOptions): TraceSpan;
  /**
   * Hands the ended spans to the exporter and waits at most a bounded time for it. Never throws: an exporter that
   * fails or hangs drops spans, it does not stop the bus.
   */
  flush(): Promise<void>;
  /** Flushes as `flush` does, then stops exporting. */
  close(): Promise<void>;
}

const noopSpan = (context: TraceContext | undefined): TraceSpan => ({
  context,
  setAttributes() {},
  addEvent() {},
  setError() {},
  end() {},
});

/** Traces nothing; its spans pass their parent's context through. */
export const noopTracer: Tracer = {
  enabled: false,
  startSpan: (_name, options) => noopSpan(options.parent),
  flush: async () => {},
  close: async () => {},
};

// ---------------------------------------------------------------------------------------------------------
// Schemas (issue #16)

/**
 * The schema registry of a bus. Versions are immutable: `put` writes a schema's settings and adds the versions the
 * store does not hold yet; a version it holds is never changed (a definition whose version N differs from the stored
 * one keeps the stored one).
 */
export interface SchemaStore {
  put(definition: SchemaDefinition): Promise<void>;
  get(name: string): Promise<SchemaDefinition | undefined>;
  /** Every schema, by name. */
  list(): Promise<SchemaDefinition[]>;
  /** Removes the schema and its versions; answers whether it existed. */
  delete(name: string): Promise<boolean>;
}

/**
 * The drafts schema discovery infers from traffic (issue #16), one per (source, type). `put` replaces a draft as a
 * whole (its versions, counts and times).
 */
export interface DraftStore {
  put(draft: SchemaDraft): Promise<void>;
  get(source: string, type: string): Promise<SchemaDraft | undefined>;
  /** Every draft, by type then source. */
  list(): Promise<SchemaDraft[]>;
  /** Removes the draft; answers whether it existed. */
  delete(source: string, type: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------------------
// AggregateStore: the state of aggregation rules (docs/aggregation.md), per log partition
// ---------------------------------------------------------------------------------------------------------

/** One open window of an aggregation rule on a partition; `state` is the engine's JSON text. */
export interface AggregateWindowRow {
  readonly rule: string;
  readonly key: string;
  readonly start: number;
  readonly state: string;
}

/** A rule's own state on a partition (watermark, counters) as JSON text, with the rule version it belongs to. */
export interface AggregateRuleRow {
  readonly rule: string;
  readonly version: number;
  readonly state: string;
}

/** Everything stored for one partition. */
export interface AggregatePartition {
  /** The next log offset to apply: the records below it are in the state already. 0 when nothing was stored. */
  readonly fence: number;
  readonly rules: readonly AggregateRuleRow[];
  readonly windows: readonly AggregateWindowRow[];
}

/** The changes one batch of records made to a partition's state, written at once. */
export interface AggregateCommit {
  readonly partition: number;
  /** The fence the writer's state stands on; the write is refused (`Conflict`) when the store holds another. */
  readonly expectedFence: number;
  /** The new fence: the offset after the batch's last record. */
  readonly fence: number;
  /** Rules whose state on this partition is forgotten (deleted, or changed), before the upserts below. */
  readonly dropRules: readonly string[];
  readonly rules: readonly AggregateRuleRow[];
  /** Window upserts; `state: null` removes the window (it closed, or merged into another). */
  readonly windows: ReadonlyArray<Omit<AggregateWindowRow, 'state'> & { readonly state: string | null }>;
}

/**
 * Window state of aggregation rules, per log partition. A commit is all or nothing and carries the partition's fence
 * (the log offset its state has applied up to), so the router counts an event exactly once: after a crash, records
 * the log hands again below the fence are skipped. The fence is the aggregation's own consumer position, written in
 * the same transaction as the state it describes.
 */
export interface AggregateStore {
  load(partition: number): Promise<AggregatePartition>;
  /** Writes a batch's changes atomically; rejects with `Conflict` when the stored fence is not `expectedFence`. */
  commit(change: AggregateCommit): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// CorrelationStore: the state of correlation rules (docs/correlation.md), per log partition
// ---------------------------------------------------------------------------------------------------------

/** One pending A of a correlation rule on a partition (by A's log offset); `state` is the engine's JSON text. */
export interface CorrelationPendingRow {
  readonly rule: string;
  readonly offset: number;
  readonly key: string;
  /** When it times out, ms since the epoch (log time). */
  readonly deadline: number;
  readonly state: string;
}

/** A correlation rule's own state on a partition (its clock, counters) and the rule version it belongs to. */
export interface CorrelationRuleRow {
  readonly rule: string;
  readonly version: number;
  readonly state: string;
}

export interface CorrelationPartition {
  /** The next log offset to apply: the records below it are in the state already. 0 when nothing was stored. */
  readonly fence: number;
  readonly rules: readonly CorrelationRuleRow[];
  readonly pending: readonly CorrelationPendingRow[];
}

/** The changes one batch of records (or one firing of timers) made to a partition's state, written at once. */
export interface CorrelationCommit {
  readonly partition: number;
  /** The fence the writer's state stands on; the write is refused (`Conflict`) when the store holds another. */
  readonly expectedFence: number;
  /** The new fence (equal to `expectedFence` when only timers fired). */
  readonly fence: number;
  /** Rules whose state on the partition is dropped first (deleted or changed since). */
  readonly dropRules: readonly string[];
  /** Rule rows to upsert. */
  readonly rules: readonly CorrelationRuleRow[];
  /** Pending A's to upsert. */
  readonly put: readonly CorrelationPendingRow[];
  /** Pending A's to remove (completed or timed out); removing one that is not there is no error. */
  readonly remove: ReadonlyArray<{ readonly rule: string; readonly offset: number }>;
}

/**
 * State of correlation rules (pending A's and their timers), per log partition. A commit is all or nothing and carries
 * the partition's fence (the log offset its state has applied up to), as `AggregateStore` does: after a crash the
 * records the log hands again below the fence are skipped, and a timer that fired (its A removed) is not fired again.
 */
export interface CorrelationStore {
  load(partition: number): Promise<CorrelationPartition>;
  /** Writes the changes atomically; rejects with `Conflict` when the stored fence is not `expectedFence`. */
  commit(change: CorrelationCommit): Promise<void>;
}
