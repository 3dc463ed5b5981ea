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
 * Parses JSON text like `JSON.parse`, except that a number whose lexeme `JSON.parse` would lose becomes a
 * `JsonNumber`. A key repeated in one object keeps its last value, as with `JSON.parse`. Throws a SyntaxError
 * naming the offset on bad input.
 */
export function parseJsonPreservingNumbers(text: string): unknown {
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
  const value = (depth: number): unknown => {
    if (depth > 512) fail('Too deeply nested');
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const out: Record<string, unknown> = {};
      ws();
      if (text[pos] === '}') {
        pos++;
        return out;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail('Expected a key');
        const key = str();
        ws();
        if (text[pos] !== ':') fail("Expected ':'");
        pos++;
        const v = value(depth + 1);
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return out;
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
    return String(n) === lexeme ? n : new JsonNumber(lexeme);
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
