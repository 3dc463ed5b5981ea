/**
 * Amazon EventBridge's PutEvents and TestEventPattern (AWS JSON 1.1) mapped to and from Junction's CloudEvents,
 * so `@aws-sdk/client-eventbridge` pointed at the bus works unchanged. Pure: the HTTP wiring lives in lib/server.
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
 */
import { eventWithJsonText } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { DEFAULT_INGEST_LIMITS } from './codec/http.ts';
import { nestsDeeperThan, parseJson } from './codec/json.ts';
import { isRfc3339 } from './codec/rfc3339.ts';
import { isUriReference } from './codec/uri.ts';
import { utf8Length } from './codec/utf8.ts';
import { JunctionError } from './errors.ts';
import { fromEventBridgeEvent, SOURCE_EXTENSION } from './eventbridge-shape.ts';
import { checkEventDepth } from './pattern/limits.ts';
import { uuidv7 } from './uuid.ts';
import { isObject } from './values.ts';

/** How deep the JSON text of `Event` and `EventPattern` may nest (matching and validation recurse). */
const MAX_MEMBER_DEPTH = 256;

export interface PutEventsOptions {
  /**
   * Makes the `id` of each event. @default uuidv7: time-ordered, so each event's dedup key and traces land at the end
   * of their indexes, where version 4's random ids cost a write on a random page each (PutEvents ran at 0.6× of
   * CloudEvents batches with them).
   */
  readonly newId?: () => string;
  /** The current time in epoch milliseconds, for entries without `Time`. @default Date.now */
  readonly now?: () => number;
  /** The most entries one request may carry (EventBridge allows 10). @default 10 */
  readonly maxEntries?: number;
}

export type PutEventsEntryResult =
  | { readonly ok: true; readonly event: CloudEvent }
  | { readonly ok: false; readonly errorCode: string; readonly errorMessage: string };

export type PutEventsResult =
  | { readonly eventId: string }
  | { readonly errorCode: string; readonly errorMessage: string };

export interface PutEventsResponse {
  readonly FailedEntryCount: number;
  readonly Entries: Array<{ EventId: string } | { ErrorCode: string; ErrorMessage: string }>;
}

export const DEFAULT_MAX_PUT_EVENTS_ENTRIES = 10;

/** The W3C `traceparent` syntax; an X-Ray `TraceHeader` in this form is copied to `traceparent` as well. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** A per-entry refusal: `details.awsErrorCode` is the `ErrorCode` EventBridge would answer for the entry. */
function entryError(awsErrorCode: string, message: string, field?: string): JunctionError {
  return new JunctionError('InvalidEvent', message, {
    ...(field === undefined ? {} : { field }),
    details: { awsErrorCode },
  });
}

function invalidArgument(parameter: string, reason: string): JunctionError {
  return entryError('InvalidArgument', `Parameter ${parameter} is not valid. Reason: ${reason}`, parameter);
}

function requiredString(entry: Record<string, unknown>, parameter: string): string {
  const value = entry[parameter];
  if (value === undefined || value === null || value === '') {
    throw invalidArgument(parameter, `${parameter} is a required argument.`);
  }
  if (typeof value !== 'string')
    throw invalidArgument(parameter, `${parameter} must be a string, received ${describe(value)}.`);
  return value;
}

/** `Source`: any non-empty string but AWS's own (`aws.…`), as EventBridge accepts. */
function source(entry: Record<string, unknown>): string {
  const value = requiredString(entry, 'Source');
  if (value.startsWith('aws.')) {
    throw entryError(
      'NotAuthorizedForSourceException',
      `Not authorized for the source ${JSON.stringify(value)}: sources starting with "aws." are reserved for AWS services.`,
      'Source',
    );
  }
  return value;
}

/**
 * The CloudEvents `source` of a `Source`, and the `ebsource` extension when they differ: a `Source` that is no
 * URI-reference (`"my app"`, `"café.orders"`) is percent-encoded (`my%20app`), and kept as written in the extension.
 */
