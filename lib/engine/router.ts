/**
 * The router: consumes log records, matches them against the rules, and durably enqueues one pending delivery per
 * matched (rule, target) before the batch counts as processed — so the log position only advances past events
 * whose every delivery has a durable next step (where the positions are written to the ledger's own store after the
 * enqueue, that order is enough: `positionsInLedgerStore`). Delivery itself is the dispatcher's, off the consume path.
 */
import { type StoredEvent, withExtension } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import type { Rule } from '../core/rule-types.ts';
import { eventTraceContext, withTraceContext } from '../core/trace-context.ts';
import {
  type Clock,
  type Ledger,
  type LogRecord,
  noopTracer,
  type PendingDelivery,
  type TraceEntry,
  type Tracer,
  type TraceSpan,
  type TraceStore,
} from '../ports.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { Metrics } from './metrics.ts';
import type { RuleMatcher } from './rule-matcher.ts';
import { eventSpanAttributes } from './spans.ts';

/** Most rule names a `route` span lists (`junction.rules`); `junction.rules.matched` counts them all. */
const MAX_SPAN_RULES = 64;

export interface RouterOptions {
  readonly matcher: RuleMatcher;
  readonly ledger: Ledger;
  readonly traces: TraceStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  /** A `route` span per event, the parent of its deliveries' spans. @default no tracing */
  readonly tracer?: Tracer;
  /** The consumer group, for the spans. */
  readonly group?: string;
  /**
   * Whether the log commits the router's positions in the ledger's store, after the enqueue (the SQLite log and
   * ledger of one database): the enqueue then need not be durable before the position is committed — the store
   * keeps the two in order, and the log's append before them was durable already. @default false
   */
  readonly positionsInLedgerStore?: boolean;
}

export class Router {
  readonly #o: RouterOptions;

  constructor(options: RouterOptions) {
    this.#o = options;
    const m = options.metrics;
    m.declare('junction_events_routed_total', 'counter', 'Events taken from the log by the router.');
    m.declare('junction_events_matched_total', 'counter', 'Events that matched at least one rule.');
    m.declare('junction_events_unmatched_total', 'counter', 'Events that matched no rule.');
    m.declare(
      'junction_ingest_to_route_seconds',
      'histogram',
      'From the log accepting an event to the router matching it.',
    );
  }

  /** Processes records of one partition; resolves when every matched delivery is durably pending or done. */
  async processBatch(records: readonly LogRecord[]): Promise<void> {
    await this.#route(records, this.#o.matcher, undefined, this.#o.positionsInLedgerStore !== true);
  }

  /**
   * Routes records with a given matcher; resolves once the deliveries are durably pending. A replay passes its own
   * name: the events are delivered again, marked with the `replayname` extension, as deliveries of their own (their
   * ledger key carries the replay's name).
   */
  route(records: readonly LogRecord[], matcher: RuleMatcher, replayName?: string): Promise<number> {
    return this.#route(records, matcher, replayName, true);
  }

  async #route(
    records: readonly LogRecord[],
    matcher: RuleMatcher,
    replayName: string | undefined,
    durable: boolean,
  ): Promise<number> {
    const { clock, metrics, dispatcher } = this.#o;
    const now = clock.now();
    const deliveries: PendingDelivery[] = [];
    const traces: TraceEntry[] = [];
    const tracer = this.#o.tracer ?? noopTracer;
    const spans: TraceSpan[] = [];
    let matchedEvents = 0;
    for (const record of records) {
      // A record its log vouches for (`LogRecord.stored`) is matched on its stored attributes and data text: its event
      // is built only when a rule matched (most records match none). A replay changes the event; a span reads it.
      const stored = replayName === undefined && !tracer.enabled ? record.stored : undefined;
      let event: CloudEvent | undefined;
      let rules: Rule[];
      if (stored === undefined) {
        event =
          replayName === undefined ? record.event : withExtension(record.event, 'replayname', replayName);
        rules = matcher.match(event);
      } else rules = matcher.matchStored(stored, () => record.event);
      // The attributes the traces read: the event's, or the same values as stored.
      const head: Readonly<Record<string, unknown>> = event ?? (stored as StoredEvent).attributes;
      const source = head.source as string;
      const eventId = head.id as string;
      if (event !== undefined && tracer.enabled) {
        const parent = eventTraceContext(event);
        const span = tracer.startSpan('route', {
          kind: 'consumer',
          ...(parent === undefined ? {} : { parent }),
          attributes: {
            ...eventSpanAttributes(event),
            'messaging.operation.type': 'process',
            'messaging.consumer.group.name': this.#o.group,
            'messaging.destination.partition.id': String(record.partition),
            'junction.log.offset': record.offset,
            'junction.replay': replayName,
            'junction.rules.matched': rules.length,
            'junction.rules': rules.slice(0, MAX_SPAN_RULES).map((r) => r.name),
          },
        });
        spans.push(span);
        // The deliveries carry the route span's context (kept in the ledger with the event, so that a retry in
        // another process still continues the trace); each attempt's span is its child.
        if (rules.length > 0 && span.context !== undefined) event = withTraceContext(event, span.context);
      }
      metrics.observe('junction_ingest_to_route_seconds', Math.max(0, now - record.timestamp) / 1000);
      const received: Record<string, unknown> = {
        partition: record.partition,
        offset: record.offset,
        acceptedAt: record.timestamp,
      };
      if (typeof head.causationid === 'string') {
        received.causedBy = { source: head.causationsource, id: head.causationid };
      }
      if (typeof head.replayname === 'string') received.replay = head.replayname;
      traces.push({
        source,
        id: eventId,
        at: now,
        kind: replayName === undefined ? 'received' : 'replayed',
        detail: received,
      });
      if (rules.length === 0) {
        traces.push({ source, id: eventId, at: now, kind: 'unmatched' });
        continue;
      }
      event ??= record.event;
      matchedEvents++;
      // A replayed event is a new delivery on purpose: its key carries the replay's name.
      const id = typeof event.replayname === 'string' ? `${event.id}#replay:${event.replayname}` : event.id;
      for (const rule of rules) {
        metrics.inc('junction_rule_matches_total', { rule: rule.name });
        traces.push({
          source: event.source,
          id: event.id,
          at: now,
          kind: 'matched',
          rule: rule.name,
          detail: { targets: rule.targets.map((t) => t.id) },
        });
        for (const target of rule.targets) {
          deliveries.push({
            source: event.source,
            id,
            rule: rule.name,
            target: target.id,
            event,
            position: { partition: record.partition, offset: record.offset },
            createdAt: now,
            dueAt: now + dispatcher.leaseMs,
            attempts: [],
          });
        }
      }
    }
    metrics.inc('junction_events_routed_total', undefined, records.length);
    metrics.inc('junction_events_matched_total', undefined, matchedEvents);
    metrics.inc('junction_events_unmatched_total', undefined, records.length - matchedEvents);
    // Deliveries start as soon as the ledger knows which are new, not after its fsync (see EnqueueOptions).
    const onAdded = (added: readonly boolean[]) => {
      const fresh = deliveries.filter((_, i) => added[i]);
      if (fresh.length > 0) dispatcher.submit(fresh);
    };
    try {
      await Promise.all([
        deliveries.length > 0 ? this.#o.ledger.enqueue(deliveries, { onAdded, durable }) : undefined,
        this.#o.traces.record(traces),
      ]);
    } catch (error) {
      for (const span of spans) span.setError(error instanceof Error ? error.message : String(error));
      throw error;
    } finally {
      for (const span of spans) span.end();
    }
    return deliveries.length;
  }
}
