/**
 * Aggregation windows (a rule's `aggregate`, docs/aggregation.md): the spec's validation and the pure step functions.
 *
 * The events a rule selects are grouped by a key (a JSON path) and folded into event-time windows (tumbling, hopping
 * or session). The watermark of a rule on a log partition is the greatest event time seen there minus the allowed
 * lateness; a window closes once the watermark reaches its end, and an event whose every window has closed is late:
 * dropped and counted. `step` folds one event into the state and answers the windows it closed; nothing here does I/O
 * and everything is deterministic in the events' order, so that processing the same events again from the same state
 * closes the same windows (the engine relies on it to deduplicate what it publishes).
 */
import {
  type Accumulator,
  AGGREGATE_KINDS,
  type AggregateFunction,
  accumulate,
  capped,
  newAccumulator,
  result,
  setSketchBins,
  sketchBins,
} from './aggregate-functions.ts';
import { validateEvent } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { rawDataText } from './codec/raw-data.ts';
import { JunctionError } from './errors.ts';
import { parseJsonPath, resolvePath } from './transform.ts';
import { isObject, show } from './values.ts';

export type { AggregateFunction } from './aggregate-functions.ts';

export type WindowSpec =
  | { readonly kind: 'tumbling'; readonly size: number }
  | { readonly kind: 'hopping'; readonly size: number; readonly advance: number }
  | { readonly kind: 'session'; readonly gap: number };

/** A rule's `aggregate`, validated (durations in ms). */
export interface AggregateSpec {
  /** A JSON path into the CloudEvent (`$.data.region`, `$.subject`); events without a value share the key `""`. */
  readonly groupBy: string;
  readonly window: WindowSpec;
  /** How far behind the greatest event time seen an event may be and still count. @default 0 */
  readonly allowedLateness: number;
  /** Most windows open at once per log partition; an event that would open one more is dropped and counted. */
  readonly maxOpenWindows: number;
  /** Output name → function. */
  readonly aggregates: Readonly<Record<string, AggregateFunction>>;
  /** The CloudEvent published per closed window. */
  readonly emit: { readonly type: string; readonly source: string };
  /**
   * Late events: `drop` (counted), or `correct`: a closed window is kept `correctFor` ms of watermark after its end,
   * and each late event within it folds into the window and publishes its corrected result (a new revision).
   */
  readonly late: 'drop' | 'correct';
  /** With `late: "correct"`: how long (in watermark time) after its end a closed window takes corrections. */
  readonly correctFor: number;
}

export const AGGREGATE_LIMITS = Object.freeze({
  maxAggregates: 20,
  /** Largest `maxOpenWindows`, and its default. */
  maxOpenWindows: 1_000_000,
  defaultOpenWindows: 100_000,
  /** Window sizes and gaps: from 1 s to 31 days. */
  minWindowMs: 1000,
  maxWindowMs: 31 * 86_400_000,
  /** Allowed lateness: up to 7 days (and `correctFor`). */
  maxLatenessMs: 7 * 86_400_000,
  /** `correctFor` when `late` is "correct" and it is not given: 10 minutes. */
  defaultCorrectForMs: 600_000,
  /** A hopping window's size / advance: how many windows one event falls in. */
  maxWindowsPerEvent: 100,
  maxDistinct: 10_000,
  defaultDistinct: 1000,
  maxNameLength: 64,
  maxPathLength: 256,
});

const AGGREGATE_KEYS = new Set([
  'groupBy',
  'window',
  'allowedLateness',
  'maxOpenWindows',
  'aggregates',
  'emit',
  'late',
  'correctFor',
]);
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const EVENT_TYPE = /^[\x21-\x7e]{1,256}$/;

