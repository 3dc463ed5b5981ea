/**
 * A strict, single-pass JSON scanner (RFC 8259, exactly what `JSON.parse` accepts) over UTF-8 bytes that
 * validates without building values, so that ingest can keep `data` as the producer's text. It reads
 * bytes, not the decoded string: a typed-array loop is several times faster than `charCodeAt` in V8.
 * Every function answers an end offset, or -1 on a syntax error; callers then re-parse with `parseJson`,
 * which reports the error (`InvalidJson` with its position) exactly as the codec always has. The bytes
 * must be valid UTF-8 (the caller decoded them strictly first).
 */

/** Set in `scanFlags` when a container nests deeper than `scanValue`'s `maxDepth`. */
export const SCAN_TOO_DEEP = 1;
/** Set in `scanFlags` when a number is too large for a double (`JSON.parse` would give ±Infinity). */
export const SCAN_NON_FINITE = 2;

/** What the last `scanValue` found that validation rejects (`SCAN_TOO_DEEP`, `SCAN_NON_FINITE`). */
export let scanFlags = 0;
/** Whether the last string `scanString` ended held a backslash escape (so its bytes are not its value). */
export let scanEscaped = false;
/**
 * Whether the last string `scanString` ended held only printable ASCII (U+0020–U+007E) and no escape: such
 * a string holds no character the CloudEvents String type excludes, so it needs no further check.
 */
export let scanPlain = false;
/**
 * Bytes minus UTF-16 code units scanned so far (since `resetOffsets`): the offset in the decoded string
 * of byte offset `b` is `b - scanExtra` at the time `b` is reached. Non-ASCII bytes occur only inside
 * strings, so only `scanString` moves it.
 */
export let scanExtra = 0;

/** Starts offset mapping at `extra` (3 when a byte order mark precedes the text, else 0). */
export function resetOffsets(extra: number): void {
  scanExtra = extra;
}

const PLAIN = 0;
const QUOTE = 1;
const BACKSLASH = 2;
const CONTROL = 3;
const CONTINUATION = 4; // 0x80–0xBF: one more byte than UTF-16 unit
const LEAD4 = 5; // 0xF0–0xF7: four bytes, two UTF-16 units
const NOT_PLAIN = 6; // DEL and the lead bytes of 2- and 3-byte sequences

/** The class of each byte inside a string. */
const STRING_BYTES = new Uint8Array(256);
for (let b = 0; b < 0x20; b++) STRING_BYTES[b] = CONTROL;
STRING_BYTES[0x22] = QUOTE;
STRING_BYTES[0x5c] = BACKSLASH;
for (let b = 0x80; b < 0xc0; b++) STRING_BYTES[b] = CONTINUATION;
for (let b = 0xf0; b < 0xf8; b++) STRING_BYTES[b] = LEAD4;
STRING_BYTES[0x7f] = NOT_PLAIN;
for (let b = 0xc0; b < 0xf0; b++) STRING_BYTES[b] = NOT_PLAIN;

/** The bytes a backslash may precede (besides `u`): `" \ / b f n r t`. */
const SHORT_ESCAPES = new Uint8Array(256);
for (const b of [0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]) SHORT_ESCAPES[b] = 1;

const HEX = new Uint8Array(256);
for (let b = 0x30; b <= 0x39; b++) HEX[b] = 1;
for (let b = 0x61; b <= 0x66; b++) HEX[b] = HEX[b - 0x20] = 1;

const OBJECT = 1;
const ARRAY = 2;
/** The kinds of the open containers; grown on demand, so deep (but valid) nesting never overflows the JS stack. */
let stack = new Uint8Array(64);

/** The offset of the first byte at or after `i` that is not JSON whitespace (space, tab, LF, CR). */
export function skipWhitespace(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i;
    i++;
  }
  return i;
}

/** The end (after the closing quote) of the string whose opening quote is at `start`, or -1. */
export function scanString(bytes: Uint8Array, start: number): number {
  const n = bytes.length;
  let escaped = false;
  let plain = true;
  for (let i = start + 1; i < n; i++) {
    const kind = STRING_BYTES[bytes[i]!]!;
    if (kind === PLAIN) continue;
    if (kind === QUOTE) {
      scanEscaped = escaped;
      scanPlain = plain;
      return i + 1;
    }
    plain = false;
    if (kind === BACKSLASH) {
      escaped = true;
      if (i + 1 >= n) return -1;
      const next = bytes[i + 1]!;
      if (next === 0x75) {
        if (i + 5 >= n) return -1;
        if (HEX[bytes[i + 2]!]! & HEX[bytes[i + 3]!]! & HEX[bytes[i + 4]!]! & HEX[bytes[i + 5]!]!) i += 5;
        else return -1;
      } else if (SHORT_ESCAPES[next] === 1) i++;
      else return -1;
    } else if (kind === CONTINUATION) scanExtra++;
    else if (kind === LEAD4) scanExtra--;
    else if (kind === CONTROL) return -1;
  }
  return -1;
}

