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

test('an error made with stack: false captures no frames; the others do, and the limit is restored', async () => {
  const { SourceQuota } = await import('../../lib/engine/quota.ts');
  const frames = (error: Error) =>
    (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).length;
  const limit = Error.stackTraceLimit;
  assert.equal(frames(new JunctionError('RateLimited', 'slow down', { stack: false })), 0);
  assert.ok(frames(new JunctionError('InvalidEvent', 'source is required')) > 0);
  assert.equal(Error.stackTraceLimit, limit);
  // The quota's 429, made at a flood's rate: no frames, the same body.
  const quota = new SourceQuota({ eventsPerSecond: 1, burst: 1 }, { now: () => 0 });
  const [first, second] = quota.admit(['/a', '/a']);
  assert.equal(first, undefined);
  assert.equal(second?.code, 'RateLimited');
  assert.equal(frames(second as Error), 0);
  assert.deepEqual(second?.toJSON().error.retryAfterSeconds, 1);
  assert.ok(frames(new Error('after')) > 0, 'errors made afterwards have their frames');
});
