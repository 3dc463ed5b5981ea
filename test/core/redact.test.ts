/** Redaction of HTTP target header values in rule reads, and keeping stored values on a PUT of the marker. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REDACTED, redactRule, restoreRedacted } from '../../lib/core/redact.ts';
import { validateRule } from '../../lib/core/rule.ts';

const stored = validateRule(
  'r',
  {
    pattern: { type: ['t'] },
    targets: [
      {
        id: 'a',
        type: 'http',
        url: 'https://a.example/x',
        headers: { Authorization: 'Bearer one', 'X-K': 'k' },
      },
      { id: 'f', type: 'function', function: 'fn' },
    ],
  },
  0,
);

describe('redactRule', () => {
  it('replaces every header value with *** and leaves the stored rule alone', () => {
    const shown = redactRule(stored);
    assert.deepEqual((shown.targets[0] as { headers: unknown }).headers, {
      Authorization: REDACTED,
      'X-K': REDACTED,
    });
    assert.equal(JSON.stringify(shown).includes('Bearer one'), false);
    assert.deepEqual((stored.targets[0] as { headers: unknown }).headers, {
      Authorization: 'Bearer one',
      'X-K': 'k',
    });
    assert.equal(shown.targets[1], stored.targets[1]);
  });

  it('answers a rule without headers as it is', () => {
    const plain = validateRule('p', { pattern: { type: ['t'] }, targets: [] }, 0);
    assert.equal(redactRule(plain), plain);
  });
});

describe('restoreRedacted', () => {
  it('keeps the stored value of a header sent as *** (by target id, name case-insensitively), and new values as sent', () => {
    const body = {
      pattern: { type: ['t'] },
      targets: [
        {
          id: 'a',
          type: 'http',
          url: 'https://a.example/x',
          headers: { authorization: '***', 'X-K': 'new' },
        },
      ],
    };
    const restored = restoreRedacted(body, stored) as typeof body;
    assert.deepEqual(restored.targets[0]?.headers, { authorization: 'Bearer one', 'X-K': 'new' });
    assert.equal(body.targets[0]?.headers.authorization, '***', 'the input is not changed');
  });

  it('refuses *** with nothing stored to keep, naming the field', () => {
    const body = {
      pattern: { type: ['t'] },
      targets: [{ id: 'other', type: 'http', url: 'https://a.example/x', headers: { Authorization: '***' } }],
    };
    assert.throws(() => restoreRedacted(body, stored), {
      code: 'InvalidRule',
      field: 'targets[0].headers.Authorization',
    });
    assert.throws(() => restoreRedacted(body, undefined), { code: 'InvalidRule' });
  });

  it('passes anything else through for validation to judge', () => {
    for (const body of [null, 'x', { targets: 'no' }, { targets: [1, { headers: 'h' }] }])
      assert.equal(restoreRedacted(body, stored), body);
  });
});
