/** Validates an EventBridge event pattern and compiles it into sub-patterns, with errors that say where and why. */
import { JunctionError } from '../errors.ts';
import { cidrRange, ipKey } from './ip.ts';
import {
  comparableValue,
  isJsonNumber,
  JsonNumber,
  numberParts,
  OrderedObject,
  parseOrderedJson,
} from './json-number.ts';
import { caseForms } from './leaf.ts';
import { MAX_PATH_SEGMENTS, nestsDeeperThan } from './limits.ts';
import type { CompiledPattern, FieldCondition, Matcher, PatternLimits, SubPattern } from './model.ts';
import { DEFAULT_PATTERN_LIMITS } from './model.ts';
import { parseWildcard } from './wildcard.ts';

const OPERATORS = new Set([
  'exactly',
  'prefix',
  'suffix',
  'equals-ignore-case',
  'wildcard',
  'anything-but',
  'numeric',
  'exists',
  'cidr',
]);

/**
 * Names event-ruler reserves inside `$or`, at any depth below it (the operators, numeric comparisons and names kept
 * for future operators): a field of that name there is invalid.
 */
const RESERVED_IN_OR = new Set([
  ...OPERATORS,
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** `pattern.data.total[0]`: a readable JSON path; keys that are not plain names are quoted. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** A short rendering of a value for error messages. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof JsonNumber) &&
    !(value instanceof OrderedObject)
  );
}

/** A JSON object of the pattern: a plain object, or one read from text with its members in order. */
type PatternObject = Record<string, unknown> | OrderedObject;

function isPatternObject(value: unknown): value is PatternObject {
  return value instanceof OrderedObject || isPlainObject(value);
}

/** The members of a pattern object in the order written (repeated keys included, for one read from text). */
function entriesOf(value: PatternObject): readonly (readonly [string, unknown])[] {
  return value instanceof OrderedObject ? value.entries : Object.entries(value);
}

/** A field before same-path merging: `absent` when `exists: false` is one of its alternatives. */
interface RawField {
  readonly path: string;
  readonly source: string;
  readonly matchers: readonly Matcher[];
  readonly absent: boolean;
}

interface Alternative {
  readonly fields: RawField[];
}

class Compiler {
  readonly limits: PatternLimits;
  wildcardValues = 0;

  constructor(limits: PatternLimits) {
    this.limits = limits;
  }

  fail(path: string, message: string): never {
    throw new JunctionError('InvalidPattern', `${path}: ${message}`, { path });
  }

  /** An object level of the pattern as a list of alternative conjunctions. */
  /**
   * `prefix` is the path of the object (undefined at the top: a key `""` there is a path of its own); `inOr` whether
   * it sits in a `$or` branch, where event-ruler's reserved names are no field names.
   */
  object(
    value: PatternObject,
    prefix: string | undefined,
    where: string,
    depth: number,
    inOr: boolean,
  ): Alternative[] {
    if (depth > this.limits.maxDepth) {
      this.fail(where, `the pattern is nested deeper than ${this.limits.maxDepth} levels`);
    }
    const entries = entriesOf(value);
    if (entries.length === 0) this.fail(where, 'Empty objects are not allowed');
    let alternatives: Alternative[] = [{ fields: [] }];
    for (const [key, child] of entries) {
      const at = childPath(where, key);
      let next: Alternative[];
      if (key === '$or') {
        next = this.or(child, prefix, at, depth);
      } else {
        if (inOr && RESERVED_IN_OR.has(key)) {
          this.fail(at, `${key} is a reserved name and cannot be used as a field inside $or`);
        }
        const path = prefix === undefined ? key : `${prefix}.${key}`;
        if (isPatternObject(child)) next = this.object(child, path, at, depth + 1, inOr);
        else if (Array.isArray(child)) next = this.values(child, path, at, depth + 1);
        else {
          this.fail(at, `a field must hold an object or an array of match values, received ${show(child)}`);
        }
      }
      alternatives = this.product(alternatives, next, at);
    }
    return alternatives;
  }

  product(left: Alternative[], right: Alternative[], where: string): Alternative[] {
    if (left.length * right.length > this.limits.maxCombinations) {
      this.fail(
        where,
        `the pattern expands into more than ${this.limits.maxCombinations} combinations ($or branches and exists:false alternatives)`,
      );
    }
    // One alternative on the right (the usual case) extends each on the left in place: linear, not quadratic, in
    // the fields of an object. The arrays are this compiler's own, made fresh for each alternative.
    if (right.length === 1) {
      const only = (right[0] as Alternative).fields;
      for (const l of left) for (const f of only) l.fields.push(f);
      return left;
    }
    const out: Alternative[] = [];
    for (const l of left) for (const r of right) out.push({ fields: [...l.fields, ...r.fields] });
    return out;
  }

