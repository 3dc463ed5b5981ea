/**
 * Amazon EventBridge's PutEvents and TestEventPattern (AWS JSON 1.1) mapped to and from Junction's CloudEvents,
 * so `@aws-sdk/client-eventbridge` pointed at the bus works unchanged. Pure: the HTTP wiring lives in lib/server.
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 */
import { validateEventParts } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { DEFAULT_INGEST_LIMITS } from './codec/http.ts';
import { nestsDeeperThan, parseJson } from './codec/json.ts';
import { payloadFromBytes } from './codec/payload.ts';
import { isRfc3339 } from './codec/rfc3339.ts';
import { encodeUtf8, utf8Length } from './codec/utf8.ts';
import { JunctionError } from './errors.ts';
import { type ArnContext, DEFAULT_ARN_CONTEXT } from './eventbridge-api.ts';
import { checkEnvelope, cloudEventOfEventBridge } from './eventbridge-shape.ts';
import { checkEventDepth } from './pattern/limits.ts';

/** How deep the JSON text of `Event` and `EventPattern` may nest (matching and validation recurse). */
const MAX_MEMBER_DEPTH = 256;

export interface PutEventsOptions {
  /** Makes the `id` of each event. @default globalThis.crypto.randomUUID */
  readonly newId?: () => string;
  /** The current time in epoch milliseconds, for entries without `Time`. @default Date.now */
  readonly now?: () => number;
  /** The most entries one request may carry (EventBridge allows 10). @default 10 */
  readonly maxEntries?: number;
  /** The `account` and `region` each event is stamped with. @default 000000000000, us-east-1 */
  readonly arn?: ArnContext;
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

/**
 * `Detail` is JSON text holding an object, as EventBridge requires. The event's `data` keeps that text (parsed
 * only when read), so an integer beyond 2^53 reaches targets as it was sent.
 */
function detail(entry: Record<string, unknown>): unknown {
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
  return payloadFromBytes('application/json', encodeUtf8(text)).data;
}

/** The largest epoch seconds whose date has a four-digit year (9999-12-31T23:59:59Z). */
const MAX_EPOCH_SECONDS = 253_402_300_799;

/**
 * `Time`: epoch seconds (what the SDKs send) or an RFC 3339 string (kept as sent); absent means now. Epoch
 * seconds keep the fraction they were written with (`1767225600.123456` → `2026-01-01T00:00:00.123456Z`), to
 * the digits a JSON number carries.
 */
function time(entry: Record<string, unknown>, now: () => number): string {
  const value = entry.Time;
  if (value === undefined || value === null) return new Date(now()).toISOString();
  if (typeof value === 'string' && isRfc3339(value)) return value;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_EPOCH_SECONDS) {
    const m = /^(\d+)\.(\d{4,})$/.exec(String(value));
    if (m === null) return new Date(Math.round(value * 1000)).toISOString();
    const whole = new Date(Number(m[1]) * 1000).toISOString().slice(0, 19);
    return `${whole}.${(m[2] as string).slice(0, 9)}Z`;
  }
  throw invalidArgument(
    'Time',
    `Time must be epoch seconds from 0 to ${MAX_EPOCH_SECONDS} or an RFC 3339 timestamp, received ${describe(value)}.`,
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

/** `Source`: any non-empty text, as EventBridge takes it, except the `aws.` sources AWS keeps for its services. */
function source(entry: Record<string, unknown>): string {
  const value = requiredString(entry, 'Source');
  if (value.startsWith('aws.')) {
    throw entryError(
      'NotAuthorizedForSourceException',
      `Not authorized for the source. Source ${JSON.stringify(value)} starts with "aws.", which AWS keeps for its own services.`,
      'Source',
    );
  }
  return value;
}

function mapEntry(
  raw: unknown,
  index: number,
  newId: () => string,
  now: () => number,
  arn: ArnContext,
): PutEventsEntryResult {
  try {
    if (!isObject(raw))
      throw entryError('InvalidArgument', `Entries[${index}] must be an object, received ${describe(raw)}.`);
    const input: Record<string, unknown> = {
      specversion: '1.0',
      id: newId(),
      source: source(raw),
      type: requiredString(raw, 'DetailType'),
      datacontenttype: 'application/json',
    };
    input.data = detail(raw);
    input.time = time(raw, now);
    const extensions = new Map<string, unknown>([
      ['account', arn.account],
      ['region', arn.region],
    ]);
    const added = {
      resources: resources(raw),
      eventbusname: eventBusName(raw),
      traceheader: traceHeader(raw),
    };
    for (const [name, value] of Object.entries(added)) if (value !== undefined) extensions.set(name, value);
    if (added.traceheader !== undefined && TRACEPARENT.test(added.traceheader)) {
      extensions.set('traceparent', added.traceheader);
    }
    return { ok: true, event: validateEventParts(input, extensions, { sourceAsText: true }) };
  } catch (error) {
    if (!(error instanceof JunctionError)) throw error;
    const awsErrorCode = error.details?.awsErrorCode;
    if (typeof awsErrorCode === 'string')
      return { ok: false, errorCode: awsErrorCode, errorMessage: error.message };
    if (error.code !== 'InvalidEvent') throw error;
    // What CloudEvents validation refuses (a control character in DetailType, data nested too deep, …).
    return { ok: false, errorCode: 'InvalidArgument', errorMessage: error.message };
  }
}

/**
 * Maps a PutEvents request body (parsed JSON) to one validated CloudEvent per entry, in order: `Source` → `source`,
 * `DetailType` → `type`, `Detail` → `data` (its text kept), `Time` → `time`, `Resources` → the `resources` extension
 * (a JSON array text), the bus's `account` and `region` as extensions (docs/eventbridge.md). An entry that
 * EventBridge would refuse yields its per-entry error (`InvalidArgument`, `MalformedDetail`,
 * `NotAuthorizedForSourceException`); the others are unaffected.
 * @throws JunctionError `InvalidRequest` when the body is not a PutEvents request (no `Entries` array, or an
 *   entry count outside 1..`maxEntries`).
 */
export function mapPutEventsRequest(
  body: unknown,
  options: PutEventsOptions = {},
): { entries: PutEventsEntryResult[] } {
  const newId = options.newId ?? (() => globalThis.crypto.randomUUID());
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_PUT_EVENTS_ENTRIES;
  const arn = options.arn ?? DEFAULT_ARN_CONTEXT;
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
  return { entries: entries.map((entry, index) => mapEntry(entry, index, newId, now, arn)) };
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
 * Maps a TestEventPattern request: `EventPattern` and `Event` are JSON texts. The event must be EventBridge-shaped
 * with the members AWS requires (`REQUIRED_ENVELOPE`); it is returned as the CloudEvent it stands for
 * (`cloudEventOfEventBridge`), which is how routing would see it.
 * @throws JunctionError `InvalidPattern` for a missing or malformed `EventPattern` (EventBridge's
 *   InvalidEventPatternException), `InvalidRequest` for anything else wrong (ValidationException), such as an
 *   `Event` without `id`, `account`, `source`, `time`, `region` or `detail-type`.
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
  checkEnvelope(event);
  return { pattern, event: cloudEventOfEventBridge(event) };
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
