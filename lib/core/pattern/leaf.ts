/** Event leaves (strings, numbers, booleans, null) and how one matcher judges one leaf. */
import { ipKey } from './ip.ts';
import { JsonNumber, numberParts } from './json-number.ts';
import type { CaseForms, Matcher } from './model.ts';
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

/**
 * The forms of an equals-ignore-case operand (see `CaseForms`): each character stands for its lower or its upper
 * case, as event-ruler reads it (`"ß"` matches "ß" and "SS" but not "ss"; `"AΣ"` matches "aσ" but not "aς"). A
 * character outside the BMP counts as one character (event-ruler splits it into two halves that match nothing).
 */
export function caseForms(value: string): CaseForms {
  const out: string[][] = [];
  for (const ch of value) {
    const lower = ch.toLowerCase();
    const upper = ch.toUpperCase();
    out.push(lower === upper ? [lower] : [lower, upper]);
  }
  return out;
}

/**
 * The case key of a string: lower case per character (`toLowerCase`, with the final-sigma rule undone, so that each
 * character maps alone). Fast on ASCII.
 */
export function textCaseKey(text: string): string {
  const lower = text.toLowerCase();
  return lower.includes('ς') ? lower.replaceAll('ς', 'σ') : lower;
}

/**
 * A key that every string the operand's forms accept shares with the operand (`textCaseKey` of the string), so that
 * hash maps and tries can find candidates, which `matchLeaf` then confirms. `undefined` when the forms of some
 * character have different keys (`ß` is "ß" or "SS"): such operands are checked one by one.
 */
export function caseKey(value: string, forms?: CaseForms): string | undefined {
  if (forms === undefined) return textCaseKey(value);
  let out = '';
  for (const alternatives of forms) {
    const key = textCaseKey(alternatives[0] as string);
    if (alternatives.some((a) => textCaseKey(a) !== key)) return undefined;
    out += key;
  }
  return out;
}

/**
 * Where a spelling of the operand (its forms, character by character) that starts at `start` in `text` can end,
 * reading forward (`step` 1) or backward from `start` (`step` -1). Each character has at most two forms, so the
 * set of ends stays small; in the usual case (one way on at each character) it is one position, kept without
 * allocating. Linear in the operand.
 */
function formEnds(forms: CaseForms, text: string, start: number, step: 1 | -1): number[] {
  const count = forms.length;
  let pos = start;
  for (let i = 0; i < count; i++) {
    const alternatives = forms[step === 1 ? i : count - 1 - i] as readonly string[];
    let next = -1;
    let ways = 0;
    for (const form of alternatives) {
      const end = advance(text, pos, form, step);
      if (end >= 0 && end !== next) {
        ways++;
        next = end;
      }
    }
    if (ways === 0) return [];
    if (ways > 1) return formEndsFrom(forms, text, [pos], i, step);
    pos = next;
  }
  return [pos];
}

/** Where `form` ends when read from `pos` in direction `step`, or -1 when the text does not hold it there. */
function advance(text: string, pos: number, form: string, step: 1 | -1): number {
  const at = step === 1 ? pos : pos - form.length;
  if (at < 0 || !text.startsWith(form, at)) return -1;
  return step === 1 ? pos + form.length : at;
}

/** `formEnds` from character `from` on, for a set of positions. */
function formEndsFrom(
  forms: CaseForms,
  text: string,
  start: readonly number[],
  from: number,
  step: 1 | -1,
): number[] {
  let positions = [...start];
  const count = forms.length;
  for (let i = from; i < count && positions.length > 0; i++) {
    const alternatives = forms[step === 1 ? i : count - 1 - i] as readonly string[];
    const next: number[] = [];
    for (const pos of positions) {
      for (const form of alternatives) {
        const end = advance(text, pos, form, step);
        if (end >= 0 && !next.includes(end)) next.push(end);
      }
    }
    positions = next;
  }
  return positions;
}

/** Whether `text` is the operand in one of its forms, per character. */
export function equalsIgnoringCase(forms: CaseForms, text: string): boolean {
  // Each form is at least one UTF-16 unit and at most three: a cheap bound first.
  if (text.length < forms.length || text.length > forms.length * 3) return false;
  return formEnds(forms, text, 0, 1).includes(text.length);
}

/** Whether `text` starts with the operand in one of its forms. */
export function startsIgnoringCase(forms: CaseForms, text: string): boolean {
  return formEnds(forms, text, 0, 1).length > 0;
}

/** Whether `text` ends with the operand in one of its forms. */
export function endsIgnoringCase(forms: CaseForms, text: string): boolean {
  return formEnds(forms, text, text.length, -1).length > 0;
}

/** Whether one leaf satisfies one matcher. */
export function matchLeaf(m: Matcher, leaf: Leaf): boolean {
  switch (m.kind) {
    case 'string':
      if (leaf.kind !== 's') return false;
      return m.ip === undefined ? leaf.text === m.value : ipKey(leaf.text) === m.ip;
    case 'number':
      if (leaf.kind !== 'n') return false;
      return m.value !== undefined ? leaf.value === m.value : leaf.lexical && leaf.text === m.lexeme;
    case 'literal':
      return leaf.kind === (m.value === true ? 't' : m.value === false ? 'f' : 'z');
    case 'prefix':
      return (
        leaf.kind === 's' &&
        (m.forms !== undefined ? startsIgnoringCase(m.forms, leaf.text) : leaf.text.startsWith(m.value))
      );
    case 'suffix':
      return (
        leaf.kind === 's' &&
        (m.forms !== undefined ? endsIgnoringCase(m.forms, leaf.text) : leaf.text.endsWith(m.value))
      );
    case 'equals-ignore-case':
      return leaf.kind === 's' && equalsIgnoringCase(m.forms, leaf.text);
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
    case 'anything-but-equals-ignore-case':
      return leaf.kind !== 's' || !m.forms.some((forms) => equalsIgnoringCase(forms, leaf.text));
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