  or(value: unknown, prefix: string | undefined, where: string, depth: number): Alternative[] {
    if (!Array.isArray(value)) {
      this.fail(where, `$or must be an array of at least 2 pattern objects, received ${show(value)}`);
    }
    if (value.length < 2) {
      this.fail(where, `$or must hold at least 2 pattern objects, received ${value.length}`);
    }
    const out: Alternative[] = [];
    value.forEach((branch, i) => {
      const at = childPath(where, i);
      if (!isPatternObject(branch)) {
        this.fail(at, `each $or branch must be a pattern object, received ${show(branch)}`);
      }
      for (const alt of this.object(branch, prefix, at, depth + 1, true)) {
        out.push(alt);
        if (out.length > this.limits.maxCombinations) {
          this.fail(where, `the pattern expands into more than ${this.limits.maxCombinations} combinations`);
        }
      }
    });
    return out;
  }

  /** A list of match values for one field. */
  values(list: unknown[], path: string, where: string, depth: number): Alternative[] {
    if (list.length === 0) this.fail(where, 'Empty arrays are not allowed');
    if (list.length > this.limits.maxValues) {
      this.fail(where, `a list holds at most ${this.limits.maxValues} values, received ${list.length}`);
    }
    const segments = path.split('.').length;
    if (segments > MAX_PATH_SEGMENTS) {
      this.fail(where, `a field path has at most ${MAX_PATH_SEGMENTS} segments, received ${segments}`);
    }
    const matchers: Matcher[] = [];
    let absent = false;
    list.forEach((item, i) => {
      const at = childPath(where, i);
      const m = this.matcher(item, at, depth + 1);
      if (m === 'absent') absent = true;
      else matchers.push(m);
    });
    return [{ fields: [{ path, source: where, matchers, absent }] }];
  }

  matcher(item: unknown, where: string, depth: number): Matcher | 'absent' {
    if (typeof item === 'string') {
      const ip = ipKey(item);
      return ip === undefined ? { kind: 'string', value: item } : { kind: 'string', value: item, ip };
    }
    if (isJsonNumber(item)) {
      const parts = numberParts(item);
      return { kind: 'number', lexeme: parts.lexeme, value: parts.value };
    }
    if (item === true || item === false || item === null) return { kind: 'literal', value: item };
    if (Array.isArray(item)) {
      this.fail(
        where,
        `a match value must be a string, number, boolean, null or an operator object, received ${show(item)}`,
      );
    }
    if (!isPatternObject(item)) this.fail(where, `unsupported match value ${show(item)}`);
    if (depth > this.limits.maxDepth)
      this.fail(where, `the pattern is nested deeper than ${this.limits.maxDepth} levels`);
    const entries = entriesOf(item);
    if (entries.length === 0) this.fail(where, 'Empty objects are not allowed');
    const [op, arg] = entries[0] as readonly [string, unknown];
    if (!OPERATORS.has(op)) this.fail(childPath(where, op), `Unrecognized match type ${op}`);
    if (entries.length > 1) {
      this.fail(where, `Only one key allowed in match expression, received ${show(entries.map(([k]) => k))}`);
    }
    const at = childPath(where, op);
    switch (op) {
      case 'prefix':
      case 'suffix':
        return this.affix(op, arg, at);
      case 'exactly':
        return { kind: 'string', value: this.string(arg, at, 'exact') };
      case 'equals-ignore-case': {
        const value = this.string(arg, at, 'equals-ignore-case');
        return { kind: 'equals-ignore-case', value, forms: caseForms(value) };
      }
      case 'wildcard':
        return this.wildcard(arg, at);
      case 'anything-but':
        return this.anythingBut(arg, at);
      case 'numeric':
        return this.numeric(arg, at);
      case 'exists':
        if (arg !== true && arg !== false) {
          this.fail(at, `exists match pattern must be either true or false, received ${show(arg)}`);
        }
        return arg ? { kind: 'exists' } : 'absent';
      default: {
        const text = this.string(arg, at, 'cidr');
        try {
          const { low, high } = cidrRange(text);
          return { kind: 'cidr', value: text, low, high };
        } catch (error) {
          return this.fail(at, `${(error as Error).message}, received ${show(text)}`);
        }
      }
    }
  }

