/**
 * Array-consistent evaluation of one sub-pattern against the event tree, in one pass over the parts of the
 * event the fields name: linear in the event, no backtracking over leaves or over dotted-key spellings.
 */
import { JunctionError } from '../errors.ts';
import { JsonNumber, RepeatedKey } from './json-number.ts';
import { leafOf, matchLeaf } from './leaf.ts';
import { MAX_EVENT_DEPTH, MAX_PATH_SEGMENTS } from './limits.ts';
import type { FieldCondition, SubPattern } from './model.ts';

/**
 * A path that the event spells more than one way (`{"a": {"b": 1}, "a.b": 2}`): what all the spellings hold,
 * merged into one node. `leaves` are the values at the path that are not objects; `children` the merged keys.
 */
export class Merged {
  readonly children: ReadonlyMap<string, unknown>;
  readonly leaves: readonly unknown[];

  constructor(children: ReadonlyMap<string, unknown>, leaves: readonly unknown[]) {
    this.children = children;
    this.leaves = leaves;
  }
}

let steps = 0;

/**
 * How many steps (nodes visited by `normalizeEvent` and by the sub-pattern check) this module has taken since it
 * was loaded. Tests read it before and after a call to show that the work is linear in the input.
 */
export function matchSteps(): number {
  return steps;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber)
  );
}

function tooDeep(): never {
  throw new JunctionError(
    'InvalidRequest',
    `event nests deeper than ${MAX_EVENT_DEPTH} levels of objects and arrays (the limit for events)`,
    { field: 'event', details: { limit: MAX_EVENT_DEPTH } },
  );
}

/**
 * The event with every dotted key (and every key written more than once, `RepeatedKey`) merged into the nested
 * spelling of its path, so that each path leads to one node (the semantics of docs/patterns.md, "Dotted keys"):
 * - objects reached by several spellings merge key by key, and values that are not objects become `leaves`;
 * - when one of the spellings holds an array, all of them together are one array: the array's elements, then the
 *   other spellings' values, each an element.
 * Keys whose path would run past `MAX_PATH_SEGMENTS` segments are dropped: no pattern can name them. Parts without
 * dotted keys are returned as they are (no copy). Linear in the event; throws `InvalidRequest` for an event nested
 * deeper than `MAX_EVENT_DEPTH` levels of objects and arrays.
 */
export function normalizeEvent(event: unknown): unknown {
  return normalize(event, 0, 0);
}

function normalize(value: unknown, depth: number, segments: number): unknown {
  steps++;
  if (typeof value !== 'object' || value === null || value instanceof JsonNumber) return value;
  if (depth > MAX_EVENT_DEPTH) tooDeep();
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const n = normalize(v, depth + 1, segments);
      if (n !== v) out ??= value.slice(0, i);
      out?.push(n);
    }
    return out ?? value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  /** The normalized values, made once the object turns out to need a merged copy. */
  let values: unknown[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const dotted = key.includes('.');
    const count = dotted ? key.split('.').length : 1;
    const v = object[key];
    let n: unknown;
    if (segments + count > MAX_PATH_SEGMENTS) n = DROPPED;
    else if (v instanceof RepeatedKey) {
      n = new RepeatedKey(v.values.map((item) => normalize(item, depth + 1, segments + count)));
    } else n = normalize(v, depth + 1, segments + count);
    if (values === undefined && (n !== v || dotted)) values = keys.slice(0, i).map((k) => object[k]);
    values?.push(n);
  }
  if (values === undefined) return object;
  const parts = new Map<string, unknown[]>();
  for (let i = 0; i < keys.length; i++) {
    const n = values[i];
    if (n === DROPPED) continue;
    const key = keys[i] as string;
    let head = key;
    const spellings = n instanceof RepeatedKey ? n.values : [n];
    for (let spelling of spellings) {
      if (key.includes('.')) {
        const path = key.split('.');
        head = path[0] as string;
        for (let j = path.length - 1; j >= 1; j--)
          spelling = new Merged(new Map([[path[j] as string, spelling]]), []);
      }
      const list = parts.get(head);
      if (list === undefined) parts.set(head, [spelling]);
      else list.push(spelling);
    }
  }
  const children = new Map<string, unknown>();
  for (const [key, list] of parts) children.set(key, combine(list));
  return new Merged(children, []);
}

