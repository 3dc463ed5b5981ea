/**
 * EventBridge's event shape beside Junction's CloudEvents (docs/eventbridge.md, "EventBridge-shaped events"): one
 * mapping, used everywhere a pattern is compiled, an event is matched or a target is given EventBridge's JSON.
 *
 * | EventBridge   | CloudEvents                                             |
 * |---------------|---------------------------------------------------------|
 * | `version`     | — (always `"0"`: a pattern on it is decided when it compiles) |
 * | `id`          | `id`                                                    |
 * | `detail-type` | `type`                                                  |
 * | `source`      | `source`                                                |
 * | `account`     | the `account` extension                                 |
 * | `time`        | `time`                                                  |
 * | `region`      | the `region` extension                                  |
 * | `resources`   | the `resources` extension: a JSON array text, matched as the array it holds |
 * | `detail`      | `data`                                                  |
 * | `replay-name` | the `replayname` extension                              |
 *
 * Pure: no I/O.
 * @see https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
 */
import type { CloudEvent } from './cloudevent-types.ts';
import { defineRawData, JsonText, rawDataText } from './codec/raw-data.ts';
import { JunctionError } from './errors.ts';
import { type ArnContext, DEFAULT_ARN_CONTEXT } from './eventbridge-api.ts';
import { matchesPattern } from './pattern/index.ts';

/** EventBridge's `version`: the same in every event. */
export const EVENTBRIDGE_VERSION = '0';

/** The envelope members TestEventPattern requires of its `Event` (as AWS answers it; see docs/eventbridge.md). */
export const REQUIRED_ENVELOPE = Object.freeze(['id', 'account', 'source', 'time', 'region', 'detail-type']);

/** EventBridge's envelope names whose CloudEvents names differ: a pattern's key or an input path starts with one. */
const RENAMED: ReadonlyMap<string, string> = new Map([
  ['detail-type', 'type'],
  ['detail', 'data'],
]);

/** The first steps of an input path that read the EventBridge form of the event (its CloudEvent has no such member). */
export const EVENTBRIDGE_ONLY = Object.freeze(
  new Set(['detail-type', 'detail', 'version', 'account', 'region', 'resources']),
);

/** An event in EventBridge's JSON shape, as a target with `format: "eventbridge"` receives it. */
export interface EventBridgeEvent {
  readonly version: string;
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
  readonly 'replay-name'?: string;
}

export interface EventBridgeShapeOptions {
  /** Stands in for `time` when the CloudEvent has none: when the bus took the event in (RFC 3339). @default now */
  readonly ingestionTime?: string;
  /** The `account` and `region` of an event without those extensions. @default 000000000000, us-east-1 */
  readonly arn?: ArnContext;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first segment of a pattern key (`detail` of `detail.total`). */
function head(key: string): string {
  const dot = key.indexOf('.');
  return dot < 0 ? key : key.slice(0, dot);
}

function refuse(path: string, key: string, message: string): JunctionError {
  return new JunctionError('InvalidPattern', `${path}.${key}: ${message}`, {
    path: `${path}.${key}`,
    field: `${path}.${key}`,
  });
}

/** The CloudEvents name a pattern key's first segment stands for (`version` stands for `specversion`'s place). */
function cloudEventsName(first: string): string {
  return RENAMED.get(first) ?? (first === 'version' ? 'specversion' : first);
}

/**
 * Translates one object level of a pattern's top (the pattern itself, or a branch of a top-level `$or`).
 * `outer` maps the CloudEvents names the levels around it spell to how they spell them.
 */
function translateLevel(
  level: Record<string, unknown>,
  path: string,
  outer: ReadonlyMap<string, string>,
): Record<string, unknown> {
  const spelled = new Map(outer);
  const here = new Set<string>();
  for (const key of Object.keys(level)) {
    if (key === '$or') continue;
    const first = head(key);
    const name = cloudEventsName(first);
    const other = spelled.get(name);
    if (other !== undefined && other !== first) {
      const eventBridge = name === first ? other : first;
      throw refuse(
        path,
        key,
        name === 'specversion'
          ? 'the pattern names both "version" (EventBridge\'s, always "0") and "specversion" (the CloudEvent\'s); use one of the two'
          : `the pattern names both "${eventBridge}" and "${name}", one field (EventBridge's ${eventBridge} is the CloudEvent's ${name}); use one of the two names`,
      );
    }
    if (first === 'version' && other !== undefined && !here.has(name)) {
      throw refuse(path, key, '"version" is named both inside a $or branch and beside the $or; name it once');
    }
    spelled.set(name, first);
    here.add(name);
  }
  const out: Record<string, unknown> = {};
  const versions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(level)) {
    if (key === '$or' && Array.isArray(value)) {
      out.$or = value.map((branch, i) =>
        isObject(branch) ? translateLevel(branch, `${path}.$or[${i}]`, spelled) : branch,
      );
      continue;
    }
    const first = head(key);
    const renamed = RENAMED.get(first);
    if (renamed !== undefined) out[renamed + key.slice(first.length)] = value;
    else if (first === 'version') versions[key] = value;
    else out[key] = value;
  }
  if (Object.keys(versions).length > 0) {
    // Every EventBridge event has version "0": the condition holds for all events or for none.
    const holds = matchesPattern(versions, { version: EVENTBRIDGE_VERSION });
    out.specversion = [{ exists: holds }];
  }
  return out;
}

