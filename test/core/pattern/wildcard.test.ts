/** Wildcard parsing and linear matching. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchWildcard, parseWildcard } from '../../../lib/core/pattern/wildcard.ts';

describe('wildcard', () => {
  it('matches stars anywhere without backtracking', () => {
    const w = parseWildcard('a*b*c');
    assert.equal(matchWildcard(w, 'abc'), true);
    assert.equal(matchWildcard(w, 'axxbyyc'), true);
    assert.equal(matchWildcard(w, 'acb'), false);
    assert.equal(matchWildcard(parseWildcard('*'), ''), true);
    assert.equal(matchWildcard(parseWildcard('ab*ba'), 'aba'), false);
  });

  it('reads \\* as a literal star', () => {
    const w = parseWildcard('a\\*b*');
    assert.equal(matchWildcard(w, 'a*bc'), true);
    assert.equal(matchWildcard(w, 'axbc'), false);
  });

  it('rejects a long value that lacks the last piece', () => {
    const w = parseWildcard(`${'*a'.repeat(30)}*b`);
    assert.equal(matchWildcard(w, 'a'.repeat(100_000)), false);
  });
});
