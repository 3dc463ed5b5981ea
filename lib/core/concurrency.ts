/**
 * An AIMD concurrency limit for one delivery lane: it grows by one per round of fast successes and halves on
 * overload (a timeout, 429, 503, any retriable failure, or latency well above the target's baseline), never below 1
 * nor above the target's `maxConcurrency`. Pure: the caller gives it every outcome with the attempt's start time.
 */

export interface AimdOptions {
  /** The limit never goes above this (the target's `maxConcurrency`). */
  readonly max: number;
  /** The limit to start at (clamped to 1…max). */
  readonly initial: number;
  /**
   * A success slower than `baseline × latencyFactor + latencySlackMs` counts as overload. The baseline is the
   * fastest recent answer; it drifts up slowly with fast ones, and follows slow ones once the limit is down to 1
   * (so a target that became slower for good is re-learnt, at its own pace). @default 4
   */
  readonly latencyFactor?: number;
  /** @default 50 */
  readonly latencySlackMs?: number;
}

/** What an attempt came to, as far as the target's load is concerned. */
export type AimdOutcome =
  /** Answered in time (a 2xx, or a final refusal such as 400: the target is healthy). */
  | 'ok'
  /** Timed out, refused the connection, or answered 408, 429 or 5xx. */
  | 'overload';

export class AimdLimit {
  readonly #max: number;
  readonly #factor: number;
  readonly #slack: number;
  #limit: number;
  #baseline = Number.POSITIVE_INFINITY;
  /** Successes since the limit last changed. */
  #streak = 0;
  /** When the limit was last halved: outcomes of attempts started before then say nothing new. */
  #cutAt = Number.NEGATIVE_INFINITY;

  constructor(options: AimdOptions) {
    this.#max = Math.max(1, Math.floor(options.max));
    this.#limit = Math.min(this.#max, Math.max(1, Math.floor(options.initial)));
    this.#factor = options.latencyFactor ?? 4;
    this.#slack = options.latencySlackMs ?? 50;
  }

  /** How many attempts may run at once now. */
  get limit(): number {
    return this.#limit;
  }

  /** The latency below which a success counts as fast (Infinity until the first success). */
  get threshold(): number {
    return this.#baseline * this.#factor + this.#slack;
  }

  /**
   * Takes one attempt's outcome: `startedAt` and `now` are on the same clock (ms). `full` says whether the lane was
   * using its whole limit when the attempt started: a lane with room to spare gains nothing by a higher limit, so
   * only full lanes grow. Answers the new limit.
   */
  record(outcome: AimdOutcome, startedAt: number, now: number, full = true): number {
    const latency = Math.max(0, now - startedAt);
    const slow = outcome === 'ok' && latency > this.threshold;
    if (outcome === 'ok') {
      if (!slow) {
        // The baseline follows the fastest answers at once and other fast ones slowly.
        this.#baseline =
          latency < this.#baseline || this.#baseline === Number.POSITIVE_INFINITY
            ? latency
            : this.#baseline + (latency - this.#baseline) * 0.01;
      } else if (this.#limit === 1) {
        // One at a time, a slow answer is the target's own pace, not load we add: re-learn the baseline from it.
        this.#baseline += (latency - this.#baseline) * 0.1;
        return this.#limit;
      }
    }
    if (outcome === 'overload' || slow) {
      // One cut per round trip: attempts already running when the limit was cut were sent under the old one.
      if (startedAt >= this.#cutAt) {
        this.#limit = Math.max(1, Math.floor(this.#limit / 2));
        this.#cutAt = now;
        this.#streak = 0;
      }
      return this.#limit;
    }
    if (!full) return this.#limit;
    this.#streak++;
    // One more per round of `limit` fast successes: linear growth per round trip, as TCP's congestion avoidance.
    if (this.#streak >= this.#limit && this.#limit < this.#max) {
      this.#limit++;
      this.#streak = 0;
    }
    return this.#limit;
  }
}