function invalid(message: string, path: string): JunctionError {
  return new JunctionError('InvalidRule', message, { path, field: path });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: `"90s"`, `"5m"`, `"1h"`, `"1d"`, `"500ms"`, or a number of milliseconds. */
export function parseDuration(value: unknown, path: string, min: number, max: number): number {
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) ms = value;
  else if (typeof value === 'string') {
    const m = /^(\d{1,12})(ms|s|m|h|d)$/.exec(value);
    if (m !== null) ms = Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  if (ms === undefined) {
    throw invalid(
      `${path} must be a duration like "30s", "5m", "1h", "1d" (or milliseconds), got ${show(value)}`,
      path,
    );
  }
  if (ms < min || ms > max) throw invalid(`${path} must be from ${min} ms to ${max} ms, got ${ms} ms`, path);
  return ms;
}

function checkPath(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > AGGREGATE_LIMITS.maxPathLength) {
    throw invalid(
      `${path} must be a JSON path like "$.data.amount" of at most ${AGGREGATE_LIMITS.maxPathLength} characters, got ${show(value)}`,
      path,
    );
  }
  try {
    parseJsonPath(value);
  } catch (error) {
    throw invalid(`${path}: ${(error as Error).message}`, path);
  }
  return value;
}

function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(value)) {
    if (!allowed.includes(k)) {
      throw invalid(`${path}.${k} is not a setting here (allowed: ${allowed.join(', ')})`, `${path}.${k}`);
    }
  }
}

function validateWindow(value: unknown, path: string): WindowSpec {
  const { minWindowMs: min, maxWindowMs: max } = AGGREGATE_LIMITS;
  if (!isObject(value) || Object.keys(value).length !== 1) {
    throw invalid(
      `${path} must be one of {"tumbling": "1m"}, {"hopping": {"size": "5m", "advance": "1m"}}, {"session": {"gap": "30s"}}`,
      path,
    );
  }
  if (value.tumbling !== undefined)
    return { kind: 'tumbling', size: parseDuration(value.tumbling, `${path}.tumbling`, min, max) };
  if (value.hopping !== undefined) {
    const h = value.hopping;
    if (!isObject(h)) throw invalid(`${path}.hopping must be {"size": …, "advance": …}`, `${path}.hopping`);
    onlyKeys(h, ['size', 'advance'], `${path}.hopping`);
    const size = parseDuration(h.size, `${path}.hopping.size`, min, max);
    const advance = parseDuration(h.advance, `${path}.hopping.advance`, min, size);
    if (size % advance !== 0 || size / advance > AGGREGATE_LIMITS.maxWindowsPerEvent) {
      throw invalid(
        `${path}.hopping.size must be a multiple of advance, at most ${AGGREGATE_LIMITS.maxWindowsPerEvent} times it`,
        `${path}.hopping.size`,
      );
    }
    return { kind: 'hopping', size, advance };
  }
  if (value.session !== undefined) {
    const s = value.session;
    if (!isObject(s)) throw invalid(`${path}.session must be {"gap": …}`, `${path}.session`);
    onlyKeys(s, ['gap'], `${path}.session`);
    return { kind: 'session', gap: parseDuration(s.gap, `${path}.session.gap`, min, max) };
  }
  throw invalid(`${path} must say tumbling, hopping or session, got ${show(Object.keys(value)[0])}`, path);
}

