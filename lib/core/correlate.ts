/**
 * Correlation and absence (a rule's `correlate`, docs/correlation.md): the spec's validation and the pure step
 * functions.
 *
 * A correlation rule watches two kinds of events, `first` (A) and `followedBy` (B), of the same key (a JSON path). Each A
 * opens a pending entry with a deadline: the time the log accepted A plus `within`. A B of the same key accepted
 * before the deadline completes every pending A of its key (`match` mode: one correlated event per A, carrying A and
 * B; `absence` mode: nothing). When the rule's clock reaches a pending A's deadline the A times out (`absence` mode:
 * one timeout event carrying A; `match` mode: it is dropped). The clock is the log's: the greatest record timestamp
 * the rule has seen on its partition, or, when the partition has been read to its end, the bus's time (the engine
 * moves it, `advanceTo`). Nothing here does I/O and everything is deterministic in the records' order and times, so
 * that processing the same records again from the same state gives the same outcomes (the engine relies on it to
 * deduplicate what it publishes).
 */
import { parseDuration } from './aggregate.ts';
import { compileFilter } from './cesql/index.ts';
import { serializeEvent, validateEvent } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { JunctionError } from './errors.ts';
import { toCloudEventsPattern } from './eventbridge-shape.ts';
import { validatePattern } from './pattern/index.ts';
import { parseJsonPath } from './transform.ts';
import { isObject, show } from './values.ts';

/** What selects the A's or the B's: an EventBridge pattern, a CESQL filter, or both (like a rule's own). */
export interface CorrelateSelector {
  readonly pattern?: unknown;
  readonly filter?: string;
}

export type CorrelateMode = 'match' | 'absence';

/** A rule's `correlate`, validated (durations in ms). */
export interface CorrelateSpec {
  readonly first: CorrelateSelector;
  readonly followedBy: CorrelateSelector;
  /** A JSON path into the CloudEvent; events without a value there share the key `""`. */
  readonly key: string;
  /** How long after an A its B may come, in ms of log time. */
  readonly within: number;
  readonly mode: CorrelateMode;
  /** Most A's pending at once per log partition; an A over it is refused (not kept) and counted. */
  readonly maxPending: number;
  readonly emit: { readonly type: string; readonly source: string };
}

/** The stored and shown form (`GET /rules/{name}`): the validated spec, durations in ms, every default filled in. */
export type CorrelateBody = CorrelateSpec;

export const CORRELATE_LIMITS = Object.freeze({
  minWithinMs: 1000,
  maxWithinMs: 31 * 86_400_000,
  maxPending: 1_000_000,
  defaultPending: 100_000,
  maxPathLength: 256,
  /** Keys are cut at this many characters. */
  maxKeyChars: 1024,
  /** An A (or B) whose JSON is longer is carried without its data. */
  maxCarriedChars: 8 * 1024,
});

const CORRELATE_KEYS = new Set(['first', 'followedBy', 'key', 'within', 'mode', 'maxPending', 'emit']);
const EVENT_TYPE = /^[\x21-\x7e]{1,256}$/;

function invalid(message: string, path: string): JunctionError {
  return new JunctionError('InvalidRule', message, { path, field: path });
}

