/** Property tests: the compiled index agrees with the reference interpreter on random patterns and events. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { explain, matchesPattern, PatternIndex } from '../../../lib/core/pattern/index.ts';
import { matchSteps } from '../../../lib/core/pattern/satisfy.ts';

const keys = fc.constantFrom('a', 'b', 'c', 'a.b');
const strings = fc.constantFrom('x', 'y', 'xy', 'Xy', 'yx', 'x*y', '10.0.0.7', '10.0.1.7', '', 'ß');
const numbers = fc.constantFrom(0, 1, -1, 1.5, 100, 2.5e-6, 1e21);
const primitive = fc.oneof(strings, numbers, fc.constantFrom(true, false, null));

const eventValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitive,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(keys, tie('value'), { maxKeys: 3 }),
  ),
})).value;

const event = fc.dictionary(keys, eventValue, { maxKeys: 4 });

const numericRange = fc
  .tuple(numbers, numbers, fc.constantFrom('>', '>='), fc.constantFrom('<', '<='))
  .filter(([a, b]) => a !== b)
  .map(([a, b, lo, hi]) => ({ numeric: [lo, Math.min(a, b), hi, Math.max(a, b)] }));

const matcher: fc.Arbitrary<unknown> = fc.oneof(
  primitive,
  strings.map((s) => ({ prefix: s })),
  strings.map((s) => ({ suffix: s })),
  strings.map((s) => ({ 'equals-ignore-case': s })),
  strings.map((s) => ({ prefix: { 'equals-ignore-case': s } })),
  strings.map((s) => ({ suffix: { 'equals-ignore-case': s } })),
  fc.constantFrom('x*', '*y', '*', 'x*y', '*x*', '1*7').map((w) => ({ wildcard: w })),
  strings.map((s) => ({ 'anything-but': s })),
  fc.array(numbers, { minLength: 1, maxLength: 3 }).map((n) => ({ 'anything-but': n })),
  fc.constantFrom('x', 'y', '10').map((p) => ({ 'anything-but': { prefix: p } })),
  fc.constantFrom('x', 'y').map((p) => ({ 'anything-but': { suffix: p } })),
  fc.constantFrom('x', 'XY').map((p) => ({ 'anything-but': { 'equals-ignore-case': [p] } })),
  fc.constantFrom('x*', '*y').map((p) => ({ 'anything-but': { wildcard: p } })),
  numbers.map((n) => ({ numeric: ['=', n] })),
  numbers.map((n) => ({ numeric: ['<', n] })),
  numbers.map((n) => ({ numeric: ['>=', n] })),
  numericRange,
  fc.boolean().map((b) => ({ exists: b })),
  fc.constantFrom('10.0.0.0/24', '10.0.0.0/8').map((c) => ({ cidr: c })),
);

const patternBody: fc.Arbitrary<Record<string, unknown>> = fc.letrec((tie) => ({
  object: fc.dictionary(
    keys,
    fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.array(matcher, { minLength: 1, maxLength: 3 }),
      tie('object'),
    ),
    { minKeys: 1, maxKeys: 3 },
  ),
})).object as fc.Arbitrary<Record<string, unknown>>;

const pattern = fc.oneof(
  { weight: 4, arbitrary: patternBody },
  {
    weight: 1,
    arbitrary: fc
      .tuple(patternBody, fc.array(patternBody, { minLength: 2, maxLength: 3 }))
      .map(([base, branches]) => ({ ...base, $or: branches })),
  },
);

function validPatterns(list: unknown[]): unknown[] {
  return list.filter((p) => {
    try {
      matchesPattern(p, {});
      return true;
    } catch {
      return false;
    }
  });
}

describe('compiled index versus reference interpreter', () => {
  it('returns exactly the patterns the reference interpreter matches', () => {
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 6 }),
        fc.array(event, { minLength: 1, maxLength: 4 }),
        (raw, events) => {
          const patterns = validPatterns(raw);
          const index = new PatternIndex();
          patterns.forEach((p, i) => {
            index.add(String(i), p);
          });
          for (const e of events) {
            const expected = patterns.flatMap((p, i) => (matchesPattern(p, e) ? [String(i)] : []));
            assert.deepEqual(index.match(e).sort(), expected.sort(), JSON.stringify({ e, patterns }));
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  it('explains a mismatch exactly when the reference interpreter says there is none', () => {
    fc.assert(
      fc.property(pattern, event, (p, e) => {
        if (validPatterns([p]).length === 0) return;
        const result = explain(p, e);
        assert.equal(result.matches, matchesPattern(p, e));
        assert.equal(result.explanation.length === 0, result.matches);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps agreeing after patterns are removed and replaced', () => {
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 2, maxLength: 6 }),
        fc.array(pattern, { minLength: 1, maxLength: 3 }),
        fc.array(event, { minLength: 1, maxLength: 3 }),
        (raw, replacements, events) => {
          const patterns = validPatterns(raw);
          const others = validPatterns(replacements);
          const index = new PatternIndex();
          const current = new Map<string, unknown>();
          patterns.forEach((p, i) => {
            index.add(String(i), p);
            current.set(String(i), p);
          });
          for (const [i, p] of others.entries()) {
            index.add(String(i), p);
            current.set(String(i), p);
          }
          for (const id of [...current.keys()].filter((_, i) => i % 2 === 1)) {
            assert.equal(index.remove(id), true);
            current.delete(id);
          }
          assert.equal(index.size, current.size);
          for (const e of events) {
            const expected = [...current].flatMap(([id, p]) => (matchesPattern(p, e) ? [id] : []));
            assert.deepEqual(index.match(e).sort(), expected.sort());
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** A path of 1–4 segments spelled as nested objects, one dotted key, or a mix, at random. */
const spelledEvent = fc
  .array(
    fc.record({
      segments: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 4 }),
      split: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      value: fc.constantFrom('x', 'y', 1),
      inArray: fc.boolean(),
    }),
    // size 'max': fast-check's default size keeps arrays to ~10 items whatever maxLength says, and then the
    // constant part of the bound below dwarfs the event's part, so a cost quadratic in the event could pass.
    { minLength: 1, maxLength: 80, size: 'max' },
  )
  .map((paths) => {
    const event: Record<string, unknown> = {};
    for (const p of paths) {
      // Keys: segments joined by dots where `split` says no, nested where it says yes.
      const keys: string[] = [p.segments[0] as string];
      for (let i = 1; i < p.segments.length; i++) {
        if (p.split[i - 1]) keys.push(p.segments[i] as string);
        else keys[keys.length - 1] += `.${p.segments[i]}`;
      }
      let at = event;
      for (const key of keys.slice(0, -1)) {
        const next = at[key];
        at[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {};
        at = at[key] as Record<string, unknown>;
      }
      at[keys[keys.length - 1] as string] = p.inArray ? [p.value, 'z'] : p.value;
    }
    return event;
  });

function sizeOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 1;
  const items = Array.isArray(value) ? value : Object.values(value);
  return 1 + items.reduce((n: number, v) => n + sizeOf(v), 0);
}

describe('matching cost', () => {
  it('takes steps linear in the event and the pattern, however the paths are spelled', () => {
    const fields = ['a', 'b', 'c'].flatMap((s) => [`${s}`, `a.${s}`, `a.b.${s}`, `a.b.c.${s}`, `b.a.${s}`]);
    fc.assert(
      fc.property(spelledEvent, fc.subarray(fields, { minLength: 1 }), (event, chosen) => {
        const pattern = Object.fromEntries(chosen.map((f) => [f, ['x', 1]]));
        const index = new PatternIndex();
        index.add('r', pattern);
        const before = matchSteps();
        const matched = index.match(event).length === 1;
        const result = explain(pattern, event);
        const steps = matchSteps() - before;
        assert.equal(result.matches, matched);
        assert.equal(matchesPattern(pattern, event), matched);
        // normalize visits each value once and each merge once; each field's walk is at most its segments deep.
        const bound = 2 * (4 * sizeOf(event) + 8 * chosen.length * 5);
        assert.ok(steps <= bound, `${steps} steps > ${bound} for ${JSON.stringify({ event, pattern })}`);
      }),
      { numRuns: 300 },
    );
  });
});
