/** Numbers as EventBridge compares them: a JSON number keeps its lexeme, and is comparable when a double holds it exactly. */

/**
 * A JSON number whose text `JSON.parse` would not keep (`3.0e2`, `1.50`, `-0`, integers above 2^53, …).
 * `parseJsonPreservingNumbers` produces it; plain JS numbers are the usual case everywhere else.
 */
export class JsonNumber {
  readonly lexeme: string;
  readonly value: number;

  constructor(lexeme: string) {
    this.lexeme = lexeme;
    this.value = Number(lexeme);
  }

  toJSON(): number {
    return this.value;
  }
}

const NUMBER_LEXEME = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Sign, significant digits (no leading or trailing zeros) and exponent of a decimal lexeme; `zero` for any zero. */
function canonicalDecimal(text: string): string {
  let s = text.trim();
  let sign = '';
  if (s.startsWith('-')) {
    sign = '-';
    s = s.slice(1);
  } else if (s.startsWith('+')) s = s.slice(1);
  let exponent = 0;
  const e = s.search(/[eE]/);
  if (e >= 0) {
    exponent = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf('.');
  let digits = s;
  if (dot >= 0) {
    digits = s.slice(0, dot) + s.slice(dot + 1);
    exponent -= s.length - dot - 1;
  }
  const lead = digits.search(/[1-9]/);
  if (lead < 0) return 'zero';
  digits = digits.slice(lead);
  let end = digits.length;
  while (end > 0 && digits[end - 1] === '0') end--;
  exponent += digits.length - end;
  digits = digits.slice(0, end);
  return `${sign}${digits}e${exponent}`;
}

/**
 * Whether `value`, which is `Number(lexeme)` for a JSON number `lexeme`, prints back as it (`String(value) ===
 * lexeme`: the number is then kept as a double, else as a `JsonNumber`), without printing it where the answer is
 * certain. A decimal in JSON's form with a fraction whose last digit is not 0, no exponent, at most 15 significant
 * digits and a magnitude of at least 1e-6 does: no other decimal of at most 15 significant digits rounds to the same
 * double (DBL_DIG), so it is the shortest that does — what `String` prints, in plain notation from 1e-6 up. Printing
 * a double costs more than the rest of reading the number (a third of matching event-ruler's COMPLEX_ARRAYS family).
 */
export function printsBack(lexeme: string, value: number): boolean {
  const length = lexeme.length;
  if (length <= 17 && lexeme.charCodeAt(length - 1) !== 0x30) {
    let i = lexeme.charCodeAt(0) === 0x2d ? 1 : 0;
    const first = lexeme.charCodeAt(i);
    let certain = first >= 0x30 && first <= 0x39 && (first !== 0x30 || lexeme.charCodeAt(i + 1) === 0x2e);
    let dot = false;
    let significant = 0;
    for (; certain && i < length; i++) {
      const c = lexeme.charCodeAt(i);
      if (c === 0x2e) dot = true;
      else if (c < 0x30 || c > 0x39) certain = false;
      else if (significant > 0 || c !== 0x30) significant++;
    }
    if (certain && dot && significant > 0 && significant <= 15 && lexeme.charCodeAt(length - 1) !== 0x2e) {
      if (Math.abs(value) >= 1e-6) return true;
    }
  }
  return String(value) === lexeme;
}

/**
 * The double a number lexeme stands for, or `undefined` when it cannot be compared as EventBridge does: out of
 * the double range, or a decimal that no double holds exactly as its shortest form (e.g. 9007199254740993).
 */
export function comparableValue(lexeme: string): number | undefined {
  if (!NUMBER_LEXEME.test(lexeme)) return undefined;
  const value = Number(lexeme);
  if (!Number.isFinite(value)) return undefined;
  if (canonicalDecimal(lexeme) !== canonicalDecimal(String(value))) return undefined;
  return value === 0 ? 0 : value;
}

/** Whether a value is a JSON number (a JS number or a JsonNumber). */
export function isJsonNumber(value: unknown): value is number | JsonNumber {
  return typeof value === 'number' || value instanceof JsonNumber;
}

/** The lexeme and comparable value of a JSON number. */
export function numberParts(value: number | JsonNumber): { lexeme: string; value: number | undefined } {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { lexeme: String(value), value: undefined };
    return { lexeme: String(value), value: value === 0 ? 0 : value };
  }
  return { lexeme: value.lexeme, value: comparableValue(value.lexeme) };
}

class JsonTextError extends Error {}

