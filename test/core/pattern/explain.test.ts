/** Explain: which field and which condition failed, per branch. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explain } from '../../../lib/core/pattern/index.ts';

describe('explain', () => {
  it('returns an empty explanation when the pattern matches', () => {
    assert.deepEqual(explain({ a: ['x'] }, { a: 'x' }), { matches: true, explanation: [] });
  });

  it('names the failing field, the condition and the value the event holds', () => {
    const result = explain(
      { type: ['order'], data: { total: [{ numeric: ['>', 100] }] } },
      { type: 'order', data: { total: 50 } },
    );
    assert.equal(result.matches, false);
    assert.deepEqual(result.explanation, [
      {
        path: 'data.total',
        condition: 'numeric [">", 100]',
        actual: 50,
        reason: 'no value at this path satisfies the condition',
      },
    ]);
  });

  it('reports missing fields and fields that must not exist', () => {
    const result = explain({ a: [{ prefix: 'x' }], b: [{ exists: false }] }, { b: 1 });
    assert.deepEqual(
      result.explanation.map((e) => [e.path, e.condition, e.reason.split(' ').slice(0, 4).join(' ')]),
      [
        ['a', 'prefix "x"', 'the field is missing'],
        ['b', 'exists false', 'the field is present'],
      ],
    );
  });

  it('explains each $or branch', () => {
    const result = explain({ $or: [{ a: ['1'] }, { b: [{ suffix: 'z' }] }] }, { a: '2', b: 'y' });
    assert.deepEqual(
      result.explanation.map((e) => [e.branch, e.path]),
      [
        [0, 'a'],
        [1, 'b'],
      ],
    );
  });

  it('says when fields match only in different array elements', () => {
    const result = explain({ d: { a: ['1'], b: ['2'] } }, { d: [{ a: '1' }, { b: '2' }] });
    assert.equal(result.matches, false);
    assert.match(result.explanation[0]?.reason ?? '', /array-consistent/);
  });

  it('works on any JSON object, not only CloudEvents', () => {
    const result = explain({ user: { roles: ['admin'] } }, { user: { roles: ['dev', 'ops'] } });
    assert.deepEqual(result.explanation[0]?.actual, ['dev', 'ops']);
  });
});
