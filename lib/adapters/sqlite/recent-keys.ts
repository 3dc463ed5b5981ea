/**
 * The dedup keys of short windows, held in memory instead of `log_dedup` rows (docs/delivery.md, "Idempotent
 * publish"). A row of `log_dedup` is a write on a random page of its index for every random id (≈ 13 µs of CPU an
 * event, docs/benchmarks.md); a key here costs 21–43 bytes for as long as its window lasts.
 *
 * A key is a 64-bit hash of its source and id, in an open-addressing table of typed arrays (a `Map` keyed by the
 * text took ≈ 120 bytes a key, and a key sliced from a request kept the whole request alive). Two generations,
 * rotated by time: a key set at `t` stays until at least `t + spanMs`, at most until `t + 2 × spanMs`.
 *
 * What a key maps to is a hint, never an answer: the log checks the record it names before it calls an event a
 * duplicate. So a key whose write rolled back, whose record retention deleted, or that shares its hash with another
 * (≈ n² / 2⁶⁵ for n keys) refuses nothing; the last can only let a repeat of the other key in.
 */

/** Windows up to this long keep their keys in memory; longer ones keep them in `log_dedup`. */
export const MEMORY_DEDUP_MAX_WINDOW_MS = 10 * 60_000;
/** Keys held in memory by one log, at most (85–170 MB); appends past it keep their keys in `log_dedup`. */
export const MEMORY_DEDUP_MAX_KEYS = 4_000_000;

export class RecentKeys {
  readonly maxKeys: number;
  #current = new KeyTable(MIN_SLOTS);
  #previous = new KeyTable(MIN_SLOTS);
  #rotatedAt = Number.NEGATIVE_INFINITY;
  #spanMs = 0;

  constructor(maxKeys: number) {
    this.maxKeys = maxKeys;
  }

  /** How long a key is kept at least: the longest window asked for (0 until one is). */
  get spanMs(): number {
    return this.#spanMs;
  }

  /** Keys held (one set in both generations counts twice). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Bytes the keys' tables take. */
  get bytes(): number {
    return this.#current.bytes + this.#previous.bytes;
  }

  /** Keeps keys for `windowMs` at least from now on; answers whether that is longer than before. */
  cover(windowMs: number): boolean {
    if (windowMs <= this.#spanMs) return false;
    this.#spanMs = windowMs;
    return true;
  }

  /** What `source` and `id` were last set to, if kept (or what a key of the same hash was). */
  get(source: string, id: string): number | undefined {
    hash(source, id);
    return this.#current.get(h1, h2) ?? this.#previous.get(h1, h2);
  }

  /**
   * Keeps `value` (an integer ≥ 0) for `source` and `id`, first dropping the older generation when a span has
   * passed since the last rotation. The new generation starts at the size the last one reached (no rehash for a
   * steady rate).
   */
  set(source: string, id: string, value: number, now: number): void {
    if (now - this.#rotatedAt >= this.#spanMs) {
      this.#previous = this.#current;
      this.#current = new KeyTable(slotsFor(this.#previous.size));
      this.#rotatedAt = now;
    }
    hash(source, id);
    this.#current.set(h1, h2, value);
  }

  clear(): void {
    this.#current = new KeyTable(MIN_SLOTS);
    this.#previous = new KeyTable(MIN_SLOTS);
    this.#rotatedAt = Number.NEGATIVE_INFINITY;
  }
}

const MIN_SLOTS = 1024;

/** Slots for `keys` keys at a load of at most three quarters (a power of two). */
function slotsFor(keys: number): number {
  let slots = MIN_SLOTS;
  while (slots * 3 < keys * 4) slots *= 2;
  return slots;
}

/**
 * An open-addressing hash table (linear probing) from a 64-bit hash, two 32-bit halves, to an integer below 2⁵³;
 * no deletes (a generation goes whole). A slot is four 32-bit words side by side, one cache line's read: the hash's
 * halves, then the value + 1 in two (0, 0: an empty slot). 16 bytes a slot; the table doubles past a load of
 * three quarters (a slot of 16 bytes is a quarter of a cache line: the probes past a load of a half stay cheap).
 */
class KeyTable {
  #slots: Uint32Array;
  #mask: number;
  size = 0;

  constructor(slots: number) {
    this.#slots = new Uint32Array(slots * 4);
    this.#mask = slots - 1;
  }

  get bytes(): number {
    return this.#slots.byteLength;
  }

  get(high: number, low: number): number | undefined {
    const slots = this.#slots;
    for (let i = low & this.#mask; ; i = (i + 1) & this.#mask) {
      const at = i * 4;
      const valueLow = slots[at + 2] as number;
      const valueHigh = slots[at + 3] as number;
      if (valueLow === 0 && valueHigh === 0) return undefined;
      if (slots[at + 1] === low && slots[at] === high) return valueHigh * 0x1_0000_0000 + valueLow - 1;
    }
  }

  set(high: number, low: number, value: number): void {
    if ((this.size + 1) * 4 > (this.#mask + 1) * 3) this.#grow();
    const stored = value + 1;
    this.#put(high, low, stored >>> 0, Math.floor(stored / 0x1_0000_0000));
  }

  #put(high: number, low: number, valueLow: number, valueHigh: number): void {
    const slots = this.#slots;
    for (let i = low & this.#mask; ; i = (i + 1) & this.#mask) {
      const at = i * 4;
      const empty = slots[at + 2] === 0 && slots[at + 3] === 0;
      if (empty || (slots[at + 1] === low && slots[at] === high)) {
        slots[at] = high;
        slots[at + 1] = low;
        slots[at + 2] = valueLow;
        slots[at + 3] = valueHigh;
        if (empty) this.size += 1;
        return;
      }
    }
  }

  #grow(): void {
    const old = this.#slots;
    const slots = (this.#mask + 1) * 2;
    this.#slots = new Uint32Array(slots * 4);
    this.#mask = slots - 1;
    this.size = 0;
    for (let at = 0; at < old.length; at += 4) {
      const valueLow = old[at + 2] as number;
      const valueHigh = old[at + 3] as number;
      if (valueLow !== 0 || valueHigh !== 0) {
        this.#put(old[at] as number, old[at + 1] as number, valueLow, valueHigh);
      }
    }
  }
}

/** The two halves of the last `hash` (no object a call). */
let h1 = 0;
let h2 = 0;

/**
 * A 64-bit hash of a source and an id, as two 32-bit halves in `h1` and `h2`: two FNV-1a lanes of different offset
 * bases over the UTF-16 code units of the source, a separator the length makes unambiguous, and the id, each lane
 * finished with murmur3's avalanche.
 */
function hash(source: string, id: string): void {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f ^ source.length;
  for (let i = 0; i < source.length; i++) {
    const c = source.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  a = Math.imul(a ^ 0xffff, 0x01000193);
  b = Math.imul(b ^ 0xffff, 0x01000193);
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  h1 = fmix(a ^ id.length) >>> 0;
  h2 = fmix(b ^ Math.imul(id.length, 0x9e3779b1)) >>> 0;
}

/** murmur3's 32-bit finaliser. */
function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x;
}
