/**
 * Reads JSON-format events (one object, or a batch array) straight from the body in one pass: attributes
 * are taken as they are scanned, and `data` is only validated and kept as text (`JsonText`) unless it is
 * a string or null. The scan runs over the UTF-8 bytes; values are sliced from the decoded text. Any
 * syntax error answers `undefined`: the caller then takes the `JSON.parse` path, which reports it exactly
 * as before.
 */
import { MAX_DATA_DEPTH } from '../cloudevent.ts';
import { decodeJsonText } from './json.ts';
import {
  asciiText,
  literalEnd,
  resetOffsets,
  SCAN_NON_FINITE,
  SCAN_TOO_DEEP,
  scanEscaped,
  scanExtra,
  scanFlags,
  scanNumber,
  scanPlain,
  scanString,
  scanValue,
  skipWhitespace,
} from './json-scan.ts';
import {
  FLAG_BIG_NUMBER,
  FLAG_ESCAPED,
  FLAG_NOT_PLAIN,
  RECORD_WORDS,
  scanWithWasm,
  TAPE_MEMBER,
  tape,
} from './json-wasm.ts';
import { JsonText } from './raw-data.ts';
import { isRfc3339Bytes } from './rfc3339.ts';
import { decodeAscii } from './utf8.ts';

/** Bits of `ScannedEvent.plain`: which string attributes hold only printable ASCII (nothing to check). */
export const PLAIN_ID = 1;
export const PLAIN_SOURCE = 2;
export const PLAIN_TYPE = 4;
export const PLAIN_SUBJECT = 8;
/** Set while every string extension value is plain. */
export const PLAIN_EXTENSIONS = 16;
/** `time` was checked as RFC 3339 on the body's bytes already (and passed). */
export const VALID_TIME = 32;

/** The members of one scanned event: the JSON format's members by name, extensions (in order) apart. */
export interface ScannedEvent {
  specversion: unknown;
  id: unknown;
  source: unknown;
  type: unknown;
  datacontenttype: unknown;
  dataschema: unknown;
  subject: unknown;
  time: unknown;
  /** A string, `null`, or the JSON text of any other value (`JsonText`); `undefined` when absent. */
  data: unknown;
  data_base64: unknown;
  /** Extension members (and any other name) in the order of their first appearance; the last value wins. */
  extensions: Map<string, unknown> | undefined;
  /** `PLAIN_*` bits: string values known to hold only printable ASCII; `VALID_TIME`. */
  plain: number;
}

/** An element of a batch that is not a JSON object (validation rejects it): its value. */
export class NotAnObject {
  readonly value: unknown;
  constructor(value: unknown) {
    this.value = value;
  }
}

/** One element of a scanned batch: an event object, or any other JSON value (an error for validation). */
export type ScannedItem = ScannedEvent | NotAnObject;

/** The UTF-8 body being scanned and its strictly decoded text (a leading BOM dropped). */
let bytes: Uint8Array = new Uint8Array(0);
let text = '';
/** Set by `scanEvent`: the offset after the object's `}`. */
let end = -1;

/**
 * Where the JSON text starts in `body` (after a BOM, which `text` does not hold); starts offset mapping.
 * Without `decoded`, the text is decoded once the scan has shown what the body holds (see `decodeText`).
 */
function begin(body: Uint8Array, decoded: string | undefined, what: string): number {
  bytes = body;
  text = decoded ?? '';
  pending = decoded === undefined ? what : undefined;
  bom = body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  resetOffsets(bom);
  return skipWhitespace(body, bom);
}

let bom = 0;
/** Set while the body still has to be decoded: what to call it in an `InvalidJson` error. */
let pending: string | undefined;

/**
 * Decodes the body when the caller did not: an ASCII body (the WebAssembly scan proved it) with the
 * fast decoder, anything else strictly (`InvalidJson` when it is not UTF-8, as before any parsing).
 */
function decodeText(ascii: boolean): void {
  if (pending === undefined) return;
  text = ascii ? decodeAscii(bytes) : decodeJsonText(bytes, pending);
  pending = undefined;
}

/**
 * The items the WebAssembly scanner finds in the body (`env` 1: one event, 2: a batch), `null` when the
 * body is not JSON, or `undefined` when the module leaves this body to the JS scanner (byte offsets are
 * string offsets only for ASCII bodies without a BOM, which are the ones it takes).
 */
