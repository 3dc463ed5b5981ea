/** The linear array-consistent check, including exists:false, dotted keys and the steps it takes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isJunctionError } from '../../../lib/core/errors.ts';
import { compilePattern } from '../../../lib/core/pattern/compile.ts';
import { explain, matchesPattern, PatternIndex } from '../../../lib/core/pattern/index.ts';
import { MAX_PATH_SEGMENTS } from '../../../lib/core/pattern/limits.ts';
import { matchSteps, satisfies, satisfiesFlat } from '../../../lib/core/pattern/satisfy.ts';
import { deepJson, dottedAndNested } from '../../helpers/adversarial-patterns.ts';

function holds(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern).subPatterns.some((s) => satisfies(s, event));
}

/** Whether the three matchers agree on the answer; returns it. */
function agreed(pattern: unknown, event: unknown): boolean {
  const index = new PatternIndex();
  index.add('r', pattern);
  const viaIndex = index.match(event).length === 1;
  assert.equal(matchesPattern(pattern, event), viaIndex, 'reference and index agree');
  assert.equal(explain(pattern, event).matches, viaIndex, 'explain and index agree');
  assert.equal(holds(pattern, event), viaIndex, 'satisfies and index agree');
  return viaIndex;
}

function stepsOf(run: () => void): number {
  const before = matchSteps();
  run();
  return matchSteps() - before;
}

describe('satisfies', () => {
  it('takes the fields of one pattern from the same array element', () => {
    const pattern = { d: { a: ['1'], b: ['2'] } };
    assert.equal(holds(pattern, { d: [{ a: '1', b: '2' }] }), true);
    assert.equal(holds(pattern, { d: [{ a: '1' }, { b: '2' }] }), false);
    assert.equal(holds(pattern, { d: [[{ a: '1', b: '2' }], [{ a: '3' }]] }), true);
  });

  it('requires an exists:false field to be absent only where the other fields were found', () => {
    const pattern = { d: { a: ['1'], b: [{ exists: false }] } };
    assert.equal(holds(pattern, { d: [{ a: '1' }, { a: '2', b: 3 }] }), true);
    assert.equal(holds(pattern, { d: [{ a: '1', b: 3 }] }), false);
    assert.equal(holds({ b: [{ exists: false }] }, { b: [] }), true);
    assert.equal(holds({ b: [{ exists: false }] }, { b: { c: 1 } }), true);
    assert.equal(holds({ b: [{ exists: false }] }, { b: [null] }), false);
  });

  it('checks exists:false against the fields before it in path order, as event-ruler does', () => {
    // a.x sorts before a.y: it is checked before a.y has chosen an element, and some element holds x.
    assert.equal(agreed({ a: { x: [{ exists: false }], y: ['1'] } }, { a: [{ y: '1' }, { x: 'z' }] }), false);
    assert.equal(agreed({ a: { z: [{ exists: false }], y: ['1'] } }, { a: [{ y: '1' }, { z: 'z' }] }), true);
  });

  it('reads a scalar element of an array as in no element of it', () => {
    assert.equal(agreed({ a: ['x'], 'a.b': ['y'] }, { a: ['x', { b: 'y' }] }), true);
    assert.equal(agreed({ a: ['x'], 'a.b': ['y'] }, { a: [{ b: 'y' }, ['x']] }), false);
  });

  it('stays linear when a field ending on arrays of scalars is tried inside nested arrays', () => {
    const pattern = { a: ['x'], 'a.f': [{ exists: false }] };
    const nested = (depth: number) => {
      let v: unknown = ['x', { f: 1 }];
      for (let i = 0; i < depth; i++) v = ['x', { f: 1 }, v];
      return { a: v };
    };
    const steps = [14, 28, 56].map((depth) =>
      stepsOf(() => assert.equal(agreed(pattern, nested(depth)), false)),
    );
    // Twice the depth, about twice the steps (not the square, not 2^depth).
    assert.ok((steps[1] as number) < 3 * (steps[0] as number), `${steps}`);
    assert.ok((steps[2] as number) < 3 * (steps[1] as number), `${steps}`);
    assert.equal(agreed(pattern, { a: ['x', { f: 1 }, ['x']] }), true);
  });

  it('reaches fields through dotted event keys', () => {
    assert.equal(holds({ a: { b: { c: ['x'] } } }, { 'a.b': { c: 'x' } }), true);
    assert.equal(holds({ a: { b: ['x'] } }, { a: { b: 'y' }, 'a.b': 'x' }), true);
    assert.equal(holds({ a: { b: [{ exists: false }] } }, { a: {}, 'a.b': 1 }), false);
  });

  it('merges the spellings of a path: objects key by key, values side by side', () => {
    assert.equal(agreed({ a: { x: ['1'], y: ['2'] } }, { a: { x: '1' }, 'a.y': '2' }), true);
    assert.equal(agreed({ a: ['1'], 'a.b': ['2'] }, { a: '1', 'a.b': '2' }), true);
    assert.equal(agreed({ a: { b: ['2'] } }, { a: { b: '1' }, 'a.b': '2', 'a.b.c': 3 }), true);
    assert.equal(agreed({ a: { b: [{ exists: false }] } }, { 'a.b': { c: 1 } }), true);
  });

  it('matches the spellings of a path that hold an array as one array', () => {
    // One spelling's array and another spelling's value: elements of one array, so fields take one of them.
    assert.equal(agreed({ a: { b: ['3'] } }, { a: { b: ['1', '2'] }, 'a.b': '3' }), true);
    assert.equal(agreed({ a: { x: ['1'], y: ['2'] } }, { a: [{ x: '1' }], 'a.y': '2' }), false);
    assert.equal(agreed({ a: { x: ['1'], y: ['2'] } }, { a: [{ x: '1' }], 'a.x': '9', 'a.y': '2' }), false);
    assert.equal(agreed({ a: { x: ['1'], y: ['2'] } }, { a: [{ x: '1', y: '2' }], 'a.y': '3' }), true);
    assert.equal(agreed({ a: { x: ['1'], y: ['2'] } }, { 'a.x': ['0', '1'], a: { y: ['2'] } }), true);
  });

  it('ignores event values at paths longer than any pattern may name', () => {
    const long = Array.from({ length: MAX_PATH_SEGMENTS }, (_, i) => `s${i}`);
    const event = { [long.join('.')]: 'x', [`${long.join('.')}.t`]: 'y' };
    assert.equal(agreed({ [long.join('.')]: ['x'] }, event), true);
    assert.equal(agreed({ [long.slice(0, -1).join('.')]: { s255: [{ exists: true }] } }, event), true);
    assert.throws(
      () => compilePattern({ [`${long.join('.')}.t`]: ['y'] }),
      (e: unknown) =>
        isJunctionError(e) && e.code === 'InvalidPattern' && /at most 256 segments/.test(e.message),
    );
  });

  it('refuses an event nested deeper than 64 levels with InvalidRequest naming the limit', () => {
    const sub = compilePattern({ a: ['x'] }).subPatterns[0];
    assert.ok(sub);
    for (const kind of ['object', 'array'] as const) {
      assert.throws(
        () => satisfies(sub, { a: deepJson(20_000, kind) }),
        (e: unknown) =>
          isJunctionError(e) &&
          e.code === 'InvalidRequest' &&
          e.field === 'event' &&
          /64 levels/.test(e.message),
      );
    }
    assert.equal(satisfies(sub, { a: 'x', b: deepJson(63) }), true);
  });
});