function validateFunction(value: unknown, path: string): AggregateFunction {
  if (!isObject(value) || Object.keys(value).length !== 1) {
    throw invalid(`${path} must be one function, like {"count": {}} or {"sum": "$.data.amount"}`, path);
  }
  const kind = Object.keys(value)[0] as string;
  const arg = value[kind];
  const at = `${path}.${kind}`;
  switch (kind) {
    case 'count':
      if (!isObject(arg) || Object.keys(arg).length > 0)
        throw invalid(`${at} takes no settings: {"count": {}}`, at);
      return { kind };
    case 'sum':
    case 'min':
    case 'max':
    case 'avg':
    case 'first':
    case 'last':
      return { kind, path: checkPath(arg, at) };
    case 'distinctCount': {
      if (typeof arg === 'string')
        return { kind, path: checkPath(arg, at), limit: AGGREGATE_LIMITS.defaultDistinct };
      if (!isObject(arg)) throw invalid(`${at} must be a path or {"path": …, "limit": …}`, at);
      onlyKeys(arg, ['path', 'limit'], at);
      const limit = arg.limit ?? AGGREGATE_LIMITS.defaultDistinct;
      if (
        typeof limit !== 'number' ||
        !Number.isInteger(limit) ||
        limit < 1 ||
        limit > AGGREGATE_LIMITS.maxDistinct
      ) {
        throw invalid(
          `${at}.limit must be an integer from 1 to ${AGGREGATE_LIMITS.maxDistinct}, got ${show(limit)}`,
          `${at}.limit`,
        );
      }
      return { kind, path: checkPath(arg.path, `${at}.path`), limit };
    }
    case 'percentile': {
      if (!isObject(arg)) throw invalid(`${at} must be {"path": "$.data.ms", "p": 0.99}`, at);
      onlyKeys(arg, ['path', 'p'], at);
      if (typeof arg.p !== 'number' || !(arg.p >= 0 && arg.p <= 1)) {
        throw invalid(`${at}.p must be a number from 0 to 1, got ${show(arg.p)}`, `${at}.p`);
      }
      return { kind, path: checkPath(arg.path, `${at}.path`), p: arg.p };
    }
    default:
      throw invalid(`${path}: unknown function ${show(kind)} (known: ${AGGREGATE_KINDS.join(', ')})`, at);
  }
}

/** Validates a rule's `aggregate` body; `rule` names the default source of the events it publishes. */
export function validateAggregate(value: unknown, rule: string, path = 'aggregate'): AggregateSpec {
  if (!isObject(value)) throw invalid(`${path} must be an object`, path);
  for (const k of Object.keys(value)) {
    if (!AGGREGATE_KEYS.has(k)) {
      throw invalid(
        `${path}.${k} is not an aggregation setting (allowed: ${[...AGGREGATE_KEYS].join(', ')})`,
        `${path}.${k}`,
      );
    }
  }
  const groupBy = value.groupBy === undefined ? '$.source' : checkPath(value.groupBy, `${path}.groupBy`);
  if (value.window === undefined) throw invalid(`${path}.window is required`, `${path}.window`);
  const window = validateWindow(value.window, `${path}.window`);
  const allowedLateness =
    value.allowedLateness === undefined
      ? 0
      : parseDuration(value.allowedLateness, `${path}.allowedLateness`, 0, AGGREGATE_LIMITS.maxLatenessMs);
  const maxOpenWindows = value.maxOpenWindows ?? AGGREGATE_LIMITS.defaultOpenWindows;
  if (
    typeof maxOpenWindows !== 'number' ||
    !Number.isInteger(maxOpenWindows) ||
    maxOpenWindows < 1 ||
    maxOpenWindows > AGGREGATE_LIMITS.maxOpenWindows
  ) {
    throw invalid(
      `${path}.maxOpenWindows must be an integer from 1 to ${AGGREGATE_LIMITS.maxOpenWindows}, got ${show(maxOpenWindows)}`,
      `${path}.maxOpenWindows`,
    );
  }
  const body = value.aggregates;
  if (!isObject(body) || Object.keys(body).length === 0) {
    throw invalid(
      `${path}.aggregates must name at least one aggregate, like {"n": {"count": {}}}`,
      `${path}.aggregates`,
    );
  }
  const names = Object.keys(body);
  if (names.length > AGGREGATE_LIMITS.maxAggregates) {
    throw invalid(
      `${path}.aggregates has at most ${AGGREGATE_LIMITS.maxAggregates} entries, got ${names.length}`,
      `${path}.aggregates`,
    );
  }
  const aggregates: Record<string, AggregateFunction> = {};
  for (const name of names) {
    const at = `${path}.aggregates.${name}`;
    if (!OUTPUT_NAME.test(name) || name === 'key' || name === 'window') {
      throw invalid(`${at}: an aggregate's name is 1-64 letters, digits or "_" (not "key" or "window")`, at);
    }
    aggregates[name] = Object.freeze(validateFunction(body[name], at));
  }
  const emit = value.emit ?? {};
  if (!isObject(emit)) throw invalid(`${path}.emit must be {"type": …, "source": …}`, `${path}.emit`);
  onlyKeys(emit, ['type', 'source'], `${path}.emit`);
  const type = emit.type ?? 'junction.aggregate';
  const source = emit.source ?? `/aggregations/${rule}`;
  if (typeof type !== 'string' || !EVENT_TYPE.test(type)) {
    throw invalid(
      `${path}.emit.type must be 1-256 visible ASCII characters, got ${show(type)}`,
      `${path}.emit.type`,
    );
  }
  if (typeof source !== 'string' || !EVENT_TYPE.test(source)) {
    throw invalid(
      `${path}.emit.source must be 1-256 visible ASCII characters, got ${show(source)}`,
      `${path}.emit.source`,
    );
  }
  // The events it publishes must pass the same checks as any event (a source is a URI-reference).
  try {
    validateEvent({ specversion: '1.0', id: 'probe', source, type });
  } catch (error) {
    const field = error instanceof JunctionError && error.field === 'type' ? 'type' : 'source';
    throw invalid(`${path}.emit.${field}: ${(error as Error).message}`, `${path}.emit.${field}`);
  }
  const late = value.late ?? 'drop';
  if (late !== 'drop' && late !== 'correct') {
    throw invalid(`${path}.late must be "drop" or "correct", got ${show(late)}`, `${path}.late`);
  }
  if (late === 'correct' && window.kind === 'session') {
    throw invalid(
      `${path}.late: "correct" works with tumbling and hopping windows (a late event may not reopen a session)`,
      `${path}.late`,
    );
  }
  if (late === 'drop' && value.correctFor !== undefined) {
    throw invalid(`${path}.correctFor needs "late": "correct"`, `${path}.correctFor`);
  }
  const correctFor =
    late === 'drop'
      ? 0
      : value.correctFor === undefined
        ? AGGREGATE_LIMITS.defaultCorrectForMs
        : parseDuration(value.correctFor, `${path}.correctFor`, 1000, AGGREGATE_LIMITS.maxLatenessMs);
  return Object.freeze({
    groupBy,
    window: Object.freeze(window),
    allowedLateness,
    maxOpenWindows,
    aggregates: Object.freeze(aggregates),
    emit: Object.freeze({ type, source }),
    late,
    correctFor,
  });
}