function scanByWasm(env: number): ScannedItem[] | null | undefined {
  if (bom !== 0) return undefined;
  const count = scanWithWasm(bytes, env);
  if (count === undefined) return undefined;
  if (count < 0) return null;
  decodeText(true);
  const items: ScannedItem[] = [];
  const records = tape;
  let event = emptyEvent();
  for (let r = 0, at = 0; r < count; r++, at += RECORD_WORDS) {
    const start = records[at + 1]!;
    const stop = records[at + 2]!;
    if (records[at] === TAPE_MEMBER) {
      const flags = records[at + 5]!;
      const key =
        ((flags >> 4) & FLAG_ESCAPED) !== 0
          ? (JSON.parse(text.slice(start, stop)) as string)
          : keyFromWords(start + 1, stop - 1, records[at + 6]!, records[at + 7]!, records[at + 8]!);
      memberFromTape(event, key, records[at + 3]!, records[at + 4]!, flags);
    } else if (records[at + 3] === 1) {
      items.push(event);
      event = emptyEvent();
    } else items.push(new NotAnObject(JSON.parse(text.slice(start, stop))));
  }
  return items;
}

/** Stores the member whose value spans `start` to `stop` (string offsets = byte offsets here). */
function memberFromTape(event: ScannedEvent, key: string, start: number, stop: number, flags: number): void {
  const code = bytes[start];
  if (code === 0x22) {
    let value: string;
    if ((flags & FLAG_ESCAPED) !== 0) value = JSON.parse(text.slice(start, stop)) as string;
    else if (key === 'datacontenttype' || key === 'specversion') {
      value = recent(recentValues, start + 1, stop - 1, 0, 0);
    } else value = text.slice(start + 1, stop - 1);
    assign(event, key, value, (flags & FLAG_NOT_PLAIN) === 0 ? 1 : 0);
    if (key === 'time' && (flags & FLAG_ESCAPED) === 0 && isRfc3339Bytes(bytes, start + 1, stop - 1)) {
      event.plain |= VALID_TIME;
    }
  } else if (code === 0x6e) assign(event, key, null, 0);
  else if (key === 'data') {
    const depth = flags >> 8;
    const dataFlags =
      (depth > MAX_DATA_DEPTH ? SCAN_TOO_DEEP : 0) | ((flags & FLAG_BIG_NUMBER) !== 0 ? SCAN_NON_FINITE : 0);
    event.data = new JsonText(text.slice(start, stop), dataFlags);
  } else if (code === 0x74) assign(event, key, true, 0);
  else if (code === 0x66) assign(event, key, false, 0);
  else if (code === 0x7b || code === 0x5b) assign(event, key, JSON.parse(text.slice(start, stop)), 0);
  else assign(event, key, Number(text.slice(start, stop)), 0);
}

