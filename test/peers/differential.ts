/**
 * The seeded differential between Junction's pattern matchers and event-ruler: Junction's answers for one case, the
 * policy list (where event-ruler is known to be wrong, or Junction decided otherwise, documented in docs/patterns.md),
 * and a runner that compares them over generated cases. Used by test/peers/differential.test.ts (a bounded run in
 * CI) and test/peers/differential-run.ts (`npm run differential -- --cases=200000 --seed=N`).
 */

import {
  comparableValue,
  explain,
  matchesPattern,
  PatternIndex,
  parseEventText,
  parsePatternText,
} from '../../lib/core/pattern/index.ts';
import { ipBytes } from '../../lib/core/pattern/ip.ts';
import {
  type Json,
  type PatternCase,
  PatternCaseGenerator,
  parseJsonTree,
} from '../helpers/pattern-cases.ts';
import type { EventRulerPeer, RulerAnswer } from './event-ruler.ts';

/** Junction's answer: invalid, or what each of its three matchers says. */
export type JunctionAnswer =
  | { readonly valid: false; readonly error: string }
  | { readonly valid: true; readonly index: boolean; readonly reference: boolean; readonly explain: boolean };

/** Junction's three matchers on one case: the compiled index, the reference interpreter and explain. */
export function junctionAnswer(c: PatternCase): JunctionAnswer {
  let pattern: unknown;
  const index = new PatternIndex();
  try {
    pattern = parsePatternText(c.pattern);
    index.add('p', pattern);
  } catch (error) {
    return { valid: false, error: (error as Error).message };
  }
  const event = parseEventText(c.event);
  return {
    valid: true,
    index: index.match(event).length > 0,
    reference: matchesPattern(pattern, event),
    explain: explain(pattern, event).matches,
  };
}

/** A leaf of a JSON tree with its path, as event-ruler names it (keys joined with dots). */
interface PathLeaf {
  readonly path: string;
  readonly leaf: Json;
}

function leavesOf(j: Json, path: string | undefined, out: PathLeaf[]): PathLeaf[] {
  if (j.k === 'o') for (const [key, v] of j.e) leavesOf(v, path === undefined ? key : `${path}.${key}`, out);
  else if (j.k === 'a') for (const v of j.v) leavesOf(v, path, out);
  else if (path !== undefined) out.push({ path, leaf: j });
  return out;
}

/** A field list of the pattern: its path, the object keys above it, and the list. */
interface PatternField {
  readonly path: string;
  readonly stack: readonly string[];
  readonly list: readonly Json[];
}

function fieldsOf(j: Json, stack: readonly string[], out: PatternField[]): PatternField[] {
  if (j.k !== 'o') return out;
  for (const [key, v] of j.e) {
    if (key === '$or' && v.k === 'a') for (const branch of v.v) fieldsOf(branch, stack, out);
    else if (v.k === 'o') fieldsOf(v, [...stack, key], out);
    else if (v.k === 'a') out.push({ path: [...stack, key].join('.'), stack, list: v.v });
  }
  return out;
}

/** The operator object's single entry, when the match value is one. */
function operator(m: Json): readonly [string, Json] | undefined {
  return m.k === 'o' && m.e.length === 1 ? m.e[0] : undefined;
}

function strings(j: Json): string[] {
  if (j.k === 's') return [j.v];
  if (j.k === 'a') return j.v.flatMap(strings);
  if (j.k === 'o') return j.e.flatMap(([, v]) => strings(v));
  return [];
}

function numbers(j: Json): string[] {
  if (j.k === 'n') return [j.v];
  if (j.k === 'a') return j.v.flatMap(numbers);
  if (j.k === 'o') return j.e.flatMap(([, v]) => numbers(v));
  return [];
}

function some(j: Json, test: (j: Json) => boolean): boolean {
  if (test(j)) return true;
  if (j.k === 'a') return j.v.some((v) => some(v, test));
  if (j.k === 'o') return j.e.some(([, v]) => some(v, test));
  return false;
}

const IPV4_TEXT = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;
const IPV6_TEXT = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;

/** The address family (4 or 16 bytes) of an IP-range condition of event-ruler: a cidr, or an exact IP string. */
function rangeFamily(m: Json): number | undefined {
  const o = operator(m);
  const text = o?.[0] === 'cidr' && o[1].k === 's' ? o[1].v.split('/')[0] : m.k === 's' ? m.v : undefined;
  if (text === undefined || !(IPV4_TEXT.test(text) || IPV6_TEXT.test(text))) return undefined;
  return ipBytes(text)?.length;
}