function validateSelector(value: unknown, path: string): CorrelateSelector {
  if (!isObject(value) || (value.pattern === undefined && value.filter === undefined)) {
    throw invalid(
      `${path} must be {"pattern": {…}}, {"filter": "CESQL"} or both, like {"pattern": {"type": ["order.created"]}}`,
      path,
    );
  }
  for (const k of Object.keys(value)) {
    if (k !== 'pattern' && k !== 'filter') {
      throw invalid(`${path}.${k} is not a setting here (allowed: pattern, filter)`, `${path}.${k}`);
    }
  }
  if (value.pattern !== undefined) {
    try {
      validatePattern(value.pattern);
      validatePattern(toCloudEventsPattern(value.pattern));
    } catch (error) {
      throw invalid(`${path}.pattern: ${(error as Error).message}`, `${path}.pattern`);
    }
  }
  if (value.filter !== undefined) {
    if (typeof value.filter !== 'string') {
      throw invalid(`${path}.filter must be a CESQL string, got ${show(value.filter)}`, `${path}.filter`);
    }
    try {
      compileFilter(value.filter, { path: `${path}.filter` });
    } catch (error) {
      throw invalid(`${path}.filter: ${(error as Error).message}`, `${path}.filter`);
    }
  }
  return Object.freeze({
    ...(value.pattern === undefined ? {} : { pattern: structuredClone(value.pattern) }),
    ...(value.filter === undefined ? {} : { filter: value.filter as string }),
  });
}

/** Validates a rule's `correlate` body; `rule` names the default source of the events it publishes. */
export function validateCorrelate(value: unknown, rule: string, path = 'correlate'): CorrelateSpec {
  if (!isObject(value)) throw invalid(`${path} must be an object`, path);
  for (const k of Object.keys(value)) {
    if (!CORRELATE_KEYS.has(k)) {
      throw invalid(
        `${path}.${k} is not a correlation setting (allowed: ${[...CORRELATE_KEYS].join(', ')})`,
        `${path}.${k}`,
      );
    }
  }
  if (value.first === undefined) throw invalid(`${path}.first is required`, `${path}.first`);
  if (value.followedBy === undefined) throw invalid(`${path}.followedBy is required`, `${path}.followedBy`);
  const first = validateSelector(value.first, `${path}.first`);
  const followedBy = validateSelector(value.followedBy, `${path}.followedBy`);
  const key = value.key;
  if (typeof key !== 'string' || key.length === 0 || key.length > CORRELATE_LIMITS.maxPathLength) {
    throw invalid(
      `${path}.key must be a JSON path like "$.data.orderId" of at most ${CORRELATE_LIMITS.maxPathLength} characters, got ${show(key)}`,
      `${path}.key`,
    );
  }
  try {
    parseJsonPath(key);
  } catch (error) {
    throw invalid(`${path}.key: ${(error as Error).message}`, `${path}.key`);
  }
  if (value.within === undefined) throw invalid(`${path}.within is required`, `${path}.within`);
  const within = parseDuration(
    value.within,
    `${path}.within`,
    CORRELATE_LIMITS.minWithinMs,
    CORRELATE_LIMITS.maxWithinMs,
  );
  const mode = value.mode ?? 'match';
  if (mode !== 'match' && mode !== 'absence') {
    throw invalid(`${path}.mode must be "match" or "absence", got ${show(mode)}`, `${path}.mode`);
  }
  const maxPending = value.maxPending ?? CORRELATE_LIMITS.defaultPending;
  if (
    typeof maxPending !== 'number' ||
    !Number.isInteger(maxPending) ||
    maxPending < 1 ||
    maxPending > CORRELATE_LIMITS.maxPending
  ) {
    throw invalid(
      `${path}.maxPending must be an integer from 1 to ${CORRELATE_LIMITS.maxPending}, got ${show(maxPending)}`,
      `${path}.maxPending`,
    );
  }
  const emit = value.emit ?? {};
  if (!isObject(emit)) throw invalid(`${path}.emit must be {"type": …, "source": …}`, `${path}.emit`);
  for (const k of Object.keys(emit)) {
    if (k !== 'type' && k !== 'source') {
      throw invalid(`${path}.emit.${k} is not a setting here (allowed: type, source)`, `${path}.emit.${k}`);
    }
  }
  const type = emit.type ?? (mode === 'match' ? 'junction.correlated' : 'junction.absent');
  const source = emit.source ?? `/correlations/${rule}`;
  for (const [name, v] of [
    ['type', type],
    ['source', source],
  ] as const) {
    if (typeof v !== 'string' || !EVENT_TYPE.test(v)) {
      throw invalid(
        `${path}.emit.${name} must be 1-256 visible ASCII characters, got ${show(v)}`,
        `${path}.emit.${name}`,
      );
    }
  }
  try {
    validateEvent({ specversion: '1.0', id: 'probe', source, type });
  } catch (error) {
    const field = error instanceof JunctionError && error.field === 'type' ? 'type' : 'source';
    throw invalid(`${path}.emit.${field}: ${(error as Error).message}`, `${path}.emit.${field}`);
  }
  return Object.freeze({
    first,
    followedBy,
    key,
    within,
    mode,
    maxPending,
    emit: Object.freeze({ type: type as string, source: source as string }),
  });
}

