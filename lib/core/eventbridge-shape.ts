/**
 * EventBridge's event shape and Junction's CloudEvents, one mapping for both directions (docs/eventbridge.md,
 * "Events and patterns"): an EventBridge-shaped pattern is translated into the CloudEvents-shaped pattern once, when
 * it compiles, so matching itself is the same for every event; an EventBridge-shaped event (TestEventPattern,
 * `/patterns/test`) is mapped as PutEvents maps one; a target can receive the event in EventBridge's shape. Pure.
 *
 * | EventBridge | CloudEvent |
 * |---|---|
 * | `id`, `source`, `time` | `id`, `source` (the `ebsource` extension when PutEvents had to encode it), `time` |
 * | `detail-type` | `type` |
 * | `detail` | `data` |
 * | `account`, `region` | the extensions `account`, `region`; absent, the bus's (`000000000000`, `us-east-1`) |
 * | `resources` | the extension `resources`: a JSON array text (one string that is no array is a list of one) |
 * | `replay-name` | the extension `replayname` (set by replays) |
 * | `version` | always `"0"` |
 */
import type { CloudEvent } from './cloudevent-types.ts';
import { rawDataText } from './codec/raw-data.ts';
import { JunctionError } from './errors.ts';
import { type ArnContext, DEFAULT_ARN_CONTEXT } from './eventbridge-api.ts';
import { matchesPattern, OrderedObject } from './pattern/index.ts';
import { isObject } from './values.ts';

/** The `version` of every EventBridge event. */
export const EVENTBRIDGE_VERSION = '0';

/**
 * The extension holding a PutEvents `Source` that is no URI-reference (`"my app"`, `"café.orders"`): the
 * CloudEvent's `source` is then its percent-encoding, and patterns, input paths and the EventBridge shape read this.
 */
export const SOURCE_EXTENSION = 'ebsource';

/** EventBridge envelope members whose CloudEvents counterpart has another name. */
const RENAMED: ReadonlyMap<string, string> = new Map([
  ['detail-type', 'type'],
  ['detail', 'data'],
  ['replay-name', 'replayname'],
]);

/** The members of EventBridge's envelope, in the order EventBridge writes them. */
export const EVENTBRIDGE_MEMBERS: ReadonlySet<string> = new Set([
  'version',
  'id',
  'detail-type',
  'source',
  'account',
  'time',
  'region',
  'resources',
  'detail',
  'replay-name',
]);

/** A condition that every CloudEvent meets, and one that none does (`specversion` is required). */
const ALWAYS = Object.freeze([Object.freeze({ exists: true })]);
const NEVER = Object.freeze([Object.freeze({ exists: false })]);

/** Sets an own member (a plain assignment of `__proto__` would set the prototype instead). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The CloudEvents name of a pattern key (`detail.total` → `data.total`); undefined for one under `version`. */
function patternKey(key: string): string | undefined {
  const dot = key.indexOf('.');
  const head = dot < 0 ? key : key.slice(0, dot);
  if (head === 'version') return undefined;
  const renamed = RENAMED.get(head);
  return renamed === undefined ? key : dot < 0 ? renamed : `${renamed}${key.slice(dot)}`;
}

function clash(path: string, key: string, message: string): JunctionError {
  return new JunctionError('InvalidPattern', `${path}.${key}: ${message}`, { path: `${path}.${key}` });
}

/** An object level of a pattern: a plain object, or one `parsePatternText` read (members in order, repeated keys). */
type Level = Record<string, unknown> | OrderedObject;

function isLevel(value: unknown): value is Level {
  return value instanceof OrderedObject || isObject(value);
}

/**
 * Translates one level of a pattern's top (the pattern, or a top-level `$or` branch) into a level of the same kind:
 * an `OrderedObject` keeps its members' order and repeated keys, renamed.
 */
