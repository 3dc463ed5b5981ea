/**
 * The dispatcher: takes pending deliveries (fresh from the router, or due from the ledger), runs each through its
 * target's driver in a lane per (rule, target) with its own concurrency limit, and records the outcome — delivered,
 * retry scheduled (never a sleep in a loop), or dead-lettered. A slow or failing target only fills its own lane.
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { AimdLimit } from '../core/concurrency.ts';
import { toJunctionError } from '../core/errors.ts';
import { compileOrderingKey, type OrderingKeyOf } from '../core/ordering.ts';
import { decideRetry } from '../core/retry.ts';
import type { Rule, Target } from '../core/rule-types.ts';
import { eventTraceContext, type TraceContext, withTraceContext } from '../core/trace-context.ts';
import {
  type Attempt,
  type Clock,
  type DeadLetters,
  type DeliveryKey,
  type DeliveryRequest,
  type DeliveryResult,
  type Ledger,
  noopTracer,
  type PendingDelivery,
  type SpanAttributes,
  type TargetDriver,
  type TraceEntry,
  type Tracer,
  type TraceSpan,
  type TraceStore,
} from '../ports.ts';
import type { Metrics } from './metrics.ts';
import { eventSpanAttributes } from './spans.ts';

export interface EmittedContext {
  readonly delivery: PendingDelivery;
  readonly rule: Rule;
  readonly target: Target;
  /** The trace context of the attempt that returned the events (its `deliver` span), when tracing is on. */
  readonly trace?: TraceContext;
}

export interface DispatcherOptions {
  readonly ledger: Ledger;
  readonly deadLetters: DeadLetters;
  readonly traces: TraceStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** The current definition of a rule (deliveries follow rule changes; a deleted rule dead-letters them). */
  readonly lookup: (rule: string) => Rule | undefined;
  readonly drivers: Readonly<Partial<Record<Target['type'], TargetDriver>>>;
  /**
   * Shapes the event a target receives (its input transformer, its format); `createdAt` is when the delivery was
   * made (the event's ingestion time to EventBridge-shaped targets).
   */
  readonly transform: (
    event: CloudEvent,
    rule: Rule,
    target: Target,
    createdAt: number,
  ) => CloudEvent | Promise<CloudEvent>;
  /** Publishes what a function returned back onto the bus; answers the emitted events' keys. */
  readonly onEmitted: (
    returned: readonly unknown[],
    context: EmittedContext,
  ) => Promise<Array<{ source: string; id: string }>>;
  /** How long a delivery is held by this process before another may take it over. @default 30000 */
  readonly leaseMs?: number;
  /** How often the ledger is polled for due deliveries when no local timer is earlier. @default 1000 */
  readonly pollMs?: number;
  readonly onError?: (error: unknown) => void;
  readonly random?: () => number;
  /**
   * A delivery whose function crashed its process (`FunctionCrashed`) this many times is dead-lettered as
   * poison, whatever its retry policy allows. The attempts are in the ledger, so the count survives restarts.
   * @default 3
   */
  readonly poisonAfterCrashes?: number;
  /**
   * Most deliveries this process holds in memory (queued or running), each with its event. Past it, fresh
   * deliveries stay only in the ledger, made due at once, and the poller takes them as room frees (it is woken when
   * the held count falls to half); it takes no more than there is room for. Bounds memory when events arrive faster
   * than targets take them. @default 10000
   */
  readonly maxHeld?: number;
  /** A `deliver` span per attempt, child of the event's `route` span. @default no tracing */
  readonly tracer?: Tracer;
}

/** What `stop()` did with the deliveries this process held. */
export interface StopReport {
  /** Whether attempts were still running at the deadline (they were cut off). */
  readonly deadlineReached: boolean;
  /** Deliveries whose attempt was cut off at the deadline: no outcome recorded, left in the ledger. */
  readonly interrupted: number;
  /** Deliveries held but not started: handed back to the ledger, due at once. */
  readonly returned: number;
}

export interface StopOptions {
  /**
   * How long running attempts may go on; then they are cut off (their drivers' `signal` is aborted), nothing is
   * recorded for them, and they are left in the ledger for the next start. @default no deadline
   */
  readonly deadlineMs?: number;
}

interface Item {
  readonly delivery: PendingDelivery;
  /** The lease is already held (taken by the poller). */
  readonly claimed: boolean;
  readonly possibleDuplicate: boolean;
}

interface Lane {
  active: number;
  size: number;
  /** Batching targets: when the batch being gathered goes out even if it is not full. */
  batchReadyAt?: number | undefined;
  batchTimer?: NodeJS.Timeout | undefined;
  /** Round robin across sources, so that one source's backlog cannot starve the others. */
  readonly bySource: Map<string, Item[]>;
}

/** One live delivery of an ordered target, in its key's queue (log order). */
interface OrderedEntry {
  /** `keyString` of the delivery. */
  readonly key: string;
  readonly delivery: DeliveryKey;
  /** Log partition, offset, then creation time: the order deliveries of one key go in. */
  readonly order: readonly [number, number, number];
  /** Being fetched from the ledger, queued in its lane or running. */
  running: boolean;
  /** A failed attempt's retry is due later: the poller hands it over when due (no earlier: the backoff holds). */
  awaitingRetry: boolean;
  /** This process took its lease (the router's enqueue, or the poller's claim). */
  leasedHere: boolean;
  /** Dead-lettered, and the target holds its key (`onFailure: "hold"`) until the letter is redriven. */
  held: boolean;
}

/**
 * The state of one ordered target (`ordering`) in this process: every live delivery of the target, queued per key
 * in log order (its key and position only; only a key's head is held in memory, with its event); only the head of a
 * key runs, fetched from the ledger when it becomes the head. Filled from the ledger once (`ready`) before any delivery runs, so that a
 * restart knows the deliveries an earlier process left pending (a retry due later still holds its key back).
 */
interface OrderedLane {
  readonly byKey: Map<string, OrderedEntry[]>;
  /** `keyString` → its ordering key. */
  readonly keyOf: Map<string, string>;
  ready: boolean;
}

