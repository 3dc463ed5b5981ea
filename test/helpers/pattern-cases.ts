/**
 * A seeded generator of (event pattern, event) pairs over the whole EventBridge pattern language, for the
 * differential against event-ruler (test/peers/differential.test.ts). Both sides are JSON *texts*, written from a
 * small JSON tree that can hold what a JavaScript value cannot: a key written twice in one object, and number
 * lexemes such as `3.0e2` or `12345678901234567890`. Events are derived from the pattern (a value that satisfies
 * each condition of one `$or` combination) and then mutated (values swapped for near misses, fields dropped, wrapped
 * in arrays, split across array elements, spelled as dotted keys, repeated, surrounded by noise), so that about
 * half of the cases match. Pure: the same seed gives the same cases.
 */

/** A JSON tree that keeps key order, repeated keys and number lexemes. */
export type Json =
  | { readonly k: 'o'; readonly e: readonly (readonly [string, Json])[] }
  | { readonly k: 'a'; readonly v: readonly Json[] }
  | { readonly k: 's'; readonly v: string }
  | { readonly k: 'n'; readonly v: string }
  | { readonly k: 't' | 'f' | 'z' };

/** One generated case: the pattern's text and the event's text. */
export interface PatternCase {
  readonly pattern: string;
  readonly event: string;
}

/** The JSON text of a tree (compact; keys and strings escaped as `JSON.stringify` does). */
export function jsonText(j: Json): string {
  switch (j.k) {
    case 'o':
      return `{${j.e.map(([key, v]) => `${JSON.stringify(key)}:${jsonText(v)}`).join(',')}}`;
    case 'a':
      return `[${j.v.map(jsonText).join(',')}]`;
    case 's':
      return JSON.stringify(j.v);
    case 'n':
      return j.v;
    case 't':
      return 'true';
    case 'f':
      return 'false';
    case 'z':
      return 'null';
  }
}

/** A small, fast, seeded PRNG (mulberry32) with the helpers the generator needs. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)] as T;
  }
}

const str = (v: string): Json => ({ k: 's', v });
const num = (v: string): Json => ({ k: 'n', v });
const obj = (...e: (readonly [string, Json])[]): Json => ({ k: 'o', e });
const arr = (...v: Json[]): Json => ({ k: 'a', v });
const op = (name: string, arg: Json): Json => obj([name, arg]);

/** Field names: plain, dotted, empty, unicode, reserved words, and names that look like numbers. */
const KEYS = ['a', 'b', 'c', 'd', 'a', 'b', 'x-y', 'é', 'ключ', '', 'a.b', 'b.c', '.a', 'a.', '1', 'source'];
const NOISE_KEYS = ['n', 'noise', 'z', 'q.r', '2'];

/** Strings: case pairs inside and outside ASCII, glob characters, IP addresses, number-like and empty ones. */
const STRINGS = [
  'x',
  'y',
  'xy',
  'Xy',
  'XY',
  'abc',
  'ABC',
  'aBc',
  '',
  ' ',
  'ß',
  'SS',
  'ss',
  'ẞ',
  'AΣ',
  'aς',
  'aσ',
  'İ',
  'i̇',
  'ǅ',
  'Éé',
  'éÉ',
  'ϴ',
  'θ',
  '😀',
  '𐐀',
  '𐐨',
  'a*b',
  'a\\*b',
  'a\\\\b',
  'ab*',
  '5',
  '1.0',
  'true',
  'null',
  'x"',
  'q"q',
  '10.0.0.1',
  '10.0.0.255',
  '10.0.1.7',
  '010.0.0.1',
  '192.168.1.1',
  '2001:db8::1',
  '2001:DB8:0::1',
  '2001:db8:0:0:0:0:0:1',
  '::ffff:10.0.0.1',
  '::ffff:a00:1',
  'a00::1',
  '::1',
  '::',
  'fe80::',
];