/** The key text of a resolved value: `""` when absent, JSON text when not a string, cut at `maxKeyChars`. */
export function correlationKey(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > CORRELATE_LIMITS.maxKeyChars ? text.slice(0, CORRELATE_LIMITS.maxKeyChars) : text;
}

/** An event as a correlation carries it: its JSON text, without `data`/`data_base64` when longer than the limit. */
export interface Carried {
  readonly event: string;
  readonly cut: boolean;
}

export function carried(event: CloudEvent): Carried {
  const text = serializeEvent(event);
  if (text.length <= CORRELATE_LIMITS.maxCarriedChars) return { event: text, cut: false };
  const { data: _data, data_base64: _b64, ...rest } = event as Record<string, unknown>;
  return { event: JSON.stringify(rest), cut: true };
}

// ---------------------------------------------------------------------------------------------------------------
// State and step
// ---------------------------------------------------------------------------------------------------------------

/** One pending A. */
export interface PendingFirst {
  /** A's log offset (unique on the partition). */
  readonly offset: number;
  readonly key: string;
  /** When the log accepted A. */
  readonly time: number;
  /** `time + within`: A times out when the clock reaches it. */
  readonly deadline: number;
  /** A's JSON text (without data when it was longer than `maxCarriedChars`: then `cut`). */
  readonly event: string;
  readonly cut: boolean;
}

/**
 * The state of one rule on one log partition, mutated in place; `changed` collects what a store must write (a
 * pending A, or null for one removed), drained by the caller.
 */
export interface CorrelateState {
  /** The rule's clock: the log time it has reached, or null before anything. */
  clock: number | null;
  /** A's refused over `maxPending`, ever. */
  overflow: number;
  readonly pending: Map<number, PendingFirst>;
  /** Per key, its pending A's offsets, oldest first. */
  readonly byKey: Map<string, number[]>;
  /** Pending A's by deadline (a binary heap of [deadline, offset]; entries of completed A's are skipped). */
  readonly heap: Array<readonly [number, number]>;
  readonly changed: Map<number, PendingFirst | null>;
  /** Whether `clock` or `overflow` changed since the caller last drained `changed`. */
  metaChanged: boolean;
}

export function newCorrelateState(): CorrelateState {
  return {
    clock: null,
    overflow: 0,
    pending: new Map(),
    byKey: new Map(),
    heap: [],
    changed: new Map(),
    metaChanged: false,
  };
}

/** Rebuilds a state from what a store kept. */
export function restoreCorrelateState(
  meta: { clock: number | null; overflow: number },
  pending: Iterable<PendingFirst>,
): CorrelateState {
  const state = newCorrelateState();
  state.clock = meta.clock;
  state.overflow = meta.overflow;
  const sorted = [...pending].sort((a, b) => a.offset - b.offset);
  for (const p of sorted) add(state, p, false);
  return state;
}

function less(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function heapPush(heap: Array<readonly [number, number]>, item: readonly [number, number]): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const a = heap[i] as readonly [number, number];
    const b = heap[parent] as readonly [number, number];
    if (!less(a, b)) break;
    heap[i] = b;
    heap[parent] = a;
    i = parent;
  }
}

