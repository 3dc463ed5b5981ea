/**
 * CloudEvents header values (HTTP binding §3.1.3.2): percent-encoding on the way out; on the way in,
 * quoted-string unescaping, latin1 → UTF-8 re-decoding, one round of percent-decoding, strict UTF-8.
 */
import { decodeUtf8, encodeUtf8 } from './utf8.ts';

const HEX = '0123456789ABCDEF';

/** Whether a header character can go out as it is: U+0021–U+007E except `"` and `%`. */
function isPlain(code: number): boolean {
  return code >= 0x21 && code <= 0x7e && code !== 0x22 && code !== 0x25;
}

/** Percent-encodes a value for a `ce-` header: space, `"`, `%`, controls and non-ASCII as UTF-8 `%XY`. */
export function percentEncode(value: string): string {
  let i = 0;
  while (i < value.length && isPlain(value.charCodeAt(i))) i++;
  if (i === value.length) return value;
  let out = value.slice(0, i);
  for (; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (isPlain(code)) {
      out += value[i];
      continue;
    }
    let char = value[i]!;
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length) {
      const low = value.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) char = value.slice(i, ++i + 1);
    }
    for (const byte of encodeUtf8(char)) out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Decodes a received header value, or returns `undefined` when the bytes are not valid UTF-8 after
 * percent-decoding (e.g. the overlong `%C0%A0`). Characters U+0080–U+00FF are taken as the raw bytes a
 * server decoded as latin1; a `%` not followed by two hex digits is kept as it is (lenient senders).
 */
export function decodeHeaderValue(raw: string): string | undefined {
  let value = raw;
  if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) {
    value = unquote(value);
  }
  let i = 0;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x25) break;
    i++;
  }
  if (i === value.length) return value;
  return decodeUtf8(percentDecodeToBytes(value));
}

function percentDecodeToBytes(value: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x25) {
      const high = hexValue(value.charCodeAt(i + 1));
      const low = hexValue(value.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        bytes.push((high << 4) | low);
        i += 2;
        continue;
      }
    }
    if (code <= 0xff) bytes.push(code);
    else {
      const end = code >= 0xd800 && code <= 0xdbff ? i + 2 : i + 1;
      for (const byte of encodeUtf8(value.slice(i, end))) bytes.push(byte);
      i = end - 1;
    }
  }
  return Uint8Array.from(bytes);
}

/** Unescapes an RFC 9110 quoted-string (`"…"` with backslash escapes). */
function unquote(value: string): string {
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    if (value.charCodeAt(i) === 0x5c && i + 1 < value.length - 1) i++;
    out += value[i];
  }
  return out;
}
