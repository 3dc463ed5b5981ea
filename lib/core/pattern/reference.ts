/**
 * The reference interpreter: the matching semantics written as plainly as possible (flatten the event, then
 * search for an array-consistent choice of leaves). Slow on purpose; the compiled index is tested against it.
 */
import { compilePattern } from './compile.ts';
import { JsonNumber } from './json-number.ts';
import type { Leaf } from './leaf.ts';
import { leafOf, matchLeaf } from './leaf.ts';
import type { CompiledPattern, FieldCondition, SubPattern } from './model.ts';
import { Merged, normalizeEvent } from './satisfy.ts';

/**
 * A leaf with its dotted path and its trail: `[arrayId, index, arrayId, index, …]` of the arrays it sits in an
 * element of. A leaf that is itself an element of an array sits in no element of that array (as in event-ruler).
 */
export interface FlatLeaf {
  readonly path: string;
  readonly leaf: Leaf;
  readonly trail: readonly number[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

/**
 * Every leaf of the event, in document order, once dotted keys are merged into nesting (`normalizeEvent`).
 * Keys join with dots; an object or array element of an array adds to the trail.
 */
export function flattenEvent(event: unknown): FlatLeaf[] {
  return flattenNormalized(normalizeEvent(event));
}

/** `flattenEvent` for an event already passed through `normalizeEvent`. */
export function flattenNormalized(tree: unknown): FlatLeaf[] {
  const out: FlatLeaf[] = [];
  let arrays = 0;
  const leaf = (value: unknown, path: string, trail: readonly number[]): void => {
    const l = leafOf(value);
    if (l !== undefined) out.push({ path, leaf: l, trail });
  };
  /** `path` is undefined at the top (a key `""` there is a path of its own). */
  const walk = (value: unknown, path: string | undefined, trail: readonly number[]): void => {
    const join = (key: string) => (path === undefined ? key : `${path}.${key}`);
    if (Array.isArray(value)) {
      const id = arrays++;
      value.forEach((item, i) => {
        const scalar = !Array.isArray(item) && !(item instanceof Merged) && !isObject(item);
        walk(item, path, scalar ? trail : [...trail, id, i]);
      });
    } else if (value instanceof Merged) {
      if (path !== undefined) for (const v of value.leaves) leaf(v, path, trail);
      for (const [key, child] of value.children) walk(child, join(key), trail);
    } else if (isObject(value)) {
      for (const key of Object.keys(value)) walk(value[key], join(key), trail);
    } else if (path !== undefined) leaf(value, path, trail);
  };
  if (isObject(tree) || tree instanceof Merged) walk(tree, undefined, []);
  return out;
}

/** Two leaves can be chosen together unless they sit in different elements of one array. */
export function consistent(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length && i < b.length; i += 2) {
    if (a[i] !== b[i]) return true;
    if (a[i + 1] !== b[i + 1]) return false;
  }
  return true;
}

/**
 * Whether the leaves satisfy one sub-pattern: each present field takes a matching leaf, all pairwise consistent,
 * and an absent field has no leaf consistent with the leaves taken by the present fields before it in path order
 * (event-ruler's order: it checks each absent field against what the fields sorted before it have chosen).
 */
export function satisfiesSubPattern(sub: SubPattern, leaves: readonly FlatLeaf[]): boolean {
  const present = sub.fields.filter((f) => f.mode === 'present');
  const absent = sub.fields.filter((f) => f.mode === 'absent');
  const candidates = present.map((f) =>
    leaves.filter((l) => l.path === f.path && f.matchers.some((m) => matchLeaf(m, l.leaf))),
  );
  if (candidates.some((c) => c.length === 0)) return false;
  const chosen: (readonly number[])[] = [];
  const absentOk = (f: FieldCondition): boolean => {
    const before = chosen.filter((_, i) => (present[i] as FieldCondition).path < f.path);
    return !leaves.some((l) => l.path === f.path && before.every((t) => consistent(t, l.trail)));
  };
  const search = (i: number): boolean => {
    if (i === present.length) return absent.every(absentOk);
    for (const leaf of candidates[i] ?? []) {
      if (chosen.every((t) => consistent(t, leaf.trail))) {
        chosen.push(leaf.trail);
        if (search(i + 1)) return true;
        chosen.pop();
      }
    }
    return false;
  };
  return search(0);
}

/** Whether a compiled pattern matches the event. */
export function matchesCompiled(compiled: CompiledPattern, event: unknown): boolean {
  const leaves = flattenEvent(event);
  return compiled.subPatterns.some((sub) => satisfiesSubPattern(sub, leaves));
}

/**
 * The reference interpreter: whether `pattern` matches `event` (any JSON object). Throws
 * `JunctionError('InvalidPattern')` when the pattern is invalid.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return matchesCompiled(compilePattern(pattern), event);
}
