import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JunctionError, toJunctionError } from '../../lib/core/errors.ts';

test('serializes a JunctionError as the API error body with its status', () => {
  const error = new JunctionError('InvalidEvent', 'source is required', { field: 'source' });
  assert.equal(error.status, 400);
  assert.deepEqual(error.toJSON(), {
    error: { code: 'InvalidEvent', message: 'source is required', field: 'source' },
  });
});

test('wraps foreign errors as Internal and keeps JunctionErrors', () => {
  const own = new JunctionError('NotFound', 'x');
  assert.equal(toJunctionError(own), own);
  const wrapped = toJunctionError(new TypeError('boom'));
  assert.equal(wrapped.code, 'Internal');
  assert.equal(wrapped.status, 500);
  assert.equal(wrapped.message, 'boom');
});
