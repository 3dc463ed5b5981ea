/** Number lexemes: comparability and the number-preserving JSON parser. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  comparableValue,
  JsonNumber,
  parseJsonPreservingNumbers,
} from '../../../lib/core/pattern/json-number.ts';

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
