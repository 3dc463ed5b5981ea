import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, JunctionError, statusOf, toJunctionError } from '../../lib/core/errors.ts';

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

test('adds details to the API error body without replacing its code, message, field or path', () => {
  const error = new JunctionError('InvalidBatch', 'too many', {
    field: 'batch',
    details: { code: 'Other', message: 'other', field: 'x', path: 'y', count: 1001, limit: 1000 },
  });
  assert.deepEqual(error.toJSON(), {
    error: { code: 'InvalidBatch', message: 'too many', field: 'batch', path: 'y', count: 1001, limit: 1000 },
  });
});

test('knows the status of every code', () => {
  assert.ok(ERROR_CODES.includes('MethodNotAllowed'));
  assert.equal(statusOf('MethodNotAllowed'), 405);
  assert.equal(statusOf('PayloadTooLarge'), 413);
});
