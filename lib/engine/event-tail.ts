/**
 * A live tail of the log (issue #17, the console's Events page): the events the log accepts from now on (or from a
 * cursor), filtered by an event pattern and/or a CESQL filter, as server-sent events (`text/event-stream`).
 *
 * The tail reads the log like any reader (`endOffsets`, `read`), so it sees every event of the bus whoever appended
 * it (producers, functions, forwarded events, connectors, other processes on a shared Kafka log). Its cost is bounded:
 * at most `maxTails` tails per bus at once, one page of `pageSize` records per partition per read, and a tail that
 * falls more than `maxLag` records behind on a partition skips ahead (and says how many it skipped) instead of
 * queueing — a tail is for watching, not for consuming (use a rule and a target for that).
 */
import { invalidRequest, JunctionError } from '../core/errors.ts';
import type { Rule } from '../core/rule-types.ts';
import type { EventLog, LogRecord } from '../ports.ts';
import { RuleMatcher } from './rule-matcher.ts';

export interface TailQuery {
  /** An event pattern's JSON text (EventBridge or CloudEvents vocabulary). */
  readonly pattern?: string;
  /** A CloudEvents SQL filter. */
  readonly filter?: string;
  /** Where to go on from: the `id` of the last frame received (`Last-Event-ID`). @default the log's end */
  readonly cursor?: string;
}

export interface TailLimits {
  /** How often the log is looked at when the tail has caught up. @default 250 ms */
  readonly pollMs: number;
  /** A comment line after this long without a frame, so that proxies and idle timers keep the stream. @default 15 s */
  readonly keepAliveMs: number;
  /** Records read from a partition at a time. @default 500 */
  readonly pageSize: number;
  /** A tail further behind than this on a partition skips ahead to this far behind. @default 2,000 */
  readonly maxLag: number;
  /** Tails open at once on one bus; more are refused with 429. @default 16 */
  readonly maxTails: number;
}

export const DEFAULT_TAIL_LIMITS: TailLimits = {
  pollMs: 250,
  keepAliveMs: 15_000,
  pageSize: 500,
  maxLag: 2_000,
  maxTails: 16,
};

/** The longest `Last-Event-ID` read: a cursor is one offset per partition. */
const MAX_CURSOR_LENGTH = 4_096;

/** A stream of SSE text, ended by the signal. */
export type TailStream = (signal: AbortSignal) => AsyncIterable<string>;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Reads a cursor (`12.40.0.7`: the next offset of each partition, in partition order). */
function parseCursor(text: string, partitions: number): number[] {
  const bad = () =>
    invalidRequest(
      `Last-Event-ID must be the id of a frame of this tail (${partitions} offsets joined by "."), got ${JSON.stringify(text.slice(0, 80))}`,
      'Last-Event-ID',
    );
  if (text.length > MAX_CURSOR_LENGTH) throw bad();
  const parts = text.split('.');
  if (parts.length !== partitions) throw bad();
  return parts.map((part) => {
    if (!/^\d{1,15}$/.test(part)) throw bad();
    return Number(part);
  });
}

/** The tails of one bus's log. */
export class EventTails {
  readonly #log: EventLog;
  readonly #limits: TailLimits;
  #open = 0;

  constructor(log: EventLog, limits: Partial<TailLimits> = {}) {
    this.#log = log;
    this.#limits = { ...DEFAULT_TAIL_LIMITS, ...limits };
  }

  /** Tails open now. */
  get open(): number {
    return this.#open;
  }