/** Number lexemes: integers, decimals, exponents, equal values written differently, subnormals, extremes. */
const NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '2',
  '5',
  '10',
  '1.5',
  '1.50',
  '-2.5',
  '300',
  '3.0e2',
  '3e2',
  '0.1',
  '1e-7',
  '1e21',
  '1E21',
  '100',
  '1e2',
  '5e-324',
  '4.9e-324',
  '2.2250738585072014e-308',
  '2.225073858507201e-308',
  '1.7976931348623157e308',
  '-1.7976931348623157e308',
  '9007199254740992',
  '9007199254740993',
  '12345678901234567890',
  '12345678901234567000',
  '1e400',
  '123456789',
  '0.30000000000000004',
  '2e23',
];

const CIDRS = [
  '10.0.0.0/24',
  '10.0.0.0/8',
  '10.0.0.0/31',
  '0.0.0.0/0',
  '192.168.0.0/16',
  '2001:db8::/32',
  '::/0',
  '::ffff:10.0.0.0/120',
  'fe80::/10',
  '10.0.0.0/32',
  '10.0.0.1',
  '2001:db8::/129',
  '010.0.0.0/8',
];

const WILDCARDS = ['x*', '*y', '*', 'x*y', '*x*', 'a*b*c', '1*7', 'a\\*b', 'a**b', '*.1', 'A*', 'ß*', ''];

const RESERVED = ['prefix', 'numeric', 'regex', 'exists', 'cidr', '=', 'wildcard', 'not-wildcard'];

/** A generated condition, kept beside its JSON so that the event can be derived from it. */
type Cond =
  | { readonly t: 'string'; readonly v: string }
  | { readonly t: 'number'; readonly v: string }
  | { readonly t: 'literal'; readonly v: Json }
  | { readonly t: 'prefix' | 'suffix' | 'eic' | 'prefix-eic' | 'suffix-eic'; readonly v: string }
  | { readonly t: 'wildcard'; readonly v: string }
  | { readonly t: 'anything-but'; readonly v: readonly Json[] }
  | { readonly t: 'numeric'; readonly lo?: number; readonly hi?: number; readonly eq?: string }
  | { readonly t: 'exists'; readonly v: boolean }
  | { readonly t: 'cidr'; readonly v: string }
  | { readonly t: 'other' };

/** A field of one combination: its path (segments) and its conditions. */
interface Field {
  readonly segments: readonly string[];
  readonly conds: readonly Cond[];
}

/** Generates (pattern, event) texts from one seed. */
export class PatternCaseGenerator {
  readonly #r: Random;

  constructor(seed: number) {
    this.#r = new Random(seed);
  }

  /** The next case. */
  next(): PatternCase {
    const r = this.#r;
    const combos: Field[][] = [[]];
    const pattern = this.#object(0, combos, [], false);
    const fields = r.pick(combos);
    const event = this.#event(fields);
    return { pattern: jsonText(pattern), event: jsonText(event) };
  }

