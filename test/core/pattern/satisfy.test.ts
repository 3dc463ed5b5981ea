/** The linear array-consistent check, including exists:false and dotted keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern } from '../../../lib/core/pattern/compile.ts';
import { satisfies, satisfiesFlat } from '../../../lib/core/pattern/satisfy.ts';

function holds(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern).subPatterns.some((s) => satisfies(s, event));
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

  it('reaches fields through dotted event keys', () => {
    assert.equal(holds({ a: { b: { c: ['x'] } } }, { 'a.b': { c: 'x' } }), true);
    assert.equal(holds({ a: { b: ['x'] } }, { a: { b: 'y' }, 'a.b': 'x' }), true);
    assert.equal(holds({ a: { b: [{ exists: false }] } }, { a: {}, 'a.b': 1 }), false);
  });
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