/**
 * A rule's `aggregate` as stored and shown (`GET /rules/{name}`): the body's own form with every default filled in and
 * durations in milliseconds, so that a rule read back and PUT again is the same rule.
 */
export interface AggregateBody {
  readonly groupBy: string;
  readonly window:
    | { readonly tumbling: number }
    | { readonly hopping: { readonly size: number; readonly advance: number } }
    | { readonly session: { readonly gap: number } };
  readonly allowedLateness: number;
  readonly maxOpenWindows: number;
  readonly aggregates: Readonly<Record<string, unknown>>;
  readonly emit: { readonly type: string; readonly source: string };
  /** Only when "correct" (a rule that drops late events is stored as before). */
  readonly late?: 'correct';
  readonly correctFor?: number;
}

/** The stored form of a validated spec (see `AggregateBody`). */
export function aggregateBody(spec: AggregateSpec): AggregateBody {
  const w = spec.window;
  const window =
    w.kind === 'tumbling'
      ? { tumbling: w.size }
      : w.kind === 'hopping'
        ? { hopping: { size: w.size, advance: w.advance } }
        : { session: { gap: w.gap } };
  const aggregates: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(spec.aggregates)) {
    aggregates[name] =
      fn.kind === 'count'
        ? { count: {} }
        : fn.kind === 'distinctCount'
          ? { distinctCount: { path: fn.path, limit: fn.limit } }
          : fn.kind === 'percentile'
            ? { percentile: { path: fn.path, p: fn.p } }
            : { [fn.kind]: fn.path };
  }
  return {
    groupBy: spec.groupBy,
    window,
    allowedLateness: spec.allowedLateness,
    maxOpenWindows: spec.maxOpenWindows,
    aggregates,
    emit: { ...spec.emit },
    ...(spec.late === 'correct' ? { late: 'correct' as const, correctFor: spec.correctFor } : {}),
  };
}