/** Stands for a key dropped by `normalize`. */
const DROPPED = Symbol('dropped');

/** One node for the normalized values that the spellings of one path hold (see `normalizeEvent`). */
function combine(list: readonly unknown[]): unknown {
  steps++;
  if (list.length === 1) return list[0];
  if (list.some(Array.isArray)) {
    const elements: unknown[] = [];
    for (const v of list) {
      if (Array.isArray(v)) for (const item of v) elements.push(item);
      else elements.push(v);
    }
    return elements;
  }
  const leaves: unknown[] = [];
  const parts = new Map<string, unknown[]>();
  const add = (key: string, v: unknown) => {
    const at = parts.get(key);
    if (at === undefined) parts.set(key, [v]);
    else at.push(v);
  };
  for (const v of list) {
    if (v instanceof Merged) {
      leaves.push(...v.leaves);
      for (const [key, child] of v.children) add(key, child);
    } else if (isObject(v)) {
      for (const key of Object.keys(v)) add(key, v[key]);
    } else leaves.push(v);
  }
  const children = new Map<string, unknown>();
  for (const [key, at] of parts) children.set(key, combine(at));
  return new Merged(children, leaves);
}

/** A field and how many of its path segments are already walked. */
interface Cursor {
  readonly field: FieldCondition;
  readonly at: number;
}

const NO_LEAVES: readonly unknown[] = [];

function childOf(node: Merged | Record<string, unknown>, key: string): { value: unknown } | undefined {
  if (node instanceof Merged) return node.children.has(key) ? { value: node.children.get(key) } : undefined;
  return Object.hasOwn(node, key) ? { value: node[key] } : undefined;
}

/**
 * An object node: each cursor that ends here needs (present) or must not find (absent) one of the node's own
 * leaves, which sit in no array below it; the others go on into the one child their next segment names.
 */
function satNode(
  node: Merged | Record<string, unknown>,
  present: readonly Cursor[],
  absent: readonly Cursor[],
): boolean {
  const leaves = node instanceof Merged ? node.leaves : NO_LEAVES;
  const groups = new Map<string, { value: unknown; present: Cursor[]; absent: Cursor[] }>();
  const groupOf = (c: Cursor) => {
    const key = c.field.segments[c.at] as string;
    let g = groups.get(key);
    if (g === undefined) {
      const child = childOf(node, key);
      if (child === undefined) return undefined;
      g = { value: child.value, present: [], absent: [] };
      groups.set(key, g);
    }
    return g;
  };
  for (const c of absent) {
    if (c.at === c.field.segments.length) {
      for (const v of leaves) if (leafOf(v) !== undefined) return false;
      continue;
    }
    groupOf(c)?.absent.push({ field: c.field, at: c.at + 1 });
  }
  for (const c of present) {
    if (c.at === c.field.segments.length) {
      let found = false;
      for (const v of leaves) {
        const leaf = leafOf(v);
        if (leaf !== undefined && c.field.matchers.some((m) => matchLeaf(m, leaf))) {
          found = true;
          break;
        }
      }
      if (!found) return false;
      continue;
    }
    const g = groupOf(c);
    if (g === undefined) return false;
    g.present.push({ field: c.field, at: c.at + 1 });
  }
  for (const g of groups.values()) if (!sat(g.value, g.present, g.absent)) return false;
  return true;
}

/** Whether `value` (normalized) holds any leaf at the rest of the cursor's path, in any element of any array. */
function anyLeaf(value: unknown, c: Cursor): boolean {
  steps++;
  if (Array.isArray(value)) {
    for (const item of value) if (anyLeaf(item, c)) return true;
    return false;
  }
  if (c.at === c.field.segments.length) {
    if (value instanceof Merged) return value.leaves.some((v) => leafOf(v) !== undefined);
    return leafOf(value) !== undefined;
  }
  if (!(value instanceof Merged) && !isObject(value)) return false;
  const child = childOf(value, c.field.segments[c.at] as string);
  return child !== undefined && anyLeaf(child.value, { field: c.field, at: c.at + 1 });
}