function leafFamily(leaf: Json): number | undefined {
  if (leaf.k !== 's' || !(IPV4_TEXT.test(leaf.v) || IPV6_TEXT.test(leaf.v))) return undefined;
  return ipBytes(leaf.v)?.length;
}

const IGNORE_CASE = new Set(['equals-ignore-case']);

/** A case and what the policy needs to know about it beyond its texts. */
export interface PolicyInput {
  readonly pattern: Json;
  readonly event: Json;
  /** Number lexemes of the case that event-ruler (on its JVM) and Junction disagree are comparable. */
  readonly jdkNumbers: boolean;
}

/** One entry of the policy list: a class of cases whose answers are not compared with event-ruler's, and why. */
export interface Policy {
  readonly name: string;
  readonly applies: (c: PolicyInput) => boolean;
}

/**
 * The policy list (docs/patterns.md, "Where Junction and event-ruler differ"). A case any entry applies to is not
 * compared with event-ruler; Junction's three matchers must still agree on it.
 */
export const POLICY: readonly Policy[] = [
  {
    // event-ruler bug: an IP-range condition (a cidr, or an exact string that is an IP address) turns event values
    // into hex digits and compares them by prefix, so it matches values of the other family and values that are no
    // address at all (`10.0.0.0/8` ~ "a00::1", `0.0.0.0/0` ~ 1). Junction matches only addresses of the family.
    name: 'cidr-other-family',
    applies: ({ pattern, event }) => {
      const leaves = leavesOf(event, undefined, []);
      return fieldsOf(pattern, [], []).some((f) =>
        f.list.some((m) => {
          const family = rangeFamily(m);
          return (
            family !== undefined && leaves.some((l) => l.path === f.path && leafFamily(l.leaf) !== family)
          );
        }),
      );
    },
  },
  {
    // event-ruler bug: a wildcard beside equals-ignore-case in one field's list matches every value.
    name: 'wildcard-beside-equals-ignore-case',
    applies: ({ pattern }) =>
      fieldsOf(pattern, [], []).some(
        (f) =>
          f.list.some((m) => operator(m)?.[0] === 'wildcard') &&
          f.list.some((m) => operator(m)?.[0] === 'equals-ignore-case'),
      ),
  },
  {
    // event-ruler bug: an empty anything-but list is rejected with a wrong message (`{"anything-but": []}`) or
    // crashes the rule compiler (`{"anything-but": {"prefix": []}}`). Junction rejects it: empty lists are invalid.
    name: 'empty-anything-but',
    applies: ({ pattern }) =>
      some(pattern, (j) => {
        const o = operator(j);
        if (o?.[0] !== 'anything-but') return false;
        const inner = operator(o[1]);
        return (o[1].k === 'a' && o[1].v.length === 0) || (inner?.[1].k === 'a' && inner[1].v.length === 0);
      }),
  },
  {
    // event-ruler bug: two `$or` branches that both hold `exists: false` share one state and one of them is lost.
    name: 'or-branches-exists-false',
    applies: ({ pattern }) =>
      some(pattern, (j) => {
        if (j.k !== 'o') return false;
        const or = j.e.find(([k]) => k === '$or')?.[1];
        if (or?.k !== 'a') return false;
        const absent = (b: Json) =>
          some(b, (m) => {
            const o = operator(m);
            return o?.[0] === 'exists' && o[1].k === 'f';
          });
        return or.v.filter(absent).length >= 2;
      }),
  },
  {
    // event-ruler bug: equals-ignore-case (and its prefix/suffix/anything-but forms) folds each UTF-16 unit alone,
    // and a lone surrogate becomes "?": a character outside the BMP matches "??" and not itself.
    name: 'astral-ignore-case',
    applies: ({ pattern }) =>
      some(pattern, (j) => {
        if (j.k !== 'o') return false;
        return j.e.some(([k, v]) => IGNORE_CASE.has(k) && strings(v).some((s) => /[\ud800-\udfff]/.test(s)));
      }),
  },
  {
    // event-ruler bug: a string operand of prefix, suffix or wildcard holding `"` can match across the quote
    // event-ruler puts around every string (`{"prefix": "x\""}` ~ "x").
    name: 'quote-in-operand',
    applies: ({ pattern }) =>
      some(pattern, (j) => {
        if (j.k !== 'o') return false;
        return j.e.some(
          ([k, v]) =>
            ['prefix', 'suffix', 'wildcard', 'anything-but', 'equals-ignore-case'].includes(k) &&
            strings(v).some((s) => s.includes('"')),
        );
      }),
  },
  {
    // event-ruler bug: an empty key at the top of the pattern, directly above field lists, is dropped from their
    // path (`{"": {"a": ["x"]}}` names `a`, and matches {"a": "x"} but not {"": {"a": "x"}}). Junction names `.a`.
    name: 'empty-top-key',
    applies: ({ pattern }) =>
      fieldsOf(pattern, [], []).some((f) => f.stack.length === 1 && f.stack[0] === ''),
  },
  {
    // event-ruler bug: a numeric range bounded by the largest double (`[">", 1.7976931348623157e308]`,
    // `["<", -1.7976931348623157e308]`) crashes its compiler (ArrayIndexOutOfBoundsException). Junction accepts it.
    name: 'largest-double-bound',
    applies: ({ pattern }) =>
      some(pattern, (j) => {
        const o = operator(j);
        return o?.[0] === 'numeric' && numbers(o[1]).some((n) => Math.abs(Number(n)) === Number.MAX_VALUE);
      }),
  },
  {
    // event-ruler bug: an exact string in a field's list beside a numeric range and another string or prefix can be
    // lost (`["x", {"numeric": [">", -2.5]}, "y"]` and `["x", {"numeric": [">", -1, "<", 5]}, {"prefix": "y"}]` do
    // not match "x").
    name: 'strings-beside-range',
    applies: ({ pattern }) =>
      fieldsOf(pattern, [], []).some((f) => {
        const stringy = f.list.filter(
          (m) => m.k === 's' || ['exactly', 'prefix'].includes(operator(m)?.[0] ?? ''),
        );
        const range = f.list.some((m) => {
          const o = operator(m);
          return o?.[0] === 'numeric' && !strings(o[1]).includes('=');
        });
        return (
          range && stringy.length >= 2 && stringy.some((m) => m.k === 's' || operator(m)?.[0] === 'exactly')
        );
      }),
  },
  {
    // event-ruler bug: it notes which keys rules use by splitting their paths on dots with Java's String.split,
    // which drops trailing empty strings, so a path ending in an empty key (`{"a.": …}`, `{"a": {"": …}}`) never
    // reaches an event that spells it nested ({"a": {"": …}}), only one that spells it dotted ({"a.": …}).
    name: 'trailing-empty-key',
    applies: ({ pattern }) =>
      fieldsOf(pattern, [], []).some((f) => f.path.length > 1 && f.path.endsWith('.')),
  },
  {
    // Junction's decision (docs/patterns.md, "Dotted keys in events"): when one spelling of a path (nested, dotted,
    // or a repeated key) holds an array, all the spellings together are one array.
    name: 'one-array-per-path',
    applies: ({ event }) => spelledTwiceWithArray(event),
  },
  {
    // JDK-dependent: event-ruler compares a number by value only when Double.toString gives back the same decimal;
    // before JDK 19 it prints some doubles in more digits than needed. Junction uses the shortest form (JDK 19+).
    name: 'jdk-dependent-number',
    applies: ({ jdkNumbers }) => jdkNumbers,
  },
];

