/**
 * The dedup keys of short windows, held in memory instead of `log_dedup` rows (docs/delivery.md, "Idempotent
 * publish"). A row of `log_dedup` is a write on a random page of its index for every random id (≈ 13 µs of CPU an
 * event, docs/benchmarks.md); a key here costs ≈ 120 bytes for as long as its window lasts.
 *
 * Two generations of a `Map`, rotated by time: a key set at `t` stays until at least `t + spanMs`, at most until
 * `t + 2 × spanMs`. What a key maps to is a hint, never an answer: the log checks the record it names before it
 * calls an event a duplicate, so a key whose write rolled back, or whose record retention deleted, refuses nothing.
 */

/** Windows up to this long keep their keys in memory; longer ones keep them in `log_dedup`. */
export const MEMORY_DEDUP_MAX_WINDOW_MS = 10 * 60_000;
/** Keys held in memory by one log, at most (≈ 120 MB); appends past it keep their keys in `log_dedup`. */
export const MEMORY_DEDUP_MAX_KEYS = 1_000_000;

export class RecentKeys {
  readonly maxKeys: number;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();
  #rotatedAt = Number.NEGATIVE_INFINITY;
  #spanMs = 0;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  /** How long a key is kept at least: the longest window asked for (0 until one is). */
  get spanMs(): number {
    return this.#spanMs;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Keeps keys for `windowMs` at least from now on; answers whether that is longer than before. */
  cover(windowMs: number): boolean {
    if (windowMs <= this.#spanMs) return false;
    this.#spanMs = windowMs;
    return true;
  }

  /** What `source` and `id` were last set to, if kept. */
  get(source: string, id: string): number | undefined {
    const key = `${source.length}:${source}${id}`;
    return this.#current.get(key) ?? this.#previous.get(key);
  }

  /** Keeps `value` for `source` and `id`, first dropping the older generation when a span has passed since the last rotation. */
  set(source: string, id: string, value: number, now: number): void {
    if (now - this.#rotatedAt >= this.#spanMs) {
      this.#previous = this.#current;
      this.#current = new Map();
      this.#rotatedAt = now;
    }
    const key = keyOf(source, id);
    this.#previous.delete(key);
    this.#current.set(key, value);
  }

  clear(): void {
    this.#current = new Map();
    this.#previous = new Map();
    this.#rotatedAt = Number.NEGATIVE_INFINITY;
  }
}

/**
 * One string for a source and an id, unambiguous (the source's length first) and flat: an id the codec read is a
 * slice of the request's text and would keep all of it alive for as long as the key is kept (≈ 730 bytes a key in
 * place of ≈ 120 in a test of 100-event batches). Slicing a concatenation copies it into a string of its own.
 */
export function keyOf(source: string, id: string): string {
  return ` ${source.length}:${source}${id}`.slice(1);
}