/** The end of the number starting at `start`, or -1. A number that overflows a double sets `SCAN_NON_FINITE`. */
export function scanNumber(bytes: Uint8Array, start: number): number {
  const n = bytes.length;
  let i = start;
  if (i < n && bytes[i] === 0x2d) i++;
  if (i >= n) return -1;
  let b = bytes[i]!;
  if (b === 0x30) i++;
  else if (b >= 0x31 && b <= 0x39) i = digitsEnd(bytes, i + 1);
  else return -1;
  let exponent = false;
  if (i < n && bytes[i] === 0x2e) {
    if (!isDigitAt(bytes, i + 1)) return -1;
    i = digitsEnd(bytes, i + 2);
  }
  b = i < n ? bytes[i]! : 0;
  if (b === 0x65 || b === 0x45) {
    exponent = true;
    i++;
    if (i < n && (bytes[i] === 0x2b || bytes[i] === 0x2d)) i++;
    if (!isDigitAt(bytes, i)) return -1;
    i = digitsEnd(bytes, i + 1);
  }
  // Without an exponent only 309 or more integer digits overflow (Number.MAX_VALUE has 309).
  if ((exponent || i - start > 308) && !Number.isFinite(Number(asciiText(bytes, start, i)))) {
    scanFlags |= SCAN_NON_FINITE;
  }
  return i;
}

function digitsEnd(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x30 || b > 0x39) return i;
    i++;
  }
  return i;
}

function isDigitAt(bytes: Uint8Array, i: number): boolean {
  if (i >= bytes.length) return false;
  const b = bytes[i]!;
  return b >= 0x30 && b <= 0x39;
}

/** The end of `true`, `false` or `null` at `i`, or -1. */
export function literalEnd(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  if (b === 0x74) {
    return bytes[i + 1] === 0x72 && bytes[i + 2] === 0x75 && bytes[i + 3] === 0x65 ? i + 4 : -1;
  }
  if (b === 0x66) {
    return bytes[i + 1] === 0x61 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x73 && bytes[i + 4] === 0x65
      ? i + 5
      : -1;
  }
  if (b === 0x6e) {
    return bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c ? i + 4 : -1;
  }
  return -1;
}

/**
 * The end of the JSON value starting at `start` (no leading whitespace), or -1 on a syntax error.
 * Containers deeper than `maxDepth` (the value itself being depth 1) set `SCAN_TOO_DEEP` in `scanFlags`
 * but do not stop the scan: syntax errors are reported before validation errors, as `JSON.parse` would.
 * `scanFlags` is reset on entry.
 */
export function scanValue(bytes: Uint8Array, start: number, maxDepth: number): number {
  scanFlags = 0;
  const n = bytes.length;
  let i = start;
  let depth = 0;
  for (;;) {
    // A value at i.
    if (i >= n) return -1;
    let b = bytes[i]!;
    if (b === 0x22) {
      i = scanString(bytes, i);
      if (i < 0) return -1;
    } else if (b === 0x7b || b === 0x5b) {
      if (depth >= stack.length) growStack();
      const kind = b === 0x7b ? OBJECT : ARRAY;
      stack[depth++] = kind;
      if (depth > maxDepth) scanFlags |= SCAN_TOO_DEEP;
      i = skipWhitespace(bytes, i + 1);
      if (i >= n) return -1;
      b = bytes[i]!;
      if (kind === OBJECT) {
        if (b === 0x7d) {
          depth--;
          i++;
        } else {
          i = scanKey(bytes, i);
          if (i < 0) return -1;
          continue;
        }
      } else if (b === 0x5d) {
        depth--;
        i++;
      } else continue;
    } else if (b === 0x74 || b === 0x66 || b === 0x6e) {
      i = literalEnd(bytes, i);
      if (i < 0) return -1;
    } else {
      i = scanNumber(bytes, i);
      if (i < 0) return -1;
    }
    // After a value: close containers, or move on to the next member or element.
    for (;;) {
      if (depth === 0) return i;
      i = skipWhitespace(bytes, i);
      if (i >= n) return -1;
      b = bytes[i]!;
      const kind = stack[depth - 1];
      if (b === 0x2c) {
        i = skipWhitespace(bytes, i + 1);
        if (kind === OBJECT) {
          i = scanKey(bytes, i);
          if (i < 0) return -1;
        }
        break;
      }
      if ((b === 0x7d && kind === OBJECT) || (b === 0x5d && kind === ARRAY)) {
        depth--;
        i++;
      } else return -1;
    }
  }
}

/** After `"key" :` and any whitespace (the value's offset), or -1. */
function scanKey(bytes: Uint8Array, i: number): number {
  if (bytes[i] !== 0x22) return -1;
  i = scanString(bytes, i);
  if (i < 0) return -1;
  i = skipWhitespace(bytes, i);
  if (bytes[i] !== 0x3a) return -1;
  return skipWhitespace(bytes, i + 1);
}

/**
 * Whether the UTF-8 bytes hold one JSON text (one value, whitespace around it) whose containers nest at
 * most `maxDepth` deep.
 */
export function isJson(bytes: Uint8Array, maxDepth = Number.POSITIVE_INFINITY): boolean {
  const start = skipWhitespace(bytes, 0);
  const end = scanValue(bytes, start, maxDepth);
  return end >= 0 && skipWhitespace(bytes, end) === bytes.length && (scanFlags & SCAN_TOO_DEEP) === 0;
}

/** The bytes `start` to `end` as a string, for ASCII-only ranges (numbers). */
export function asciiText(bytes: Uint8Array, start: number, end: number): string {
  const range = bytes.subarray(start, end);
  // fromCharCode.apply is fastest for short ranges but takes one argument per byte: bounded.
  return range.length <= 256
    ? String.fromCharCode.apply(null, range as unknown as number[])
    : latin1.decode(range);
}

const latin1 = new TextDecoder('latin1');

function growStack(): void {
  const bigger = new Uint8Array(stack.length * 2);
  bigger.set(stack);
  stack = bigger;
}
