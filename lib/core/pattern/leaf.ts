/** Event leaves (strings, numbers, booleans, null) and how one matcher judges one leaf. */
import { ipKey } from './ip.ts';
import { JsonNumber, numberParts } from './json-number.ts';
import type { Matcher } from './model.ts';
import { matchWildcard } from './wildcard.ts';

/** A primitive value of the event: `s` string, `n` number (lexeme + comparable value), `t`/`f` booleans, `z` null. */
export interface Leaf {
  readonly kind: 's' | 'n' | 't' | 'f' | 'z';
  /** The string, or the number's lexeme. */
  readonly text: string;
  /** The comparable value of a number. */
  readonly value: number | undefined;
  /** Whether `text` is a number's original lexeme (from a JsonNumber), which matching must compare as text. */
  readonly lexical: boolean;
}

/** A plain JS number: comparable by value; its text is only made when asked for (explain, messages). */
class NumberLeaf implements Leaf {
  readonly kind = 'n';
  readonly value: number;
  readonly lexical = false;

  constructor(value: number) {
    this.value = value === 0 ? 0 : value;
  }

  get text(): string {
    return String(this.value);
  }
}

const TRUE: Leaf = { kind: 't', text: 'true', value: undefined, lexical: false };
const FALSE: Leaf = { kind: 'f', text: 'false', value: undefined, lexical: false };
const NULL: Leaf = { kind: 'z', text: 'null', value: undefined, lexical: false };

/** The leaf for a primitive value, or undefined for objects and arrays (which are not leaves). */
export function leafOf(value: unknown): Leaf | undefined {
  switch (typeof value) {
    case 'string':
      return { kind: 's', text: value, value: undefined, lexical: false };
    case 'number':
      if (Number.isFinite(value)) return new NumberLeaf(value);
      return { kind: 'n', text: String(value), value: undefined, lexical: true };
    case 'boolean':
      return value ? TRUE : FALSE;
    case 'object':
      if (value === null) return NULL;
      if (value instanceof JsonNumber) {
        const parts = numberParts(value);
        return { kind: 'n', text: parts.lexeme, value: parts.value, lexical: true };
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Case folding for the `equals-ignore-case` family. */
export function fold(text: string): string {
  return text.toLowerCase();
}

function startsWithFolded(value: string, prefix: string): boolean {
  return fold(value).startsWith(fold(prefix));
}

function endsWithFolded(value: string, suffix: string): boolean {
  return fold(value).endsWith(fold(suffix));
}

/** Whether one leaf satisfies one matcher. */
export function matchLeaf(m: Matcher, leaf: Leaf): boolean {
  switch (m.kind) {
    case 'string':
      return leaf.kind === 's' && leaf.text === m.value;
    case 'number':
      if (leaf.kind !== 'n') return false;
      return m.value !== undefined ? leaf.value === m.value : leaf.lexical && leaf.text === m.lexeme;
    case 'literal':
      return leaf.kind === (m.value === true ? 't' : m.value === false ? 'f' : 'z');
    case 'prefix':
      return (
        leaf.kind === 's' &&
        (m.ignoreCase ? startsWithFolded(leaf.text, m.value) : leaf.text.startsWith(m.value))
      );
    case 'suffix':
      return (
        leaf.kind === 's' && (m.ignoreCase ? endsWithFolded(leaf.text, m.value) : leaf.text.endsWith(m.value))
      );
    case 'equals-ignore-case':
      return leaf.kind === 's' && fold(leaf.text) === fold(m.value);
    case 'wildcard':
      return leaf.kind === 's' && matchWildcard(m.wildcard, leaf.text);
    case 'anything-but':
      if (leaf.kind === 's') return !m.strings.has(leaf.text);
      if (leaf.kind === 'n') {
        if (leaf.value !== undefined) return !m.numbers.has(leaf.value);
        return !(leaf.lexical && m.lexemes.has(leaf.text));
      }
      return true;
    case 'anything-but-prefix':
      return leaf.kind !== 's' || !m.values.some((p) => leaf.text.startsWith(p));
    case 'anything-but-suffix':
      return leaf.kind !== 's' || !m.values.some((p) => leaf.text.endsWith(p));
    case 'anything-but-equals-ignore-case': {
      if (leaf.kind !== 's') return true;
      const folded = fold(leaf.text);
      return !m.values.some((v) => fold(v) === folded);
    }
    case 'anything-but-wildcard':
      return leaf.kind !== 's' || !m.wildcards.some((w) => matchWildcard(w, leaf.text));
    case 'numeric': {
      if (leaf.kind !== 'n' || leaf.value === undefined) return false;
      const v = leaf.value;
      const aboveLow = m.lowInclusive ? v >= m.low : v > m.low;
      const belowHigh = m.highInclusive ? v <= m.high : v < m.high;
      return aboveLow && belowHigh;
    }
    case 'exists':
      return true;
    case 'cidr': {
      if (leaf.kind !== 's') return false;
      const key = ipKey(leaf.text);
      return key !== undefined && key.length === m.low.length && key >= m.low && key <= m.high;
    }
  }
}

/** JSON text with a space after list commas, as patterns are usually written: `[">", 100]`. */
function listText(value: unknown): string {
  return Array.isArray(value) ? `[${value.map((v) => JSON.stringify(v)).join(', ')}]` : JSON.stringify(value);
}

/** The matcher as it reads in a pattern, e.g. `numeric [">", 100]` or `prefix "ord"`. */
export function describeMatcher(m: Matcher): string {
  switch (m.kind) {
    case 'string':
      return JSON.stringify(m.value);
    case 'number':
      return m.lexeme;
    case 'literal':
      return String(m.value);
    case 'prefix':
    case 'suffix':
      return m.ignoreCase
        ? `${m.kind} equals-ignore-case ${JSON.stringify(m.value)}`
        : `${m.kind} ${JSON.stringify(m.value)}`;
    case 'equals-ignore-case':
    case 'wildcard':
    case 'cidr':
      return `${m.kind} ${JSON.stringify(m.value)}`;
    case 'anything-but':
      return `anything-but ${listText(m.shown)}`;
    case 'anything-but-prefix':
    case 'anything-but-suffix':
    case 'anything-but-equals-ignore-case':
    case 'anything-but-wildcard':
      return `anything-but ${m.kind.slice('anything-but-'.length)} ${listText(m.values)}`;
    case 'numeric':
      return `numeric ${listText(m.shown)}`;
    case 'exists':
      return 'exists true';
  }
}
