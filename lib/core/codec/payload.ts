/**
 * The payload mapping between message bodies (HTTP binary mode, Kafka binary mode) and the event's
 * `data` / `data_base64`: JSON types → JSON value (kept as its text until read), text types → string,
 * anything else → base64.
 */
import { MAX_DATA_DEPTH } from '../cloudevent.ts';
import type { CloudEvent } from '../cloudevent-types.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { decodeJsonText, parseJson } from './json.ts';
import {
  resetOffsets,
  SCAN_NON_FINITE,
  SCAN_TOO_DEEP,
  scanFlags,
  scanValue,
  skipWhitespace,
} from './json-scan.ts';
import { checkWithWasm, FLAG_BIG_NUMBER } from './json-wasm.ts';
import { payloadKind } from './media-type.ts';
import { JsonText, rawDataText } from './raw-data.ts';
import { decodeUtf8, encodeUtf8 } from './utf8.ts';

/** The payload members of a JSON-format event. */
export interface PayloadMembers {
  /** A JSON value; for JSON content types other than a string or null, its text (`JsonText`), checked. */
  data?: unknown;
  data_base64?: string;
}

const EMPTY = new Uint8Array(0);

/**
 * Maps a body to `data`/`data_base64` by its content type. An empty body is no data. Without a content
 * type the bytes are kept as `data_base64` (nothing says they are JSON). Text that is not valid UTF-8
 * falls back to `data_base64`, so bytes are never altered. A JSON type with a body that is not JSON
 * throws `InvalidJson` (field `data`). An invalid content type is left to event validation.
 */
export function payloadFromBytes(contentType: string | undefined, body: Uint8Array): PayloadMembers {
  if (body.length === 0) return {};
  if (contentType === undefined) return { data_base64: encodeBase64(body) };
  const kind = payloadKind(contentType);
  if (kind === 'json') return { data: jsonData(body, decodeJsonText(body, 'data', 'data')) };
  if (kind === 'text') {
    const text = decodeUtf8(body);
    if (text !== undefined) return { data: text };
  }
  return { data_base64: encodeBase64(body) };
}

/**
 * JSON data from a body's text: the text itself (`JsonText`, parsed only when read) once the scanner has
 * checked it, or the parsed value for strings and null (nothing to save). Bad JSON throws `InvalidJson`.
 */
function jsonData(body: Uint8Array, text: string): unknown {
  const bom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  resetOffsets(bom);
  const start = skipWhitespace(body, bom);
  const code = body[start];
  if (code !== 0x22 && code !== 0x6e) {
    const checked = bom === 0 ? checkWithWasm(body) : undefined;
    if (checked === null) return parseJson(text, 'data', 'data'); // not JSON: report where
    if (checked !== undefined) {
      const tooDeep = checked.depth > MAX_DATA_DEPTH ? SCAN_TOO_DEEP : 0;
      return new JsonText(text, tooDeep | ((checked.flags & FLAG_BIG_NUMBER) !== 0 ? SCAN_NON_FINITE : 0));
    }
    const end = scanValue(body, start, MAX_DATA_DEPTH);
    if (end >= 0 && skipWhitespace(body, end) === body.length) return new JsonText(text, scanFlags);
  }
  return parseJson(text, 'data', 'data');
}

/** The body of an event in binary mode, and its content type (`application/json` when JSON data had none). */
export function payloadToBytes(event: CloudEvent): { contentType: string | undefined; body: Uint8Array } {
  const contentType = event.datacontenttype;
  if (event.data_base64 !== undefined) return { contentType, body: decodeBase64(event.data_base64) };
  // JSON data kept as text goes out as that text, unparsed (reading event.data would parse it).
  const raw = rawDataText(event);
  if (raw !== undefined) return { contentType: contentType ?? 'application/json', body: encodeUtf8(raw) };
  if (event.data === undefined) return { contentType, body: EMPTY };
  const kind = payloadKind(contentType);
  if (kind === 'json') {
    return { contentType: contentType ?? 'application/json', body: encodeUtf8(JSON.stringify(event.data)) };
  }
  const data = event.data;
  return { contentType, body: encodeUtf8(typeof data === 'string' ? data : JSON.stringify(data)) };
}
