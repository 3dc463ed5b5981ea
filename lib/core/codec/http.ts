/**
 * The CloudEvents HTTP protocol binding: binary, structured and batched mode in (strict, with limits),
 * binary and structured mode and batches out.
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 */
import {
  isAttributeName,
  serializeEvent,
  show,
  validateEvent,
  validateEventParts,
  validateScannedEvent,
} from '../cloudevent.ts';
import type { CloudEvent } from '../cloudevent-types.ts';
import { JunctionError, toJunctionError } from '../errors.ts';
import { NotAnObject, type ScannedItem, scanBatchBody, scanEventBody } from './event-scan.ts';
import { decodeHeaderValue, percentEncode } from './header-value.ts';
import { decodeJsonText, parseJson } from './json.ts';
import { parseMediaType } from './media-type.ts';
import { payloadFromBytes, payloadToBytes } from './payload.ts';
import { encodeUtf8 } from './utf8.ts';

/** Request headers with lower-case names, as Node's `IncomingMessage.headers` (or `headersDistinct`) gives them. */
export type HttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Size limits of one ingest request. */
export interface IngestLimits {
  /** Largest single event: its body (structured mode) or body plus `ce-` headers (binary mode). @default 1 MiB */
  readonly maxEventBytes: number;
  /** Largest batch request body. @default 10 MiB */
  readonly maxBatchBytes: number;
  /** Most events in one batch. @default 1000 */
  readonly maxBatchEvents: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = Object.freeze({
  maxEventBytes: 1024 * 1024,
  maxBatchBytes: 10 * 1024 * 1024,
  maxBatchEvents: 1000,
});

/** One entry of a batch: the valid event, or why it was rejected (its `id` when it had a string one). */
export type BatchEntry = { ok: true; event: CloudEvent } | { ok: false; id?: string; error: JunctionError };

export type ParsedRequest =
  | { mode: 'binary' | 'structured'; event: CloudEvent }
  | { mode: 'batch'; entries: BatchEntry[] };

export const STRUCTURED_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json; charset=utf-8';

const ACCEPTED =
  'send application/cloudevents+json (structured mode), application/cloudevents-batch+json (batched mode), ' +
  'or binary mode: ce-specversion, ce-id, ce-source and ce-type headers with the data as the body';

type Mode = 'binary' | 'structured' | 'batch';
const modeCache = new Map<string, Mode | JunctionError>();

/** The content mode a Content-Type selects (case-insensitive); throws `UnsupportedMediaType` for other CloudEvents formats. */
function modeOf(contentType: string | undefined): Mode {
  if (contentType === undefined || !startsWithCloudEvents(contentType)) return 'binary';
  let mode = modeCache.get(contentType);
  if (mode === undefined) {
    mode = computeMode(contentType);
    if (modeCache.size >= 256) modeCache.clear();
    modeCache.set(contentType, mode);
  }
  if (mode instanceof JunctionError)
    throw new JunctionError(mode.code, mode.message, { field: 'content-type' });
  return mode;
}

function startsWithCloudEvents(contentType: string): boolean {
  return contentType.length >= 23 && contentType.slice(0, 23).toLowerCase() === 'application/cloudevents';
}

function computeMode(contentType: string): Mode | JunctionError {
  const media = parseMediaType(contentType);
  const unsupported = (why: string) =>
    new JunctionError('UnsupportedMediaType', `content type ${show(contentType)} ${why}; ${ACCEPTED}`, {
      field: 'content-type',
    });
  if (media === undefined) return unsupported('is not a valid media type');
  const charset = media.params.get('charset')?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return unsupported('has a charset other than UTF-8');
  }
  if (media.essence === 'application/cloudevents+json') return 'structured';
  if (media.essence === 'application/cloudevents-batch+json') return 'batch';
  return unsupported('is a CloudEvents format Junction does not read (only JSON)');
}

function header(headers: HttpHeaders, name: string): string | undefined {
  let value = headers[name];
  if (value === undefined) {
    for (const key in headers) {
      if (key.length === name.length && key.toLowerCase() === name) {
        value = headers[key];
        break;
      }
    }
  }
  if (Array.isArray(value)) {
    if (value.length > 1) {
      throw new JunctionError('InvalidRequest', `the ${name} header appears ${value.length} times`, {
        field: name,
      });
    }
    return value[0];
  }
  return value;
}

/**
 * How much longer than its wire form an event's JSON serialization can be: a control character becomes a
 * 6-character escape, and `1e20` becomes 21 digits. Base64 (4/3) stays well under it.
 */
const MAX_EXPANSION = 6;

/**
 * The validation options that also bound the serialized event (what the log stores), or none when the
 * wire size proves it small enough: serializing costs as much as parsing, so it is skipped when it can be.
 */
function serializedLimit(wireBytes: number, maxEventBytes: number): { maxEventBytes?: number } {
  return wireBytes * MAX_EXPANSION > maxEventBytes ? { maxEventBytes } : {};
}

