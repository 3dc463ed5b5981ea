/** FunctionActivity (lib/engine/function-activity.ts): counts, percentiles and log lines, every list bounded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FunctionActivity } from '../../lib/engine/function-activity.ts';

test('counts invocations and failures by code, with duration percentiles', () => {
  let now = 1_000;
  const activity = new FunctionActivity({}, () => now);
  assert.deepEqual(activity.snapshot('f'), {
    invocations: 0,
    failures: 0,
    failuresByCode: {},
    logs: [],
    droppedLines: 0,
  });
  for (let i = 1; i <= 100; i++) activity.invoked('f', i);
  now = 2_000;
  activity.invoked('f', 500, 'FunctionTimeout');
  activity.invoked('f', 3, 'FunctionError');
  const s = activity.snapshot('f');
  assert.equal(s.invocations, 102);
  assert.equal(s.failures, 2);
  assert.deepEqual(s.failuresByCode, { FunctionTimeout: 1, FunctionError: 1 });
  assert.equal(s.durationMs?.max, 500);
  assert.equal(s.durationMs?.p50, 51, 'the 52nd of 102 sorted: 1..100 with an extra 3 below');
  assert.equal(s.durationMs?.p99, 100);
  assert.equal(s.lastInvokedAt, 2_000);
  assert.equal(activity.snapshot('other').invocations, 0, 'per function');
});

test('keeps the last maxLines lines, each cut to maxLineBytes, and the last maxDurations durations', () => {
  const activity = new FunctionActivity({ maxLines: 3, maxLineBytes: 10, maxDurations: 4 });
  for (let i = 0; i < 5; i++) activity.log('f', `line ${i}`);
  activity.log('f', 'x'.repeat(25));
  const s = activity.snapshot('f');
  assert.deepEqual(
    s.logs.map((l) => l.line),
    ['line 3', 'line 4', `${'x'.repeat(10)}… (15 more characters)`],
  );
  assert.equal(s.droppedLines, 3);
  for (const ms of [1000, 1000, 1000, 1000, 1, 1, 1, 1]) activity.invoked('f', ms);
  assert.equal(activity.snapshot('f').durationMs?.max, 1, 'only the last four durations count');
});

test('forgets the least recently active function past maxFunctions, and a deleted one', () => {
  const activity = new FunctionActivity({ maxFunctions: 2 });
  activity.invoked('a', 1);
  activity.invoked('b', 1);
  activity.invoked('a', 1);
  activity.invoked('c', 1);
  assert.equal(activity.snapshot('b').invocations, 0, 'b was the least recently active');
  assert.equal(activity.snapshot('a').invocations, 2);
  activity.forget('a');
  assert.equal(activity.snapshot('a').invocations, 0);
});
