/** UTF-8 encoding and strict decoding (invalid byte sequences are rejected, never replaced). */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const strictDecoderStrippingBom = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 bytes of a string. */
export function encodeUtf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The largest buffer `encodeUtf8Scratch` keeps. */
const MAX_SCRATCH = 4 * 1024 * 1024;

/** The buffer `encodeUtf8Scratch` reuses (grown as needed, never shrunk below its first size). */
let scratch = new Uint8Array(64 * 1024);

/**
 * The UTF-8 bytes of a string in a shared buffer, valid only until the next call: for a reader that scans them at
 * once (no allocation per call, which is what `encodeUtf8` costs most on short texts).
 */
export function encodeUtf8Scratch(text: string): Uint8Array {
  // UTF-8 takes at most 3 bytes per UTF-16 unit; a text too large to keep a buffer for gets its own.
  const most = text.length * 3;
  if (most > MAX_SCRATCH) return encoder.encode(text);
  if (scratch.length < most)
    scratch = new Uint8Array(Math.min(MAX_SCRATCH, Math.max(most, scratch.length * 2)));
  const { written } = encoder.encodeInto(text, scratch);
  return scratch.subarray(0, written);
}

/**
 * Decodes UTF-8 bytes strictly, or returns `undefined` when they are not valid UTF-8 (overlong forms,
 * surrogates, truncated sequences). A byte order mark is kept unless `stripBom` is set, so that text
 * round-trips byte for byte.
 */
export function decodeUtf8(bytes: Uint8Array, stripBom = false): string | undefined {
  if (isAscii(bytes)) return asciiToString(bytes);
  try {
    return (stripBom ? strictDecoderStrippingBom : strictDecoder).decode(bytes);
  } catch {
    return undefined;
  }
}

/** The number of bytes of a string's UTF-8 encoding, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (
      code >= 0xd800 &&
      code <= 0xdbff &&
      i + 1 < text.length &&
      isLowSurrogate(text.charCodeAt(i + 1))
    ) {
      bytes += 2; // a pair: 2 UTF-16 units → 4 bytes
      i++;
    } else bytes += 2; // BMP (lone surrogates become U+FFFD: 3 bytes)
  }
  return bytes;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Bytes known to be ASCII as a string: Node's `Buffer` latin1 copy where there is one (several times
 * faster than `TextDecoder`, which also validates), else `TextDecoder`.
 */
export function decodeAscii(bytes: Uint8Array): string {
  if (latin1Slice !== undefined) return latin1Slice.call(bytes, 0, bytes.length);
  return strictDecoder.decode(bytes);
}

const latin1Slice = (
  globalThis as {
    Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } };
  }
).Buffer?.prototype.latin1Slice;

function isAscii(bytes: Uint8Array): boolean {
  if (bytes.length > 64) return false; // the native decoder is faster than a JS loop on longer input
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! > 0x7f) return false;
  return true;
}

function asciiToString(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