/** The limits with defaults for the absent (or `undefined`) ones. */
function withDefaults(limits: Partial<IngestLimits>): IngestLimits {
  return {
    maxEventBytes: limits.maxEventBytes ?? DEFAULT_INGEST_LIMITS.maxEventBytes,
    maxBatchBytes: limits.maxBatchBytes ?? DEFAULT_INGEST_LIMITS.maxBatchBytes,
    maxBatchEvents: limits.maxBatchEvents ?? DEFAULT_INGEST_LIMITS.maxBatchEvents,
  };
}

/**
 * Parses an ingest request in any content mode and validates its event(s). Whole-request problems throw:
 * `UnsupportedMediaType` (415), `PayloadTooLarge` (413), `InvalidJson` (400), `InvalidEvent` (400, single
 * event), `InvalidBatch` (400). In a batch, each entry is validated on its own, in request order.
 */
export function parseHttpRequest(
  headers: HttpHeaders,
  body: Uint8Array,
  limits?: Partial<IngestLimits>,
): ParsedRequest {
  const max = limits === undefined ? DEFAULT_INGEST_LIMITS : withDefaults(limits);
  const contentType = header(headers, 'content-type');
  const mode = modeOf(contentType);
  if (mode === 'binary') return { mode, event: parseBinary(headers, contentType, body, max.maxEventBytes) };
  if (mode === 'structured') {
    if (body.length > max.maxEventBytes) throw tooLarge('event', body.length, max.maxEventBytes);
    const options = serializedLimit(body.length, max.maxEventBytes);
    const scanned = scanEventBody(body);
    if (scanned !== undefined) return { mode, event: validateScannedEvent(scanned, options) };
    // Not one JSON object: the parsed path reports what it is (or where its syntax breaks).
    const raw = parseJson(decodeJsonText(body, 'body'), 'body');
    if (Array.isArray(raw)) {
      throw new JunctionError(
        'InvalidEvent',
        'structured mode carries one event, but the body is a JSON array; send batches as application/cloudevents-batch+json',
      );
    }
    return { mode, event: validateEvent(raw, options) };
  }
  return { mode, entries: parseBatch(body, max) };
}

function parseBatch(body: Uint8Array, max: IngestLimits): BatchEntry[] {
  if (body.length > max.maxBatchBytes) throw tooLarge('batch', body.length, max.maxBatchBytes);
  const items = scanBatchBody(body) ?? parsedItems(parseJson(decodeJsonText(body, 'body'), 'body'));
  if (items.length > max.maxBatchEvents) {
    throw new JunctionError(
      'InvalidBatch',
      `a batch holds at most ${max.maxBatchEvents} events; received ${items.length}`,
      { details: { count: items.length, limit: max.maxBatchEvents } },
    );
  }
  const options = serializedLimit(body.length, max.maxEventBytes);
  const entries: BatchEntry[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as ScannedItem;
    try {
      const event =
        item instanceof NotAnObject
          ? validateEvent(item.value, options)
          : validateScannedEvent(item, options);
      entries[i] = { ok: true, event };
    } catch (error) {
      const id = item instanceof NotAnObject ? idOf(item.value) : item.id;
      entries[i] =
        typeof id === 'string' && id.length > 0
          ? { ok: false, id, error: toJunctionError(error) }
          : { ok: false, error: toJunctionError(error) };
    }
  }
  return entries;
}

/** The elements of a batch the scanner did not take (valid JSON, but not an array: an `InvalidBatch`). */
function parsedItems(raw: unknown): ScannedItem[] {
  if (!Array.isArray(raw)) {
    throw new JunctionError('InvalidBatch', `a batch must be a JSON array of events; received ${show(raw)}`);
  }
  return raw.map((value: unknown) => new NotAnObject(value));
}

function idOf(item: unknown): unknown {
  return typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
}

const NO_EXTENSIONS: ReadonlyMap<string, string> = new Map();

/**
 * The spec's attributes by their usual header name. Property keys are internalized strings, so this
 * lookup (and the switch on its result) compares pointers instead of slicing and comparing characters.
 */
const CORE_HEADERS: ReadonlyMap<string, string> = new Map(
  ['specversion', 'id', 'source', 'type', 'subject', 'time', 'dataschema'].map((name) => [
    `ce-${name}`,
    name,
  ]),
);

/** The attributes of a binary-mode request, collected before validation. */
interface BinaryAttributes {
  specversion?: string;
  id?: string;
  source?: string;
  type?: string;
  subject?: string;
  time?: string;
  dataschema?: string;
}