function translateLevel(level: Level, path: string, outer: ReadonlySet<string> = new Set()): Level {
  const ordered = level instanceof OrderedObject;
  const entries = ordered ? level.entries : Object.entries(level);
  // `version` is decided per level, and `specversion` is what a decision becomes: neither may meet the other, nor
  // `version` another `version`, in one combination (this level and the levels around it).
  const heads = new Set(outer);
  for (const [key] of entries) {
    const head = key.split('.', 1)[0] as string;
    if (head !== 'version' && head !== 'specversion') continue;
    if (outer.has('version') && head === 'version') {
      throw clash(path, key, '"version" is named both inside a $or branch and around it; name it once');
    }
    if (heads.has(head === 'version' ? 'specversion' : 'version')) {
      throw clash(
        path,
        key,
        'the pattern names both "version" (EventBridge\'s, always "0") and "specversion" (the CloudEvent\'s); write one of them',
      );
    }
    heads.add(head);
  }
  const out: Array<readonly [string, unknown]> = [];
  const written = new Map<string, string>();
  const version: Array<readonly [string, unknown]> = [];
  for (const [key, value] of entries) {
    if (key === '$or' && Array.isArray(value)) {
      out.push([
        key,
        value.map((branch, i) =>
          isLevel(branch) ? translateLevel(branch, `${path}.$or[${i}]`, heads) : branch,
        ),
      ]);
      continue;
    }
    const name = patternKey(key);
    if (name === undefined) {
      version.push([key, value]);
      continue;
    }
    // A key written twice is the pattern language's business (the last one wins); two spellings of one field are not.
    const earlier = written.get(name);
    if (earlier !== undefined && earlier !== key) {
      throw clash(
        path,
        key,
        `${JSON.stringify(earlier)} and ${JSON.stringify(key)} both name the CloudEvent's ${JSON.stringify(name)} (EventBridge's ${earlier === name ? key : earlier} is its ${name}); write one of them`,
      );
    }
    written.set(name, key);
    out.push([name, value]);
  }
  // Every event's EventBridge `version` is "0": a condition on it is decided here, once.
  if (version.length > 0) {
    const conditions = ordered ? new OrderedObject(version) : fromEntries(version);
    if (!matchesPattern(conditions, { version: EVENTBRIDGE_VERSION })) out.push(['specversion', NEVER]);
    else if (out.length === 0) out.push(['specversion', ALWAYS]);
  }
  return ordered ? new OrderedObject(out) : fromEntries(out);
}

/** A plain object of entries (own members, `__proto__` included). */
function fromEntries(entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of entries) define(out, key, value);
  return out;
}

/**
 * The CloudEvents-shaped pattern an event pattern stands for: EventBridge's names at the top level (and in top-level
 * `$or` branches) become their CloudEvents counterparts — `detail-type` → `type`, `detail` (and `detail.x`) → `data`,
 * `replay-name` → `replayname` — and a condition on `version` is decided against `"0"`. Every other key is kept, so a
 * pattern may use either vocabulary or both. `pattern` must be valid (`validatePattern`); the result is too. A
 * pattern read from its text (`parsePatternText`) comes back in that form, its order and repeated keys kept, so
 * number lexemes and repeated keys mean the same in both vocabularies.
 * @throws JunctionError `InvalidPattern` when two keys of one object name the same field (`detail` and `data`).
 */
export function toCloudEventsPattern(pattern: unknown): unknown {
  return isLevel(pattern) ? translateLevel(pattern, 'pattern') : pattern;
}

/** Whether a JSON object is an event in EventBridge's shape (it has `detail-type` and no `specversion`). */
export function isEventBridgeEvent(event: Readonly<Record<string, unknown>>): boolean {
  return Object.hasOwn(event, 'detail-type') && !Object.hasOwn(event, 'specversion');
}

/**
 * An EventBridge-shaped event as the CloudEvent PutEvents would have made of it, for matching (TestEventPattern,
 * `/patterns/test`): `detail-type` → `type`, `detail` → `data`, `replay-name` → `replayname`, `version` dropped,
 * `specversion` "1.0"; every other member kept (a renamed member wins over one already named so). Not validated.
 */
export function fromEventBridgeEvent(event: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { specversion: '1.0' };
  for (const [key, value] of Object.entries(event)) {
    if (key === 'version' || key === 'specversion' || RENAMED.has(key)) continue;
    define(out, key, value);
  }
  for (const [key, value] of Object.entries(event)) {
    const name = RENAMED.get(key);
    if (name !== undefined) define(out, name, value);
  }
  return out;
}

/** Bits of `eventBridgeOverrides`' `reads`: the fields patterns read whose EventBridge value is derived. */
export const READS_RESOURCES = 1;
export const READS_ACCOUNT = 2;
export const READS_REGION = 4;

/** The `reads` bits for patterns whose top-level field names `reads(name)` answers for. */
export function eventBridgeReads(reads: (name: string) => boolean): number {
  return (
    (reads('resources') ? READS_RESOURCES : 0) |
    (reads('account') ? READS_ACCOUNT : 0) |
    (reads('region') ? READS_REGION : 0)
  );
}

/**
 * The `resources` of an event as a list: the extension's JSON array text parsed, an array as it is, any other string
 * a list of that one string; undefined when absent.
 */
export function resourcesOf(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (value.charCodeAt(0) === 0x5b) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')) return parsed;
    } catch {
      // Not JSON: a resource that starts with "[".
    }
  }
  return [value];
}