/** Whether the event spells some path more than once (dotted keys, repeated keys) with an array among them. */
function spelledTwiceWithArray(event: Json): boolean {
  // Group every value by its full path (keys split on dots), then look for paths reached more than once.
  const byPath = new Map<string, Json[]>();
  const walk = (j: Json, path: string | undefined) => {
    if (j.k === 'o') {
      for (const [key, v] of j.e) {
        const p = path === undefined ? key : `${path}.${key}`;
        const list = byPath.get(p);
        if (list === undefined) byPath.set(p, [v]);
        else list.push(v);
        walk(v, p);
      }
    } else if (j.k === 'a') for (const v of j.v) walk(v, path);
  };
  walk(event, undefined);
  // A path reached by several spellings, one of them (or one of their ancestors' spellings) an array.
  for (const [path, values] of byPath) {
    if (values.length < 2) continue;
    if (values.some((v) => v.k === 'a')) return true;
    // Ancestors: an array on any prefix spelled twice.
    const segments = path.split('.');
    for (let i = 1; i < segments.length; i++) {
      const above = byPath.get(segments.slice(0, i).join('.'));
      if (above?.some((v) => v.k === 'a')) return true;
    }
  }
  return false;
}

/** Every number lexeme in the case. */
export function numberLexemes(c: PatternCase): string[] {
  try {
    return [...numbers(parseJsonTree(c.pattern)), ...numbers(parseJsonTree(c.event))];
  } catch {
    return [];
  }
}

