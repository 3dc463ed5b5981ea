/**
 * The LIKE matcher, without regular expressions: `%` matches any run of characters, `_` exactly one, and `\%`,
 * `\_`, `\\` stand for themselves. The pattern is cut at each `%` into segments; the first must start the value,
 * the last must end it, and each one between is found at its leftmost place after the previous one (which is
 * always safe, so nothing backtracks). The search is bit-parallel (Shift-And): time O(|value| × ⌈|segment| / 32⌉),
 * linear in the value for segments up to 32 characters.
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md#344-like-operator
 */

/** One character of a segment, or `null` for `_` (any one character). Characters are Unicode code points. */
type Item = string | null;

/** The Shift-And tables of a segment: per character, bit j set where item j accepts it. */
interface ShiftAnd {
  readonly words: number;
  readonly wildcard: Uint32Array;
  readonly masks: ReadonlyMap<string, Uint32Array>;
}

export interface Segment {
  readonly items: readonly Item[];
  readonly search: ShiftAnd;
}

export interface LikePattern {
  /** The pattern as written. */
  readonly source: string;
  /** Without `%` the value must match `segments[0]` exactly; else it starts with the first segment and ends with the last. */
  readonly hasPercent: boolean;
  readonly segments: readonly Segment[];
}

function shiftAnd(items: readonly Item[]): ShiftAnd {
  const words = Math.max(1, Math.ceil(items.length / 32));
  const wildcard = new Uint32Array(words);
  items.forEach((item, j) => {
    if (item === null) wildcard[j >> 5]! |= 1 << (j % 32);
  });
  const masks = new Map<string, Uint32Array>();
  items.forEach((item, j) => {
    if (item === null) return;
    let mask = masks.get(item);
    if (mask === undefined) {
      mask = Uint32Array.from(wildcard);
      masks.set(item, mask);
    }
    mask[j >> 5]! |= 1 << (j % 32);
  });
  return { words, wildcard, masks };
}

export function compileLike(source: string): LikePattern {
  const chars = Array.from(source);
  const segments: Item[][] = [[]];
  let hasPercent = false;
  for (let i = 0; i < chars.length; i += 1) {
    const char = chars[i]!;
    const current = segments[segments.length - 1]!;
    if (char === '\\') {
      const next = chars[i + 1];
      if (next === '%' || next === '_' || next === '\\') {
        current.push(next);
        i += 1;
      } else {
        current.push(char);
      }
    } else if (char === '%') {
      hasPercent = true;
      segments.push([]);
    } else {
      current.push(char === '_' ? null : char);
    }
  }
  return { source, hasPercent, segments: segments.map((items) => ({ items, search: shiftAnd(items) })) };
}

function matchesAt(chars: ArrayLike<string>, items: readonly Item[], at: number): boolean {
  for (let j = 0; j < items.length; j += 1) {
    const item = items[j];
    if (item !== null && item !== chars[at + j]) return false;
  }
  return true;
}

/**
 * The leftmost `at` in [from, end - |segment|] where the segment matches, by Shift-And: after reading a character,
 * bit j of the state says "the last j + 1 characters match the first j + 1 items". Multi-word, so any length works.
 */
function findSegment(chars: ArrayLike<string>, segment: Segment, from: number, end: number): number {
  const length = segment.items.length;
  if (length === 0) return from <= end ? from : -1;
  const { words, wildcard, masks } = segment.search;
  const state = new Uint32Array(words);
  const topWord = (length - 1) >> 5;
  const topBit = 1 << ((length - 1) % 32);
  for (let t = from; t < end; t += 1) {
    const mask = masks.get(chars[t]!) ?? wildcard;
    for (let w = words - 1; w > 0; w -= 1) {
      state[w] = ((state[w]! << 1) | (state[w - 1]! >>> 31)) & mask[w]!;
    }
    state[0] = ((state[0]! << 1) | 1) & mask[0]!;
    if ((state[topWord]! & topBit) !== 0) return t - length + 1;
  }
  return -1;
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Whether `value` matches the pattern. */
export function matchLike(value: string, pattern: LikePattern): boolean {
  // Without surrogates, UTF-16 code units are code points: index the string itself instead of copying it.
  const chars: ArrayLike<string> = SURROGATE.test(value) ? Array.from(value) : value;
  const segments = pattern.segments;
  const first = segments[0]!.items;
  if (!pattern.hasPercent) return chars.length === first.length && matchesAt(chars, first, 0);
  const last = segments[segments.length - 1]!.items;
  const end = chars.length - last.length;
  if (end < first.length || !matchesAt(chars, first, 0) || !matchesAt(chars, last, end)) return false;
  let position = first.length;
  for (let s = 1; s < segments.length - 1; s += 1) {
    const segment = segments[s]!;
    const found = findSegment(chars, segment, position, end);
    if (found < 0) return false;
    position = found + segment.items.length;
  }
  return true;
}
