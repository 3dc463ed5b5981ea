/**
 * The payload mapping between message bodies (HTTP binary mode, Kafka binary mode) and the event's
 * `data` / `data_base64`: JSON types → parsed JSON value, text types → string, anything else → base64.
 */
import type { CloudEvent } from '../cloudevent-types.ts';
import { decodeBase64, encodeBase64 } from './base64.ts';
import { parseJsonBytes } from './json.ts';
import { payloadKind } from './media-type.ts';
import { decodeUtf8, encodeUtf8 } from './utf8.ts';

/** The payload members of a JSON-format event. */
export interface PayloadMembers {
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
  if (kind === 'json') return { data: parseJsonBytes(body, 'data', 'data') };
  if (kind === 'text') {
    const text = decodeUtf8(body);
    if (text !== undefined) return { data: text };
  }
  return { data_base64: encodeBase64(body) };
}

/** The body of an event in binary mode, and its content type (`application/json` when JSON data had none). */
export function payloadToBytes(event: CloudEvent): { contentType: string | undefined; body: Uint8Array } {
  const contentType = event.datacontenttype;
  if (event.data_base64 !== undefined) return { contentType, body: decodeBase64(event.data_base64) };
  if (event.data === undefined) return { contentType, body: EMPTY };
  const kind = payloadKind(contentType);
  if (kind === 'json') {
    return { contentType: contentType ?? 'application/json', body: encodeUtf8(JSON.stringify(event.data)) };
  }
  const data = event.data;
  return { contentType, body: encodeUtf8(typeof data === 'string' ? data : JSON.stringify(data)) };
}