/**
 * The CloudEvents-shaped pattern a rule's pattern stands for: EventBridge's envelope names (`detail-type`,
 * `detail`, and `version`, decided here) become the CloudEvent's (`type`, `data`), at the top of the pattern and
 * in its top-level `$or` branches; everything else is kept. A pattern written for CloudEvents comes back equal.
 * The pattern must be valid (`validatePattern`) already.
 * @throws JunctionError `InvalidPattern` for a pattern that spells one field both ways (`detail-type` and `type`,
 *   `detail…` and `data…`, `version` and `specversion`) in one combination, with `path` at the second spelling.
 */
export function cloudEventsPattern(pattern: unknown): unknown {
  if (!isObject(pattern)) return pattern;
  return translateLevel(pattern, 'pattern', new Map());
}

/** The strings of a `resources` member: an array of strings as such, or the JSON array text the extension holds. */
export function resourcesOf(value: unknown): readonly string[] | undefined {
  if (Array.isArray(value)) return value.every((s) => typeof s === 'string') ? value : undefined;
  if (typeof value !== 'string' || value.charCodeAt(0) !== 0x5b) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) && parsed.every((s) => typeof s === 'string') ? parsed : undefined;
}

/** Whether a JSON object is an EventBridge-shaped event rather than a CloudEvent: no `specversion`, a `detail-type` or `detail`. */
export function isEventBridgeEvent(event: Record<string, unknown>): boolean {
  return (
    event.specversion === undefined && (event['detail-type'] !== undefined || event.detail !== undefined)
  );
}

/**
 * The CloudEvent an EventBridge-shaped event stands for, as patterns see it: `detail-type` → `type`, `detail` →
 * `data`, `replay-name` → `replayname`, `version` dropped (always "0"), `resources` kept as its array; any other
 * member as it is.
 */
export function cloudEventOfEventBridge(event: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { specversion: '1.0' };
  for (const [key, value] of Object.entries(event)) {
    if (key === 'version' || key === 'detail-type' || key === 'detail' || key === 'replay-name') continue;
    out[key] = value;
  }
  if (event['detail-type'] !== undefined) out.type = event['detail-type'];
  if (event.detail !== undefined) out.data = event.detail;
  if (event['replay-name'] !== undefined) out.replayname = event['replay-name'];
  return out;
}

/**
 * What a pattern is matched against, for every way of testing one (`/patterns/test`, TestEventPattern): an
 * EventBridge-shaped event as its CloudEvent (`cloudEventOfEventBridge`); a CloudEvent as it is, its `resources`
 * extension read as the array it holds. Routing reads `resources` the same way (`RuleMatcher`).
 */
