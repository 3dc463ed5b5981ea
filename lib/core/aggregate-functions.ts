/**
 * The aggregate functions of an aggregation rule (docs/aggregation.md): each keeps a small JSON-able accumulator per
 * window, folds one event's value into it, and answers the window's result when it closes. Every accumulator is
 * bounded: `distinctCount` keeps at most `limit` distinct values (exact up to it, then it stops growing and the result
 * says `capped`), `percentile` keeps a DDSketch (relative error 1 % over a range of 10^8, at most 1,024 bins per sign; lower values collapse into the lowest bin).
 */
import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';

/** One aggregate of a rule, as validated. */
export type AggregateFunction =
  | { readonly kind: 'count' }
  | { readonly kind: 'sum' | 'min' | 'max' | 'avg' | 'first' | 'last'; readonly path: string }
  | { readonly kind: 'distinctCount'; readonly path: string; readonly limit: number }
  | { readonly kind: 'percentile'; readonly path: string; readonly p: number };

export const AGGREGATE_KINDS = [
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'distinctCount',
  'first',
  'last',
  'percentile',
] as const;

/** The percentile sketch's relative accuracy and bin limit (per sign). */
export const SKETCH_ACCURACY = 0.01;
export const SKETCH_BIN_LIMIT = 1024;

/**
 * An accumulator (JSON-able, so that a store keeps it as text). `n`: how many values it took; `v`: the running value
 * (sum, min, max, the first/last value); `t`: the event time that `first`/`last` kept; `d`: the distinct values' keys;
 * `c`: capped; `s`: a sketch's bins (`[zeroCount, positive [index, count]…, negative [index, count]…]`).
 */
export interface Accumulator {
  n: number;
  v?: unknown;
  t?: number;
  d?: string[];
  c?: boolean;
  s?: SketchBins;
}

export interface SketchBins {
  z: number;
  p: number[];
  m: number[];
}

export function newAccumulator(): Accumulator {
  return { n: 0 };
}

/** A number for the numeric aggregates: a finite JSON number, else nothing (the event is skipped by them). */
function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A value's identity for `distinctCount`: its JSON text (so `1` and `"1"` differ), cut at 256 characters. */
function distinctKey(value: unknown): string {
  const text = typeof value === 'string' ? `s${value}` : `j${JSON.stringify(value)}`;
  return text.length > 256 ? text.slice(0, 256) : text;
}

/**
 * Folds one event into an accumulator. `value` is what the function's path reads (undefined for `count`), `time` the
 * event time. Events without a value at the path do not count for that aggregate (except `count`, which counts
 * events).
 */
export function accumulate(fn: AggregateFunction, acc: Accumulator, value: unknown, time: number): void {
  switch (fn.kind) {
    case 'count':
      acc.n++;
      return;
    case 'sum':
    case 'avg': {
      const x = numeric(value);
      if (x === undefined) return;
      acc.n++;
      acc.v = ((acc.v as number | undefined) ?? 0) + x;
      return;
    }
    case 'min':
    case 'max': {
      const x = numeric(value);
      if (x === undefined) return;
      const v = acc.v as number | undefined;
      acc.n++;
      if (v === undefined || (fn.kind === 'min' ? x < v : x > v)) acc.v = x;
      return;
    }
    case 'first':
    case 'last': {
      if (value === undefined) return;
      // Event time decides; among equal times the log order does (first keeps the earliest, last the latest).
      const better =
        acc.n === 0 || (fn.kind === 'first' ? time < (acc.t as number) : time >= (acc.t as number));
      acc.n++;
      if (better) {
        acc.v = value;
        acc.t = time;
      }
      return;
    }
    case 'distinctCount': {
      if (value === undefined) return;
      const set = acc.d ?? [];
      acc.d = set;
      const key = distinctKey(value);
      // A sorted array: the state stays JSON, and a lookup is a binary search.
      const at = insertionPoint(set, key);
      if (set[at] === key) return;
      if (set.length >= fn.limit) {
        acc.c = true;
        return;
      }
      set.splice(at, 0, key);
      acc.n = set.length;
      return;
    }
    case 'percentile': {
      const x = numeric(value);
      if (x === undefined) return;
      liveSketch(acc).accept(x);
      acc.n++;
      return;
    }
  }
}

