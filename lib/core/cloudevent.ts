/** Strict validation of CloudEvents 1.0 in the JSON event format, and the frozen CloudEvent value it returns. */
import { type CloudEvent, CONTEXT_ATTRIBUTES } from './cloudevent-types.ts';
import { isBase64 } from './codec/base64.ts';
import {
  PLAIN_EXTENSIONS,
  PLAIN_ID,
  PLAIN_SOURCE,
  PLAIN_SUBJECT,
  PLAIN_TYPE,
  type ScannedEvent,
  scanEventBody,
  VALID_TIME,
} from './codec/event-scan.ts';
import { parseJson } from './codec/json.ts';
import { payloadKind } from './codec/media-type.ts';
import { defineRawData, JsonText, rawDataOf, rawDataText } from './codec/raw-data.ts';
import { isRfc3339 } from './codec/rfc3339.ts';
import { isAbsoluteUri, isUriReference } from './codec/uri.ts';
import { encodeUtf8Scratch, utf8Length } from './codec/utf8.ts';
import { JunctionError } from './errors.ts';

export interface ValidateEventOptions {
  /**
   * Largest event accepted, in bytes of its JSON serialization; larger events throw `PayloadTooLarge`.
   * @default no limit
   */
  readonly maxEventBytes?: number;
}

/** How deep `data` may nest (objects and arrays) before the event is rejected. */
export const MAX_DATA_DEPTH = 64;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Validates a JSON-format event (as `JSON.parse` gives it) against CloudEvents 1.0 and returns a new,
 * deeply frozen event. `null` optional attributes and extensions are dropped (the spec: null means unset).
 * Throws `JunctionError('InvalidEvent')` whose `field` names the attribute at fault and whose message
 * shows the value received, or `PayloadTooLarge` over `maxEventBytes`.
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#context-attributes
 * @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
export function validateEvent(raw: unknown, options: ValidateEventOptions = {}): CloudEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalid(`an event must be a JSON object; received ${show(raw)}`, undefined);
  }
  return validateParts(raw as Record<string, unknown>, undefined, options, false, 0);
}

/**
 * `validateEvent` for codecs that collect attributes themselves (binary modes, the scanner): the spec's
 * attributes and the payload members are read from `input`, extensions from `extensions` (other members
 * of `input` are ignored). `data` may be a `JsonText` the scanner checked: the event then keeps that text
 * and parses it only when `data` is read (see `defineRawData`). The rules and errors are exactly those of
 * `validateEvent`.
 */
export function validateEventParts(
  input: Readonly<Record<string, unknown>>,
  extensions: ReadonlyMap<string, unknown>,
  options: ValidateEventOptions = {},
): CloudEvent {
  return validateParts(input, extensions, options, true, 0);
}

const NO_EXTENSIONS: ReadonlyMap<string, unknown> = new Map();

/** Validates an event the scanner read (`scanEventBody`, `scanBatchBody`); see `validateEventParts`. */
export function validateScannedEvent(scanned: ScannedEvent, options: ValidateEventOptions = {}): CloudEvent {
  return validateParts(
    scanned as unknown as Readonly<Record<string, unknown>>,
    scanned.extensions === undefined ? NO_EXTENSIONS : inObjectOrder(scanned.extensions),
    options,
    true,
    scanned.plain,
  );
}

/**
 * The extensions in the order `Object.keys` gives an object's members (array indices such as "1" first,
 * ascending, then the rest as they came), so that the first error reported is the one it always was.
 */
function inObjectOrder(extensions: Map<string, unknown>): Map<string, unknown> {
  let indices: string[] | undefined;
  for (const key of extensions.keys()) {
    if (!isArrayIndex(key)) continue;
    indices ??= [];
    indices.push(key);
  }
  if (indices === undefined) return extensions;
  indices.sort((a, b) => Number(a) - Number(b));
  const ordered = new Map<string, unknown>();
  for (const key of indices) ordered.set(key, extensions.get(key));
  for (const [key, value] of extensions) if (!ordered.has(key)) ordered.set(key, value);
  return ordered;
}