/**
 * The values of a key written more than once in one object of an event (`{"d": "A", "d": ""}`), in the order
 * written: `parseEventText` keeps them all, as event-ruler does; the matchers read them as several values at one
 * path, like the spellings of a dotted key (docs/patterns.md, "Dotted keys in events").
 */
export class RepeatedKey {
  readonly values: readonly unknown[];

  constructor(values: readonly unknown[]) {
    this.values = values;
  }

  /** As JSON: the last value, as `JSON.parse` would keep it. */
  toJSON(): unknown {
    return this.values[this.values.length - 1];
  }
}

/**
 * A pattern object read from text by `parsePatternText`: its members in the order written, repeated keys included,
 * which decide a pattern's meaning (a path given twice: the last one written wins).
 */
export class OrderedObject {
  readonly entries: readonly (readonly [string, unknown])[];

  constructor(entries: readonly (readonly [string, unknown])[]) {
    this.entries = entries;
  }

  /** As JSON: a plain object (the last value of a repeated key), for messages. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.entries) {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
}

/** What an object of the text becomes: `last` keeps a repeated key's last value (as `JSON.parse`). */
type ObjectMode = 'last' | 'repeated' | 'ordered';

/** Objects and arrays nested deeper than this are a SyntaxError (the parser recurses). */
const MAX_TEXT_DEPTH = 512;

function parseJson(text: string, mode: ObjectMode, maxDepth: number): unknown {
  let pos = 0;
  const fail = (what: string): never => {
    throw new JsonTextError(`${what} at offset ${pos}`);
  };
  const ws = (): void => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const str = (): string => {
    const start = pos;
    pos++;
    let end = pos;
    while (end < text.length && text[end] !== '"') {
      if (text[end] === '\\') end++;
      end++;
    }
    if (end >= text.length) fail('Unterminated string');
    pos = end + 1;
    try {
      return JSON.parse(text.slice(start, pos)) as string;
    } catch {
      return fail('Bad string');
    }
  };
  const object = (entries: [string, unknown][]): unknown => {
    if (mode === 'ordered') return new OrderedObject(entries);
    const out: Record<string, unknown> = {};
    for (const [key, v] of entries) {
      let value = v;
      if (mode === 'repeated' && Object.hasOwn(out, key)) {
        const seen = out[key];
        value = new RepeatedKey(seen instanceof RepeatedKey ? [...seen.values, v] : [seen, v]);
      }
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  const value = (depth: number): unknown => {
    if (depth > maxDepth) fail('Too deeply nested');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const entries: [string, unknown][] = [];
      ws();
      if (text[pos] === '}') {
        pos++;
        return object(entries);
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail('Expected a key');
        const key = str();
        ws();
        if (text[pos] !== ':') fail("Expected ':'");
        pos++;
        entries.push([key, value(depth + 1)]);
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return object(entries);
        }
        fail("Expected ',' or '}'");
      }
    }
    if (c === '[') {
      pos++;
      const out: unknown[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return out;
      }
      for (;;) {
        out.push(value(depth + 1));
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return out;
        }
        fail("Expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith('false', pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith('null', pos)) {
      pos += 4;
      return null;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 1100));
    if (m === null) return fail('Unexpected character');
    pos += m[0].length;
    const lexeme = m[0];
    const n = Number(lexeme);
    return printsBack(lexeme, n) ? n : new JsonNumber(lexeme);
  };
  try {
    const result = value(0);
    ws();
    if (pos !== text.length) fail('Unexpected trailing text');
    return result;
  } catch (error) {
    if (error instanceof JsonTextError) throw new SyntaxError(error.message);
    throw error;
  }
}

/**
 * Parses JSON text like `JSON.parse`, except that a number whose lexeme `JSON.parse` would lose becomes a
 * `JsonNumber`. A key repeated in one object keeps its last value, as with `JSON.parse`. Throws a SyntaxError
 * naming the offset on bad input.
 */
export function parseJsonPreservingNumbers(text: string): unknown {
  return parseJson(text, 'last', MAX_TEXT_DEPTH);
}

/**
 * Parses an event's JSON text for the matchers as event-ruler reads it: numbers keep their lexemes (`JsonNumber`)
 * and a key written more than once keeps every value (`RepeatedKey`). Throws a SyntaxError naming the offset on
 * bad input, or on nesting deeper than 512 levels.
 */
export function parseEventText(text: string): unknown {
  return parseJson(text, 'repeated', MAX_TEXT_DEPTH);
}

/** `parseJson` with objects as `OrderedObject`s, nested at most `maxDepth` levels: for `parsePatternText`. */
export function parseOrderedJson(text: string, maxDepth: number): unknown {
  return parseJson(text, 'ordered', maxDepth);
}
