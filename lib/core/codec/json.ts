/** JSON parsing that reports bad input as a JunctionError (`InvalidJson`, with the position) instead of a SyntaxError. */
import { JunctionError } from '../errors.ts';
import { decodeUtf8 } from './utf8.ts';

/** Parses JSON text; throws `InvalidJson` naming the position (and `field`, when given). */
export function parseJson(text: string, what = 'body', field?: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    if (text.trim() === '') return throwInvalidJson(`${what} is empty; expected JSON`, 0, field);
    const position = jsonErrorPosition(text);
    const { line, column } = lineAndColumn(text, position);
    const near = JSON.stringify(text.slice(position, position + 20));
    return throwInvalidJson(
      `${what} is not valid JSON: unexpected ${position >= text.length ? 'end of input' : `input ${near}`} at position ${position} (line ${line}, column ${column})`,
      position,
      field,
    );
  }
}

/** Decodes UTF-8 bytes (a leading BOM is dropped) and parses them as JSON. */
export function parseJsonBytes(bytes: Uint8Array, what = 'body', field?: string): unknown {
  return parseJson(decodeJsonText(bytes, what, field), what, field);
}

/** Decodes the UTF-8 bytes of a JSON text (a leading BOM is dropped); `InvalidJson` when they are not UTF-8. */
export function decodeJsonText(bytes: Uint8Array, what = 'body', field?: string): string {
  const text = decodeUtf8(bytes, true);
  if (text === undefined) throwInvalidJson(`${what} is not valid UTF-8`, undefined, field);
  return text;
}

function throwInvalidJson(message: string, position: number | undefined, field: string | undefined): never {
  throw new JunctionError('InvalidJson', message, {
    ...(field === undefined ? {} : { field }),
    ...(position === undefined ? {} : { details: { position } }),
  });
}

function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: position - start + 1 };
}

/**
 * The offset of the first syntax error in text that `JSON.parse` rejected (V8 does not always say).
 * A small iterative scanner of RFC 8259: linear, no recursion, only run on failure.
 */
export function jsonErrorPosition(text: string): number {
  const n = text.length;
  const stack: number[] = []; // 0x7b '{' or 0x5b '['
  let i = skip(text, 0);
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      if (i >= n) return n;
      const code = text.charCodeAt(i);
      if (code === 0x7b || code === 0x5b) {
        stack.push(code);
        i = skip(text, i + 1);
        const close = code === 0x7b ? 0x7d : 0x5d;
        if (text.charCodeAt(i) === close) {
          stack.pop();
          i = skip(text, i + 1);
          expectValue = false;
          continue;
        }
        if (code === 0x7b) {
          const key = objectKey(text, i);
          if (key < 0) return -key - 1;
          i = key;
        }
        continue;
      }
      const end = scalarEnd(text, i);
      if (end < 0) return -end - 1;
      i = skip(text, end);
      expectValue = false;
      continue;
    }
    const top = stack[stack.length - 1];
    if (top === undefined) return Math.min(i, n);
    if (i >= n) return n;
    const code = text.charCodeAt(i);
    if (code === 0x2c) {
      i = skip(text, i + 1);
      if (top === 0x7b) {
        const key = objectKey(text, i);
        if (key < 0) return -key - 1;
        i = key;
      }
      expectValue = true;
    } else if ((top === 0x7b && code === 0x7d) || (top === 0x5b && code === 0x5d)) {
      stack.pop();
      i = skip(text, i + 1);
    } else return i;
  }
}

/** After a key and its colon (position of the value), or -(error position)-1. */
function objectKey(text: string, i: number): number {
  if (text.charCodeAt(i) !== 0x22) return -i - 1;
  const end = stringEnd(text, i);
  if (end < 0) return end;
  const colon = skip(text, end);
  if (text.charCodeAt(colon) !== 0x3a) return -colon - 1;
  return skip(text, colon + 1);
}

function scalarEnd(text: string, i: number): number {
  const code = text.charCodeAt(i);
  if (code === 0x22) return stringEnd(text, i);
  for (const word of ['true', 'false', 'null']) {
    if (text.startsWith(word, i)) return i + word.length;
  }
  let j = i;
  if (text.charCodeAt(j) === 0x2d) j++;
  if (text.charCodeAt(j) === 0x30) j++;
  else if (isDigit1to9(text.charCodeAt(j))) while (isDigit(text.charCodeAt(j))) j++;
  else return -j - 1;
  if (text.charCodeAt(j) === 0x2e) {
    j++;
    if (!isDigit(text.charCodeAt(j))) return -j - 1;
    while (isDigit(text.charCodeAt(j))) j++;
  }
  if ((text.charCodeAt(j) | 0x20) === 0x65) {
    j++;
    if (text.charCodeAt(j) === 0x2b || text.charCodeAt(j) === 0x2d) j++;
    if (!isDigit(text.charCodeAt(j))) return -j - 1;
    while (isDigit(text.charCodeAt(j))) j++;
  }
  return j;
}

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return -i - 1;
    if (code === 0x5c) {
      const next = text.charCodeAt(i + 1);
      if (next === 0x75) {
        for (let k = 2; k < 6; k++) if (!isHex(text.charCodeAt(i + k))) return -(i + k) - 1;
        i += 5;
      } else if ('"\\/bfnrt'.includes(text[i + 1] ?? 'x')) i++;
      else return -(i + 1) - 1;
    }
  }
  return -text.length - 1;
}

function skip(text: string, i: number): number {
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) break;
    i++;
  }
  return i;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isDigit1to9(code: number): boolean {
  return code >= 0x31 && code <= 0x39;
}

function isHex(code: number): boolean {
  return isDigit(code) || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x66);
}

/**
 * Whether valid JSON text nests containers deeper than `maxDepth` (the outermost being depth 1). Linear and
 * iterative: the check to run before a value reaches recursive code (validators, `JSON.stringify`, matchers),
 * which overflows the stack on values thousands of levels deep.
 */
export function nestsDeeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (code === 0x7d || code === 0x5d) depth--;
  }
  return false;
}