function sourceAttributes(value: string): Record<string, string> {
  if (isUriReference(value)) return { source: value };
  try {
    return { source: encodeURIComponent(value), [SOURCE_EXTENSION]: value };
  } catch {
    throw invalidArgument('Source', 'Source must be well-formed Unicode (it has an unpaired surrogate).');
  }
}

/** `Detail` is JSON text holding an object, as EventBridge requires; its text is kept as the event's data. */
function detail(entry: Record<string, unknown>): { text: string; value: Record<string, unknown> } {
  const text = requiredString(entry, 'Detail');
  let parsed: unknown;
  try {
    parsed = parseJson(text, 'Detail', 'Detail');
  } catch (error) {
    throw entryError(
      'MalformedDetail',
      `Detail is malformed. ${error instanceof Error ? error.message : ''}`.trim(),
      'Detail',
    );
  }
  if (!isObject(parsed)) {
    throw entryError(
      'MalformedDetail',
      `Detail is malformed. It must be a JSON object, received ${describe(parsed)}.`,
      'Detail',
    );
  }
  return { text, value: parsed };
}

/**
 * Epoch seconds as RFC 3339 with every fractional digit given (to nanoseconds), at least milliseconds; undefined
 * outside years 0–9999. The SDKs send numbers (milliseconds from JavaScript, whole seconds from boto3).
 */
function epochSecondsText(value: number): string | undefined {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(String(value));
  const date = new Date(m === null ? Math.round(value * 1000) : Number(m[1]) * 1000);
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 0 || date.getUTCFullYear() > 9999) {
    return undefined;
  }
  if (m === null) return date.toISOString();
  return `${date.toISOString().slice(0, 19)}.${(m[2] ?? '').slice(0, 9).padEnd(3, '0')}Z`;
}

/** The last millisecond `isoTime` wrote, and its text: the entries of one call mostly share it. */
let isoMs = Number.NaN;
let isoText = '';

/** Epoch milliseconds as `Date.prototype.toISOString` writes them. */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/** `Time`: epoch seconds (what the SDKs send) or an RFC 3339 string, kept to the digit; absent means now. */
function time(entry: Record<string, unknown>, now: () => number): string {
  const value = entry.Time;
  if (value === undefined || value === null) return isoTime(now());
  if (typeof value === 'string' && isRfc3339(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value)) {
    const text = epochSecondsText(value);
    if (text !== undefined) return text;
  }
  throw invalidArgument(
    'Time',
    `Time must be epoch seconds or an RFC 3339 timestamp, received ${describe(value)}.`,
  );
}

/** `Resources` → the `resources` extension, a JSON array text (lossless: ARNs may hold commas). */
function resources(entry: Record<string, unknown>): string | undefined {
  const value = entry.Resources;
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidArgument('Resources', `Resources must be an array of strings, received ${describe(value)}.`);
  }
  return value.length === 0 ? undefined : JSON.stringify(value);
}

/** `EventBusName` (a name or an ARN) → the `eventbusname` extension, unless it is the default bus. */
function eventBusName(entry: Record<string, unknown>): string | undefined {
  const value = entry.EventBusName;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw invalidArgument('EventBusName', `EventBusName must be a string, received ${describe(value)}.`);
  }
  const name = value.startsWith('arn:') ? value.slice(value.lastIndexOf('/') + 1) : value;
  return name === 'default' ? undefined : name;
}

function traceHeader(entry: Record<string, unknown>): string | undefined {
  const value = entry.TraceHeader;
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw invalidArgument('TraceHeader', `TraceHeader must be a string, received ${describe(value)}.`);
  }
  return value;
}