function heapPop(heap: Array<readonly [number, number]>): void {
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return;
  heap[0] = last;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && less(heap[l] as readonly [number, number], heap[m] as readonly [number, number]))
      m = l;
    if (r < heap.length && less(heap[r] as readonly [number, number], heap[m] as readonly [number, number]))
      m = r;
    if (m === i) return;
    const t = heap[i] as readonly [number, number];
    heap[i] = heap[m] as readonly [number, number];
    heap[m] = t;
    i = m;
  }
}

function add(state: CorrelateState, p: PendingFirst, changed = true): void {
  state.pending.set(p.offset, p);
  const list = state.byKey.get(p.key);
  if (list === undefined) state.byKey.set(p.key, [p.offset]);
  else list.push(p.offset);
  heapPush(state.heap, [p.deadline, p.offset]);
  if (changed) state.changed.set(p.offset, p);
}

function remove(state: CorrelateState, p: PendingFirst): void {
  state.pending.delete(p.offset);
  const list = state.byKey.get(p.key);
  if (list !== undefined) {
    const i = list.indexOf(p.offset);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) state.byKey.delete(p.key);
  }
  // (One added in this batch is deleted though never written: a delete of nothing.)
  state.changed.set(p.offset, null);
}

/**
 * Moves the clock to `time` (never back) and takes the pending A's whose deadline it reached, oldest deadline first
 * (ties: log order): they have timed out.
 */
export function advanceTo(state: CorrelateState, time: number): PendingFirst[] {
  if (state.clock === null || time > state.clock) {
    state.clock = time;
    state.metaChanged = true;
  }
  const clock = state.clock;
  const out: PendingFirst[] = [];
  for (;;) {
    const top = state.heap[0];
    if (top === undefined || top[0] > clock) break;
    heapPop(state.heap);
    const p = state.pending.get(top[1]);
    if (p === undefined) continue; // completed by a B meanwhile
    remove(state, p);
    out.push(p);
  }
  return out;
}

/** One record as a correlation rule reads it. */
export interface CorrelateInput {
  readonly offset: number;
  /** When the log accepted it. */
  readonly time: number;
  readonly key: string;
  readonly isFirst: boolean;
  readonly isThen: boolean;
  /** The event as carried (`carried`), for a pending A (read only when `isFirst`). */
  readonly event: () => Carried;
}

export interface CorrelateStepResult {
  /** A's that timed out before this record (its time reached their deadline). */
  readonly timedOut: PendingFirst[];
  /** A's this record (a B) completed, oldest first. */
  readonly completed: PendingFirst[];
  /** Whether the record, an A, was kept pending, or refused (over `maxPending`). */
  readonly started?: 'pending' | 'overflow';
}

/**
 * Applies one record: first the clock moves to its time (timing out the A's whose deadline it reached — a B exactly
 * `within` after its A is too late), then as a B it completes every pending A of its key, then as an A it opens a
 * pending entry (so an event that is both closes the earlier A's of its key and waits for a B of its own).
 */
export function correlateStep(
  spec: CorrelateSpec,
  state: CorrelateState,
  input: CorrelateInput,
): CorrelateStepResult {
  const timedOut = advanceTo(state, input.time);
  const completed: PendingFirst[] = [];
  if (input.isThen) {
    const offsets = state.byKey.get(input.key);
    if (offsets !== undefined) {
      for (const offset of [...offsets]) {
        const p = state.pending.get(offset) as PendingFirst;
        remove(state, p);
        completed.push(p);
      }
    }
  }
  let started: CorrelateStepResult['started'];
  if (input.isFirst) {
    if (state.pending.size >= spec.maxPending) {
      state.overflow++;
      state.metaChanged = true;
      started = 'overflow';
    } else {
      add(state, {
        offset: input.offset,
        key: input.key,
        time: input.time,
        deadline: input.time + spec.within,
        ...input.event(),
      });
      started = 'pending';
    }
  }
  return started === undefined ? { timedOut, completed } : { timedOut, completed, started };
}
