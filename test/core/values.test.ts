import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isObject, show } from '../../lib/core/values.ts';

test('isObject: a JSON object only, not null, an array or a primitive', () => {
  assert.equal(isObject({}), true);
  assert.equal(isObject({ a: 1 }), true);
  for (const v of [null, [], [1], 'x', 1, true, undefined]) assert.equal(isObject(v), false, show(v));
});

test('show: JSON cut at 80 characters; a long string cut before it is quoted; what JSON cannot write', () => {
  assert.equal(show({ a: [1, 'b'] }), '{"a":[1,"b"]}');
  assert.equal(show('x'.repeat(80)).length, 80);
  assert.equal(show('y'.repeat(10_000)), `"${'y'.repeat(76)}...`);
  assert.equal(show(Array.from({ length: 50 }, (_, i) => i)).length, 80);
  assert.equal(show(undefined), 'undefined');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  assert.equal(show(cycle), '[object Object]');
  assert.equal(show(10n), '[object BigInt]');
});
