/** How one matcher judges one leaf: types, case folding, and the anything-but family. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePattern } from '../../../lib/core/pattern/compile.ts';
import { JsonNumber } from '../../../lib/core/pattern/json-number.ts';
import { describeMatcher, leafOf, matchLeaf } from '../../../lib/core/pattern/leaf.ts';
import type { Matcher } from '../../../lib/core/pattern/model.ts';

function matcher(value: unknown): Matcher {
  const m = compilePattern({ f: [value] }).subPatterns[0]?.fields[0]?.matchers[0];
  assert.ok(m);
  return m;
}

function matches(value: unknown, eventValue: unknown): boolean {
  const leaf = leafOf(eventValue);
  assert.ok(leaf, 'the event value is a leaf');
  return matchLeaf(matcher(value), leaf);
}

describe('leafOf', () => {
  it('makes leaves of primitives only', () => {
    assert.equal(leafOf({})?.kind, undefined);
    assert.equal(leafOf([])?.kind, undefined);
    assert.equal(leafOf(null)?.kind, 'z');
    assert.equal(leafOf(-0)?.value, 0);
    assert.equal(leafOf(new JsonNumber('1.50'))?.text, '1.50');
  });
});

describe('matchLeaf', () => {
  it('keeps strings and numbers apart', () => {
    assert.equal(matches('5', 5), false);
    assert.equal(matches(5, '5'), false);
    assert.equal(matches(5, 5.0), true);
    assert.equal(matches({ prefix: '1' }, 12), false);
  });

  it('matches anything-but against values of every type', () => {
    assert.equal(matches({ 'anything-but': 'x' }, 5), true);
    assert.equal(matches({ 'anything-but': [1, 2] }, '1'), true);
    assert.equal(matches({ 'anything-but': [1, 2] }, 2), false);
    assert.equal(matches({ 'anything-but': { prefix: 'a' } }, true), true);
    assert.equal(matches({ 'anything-but': { prefix: 'a' } }, 'abc'), false);
    assert.equal(matches({ 'anything-but': { 'equals-ignore-case': ['AbC'] } }, 'aBc'), false);
  });

  it('folds case for the equals-ignore-case family', () => {
    assert.equal(matches({ 'equals-ignore-case': 'ÄbC' }, 'äBc'), true);
    assert.equal(matches({ prefix: { 'equals-ignore-case': 'EC' } }, 'ec2'), true);
    assert.equal(matches({ suffix: { 'equals-ignore-case': 'C2' } }, 'ec2'), true);
  });

  it('compares numeric ranges with their bounds', () => {
    assert.equal(matches({ numeric: ['>', 0, '<=', 5] }, 5), true);
    assert.equal(matches({ numeric: ['>', 0, '<=', 5] }, 0), false);
    assert.equal(matches({ numeric: ['>', 0] }, '3'), false);
  });

  it('matches CIDR blocks of the same address family', () => {
    assert.equal(matches({ cidr: '10.0.0.0/8' }, '10.20.30.40'), true);
    assert.equal(matches({ cidr: '10.0.0.0/8' }, '::ffff:a01:101'), true);
    assert.equal(matches({ cidr: '10.0.0.0/8' }, '::ffff:10.1.1.1'), false);
    assert.equal(matches({ cidr: '2001:db8::/32' }, '10.0.0.1'), false);
  });
});

describe('describeMatcher', () => {
  it('writes conditions as they read in a pattern', () => {
    assert.equal(describeMatcher(matcher({ numeric: ['>', 100] })), 'numeric [">", 100]');
    assert.equal(
      describeMatcher(matcher({ prefix: { 'equals-ignore-case': 'a' } })),
      'prefix equals-ignore-case "a"',
    );
    assert.equal(
      describeMatcher(matcher({ 'anything-but': { suffix: ['x', 'y'] } })),
      'anything-but suffix ["x", "y"]',
    );
  });
});