  #key(): string {
    return this.#r.pick(KEYS);
  }

  /**
   * A pattern object; `combos` collects the fields of each `$or` combination written so far (every branch adds its
   * fields to a copy of each combination), `prefix` is the path of the object.
   */
  #object(depth: number, combos: Field[][], prefix: readonly string[], inOr: boolean): Json {
    const r = this.#r;
    const entries: [string, Json][] = [];
    const n = 1 + r.int(depth === 0 ? 3 : 2);
    for (let i = 0; i < n; i++) {
      if (depth < 2 && r.chance(depth === 0 ? 0.25 : 0.1)) {
        entries.push(['$or', this.#or(depth, combos, prefix)]);
        continue;
      }
      let key = this.#key();
      if (inOr && r.chance(0.03)) key = r.pick(RESERVED);
      const segments = [...prefix, ...key.split('.')];
      if (depth < 2 && r.chance(0.2)) {
        entries.push([key, this.#object(depth + 1, combos, segments, inOr)]);
      } else {
        const conds: Cond[] = [];
        const list: Json[] = [];
        const m = r.chance(0.75) ? 1 : 2 + r.int(2);
        for (let j = 0; j < m; j++) {
          const [json, cond] = this.#matcher();
          list.push(json);
          conds.push(cond);
        }
        // An empty list now and then (invalid).
        entries.push([key, arr(...(r.chance(0.01) ? [] : list))]);
        for (const c of combos) c.push({ segments, conds });
      }
      // The same key again in the text (a repeated key), now and then.
      if (r.chance(0.05) && entries.length > 0) {
        const [k, v] = entries[r.int(entries.length)] as [string, Json];
        if (k !== '$or')
          entries.push([
            k,
            v.k === 'o' ? this.#object(depth + 1, combos, [...prefix, ...k.split('.')], inOr) : v,
          ]);
      }
    }
    if (r.chance(0.005)) return obj();
    return { k: 'o', e: entries };
  }

  #or(depth: number, combos: Field[][], prefix: readonly string[]): Json {
    const r = this.#r;
    const branches: Json[] = [];
    const before = combos.map((c) => [...c]);
    const out: Field[][] = [];
    const count = r.chance(0.02) ? 1 : 2 + r.int(2);
    for (let i = 0; i < count; i++) {
      const mine = before.map((c) => [...c]);
      branches.push(this.#object(depth + 1, mine, prefix, true));
      out.push(...mine);
    }
    combos.splice(0, combos.length, ...out.slice(0, 64));
    return arr(...branches);
  }

  /** One match value of a field list and the condition it stands for. */
  #matcher(): [Json, Cond] {
    const r = this.#r;
    const s = () => r.pick(STRINGS);
    switch (r.int(17)) {
      case 0:
      case 1: {
        const v = s();
        return [str(v), { t: 'string', v }];
      }
      case 2: {
        const v = r.pick(NUMBERS);
        return [num(v), { t: 'number', v }];
      }
      case 3: {
        const v: Json = r.pick([{ k: 't' }, { k: 'f' }, { k: 'z' }] as const);
        return [v, { t: 'literal', v }];
      }
      case 4: {
        const v = s();
        return r.chance(0.1)
          ? [op('exactly', str(v)), { t: 'string', v }]
          : [op('prefix', str(v)), { t: 'prefix', v }];
      }
      case 5: {
        const v = s();
        return [op('suffix', str(v)), { t: 'suffix', v }];
      }
      case 6: {
        const v = s();
        return [op('equals-ignore-case', str(v)), { t: 'eic', v }];
      }
      case 7: {
        const v = s();
        const which = r.chance(0.5) ? 'prefix' : 'suffix';
        return [
          op(which, op('equals-ignore-case', str(v))),
          { t: which === 'prefix' ? 'prefix-eic' : 'suffix-eic', v },
        ];
      }
      case 8: {
        const v = r.pick(WILDCARDS);
        return [op('wildcard', str(v)), { t: 'wildcard', v }];
      }
      case 9:
      case 10:
        return this.#anythingBut();
      case 11:
      case 12:
        return this.#numeric();
      case 13: {
        const v = r.chance(0.6);
        return [op('exists', v ? { k: 't' } : { k: 'f' }), { t: 'exists', v }];
      }
      case 14: {
        const v = r.pick(CIDRS);
        return [op('cidr', str(v)), { t: 'cidr', v }];
      }
      case 15: {
        // Values that must be rejected, or that probe the edges of validation.
        const bad: Json[] = [
          op('regex', str('x')),
          op('prefix', num('1')),
          obj(['prefix', str('x')], ['suffix', str('y')]),
          obj(['prefix', str('x')], ['prefix', str('y')]),
          op('exists', str('true')),
          arr(str('x')),
          op('anything-but', obj(['prefix', str('x')], ['suffix', str('y')])),
          op('anything-but', op('prefix', str(''))),
          op('anything-but', op('prefix', arr())),
          op('anything-but', arr()),
          op('anything-but', arr(str('x'), num('1'))),
          op('anything-but', { k: 't' }),
          op('numeric', arr(str('>'), str('1'))),
          op('numeric', arr(str('>'), num('5'), str('<'), num('1'))),
          op('numeric', arr(str('='), num('9007199254740993'))),
          op('numeric', arr(str('>'), num('1e400'))),
          op('equals-ignore-case', num('1')),
          op('wildcard', str('a**')),
          op('cidr', str('nope')),
          obj(),
        ];
        return [r.pick(bad), { t: 'other' }];
      }
      default: {
        const v = s();
        return [str(v), { t: 'string', v }];
      }
    }
  }

  #anythingBut(): [Json, Cond] {
    const r = this.#r;
    const values = (n: number, f: () => Json) => Array.from({ length: n }, f);
    switch (r.int(6)) {
      case 0: {
        const v = str(r.pick(STRINGS));
        return [op('anything-but', v), { t: 'anything-but', v: [v] }];
      }
      case 1: {
        const v = values(1 + r.int(3), () => str(r.pick(STRINGS)));
        return [op('anything-but', arr(...v)), { t: 'anything-but', v }];
      }
      case 2: {
        const v = values(1 + r.int(3), () => num(r.pick(NUMBERS)));
        return [
          op('anything-but', r.chance(0.3) && v.length === 1 ? (v[0] as Json) : arr(...v)),
          { t: 'anything-but', v },
        ];
      }
      default: {
        const kind = r.pick(['prefix', 'suffix', 'equals-ignore-case', 'wildcard']);
        const pool = kind === 'wildcard' ? WILDCARDS : STRINGS;
        const v = values(1 + r.int(2), () => str(r.pick(pool)));
        const arg = v.length === 1 && r.chance(0.5) ? (v[0] as Json) : arr(...v);
        return [op('anything-but', op(kind, arg)), { t: 'other' }];
      }
    }
  }

  #numeric(): [Json, Cond] {
    const r = this.#r;
    const n = () => r.pick(NUMBERS);
    switch (r.int(4)) {
      case 0: {
        const eq = n();
        return [op('numeric', arr(str('='), num(eq))), { t: 'numeric', eq }];
      }
      case 1: {
        const v = n();
        const o = r.pick(['<', '<=', '>', '>=']);
        const x = Number(v);
        const cond: Cond = o.startsWith('<') ? { t: 'numeric', hi: x } : { t: 'numeric', lo: x };
        return [op('numeric', arr(str(o), num(v))), cond];
      }
      default: {
        let a = n();
        let b = n();
        if (Number(a) > Number(b)) [a, b] = [b, a];
        return [
          op('numeric', arr(str(r.pick(['>', '>='])), num(a), str(r.pick(['<', '<='])), num(b))),
          { t: 'numeric', lo: Number(a), hi: Number(b) },
        ];
      }
    }
  }

  /** A value that (usually) satisfies the condition; undefined when the field should be absent. */
  #witness(c: Cond): Json | undefined {
    const r = this.#r;
    const case1 = (ch: string) => (r.chance(0.5) ? ch.toUpperCase() : ch.toLowerCase());
    const recase = (s: string) => [...s].map(case1).join('');
    const noise = () => r.pick(['', 'q', 'Z', 'é', 'x']);
    switch (c.t) {
      case 'string':
        return str(c.v);
      case 'number':
        if (c.v === '300' || c.v === '3.0e2' || c.v === '3e2')
          return num(r.pick(['300', '3.0e2', '3e2', '300.0']));
        return num(c.v);
      case 'literal':
        return c.v;
      case 'prefix':
        return str(c.v + noise());
      case 'suffix':
        return str(noise() + c.v);
      case 'eic':
        return str(recase(c.v));
      case 'prefix-eic':
        return str(recase(c.v) + noise());
      case 'suffix-eic':
        return str(noise() + recase(c.v));
      case 'wildcard':
        return str(
          c.v
            .split('\\*')
            .map((part) => part.replace(/\*/g, () => noise()))
            .join('*'),
        );
      case 'anything-but':
        return r.chance(0.5) ? this.#leaf() : (r.pick(c.v) as Json);
      case 'numeric': {
        if (c.eq !== undefined) return num(c.eq);
        const lo = c.lo ?? -1e6;
        const hi = c.hi ?? 1e6;
        const candidates = NUMBERS.filter((x) => Number(x) >= lo && Number(x) <= hi);
        return num(candidates.length > 0 && r.chance(0.8) ? r.pick(candidates) : String((lo + hi) / 2));
      }
      case 'exists':
        return c.v ? this.#leaf() : undefined;
      case 'cidr': {
        const inside: Record<string, string[]> = {
          '10.0.0.0/24': ['10.0.0.1', '10.0.0.255', '::ffff:a00:1', '::ffff:10.0.0.1'],
          '10.0.0.0/8': ['10.0.1.7', '10.255.0.0', 'a00::1'],
          '0.0.0.0/0': ['192.168.1.1', '1', '::1'],
          '2001:db8::/32': ['2001:db8::1', '2001:DB8:0::1', '2001:db9::1'],
          '::/0': ['::1', '10.0.0.1', 'fe80::'],
        };
        return str(r.pick(inside[c.v] ?? STRINGS));
      }
      default:
        return this.#leaf();
    }
  }

  #leaf(): Json {
    const r = this.#r;
    switch (r.int(4)) {
      case 0:
      case 1:
        return str(r.pick(STRINGS));
      case 2:
        return num(r.pick(NUMBERS));
      default:
        return r.pick([{ k: 't' }, { k: 'f' }, { k: 'z' }] as const);
    }
  }

  /** An event for one combination of the pattern: witnesses, then mutations. */
  #event(fields: readonly Field[]): Json {
    const r = this.#r;
    const root = new Node();
    for (const f of fields) {
      if (r.chance(0.08)) continue; // the field left out
      const c = f.conds.length > 0 ? r.pick(f.conds) : undefined;
      let v = c === undefined ? this.#leaf() : this.#witness(c);
      if (v === undefined) continue;
      if (r.chance(0.15)) v = this.#leaf(); // a near miss, or a chance hit
      root.put(f.segments, v, r);
    }
    for (let i = r.int(3); i > 0; i--) root.put([r.pick(NOISE_KEYS)], this.#leaf(), r);
    return root.json(r, 0);
  }
}