/** The PutEvents parameter a CloudEvents attribute comes from, for the errors of the event's validation. */
const PARAMETER_OF: Readonly<Record<string, string>> = {
  source: 'Source',
  [SOURCE_EXTENSION]: 'Source',
  type: 'DetailType',
  time: 'Time',
  data: 'Detail',
  resources: 'Resources',
  eventbusname: 'EventBusName',
  traceheader: 'TraceHeader',
  traceparent: 'TraceHeader',
};

function mapEntry(raw: unknown, index: number, newId: () => string, now: () => number): PutEventsEntryResult {
  try {
    if (!isObject(raw))
      throw entryError('InvalidArgument', `Entries[${index}] must be an object, received ${describe(raw)}.`);
    const attributes: Record<string, unknown> = {
      specversion: '1.0',
      id: newId(),
      ...sourceAttributes(source(raw)),
      type: requiredString(raw, 'DetailType'),
    };
    const data = detail(raw);
    attributes.time = time(raw, now);
    attributes.datacontenttype = 'application/json';
    const extensions = {
      resources: resources(raw),
      eventbusname: eventBusName(raw),
      traceheader: traceHeader(raw),
    };
    for (const [name, value] of Object.entries(extensions)) if (value !== undefined) attributes[name] = value;
    if (extensions.traceheader !== undefined && TRACEPARENT.test(extensions.traceheader)) {
      attributes.traceparent = extensions.traceheader;
    }
    // Detail stays the producer's text (a big integer keeps its digits).
    try {
      return { ok: true, event: eventWithJsonText(attributes, data.text, data.value) };
    } catch (error) {
      if (!(error instanceof JunctionError)) throw error;
      const parameter = (error.field === undefined ? undefined : PARAMETER_OF[error.field]) ?? 'Entries';
      throw invalidArgument(parameter, error.message);
    }
  } catch (error) {
    const awsErrorCode = error instanceof JunctionError ? error.details?.awsErrorCode : undefined;
    if (typeof awsErrorCode !== 'string') throw error;
    return { ok: false, errorCode: awsErrorCode, errorMessage: (error as JunctionError).message };
  }
}

/**
 * Maps a PutEvents request body (parsed JSON) to one validated CloudEvent per entry, in order, its data the text of
 * `Detail`. An entry that EventBridge would refuse yields its per-entry error (`InvalidArgument`, `MalformedDetail`,
 * `NotAuthorizedForSourceException`); the others are unaffected.
 * @throws JunctionError `InvalidRequest` when the body is not a PutEvents request (no `Entries` array, or an
 *   entry count outside 1..`maxEntries`).
 */
export function mapPutEventsRequest(
  body: unknown,
  options: PutEventsOptions = {},
): { entries: PutEventsEntryResult[] } {
  const newId = options.newId ?? (() => uuidv7());
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_PUT_EVENTS_ENTRIES;
  if (!isObject(body)) {
    throw new JunctionError(
      'InvalidRequest',
      `a PutEvents request must be a JSON object, received ${describe(body)}`,
    );
  }
  const entries = body.Entries;
  if (!Array.isArray(entries)) {
    throw new JunctionError(
      'InvalidRequest',
      `Entries must be an array of entries, received ${describe(entries)}`,
      {
        field: 'Entries',
      },
    );
  }
  if (entries.length < 1 || entries.length > maxEntries) {
    throw new JunctionError(
      'InvalidRequest',
      `Entries must hold between 1 and ${maxEntries} entries, received ${entries.length}`,
      { field: 'Entries' },
    );
  }
  return { entries: entries.map((entry, index) => mapEntry(entry, index, newId, now)) };
}

/** The PutEvents response EventBridge sends: one result per entry, in request order. */
export function putEventsResponse(results: readonly PutEventsResult[]): PutEventsResponse {
  let failed = 0;
  const Entries = results.map((result) => {
    if ('eventId' in result) return { EventId: result.eventId };
    failed += 1;
    return { ErrorCode: result.errorCode, ErrorMessage: result.errorMessage };
  });
  return { FailedEntryCount: failed, Entries };
}

