/** Ingest: validated events in, durable append, answer. A success means the events are in the log durably. */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { JunctionError, toJunctionError } from '../core/errors.ts';
import { eventTraceContext, type TraceContext, withTraceContext } from '../core/trace-context.ts';
import {
  type AppendResult,
  type EventLog,
  noopTracer,
  type SpanKind,
  type Tracer,
  type TraceSpan,
} from '../ports.ts';
import type { Metrics } from './metrics.ts';
import { eventSpanAttributes } from './spans.ts';

export interface IngestOptions {
  readonly log: EventLog;
  readonly metrics: Metrics;
  /** Idempotent publish: a repeated `(source, id)` within this window is a duplicate. @default 86400000 (24 h) */
  readonly dedupWindowMs?: number;
  /** Starts an `ingest` span per event and stamps the event with its trace context. @default no tracing */
  readonly tracer?: Tracer;
}

/** Where a publish comes from, for its `ingest` spans. */
export interface PublishOptions {
  /**
   * The caller's trace context (an HTTP request's `traceparent` header, a function's `deliver` span): the parent of
   * the `ingest` span of each event that carries no valid context of its own (the CloudEvents extension wins).
   */
  readonly parent?: TraceContext;
  /** The `ingest` span's kind: `server` for a producer's request, `producer` for events the bus itself publishes. */
  readonly kind?: SpanKind;
}

export const DEFAULT_DEDUP_WINDOW_MS = 86_400_000;

export interface Ingest {
  /**
   * Appends already validated events durably and answers per event, in order. Rejects with a retriable
   * `BufferUnavailable` (HTTP 503) when the log cannot take them: then nothing of the call was accepted.
   */
  publish(events: readonly CloudEvent[], options?: PublishOptions): Promise<AppendResult[]>;
}

export function createIngest(options: IngestOptions): Ingest {
  const { log, metrics } = options;
  const dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
  const tracer = options.tracer ?? noopTracer;
  metrics.declare('junction_events_in_total', 'counter', 'Events accepted into the log.');
  metrics.declare(
    'junction_events_duplicate_total',
    'counter',
    'Events answered as duplicates (idempotent publish).',
  );
  return {
    async publish(input, publishOptions = {}) {
      if (input.length === 0) return [];
      let events = input;
      let spans: TraceSpan[] | undefined;
      if (tracer.enabled) {
        // Each event continues its own trace (the extension), else the caller's, else starts one; the event then
        // carries its `ingest` span's context, so that routing and delivery continue the trace (in any process).
        spans = [];
        const traced: CloudEvent[] = [];
        for (const event of input) {
          const span = tracer.startSpan('ingest', {
            kind: publishOptions.kind ?? 'server',
            ...withParent(eventTraceContext(event) ?? publishOptions.parent),
            attributes: { ...eventSpanAttributes(event), 'messaging.operation.type': 'receive' },
          });
          spans.push(span);
          traced.push(span.context === undefined ? event : withTraceContext(event, span.context));
        }
        events = traced;
      }
      let results: AppendResult[];
      try {
        results = await log.append(events, { dedupWindowMs });
      } catch (error) {
        if (spans !== undefined) {
          for (const span of spans) {
            span.setError(toJunctionError(error).message);
            span.end();
          }
        }
        const e = toJunctionError(error);
        if (e.code === 'BufferUnavailable') throw e;
        throw new JunctionError(
          'BufferUnavailable',
          `the event log did not accept the events: ${e.message}`,
          {
            retriable: true,
            cause: error,
          },
        );
      }
      let duplicates = 0;
      for (const r of results) if (r.duplicate) duplicates++;
      if (spans !== undefined) {
        spans.forEach((span, i) => {
          const r = results[i];
          span.setAttributes({
            'junction.duplicate': r?.duplicate ?? false,
            'messaging.destination.partition.id':
              r?.position === undefined ? undefined : String(r.position.partition),
            'junction.log.offset': r?.position?.offset,
          });
          span.end();
        });
      }
      metrics.inc('junction_events_in_total', undefined, results.length - duplicates);
      if (duplicates > 0) metrics.inc('junction_events_duplicate_total', undefined, duplicates);
      return results;
    },
  };
}

function withParent(parent: TraceContext | undefined): { parent?: TraceContext } {
  return parent === undefined ? {} : { parent };
}
