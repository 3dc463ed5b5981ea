/**
 * Array-consistent evaluation of one sub-pattern against the event tree, in one pass over the parts of the
 * event the fields name: linear in the event, no backtracking over leaves.
 */
import { JsonNumber } from './json-number.ts';
import { leafOf, matchLeaf } from './leaf.ts';
import type { FieldCondition, SubPattern } from './model.ts';

/** A field, how many of its path segments are already walked, and the key of the last step. */
interface Cursor {
  readonly field: FieldCondition;
  readonly at: number;
  readonly key?: string;
}

/** Per field: `joined[at][n]` is segments `at..at+n` joined by dots (the keys a step may take), made once. */
const joinedKeys = new WeakMap<FieldCondition, string[][]>();

function keysFrom(field: FieldCondition, at: number): string[] {
  let table = joinedKeys.get(field);
  if (table === undefined) {
    const segs = field.segments;
    table = segs.map((_, from) => segs.slice(from).map((_, n) => segs.slice(from, from + n + 1).join('.')));
    joinedKeys.set(field, table);
  }
  return table[at] ?? [];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

/** The keys of `object` a cursor can step into: its next segment, or several segments joined by dots. */
function stepsOf(object: Record<string, unknown>, c: Cursor): Cursor[] {
  const keys = keysFrom(c.field, c.at);
  const out: Cursor[] = [];
  for (let n = 0; n < keys.length; n++) {
    const key = keys[n] as string;
    if (Object.hasOwn(object, key)) out.push({ field: c.field, at: c.at + n + 1, key });
  }
  return out;
}

function keyOf(c: Cursor): string {
  return c.key as string;
}

function satObject(
  object: Record<string, unknown>,
  present: readonly Cursor[],
  absent: readonly Cursor[],
): boolean {
  if (present.length + absent.length === 1) return satSingle(object, present[0], absent[0]);
  const groups = new Map<string, { present: Cursor[]; absent: Cursor[] }>();
  const group = (key: string) => {
    let g = groups.get(key);
    if (g === undefined) {
      g = { present: [], absent: [] };
      groups.set(key, g);
    }
    return g;
  };
  for (const c of absent) {
    if (c.at === c.field.segments.length) continue;
    for (const s of stepsOf(object, c)) group(keyOf(s)).absent.push(s);
  }
  const ambiguous: Cursor[][] = [];
  for (const c of present) {
    if (c.at === c.field.segments.length) return false;
    const steps = stepsOf(object, c);
    if (steps.length === 0) return false;
    if (steps.length === 1) group(keyOf(steps[0] as Cursor)).present.push(steps[0] as Cursor);
    else ambiguous.push(steps);
  }
  if (ambiguous.length > 0) return satAmbiguous(object, groups, ambiguous, 0);
  return satGroups(object, groups);
}

/** One cursor needs no grouping: a present one may take any key that leads on, an absent one must fail on all. */
function satSingle(
  object: Record<string, unknown>,
  present: Cursor | undefined,
  absent: Cursor | undefined,
): boolean {
  if (present !== undefined) {
    if (present.at === present.field.segments.length) return false;
    for (const s of stepsOf(object, present)) if (sat(object[keyOf(s)], [s], [])) return true;
    return false;
  }
  if (absent === undefined || absent.at === absent.field.segments.length) return true;
  for (const s of stepsOf(object, absent)) if (!sat(object[keyOf(s)], [], [s])) return false;
  return true;
}

function satGroups(
  object: Record<string, unknown>,
  groups: ReadonlyMap<string, { present: readonly Cursor[]; absent: readonly Cursor[] }>,
): boolean {
  for (const [key, g] of groups) {
    if (!sat(object[key], g.present, g.absent)) return false;
  }
  return true;
}

/** A present field reachable through several dotted keys may take any of them. */
function satAmbiguous(
  object: Record<string, unknown>,
  groups: Map<string, { present: Cursor[]; absent: Cursor[] }>,
  ambiguous: readonly Cursor[][],
  i: number,
): boolean {
  if (i === ambiguous.length) return satGroups(object, groups);
  for (const step of ambiguous[i] ?? []) {
    const key = keyOf(step);
    const copy = new Map<string, { present: Cursor[]; absent: Cursor[] }>();
    for (const [k, g] of groups) copy.set(k, { present: [...g.present], absent: g.absent });
    const g = copy.get(key) ?? { present: [], absent: [] };
    g.present.push(step);
    copy.set(key, g);
    if (satAmbiguous(object, copy, ambiguous, i + 1)) return true;
  }
  return false;
}

/**
 * Whether, inside `value`, every present cursor can take a matching leaf, all of them from the same element of
 * every array they share, and no absent cursor has a leaf that could be taken alongside them.
 */
function sat(value: unknown, present: readonly Cursor[], absent: readonly Cursor[]): boolean {
  if (Array.isArray(value)) {
    if (present.length > 0) {
      for (const item of value) if (sat(item, present, absent)) return true;
      return false;
    }
    for (const item of value) if (!sat(item, present, absent)) return false;
    return true;
  }
  if (isObject(value)) return satObject(value, present, absent);
  if (present.length === 0 && absent.length === 0) return true;
  const leaf = leafOf(value);
  for (const c of absent) if (c.at === c.field.segments.length && leaf !== undefined) return false;
  for (const c of present) {
    if (c.at !== c.field.segments.length || leaf === undefined) return false;
    if (!c.field.matchers.some((m) => matchLeaf(m, leaf))) return false;
  }
  return true;
}

/** Whether a sub-pattern holds for the event (a JSON object). */
export function satisfies(sub: SubPattern, event: unknown): boolean {
  if (!isObject(event)) return false;
  const present: Cursor[] = [];
  const absent: Cursor[] = [];
  for (const field of sub.fields) (field.mode === 'present' ? present : absent).push({ field, at: 0 });
  return satObject(event, present, absent);
}

/**
 * The same answer as `satisfies` for an event known to hold no array and no dotted key along the fields' paths:
 * then each path names at most one leaf, found by plain property reads.
 */
export function satisfiesFlat(sub: SubPattern, event: unknown): boolean {
  for (const f of sub.fields) {
    let v: unknown = event;
    for (const seg of f.segments) {
      if (typeof v !== 'object' || v === null || v instanceof JsonNumber) {
        v = undefined;
        break;
      }
      v = (v as Record<string, unknown>)[seg];
    }
    const leaf = leafOf(v);
    if (f.mode === 'absent') {
      if (leaf !== undefined) return false;
    } else if (leaf === undefined || !f.matchers.some((m) => matchLeaf(m, leaf))) return false;
  }
  return true;
}