/** Parses one of TestEventPattern's JSON-text members into an object. */
function jsonMember(
  body: Record<string, unknown>,
  member: 'EventPattern' | 'Event',
): Record<string, unknown> {
  const code = member === 'EventPattern' ? 'InvalidPattern' : 'InvalidRequest';
  const value = body[member];
  if (typeof value !== 'string' || value === '') {
    throw new JunctionError(
      code,
      `${member} is required and must be JSON text, received ${describe(value)}`,
      {
        field: member,
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseJson(value, member, member);
  } catch (error) {
    throw new JunctionError(code, error instanceof Error ? error.message : `${member} is not valid JSON`, {
      field: member,
    });
  }
  if (nestsDeeperThan(value, MAX_MEMBER_DEPTH)) {
    throw new JunctionError(code, `${member} nests deeper than ${MAX_MEMBER_DEPTH} levels`, {
      field: member,
    });
  }
  if (!isObject(parsed)) {
    throw new JunctionError(code, `${member} must be a JSON object, received ${describe(parsed)}`, {
      field: member,
    });
  }
  // The pattern's own limits (size, depth) are checked when it compiles; the event gets ingest's.
  if (member === 'Event') {
    const bytes = utf8Length(value);
    if (bytes > DEFAULT_INGEST_LIMITS.maxEventBytes) {
      throw new JunctionError(
        'PayloadTooLarge',
        `Event is ${bytes} bytes, more than the limit of ${DEFAULT_INGEST_LIMITS.maxEventBytes}`,
        { field: member, details: { size: bytes, limit: DEFAULT_INGEST_LIMITS.maxEventBytes } },
      );
    }
    checkEventDepth(parsed, member);
  }
  return parsed;
}

/**
 * The members TestEventPattern's `Event` must have. AWS's reference lists `resources` as well, but EventBridge
 * accepts an event without it (LocalStack's tests against AWS record this), so it is not required here either.
 */
export const TEST_EVENT_REQUIRED = ['id', 'account', 'source', 'time', 'region', 'detail-type'] as const;

/**
 * Maps a TestEventPattern request: `EventPattern` and `Event` are JSON texts, and the event is in EventBridge's
 * shape with the members AWS requires (`TEST_EVENT_REQUIRED`). The event is returned as the CloudEvent PutEvents would
 * make of it (`fromEventBridgeEvent`), so that it is matched as routing matches.
 * @throws JunctionError `InvalidPattern` for a missing or malformed `EventPattern` (EventBridge's
 *   InvalidEventPatternException), `InvalidRequest` for anything else wrong (ValidationException).
 */
export function mapTestEventPatternRequest(body: unknown): {
  pattern: unknown;
  event: Record<string, unknown>;
} {
  if (!isObject(body)) {
    throw new JunctionError(
      'InvalidRequest',
      `a TestEventPattern request must be a JSON object, received ${describe(body)}`,
    );
  }
  const pattern = jsonMember(body, 'EventPattern');
  const event = jsonMember(body, 'Event');
  const missing = TEST_EVENT_REQUIRED.filter((name) => !Object.hasOwn(event, name));
  if (missing.length > 0) {
    throw new JunctionError(
      'InvalidRequest',
      `Parameter Event is not valid. Reason: it has no ${missing.map((m) => JSON.stringify(m)).join(', ')}; an event in EventBridge's shape needs ${TEST_EVENT_REQUIRED.join(', ')}.`,
      { field: 'Event' },
    );
  }
  return { pattern, event: fromEventBridgeEvent(event) };
}

export function testEventPatternResponse(result: boolean): { Result: boolean } {
  return { Result: result };
}

/**
 * The AWS JSON 1.1 error body. The SDK takes the error name from `__type` (the part after any `#`), before the
 * `x-amzn-ErrorType` header, and the text from `message`.
 */
export function awsErrorBody(code: string, message: string): { __type: string; message: string } {
  return { __type: code, message };
}
