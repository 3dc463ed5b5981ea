/** Ingest: validated events in, durable append, answer. A success means the events are in the log durably. */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { JunctionError, toJunctionError } from '../core/errors.ts';
import type { AppendResult, EventLog } from '../ports.ts';
import type { Metrics } from './metrics.ts';

export interface IngestOptions {
  readonly log: EventLog;
  readonly metrics: Metrics;
  /** Idempotent publish: a repeated `(source, id)` within this window is a duplicate. @default 86400000 (24 h) */
  readonly dedupWindowMs?: number;
}

export const DEFAULT_DEDUP_WINDOW_MS = 86_400_000;

export interface Ingest {
  /**
   * Appends already validated events durably and answers per event, in order. Rejects with a retriable
   * `BufferUnavailable` (HTTP 503) when the log cannot take them: then nothing of the call was accepted.
   */
  publish(events: readonly CloudEvent[]): Promise<AppendResult[]>;
}

export function createIngest(options: IngestOptions): Ingest {
  const { log, metrics } = options;
  const dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
  metrics.declare('junction_events_in_total', 'counter', 'Events accepted into the log.');
  metrics.declare(
    'junction_events_duplicate_total',
    'counter',
    'Events answered as duplicates (idempotent publish).',
  );
  return {
    async publish(events) {
      if (events.length === 0) return [];
      let results: AppendResult[];
      try {
        results = await log.append(events, { dedupWindowMs });
      } catch (error) {
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
      metrics.inc('junction_events_in_total', undefined, results.length - duplicates);
      if (duplicates > 0) metrics.inc('junction_events_duplicate_total', undefined, duplicates);
      return results;
    },
  };
}