const orderingKeys = new WeakMap<Target, OrderingKeyOf>();

function orderingKeyOf(target: Target): OrderingKeyOf | undefined {
  if (target.ordering === undefined) return undefined;
  let keyOf = orderingKeys.get(target);
  if (keyOf === undefined) {
    keyOf = compileOrderingKey(target.ordering.key);
    orderingKeys.set(target, keyOf);
  }
  return keyOf;
}

function logOrder(d: PendingDelivery): readonly [number, number, number] {
  return [
    d.position?.partition ?? Number.MAX_SAFE_INTEGER,
    d.position?.offset ?? Number.MAX_SAFE_INTEGER,
    d.createdAt,
  ];
}

function before(a: readonly [number, number, number], b: readonly [number, number, number]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
}

/** What an attempt came to: finished (delivered or found done), dead-lettered, or still to go (a retry, a cut-off). */
type Outcome = 'delivered' | 'dead-lettered' | 'retry';

/** Thrown out of an attempt cut off at the stop deadline. */
const INTERRUPTED = Symbol('interrupted');

/** The adaptive limit of an `http` or `bus` target's lane, kept while the lane comes and goes. */
interface Adaptive {
  readonly limit: AimdLimit;
  /** The settings it was made for: a rule change makes a new one. */
  readonly initial: number;
  readonly max: number;
}

/** A lane's metric labels, made once per target definition and frozen (the registry keys them once). */
interface LaneLabels {
  readonly lane: Readonly<Record<string, string>>;
  readonly delivered: Readonly<Record<string, string>>;
  readonly failed: Readonly<Record<string, string>>;
}

const laneLabels = new WeakMap<Target, LaneLabels>();

/** An `http` or `bus` target's host, for its spans (`server.address`), parsed once per target definition. */
const hostnames = new WeakMap<Target, string>();

function labelsOf(rule: Rule, target: Target): LaneLabels {
  let labels = laneLabels.get(target);
  if (labels === undefined || labels.lane.rule !== rule.name) {
    const lane = { rule: rule.name, target: target.id };
    labels = {
      lane: Object.freeze(lane),
      delivered: Object.freeze({ ...lane, outcome: 'delivered' }),
      failed: Object.freeze({ ...lane, outcome: 'failed' }),
    };
    laneLabels.set(target, labels);
  }
  return labels;
}

export function keyString(key: DeliveryKey): string {
  return `${key.source}\u0000${key.id}\u0000${key.rule}\u0000${key.target}`;
}

function keyOf(d: DeliveryKey): DeliveryKey {
  return { source: d.source, id: d.id, rule: d.rule, target: d.target };
}