function isScalar(value: unknown): boolean {
  return !Array.isArray(value) && !(value instanceof Merged) && !isObject(value);
}

/**
 * An array, as event-ruler reads it: a leaf that is an element of the array itself belongs to no element of it
 * (only leaves inside its object and array elements do), so a field that ends here may take any such leaf. The
 * fields that go deeper (and those that end here but take no such leaf) must all find their leaves in one element.
 * An absent field must find no leaf that could be taken together with the present fields *before it in path order*
 * (event-ruler checks absence in the sorted order of its fields, against what the fields before have chosen).
 */
function satArray(items: readonly unknown[], present: readonly Cursor[], absent: readonly Cursor[]): boolean {
  if (absent.length === 0 && present.length > 0 && present.every((c) => c.at !== c.field.segments.length)) {
    // The usual case: fields that all go deeper, nothing absent: one element must hold them all.
    for (const item of items) if (!isScalar(item) && sat(item, present, absent)) return true;
    return false;
  }
  const deeper: Cursor[] = [];
  const direct: Cursor[] = [];
  const unmet: Cursor[] = [];
  for (const c of present) {
    if (c.at !== c.field.segments.length) deeper.push(c);
    else {
      const ok = items.some((v) => {
        const leaf = isScalar(v) ? leafOf(v) : undefined;
        return leaf !== undefined && c.field.matchers.some((m) => matchLeaf(m, leaf));
      });
      (ok ? direct : unmet).push(c);
    }
  }
  const attempt = (bound: readonly Cursor[]): boolean => {
    const inside: Cursor[] = [];
    for (const c of absent) {
      // A scalar element at the absent field's path belongs to no element: nothing chosen can exclude it.
      if (c.at === c.field.segments.length && items.some((v) => isScalar(v) && leafOf(v) !== undefined)) {
        return false;
      }
      if (bound.some((p) => p.field.path < c.field.path)) inside.push(c);
      else if (anyLeaf(items, c)) return false;
    }
    if (bound.length === 0) return true;
    for (const item of items) if (!isScalar(item) && sat(item, bound, inside)) return true;
    return false;
  };
  // The fields ending here take a scalar element when they can; taking a leaf inside an element instead only helps
  // an absent field after them in path order, so that is tried second.
  if (attempt([...deeper, ...unmet])) return true;
  if (direct.length === 0 || !absent.some((a) => direct.some((d) => d.field.path < a.field.path)))
    return false;
  return attempt([...deeper, ...unmet, ...direct]);
}

/**
 * Whether, inside `value` (normalized), every present cursor can take a matching leaf, all of them from the same
 * element of every array they share, and no absent cursor has a leaf that could be taken alongside the present
 * fields before it in path order.
 */
function sat(value: unknown, present: readonly Cursor[], absent: readonly Cursor[]): boolean {
  steps++;
  if (Array.isArray(value)) return satArray(value, present, absent);
  if (value instanceof Merged || isObject(value)) return satNode(value, present, absent);
  if (present.length === 0 && absent.length === 0) return true;
  const leaf = leafOf(value);
  for (const c of absent) if (c.at === c.field.segments.length && leaf !== undefined) return false;
  for (const c of present) {
    if (c.at !== c.field.segments.length || leaf === undefined) return false;
    if (!c.field.matchers.some((m) => matchLeaf(m, leaf))) return false;
  }
  return true;
}

/**
 * Whether a sub-pattern holds for an event already passed through `normalizeEvent` (or one without dotted keys on
 * the fields' paths, which is its own normal form). Linear in the part of the event the fields' paths reach.
 */
export function satisfiesNormalized(sub: SubPattern, tree: unknown): boolean {
  if (!(tree instanceof Merged) && !isObject(tree)) return false;
  const present: Cursor[] = [];
  const absent: Cursor[] = [];
  for (const field of sub.fields) (field.mode === 'present' ? present : absent).push({ field, at: 0 });
  return satNode(tree, present, absent);
}

/** Whether a sub-pattern holds for the event (a JSON object). */
export function satisfies(sub: SubPattern, event: unknown): boolean {
  return satisfiesNormalized(sub, normalizeEvent(event));
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
