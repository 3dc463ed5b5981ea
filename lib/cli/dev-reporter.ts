/**
 * What `junction dev` prints while it runs: failing deliveries (one line per target per interval, not per
 * attempt), dead letters, and a short summary when something happened — nothing when idle. Fed trace entries.
 * With `format: 'json'` it writes one JSON object per line instead, for a log pipeline: every accepted batch, failed
 * attempt, function error and dead letter with its event's source and id (docs/operations.md#json-logs).
 */
import type { Clock, TraceEntry } from '../ports.ts';
import { systemClock } from '../ports.ts';

export interface DevReporterOptions {
  /** Receives each line (without a newline). */
  readonly write: (line: string) => void;
  /** `text` for a person at a terminal, `json` for one JSON object per line. @default 'text' */
  readonly format?: 'text' | 'json';
  /** How often the summary is printed (when anything happened since the last one). @default 30000 */
  readonly summaryMs?: number;
  /** At most one failure line, and one dead-letter line, per target per this interval. @default 10000 */
  readonly lineEveryMs?: number;
  readonly clock?: Clock;
  /** Runs `tick` every `ms`; answers how to stop. @default setInterval, unref'd */
  readonly every?: (ms: number, tick: () => void) => () => void;
}

export interface DevReporter {
  /** Feeds the entries a bus traced (the embedded bus's `onTrace`, with the bus's name). */
  observe(entries: readonly TraceEntry[], bus?: string): void;
  /** Prints what is pending (a last summary) and stops the timer. */
  close(): void;
}

interface Limited {
  last: number;
  /** Occurrences not printed since the last line. */
  quiet: number;
}

const MAX_TEXT = 160;
/** How many events of an accepted batch a JSON line names (`more` counts the rest). */
const MAX_LISTED = 10;
/** The longest error or reason a JSON line carries. */
const MAX_JSON_TEXT = 1000;

function short(text: string): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length > MAX_TEXT ? `${line.slice(0, MAX_TEXT - 1)}…` : line;
}

function defaultEvery(ms: number, tick: () => void): () => void {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
}

export function createDevReporter(options: DevReporterOptions): DevReporter {
  const { write } = options;
  const clock = options.clock ?? systemClock;
  const summaryMs = options.summaryMs ?? 30_000;
  const lineEveryMs = options.lineEveryMs ?? 10_000;
  const json = options.format === 'json';
  const counts = { accepted: 0, delivered: 0, retrying: 0, deadLettered: 0, failed: 0 };
  const failing = new Map<string, Limited>();
  const dead = new Map<string, Limited>();

  /** Whether a line about `key` may be printed now; counts it as quiet otherwise. Answers the quiet count. */
  function gate(map: Map<string, Limited>, key: string, now: number): number | undefined {
    const state = map.get(key);
    if (state !== undefined && now - state.last < lineEveryMs) {
      state.quiet++;
      return undefined;
    }
    if (map.size > 10_000) map.clear(); // bounded: targets come and go
    const quiet = state?.quiet ?? 0;
    map.set(key, { last: now, quiet: 0 });
    return quiet;
  }

  function more(quiet: number, what: string): string {
    return quiet === 0 ? '' : ` (+${quiet} more ${what} since the last line)`;
  }

  let since = clock.now();

  function summary(): void {
    const { accepted, delivered, retrying, deadLettered, failed } = counts;
    const now = clock.now();
    const seconds = Math.max(1, Math.round((now - since) / 1000));
    since = now;
    if (accepted + delivered + retrying + deadLettered + failed === 0) return;
    if (json)
      write(
        JSON.stringify({
          time: new Date(now).toISOString(),
          level: 'info',
          event: 'summary',
          seconds,
          accepted,
          delivered,
          failed,
          retrying,
          deadLettered,
        }),
      );
    else
      write(
        `last ${seconds} s: ${accepted} accepted, ${delivered} delivered, ${retrying} retrying, ` +
          `${deadLettered} dead-lettered`,
      );
    counts.accepted = counts.delivered = counts.retrying = counts.deadLettered = counts.failed = 0;
  }

  const stop = (options.every ?? defaultEvery)(summaryMs, summary);

  /** The JSON lines of one write of trace entries: an accepted batch, failed attempts, dead letters. */
  function logJson(entries: readonly TraceEntry[], bus: string | undefined): void {
    const time = new Date(clock.now()).toISOString();
    const base = (level: string, event: string) => ({
      time,
      level,
      event,
      ...(bus === undefined ? {} : { bus }),
    });
    const received = entries.filter((e) => e.kind === 'received');
    if (received.length > 0) {
      write(
        JSON.stringify({
          ...base('info', 'accepted'),
          count: received.length,
          events: received.slice(0, MAX_LISTED).map((e) => ({ source: e.source, id: e.id })),
          ...(received.length > MAX_LISTED ? { more: received.length - MAX_LISTED } : {}),
        }),
      );
    }
    for (const entry of entries) {
      const where = { source: entry.source, id: entry.id, rule: entry.rule, target: entry.target };
      if (entry.kind === 'attempt' && entry.detail?.outcome === 'failed') {
        const error = String(entry.detail?.error ?? 'failed').slice(0, MAX_JSON_TEXT);
        const code = /^([A-Z][A-Za-z]+): /.exec(error)?.[1];
        const fn = code?.startsWith('Function') === true;
        write(
          JSON.stringify({
            ...base(fn ? 'error' : 'warn', fn ? 'function-error' : 'delivery-failed'),
            ...where,
            attempt: entry.detail?.number,
            ...(code === undefined ? {} : { code }),
            error,
          }),
        );
      } else if (entry.kind === 'dead-lettered') {
        write(
          JSON.stringify({
            ...base('error', 'dead-lettered'),
            ...where,
            dlId: entry.detail?.dlId,
            attempts: entry.detail?.attempts,
            reason: String(entry.detail?.reason ?? '').slice(0, MAX_JSON_TEXT),
          }),
        );
      }
    }
  }

  return {
    observe(entries, bus) {
      if (json) logJson(entries, bus);
      const now = clock.now();
      for (const entry of entries) {
        const where = `${entry.rule ?? '?'}/${entry.target ?? '?'}`;
        switch (entry.kind) {
          case 'received':
            counts.accepted++;
            break;
          case 'delivered':
            counts.delivered++;
            break;
          case 'retry-scheduled':
            counts.retrying++;
            break;
          case 'attempt': {
            if (entry.detail?.outcome !== 'failed') break;
            counts.failed++;
            if (json) break;
            const quiet = gate(failing, where, now);
            if (quiet === undefined) break;
            write(
              `delivery failing: ${where}: ${short(String(entry.detail?.error ?? 'failed'))}` +
                more(quiet, 'failures'),
            );
            break;
          }
          case 'dead-lettered': {
            counts.deadLettered++;
            if (json) break;
            const quiet = gate(dead, where, now);
            if (quiet === undefined) break;
            write(
              `dead letter: ${where}: event ${entry.source} ${entry.id}: ${short(String(entry.detail?.reason ?? ''))}` +
                more(quiet, 'dead letters') +
                ' — `junction dead-letters list`',
            );
            break;
          }
          default:
            break;
        }
      }
    },
    close() {
      stop();
      summary();
    },
  };
}
