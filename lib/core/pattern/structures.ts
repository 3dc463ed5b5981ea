/** The lookup structures of the index: a character trie (prefixes, suffixes) and an interval tree (ranges). */

interface TrieNode<T> {
  readonly next: Map<string, TrieNode<T>>;
  items: T[];
}

/** Items keyed by strings; a lookup walks a value once and reports the items of every key that starts it. */
export class CharTrie<T> {
  readonly #root: TrieNode<T> = { next: new Map(), items: [] };
  readonly #backward: boolean;

  /** @param backward when true, keys and values are read from their end (suffix matching). */
  constructor(backward = false) {
    this.#backward = backward;
  }

  #chars(key: string): string[] {
    const chars = [...key];
    return this.#backward ? chars.reverse() : chars;
  }

  add(key: string, item: T): void {
    let node = this.#root;
    for (const c of this.#chars(key)) {
      let child = node.next.get(c);
      if (child === undefined) {
        child = { next: new Map(), items: [] };
        node.next.set(c, child);
      }
      node = child;
    }
    node.items.push(item);
  }

  remove(key: string, item: T): void {
    const path: TrieNode<T>[] = [this.#root];
    const chars = this.#chars(key);
    for (const c of chars) {
      const child = path[path.length - 1]?.next.get(c);
      if (child === undefined) return;
      path.push(child);
    }
    const last = path[path.length - 1] as TrieNode<T>;
    last.items = last.items.filter((i) => i !== item);
    for (let i = chars.length; i > 0; i--) {
      const node = path[i] as TrieNode<T>;
      if (node.items.length > 0 || node.next.size > 0) break;
      path[i - 1]?.next.delete(chars[i - 1] as string);
    }
  }

  /** Calls `visit` with every item whose key is a prefix (or, backward, a suffix) of `value`. */
  collect(value: string, visit: (item: T) => void): void {
    let node: TrieNode<T> | undefined = this.#root;
    for (const item of node.items) visit(item);
    if (this.#backward) {
      for (let i = value.length - 1; i >= 0 && node !== undefined; i--) {
        let c = value[i] as string;
        const code = c.charCodeAt(0);
        if (code >= 0xdc00 && code <= 0xdfff && i > 0) {
          const high = value.charCodeAt(i - 1);
          if (high >= 0xd800 && high <= 0xdbff) {
            c = value.slice(i - 1, i + 1);
            i--;
          }
        }
        node = node.next.get(c);
        if (node !== undefined) for (const item of node.items) visit(item);
      }
      return;
    }
    for (const c of value) {
      node = node.next.get(c);
      if (node === undefined) return;
      for (const item of node.items) visit(item);
    }
  }

  get isEmpty(): boolean {
    return this.#root.items.length === 0 && this.#root.next.size === 0;
  }
}

/** A range with its bounds' inclusiveness; keys are numbers or fixed-width strings. */
export interface Interval<K extends number | string, T> {
  readonly low: K;
  readonly lowInclusive: boolean;
  readonly high: K;
  readonly highInclusive: boolean;
  readonly item: T;
}

interface IntervalNode<K extends number | string, T> {
  readonly center: K;
  readonly byLow: Interval<K, T>[];
  readonly byHigh: Interval<K, T>[];
  readonly left: IntervalNode<K, T> | undefined;
  readonly right: IntervalNode<K, T> | undefined;
}

function contains<K extends number | string, T>(r: Interval<K, T>, x: K): boolean {
  return (r.lowInclusive ? x >= r.low : x > r.low) && (r.highInclusive ? x <= r.high : x < r.high);
}

