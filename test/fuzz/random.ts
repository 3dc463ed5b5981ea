/** A small seeded random source (sfc32) for the API fuzzer: input `i` of seed `s` is the same on every run. */

export class Random {
  /**
   * When set, grammar generators keep to valid shapes and types (values may still be hostile), so that inputs get
   * past validation into the engine; when not, they also put junk in.
   */
  strict = false;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A source for input `index` of run `seed`: independent of every other input, so one input can be replayed. */
  constructor(seed: number, index = 0) {
    this.#a = 0x9e3779b9 ^ seed;
    this.#b = 0x243f6a88 ^ Math.imul(index, 0x85ebca6b);
    this.#c = 0xb7e15162 ^ (seed >>> 16);
    this.#d = index ^ 0x5bd1e995;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((this.next() / 0x1_0000_0000) * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let roll = this.int(0, total - 1);
    for (const [w, value] of choices) {
      if (roll < w) return value;
      roll -= w;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  /** A length skewed towards small values, up to `max`. */
  length(max: number): number {
    const r = this.next() / 0x1_0000_0000;
    return Math.floor(r * r * r * (max + 1));
  }
}
