/**
 * Searching the recent events the log retains (issue #17, the console's Events page and its pattern editor): newest
 * first, by source, type, id and time, over a bounded scan of the newest records of each partition.
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { invalidRequest } from '../core/errors.ts';
import type { EventLog, LogRecord } from '../ports.ts';

export interface EventQuery {
  readonly source?: string;
  readonly type?: string;
  readonly id?: string;
  /** Epoch ms, inclusive. */
  readonly from?: number;
  /** Epoch ms, exclusive. */
  readonly to?: number;
  /** At most this many events (1–100). */
  readonly limit: number;
}

export interface FoundEvent {
  readonly event: CloudEvent;
  readonly partition: number;
  readonly offset: number;
  /** When the log accepted it (RFC 3339). */
  readonly acceptedAt: string;
}

export interface EventSearchResult {
  readonly events: FoundEvent[];
  /** Log records looked at. */
  readonly scanned: number;
  /** The scan stopped at its bound before the start of the range: older matches may exist. */
  readonly truncated?: true;
}

/** The most events one search answers. */
export const MAX_EVENT_SEARCH_LIMIT = 100;
/** The most log records one search reads, across partitions: a search costs at most this much. */
export const EVENT_SEARCH_SCAN = 10_000;
const PAGE = 500;

/**
 * Reads each partition backwards from its end (or from `to`) down to `from` (or the oldest retained record), at most
 * `EVENT_SEARCH_SCAN` records in all, and answers the matching events newest first.
 */
export async function searchEvents(log: EventLog, query: EventQuery): Promise<EventSearchResult> {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_EVENT_SEARCH_LIMIT) {
    throw invalidRequest(`query parameter limit must be from 1 to ${MAX_EVENT_SEARCH_LIMIT}`, 'limit');
  }
  if (query.from !== undefined && query.to !== undefined && query.to <= query.from) {
    throw invalidRequest('query parameter to must be after from', 'to');
  }
  const [starts, ends] = await Promise.all([
    log.offsetsForTime(query.from ?? 0),
    query.to === undefined ? log.endOffsets() : log.offsetsForTime(query.to),
  ]);
  const budget = Math.max(1, Math.floor(EVENT_SEARCH_SCAN / Math.max(1, starts.length)));
  const found: LogRecord[] = [];
  let scanned = 0;
  let truncated = false;
  for (const start of starts) {
    const end = ends.find((e) => e.partition === start.partition)?.offset ?? start.offset;
    let cursor = end;
    let taken = 0;
    let matched = 0;
    while (cursor > start.offset && matched < query.limit) {
      if (taken >= budget) {
        truncated = true;
        break;
      }
      const from = Math.max(start.offset, cursor - Math.min(PAGE, budget - taken));
      const records = await log.read(start.partition, from, cursor - from);
      taken += cursor - from;
      scanned += records.length;
      for (let i = records.length - 1; i >= 0; i--) {
        const r = records[i] as LogRecord;
        if (r.offset >= cursor || !matches(r, query)) continue;
        found.push(r);
        matched++;
      }
      cursor = from;
    }
  }
  found.sort((a, b) => b.timestamp - a.timestamp || b.offset - a.offset);
  return {
    events: found.slice(0, query.limit).map((r) => ({
      event: r.event,
      partition: r.partition,
      offset: r.offset,
      acceptedAt: new Date(r.timestamp).toISOString(),
    })),
    scanned,
    ...(truncated ? { truncated: true as const } : {}),
  };
}

function matches(record: LogRecord, query: EventQuery): boolean {
  const { event } = record;
  if (query.source !== undefined && event.source !== query.source) return false;
  if (query.type !== undefined && event.type !== query.type) return false;
  if (query.id !== undefined && event.id !== query.id) return false;
  if (query.from !== undefined && record.timestamp < query.from) return false;
  if (query.to !== undefined && record.timestamp >= query.to) return false;
  return true;
}