function insertionPoint(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The result of an aggregate over a closed window: a number, a value (`first`/`last`), or null when it took none. */
export function result(fn: AggregateFunction, acc: Accumulator): unknown {
  switch (fn.kind) {
    case 'count':
      return acc.n;
    case 'sum':
      return acc.n === 0 ? 0 : acc.v;
    case 'avg':
      return acc.n === 0 ? null : (acc.v as number) / acc.n;
    case 'min':
    case 'max':
    case 'first':
    case 'last':
      return acc.n === 0 ? null : acc.v;
    case 'distinctCount':
      return acc.n;
    case 'percentile':
      return acc.n === 0 ? null : (live.get(acc) ?? toSketch(acc.s)).getValueAtQuantile(fn.p);
  }
}

/** Whether a `distinctCount` reached its limit (its result is then a lower bound). */
export function capped(acc: Accumulator): boolean {
  return acc.c === true;
}

/**
 * The sketch of an accumulator while it is folded into: built from its bins once, then kept beside it, so that an
 * event costs one `accept` rather than a rebuild. `acc.s` is then stale; the accumulator's `toJSON` (which the stores'
 * JSON goes through) and `sketchBins` answer the live bins.
 */
const live = new WeakMap<Accumulator, LogCollapsingLowestDenseDDSketch>();

function liveSketch(acc: Accumulator): LogCollapsingLowestDenseDDSketch {
  let sketch = live.get(acc);
  if (sketch === undefined) {
    sketch = toSketch(acc.s);
    live.set(acc, sketch);
    Object.defineProperty(acc, 'toJSON', {
      configurable: true,
      enumerable: false,
      value(this: Accumulator) {
        return { ...this, s: sketchBins(this) };
      },
    });
  }
  return sketch;
}

/** An accumulator's sketch bins, current (see `live`). */
export function sketchBins(acc: Accumulator): SketchBins | undefined {
  const sketch = live.get(acc);
  return sketch === undefined ? acc.s : fromSketch(sketch);
}

/** Replaces an accumulator's bins (a merge): the live sketch, if any, is dropped. */
export function setSketchBins(acc: Accumulator, bins: SketchBins): void {
  live.delete(acc);
  acc.s = bins;
}

function toSketch(bins: SketchBins | undefined): LogCollapsingLowestDenseDDSketch {
  const sketch = new LogCollapsingLowestDenseDDSketch({
    relativeAccuracy: SKETCH_ACCURACY,
    binLimit: SKETCH_BIN_LIMIT,
  });
  if (bins === undefined) return sketch;
  sketch.zeroCount = bins.z;
  let count = bins.z;
  for (let i = 0; i + 1 < bins.p.length; i += 2) {
    sketch.store.add(bins.p[i] as number, bins.p[i + 1] as number);
    count += bins.p[i + 1] as number;
  }
  for (let i = 0; i + 1 < bins.m.length; i += 2) {
    sketch.negativeStore.add(bins.m[i] as number, bins.m[i + 1] as number);
    count += bins.m[i + 1] as number;
  }
  sketch.count = count;
  return sketch;
}

function storeBins(store: { bins: number[]; offset: number }): number[] {
  const out: number[] = [];
  store.bins.forEach((count, i) => {
    if (count > 0) out.push(i + store.offset, count);
  });
  return out;
}

function fromSketch(sketch: LogCollapsingLowestDenseDDSketch): SketchBins {
  return { z: sketch.zeroCount, p: storeBins(sketch.store), m: storeBins(sketch.negativeStore) };
}