/** Lets go of the body (the scanner's state must not keep a request alive), also after an error. */
function release(): void {
  bytes = EMPTY;
  text = '';
  pending = undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * The event of a body holding one JSON object, or `undefined` when it holds anything else or is not JSON
 * (then parse it to report why). `decoded` is the body's text as `decodeUtf8(body, true)` gives it; when
 * absent, it is decoded here, and a body that is not UTF-8 throws `InvalidJson` naming `what`.
 */
export function scanEventBody(body: Uint8Array, decoded?: string, what = 'body'): ScannedEvent | undefined {
  try {
    return readEventBody(body, decoded, what);
  } finally {
    release();
  }
}

function readEventBody(
  body: Uint8Array,
  decoded: string | undefined,
  what: string,
): ScannedEvent | undefined {
  const start = begin(body, decoded, what);
  if (body[start] !== 0x7b) return undefined;
  const items = scanByWasm(1);
  if (items === null) return undefined;
  if (items !== undefined) {
    const item = items[0];
    return items.length === 1 && item !== undefined && !(item instanceof NotAnObject) ? item : undefined;
  }
  decodeText(false);
  const event = scanEvent(start);
  if (event === undefined || skipWhitespace(body, end) !== body.length) return undefined;
  return event;
}

/** The elements of a body holding one JSON array, or `undefined` when it holds anything else or is not JSON (see `scanEventBody`). */
export function scanBatchBody(body: Uint8Array, decoded?: string, what = 'body'): ScannedItem[] | undefined {
  try {
    return readBatchBody(body, decoded, what);
  } finally {
    release();
  }
}

function readBatchBody(
  body: Uint8Array,
  decoded: string | undefined,
  what: string,
): ScannedItem[] | undefined {
  let i = begin(body, decoded, what);
  if (body[i] !== 0x5b) return undefined;
  const scanned = scanByWasm(2);
  if (scanned !== undefined) return scanned ?? undefined;
  decodeText(false);
  const items: ScannedItem[] = [];
  i = skipWhitespace(body, i + 1);
  if (body[i] === 0x5d) return skipWhitespace(body, i + 1) === body.length ? items : undefined;
  for (;;) {
    if (body[i] === 0x7b) {
      const event = scanEvent(i);
      if (event === undefined) return undefined;
      items.push(event);
      i = end;
    } else {
      const from = i - scanExtra;
      const valueEnd = scanValue(body, i, Number.POSITIVE_INFINITY);
      if (valueEnd < 0) return undefined;
      items.push(new NotAnObject(JSON.parse(text.slice(from, valueEnd - scanExtra))));
      i = valueEnd;
    }
    i = skipWhitespace(body, i);
    const code = body[i];
    if (code === 0x2c) i = skipWhitespace(body, i + 1);
    else if (code === 0x5d) return skipWhitespace(body, i + 1) === body.length ? items : undefined;
    else return undefined;
  }
}

/** The event object whose `{` is at `start`; sets `end` after its `}`. `undefined` on a syntax error. */
function scanEvent(start: number): ScannedEvent | undefined {
  const event = emptyEvent();
  let i = skipWhitespace(bytes, start + 1);
  if (bytes[i] === 0x7d) {
    end = i + 1;
    return event;
  }
  for (;;) {
    if (bytes[i] !== 0x22) return undefined;
    const keyExtra = scanExtra;
    const keyEnd = scanString(bytes, i);
    if (keyEnd < 0) return undefined;
    const key = scanEscaped
      ? (JSON.parse(text.slice(i - keyExtra, keyEnd - scanExtra)) as string)
      : knownKey(i + 1, keyEnd - 1, keyExtra, scanExtra);
    i = skipWhitespace(bytes, keyEnd);
    if (bytes[i] !== 0x3a) return undefined;
    i = skipWhitespace(bytes, i + 1);
    i = scanMember(event, key, i);
    if (i < 0) return undefined;
    i = skipWhitespace(bytes, i);
    const next = bytes[i];
    if (next === 0x2c) i = skipWhitespace(bytes, i + 1);
    else if (next === 0x7d) {
      end = i + 1;
      return event;
    } else return undefined;
  }
}

function emptyEvent(): ScannedEvent {
  return {
    specversion: undefined,
    id: undefined,
    source: undefined,
    type: undefined,
    datacontenttype: undefined,
    dataschema: undefined,
    subject: undefined,
    time: undefined,
    data: undefined,
    data_base64: undefined,
    extensions: undefined,
    plain: PLAIN_EXTENSIONS,
  };
}

/** Reads the value of member `key` at `i` into `event`: the offset after it, or -1 on a syntax error. */
function scanMember(event: ScannedEvent, key: string, i: number): number {
  const code = bytes[i];
  const from = i - scanExtra;
  if (code === 0x7b || code === 0x5b || (key === 'data' && code !== 0x22 && code !== 0x6e)) {
    // Data's text is kept; any other structured value is parsed (validation rejects it by name).
    const valueEnd = scanValue(bytes, i, key === 'data' ? MAX_DATA_DEPTH : Number.POSITIVE_INFINITY);
    if (valueEnd < 0) return -1;
    const slice = text.slice(from, valueEnd - scanExtra);
    if (key === 'data') event.data = new JsonText(slice, scanFlags);
    else assign(event, key, JSON.parse(slice), 0);
    return valueEnd;
  }
  if (code === 0x22) {
    const valueEnd = scanString(bytes, i);
    if (valueEnd < 0) return -1;
    const value = scanEscaped
      ? (JSON.parse(text.slice(from, valueEnd - scanExtra)) as string)
      : text.slice(from + 1, valueEnd - 1 - scanExtra);
    assign(event, key, value, scanPlain ? 1 : 0);
    return valueEnd;
  }
  let valueEnd = literalEnd(bytes, i);
  let value: unknown;
  if (valueEnd >= 0) value = code === 0x74 ? true : code === 0x66 ? false : null;
  else {
    valueEnd = scanNumber(bytes, i);
    if (valueEnd < 0) return -1;
    value = Number(asciiText(bytes, i, valueEnd));
  }
  assign(event, key, value, 0);
  return valueEnd;
}

/** Sets or clears `flag` in `event.plain`: set when the member's string was printable ASCII only (`plain` 1). */
function markPlain(event: ScannedEvent, flag: number, plain: number): void {
  event.plain = plain === 1 ? event.plain | flag : event.plain & ~flag;
}

/** Stores a member; `plain` is 1 for a string of printable ASCII only. */
function assign(event: ScannedEvent, key: string, value: unknown, plain: number): void {
  switch (key) {
    case 'specversion':
      event.specversion = value;
      return;
    case 'id':
      event.id = value;
      markPlain(event, PLAIN_ID, plain);
      return;
    case 'source':
      event.source = value;
      markPlain(event, PLAIN_SOURCE, plain);
      return;
    case 'type':
      event.type = value;
      markPlain(event, PLAIN_TYPE, plain);
      return;
    case 'datacontenttype':
      event.datacontenttype = value;
      return;
    case 'dataschema':
      event.dataschema = value;
      return;
    case 'subject':
      event.subject = value;
      markPlain(event, PLAIN_SUBJECT, plain);
      return;
    case 'time':
      event.time = value;
      event.plain &= ~VALID_TIME;
      return;
    case 'data':
      event.data = value;
      return;
    case 'data_base64':
      event.data_base64 = value;
      return;
    default:
      // A string that is not plain (or was, before a duplicate replaced it) is checked like any other.
      if (typeof value === 'string' && plain === 0) event.plain &= ~PLAIN_EXTENSIONS;
      event.extensions ??= new Map();
      event.extensions.set(key, value);
  }
}

/**
 * `knownKey` from the words the WebAssembly scan wrote for the key: its bytes 0–3 (`w0`), 4–7 (`w1`) and
 * last 4 (`w2`). Three integer comparisons tell the spec's names apart; only bytes no word covers (past
 * the 12th) are compared one by one.
 */
function keyFromWords(start: number, stop: number, w0: number, w1: number, w2: number): string {
  const length = stop - start;
  switch (length) {
    case 2:
      if (bytes[start] === 0x69 && bytes[start + 1] === 0x64) return 'id';
      break;
    case 4:
      if (w0 === DATA.w0) return 'data';
      if (w0 === TYPE.w0) return 'type';
      if (w0 === TIME.w0) return 'time';
      break;
    case 6:
      if (w0 === SOURCE.w0 && w2 === SOURCE.w2) return 'source';
      break;
    case 7:
      if (w0 === SUBJECT.w0 && w2 === SUBJECT.w2) return 'subject';
      break;
    case 10:
      if (w0 === DATASCHEMA.w0 && w1 === DATASCHEMA.w1 && w2 === DATASCHEMA.w2) return 'dataschema';
      break;
    case 11:
      if (w0 === SPECVERSION.w0 && w1 === SPECVERSION.w1 && w2 === SPECVERSION.w2) return 'specversion';
      if (w0 === DATA_BASE64.w0 && w1 === DATA_BASE64.w1 && w2 === DATA_BASE64.w2) return 'data_base64';
      break;
    case 15:
      if (
        w0 === DATACONTENTTYPE.w0 &&
        w1 === DATACONTENTTYPE.w1 &&
        w2 === DATACONTENTTYPE.w2 &&
        sameFrom(start, DATACONTENTTYPE.bytes, 8)
      ) {
        return 'datacontenttype';
      }
      break;
  }
  // An extension name seen lately, compared by its words (and any bytes they do not cover).
  const names = recentNames;
  for (let k = 0; k < names.entries.length; k++) {
    const name = names.entries[k]!;
    if (name.bytes.length !== length || name.w0 !== w0 || (length >= 8 && name.w1 !== w1)) continue;
    if (
      length >= 4
        ? name.w2 === w2 && (length <= 12 || sameFrom(start, name.bytes, 8))
        : sameFrom(start, name.bytes, 0)
    ) {
      return name.string;
    }
  }
  return remember(names, start, stop, 0, 0);
}

/**
 * The key between byte offsets `start` and `stop` (no escapes): the spec's member names come back as
 * constant strings (internalized: later lookups compare pointers) without slicing the text.
 */
function knownKey(start: number, stop: number, extraStart: number, extraStop: number): string {
  const first = bytes[start];
  switch (stop - start) {
    case 2:
      if (first === 0x69 && bytes[start + 1] === 0x64) return 'id';
      break;
    case 4:
      if (first === 0x64 && same(start, DATA.bytes)) return 'data';
      if (first === 0x74 && same(start, TYPE.bytes)) return 'type';
      if (first === 0x74 && same(start, TIME.bytes)) return 'time';
      break;
    case 6:
      if (same(start, SOURCE.bytes)) return 'source';
      break;
    case 7:
      if (same(start, SUBJECT.bytes)) return 'subject';
      break;
    case 10:
      if (same(start, DATASCHEMA.bytes)) return 'dataschema';
      break;
    case 11:
      if (first === 0x73 && same(start, SPECVERSION.bytes)) return 'specversion';
      if (first === 0x64 && same(start, DATA_BASE64.bytes)) return 'data_base64';
      break;
    case 15:
      if (same(start, DATACONTENTTYPE.bytes)) return 'datacontenttype';
      break;
  }
  return recent(recentNames, start, stop, extraStart, extraStop);
}

/** A string of ASCII text with its bytes, and its bytes 0–3, 4–7 and last 4 as little-endian words. */
interface Known {
  readonly string: string;
  readonly bytes: Uint8Array;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
}

/** `string` as a `Known` (its bytes are compared with typed-array reads: V8 runs them faster than `charCodeAt`). */
function known(string: string, bytes: Uint8Array = Uint8Array.from(string, (c) => c.charCodeAt(0))): Known {
  const word = (at: number): number =>
    at < 0 || at + 4 > bytes.length
      ? 0
      : bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
  return { string, bytes, w0: word(0), w1: word(4), w2: word(bytes.length - 4) };
}

const DATA = known('data');
const TYPE = known('type');
const TIME = known('time');
const SOURCE = known('source');
const SUBJECT = known('subject');
const DATASCHEMA = known('dataschema');
const SPECVERSION = known('specversion');
const DATA_BASE64 = known('data_base64');
const DATACONTENTTYPE = known('datacontenttype');

/**
 * Extension names, and values of datacontenttype and specversion, seen lately, each with its bytes. A
 * bus sees the same few again and again: handing back the same string object (found by comparing bytes)
 * spares a new string per event, and the hashing and internalizing of it when it becomes a property
 * name or a map key. A full cache takes new strings in turn, so it follows what is sent now.
 */
interface Recent {
  readonly entries: Known[];
  next: number;
}

const recentNames: Recent = { entries: [], next: 0 };
const recentValues: Recent = { entries: [], next: 0 };
const RECENT_LIMIT = 16;

/** The string between byte offsets `start` and `stop`, the one in `cache` when it holds it. */
function recent(cache: Recent, start: number, stop: number, extraStart: number, extraStop: number): string {
  const length = stop - start;
  const entries = cache.entries;
  for (let k = 0; k < entries.length; k++) {
    const entry = entries[k]!;
    if (entry.bytes.length === length && same(start, entry.bytes)) return entry.string;
  }
  return remember(cache, start, stop, extraStart, extraStop);
}

/** The string between `start` and `stop`, kept in `cache` (in turn) when it is short ASCII. */
function remember(cache: Recent, start: number, stop: number, extraStart: number, extraStop: number): string {
  const value = text.slice(start - extraStart, stop - extraStop);
  if (extraStart === extraStop && stop - start <= 64) {
    // ASCII only (its bytes are its characters); short, as names and media types are.
    cache.entries[cache.next] = known(value, bytes.slice(start, stop));
    cache.next = (cache.next + 1) % RECENT_LIMIT;
  }
  return value;
}

/** Whether the bytes at `start` are `word`. */
function same(start: number, word: Uint8Array): boolean {
  return sameFrom(start, word, 0);
}

/** Whether the bytes at `start` are `word`, from its byte `from` on. */
function sameFrom(start: number, word: Uint8Array, from: number): boolean {
  const body = bytes;
  for (let k = from; k < word.length; k++) if (body[start + k] !== word[k]) return false;
  return true;
}
