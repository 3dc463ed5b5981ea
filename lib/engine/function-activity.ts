/**
 * What each user function did lately (issue #17, the console's Functions page): invocations, failures by error code,
 * duration percentiles and the last log lines, kept in memory by the process that runs the functions (the embedded
 * bus). Bounded: `maxFunctions` functions (the least recently active forgotten first), `maxLines` lines of at most
 * `maxLineBytes` each per function, and `maxDurations` recent durations per function for the percentiles.
 */

export interface FunctionActivityLimits {
  readonly maxFunctions: number;
  readonly maxLines: number;
  readonly maxLineBytes: number;
  readonly maxDurations: number;
}

export const DEFAULT_FUNCTION_ACTIVITY_LIMITS: FunctionActivityLimits = {
  maxFunctions: 1_000,
  maxLines: 200,
  maxLineBytes: 2_048,
  maxDurations: 1_000,
};

export interface LogLine {
  /** When the line was written, ms since the epoch. */
  readonly at: number;
  readonly line: string;
}

export interface FunctionActivitySnapshot {
  /** Invocations that ended (succeeded or failed) since the process started. */
  readonly invocations: number;
  readonly failures: number;
  /** Failures by error code (`FunctionError`, `FunctionTimeout`, …). */
  readonly failuresByCode: Readonly<Record<string, number>>;
  /** Percentiles of the recent invocations' durations (ms), absent before the first. */
  readonly durationMs?: { readonly p50: number; readonly p99: number; readonly max: number };
  /** When the last invocation ended, ms since the epoch. */
  readonly lastInvokedAt?: number;
  /** The last log lines, oldest first. */
  readonly logs: readonly LogLine[];
  /** Lines dropped for the bound since the process started (the oldest go first). */
  readonly droppedLines: number;
}

interface Entry {
  invocations: number;
  failures: number;
  failuresByCode: Record<string, number>;
  durations: number[];
  /** Where the next duration goes once `durations` is full. */
  nextDuration: number;
  lastInvokedAt?: number;
  logs: LogLine[];
  droppedLines: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export class FunctionActivity {
  readonly #limits: FunctionActivityLimits;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(limits: Partial<FunctionActivityLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_FUNCTION_ACTIVITY_LIMITS, ...limits };
    this.#now = now;
  }

  /** An invocation ended, after `durationMs`, with `errorCode` when it failed. */
  invoked(fn: string, durationMs: number, errorCode?: string): void {
    const entry = this.#entry(fn);
    entry.invocations += 1;
    entry.lastInvokedAt = this.#now();
    if (errorCode !== undefined) {
      entry.failures += 1;
      entry.failuresByCode[errorCode] = (entry.failuresByCode[errorCode] ?? 0) + 1;
    }
    if (entry.durations.length < this.#limits.maxDurations) entry.durations.push(durationMs);
    else {
      entry.durations[entry.nextDuration] = durationMs;
      entry.nextDuration = (entry.nextDuration + 1) % this.#limits.maxDurations;
    }
  }

  /** A line the function wrote (stdout or stderr), cut to `maxLineBytes`. */
  log(fn: string, line: string): void {
    const entry = this.#entry(fn);
    const max = this.#limits.maxLineBytes;
    const text = line.length > max ? `${line.slice(0, max)}… (${line.length - max} more characters)` : line;
    entry.logs.push({ at: this.#now(), line: text });
    if (entry.logs.length > this.#limits.maxLines) {
      entry.logs.splice(0, entry.logs.length - this.#limits.maxLines);
      entry.droppedLines += 1;
    }
  }

  /** What `fn` did lately (all zero when nothing yet). */
  snapshot(fn: string): FunctionActivitySnapshot {
    const entry = this.#entries.get(fn);
    if (entry === undefined) {
      return { invocations: 0, failures: 0, failuresByCode: {}, logs: [], droppedLines: 0 };
    }
    const sorted = [...entry.durations].sort((a, b) => a - b);
    return {
      invocations: entry.invocations,
      failures: entry.failures,
      failuresByCode: { ...entry.failuresByCode },
      ...(sorted.length === 0
        ? {}
        : {
            durationMs: {
              p50: percentile(sorted, 50),
              p99: percentile(sorted, 99),
              max: sorted[sorted.length - 1] as number,
            },
          }),
      ...(entry.lastInvokedAt === undefined ? {} : { lastInvokedAt: entry.lastInvokedAt }),
      logs: [...entry.logs],
      droppedLines: entry.droppedLines,
    };
  }

  /** Forgets a function (deleted). */
  forget(fn: string): void {
    this.#entries.delete(fn);
  }

  #entry(fn: string): Entry {
    let entry = this.#entries.get(fn);
    if (entry !== undefined) {
      // Re-inserted: the map stays in least-recently-active order.
      this.#entries.delete(fn);
      this.#entries.set(fn, entry);
      return entry;
    }
    entry = {
      invocations: 0,
      failures: 0,
      failuresByCode: {},
      durations: [],
      nextDuration: 0,
      logs: [],
      droppedLines: 0,
    };
    this.#entries.set(fn, entry);
    if (this.#entries.size > this.#limits.maxFunctions) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    return entry;
  }
}
