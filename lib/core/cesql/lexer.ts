/** The CESQL v1 lexer: turns an expression into tokens with their offsets, or a parse error naming the position. */
import { parseError } from './position.ts';

export type TokenType = 'word' | 'string' | 'symbol' | 'end';

export interface Token {
  readonly type: TokenType;
  /** The source text of the token (for `string`, without the quotes). */
  readonly text: string;
  /** For `string` the unescaped value; for `word` the text upper-cased (keywords are case-insensitive). */
  readonly value: string;
  /** The offset (UTF-16 code units, from 0) of the token's first character. */
  readonly offset: number;
}

/** Two-character symbols first, so `<=` wins over `<`. */
const SYMBOLS = ['<=', '>=', '<>', '!=', '(', ')', ',', '.', '*', '/', '%', '+', '-', '=', '<', '>'] as const;

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 // _
  );
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

/**
 * A string literal: `'…'` or `"…"`. A backslash before the quote or before another backslash escapes it,
 * a doubled quote stands for one quote; any other backslash is kept as it is (so `'a\%'` reaches LIKE intact).
 */
function readString(source: string, start: number): { value: string; end: number } {
  const quote = source[start]!;
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const char = source[i]!;
    if (char === '\\') {
      const next = source[i + 1];
      if (next === undefined) break;
      value += next === quote || next === '\\' ? next : char + next;
      i += 2;
    } else if (char === quote) {
      if (source[i + 1] === quote) {
        value += quote;
        i += 2;
      } else {
        return { value, end: i + 1 };
      }
    } else {
      value += char;
      i += 1;
    }
  }
  throw parseError(source, start, `unterminated string literal starting with ${quote}`);
}

/** Splits `source` into tokens; the last one is always `end`. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (isSpace(code)) {
      i += 1;
      continue;
    }
    if (isWordChar(code)) {
      const start = i;
      while (i < source.length && isWordChar(source.charCodeAt(i))) i += 1;
      const text = source.slice(start, i);
      tokens.push({ type: 'word', text, value: text.toUpperCase(), offset: start });
      continue;
    }
    if (code === 39 || code === 34) {
      const { value, end } = readString(source, i);
      tokens.push({ type: 'string', text: source.slice(i + 1, end - 1), value, offset: i });
      i = end;
      continue;
    }
    const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
    if (symbol === undefined) {
      throw parseError(source, i, `unexpected character ${JSON.stringify(source[i])}`);
    }
    tokens.push({ type: 'symbol', text: symbol, value: symbol, offset: i });
    i += symbol.length;
  }
  tokens.push({ type: 'end', text: '', value: '', offset: source.length });
  return tokens;
}