/** How long a window lasts (a session's gap for sessions). */
export function windowSpan(window: WindowSpec): number {
  return window.kind === 'session' ? window.gap : window.size;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading events
// ---------------------------------------------------------------------------------------------------------------

/** What an aggregation reads of one event: its key, its event time and each aggregate's value. */
export interface AggregateInput {
  readonly key: string;
  readonly time: number;
  /** In the order of the spec's aggregates. */
  readonly values: readonly unknown[];
}

const MAX_KEY_CHARS = 1024;

/**
 * Event times a window can hold: a window's ends stay within a Date's range (±8.64e15 ms) when the event time is at
 * least the longest window inside it. An event with a time outside takes the log's time.
 */
const MAX_EVENT_TIME = 8.64e15 - 2 * AGGREGATE_LIMITS.maxWindowMs;

function keyText(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > MAX_KEY_CHARS ? text.slice(0, MAX_KEY_CHARS) : text;
}

/** Compiles a spec's reader: the event's key, time (`time`, else `fallbackTime`) and values, parsing `data` once. */
export function compileReader(
  spec: AggregateSpec,
): (event: CloudEvent, fallbackTime: number) => AggregateInput {
  const key = parseJsonPath(spec.groupBy);
  const paths = Object.values(spec.aggregates).map((fn) =>
    'path' in fn ? parseJsonPath(fn.path) : undefined,
  );
  return (event, fallbackTime) => {
    let doc: unknown = event;
    const raw = rawDataText(event);
    if (raw !== undefined) {
      try {
        doc = { ...event, data: JSON.parse(raw) };
      } catch {
        doc = event;
      }
    }
    const parsed = typeof event.time === 'string' ? Date.parse(event.time) : Number.NaN;
    return {
      key: keyText(resolvePath(doc, key)),
      time: Number.isFinite(parsed) && Math.abs(parsed) <= MAX_EVENT_TIME ? parsed : fallbackTime,
      values: paths.map((p) => (p === undefined ? undefined : resolvePath(doc, p))),
    };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// State and step
// ---------------------------------------------------------------------------------------------------------------

/** One open window of one key. */
export interface OpenWindow {
  readonly key: string;
  readonly start: number;
  end: number;
  /** One per aggregate, in the spec's order. */
  readonly acc: Accumulator[];
  /**
   * Set once the window has closed and is kept for corrections (`late: "correct"`): the revision last published (0
   * for the result at the close).
   */
  rev?: number;
}

/** A closed window's output: the data of the event the bus publishes. */
export interface ClosedWindow {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  readonly aggregates: Record<string, unknown>;
  /** The `distinctCount` aggregates that reached their limit (their value is a lower bound). */
  readonly capped?: string[];
  /** A correction of a window published before (`late: "correct"`): 1 for the first, and so on. */
  readonly revision?: number;
}

/**
 * The state of one rule on one log partition. The window map's keys are `windowId`s. It is mutated in place (for
 * speed); `changed` collects what a store must write (a window, or null for one removed), drained by the caller.
 */
export interface AggregateState {
  /** Greatest event time seen, or null before the first event. */
  maxTime: number | null;
  /** Events dropped as late, ever. */
  late: number;
  /** Events dropped because `maxOpenWindows` windows were open, ever. */
  overflow: number;
  readonly windows: Map<string, OpenWindow>;
  /** Per key, its open windows' ids (sessions are found by key). */
  readonly byKey: Map<string, Set<string>>;
  /** Open windows by end (a binary heap of [end, id]; entries of windows since closed or moved are skipped). */
  readonly heap: Array<readonly [number, string]>;
  readonly changed: Map<string, OpenWindow | null>;
  /** Whether `maxTime`, `late` or `overflow` changed since the caller last drained `changed`. */
  metaChanged: boolean;
}

export function windowId(key: string, start: number): string {
  return `${start}\u0000${key}`;
}

export function newState(): AggregateState {
  return {
    maxTime: null,
    late: 0,
    overflow: 0,
    windows: new Map(),
    byKey: new Map(),
    heap: [],
    changed: new Map(),
    metaChanged: false,
  };
}

/** Rebuilds a state from what a store kept. */
export function restoreState(
  meta: { maxTime: number | null; late: number; overflow: number },
  windows: Iterable<OpenWindow>,
  correctFor = 0,
): AggregateState {
  const state = newState();
  state.maxTime = meta.maxTime;
  state.late = meta.late;
  state.overflow = meta.overflow;
  for (const w of windows) addWindow(state, w, false, correctFor);
  return state;
}

/** When a window leaves the state: at its end while open, `correctFor` later once closed and kept. */
function leavesAt(w: OpenWindow, correctFor: number): number {
  return w.rev === undefined ? w.end : w.end + correctFor;
}

export function watermark(spec: AggregateSpec, state: AggregateState): number {
  return state.maxTime === null ? Number.NEGATIVE_INFINITY : state.maxTime - spec.allowedLateness;
}

function heapLess(a: readonly [number, string], b: readonly [number, string]): boolean {
  return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
}

function heapPush(heap: Array<readonly [number, string]>, item: readonly [number, string]): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!heapLess(heap[i] as readonly [number, string], heap[parent] as readonly [number, string])) break;
    [heap[i], heap[parent]] = [
      heap[parent] as readonly [number, string],
      heap[i] as readonly [number, string],
    ];
    i = parent;
  }
}