/**
 * What a pattern sees of an event beyond its own members, as its EventBridge shape has them: `source` from
 * `ebsource`; when `reads` says patterns read them, `resources` as a list and the bus's `account` and `region`
 * when the event has none. Undefined when nothing differs (the common case: no allocation).
 */
export function eventBridgeOverrides(
  event: Readonly<Record<string, unknown>>,
  reads: number,
  arn: ArnContext = DEFAULT_ARN_CONTEXT,
): Record<string, unknown> | undefined {
  const source = event[SOURCE_EXTENSION];
  if (reads === 0 && source === undefined) return undefined;
  let out: Record<string, unknown> | undefined;
  if (typeof source === 'string') out = { source };
  if ((reads & READS_RESOURCES) !== 0 && event.resources !== undefined) {
    out ??= {};
    out.resources = resourcesOf(event.resources);
  }
  if ((reads & READS_ACCOUNT) !== 0 && event.account === undefined) {
    out ??= {};
    out.account = arn.account;
  }
  if ((reads & READS_REGION) !== 0 && event.region === undefined) {
    out ??= {};
    out.region = arn.region;
  }
  return out;
}

/** The event as a pattern reads it: `eventBridgeOverrides` applied to a copy (the event itself when none apply). */
export function matchingView(
  event: Readonly<Record<string, unknown>>,
  reads = READS_RESOURCES | READS_ACCOUNT | READS_REGION,
  arn: ArnContext = DEFAULT_ARN_CONTEXT,
): Readonly<Record<string, unknown>> {
  const overrides = eventBridgeOverrides(event, reads, arn);
  return overrides === undefined ? event : { ...event, ...overrides };
}

export interface EventBridgeShapeOptions {
  /** The account and region of events without `account`/`region` extensions. @default 000000000000, us-east-1 */
  readonly arn?: ArnContext;
  /** `time` of an event without one (when the bus took it in). @default now */
  readonly ingestionTime?: string;
}

function text(value: unknown, fallback: string): string {
  return value === undefined || value === null ? fallback : String(value);
}

/**
 * EventBridge's envelope of a CloudEvent, without `detail`: `version`, `id`, `detail-type`, `source`, `account`,
 * `time`, `region`, `resources` (and `replay-name` for a replayed event), in EventBridge's order.
 */
export function eventBridgeEnvelope(
  event: CloudEvent,
  options: EventBridgeShapeOptions = {},
): Record<string, unknown> {
  const arn = options.arn ?? DEFAULT_ARN_CONTEXT;
  const source = event[SOURCE_EXTENSION];
  const resources = resourcesOf(event.resources);
  const envelope: Record<string, unknown> = {
    version: EVENTBRIDGE_VERSION,
    id: event.id,
    'detail-type': event.type,
    source: typeof source === 'string' ? source : event.source,
    account: text(event.account, arn.account),
    time: event.time ?? options.ingestionTime ?? new Date().toISOString(),
    region: text(event.region, arn.region),
    resources: Array.isArray(resources) ? resources : [],
  };
  if (event.replayname !== undefined) envelope['replay-name'] = String(event.replayname);
  return envelope;
}

/**
 * The JSON text of `detail`: the data's own text when it arrived as JSON (big integers keep their digits), else its
 * JSON (a text payload is a JSON string, bytes their base64 text); `{}` without data.
 */
function detailText(event: CloudEvent): string {
  const raw = rawDataText(event);
  if (raw !== undefined) return raw;
  if (event.data_base64 !== undefined) return JSON.stringify(event.data_base64);
  if (event.data === undefined) return '{}';
  return JSON.stringify(event.data) ?? 'null';
}

/** The event in EventBridge's shape as JSON text, `detail` written as the data's own text (see `detailText`). */
export function eventBridgeJson(event: CloudEvent, options: EventBridgeShapeOptions = {}): string {
  const { 'replay-name': replay, ...envelope } = eventBridgeEnvelope(event, options);
  const head = JSON.stringify(envelope);
  return `${head.slice(0, -1)},"detail":${detailText(event)}${replay === undefined ? '' : `,"replay-name":${JSON.stringify(replay)}`}}`;
}

/** The event in EventBridge's shape as a value (`detail` parsed: numbers a double cannot hold are rounded). */
export function eventBridgeEvent(
  event: CloudEvent,
  options: EventBridgeShapeOptions = {},
): Record<string, unknown> {
  const { 'replay-name': replay, ...envelope } = eventBridgeEnvelope(event, options);
  const detail =
    rawDataText(event) !== undefined || event.data !== undefined
      ? event.data
      : event.data_base64 !== undefined
        ? event.data_base64
        : {};
  return { ...envelope, detail, ...(replay === undefined ? {} : { 'replay-name': replay }) };
}