function parseBinary(
  headers: HttpHeaders,
  contentType: string | undefined,
  body: Uint8Array,
  maxEventBytes: number,
): CloudEvent {
  const core: BinaryAttributes = {};
  let extensions: Map<string, string> | undefined;
  let found = false;
  let size = body.length;
  for (const name of Object.keys(headers)) {
    if (!isCePrefix(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    found = true;
    const attribute = CORE_HEADERS.get(name) ?? lowerCase(name.slice(3));
    if (Array.isArray(value) && value.length > 1) {
      throw invalid(
        `the header ce-${attribute} appears ${value.length} times; each attribute must appear once`,
        attribute,
      );
    }
    const text = Array.isArray(value) ? (value[0] ?? '') : value;
    size += name.length + text.length;
    const decoded = decodeHeaderValue(text);
    if (decoded === undefined) {
      throw invalid(
        `the header ce-${attribute} is not valid UTF-8 after percent-decoding; received ${show(text)}`,
        attribute,
      );
    }
    // Named stores for the spec's attributes keep this loop monomorphic; extensions are the rare case.
    switch (attribute) {
      case 'specversion':
        if (core.specversion !== undefined) throw repeated(attribute);
        core.specversion = decoded;
        break;
      case 'id':
        if (core.id !== undefined) throw repeated(attribute);
        core.id = decoded;
        break;
      case 'source':
        if (core.source !== undefined) throw repeated(attribute);
        core.source = decoded;
        break;
      case 'type':
        if (core.type !== undefined) throw repeated(attribute);
        core.type = decoded;
        break;
      case 'subject':
        if (core.subject !== undefined) throw repeated(attribute);
        core.subject = decoded;
        break;
      case 'time':
        if (core.time !== undefined) throw repeated(attribute);
        core.time = decoded;
        break;
      case 'dataschema':
        if (core.dataschema !== undefined) throw repeated(attribute);
        core.dataschema = decoded;
        break;
      default:
        checkExtensionHeader(attribute);
        extensions ??= new Map();
        if (extensions.has(attribute)) throw repeated(attribute);
        extensions.set(attribute, decoded);
    }
  }
  if (!found) {
    throw new JunctionError(
      'UnsupportedMediaType',
      `the request is not a CloudEvent: content type ${show(contentType)} and no ce- headers; ${ACCEPTED}`,
      { field: 'content-type' },
    );
  }
  if (size > maxEventBytes) throw tooLarge('event', size, maxEventBytes);
  const payload = payloadFromBytes(contentType, body);
  const raw: Record<string, unknown> = {
    specversion: core.specversion,
    id: core.id,
    source: core.source,
    type: core.type,
    subject: core.subject,
    time: core.time,
    dataschema: core.dataschema,
    datacontenttype: contentType,
    data: payload.data,
    data_base64: payload.data_base64,
  };
  return validateEventParts(raw, extensions ?? NO_EXTENSIONS, serializedLimit(size, maxEventBytes));
}

function repeated(attribute: string): JunctionError {
  return invalid(
    `the header ce-${attribute} appears more than once; each attribute must appear once`,
    attribute,
  );
}

function checkExtensionHeader(attribute: string): void {
  if (attribute === 'datacontenttype') {
    throw invalid(
      'binary mode carries datacontenttype in Content-Type; the header ce-datacontenttype must not be sent',
      attribute,
    );
  }
  if (!isAttributeName(attribute) || attribute === 'data') {
    throw invalid(
      `the header ce-${attribute} does not name a valid attribute (lower-case letters and digits, not "data")`,
      attribute,
    );
  }
}

function isCePrefix(name: string): boolean {
  return (
    name.length > 3 &&
    (name.charCodeAt(0) | 0x20) === 0x63 &&
    (name.charCodeAt(1) | 0x20) === 0x65 &&
    name.charCodeAt(2) === 0x2d
  );
}

function lowerCase(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) return name.toLowerCase();
  }
  return name;
}

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidEvent', message, { field });
}

function tooLarge(what: string, size: number, limit: number): JunctionError {
  return new JunctionError('PayloadTooLarge', `the ${what} is ${size} bytes; the limit is ${limit} bytes`, {
    details: { size, limit },
  });
}

/** An outgoing HTTP message: header names in lower case, and the body bytes. */
export interface HttpMessage {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/**
 * An event as an HTTP message. Binary: `ce-` headers (values percent-encoded), the data as the body and
 * `content-type` = datacontenttype (`application/json` for JSON data without one). Structured: the JSON
 * format with `content-type: application/cloudevents+json; charset=utf-8`.
 */
export function toHttpMessage(event: CloudEvent, mode: 'binary' | 'structured'): HttpMessage {
  if (mode === 'structured') {
    return { headers: { 'content-type': STRUCTURED_CONTENT_TYPE }, body: encodeUtf8(serializeEvent(event)) };
  }
  const headers: Record<string, string> = {};
  for (const key of Object.keys(event)) {
    if (key === 'data' || key === 'data_base64' || key === 'datacontenttype') continue;
    const value = event[key];
    if (value === undefined || value === null) continue;
    headers[`ce-${key}`] = percentEncode(String(value));
  }
  const { contentType, body } = payloadToBytes(event);
  if (contentType !== undefined) headers['content-type'] = contentType;
  return { headers, body };
}

/** Events as one batched-mode message (`application/cloudevents-batch+json`). */
export function toHttpBatch(events: readonly CloudEvent[]): HttpMessage {
  const body = `[${events.map(serializeEvent).join(',')}]`;
  return { headers: { 'content-type': BATCH_CONTENT_TYPE }, body: encodeUtf8(body) };
}
