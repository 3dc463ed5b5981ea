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

describe('validateRule: error messages show bad values briefly, whatever they are', () => {
  it('names a BigInt or a cyclic value without throwing anything but InvalidRule', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [10n, cyclic]) {
      assert.throws(
        () => validateRule('r', { pattern: { type: ['x'] }, description: bad, targets: [] }, 0),
        (e: unknown) => (e as { code?: string }).code === 'InvalidRule' && /description/.test(String(e)),
      );
    }
  });

  it('cuts a long bad string before quoting it', () => {
    assert.throws(
      () => validateRule('r', { pattern: { type: ['x'] }, enabled: 'x'.repeat(1_000_000), targets: [] }, 0),
      (e: unknown) => (e as Error).message.length < 400,
    );
  });
});