/** The names of the policy entries that apply to a case. */
export function policiesFor(c: PatternCase, jdkNumbers: boolean): string[] {
  let pattern: Json;
  let event: Json;
  try {
    pattern = parseJsonTree(c.pattern);
    event = parseJsonTree(c.event);
  } catch {
    return [];
  }
  return POLICY.filter((p) => p.applies({ pattern, event, jdkNumbers })).map((p) => p.name);
}

/** A case where Junction's matchers disagree with each other, or with event-ruler outside the policy list. */
export interface Mismatch {
  readonly index: number;
  readonly case: PatternCase;
  readonly kind: 'junction-internal' | 'validity' | 'answer' | 'event-rejected';
  readonly junction: JunctionAnswer;
  readonly ruler: RulerAnswer;
}

export interface DifferentialResult {
  readonly seed: number;
  readonly cases: number;
  readonly valid: number;
  readonly matches: number;
  /** Cases not compared with event-ruler, by policy entry. */
  readonly excluded: Readonly<Record<string, number>>;
  readonly mismatches: readonly Mismatch[];
}

/**
 * Runs `count` generated cases of `seed` through both sides, in batches of `batch` pipelined requests. `fresh`
 * starts another event-ruler process, to ask the cases that disagree again (see the `unstable` entry).
 */
export async function runDifferential(
  peer: EventRulerPeer,
  seed: number,
  count: number,
  fresh: () => Promise<EventRulerPeer>,
  batch = 2000,
): Promise<DifferentialResult> {
  const generator = new PatternCaseGenerator(seed);
  const excluded: Record<string, number> = {};
  const mismatches: Mismatch[] = [];
  let valid = 0;
  let matches = 0;
  const comparable = new Map<string, boolean>();
  for (let start = 0; start < count; start += batch) {
    const cases = Array.from({ length: Math.min(batch, count - start) }, () => generator.next());
    const rulers = await peer.checkMany(cases);
    const lexemes = [...new Set(cases.flatMap(numberLexemes))].filter((l) => !comparable.has(l));
    const answers = await peer.comparable(lexemes);
    lexemes.forEach((l, i) => {
      comparable.set(l, answers[i] as boolean);
    });
    const suspects: number[] = [];
    const verdicts: (Mismatch | undefined)[] = cases.map((c, i) => {
      const ruler = rulers[i] as RulerAnswer;
      const junction = junctionAnswer(c);
      if (junction.valid) valid++;
      if (junction.valid && junction.index) matches++;
      if (junction.valid && !(junction.index === junction.reference && junction.index === junction.explain)) {
        return { index: start + i, case: c, kind: 'junction-internal', junction, ruler };
      }
      let kind: Mismatch['kind'] | undefined;
      if (!ruler.valid && ruler.stage === 'event') kind = 'event-rejected';
      else if (ruler.valid !== junction.valid) kind = 'validity';
      else if (ruler.valid && junction.valid && ruler.match !== junction.index) kind = 'answer';
      if (kind === undefined) return undefined;
      const jdk = numberLexemes(c).some((l) => comparable.get(l) !== (comparableValue(l) !== undefined));
      const policies = policiesFor(c, jdk);
      if (policies.length > 0) {
        for (const p of policies) excluded[p] = (excluded[p] ?? 0) + 1;
        return undefined;
      }
      suspects.push(i);
      return { index: start + i, case: c, kind, junction, ruler };
    });
    // event-ruler bug: some answers change from one event-ruler process to another (they depend on the order of
    // hash sets of objects without a hash of their own). A case whose answer changes when asked again, in this
    // process or in a fresh one, is not compared.
    if (suspects.length > 0) {
      const asked = suspects.map((i) => cases[i] as PatternCase);
      const answers: RulerAnswer[][] = [await peer.checkMany(asked)];
      // Two fresh processes, one asked in the reverse order: the state a process has built up changes answers.
      for (const order of ['same', 'reverse'] as const) {
        const other = await fresh();
        try {
          const list = order === 'same' ? asked : [...asked].reverse();
          const got = await other.checkMany(list);
          answers.push(order === 'same' ? got : got.reverse());
        } finally {
          await other.close();
        }
      }
      suspects.forEach((i, j) => {
        if (answers.some((a) => JSON.stringify(a[j]) !== JSON.stringify(rulers[i]))) {
          excluded.unstable = (excluded.unstable ?? 0) + 1;
          verdicts[i] = undefined;
        }
      });
    }
    for (const v of verdicts) if (v !== undefined) mismatches.push(v);
  }
  return { seed, cases: count, valid, matches, excluded, mismatches };
}
