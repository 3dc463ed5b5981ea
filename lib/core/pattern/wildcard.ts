/** Wildcard values (`*` for any run of characters, `\*` and `\\` escapes) and a linear, backtracking-free matcher. */

/** A parsed wildcard: the literal pieces between the stars. `["ab", "cd"]` is `ab*cd`. */
export interface Wildcard {
  readonly pieces: readonly string[];
}

/** Parses a wildcard value; throws an Error whose message says what is wrong and where. */
export function parseWildcard(text: string): Wildcard {
  const pieces: string[] = [];
  let current = '';
  let lastWasStar = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      const next = text[i + 1];
      if (next !== '*' && next !== '\\') {
        throw new Error(`Invalid escape character at pos ${i}: only \\* and \\\\ may be escaped`);
      }
      current += next;
      i++;
      lastWasStar = false;
    } else if (c === '*') {
      if (lastWasStar) throw new Error(`Consecutive wildcard characters at pos ${i}`);
      pieces.push(current);
      current = '';
      lastWasStar = true;
    } else {
      current += c;
      lastWasStar = false;
    }
  }
  pieces.push(current);
  return { pieces };
}

/**
 * Whether `value` matches. Star-only globs need no backtracking: the first piece is a prefix, the last a
 * suffix, and each middle piece is taken at its leftmost place, which can only leave more room for the rest.
 */
export function matchWildcard(wildcard: Wildcard, value: string): boolean {
  const { pieces } = wildcard;
  const first = pieces[0] ?? '';
  if (pieces.length === 1) return value === first;
  const last = pieces[pieces.length - 1] ?? '';
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] ?? '';
    const found = value.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}
