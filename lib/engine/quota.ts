/**
 * Per-source ingest quotas: a token bucket per event source, so that one source flooding the bus is answered 429
 * (with `Retry-After`) while the others are still accepted.
 */
import { JunctionError } from '../core/errors.ts';
import type { Clock } from '../ports.ts';

export interface QuotaOptions {
  /** Sustained events per second each source may publish. */
  readonly eventsPerSecond: number;
  /** Events a source may publish at once after being idle. @default eventsPerSecond */
  readonly burst?: number;
  /** At most this many sources are tracked; the least recently seen are forgotten first. @default 100000 */
  readonly maxSources?: number;
  /** What a key is, in the 429's message and `field`. @default a source: `source "<key>"`, field `source` */
  readonly subject?: { readonly describe: (key: string) => string; readonly field?: string };
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class SourceQuota {
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #clock: Clock;
  readonly #subject: NonNullable<QuotaOptions['subject']>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: QuotaOptions, clock: Clock) {
    if (!(options.eventsPerSecond > 0)) {
      throw new JunctionError(
        'InvalidRequest',
        `quota eventsPerSecond must be > 0, got ${options.eventsPerSecond}`,
        {
          field: 'eventsPerSecond',
        },
      );
    }
    this.#rate = options.eventsPerSecond;
    this.#burst = Math.max(1, options.burst ?? options.eventsPerSecond);
    this.#maxSources = options.maxSources ?? 100_000;
    this.#clock = clock;
    this.#subject = options.subject ?? {
      describe: (key) => `source ${JSON.stringify(key)}`,
      field: 'source',
    };
  }

  /** Takes one token for each event's source; answers, per event, undefined (admitted) or the 429 error. */
  admit(sources: readonly string[]): Array<JunctionError | undefined> {
    const now = this.#clock.now();
    return sources.map((source) => {
      let bucket = this.#buckets.get(source);
      if (bucket === undefined) {
        bucket = { tokens: this.#burst, updatedAt: now };
        if (this.#buckets.size >= this.#maxSources) {
          const oldest = this.#buckets.keys().next().value;
          if (oldest !== undefined) this.#buckets.delete(oldest);
        }
      } else {
        this.#buckets.delete(source); // re-inserted below: the map stays in least-recently-seen order
        bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.#rate);
        bucket.updatedAt = now;
      }
      this.#buckets.set(source, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return undefined;
      }
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate));
      return new JunctionError(
        'RateLimited',
        `${this.#subject.describe(source)} is over its quota of ${this.#rate} events/s (burst ${this.#burst}); retry in ${retryAfterSeconds} s`,
        {
          ...(this.#subject.field === undefined ? {} : { field: this.#subject.field }),
          retriable: true,
          details: { retryAfterSeconds },
          stack: false,
        },
      );
    });
  }
}