describe('a path spelled both nested and dotted (issue #12)', () => {
  for (const fields of [20, 40, 64]) {
    it(`decides a ${fields}-field rule in steps linear in the fields, with all matchers agreeing`, () => {
      const { pattern, event } = dottedAndNested(fields);
      const index = new PatternIndex();
      index.add('r', pattern);
      const steps = stepsOf(() => {
        assert.deepEqual(index.match(event), []);
        assert.equal(explain(pattern, event).matches, false);
      });
      // Each field costs a handful of steps (normalize the key, merge the spellings, check the leaf) per matcher.
      assert.ok(steps > 0 && steps <= 24 * fields + 64, `${steps} steps for ${fields} fields`);
      const hit = dottedAndNested(fields, false);
      assert.equal(agreed(hit.pattern, hit.event), true);
      assert.equal(agreed(pattern, event), false);
    });
  }
});

describe('satisfiesFlat', () => {
  it('agrees with satisfies on events without arrays or dotted keys', () => {
    const sub = compilePattern({ a: { b: ['x'] }, c: [{ exists: false }] }).subPatterns[0];
    assert.ok(sub);
    for (const event of [{ a: { b: 'x' } }, { a: { b: 'x' }, c: 1 }, { a: 'x' }, { a: { b: { x: 1 } } }]) {
      assert.equal(satisfiesFlat(sub, event), satisfies(sub, event), JSON.stringify(event));
    }
  });
});
