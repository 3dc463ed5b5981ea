import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import { validateRule } from '../../lib/core/rule.ts';

const target = (extra: Record<string, unknown>) => ({
  pattern: { type: ['x'] },
  targets: [{ id: 'web', type: 'http', url: 'https://example.com/in', ...extra }],
});

function refusal(body: unknown): JunctionError {
  try {
    validateRule('r', body, 0);
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    return error;
  }
  assert.fail('the rule was accepted');
}

describe('validateRule: maxConcurrency of http and bus targets', () => {
  it('keeps maxConcurrency when given and leaves it out when not (concurrency is then the cap)', () => {
    const given = validateRule('r', target({ concurrency: 4, maxConcurrency: 64 }), 0).targets[0];
    assert.equal(given?.type === 'http' ? given.maxConcurrency : undefined, 64);
    const absent = validateRule('r', target({}), 0).targets[0];
    assert.equal(absent !== undefined && 'maxConcurrency' in absent, false);
    const bus = validateRule(
      'r',
      {
        pattern: { type: ['x'] },
        targets: [{ id: 'b', type: 'bus', url: 'https://b.example', maxConcurrency: 8 }],
      },
      0,
    );
    assert.equal((bus.targets[0] as { maxConcurrency?: number }).maxConcurrency, 8);
  });

  it('refuses a maxConcurrency that is not an integer from 1 to 1024, naming the field', () => {
    for (const bad of [0, 1025, 2.5, '8', null]) {
      const e = refusal(target({ maxConcurrency: bad }));
      assert.equal(e.code, 'InvalidRule');
      assert.equal(e.field, 'targets[0].maxConcurrency');
    }
  });

  it('refuses a maxConcurrency below the concurrency given beside it', () => {
    const e = refusal(target({ concurrency: 32, maxConcurrency: 8 }));
    assert.equal(e.field, 'targets[0].maxConcurrency');
    assert.match(e.message, /at least targets\[0\]\.concurrency \(32\)/);
  });
});

describe('validateRule: the format of http and function targets', () => {
  it('keeps format "eventbridge" and leaves the default (cloudevents) out', () => {
    const http = validateRule('r', target({ format: 'eventbridge' }), 0).targets[0];
    assert.equal(http?.type === 'http' ? http.format : undefined, 'eventbridge');
    const fn = validateRule(
      'r',
      {
        pattern: { type: ['x'] },
        targets: [{ id: 'f', type: 'function', function: 'echo', format: 'eventbridge' }],
      },
      0,
    ).targets[0];
    assert.equal(fn?.type === 'function' ? fn.format : undefined, 'eventbridge');
    // A target as a read-back shows it (mode filled in) validates again unchanged.
    const again = validateRule('r', { pattern: { type: ['x'] }, targets: [http] }, 0).targets[0];
    assert.deepEqual(again, http);
    for (const body of [target({}), target({ format: 'cloudevents' })]) {
      const plain = validateRule('r', body, 0).targets[0];
      assert.equal(plain !== undefined && 'format' in plain, false);
    }
  });

  it('refuses another format, format eventbridge on kafka and bus targets, and beside mode or batch', () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ format: 'json' }, 'targets[0].format', /"cloudevents", "eventbridge"/],
      [{ format: 'eventbridge', mode: 'structured' }, 'targets[0].mode', /leave mode out/],
      [{ format: 'eventbridge', batch: { maxSize: 2 } }, 'targets[0].batch', /cannot be combined/],
      [{ type: 'bus', format: 'eventbridge' }, 'targets[0].format', /bus targets carry CloudEvents/],
      [{ type: 'kafka', topic: 'orders', format: 'eventbridge' }, 'targets[0].format', /kafka targets/],
    ];
    for (const [extra, field, message] of cases) {
      const e = refusal(target(extra));
      assert.equal(e.code, 'InvalidRule');
      assert.equal(e.field, field, JSON.stringify(extra));
      assert.match(e.message, message);
    }
  });
});