/** Whether `key` is a canonical array index ("0", "7", "42", …, below 2³² − 1). */
function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (!(first >= 0x30 && first <= 0x39) || (first === 0x30 && key.length > 1) || key.length > 10)
    return false;
  for (let i = 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (!(code >= 0x30 && code <= 0x39)) return false;
  }
  return Number(key) < 4294967295;
}

function validateParts(
  input: Readonly<Record<string, unknown>>,
  extensions: ReadonlyMap<string, unknown> | undefined,
  options: ValidateEventOptions,
  acceptsText: boolean,
  plain: number,
): CloudEvent {
  // The required attributes first, in one literal: every event gets the same object shape.
  const out: Record<string, unknown> = {
    specversion: checkSpecversion(input.specversion),
    id: requiredString('id', input.id, plain & PLAIN_ID),
    source: checkSource(input.source, plain & PLAIN_SOURCE),
    type: requiredString('type', input.type, plain & PLAIN_TYPE),
  };
  const datacontenttype = input.datacontenttype;
  if (datacontenttype !== null && datacontenttype !== undefined) {
    if (typeof datacontenttype !== 'string' || payloadKind(datacontenttype) === null) {
      throw invalid(
        `datacontenttype must be an RFC 2046 media type such as application/json; received ${show(datacontenttype)}`,
        'datacontenttype',
      );
    }
    out.datacontenttype = datacontenttype;
  }
  const dataschema = input.dataschema;
  if (dataschema !== null && dataschema !== undefined) {
    if (typeof dataschema !== 'string' || !isAbsoluteUri(dataschema)) {
      throw invalid(
        `dataschema must be an absolute URI (RFC 3986 §4.3); received ${show(dataschema)}`,
        'dataschema',
      );
    }
    out.dataschema = dataschema;
  }
  const subject = input.subject;
  if (subject !== null && subject !== undefined) {
    out.subject = requiredString('subject', subject, plain & PLAIN_SUBJECT);
  }
  const time = input.time;
  if (time !== null && time !== undefined) {
    if (typeof time !== 'string' || ((plain & VALID_TIME) === 0 && !isRfc3339(time))) {
      throw invalid(
        `time must be an RFC 3339 timestamp such as 2018-04-05T17:31:00Z; received ${show(time)}`,
        'time',
      );
    }
    out.time = time;
  }
  if (extensions === undefined) {
    for (const key of Object.keys(input)) {
      if (!KNOWN_MEMBERS.has(key)) checkExtension(key, input[key], out, false);
    }
  } else {
    const plainValues = (plain & PLAIN_EXTENSIONS) !== 0;
    extensions.forEach((value, key) => {
      if (KNOWN_MEMBERS.has(key)) throw invalid(`${key} is not an extension attribute`, key);
      checkExtension(key, value, out, plainValues);
    });
  }
  const data = input.data;
  const base64 = input.data_base64;
  if (base64 !== null && base64 !== undefined) {
    if (typeof base64 !== 'string' || !isBase64(base64)) {
      throw invalid(
        `data_base64 must be a base64 string (RFC 4648); received ${show(base64)}`,
        'data_base64',
      );
    }
    if (data !== undefined) throw invalid('data and data_base64 must not both be present', 'data_base64');
    out.data_base64 = base64;
  } else if (acceptsText && data instanceof JsonText) {
    const contentType = out.datacontenttype as string | undefined;
    // What the scanner flagged, and non-JSON content types, are checked on the parsed value: its errors
    // are the rules. Data that passes is still kept as its text.
    if (data.flags !== 0 || payloadKind(contentType) !== 'json')
      checkData(JSON.parse(data.text), contentType);
    defineRawData(out, data);
  } else if (data !== undefined) {
    out.data = checkData(data, out.datacontenttype as string | undefined);
  }
  const event = Object.freeze(out) as CloudEvent;
  if (options.maxEventBytes !== undefined) {
    const size = eventSize(event);
    if (size > options.maxEventBytes) {
      throw new JunctionError(
        'PayloadTooLarge',
        `event "${event.id}" is ${size} bytes; the limit is ${options.maxEventBytes} bytes`,
        { details: { size, limit: options.maxEventBytes } },
      );
    }
  }
  return event;
}