export class Dispatcher {
  readonly #o: DispatcherOptions;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #lanes = new Map<string, Lane>();
  /** Ordered targets' per-key queues, per lane key. */
  readonly #ordered = new Map<string, OrderedLane>();
  /** Adaptive limits per lane key (`http` and `bus` targets). */
  readonly #adaptive = new Map<string, Adaptive>();
  /** Deliveries queued or running in this process. */
  readonly #local = new Set<string>();
  readonly #idle: Array<() => void> = [];
  /** Fresh deliveries were left to the ledger for want of room: wake the poller once room frees. */
  #overflowed = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #polling = false;
  #running = false;
  /** Set by `stop()`: what is submitted from then on is handed back to the ledger, not run. */
  #stopped = false;
  /** Aborted at the stop deadline: running attempts are cut off. */
  readonly #interrupt = new AbortController();
  /** Cuts off each running attempt at the stop deadline (a set, not a listener per attempt on the signal). */
  readonly #cuts = new Set<() => void>();
  #pollDone: Promise<void> | undefined;
  /** Held deliveries the stop hands back to the ledger. */
  readonly #handBack: Item[] = [];
  #interrupted = 0;
  readonly #maxHeld: number;
  readonly #tracer: Tracer;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#tracer = options.tracer ?? noopTracer;
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#maxHeld = options.maxHeld ?? 10_000;
    this.#pollMs = options.pollMs ?? 1_000;
    const m = options.metrics;
    m.declare('junction_deliveries_total', 'counter', 'Delivery attempts by outcome.');
    m.declare('junction_dead_letters_total', 'counter', 'Deliveries dead-lettered.');
    m.declare('junction_delivery_latency_seconds', 'histogram', 'Latency of one delivery attempt.');
    m.declare(
      'junction_target_concurrency',
      'gauge',
      'The adaptive concurrency limit of an http or bus target (AIMD between 1 and its maxConcurrency).',
    );
  }

  /** The adaptive limit of a lane's target, or undefined for targets with a fixed `concurrency`. */
  #adaptiveOf(laneKey: string, target: Target | undefined): Adaptive | undefined {
    if (target === undefined || (target.type !== 'http' && target.type !== 'bus')) return undefined;
    const max = target.maxConcurrency ?? target.concurrency;
    const found = this.#adaptive.get(laneKey);
    if (found !== undefined && found.max === max && found.initial === target.concurrency) return found;
    const made = {
      limit: new AimdLimit({ max, initial: target.concurrency }),
      initial: target.concurrency,
      max,
    };
    this.#adaptive.set(laneKey, made);
    this.#gauge(laneKey, made.limit.limit);
    return made;
  }

  /** The concurrency limit of a lane's target now: adaptive for `http` and `bus`, fixed otherwise. */
  #limitOf(laneKey: string, target: Target | undefined): number {
    return this.#adaptiveOf(laneKey, target)?.limit.limit ?? target?.concurrency ?? 1;
  }

  /** Feeds an answered attempt to its lane's adaptive limit. */
  #adapt(laneKey: string, target: Target, result: DeliveryResult, started: number, full: boolean): void {
    const adaptive = this.#adaptiveOf(laneKey, target);
    if (adaptive === undefined) return;
    const before = adaptive.limit.limit;
    // A final refusal (400, a refused address) is an answer from a healthy target; retriable failures are load.
    const after = adaptive.limit.record(
      result.ok || !result.retriable ? 'ok' : 'overload',
      started,
      this.#o.clock.now(),
      full,
    );
    if (after !== before) this.#gauge(laneKey, after);
  }

  #gauge(laneKey: string, limit: number): void {
    const [rule = '', target = ''] = laneKey.split('\u0000');
    this.#o.metrics.set('junction_target_concurrency', limit, { rule, target });
  }

  /** The lease a fresh delivery gets when the router enqueues it. */
  get leaseMs(): number {
    return this.#leaseMs;
  }

  /** Starts polling the ledger for due deliveries (retries, and what a crashed process left behind). */
  start(): void {
    this.#running = true;
    this.#schedule(this.#o.clock.now());
  }

  /**
   * Stops taking deliveries: what is queued goes back to the ledger (due at once), running attempts get until the
   * deadline, then are cut off and left in the ledger (an exactly-once one stays in flight with its lease ended, so
   * that the next start knows it may have run). Resolves once nothing runs here any more.
   */
  async stop(options: StopOptions = {}): Promise<StopReport> {
    this.#running = false;
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#pollDone;
    for (const [laneKey, lane] of this.#lanes) {
      for (const queue of lane.bySource.values()) this.#handBack.push(...queue);
      lane.bySource.clear();
      lane.size = 0;
      clearTimeout(lane.batchTimer);
      lane.batchTimer = undefined;
      if (lane.active === 0) this.#lanes.delete(laneKey);
    }
    const returned = this.#handBack.length;
    for (const item of this.#handBack) this.#local.delete(keyString(item.delivery));
    if (this.#local.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    let deadlineReached = false;
    if (this.#local.size > 0 && options.deadlineMs !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), options.deadlineMs);
      });
      deadlineReached = await Promise.race([this.idle().then(() => false), deadline]);
      clearTimeout(timer);
      if (deadlineReached) {
        this.#interrupt.abort(new Error('the bus is stopping'));
        for (const cut of this.#cuts) cut();
      }
    }
    await this.idle();
    await this.#returnHeld();
    return { deadlineReached, interrupted: this.#interrupted, returned };
  }

  /** Hands the held deliveries back to the ledger: due at once, claimed ones with their lease ended. */
  async #returnHeld(): Promise<void> {
    const items = this.#handBack.splice(0);
    if (items.length === 0) return;
    const now = this.#o.clock.now();
    const claimed = items.filter((item) => item.claimed).map((item) => keyOf(item.delivery));
    const fresh = items.filter((item) => !item.claimed).map((item) => keyOf(item.delivery));
    for (let i = 0; i < claimed.length; i += 500)
      await this.#o.ledger.release(claimed.slice(i, i + 500), now);
    await this.#makeDue(fresh, now);
  }

  /** Makes pending deliveries due at `now`, 500 keys per ledger call. */
  async #makeDue(keys: readonly DeliveryKey[], now: number): Promise<void> {
    for (let i = 0; i < keys.length; i += 500) await this.#o.ledger.makeDue(keys.slice(i, i + 500), now);
  }

  /** Resolves when nothing is queued or running locally. */
  idle(): Promise<void> {
    if (this.#local.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** How many deliveries this process holds (queued or running). */
  get inFlight(): number {
    return this.#local.size;
  }

  /**
   * Hands fresh deliveries (just enqueued in the ledger with a lease of `leaseMs`) to their lanes. Those past
   * `maxHeld` are left to the ledger, made due at once: the poller takes them as room frees (not a lease later).
   * Claimed ones (the poller holds their lease) are always taken; the poller claims no more than there is room for.
   */
  submit(
    deliveries: readonly PendingDelivery[],
    options: { claimed?: boolean; possibleDuplicate?: boolean } = {},
  ): void {
    let overflow: DeliveryKey[] | undefined;
    for (const delivery of deliveries) {
      const key = keyString(delivery);
      if (this.#local.has(key)) continue;
      if (this.#stopped) {
        if (options.claimed) this.#handBack.push({ delivery, claimed: true, possibleDuplicate: false });
        continue;
      }
      const laneKey = `${delivery.rule}\u0000${delivery.target}`;
      const target = this.#o.lookup(delivery.rule)?.targets.find((t) => t.id === delivery.target);
      const keyOfEvent = target === undefined ? undefined : orderingKeyOf(target);
      if (!options.claimed && this.#local.size >= this.#maxHeld) {
        overflow ??= [];
        overflow.push(keyOf(delivery));
        // Left to the ledger, but its place in its key's queue is kept: nothing after it may overtake it.
        if (keyOfEvent !== undefined) this.#orderedLane(laneKey, keyOfEvent, delivery);
        continue;
      }
      this.#local.add(key);
      const item: Item = {
        delivery,
        claimed: options.claimed ?? false,
        possibleDuplicate: options.possibleDuplicate ?? false,
      };
      if (keyOfEvent !== undefined) this.#admitOrdered(laneKey, keyOfEvent, item);
      else this.#enqueue(laneKey, item);
    }
    if (overflow !== undefined) this.#leaveToLedger(overflow);
  }

  /** Puts an item in its lane's queue and starts what the lane's limit allows. */
  #enqueue(laneKey: string, item: Item): void {
    const { delivery } = item;
    {
      let lane = this.#lanes.get(laneKey);
      if (!lane) {
        lane = { active: 0, size: 0, bySource: new Map() };
        this.#lanes.set(laneKey, lane);
      }
      let queue = lane.bySource.get(delivery.source);
      if (!queue) {
        queue = [];
        lane.bySource.set(delivery.source, queue);
      }
      queue.push(item);
      lane.size++;
      this.#pump(laneKey, lane);
    }
  }

  /**
   * Queues an ordered target's delivery under its key, in log order; it runs once it is the head of its key. The
   * first delivery of a target in this process reads the target's live deliveries from the ledger first.
   */
  #admitOrdered(laneKey: string, keyOfEvent: OrderingKeyOf, item: Item): void {
    const ordered = this.#orderedLane(laneKey, keyOfEvent, item.delivery);
    const orderKey = this.#placeOrdered(ordered, keyOfEvent, item.delivery);
    const key = keyString(item.delivery);
    const queue = ordered.byKey.get(orderKey) ?? [];
    const entry = queue.find((e) => e.key === key);
    if (entry !== undefined) {
      entry.leasedHere = true;
      // Live again (a redrive of its dead letter): the key goes on with it.
      entry.held = false;
    }
    if (
      entry !== undefined &&
      entry === queue[0] &&
      ordered.ready &&
      !this.#stopped &&
      !queue.some((e) => e.running)
    ) {
      // The head, handed over: it runs now (a due retry, or the next of its key).
      entry.running = true;
      entry.awaitingRetry = false;
      this.#enqueue(laneKey, item);
      return;
    }
    // Not its turn: only its place is kept; the ledger keeps the delivery, fetched when it becomes the head.
    this.#local.delete(key);
    if (this.#local.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    if (entry === queue[0] && entry?.awaitingRetry === true) entry.awaitingRetry = false;
    this.#releaseHead(laneKey, ordered, orderKey);
  }

  /**
   * The ordered state of a target (made, and filled from the ledger, on first use in this process), with the
   * delivery placed under its key.
   */
  #orderedLane(laneKey: string, keyOfEvent: OrderingKeyOf, delivery: PendingDelivery): OrderedLane {
    let ordered = this.#ordered.get(laneKey);
    if (ordered === undefined) {
      const made: OrderedLane = { byKey: new Map(), keyOf: new Map(), ready: false };
      ordered = made;
      this.#ordered.set(laneKey, made);
      this.#loadOrdered(laneKey, made, keyOfEvent, delivery.rule, delivery.target);
    }
    this.#placeOrdered(ordered, keyOfEvent, delivery);
    return ordered;
  }

  /** Records a live delivery under its key (once); answers the key. */
  #placeOrdered(ordered: OrderedLane, keyOfEvent: OrderingKeyOf, delivery: PendingDelivery): string {
    const key = keyString(delivery);
    const known = ordered.keyOf.get(key);
    if (known !== undefined) return known;
    const orderKey = keyOfEvent(delivery.event);
    ordered.keyOf.set(key, orderKey);
    let queue = ordered.byKey.get(orderKey);
    if (queue === undefined) {
      queue = [];
      ordered.byKey.set(orderKey, queue);
    }
    const entry: OrderedEntry = {
      key,
      delivery: keyOf(delivery),
      order: logOrder(delivery),
      running: false,
      // Found in the ledger with a failed attempt whose retry is not due yet.
      awaitingRetry: delivery.attempts.length > 0 && delivery.dueAt > this.#o.clock.now(),
      leasedHere: false,
      held: false,
    };
    let at = queue.length;
    while (at > 0 && before(entry.order, (queue[at - 1] as OrderedEntry).order)) at--;
    queue.splice(at, 0, entry);
    return orderKey;
  }

  /** Whether an ordered lane's target holds a key after a dead letter (`ordering.onFailure: "hold"`). */
  #holds(laneKey: string): boolean {
    const [rule = '', target = ''] = laneKey.split('\u0000');
    return this.#o.lookup(rule)?.targets.find((t) => t.id === target)?.ordering?.onFailure === 'hold';
  }

  /** Reads every live delivery of an ordered target from the ledger (in pages), then lets the heads run. */
  #loadOrdered(
    laneKey: string,
    ordered: OrderedLane,
    keyOfEvent: OrderingKeyOf,
    rule: string,
    target: string,
  ): void {
    const load = async (): Promise<void> => {
      let cursor: string | undefined;
      do {
        const page = await this.#o.ledger.list({
          rule,
          target,
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const delivery of page.deliveries) this.#placeOrdered(ordered, keyOfEvent, delivery);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      if (!this.#holds(laneKey)) return;
      // Holding keys: each dead letter of the target holds its key, at its log position, until it is redriven.
      do {
        const page = await this.#o.deadLetters.page({
          rule,
          target,
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const letter of page.deadLetters) {
          const delivery = { ...letter, createdAt: letter.at, dueAt: letter.at };
          const orderKey = this.#placeOrdered(ordered, keyOfEvent, delivery);
          const entry = ordered.byKey.get(orderKey)?.find((e) => e.key === keyString(letter));
          if (entry !== undefined) entry.held = true;
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    };
    load().then(
      () => {
        ordered.ready = true;
        for (const orderKey of ordered.byKey.keys()) this.#releaseHead(laneKey, ordered, orderKey);
      },
      (error) => {
        this.#o.onError?.(error);
        // Tried again: nothing of this target runs before its live deliveries are known.
        const retry = setTimeout(
          () => this.#loadOrdered(laneKey, ordered, keyOfEvent, rule, target),
          this.#pollMs,
        );
        retry.unref();
      },
    );
  }

  /** Starts the head of a key when this process holds it and nothing of the key runs. */
  #releaseHead(laneKey: string, ordered: OrderedLane, orderKey: string): void {
    if (!ordered.ready || this.#stopped) return;
    const queue = ordered.byKey.get(orderKey);
    const head = queue?.[0];
    if (head === undefined || head.awaitingRetry || head.held) return;
    // A redriven delivery sorts before the one running: it waits until that one has finished.
    if (queue?.some((e) => e.running)) return;
    head.running = true;
    this.#fetchHead(laneKey, head).catch((error) => {
      this.#o.onError?.(error);
      head.running = false;
      const retry = setTimeout(() => this.#releaseHead(laneKey, ordered, orderKey), this.#pollMs);
      retry.unref();
    });
  }

  /** Reads a key's new head from the ledger and queues it in its lane; a finished one lets the next go. */
  async #fetchHead(laneKey: string, head: OrderedEntry): Promise<void> {
    const found = await this.#o.ledger.get(head.delivery);
    if (this.#stopped) {
      head.running = false;
      return;
    }
    const state = found?.entry.state;
    if (found?.pending === undefined || state === 'delivered' || state === 'dead-lettered') {
      this.#orderedDone(laneKey, head.key, state === 'dead-lettered' ? state : 'delivered');
      return;
    }
    const now = this.#o.clock.now();
    // In flight under a lease: this process's own (taken when it was not its turn yet) is given back so that the
    // attempt may claim it; one a dead process left means the delivery may have run.
    if (state === 'in-flight') await this.#o.ledger.release([head.delivery], now);
    this.#local.add(head.key);
    this.#enqueue(laneKey, {
      delivery: found.pending,
      claimed: false,
      possibleDuplicate: state === 'in-flight' && !head.leasedHere,
    });
  }

  /**
   * The head of a key finished an attempt: a final outcome (delivered, dead-lettered, found done) lets the next one
   * of the key go; a retry keeps the key held until the retry (due from the ledger) is final.
   */
  #orderedDone(laneKey: string, key: string, outcome: Outcome): void {
    const ordered = this.#ordered.get(laneKey);
    const orderKey = ordered?.keyOf.get(key);
    if (ordered === undefined || orderKey === undefined) return;
    const queue = ordered.byKey.get(orderKey) ?? [];
    const at = queue.findIndex((e) => e.key === key);
    const entry = queue[at];
    if (entry === undefined) return;
    entry.running = false;
    if (outcome === 'retry') entry.awaitingRetry = true;
    else if (outcome === 'dead-lettered' && this.#holds(laneKey)) entry.held = true;
    else {
      queue.splice(at, 1);
      ordered.keyOf.delete(key);
      if (queue.length === 0) ordered.byKey.delete(orderKey);
    }
    this.#releaseHead(laneKey, ordered, orderKey);
  }

  /** Makes fresh deliveries this process has no room for due now, for the poller to take as room frees. */
  #leaveToLedger(keys: readonly DeliveryKey[]): void {
    this.#overflowed = true;
    this.#makeDue(keys, this.#o.clock.now()).catch((error) => this.#o.onError?.(error));
  }

  #pump(laneKey: string, lane: Lane): void {
    while (lane.size > 0) {
      const head = lane.bySource.values().next().value?.[0];
      if (!head) break;
      const target = this.#o.lookup(head.delivery.rule)?.targets.find((t) => t.id === head.delivery.target);
      const limit = this.#limitOf(laneKey, target);
      if (lane.active >= limit) break;
      const batch = target?.type === 'http' ? target.batch : undefined;
      if (batch !== undefined && lane.size < batch.maxSize) {
        // Opt-in batching: wait up to the window for a full batch.
        const now = this.#o.clock.now();
        lane.batchReadyAt ??= now + batch.windowMs;
        if (now < lane.batchReadyAt) {
          if (lane.batchTimer === undefined) {
            lane.batchTimer = setTimeout(() => {
              lane.batchTimer = undefined;
              this.#pump(laneKey, lane);
            }, lane.batchReadyAt - now);
            lane.batchTimer.unref();
          }
          break;
        }
      }
      const items: Item[] = [];
      while (items.length < (batch?.maxSize ?? 1) && lane.size > 0) items.push(this.#take(lane));
      lane.batchReadyAt = undefined;
      lane.active++;
      const full = lane.active >= limit;
      // The lane's slot is the target's: it is given back once the target answered, before the outcome is written.
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        lane.active--;
        if (lane.size > 0) this.#pump(laneKey, lane);
      };
      const answered = (target: Target, result: DeliveryResult, started: number) => {
        this.#adapt(laneKey, target, result, started, full);
        release();
      };
      const ordered = this.#ordered.has(laneKey) && items.length === 1 && batch === undefined;
      const run =
        items.length === 1 && batch === undefined
          ? this.#run(items[0] as Item, answered)
          : this.#runBatch(items, answered).then((): Outcome => 'delivered');
      run
        .then(
          (outcome) => {
            if (ordered) this.#orderedDone(laneKey, keyString((items[0] as Item).delivery), outcome);
          },
          (error) => {
            if (ordered) this.#orderedDone(laneKey, keyString((items[0] as Item).delivery), 'retry');
            this.#o.onError?.(error);
          },
        )
        .finally(() => {
          release();
          for (const item of items) this.#local.delete(keyString(item.delivery));
          if (lane.size === 0 && lane.active === 0) {
            this.#lanes.delete(laneKey);
            // The adaptive limit outlives its lane (it comes and goes with traffic), not its rule.
            const rule = this.#o.lookup(items[0]?.delivery.rule ?? '');
            if (!rule?.targets.some((t) => t.id === items[0]?.delivery.target))
              this.#adaptive.delete(laneKey);
          }
          if (this.#overflowed && this.#local.size <= this.#maxHeld / 2) {
            this.#overflowed = false;
            this.wake();
          }
          if (this.#local.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }

  /** The next item of a lane, round robin across sources. */
  #take(lane: Lane): Item {
    const [source, queue] = lane.bySource.entries().next().value as [string, Item[]];
    const item = queue.shift() as Item;
    lane.bySource.delete(source);
    if (queue.length > 0) lane.bySource.set(source, queue); // to the back: round robin
    lane.size--;
    return item;
  }

  /** The rule and target of an item, or undefined after dead-lettering it (they were deleted). */
  async #resolve(item: Item): Promise<{ rule: Rule; target: Target } | undefined> {
    const { delivery } = item;
    const rule = this.#o.lookup(delivery.rule);
    const target = rule?.targets.find((t) => t.id === delivery.target);
    if (rule && target) return { rule, target };
    const reason = `rule "${delivery.rule}" or its target "${delivery.target}" no longer exists`;
    // No attempt is made: the span says so, with the dead letter as its event.
    let span: TraceSpan | undefined;
    if (this.#tracer.enabled) {
      span = this.#deliverSpan(delivery, delivery.rule, delivery.target, {
        'junction.delivery.outcome': 'failed',
      });
      span.setError(reason);
    }
    try {
      await this.#deadLetter(delivery, [], reason, span);
    } finally {
      span?.end();
    }
    return undefined;
  }

  /** Takes the exactly-once lease; false when another worker holds it or it is done already. */
  async #claim(item: Item, target: Target, now: number): Promise<boolean> {
    if (target.delivery !== 'exactly-once' || item.claimed) return true;
    const won = await this.#o.ledger.claim(
      keyOf(item.delivery),
      now,
      now + Math.max(this.#leaseMs, target.timeoutMs * 2),
    );
    if (!won) await this.#skipIfDelivered(item.delivery);
    return won;
  }

  async #request(item: Item, rule: Rule, target: Target, span?: TraceSpan): Promise<DeliveryRequest> {
    const { delivery } = item;
    const event = await this.#o.transform(delivery.event, rule, target, delivery.createdAt);
    const trace = span?.context;
    return {
      rule,
      target,
      // The target gets the attempt's context, in the event's extension as in the headers.
      event: trace === undefined ? event : withTraceContext(event, trace),
      idempotencyKey: `${delivery.source}#${delivery.id}`,
      attempt: delivery.attempts.length + 1,
      possibleDuplicate: item.possibleDuplicate,
      timeoutMs: target.timeoutMs,
      signal: this.#interrupt.signal,
      ...(trace === undefined ? {} : { trace }),
    };
  }

  /** The `deliver` span of one attempt (a client span, child of the event's `route` span), when tracing is on. */
  #startSpan(item: Item, rule: Rule, target: Target): TraceSpan | undefined {
    if (!this.#tracer.enabled) return undefined;
    const { delivery } = item;
    let server: string | undefined;
    if ((target.type === 'http' || target.type === 'bus') && target.url !== undefined) {
      server = hostnames.get(target);
      if (server === undefined) {
        server = new URL(target.url).hostname;
        hostnames.set(target, server);
      }
    }
    return this.#deliverSpan(delivery, rule.name, target.id, {
      'junction.target.type': target.type,
      'junction.function': target.type === 'function' ? target.function : undefined,
      'junction.target.bus': target.type === 'bus' ? target.bus : undefined,
      'server.address': server,
      'junction.delivery.attempt': delivery.attempts.length + 1,
      'junction.delivery.mode': target.delivery,
      'junction.delivery.possible_duplicate': item.possibleDuplicate || undefined,
      'junction.redrive_of': delivery.redriveOf,
    });
  }

  /** A `deliver` span (a client span, child of the event's `route` span) with the attributes every attempt has. */
  #deliverSpan(
    delivery: PendingDelivery,
    rule: string,
    targetId: string,
    attributes: SpanAttributes,
  ): TraceSpan {
    const parent = eventTraceContext(delivery.event);
    return this.#tracer.startSpan('deliver', {
      kind: 'client',
      ...(parent === undefined ? {} : { parent }),
      attributes: {
        ...eventSpanAttributes(delivery.event),
        'messaging.operation.type': 'send',
        'messaging.destination.name': targetId,
        'junction.rule': rule,
        'junction.target.id': targetId,
        ...attributes,
      },
    });
  }

  async #call(
    target: Target,
    send: (driver: TargetDriver) => Promise<DeliveryResult>,
  ): Promise<DeliveryResult> {
    const driver = this.#o.drivers[target.type];
    if (!driver) {
      return {
        ok: false,
        retriable: false,
        error: `no driver for target type "${target.type}" in this deployment`,
      };
    }
    try {
      return await this.#interruptible(send(driver));
    } catch (error) {
      if (error === INTERRUPTED) throw error;
      const e = toJunctionError(error);
      return { ok: false, retriable: e.retriable || e.code === 'Internal', error: `${e.code}: ${e.message}` };
    }
  }

  /** The driver's answer, or INTERRUPTED thrown at the stop deadline (the driver's late answer is ignored). */
  #interruptible(answer: Promise<DeliveryResult>): Promise<DeliveryResult> {
    if (this.#interrupt.signal.aborted) return Promise.reject(INTERRUPTED);
    return new Promise((resolve, reject) => {
      const cut = () => reject(INTERRUPTED);
      this.#cuts.add(cut);
      answer.then(
        (result) => {
          this.#cuts.delete(cut);
          resolve(result);
        },
        (error) => {
          this.#cuts.delete(cut);
          reject(error);
        },
      );
    });
  }

  /** An attempt cut off at the stop deadline: nothing is recorded; the stop hands the delivery back. */
  #cutOff(items: readonly Item[], claimedNow: boolean): void {
    this.#interrupted += items.length;
    for (const item of items) this.#handBack.push(claimedNow ? { ...item, claimed: true } : item);
  }

  /** One attempt; answers what it came to. */
  async #run(
    item: Item,
    answered: (target: Target, result: DeliveryResult, started: number) => void,
  ): Promise<Outcome> {
    const resolved = await this.#resolve(item);
    if (!resolved) return 'dead-lettered';
    const { rule, target } = resolved;
    const started = this.#o.clock.now();
    if (!(await this.#claim(item, target, started))) {
      const state = (await this.#o.ledger.get(keyOf(item.delivery)))?.entry.state;
      return state === 'delivered' || state === 'dead-lettered' ? state : 'retry';
    }
    const sent = this.#o.clock.now();
    const span = this.#startSpan(item, rule, target);
    let result: DeliveryResult;
    try {
      result = await this.#call(target, async (driver) =>
        driver.deliver(await this.#request(item, rule, target, span)),
      );
    } catch (error) {
      span?.setError(error === INTERRUPTED ? 'cut off: the bus stopped' : String(error));
      span?.end();
      if (error !== INTERRUPTED) throw error;
      this.#cutOff([item], target.delivery === 'exactly-once');
      return 'retry';
    }
    answered(target, result, sent);
    return this.#record(item, rule, target, started, result, span);
  }

  /** One request for several deliveries of a batching target; the answer is every delivery's outcome. */
  async #runBatch(
    items: readonly Item[],
    answered: (target: Target, result: DeliveryResult, started: number) => void,
  ): Promise<void> {
    const resolved = await this.#resolve(items[0] as Item);
    if (!resolved) {
      await Promise.all(items.slice(1).map((item) => this.#resolve(item)));
      return;
    }
    const { rule, target } = resolved;
    const started = this.#o.clock.now();
    const claimed = (
      await Promise.all(
        items.map(async (item) => ((await this.#claim(item, target, started)) ? item : undefined)),
      )
    ).filter((item): item is Item => item !== undefined);
    if (claimed.length === 0) return;
    const spans = claimed.map((item) => this.#startSpan(item, rule, target));
    for (const span of spans) span?.setAttributes({ 'messaging.batch.message_count': claimed.length });
    const sent = this.#o.clock.now();
    let result: DeliveryResult;
    try {
      result = await this.#call(target, async (driver) => {
        const requests = await Promise.all(
          claimed.map((item, i) => this.#request(item, rule, target, spans[i])),
        );
        return driver.deliverBatch
          ? driver.deliverBatch(requests)
          : driver.deliver(requests[0] as DeliveryRequest);
      });
    } catch (error) {
      for (const span of spans) {
        span?.setError(error === INTERRUPTED ? 'cut off: the bus stopped' : String(error));
        span?.end();
      }
      if (error !== INTERRUPTED) throw error;
      return this.#cutOff(claimed, target.delivery === 'exactly-once');
    }
    answered(target, result, sent);
    await Promise.all(claimed.map((item, i) => this.#record(item, rule, target, started, result, spans[i])));
  }

  /** Records an attempt's outcome (and ends its span): delivered, a retry at a due time, or a dead letter. */
  async #record(
    item: Item,
    rule: Rule,
    target: Target,
    started: number,
    result: DeliveryResult,
    span?: TraceSpan,
  ): Promise<Outcome> {
    if (span === undefined) return this.#recordOutcome(item, rule, target, started, result);
    span.setAttributes({
      'junction.delivery.outcome': result.ok ? 'delivered' : 'failed',
      'http.response.status_code': result.status,
      'junction.delivery.latency_ms': this.#o.clock.now() - started,
    });
    if (!result.ok) span.setError(result.error);
    try {
      return await this.#recordOutcome(item, rule, target, started, result, span);
    } finally {
      span.end();
    }
  }

  async #recordOutcome(
    item: Item,
    rule: Rule,
    target: Target,
    started: number,
    result: DeliveryResult,
    span?: TraceSpan,
  ): Promise<Outcome> {
    const o = this.#o;
    const { delivery } = item;
    const key = keyOf(delivery);
    const finished = o.clock.now();
    const attempt: Attempt = {
      at: started,
      outcome: result.ok ? 'delivered' : 'failed',
      latencyMs: finished - started,
      ...(result.status === undefined ? {} : { status: result.status }),
      ...(result.ok ? {} : { error: result.error }),
      // The attempt (kept in the ledger and dead letters) has the answer's body only when the target asks for it.
      ...(result.ok || result.response === undefined
        ? {}
        : {
            response:
              target.type === 'http' && target.keepResponseBody
                ? result.response
                : { headers: result.response.headers },
          }),
    };
    const labels = labelsOf(rule, target);
    o.metrics.observe('junction_delivery_latency_seconds', attempt.latencyMs / 1000, labels.lane);
    o.metrics.inc('junction_deliveries_total', labels[attempt.outcome]);
    const trace = (kind: TraceEntry['kind'], detail: Record<string, unknown>): TraceEntry => ({
      source: delivery.event.source,
      id: delivery.event.id,
      at: finished,
      kind,
      rule: rule.name,
      target: target.id,
      detail,
    });
    const attemptTrace = trace('attempt', {
      number: delivery.attempts.length + 1,
      ...attempt,
      ...(result.ok || result.response === undefined ? {} : { response: result.response }),
    });
    if (result.ok) {
      const entries = [attemptTrace, trace('delivered', { attempts: delivery.attempts.length + 1 })];
      // What the target returned is published before the delivery counts as done: a crash in between delivers
      // again, and the publish is idempotent where the events' ids are stable (a function's are).
      if (result.emitError !== undefined)
        entries.push(trace('emitted', { error: result.emitError, events: [] }));
      else if (result.emitted && result.emitted.length > 0) {
        try {
          const emitted = await o.onEmitted(result.emitted, {
            delivery,
            rule,
            target,
            ...(span?.context === undefined ? {} : { trace: span.context }),
          });
          span?.setAttributes({ 'junction.emitted': emitted.length });
          entries.push(trace('emitted', { events: emitted }));
        } catch (error) {
          const e = toJunctionError(error);
          entries.push(trace('emitted', { error: `${e.code}: ${e.message}`, events: [] }));
        }
      }
      // The ledger and the trace are written together: they share one group commit.
      // An at-least-once completion lost to a power cut makes the delivery once more: it need not wait for an fsync.
      const completed = o.ledger.complete(key, attempt, finished, {
        durable: target.delivery === 'exactly-once',
      });
      await Promise.all([completed, o.traces.record(entries)]);
      return 'delivered';
    }
    const attempts = [...delivery.attempts, attempt];
    const crashes = attempts.filter((a) => a.error?.startsWith('FunctionCrashed:')).length;
    if (crashes >= (o.poisonAfterCrashes ?? 3)) {
      await o.traces.record([attemptTrace]);
      await this.#deadLetter(
        delivery,
        attempts,
        `poison: the function crashed its process ${crashes} times`,
        span,
      );
      return 'dead-lettered';
    }
    const decision = decideRetry(
      target.retry,
      attempts,
      delivery.createdAt,
      finished,
      {
        retriable: result.retriable,
        error: result.error,
        ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }),
      },
      o.random,
    );
    if (decision.retry) {
      await Promise.all([
        o.ledger.reschedule(key, attempt, decision.dueAt),
        o.traces.record([
          attemptTrace,
          trace('retry-scheduled', { delayMs: decision.delayMs, dueAt: decision.dueAt }),
        ]),
      ]);
      this.#schedule(decision.dueAt);
      span?.addEvent('retry-scheduled', {
        'junction.retry.delay_ms': decision.delayMs,
        'junction.retry.due_at': new Date(decision.dueAt).toISOString(),
      });
      return 'retry';
    }
    await o.traces.record([attemptTrace]);
    await this.#deadLetter(delivery, attempts, decision.reason, span);
    return 'dead-lettered';
  }

  async #skipIfDelivered(delivery: PendingDelivery): Promise<void> {
    const state = await this.#o.ledger.get(keyOf(delivery));
    if (state?.entry.state === 'delivered') {
      await this.#o.traces.record([
        {
          source: delivery.event.source,
          id: delivery.event.id,
          at: this.#o.clock.now(),
          kind: 'skipped',
          rule: delivery.rule,
          target: delivery.target,
          detail: { reason: 'already delivered (exactly-once)' },
        },
      ]);
    }
  }

  /** Dead-letters a delivery; the attempt's span (when there is one) gets a `dead-lettered` event. */
  async #deadLetter(
    delivery: PendingDelivery,
    attempts: readonly Attempt[],
    reason: string,
    span?: TraceSpan,
  ): Promise<void> {
    const o = this.#o;
    const now = o.clock.now();
    const dlId = globalThis.crypto.randomUUID();
    span?.addEvent('dead-lettered', {
      'junction.dead_letter.id': dlId,
      'junction.dead_letter.reason': reason,
      'junction.delivery.attempts': attempts.length,
    });
    await o.deadLetters.add({
      dlId,
      source: delivery.source,
      id: delivery.id,
      rule: delivery.rule,
      target: delivery.target,
      event: delivery.event,
      reason,
      attempts,
      at: now,
      ...(delivery.position === undefined ? {} : { position: delivery.position }),
    });
    await o.ledger.abandon(keyOf(delivery), now);
    o.metrics.inc('junction_dead_letters_total', { rule: delivery.rule, target: delivery.target });
    await o.traces.record([
      {
        source: delivery.event.source,
        id: delivery.event.id,
        at: now,
        kind: 'dead-lettered',
        rule: delivery.rule,
        target: delivery.target,
        detail: { dlId, reason, attempts: attempts.length },
      },
    ]);
  }

  /**
   * Dead letters were deleted (`Junction.deleteDeadLetters`): a key this process holds for one of them (an ordered
   * target with `onFailure: "hold"`) goes on with its next delivery. Another process lets such a key go when it next
   * reads the target's letters (at its start): the letter is gone.
   */
  discarded(letters: readonly DeliveryKey[]): void {
    for (const letter of letters) {
      const laneKey = `${letter.rule}\u0000${letter.target}`;
      const key = keyString(letter);
      const ordered = this.#ordered.get(laneKey);
      const orderKey = ordered?.keyOf.get(key);
      const entry =
        orderKey === undefined ? undefined : ordered?.byKey.get(orderKey)?.find((e) => e.key === key);
      // Only a held entry: one running or waiting for its retry is a live delivery, not the deleted letter. Done with
      // it as with a delivered one: it leaves its key, and the key's next goes.
      if (entry?.held === true) this.#orderedDone(laneKey, key, 'delivered');
    }
  }

  /** Polls the ledger now (deliveries were made due by hand: `POST /deliveries/retry`). */
  wake(): void {
    this.#schedule(this.#o.clock.now());
  }

  /** Makes sure the poller runs no later than `at`. */
  #schedule(at: number): void {
    if (!this.#running) return;
    const now = this.#o.clock.now();
    const when = Math.min(at, now + this.#pollMs);
    if (this.#timer && when >= this.#timerAt) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = when;
    this.#timer = setTimeout(() => void this.#poll(), Math.max(0, when - now));
    this.#timer.unref?.();
  }

  /**
   * Takes every due delivery from the ledger once (claiming each) and hands it to its lane; answers how many.
   * The poller calls it; so does a scheduled function where no process stays up (Lambda).
   */
  async runDue(): Promise<number> {
    const o = this.#o;
    let taken = 0;
    for (;;) {
      const room = this.#maxHeld - this.#local.size;
      if (room <= 0 || this.#stopped) return taken;
      const now = o.clock.now();
      const due = (await o.ledger.due(now, Math.min(256, room))).filter(
        (d) => !this.#local.has(keyString(d)),
      );
      // Claimed side by side (the SQLite ledger commits claims made in one turn together; DynamoDB takes them in
      // parallel), then handed to the lanes in the ledger's order.
      const claims = await Promise.allSettled(
        due.map(async (d) => {
          const rule = o.lookup(d.rule);
          const target = rule?.targets.find((t) => t.id === d.target);
          const lease = now + Math.max(this.#leaseMs, (target?.timeoutMs ?? 0) * 2);
          if (!(await o.ledger.claim(keyOf(d), now, lease))) return undefined;
          // An entry found in flight had a lease that ran out: its process died mid-delivery.
          return { delivery: d, possibleDuplicate: d.state === 'in-flight' };
        }),
      );
      let failure: PromiseRejectedResult | undefined;
      for (const claim of claims) {
        if (claim.status === 'rejected') {
          failure ??= claim;
          continue;
        }
        if (claim.value === undefined) continue;
        this.submit([claim.value.delivery], {
          claimed: true,
          possibleDuplicate: claim.value.possibleDuplicate,
        });
        taken++;
      }
      if (failure !== undefined) throw failure.reason;
      if (due.length < Math.min(256, room)) return taken;
    }
  }

  #poll(): Promise<void> {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (!this.#running || this.#polling) return Promise.resolve();
    this.#polling = true;
    this.#pollDone = this.#pollOnce();
    return this.#pollDone;
  }

  async #pollOnce(): Promise<void> {
    const o = this.#o;
    try {
      await this.runDue();
      const next = await o.ledger.nextDueAt();
      if (next !== undefined) this.#schedule(next);
    } catch (error) {
      o.onError?.(error);
    } finally {
      this.#polling = false;
      this.#schedule(o.clock.now() + this.#pollMs);
    }
  }
}
