/**
 * The LIKE matcher, without regular expressions: `%` matches any run of characters, `_` exactly one, and `\%`,
 * `\_`, `\\` stand for themselves. The pattern is cut at each `%` into segments that are matched left to right,
 * each at its leftmost place, which never backtracks: time is O(|value| × |longest segment|).
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md#344-like-operator
 */

/** One character of a segment, or `null` for `_` (any one character). Characters are Unicode code points. */
type Item = string | null;

export interface LikePattern {
  /** The pattern as written. */
  readonly source: string;
  /** Without any `%` the value must match `segments[0]` exactly; else it starts with the first segment and ends with the last. */
  readonly hasPercent: boolean;
  readonly segments: readonly (readonly Item[])[];
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
  return { source, hasPercent, segments };
}

function matchesAt(chars: readonly string[], segment: readonly Item[], at: number): boolean {
  for (let j = 0; j < segment.length; j += 1) {
    const item = segment[j];
    if (item !== null && item !== chars[at + j]) return false;
  }
  return true;
}

/** Whether `value` matches the pattern. */
export function matchLike(value: string, pattern: LikePattern): boolean {
  const chars = Array.from(value);
  const segments = pattern.segments;
  const first = segments[0]!;
  if (!pattern.hasPercent) return chars.length === first.length && matchesAt(chars, first, 0);
  const last = segments[segments.length - 1]!;
  const end = chars.length - last.length;
  if (end < first.length || !matchesAt(chars, first, 0) || !matchesAt(chars, last, end)) return false;
  let position = first.length;
  for (let s = 1; s < segments.length - 1; s += 1) {
    const segment = segments[s]!;
    let found = -1;
    for (let at = position; at + segment.length <= end; at += 1) {
      if (matchesAt(chars, segment, at)) {
        found = at;
        break;
      }
    }
    if (found < 0) return false;
    position = found + segment.length;
  }
  return true;
}