/** The members of the JSON format that are not extensions. */
const KNOWN_MEMBERS: ReadonlySet<string> = new Set([...CONTEXT_ATTRIBUTES, 'data', 'data_base64']);

function checkSpecversion(value: unknown): '1.0' {
  if (value === '1.0') return value;
  if (value === undefined) throw invalid('specversion is required (use "1.0")', 'specversion');
  throw invalid(`specversion must be "1.0"; received ${show(value)}`, 'specversion');
}

function checkSource(value: unknown, plain: number): string {
  const source = requiredString('source', value, plain);
  // A producer sends many events from one source: the last one that passed is not parsed again.
  if (source === lastSource) return source;
  if (!isUriReference(source)) {
    throw invalid(`source must be a URI-reference (RFC 3986); received ${show(source)}`, 'source');
  }
  lastSource = source;
  return source;
}

let lastSource = '';

/** A non-empty string without excluded characters; `plain` (non-zero) when the scanner saw only printable ASCII. */
function requiredString(field: string, value: unknown, plain = 0): string {
  if (value === undefined) throw invalid(`${field} is required: a non-empty string`, field);
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${field} must be a non-empty string; received ${show(value)}`, field);
  }
  if (plain === 0) {
    const bad = invalidCharAt(value);
    if (bad >= 0) throw badChar(field, value, bad);
  }
  return value;
}

function checkExtension(name: string, value: unknown, out: Record<string, unknown>, plain: boolean): void {
  if (!validNames.has(name)) {
    if (!isAttributeName(name)) {
      throw invalid(
        `extension attribute names must be lower-case letters and digits ([a-z0-9]); received ${show(name)}`,
        name,
      );
    }
    if (validNames.size >= 256) validNames.clear();
    validNames.add(name);
  }
  if (value === null || value === undefined) return;
  if (typeof value === 'string') {
    if (!plain) {
      const bad = invalidCharAt(value);
      if (bad >= 0) throw badChar(name, value, bad);
    }
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
      throw invalid(
        `extension ${name} must be a string, a boolean or an integer from ${INT32_MIN} to ${INT32_MAX}; received ${show(value)}`,
        name,
      );
    }
  } else if (typeof value !== 'boolean') {
    throw invalid(
      `extension ${name} must be a string, a boolean or an integer; received ${show(value)}`,
      name,
    );
  }
  out[name] = value;
}

/** Extension names that passed `isAttributeName` lately (a bus sees the same few again and again). */
const validNames = new Set<string>();

/** Whether `name` is a valid attribute name: `[a-z0-9]+` (longer than 20 characters is allowed: a SHOULD). */
export function isAttributeName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (!((code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39))) return false;
  }
  return true;
}

function checkData(data: unknown, contentType: string | undefined): unknown {
  const kind = typeof data;
  if (kind === 'string' || data === null) return data;
  if (kind !== 'object' && kind !== 'number' && kind !== 'boolean') throw notJson(data);
  if (payloadKind(contentType) !== 'json') {
    throw invalid(
      `data must be a string when datacontenttype is ${show(contentType)} (not JSON); send bytes as data_base64; received ${show(data)}`,
      'data',
    );
  }
  if (kind === 'object') deepFreeze(data as object, 1);
  else if (kind === 'number' && !Number.isFinite(data)) throw notJson(data);
  return data;
}

/** Freezes every object and array in `value`, checking the depth and that every leaf is a JSON value. */
function deepFreeze(value: object, depth: number): void {
  if (depth > MAX_DATA_DEPTH) throw invalid(`data nests deeper than ${MAX_DATA_DEPTH} levels`, 'data');
  if (Array.isArray(value)) {
    for (const item of value) checkItem(item, depth);
  } else {
    for (const key in value) checkItem((value as Record<string, unknown>)[key], depth);
  }
  Object.freeze(value);
}

function checkItem(item: unknown, depth: number): void {
  const kind = typeof item;
  if (kind === 'object') {
    if (item !== null) deepFreeze(item as object, depth + 1);
  } else if (kind === 'number') {
    if (!Number.isFinite(item)) throw notJson(item);
  } else if (kind !== 'string' && kind !== 'boolean' && kind !== 'undefined') throw notJson(item);
}

function notJson(value: unknown): JunctionError {
  return invalid(`data must hold only JSON values; received ${typeof value} ${show(String(value))}`, 'data');
}

/**
 * The index of the first character the CloudEvents String type excludes (controls U+0000–U+001F and
 * U+007F–U+009F, noncharacters, unpaired surrogates), or -1. Tab, line feed and carriage return are
 * tolerated: the conformance corpus (YAML block scalars) carries them, and every way out of Junction
 * escapes them (percent-encoded headers, JSON).
 */
export function invalidCharAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f) continue;
    if (code === 0x09 || code === 0x0a || code === 0x0d) continue;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return i;
    if ((code >= 0xfdd0 && code <= 0xfdef) || code === 0xfffe || code === 0xffff) return i;
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return i;
      const point = ((code - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
      if ((point & 0xfffe) === 0xfffe) return i;
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) return i;
  }
  return -1;
}

function badChar(field: string, value: string, index: number): JunctionError {
  const code = value.charCodeAt(index).toString(16).toUpperCase().padStart(4, '0');
  return invalid(
    `${field} contains U+${code} at index ${index}, which CloudEvents strings exclude (control characters, noncharacters, unpaired surrogates); received ${show(value)}`,
    field,
  );
}

function invalid(message: string, field: string | undefined): JunctionError {
  return new JunctionError('InvalidEvent', message, field === undefined ? {} : { field });
}

/** A short, JSON-ish rendering of a received value for error messages (truncated at 100 characters). */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    try {
      text = String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

const sizes = new WeakMap<CloudEvent, number>();

/** Bytes of the event's JSON serialization (UTF-8), computed once per event value. */
export function eventSize(event: CloudEvent): number {
  let size = sizes.get(event);
  if (size === undefined) {
    size = utf8Length(serializeEvent(event));
    sizes.set(event, size);
  }
  return size;
}

/**
 * The event in the JSON event format (`application/cloudevents+json`). JSON data that arrived as text is
 * written as that text, unchanged (never parsed and re-serialized); otherwise this is `JSON.stringify`.
 */
export function serializeEvent(event: CloudEvent): string {
  const text = rawDataText(event);
  if (text === undefined) return JSON.stringify(event);
  let json = '{';
  for (const key of Object.keys(event)) {
    if (json.length > 1) json += ',';
    // Member names are attribute names ([a-z0-9]+, validated) or "data": nothing to escape.
    json += key === 'data' ? `"data":${text}` : `"${key}":${JSON.stringify(event[key])}`;
  }
  return `${json}}`;
}

/**
 * `serializeEvent`, and where the JSON data that arrived as text was written in it: `text.slice(dataAt, dataEnd)` is
 * that text. `dataAt` is -1 when the event's data is not such text (no data, `data_base64`, or a plain value): a store
 * that keeps the span can read the record back with `readStoredEvent`, without the codec's scan.
 */
export function serializeStoredEvent(event: CloudEvent): { text: string; dataAt: number; dataEnd: number } {
  const raw = rawDataText(event);
  if (raw === undefined) return { text: JSON.stringify(event), dataAt: -1, dataEnd: -1 };
  let json = '{';
  let dataAt = -1;
  for (const key of Object.keys(event)) {
    if (json.length > 1) json += ',';
    if (key === 'data') {
      json += '"data":';
      dataAt = json.length;
      json += raw;
    } else json += `"${key}":${JSON.stringify(event[key])}`;
  }
  return { text: `${json}}`, dataAt, dataEnd: dataAt < 0 ? -1 : dataAt + raw.length };
}

/**
 * Reads back a record that `serializeStoredEvent` wrote for an event this bus had validated, given the span of its
 * data: the attributes are read by a reader of the bus's own layout (`readMembers`; no check of their values: they
 * passed validation when the event came in), and the data stays that text, flagged as checked (`JsonText`, parsed and
 * frozen only when something reads it). The event is the one `parseEventJson` would read from the text, attributes in
 * the same order and data last.
 *
 * The caller vouches that the record is the bus's own: only a store no one else writes may call this (see
 * docs/security.md, "Stored records"). What it still checks is the shape — a span that does not sit right after
 * `,"data":` and before `,` or `}`, a record that does not begin with `specversion`, `id`, `source` and `type`, or a
 * member that is not a string, a finite number or a boolean under a valid name other than `data` — and then it answers
 * `undefined`, for the caller to read the text with the full check (`parseEventJson`) instead.
 */
export function readStoredEvent(text: string, dataAt: number, dataEnd: number): CloudEvent | undefined {
  const out = readStoredAttributes(text, dataAt, dataEnd);
  if (out === undefined) return undefined;
  defineRawData(out, new JsonText(text.slice(dataAt, dataEnd), 0));
  return Object.freeze(out) as CloudEvent;
}

/**
 * An event as a store that only this bus writes holds it (`serializeStoredEvent`): its attributes, read from the
 * record's text by `readStoredAttributes`, and the JSON text of its data. `storedEvent` makes it the event
 * `readStoredEvent` reads from the same record; until then nothing of it is frozen or parsed, so that a matcher can
 * read it (`RuleMatcher.matchStored`) and most records, matching nothing, are never built into events.
 */
export interface StoredEvent {
  /**
   * The attributes, in the record's order, `data` left out; the values the event has. Read, never change them. Once
   * `storedEvent` has made the event, this object is that event (frozen, its lazy `data` last).
   */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The record's text. */
  readonly text: string;
  /**
   * Where the JSON text of the event's data is in `text` (`text.slice(dataAt, dataEnd)`), as it was validated when
   * the event came in. A reader selects from `text` at `dataAt` rather than from a slice: V8 reads the characters of
   * a flat string faster than those of a slice of one (≈ 20% of selecting `data`, measured).
   */
  readonly dataAt: number;
  readonly dataEnd: number;
}

/**
 * The attributes of a record `serializeStoredEvent` wrote (`readStoredEvent`'s reading and its shape checks, on the
 * same conditions: a record of the bus's own store), without `data`: `undefined` when the shape is not the bus's.
 */
export function readStoredAttributes(
  text: string,
  dataAt: number,
  dataEnd: number,
): Record<string, string | number | boolean> | undefined {
  if (!(Number.isInteger(dataAt) && Number.isInteger(dataEnd))) return undefined;
  if (dataAt < 9 || dataEnd <= dataAt || dataEnd >= text.length) return undefined;
  // Compared as a slice: `startsWith` at an offset costs more (see `memberName`).
  if (text.slice(dataAt - 8, dataAt) !== ',"data":') return undefined;
  const after = text.charCodeAt(dataEnd);
  if (after !== 0x2c && !(after === 0x7d && dataEnd === text.length - 1)) return undefined;
  // The shape `validateParts` gives every event: the required attributes first, in one literal.
  const out: Record<string, string | number | boolean> = { specversion: '1.0', id: '', source: '', type: '' };
  if (!readMembers(text, dataAt - 8, dataEnd, out)) return undefined;
  return out;
}

/**
 * The event of a `StoredEvent` (`readStoredEvent`'s event): its attributes object itself, given its data text as the
 * lazy `data` and frozen — made once (a copy of the attributes cost ≈ 0.15 µs of the ≈ 0.5 µs it takes to make the
 * event). From then on `stored.attributes` is that event.
 */
export function storedEvent(stored: StoredEvent): CloudEvent {
  const out = stored.attributes as Record<string, unknown>;
  if (rawDataOf(out) === undefined) {
    defineRawData(out, new JsonText(stored.text.slice(stored.dataAt, stored.dataEnd), 0));
    Object.freeze(out);
  }
  return out as CloudEvent;
}

/** How every record the bus writes begins (`validateParts` puts these first), and the names that follow. */
const STORED_HEAD = '{"specversion":"1.0","id":';
const STORED_SOURCE = ',"source":';
const STORED_TYPE = ',"type":';

/** Where the last `readString` stopped (just after the closing quote). */
let stop = 0;

/**
 * The JSON string at `at` in `text` (a quote there), ending before `end`: sliced when it has no backslash, else read by
 * `JSON.parse`; `undefined` when there is no string there. Sets `stop`.
 */
function readString(text: string, at: number, end: number): string | undefined {
  if (text.charCodeAt(at) !== 0x22) return undefined;
  let j = at + 1;
  let escaped = false;
  for (; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) break;
    if (c === 0x5c) {
      escaped = true;
      j++;
    }
  }
  if (j >= end) return undefined;
  stop = j + 1;
  if (!escaped) return text.slice(at + 1, j);
  try {
    return JSON.parse(text.slice(at, j + 1)) as string;
  } catch {
    return undefined;
  }
}

/**
 * Attribute names met in stored records (valid, not `data`), up to `MAX_KNOWN_NAMES`: a member name equal to one of
 * them is taken from here rather than sliced from the text — a sliced name costs V8 a string-table lookup on every
 * store into the event, and a check of its characters.
 */
const knownNames: string[] = [...CONTEXT_ATTRIBUTES].filter(
  (name) => name !== 'data' && isAttributeName(name),
);
const MAX_KNOWN_NAMES = 64;

/** The valid attribute name (other than `data`) in `text` from `at` to `close`, else `undefined`. */
function memberName(text: string, at: number, close: number): string | undefined {
  // One slice compared with each known name: V8's `startsWith` at an offset cost ≈ 50 ns a call here, more than
  // making the slice (as for the record's head in `readMembers`).
  const name = text.slice(at, close);
  for (let n = 0; n < knownNames.length; n++) {
    const known = knownNames[n] as string;
    if (known === name) return known;
  }
  if (name === 'data' || !isAttributeName(name)) return undefined;
  if (knownNames.length < MAX_KNOWN_NAMES) knownNames.push(name);
  return name;
}

/**
 * Reads the members of the JSON object `text`, but for the characters in [skipFrom, skipTo) (the data member), into
 * `out`: `specversion` ("1.0"), `id`, `source` and `type` first, in that order, as strings, then the others. False
 * unless every member is a string, a finite number, `true` or `false` under a valid attribute name other than `data`.
 */
function readMembers(text: string, skipFrom: number, skipTo: number, out: Record<string, unknown>): boolean {
  const end = text.length - 1;
  // Compared as slices: `startsWith` at an offset costs more (see `memberName`).
  if (text.charCodeAt(end) !== 0x7d || text.slice(0, STORED_HEAD.length) !== STORED_HEAD) return false;
  const id = readString(text, STORED_HEAD.length, end);
  if (id === undefined || text.slice(stop, stop + STORED_SOURCE.length) !== STORED_SOURCE) return false;
  const source = readString(text, stop + STORED_SOURCE.length, end);
  if (source === undefined || text.slice(stop, stop + STORED_TYPE.length) !== STORED_TYPE) return false;
  const type = readString(text, stop + STORED_TYPE.length, end);
  if (type === undefined) return false;
  out.id = id;
  out.source = source;
  out.type = type;
  let i = stop;
  while (i < end) {
    if (i === skipFrom) {
      i = skipTo;
      continue;
    }
    if (text.charCodeAt(i) !== 0x2c || text.charCodeAt(i + 1) !== 0x22) return false;
    const close = text.indexOf('"', i + 2);
    if (close < 0 || text.charCodeAt(close + 1) !== 0x3a) return false;
    const name = memberName(text, i + 2, close);
    if (name === undefined) return false;
    i = close + 2;
    let value: unknown;
    if (text.charCodeAt(i) === 0x22) {
      value = readString(text, i, end);
      if (value === undefined) return false;
      i = stop;
    } else {
      let j = i;
      while (j < end && j !== skipFrom && text.charCodeAt(j) !== 0x2c) j++;
      const lexeme = text.slice(i, j);
      if (lexeme === 'true') value = true;
      else if (lexeme === 'false') value = false;
      else {
        value = Number(lexeme);
        if (lexeme.length === 0 || !Number.isFinite(value)) return false;
      }
      i = j;
    }
    out[name] = value;
  }
  return i === end;
}

/**
 * The event with one extension set (in its place when the event has it, else last) to a value the caller vouches for,
 * not validated again: a frozen copy whose JSON data stays the producer's text, unparsed (a spread of the event would
 * read `data`, and so parse and deep-freeze it).
 */
export function withExtension(event: CloudEvent, name: string, value: string | number | boolean): CloudEvent {
  const raw = rawDataOf(event);
  const out: Record<string, unknown> = {};
  let set = false;
  for (const key of Object.keys(event)) {
    if (key === name) {
      out[key] = value;
      set = true;
    } else if (key === 'data' && raw !== undefined) defineRawData(out, raw);
    else out[key] = event[key];
  }
  if (!set) out[name] = value;
  return Object.freeze(out) as CloudEvent;
}

/**
 * The event with some attributes set (or replaced), validated again; JSON data that arrived as text stays that text
 * (a spread of the event would parse it, and a number a double cannot hold would change on the way out).
 */
export function withAttributes(
  event: CloudEvent,
  attributes: Readonly<Record<string, unknown>>,
  options: ValidateEventOptions = {},
): CloudEvent {
  const base: Record<string, unknown> = {};
  for (const key of Object.keys(event)) if (key !== 'data') base[key] = event[key];
  Object.assign(base, attributes);
  const text = rawDataText(event);
  if (text === undefined) {
    return validateEvent('data' in event ? { ...base, data: event.data } : base, options);
  }
  return parseEventJson(writtenWithData(base, text), options);
}

/**
 * The event of `attributes` (a JSON-format event's members but `data`) whose data is the JSON text `dataText`, kept
 * as that text: what `parseEventJson` answers for the event written out with that data, without writing it out and
 * scanning it back. `data` is `dataText` parsed (the caller has parsed it already). Only an object or an array is
 * kept so here (the scanner keeps other values as values); any other data, or data that cannot be kept as its text
 * (too deep, a number a double cannot hold, not well-formed text), takes `parseEventJson`'s path, so its event and
 * its errors are that path's. A content type other than JSON is checked as the scanner's text is.
 */
export function eventWithJsonText(
  attributes: Readonly<Record<string, unknown>>,
  dataText: string,
  data: unknown,
  options: ValidateEventOptions = {},
): CloudEvent {
  if (
    typeof data === 'object' &&
    data !== null &&
    (dataText as unknown as { isWellFormed(): boolean }).isWellFormed() &&
    isKeptData(data)
  ) {
    const extensions = new Map<string, unknown>();
    for (const key of Object.keys(attributes)) {
      if (!KNOWN_MEMBERS.has(key)) extensions.set(key, attributes[key]);
    }
    return validateParts({ ...attributes, data: new JsonText(dataText, 0) }, extensions, options, true, 0);
  }
  return parseEventJson(writtenWithData(attributes, dataText), options);
}

/** An event's JSON text: its members but `data` as `JSON.stringify` writes them, then `data` as the JSON text given. */
function writtenWithData(attributes: Readonly<Record<string, unknown>>, dataText: string): string {
  const head = JSON.stringify(attributes);
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"data":${dataText}}`;
}

/** Whether `data` passes `checkData` as JSON data (it is then frozen). */
function isKeptData(data: unknown): boolean {
  try {
    checkData(data, 'application/json');
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses and validates one JSON-format event; `InvalidJson` or `InvalidEvent` on bad input. JSON data
 * is kept as its text and parsed only when read (see `validateEventParts`).
 */
export function parseEventJson(text: string, options: ValidateEventOptions = {}): CloudEvent {
  // The scanner reads UTF-8: a string with a lone surrogate has no UTF-8 form, and a leading BOM would
  // be skipped as in a body (JSON.parse rejects it in a string), so both take the parsed path.
  if (text.charCodeAt(0) !== 0xfeff && (text as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    const scanned = scanEventBody(encodeUtf8Scratch(text), text);
    if (scanned !== undefined) return validateScannedEvent(scanned, options);
  }
  return validateEvent(parseJson(text, 'event'), options);
}