/** The event under construction: a tree of keys with leaves where a path ends. */
class Node {
  readonly children = new Map<string, Node>();
  readonly leaves: Json[] = [];

  put(segments: readonly string[], value: Json, r: Random): void {
    if (segments.length === 0) {
      this.leaves.push(value);
      if (r.chance(0.05)) this.leaves.push(value);
      return;
    }
    const [head, ...rest] = segments as [string, ...string[]];
    let child = this.children.get(head);
    if (child === undefined) {
      child = new Node();
      this.children.set(head, child);
    }
    child.put(rest, value, r);
  }

  /**
   * The tree as JSON, mutated: a leaf now and then becomes an array (with decoys, or nested), an object is wrapped
   * in an array or has its keys split across array elements, a path is spelled with a dotted key, or a key is
   * written twice.
   */
  json(r: Random, depth: number): Json {
    const entries: [string, Json][] = [];
    for (const [key, child] of this.children) {
      const leafOnly = child.children.size === 0;
      // A dotted spelling of a one-child chain: {"a": {"b": v}} → {"a.b": v}.
      if (!leafOnly && child.leaves.length === 0 && child.children.size === 1 && r.chance(0.15)) {
        const [[k2, grand]] = [...child.children] as [[string, Node]];
        const v = grand.json(r, depth + 1);
        entries.push([`${key}.${k2}`, v]);
        continue;
      }
      const values: Json[] = child.leaves.map((l) => wrapLeaf(l, r));
      if (!leafOnly) values.push(wrapObject(child.json(r, depth + 1), r));
      if (values.length === 1 && r.chance(0.04)) {
        // The same key written twice: a decoy first, or an object split in two.
        entries.push([key, r.chance(0.5) ? { k: 's', v: '' } : { k: 'n', v: '0' }]);
      }
      for (const v of values) entries.push([key, v]);
    }
    if (r.chance(0.05)) entries.reverse();
    return { k: 'o', e: entries };
  }
}