function build<K extends number | string, T>(items: Interval<K, T>[]): IntervalNode<K, T> | undefined {
  if (items.length === 0) return undefined;
  const ends = items.flatMap((r) => [r.low, r.high]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const center = ends[ends.length >> 1] as K;
  const left: Interval<K, T>[] = [];
  const right: Interval<K, T>[] = [];
  const mid: Interval<K, T>[] = [];
  for (const r of items) {
    if (r.high < center) left.push(r);
    else if (r.low > center) right.push(r);
    else mid.push(r);
  }
  return {
    center,
    byLow: [...mid].sort((a, b) => (a.low < b.low ? -1 : a.low > b.low ? 1 : 0)),
    byHigh: [...mid].sort((a, b) => (a.high > b.high ? -1 : a.high < b.high ? 1 : 0)),
    left: build(left),
    right: build(right),
  };
}

/**
 * Ranges that contain a point, found in O(log n + answers). Changes are cheap: new ranges wait in a short list
 * and removed ones are skipped, until either grows past about √n and the tree is rebuilt on the next lookup.
 */
export class IntervalIndex<K extends number | string, T> {
  readonly #items = new Map<T, Interval<K, T>>();
  #tree: IntervalNode<K, T> | undefined;
  #pending: Interval<K, T>[] = [];
  readonly #removed = new Set<T>();
  #stale = false;

  add(interval: Interval<K, T>): void {
    if (this.#items.has(interval.item) || this.#removed.has(interval.item)) this.#stale = true;
    this.#items.set(interval.item, interval);
    this.#pending.push(interval);
  }

  remove(item: T): void {
    if (!this.#items.delete(item)) return;
    const before = this.#pending.length;
    this.#pending = this.#pending.filter((r) => r.item !== item);
    if (this.#pending.length === before) this.#removed.add(item);
  }

  get size(): number {
    return this.#items.size;
  }

  collect(x: K, visit: (item: T) => void): void {
    const slack = 32 + Math.sqrt(this.#items.size);
    if (this.#stale || this.#pending.length > slack || this.#removed.size > slack) {
      this.#tree = build([...this.#items.values()]);
      this.#pending = [];
      this.#removed.clear();
      this.#stale = false;
    }
    for (const r of this.#pending) if (contains(r, x)) visit(r.item);
    const removed = this.#removed.size > 0 ? this.#removed : undefined;
    const report = (r: Interval<K, T>): void => {
      if (contains(r, x) && (removed === undefined || !removed.has(r.item))) visit(r.item);
    };
    let node = this.#tree;
    while (node !== undefined) {
      if (x < node.center) {
        for (const r of node.byLow) {
          if (r.low > x) break;
          report(r);
        }
        node = node.left;
      } else if (x > node.center) {
        for (const r of node.byHigh) {
          if (r.high < x) break;
          report(r);
        }
        node = node.right;
      } else {
        for (const r of node.byLow) report(r);
        return;
      }
    }
  }
}

/**
 * A map from strings whose misses rarely touch the map: a bit set (one hash, 16 to 32 bits a key, small enough for the
 * CPU cache) answers "certainly absent" for most keys, so a large map costs no more per lookup than a small one.
 * Deleted keys keep their bit until enough accumulate to rebuild the set.
 */
export class FilteredMap<V> {
  readonly #map = new Map<string, V>();
  #bits = new Uint32Array(0);
  #mask = 0;
  #stale = 0;

  get size(): number {
    return this.#map.size;
  }

  static #hash(key: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  get(key: string): V | undefined {
    if (this.#mask !== 0) {
      const h = FilteredMap.#hash(key) & this.#mask;
      if ((((this.#bits[h >>> 5] as number) >>> (h & 31)) & 1) === 0) return undefined;
    }
    return this.#map.get(key);
  }

  set(key: string, value: V): void {
    const fresh = !this.#map.has(key);
    this.#map.set(key, value);
    if (!fresh) return;
    if (this.#map.size >= 2048 && this.#map.size * 16 > this.#mask + 1) this.#rebuild();
    else this.#mark(key);
  }

  delete(key: string): void {
    if (!this.#map.delete(key)) return;
    this.#stale++;
    if (this.#mask !== 0 && this.#stale > this.#map.size) this.#rebuild();
  }

  #mark(key: string): void {
    if (this.#mask === 0) return;
    const h = FilteredMap.#hash(key) & this.#mask;
    this.#bits[h >>> 5] = (this.#bits[h >>> 5] as number) | (1 << (h & 31));
  }

  /** Filters only pay off past a few thousand keys; below that the map alone is as fast. */
  #rebuild(): void {
    this.#stale = 0;
    if (this.#map.size < 2048) {
      this.#bits = new Uint32Array(0);
      this.#mask = 0;
      return;
    }
    let size = 32;
    while (size < this.#map.size * 32) size *= 2;
    this.#bits = new Uint32Array(size / 32);
    this.#mask = size - 1;
    for (const key of this.#map.keys()) this.#mark(key);
  }
}
