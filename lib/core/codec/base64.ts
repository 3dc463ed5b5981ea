/** Base64 (RFC 4648 §4, standard alphabet) validation, encoding and decoding without node:buffer. */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Whether `text` is base64 in the standard alphabet: padding `=` only at the end (at most two), and a
 * length that whole bytes can produce. Unpadded input is accepted; whitespace is not.
 */
export function isBase64(text: string): boolean {
  let end = text.length;
  if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  if (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  if (end !== text.length && text.length % 4 !== 0) return false;
  if (end % 4 === 1) return false;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || DECODE[code]! < 0) return false;
  }
  return true;
}

/** Decodes base64 that {@link isBase64} accepted (call it first: invalid characters decode as zero bits). */
export function decodeBase64(text: string): Uint8Array {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 4 <= end; i += 4) {
    const n =
      (sextet(text, i) << 18) |
      (sextet(text, i + 1) << 12) |
      (sextet(text, i + 2) << 6) |
      sextet(text, i + 3);
    out[o++] = n >> 16;
    out[o++] = (n >> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  const rest = end - i;
  if (rest >= 2) {
    const n =
      (sextet(text, i) << 18) | (sextet(text, i + 1) << 12) | (rest === 3 ? sextet(text, i + 2) << 6 : 0);
    out[o++] = n >> 16;
    if (rest === 3) out[o++] = (n >> 8) & 0xff;
  }
  return out;
}

/** Encodes bytes as padded base64 (through the native `btoa`, a chunk at a time). */
export function encodeBase64(bytes: Uint8Array): string {
  const CHUNK = 3 * 8192; // a multiple of 3, so only the last chunk pads
  let out = '';
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const chunk = bytes.subarray(start, Math.min(start + CHUNK, bytes.length));
    out += btoa(String.fromCharCode.apply(null, chunk as unknown as number[]));
  }
  return out;
}

function sextet(text: string, index: number): number {
  const value = DECODE[text.charCodeAt(index)];
  return value === undefined || value < 0 ? 0 : value;
}