function heapPop(heap: Array<readonly [number, string]>): readonly [number, string] | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (
        l < heap.length &&
        heapLess(heap[l] as readonly [number, string], heap[m] as readonly [number, string])
      )
        m = l;
      if (
        r < heap.length &&
        heapLess(heap[r] as readonly [number, string], heap[m] as readonly [number, string])
      )
        m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as readonly [number, string], heap[i] as readonly [number, string]];
      i = m;
    }
  }
  return top;
}

function addWindow(state: AggregateState, w: OpenWindow, changed = true, correctFor = 0): void {
  const id = windowId(w.key, w.start);
  state.windows.set(id, w);
  let ids = state.byKey.get(w.key);
  if (ids === undefined) {
    ids = new Set();
    state.byKey.set(w.key, ids);
  }
  ids.add(id);
  heapPush(state.heap, [leavesAt(w, correctFor), id]);
  if (changed) state.changed.set(id, w);
}

function removeWindow(state: AggregateState, w: OpenWindow): void {
  const id = windowId(w.key, w.start);
  state.windows.delete(id);
  const ids = state.byKey.get(w.key);
  ids?.delete(id);
  if (ids?.size === 0) state.byKey.delete(w.key);
  state.changed.set(id, null);
}

function output(spec: AggregateSpec, w: OpenWindow, revision = 0): ClosedWindow {
  const aggregates: Record<string, unknown> = {};
  const cappedNames: string[] = [];
  Object.entries(spec.aggregates).forEach(([name, fn], i) => {
    const acc = w.acc[i] as Accumulator;
    aggregates[name] = result(fn, acc);
    if (capped(acc)) cappedNames.push(name);
  });
  return {
    key: w.key,
    start: w.start,
    end: w.end,
    aggregates,
    ...(cappedNames.length > 0 ? { capped: cappedNames } : {}),
    ...(revision > 0 ? { revision } : {}),
  };
}

function fold(spec: AggregateSpec, w: OpenWindow, input: AggregateInput): void {
  Object.values(spec.aggregates).forEach((fn, i) => {
    accumulate(fn, w.acc[i] as Accumulator, input.values[i], input.time);
  });
}

function freshAccumulators(spec: AggregateSpec): Accumulator[] {
  return Object.keys(spec.aggregates).map(() => newAccumulator());
}