  /**
   * Validates the query (a 400 naming the field) and the number of tails (429), then answers the stream. Nothing is
   * read from the log before the stream is iterated.
   */
  tail(query: TailQuery): TailStream {
    const matcher = new RuleMatcher();
    if (query.pattern !== undefined || query.filter !== undefined) {
      const rule: Rule = {
        name: 'tail',
        enabled: true,
        ...(query.pattern === undefined ? {} : { pattern: {}, patternText: query.pattern }),
        ...(query.filter === undefined ? {} : { filter: query.filter }),
        targets: [],
        createdAt: 0,
        updatedAt: 0,
      };
      try {
        matcher.set(rule);
      } catch (error) {
        if (error instanceof JunctionError && error.status === 400) {
          // The query parameter at fault, beside the path into the pattern the compiler named.
          throw new JunctionError(error.code, error.message, {
            field: error.code === 'InvalidPattern' ? 'pattern' : 'filter',
            ...(error.path === undefined ? {} : { path: error.path }),
          });
        }
        throw error;
      }
    }
    const matches = (record: LogRecord) => matcher.size === 0 || matcher.match(record.event).length > 0;
    const start = query.cursor === undefined ? undefined : parseCursor(query.cursor, this.#log.partitions);
    if (this.#open >= this.#limits.maxTails) {
      throw new JunctionError(
        'RateLimited',
        `this bus has ${this.#limits.maxTails} live tails open, the most it serves at once; close one or retry later`,
        { retriable: true, details: { retryAfterSeconds: 5 } },
      );
    }
    return (signal) => this.#run(matches, start, signal);
  }

  async *#run(
    matches: (record: LogRecord) => boolean,
    start: number[] | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<string> {
    const log = this.#log;
    const { pollMs, keepAliveMs, pageSize, maxLag } = this.#limits;
    this.#open += 1;
    try {
      // The client reconnects after 3 s (EventSource's `retry`), sending the last frame's id as Last-Event-ID.
      yield 'retry: 3000\n: tailing\n\n';
      const cursor = start ?? offsetsOf(await log.endOffsets(), log.partitions);
      const id = () => cursor.join('.');
      let quietSince = Date.now();
      while (!signal.aborted) {
        const ends = offsetsOf(await log.endOffsets(), log.partitions);
        let out = '';
        let more = false;
        for (let partition = 0; partition < log.partitions && !signal.aborted; partition++) {
          const end = ends[partition] as number;
          let from = cursor[partition] as number;
          if (from > end) from = cursor[partition] = end; // a cursor from another log (or before a reset)
          if (end - from > maxLag) {
            const skipped = end - maxLag - from;
            from = cursor[partition] = end - maxLag;
            out += `id: ${id()}\nevent: skipped\ndata: ${JSON.stringify({ partition, skipped })}\n\n`;
          }
          if (from >= end) continue;
          const records = await log.read(partition, from, pageSize);
          for (const record of records) {
            cursor[partition] = record.offset + 1;
            if (!matches(record)) continue;
            const frame = {
              event: record.event,
              partition: record.partition,
              offset: record.offset,
              acceptedAt: new Date(record.timestamp).toISOString(),
            };
            out += `id: ${id()}\nevent: cloudevent\ndata: ${JSON.stringify(frame)}\n\n`;
          }
          if (records.length === pageSize) more = true;
        }
        if (out !== '') {
          yield out;
          quietSince = Date.now();
        } else if (Date.now() - quietSince >= keepAliveMs) {
          yield ': keep-alive\n\n';
          quietSince = Date.now();
        }
        if (!more) await sleep(pollMs, signal);
      }
      // Where the tail stands when its window ends (a transport that answers once ends the stream after a while):
      // the client goes on from there. A block with an id and no data moves EventSource's Last-Event-ID too.
      yield `id: ${id()}\n: the window ends, go on from this id\n\n`;
    } catch (error) {
      // The log failed or closed (the bus is stopping or was deleted): say so, and end; the client reconnects.
      const e =
        error instanceof JunctionError
          ? error
          : new JunctionError('BufferUnavailable', 'the log cannot be read');
      yield `event: error\ndata: ${JSON.stringify(e.toJSON())}\n\n`;
    } finally {
      this.#open -= 1;
    }
  }
}

/** Each partition's offset, indexed by partition. */
function offsetsOf(
  positions: readonly { partition: number; offset: number }[],
  partitions: number,
): number[] {
  const out = new Array<number>(partitions).fill(0);
  for (const { partition, offset } of positions) out[partition] = offset;
  return out;
}