  string(arg: unknown, where: string, op: string): string {
    if (typeof arg !== 'string')
      this.fail(where, `${op} match pattern must be a string, received ${show(arg)}`);
    return arg;
  }

  affix(op: 'prefix' | 'suffix', arg: unknown, where: string): Matcher {
    if (typeof arg === 'string') return { kind: op, value: arg, ignoreCase: false };
    if (isPatternObject(arg)) {
      const entries = entriesOf(arg);
      if (entries.length === 0) this.fail(where, 'Empty objects are not allowed');
      const [key, inner] = entries[0] as readonly [string, unknown];
      if (key !== 'equals-ignore-case') {
        this.fail(childPath(where, key), `Unsupported ${op} pattern: ${key}`);
      }
      if (entries.length > 1) {
        this.fail(
          where,
          `Only one key allowed in match expression, received ${show(entries.map(([k]) => k))}`,
        );
      }
      const value = this.string(inner, childPath(where, key), 'equals-ignore-case');
      return { kind: op, value, ignoreCase: true, forms: caseForms(value) };
    }
    return this.fail(where, `${op} match pattern must be a string, received ${show(arg)}`);
  }

  wildcard(arg: unknown, where: string): Matcher {
    const value = this.string(arg, where, 'wildcard');
    return { kind: 'wildcard', value, wildcard: this.parseWildcard(value, where) };
  }

  parseWildcard(value: string, where: string): ReturnType<typeof parseWildcard> {
    this.wildcardValues++;
    if (this.wildcardValues > this.limits.maxWildcardValues) {
      this.fail(where, `a pattern holds at most ${this.limits.maxWildcardValues} wildcard values`);
    }
    let parsed: ReturnType<typeof parseWildcard>;
    try {
      parsed = parseWildcard(value);
    } catch (error) {
      return this.fail(where, `${(error as Error).message}, received ${show(value)}`);
    }
    if (parsed.pieces.length - 1 > this.limits.maxWildcardStars) {
      this.fail(
        where,
        `a wildcard holds at most ${this.limits.maxWildcardStars} '*', received ${show(value)}`,
      );
    }
    return parsed;
  }