function wrapLeaf(v: Json, r: Random): Json {
  const p = r.next();
  if (p < 0.12) return { k: 'a', v: [v, { k: 's', v: 'decoy' }] };
  if (p < 0.17) return { k: 'a', v: [{ k: 'n', v: '7' }, v] };
  if (p < 0.19) return { k: 'a', v: [{ k: 'a', v: [v] }] };
  if (p < 0.2) return { k: 'a', v: [] };
  return v;
}

function wrapObject(v: Json, r: Random): Json {
  if (v.k !== 'o') return v;
  const p = r.next();
  if (p < 0.12) return { k: 'a', v: [v] };
  if (p < 0.2 && v.e.length > 1) {
    // Keys split across elements: array consistency then decides.
    const cut = 1 + r.int(v.e.length - 1);
    return {
      k: 'a',
      v: [
        { k: 'o', e: v.e.slice(0, cut) },
        { k: 'o', e: v.e.slice(cut) },
      ],
    };
  }
  if (p < 0.25) return { k: 'a', v: [v, { k: 's', v: 'x' }] };
  return v;
}

/**
 * Parses JSON text into a `Json` tree (keeping key order, repeated keys and number lexemes). Throws a SyntaxError on
 * text that is not JSON. For test inputs: recursive, nesting is bounded by the caller's texts.
 */
