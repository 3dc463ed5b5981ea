/** Number lexemes: comparability and the number-preserving JSON parser. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  comparableValue,
  JsonNumber,
  parseJsonPreservingNumbers,
  printsBack,
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

describe('printsBack', () => {
  it('answers String(Number(lexeme)) === lexeme for every JSON number, printing only where it must', () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));
    // JSON number lexemes: integers, decimals with up to 20 fraction digits (trailing zeros too), leading zeros
    // after the point, exponents; and the shortest and fixed forms of doubles of every magnitude.
    const lexeme = fc.oneof(
      fc
        .tuple(
          fc.boolean(),
          fc.oneof(
            fc.constant('0'),
            fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 17)).map(([a, b]) => `${a}${b}`),
          ),
          fc.option(digits(1, 20)),
          fc.option(fc.tuple(fc.constantFrom('e', 'E', 'e+', 'e-', 'E-'), digits(1, 3))),
        )
        .map(
          ([minus, int, frac, exp]) =>
            `${minus ? '-' : ''}${int}${frac === null ? '' : `.${frac}`}${exp === null ? '' : `${exp[0]}${exp[1]}`}`,
        ),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => String(d)),
      fc
        .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 20 }))
        .map(([d, f]) => d.toFixed(f)),
    );
    fc.assert(
      fc.property(lexeme, (text) => {
        const value = Number(text);
        assert.equal(printsBack(text, value), String(value) === text, text);
      }),
      { numRuns: 20000, seed: 20261205 },
    );
    for (const text of [
      '19.99',
      '-0.5',
      '0.000001',
      '0.0000005',
      '1.50',
      '-0',
      '0.1',
      '123456789012.345',
      '1234567890123.456',
      '5e-7',
      '0.1e1',
      '-122.47628352090716',
    ]) {
      assert.equal(printsBack(text, Number(text)), String(Number(text)) === text, text);
    }
  });
});