/** The [start, end) windows an event time falls in (tumbling, hopping), oldest first. */
export function windowsOf(window: WindowSpec, time: number): Array<[number, number]> {
  if (window.kind === 'session') return [[time, time + window.gap]];
  const advance = window.kind === 'tumbling' ? window.size : window.advance;
  const last = Math.floor(time / advance) * advance;
  const out: Array<[number, number]> = [];
  for (let start = last - window.size + advance; start <= last; start += advance)
    out.push([start, start + window.size]);
  return out;
}

/** Outcome of one event: the windows it closed (in end order), and whether it was dropped (late, or over the limit). */
export interface StepResult {
  readonly closed: ClosedWindow[];
  readonly dropped?: 'late' | 'overflow';
}

/**
 * Folds one event into the state: into each of its windows still open (a late event, whose every window has closed,
 * is dropped and counted), then moves the watermark and closes the windows it passed.
 */
export function step(spec: AggregateSpec, state: AggregateState, input: AggregateInput): StepResult {
  const mark = watermark(spec, state);
  let dropped: StepResult['dropped'];
  const corrected: ClosedWindow[] = [];
  if (spec.window.kind === 'session') dropped = stepSession(spec, state, input, mark);
  else {
    let taken = false;
    for (const [start, end] of windowsOf(spec.window, input.time)) {
      const id = windowId(input.key, start);
      if (end <= mark) {
        // Closed. With corrections, a window still within `correctFor` takes the event and publishes again.
        if (spec.late !== 'correct' || end + spec.correctFor <= mark) continue;
        let w = state.windows.get(id);
        if (w === undefined) {
          // It closed with no event of this key: its first result is a correction (revision 1).
          if (state.windows.size >= spec.maxOpenWindows) {
            dropped ??= 'overflow';
            continue;
          }
          w = { key: input.key, start, end, acc: freshAccumulators(spec), rev: 0 };
          addWindow(state, w, true, spec.correctFor);
        } else state.changed.set(id, w);
        fold(spec, w, input);
        w.rev = (w.rev ?? 0) + 1;
        corrected.push(output(spec, w, w.rev));
        taken = true;
        continue;
      }
      let w = state.windows.get(id);
      if (w === undefined) {
        if (state.windows.size >= spec.maxOpenWindows) {
          dropped ??= 'overflow';
          continue;
        }
        w = { key: input.key, start, end, acc: freshAccumulators(spec) };
        addWindow(state, w);
      } else state.changed.set(id, w);
      fold(spec, w, input);
      taken = true;
    }
    if (taken) dropped = undefined;
    else dropped ??= 'late';
  }
  if (dropped === 'late') state.late++;
  else if (dropped === 'overflow') state.overflow++;
  if (dropped !== undefined) state.metaChanged = true;
  if (state.maxTime === null || input.time > state.maxTime) {
    state.maxTime = input.time;
    state.metaChanged = true;
  }
  const closed = corrected.length === 0 ? advance(spec, state) : [...corrected, ...advance(spec, state)];
  return dropped === undefined ? { closed } : { closed, dropped };
}

function stepSession(
  spec: AggregateSpec,
  state: AggregateState,
  input: AggregateInput,
  mark: number,
): StepResult['dropped'] {
  const gap = (spec.window as { gap: number }).gap;
  const end = input.time + gap;
  // The key's sessions this event touches: [start, end) with start <= time + gap and end >= time (then they merge).
  const touching: OpenWindow[] = [];
  for (const id of state.byKey.get(input.key) ?? []) {
    const w = state.windows.get(id) as OpenWindow;
    if (w.start <= end && w.end >= input.time) touching.push(w);
  }
  if (touching.length === 0) {
    // Late: it would open a session that has already ended (an event inside an open session still joins it).
    if (end <= mark) return 'late';
    if (state.windows.size >= spec.maxOpenWindows) return 'overflow';
    const w: OpenWindow = { key: input.key, start: input.time, end, acc: freshAccumulators(spec) };
    fold(spec, w, input);
    addWindow(state, w);
    return undefined;
  }
  touching.sort((a, b) => a.start - b.start);
  const first = touching[0] as OpenWindow;
  const start = Math.min(first.start, input.time);
  const merged: OpenWindow = {
    key: input.key,
    start,
    end: Math.max(end, ...touching.map((w) => w.end)),
    acc: first.acc,
  };
  // Sessions this event bridges merge: their accumulators combine, in start order.
  for (const w of touching.slice(1)) combine(spec, merged.acc, w.acc);
  for (const w of touching) removeWindow(state, w);
  fold(spec, merged, input);
  addWindow(state, merged);
  return undefined;
}