export function parseJsonTree(text: string): Json {
  let pos = 0;
  const fail = (): never => {
    throw new SyntaxError(`not JSON at offset ${pos}`);
  };
  const ws = () => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos] as string)) pos++;
  };
  const string = (): string => {
    const start = pos++;
    while (pos < text.length && text[pos] !== '"') pos += text[pos] === '\\' ? 2 : 1;
    if (pos >= text.length) fail();
    pos++;
    return JSON.parse(text.slice(start, pos)) as string;
  };
  const value = (): Json => {
    ws();
    const c = text[pos];
    if (c === '{') {
      pos++;
      const e: [string, Json][] = [];
      ws();
      if (text[pos] === '}') {
        pos++;
        return { k: 'o', e };
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail();
        const key = string();
        ws();
        if (text[pos++] !== ':') fail();
        e.push([key, value()]);
        ws();
        const next = text[pos++];
        if (next === '}') return { k: 'o', e };
        if (next !== ',') fail();
      }
    }
    if (c === '[') {
      pos++;
      const v: Json[] = [];
      ws();
      if (text[pos] === ']') {
        pos++;
        return { k: 'a', v };
      }
      for (;;) {
        v.push(value());
        ws();
        const next = text[pos++];
        if (next === ']') return { k: 'a', v };
        if (next !== ',') fail();
      }
    }
    if (c === '"') return { k: 's', v: string() };
    for (const [word, k] of [
      ['true', 't'],
      ['false', 'f'],
      ['null', 'z'],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return { k };
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(pos, pos + 1100));
    if (m === null) return fail();
    pos += m[0].length;
    return { k: 'n', v: m[0] };
  };
  const out = value();
  ws();
  if (pos !== text.length) fail();
  return out;
}