export function patternSubject(event: Record<string, unknown>): Record<string, unknown> {
  if (isEventBridgeEvent(event)) return cloudEventOfEventBridge(event);
  if (typeof event.resources !== 'string') return event;
  const resources = resourcesOf(event.resources);
  return resources === undefined ? event : { ...event, resources };
}

/**
 * The TestEventPattern check of an `Event`: the members AWS requires are there (`REQUIRED_ENVELOPE`).
 * @throws JunctionError `InvalidRequest` (ValidationException) naming the first one missing.
 */
export function checkEnvelope(event: Record<string, unknown>, field = 'Event'): void {
  for (const name of REQUIRED_ENVELOPE) {
    if (event[name] === undefined) {
      throw new JunctionError(
        'InvalidRequest',
        `Parameter ${field} is not valid. Reason: the event has no "${name}"; an EventBridge event needs ${REQUIRED_ENVELOPE.join(', ')}`,
        { field: `${field}.${name}` },
      );
    }
  }
}

/** `detail`: JSON data as it is, text data as its string, binary data as its base64 text, `{}` for no data. */
function detailOf(event: CloudEvent): unknown {
  if (event.data_base64 !== undefined) return event.data_base64;
  return event.data === undefined ? {} : event.data;
}

function envelope(
  event: CloudEvent,
  options: EventBridgeShapeOptions,
): Omit<EventBridgeEvent, 'detail' | 'replay-name'> {
  const arn = options.arn ?? DEFAULT_ARN_CONTEXT;
  const resources = resourcesOf(event.resources);
  return {
    version: EVENTBRIDGE_VERSION,
    id: event.id,
    'detail-type': event.type,
    source: event.source,
    account: typeof event.account === 'string' ? event.account : arn.account,
    time: event.time ?? options.ingestionTime ?? new Date().toISOString(),
    region: typeof event.region === 'string' ? event.region : arn.region,
    resources: resources ?? (typeof event.resources === 'string' ? [event.resources] : []),
  };
}

/**
 * A CloudEvent in EventBridge's JSON shape (the table at the top of this module). Extensions other than
 * `account`, `region`, `resources` and `replayname` have no place in it, nor do `subject`, `dataschema` and
 * `datacontenttype`. Reading `detail` parses JSON data kept as text; `eventBridgeJson` keeps the text.
 */
export function toEventBridgeEvent(
  event: CloudEvent,
  options: EventBridgeShapeOptions = {},
): EventBridgeEvent {
  return {
    ...envelope(event, options),
    detail: detailOf(event),
    ...(typeof event.replayname === 'string' ? { 'replay-name': event.replayname } : {}),
  };
}

/**
 * `toEventBridgeEvent` as JSON text, with JSON data written as the producer's text (an integer beyond 2^53 in
 * `detail` arrives as sent).
 */
export function eventBridgeJson(event: CloudEvent, options: EventBridgeShapeOptions = {}): string {
  const head = JSON.stringify(envelope(event, options));
  const detail = rawDataText(event) ?? JSON.stringify(detailOf(event));
  const replay =
    typeof event.replayname === 'string' ? `,"replay-name":${JSON.stringify(event.replayname)}` : '';
  return `${head.slice(0, -1)},"detail":${detail}${replay}}`;
}

/**
 * The CloudEvent a target with `format: "eventbridge"` is handed: the event's attributes, and as its `data` the
 * EventBridge-shaped event (`eventBridgeJson`, kept as text until read). A target of that format receives the
 * data alone.
 */
export function eventBridgeDelivery(event: CloudEvent, options: EventBridgeShapeOptions = {}): CloudEvent {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(event)) {
    if (key !== 'data' && key !== 'data_base64') out[key] = event[key];
  }
  out.datacontenttype = 'application/json';
  defineRawData(out, new JsonText(eventBridgeJson(event, options), 0));
  return Object.freeze(out) as unknown as CloudEvent;
}