/** Merges accumulator `b` (a later session) into `a`. */
function combine(spec: AggregateSpec, a: Accumulator[], b: Accumulator[]): void {
  Object.values(spec.aggregates).forEach((fn, i) => {
    const x = a[i] as Accumulator;
    const y = b[i] as Accumulator;
    if (y.n === 0 && y.d === undefined) return;
    switch (fn.kind) {
      case 'count':
        x.n += y.n;
        return;
      case 'sum':
      case 'avg':
        x.v = ((x.v as number | undefined) ?? 0) + ((y.v as number | undefined) ?? 0);
        x.n += y.n;
        return;
      case 'min':
      case 'max':
        if (
          x.n === 0 ||
          (fn.kind === 'min' ? (y.v as number) < (x.v as number) : (y.v as number) > (x.v as number))
        )
          x.v = y.v;
        x.n += y.n;
        return;
      case 'first':
      case 'last':
        if (
          x.n === 0 ||
          (fn.kind === 'first' ? (y.t as number) < (x.t as number) : (y.t as number) >= (x.t as number))
        ) {
          x.v = y.v;
          x.t = y.t as number;
        }
        x.n += y.n;
        return;
      case 'distinctCount':
        for (const value of y.d ?? []) {
          const d = x.d ?? [];
          x.d = d;
          if (d.includes(value)) continue;
          if (d.length >= fn.limit) {
            x.c = true;
            break;
          }
          d.push(value);
        }
        x.d?.sort();
        if (y.c === true) x.c = true;
        x.n = x.d?.length ?? 0;
        return;
      case 'percentile':
        mergeSketch(x, y);
        return;
    }
  });
}

function mergeSketch(x: Accumulator, y: Accumulator): void {
  const ys = sketchBins(y);
  if (ys === undefined) return;
  const xs = sketchBins(x);
  if (xs === undefined) {
    setSketchBins(x, ys);
    x.n = y.n;
    return;
  }
  const add = (into: number[], from: number[]) => {
    const m = new Map<number, number>();
    for (let i = 0; i + 1 < into.length; i += 2) m.set(into[i] as number, into[i + 1] as number);
    for (let i = 0; i + 1 < from.length; i += 2)
      m.set(from[i] as number, (m.get(from[i] as number) ?? 0) + (from[i + 1] as number));
    return [...m.entries()].sort((p, q) => p[0] - q[0]).flat();
  };
  setSketchBins(x, { z: xs.z + ys.z, p: add(xs.p, ys.p), m: add(xs.m, ys.m) });
  x.n += y.n;
}

/** Closes the windows the watermark has passed, in (end, key, start) order. */
export function advance(spec: AggregateSpec, state: AggregateState): ClosedWindow[] {
  const mark = watermark(spec, state);
  const closed: ClosedWindow[] = [];
  for (;;) {
    const top = state.heap[0];
    if (top === undefined || top[0] > mark) break;
    heapPop(state.heap);
    const w = state.windows.get(top[1]);
    // A window merged away or moved (a session that grew) left its old heap entry behind.
    if (w === undefined || leavesAt(w, spec.correctFor) !== top[0]) continue;
    if (w.rev !== undefined) {
      removeWindow(state, w); // kept for corrections until now
      continue;
    }
    closed.push(output(spec, w));
    if (spec.late === 'correct') {
      // Kept (it still counts against maxOpenWindows) until the watermark passes its end + correctFor.
      w.rev = 0;
      state.changed.set(windowId(w.key, w.start), w);
      heapPush(state.heap, [leavesAt(w, spec.correctFor), windowId(w.key, w.start)]);
    } else removeWindow(state, w);
  }
  return closed;
}