  anythingBut(arg: unknown, where: string): Matcher {
    if (typeof arg === 'string') {
      return {
        kind: 'anything-but',
        strings: new Set([arg]),
        lexemes: new Set(),
        numbers: new Set(),
        shown: arg,
      };
    }
    if (isJsonNumber(arg)) return this.anythingButList([arg], where, arg);
    if (Array.isArray(arg)) return this.anythingButList(arg, where, arg);
    if (isPatternObject(arg)) {
      const entries = entriesOf(arg);
      if (entries.length === 0) this.fail(where, 'Empty objects are not allowed');
      const [key, raw] = entries[0] as readonly [string, unknown];
      const at = childPath(where, key);
      if (!['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(key)) {
        this.fail(at, `Unsupported anything-but pattern: ${key}`);
      }
      if (entries.length > 1) {
        this.fail(
          where,
          `Only one key allowed in match expression, received ${show(entries.map(([k]) => k))}`,
        );
      }
      const list = Array.isArray(raw) ? raw : [raw];
      if (list.length === 0) this.fail(at, 'Empty arrays are not allowed');
      if (list.length > this.limits.maxValues) {
        this.fail(at, `a list holds at most ${this.limits.maxValues} values, received ${list.length}`);
      }
      const values = list.map((v, i) => {
        const vAt = Array.isArray(raw) ? childPath(at, i) : at;
        if (typeof v !== 'string') {
          this.fail(vAt, `anything-but ${key} values must be strings, received ${show(v)}`);
        }
        if (v === '' && (key === 'prefix' || key === 'suffix')) {
          this.fail(vAt, `Null prefix/suffix not allowed: anything-but ${key} must not be empty`);
        }
        return v;
      });
      if (key === 'wildcard') {
        const wildcards = values.map((v, i) =>
          this.parseWildcard(v, Array.isArray(raw) ? childPath(at, i) : at),
        );
        return { kind: 'anything-but-wildcard', values, wildcards };
      }
      if (key === 'equals-ignore-case') {
        return { kind: 'anything-but-equals-ignore-case', values, forms: values.map(caseForms) };
      }
      return { kind: `anything-but-${key}` as 'anything-but-prefix', values };
    }
    return this.fail(
      where,
      `anything-but takes a string, a number, a list of either, or an operator object, received ${show(arg)}`,
    );
  }

  anythingButList(list: unknown[], where: string, shown: unknown): Matcher {
    if (list.length === 0) this.fail(where, 'Empty arrays are not allowed');
    if (list.length > this.limits.maxValues) {
      this.fail(where, `a list holds at most ${this.limits.maxValues} values, received ${list.length}`);
    }
    const strings = new Set<string>();
    const lexemes = new Set<string>();
    const numbers = new Set<number>();
    const allStrings = list.every((v) => typeof v === 'string');
    const allNumbers = list.every((v) => isJsonNumber(v));
    if (!allStrings && !allNumbers) {
      this.fail(
        where,
        `Inside anything but list, either all values are number or string, mixed type is not supported: ${show(shown)}`,
      );
    }
    list.forEach((v, i) => {
      if (typeof v === 'string') strings.add(v);
      else {
        const parts = numberParts(v as number | JsonNumber);
        if (parts.value === undefined) {
          this.fail(
            Array.isArray(shown) ? childPath(where, i) : where,
            `Cannot compare number : ${parts.lexeme}`,
          );
        }
        numbers.add(parts.value);
      }
    });
    return { kind: 'anything-but', strings, lexemes, numbers, shown };
  }

  numericValue(op: string, value: unknown, where: string): number {
    if (!isJsonNumber(value)) this.fail(where, `Value of ${op} must be numeric, received ${show(value)}`);
    const parts = numberParts(value);
    const n = value instanceof JsonNumber ? comparableValue(value.lexeme) : parts.value;
    if (n === undefined) this.fail(where, `Cannot compare number : ${parts.lexeme}`);
    return n;
  }

  numeric(arg: unknown, where: string): Matcher {
    if (!Array.isArray(arg) || arg.length === 0) {
      this.fail(where, `numeric takes a list such as [">", 0, "<=", 5], received ${show(arg)}`);
    }
    const ops = ['=', '<', '<=', '>', '>='];
    const first = arg[0];
    if (typeof first !== 'string' || !ops.includes(first)) {
      this.fail(childPath(where, 0), `Unrecognized numeric range operator: ${show(first)}`);
    }
    const v0 = this.numericValue(first, arg[1], childPath(where, 1));
    const shown = [...arg];
    if (first === '=') {
      if (arg.length > 2) this.fail(where, `Too many elements in numeric expression: ${show(arg)}`);
      return { kind: 'numeric', low: v0, lowInclusive: true, high: v0, highInclusive: true, shown };
    }
    if (first === '<' || first === '<=') {
      if (arg.length > 2) this.fail(where, `Too many elements in numeric expression: ${show(arg)}`);
      return {
        kind: 'numeric',
        low: -Infinity,
        lowInclusive: false,
        high: v0,
        highInclusive: first === '<=',
        shown,
      };
    }
    if (arg.length === 2) {
      return {
        kind: 'numeric',
        low: v0,
        lowInclusive: first === '>=',
        high: Infinity,
        highInclusive: false,
        shown,
      };
    }
    const second = arg[2];
    if (second === '>' || second === '>=' || second === '=') {
      this.fail(childPath(where, 2), `Bad numeric range operator: ${second}`);
    }
    if (typeof second !== 'string' || !ops.includes(second)) {
      this.fail(childPath(where, 2), `Unrecognized numeric range operator: ${show(second)}`);
    }
    const v1 = this.numericValue(second, arg[3], childPath(where, 3));
    if (arg.length > 4) this.fail(where, `Too many terms in numeric range expression: ${show(arg)}`);
    if (!(v0 < v1)) this.fail(where, `Bottom must be less than top: ${show(arg)}`);
    return {
      kind: 'numeric',
      low: v0,
      lowInclusive: first === '>=',
      high: v1,
      highInclusive: second === '<=',
      shown,
    };
  }
}

/**
 * Of the fields of one combination that name the same path, the last one written wins, as in event-ruler
 * (`testWithRuleOverride`): `{"$or": [{"a": ["y"]}, {"b": ["z"]}], "a": ["x"]}` requires `a` = x in both branches,
 * and `{"a": ["x"], "a.b": …, "a": {…}}` likewise takes the later spelling. The field keeps its first position.
 */
function merge(fields: readonly RawField[]): RawField[] {
  const byPath = new Map<string, RawField>();
  for (const f of fields) byPath.set(f.path, f);
  return [...byPath.values()];
}

/** A field that may be absent or match splits the combination in two: one where it is absent, one where it matches. */
function expand(fields: readonly RawField[]): SubPattern[] {
  let subs: FieldCondition[][] = [[]];
  for (const f of fields) {
    const segments = f.path.split('.');
    const variants: FieldCondition[] = [];
    if (f.matchers.length > 0) {
      variants.push({ path: f.path, segments, source: f.source, mode: 'present', matchers: f.matchers });
    }
    if (f.absent) variants.push({ path: f.path, segments, source: f.source, mode: 'absent', matchers: [] });
    if (variants.length === 1) {
      for (const s of subs) s.push(variants[0] as FieldCondition);
      continue;
    }
    const next: FieldCondition[][] = [];
    for (const s of subs) for (const v of variants) next.push([...s, v]);
    subs = next;
  }
  return subs.map((s) => ({ fields: s }));
}

/** Bytes of a text in UTF-8, counted exactly only when the text could exceed `max`. */
function utf8Size(text: string, max: number): number {
  if (text.length * 3 <= max) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Bytes of the value's JSON text (UTF-8), counted exactly only when the text could exceed `max`. */
function jsonSize(value: unknown, max: number): number {
  let text: string;
  try {
    text = JSON.stringify(value) ?? '';
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  return utf8Size(text, max);
}

/** Validates and compiles a pattern; throws `JunctionError('InvalidPattern', …, { path })` on the first problem. */
export function compilePattern(pattern: unknown, limits: Partial<PatternLimits> = {}): CompiledPattern {
  const all: PatternLimits = { ...DEFAULT_PATTERN_LIMITS, ...limits };
  const compiler: Compiler = new Compiler(all);
  if (!isPatternObject(pattern)) {
    compiler.fail('pattern', `a pattern must be a JSON object, received ${show(pattern)}`);
  }
  // Checked first and without recursion: the size check and the compiler walk the pattern recursively.
  if (nestsDeeperThan(pattern, all.maxDepth + 2)) {
    compiler.fail('pattern', `the pattern is nested deeper than ${all.maxDepth} levels`);
  }
  const size = jsonSize(pattern, all.maxBytes);
  if (size > all.maxBytes) {
    compiler.fail('pattern', `the pattern is ${size} bytes of JSON, more than the limit of ${all.maxBytes}`);
  }
  const alternatives = compiler.object(pattern, undefined, 'pattern', 1, false);
  const subPatterns: SubPattern[] = [];
  for (const alternative of alternatives) {
    for (const sub of expand(merge(alternative.fields))) {
      subPatterns.push(sub);
      if (subPatterns.length > all.maxCombinations) {
        compiler.fail(
          'pattern',
          `the pattern expands into more than ${all.maxCombinations} combinations ($or branches and exists:false alternatives)`,
        );
      }
    }
  }
  return { subPatterns };
}

/** Throws `JunctionError('InvalidPattern')` unless `pattern` is a valid event pattern within `limits`. */
export function validatePattern(pattern: unknown, limits?: Partial<PatternLimits>): void {
  compilePattern(pattern, limits);
}

/**
 * Reads a pattern's JSON text as event-ruler does: numbers keep their lexemes, and objects keep their members in
 * the order written, repeated keys included (`{"a": {"b": [1]}, "a": {"c": [2]}}` requires both `a.b` and `a.c`;
 * of `{"a": ["x"], "a": ["y"]}` the last wins; `{"prefix": "x", "prefix": "y"}` is invalid). The result is for
 * `compilePattern`, `PatternIndex.add`, `matchesPattern` and `explain`. Throws `JunctionError('InvalidPattern')`
 * when the text is not JSON, is larger than `maxBytes` or nests deeper than `maxDepth`.
 */
export function parsePatternText(text: string, limits: Partial<PatternLimits> = {}): unknown {
  const all: PatternLimits = { ...DEFAULT_PATTERN_LIMITS, ...limits };
  const size = utf8Size(text, all.maxBytes);
  if (size > all.maxBytes) {
    throw new JunctionError(
      'InvalidPattern',
      `pattern: the pattern is ${size} bytes of JSON, more than the limit of ${all.maxBytes}`,
      {
        path: 'pattern',
      },
    );
  }
  try {
    return parseOrderedJson(text, all.maxDepth + 2);
  } catch (error) {
    throw new JunctionError('InvalidPattern', `pattern: not valid JSON: ${(error as Error).message}`, {
      path: 'pattern',
    });
  }
}

/** `compilePattern(parsePatternText(text, limits), limits)`. */
export function compilePatternText(text: string, limits: Partial<PatternLimits> = {}): CompiledPattern {
  return compilePattern(parsePatternText(text, limits), limits);
}
