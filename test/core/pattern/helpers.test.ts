/** Number lexemes, IP addresses and wildcards: the building blocks of the matcher. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrRange, ipKey } from '../../../lib/core/pattern/ip.ts';
import {
  comparableValue,
  JsonNumber,
  parseJsonPreservingNumbers,
} from '../../../lib/core/pattern/json-number.ts';
import { matchWildcard, parseWildcard } from '../../../lib/core/pattern/wildcard.ts';

describe('comparableValue', () => {
  it('accepts decimals that a double holds as its shortest form', () => {
    assert.equal(comparableValue('3.0e2'), 300);
    assert.equal(comparableValue('-0'), 0);
    assert.equal(comparableValue('0.1'), 0.1);
    assert.equal(comparableValue('1e23'), 1e23);
  });

  it('refuses numbers out of range or not held exactly', () => {
    assert.equal(comparableValue('9007199254740993'), undefined);
    assert.equal(comparableValue('1E309'), undefined);
    assert.equal(comparableValue('1E-325'), undefined);
    assert.equal(comparableValue('abc'), undefined);
  });
});

describe('parseJsonPreservingNumbers', () => {
  it('keeps lexemes that JSON.parse would lose and plain numbers otherwise', () => {
    const value = parseJsonPreservingNumbers('{"a": 1.50, "b": 2, "c": [true, null, "s\\n"]}') as Record<
      string,
      unknown
    >;
    assert.ok(value.a instanceof JsonNumber);
    assert.equal((value.a as JsonNumber).lexeme, '1.50');
    assert.equal(value.b, 2);
    assert.deepEqual(value.c, [true, null, 's\n']);
  });

  it('keeps the last value of a repeated key, as JSON.parse does', () => {
    assert.deepEqual(parseJsonPreservingNumbers('{"x": 1, "x": 2}'), { x: 2 });
  });

  it('throws a SyntaxError on bad JSON', () => {
    assert.throws(() => parseJsonPreservingNumbers('{"a": [1, 2 3]}'), SyntaxError);
    assert.throws(() => parseJsonPreservingNumbers('{"a": 1} x'), SyntaxError);
  });
});

describe('ip', () => {
  it('reads IPv4, IPv6 and IPv4-mapped IPv6 addresses', () => {
    assert.equal(ipKey('10.0.0.1'), '40a000001');
    assert.equal(ipKey('::ffff:10.0.0.1'), '40a000001');
    assert.equal(ipKey('2001:db8::1'), '620010db8000000000000000000000001');
    assert.equal(ipKey('10.0.0.256'), undefined);
    assert.equal(ipKey('not an ip'), undefined);
  });

  it('computes the range of a CIDR block, masking host bits', () => {
    assert.deepEqual(cidrRange('10.0.0.1/22'), { low: '40a000000', high: '40a0003ff' });
    assert.throws(() => cidrRange('::/128'), /IPv6 mask bits must be < 128/);
  });
});

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
