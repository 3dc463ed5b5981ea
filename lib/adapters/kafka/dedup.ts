/** The dedup store the Kafka log asks before appending (Kafka itself cannot deduplicate by `(source, id)`), and an in-memory one. */
import type { Clock } from '../../ports.ts';
import { systemClock } from '../../ports.ts';

/**
 * Remembers event keys (`source` + `id`) for a window. The Kafka log asks `seen` before appending and calls
 * `remember` after the broker acknowledged. A crash between the two leaves the event unremembered: a retry of
 * it is appended again, and the exactly-once ledger absorbs that duplicate downstream.
 */
export interface DedupStore {
  /** For each key, whether it was remembered and its window has not passed. */
  seen(keys: readonly string[]): Promise<boolean[]>;
  /** Remembers the keys for `windowMs` from now. */
  remember(keys: readonly string[], windowMs: number): Promise<void>;
}

export interface MemoryDedupStoreOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** At most this many keys are kept; the oldest go first beyond it. @default 1000000 */
  readonly maxKeys?: number;
}

/** A DedupStore in this process's memory: right for one process (tests, embedded); not shared, not durable. */
export function createMemoryDedupStore(options: MemoryDedupStoreOptions = {}): DedupStore {
  const clock = options.clock ?? systemClock;
  const maxKeys = options.maxKeys ?? 1_000_000;
  /** key → expiry (ms since the epoch), in insertion order (Map keeps it), so the oldest come first. */
  const expiries = new Map<string, number>();

  function prune(now: number): void {
    for (const [key, expiry] of expiries) {
      if (expiry > now && expiries.size <= maxKeys) break;
      expiries.delete(key);
    }
  }

  return {
    async seen(keys) {
      const now = clock.now();
      return keys.map((key) => (expiries.get(key) ?? 0) > now);
    },
    async remember(keys, windowMs) {
      const now = clock.now();
      for (const key of keys) {
        expiries.delete(key);
        expiries.set(key, now + windowMs);
      }
      prune(now);
    },
  };
}
