/** The built-in CESQL functions: resolution by arity, Unicode-aware strings, and their error values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtInFunctions, resolveFunction } from '../../../lib/core/cesql/functions.ts';
import { evaluateCesql } from '../../../lib/core/cesql/index.ts';

const run = (expression: string) => {
  const { value, errors } = evaluateCesql(expression, {
    id: '1',
    source: 's',
    type: 't',
    specversion: '1.0',
    n: 3,
  });
  return { value, errors: errors.map((e) => e.kind) };
};

test('resolves a fixed arity before a variadic overload and nothing below the minimum', () => {
  assert.equal(resolveFunction(builtInFunctions, 'SUBSTRING', 3)?.parameters.length, 3);
  assert.equal(resolveFunction(builtInFunctions, 'CONCAT_WS', 4)?.name, 'CONCAT_WS');
  assert.equal(resolveFunction(builtInFunctions, 'CONCAT_WS', 0), undefined);
  assert.equal(resolveFunction(builtInFunctions, 'NOPE', 1), undefined);
});

test('answers a missing function or arity with false and a missingFunction error', () => {
  assert.deepEqual(run('NOPE(1)'), { value: false, errors: ['missingFunction'] });
  assert.deepEqual(run("LOWER('a', 'b')"), { value: false, errors: ['missingFunction'] });
});

test('counts and cuts strings by code point', () => {
  assert.deepEqual(run("LENGTH('héllo😀')"), { value: 6, errors: [] });
  assert.deepEqual(run("LEFT('😀ab', 1)"), { value: '😀', errors: [] });
  assert.deepEqual(run("RIGHT('ab😀', 1)"), { value: '😀', errors: [] });
  assert.deepEqual(run("SUBSTRING('a😀bc', 2, 2)"), { value: '😀b', errors: [] });
});

test('casts arguments to the parameter types', () => {
  assert.deepEqual(run('CONCAT(1, TRUE, n)'), { value: '1true3', errors: [] });
  assert.deepEqual(run("ABS('-5')"), { value: 5, errors: [] });
  assert.deepEqual(run("LEFT('abc', 'x')"), { value: '', errors: ['cast'] });
});

test('returns the zero value of its type when an argument fails', () => {
  assert.deepEqual(run('LENGTH(missing)'), { value: 0, errors: ['missingAttribute'] });
  assert.deepEqual(run('UPPER(missing)'), { value: '', errors: ['missingAttribute'] });
  assert.deepEqual(run('BOOL(1 / 0)'), { value: false, errors: ['math'] });
});

test('trims Unicode whitespace and changes case', () => {
  assert.deepEqual(run("TRIM('\u00a0\u2003 x \u3000')"), { value: 'x', errors: [] });
  assert.deepEqual(run("UPPER('straße')"), { value: 'STRASSE', errors: [] });
});

test('reports SUBSTRING with a negative length as a function error', () => {
  assert.deepEqual(run("SUBSTRING('abc', 1, -1)"), { value: '', errors: ['functionEvaluation'] });
});

test('casts explicitly with INT, BOOL and STRING', () => {
  assert.deepEqual(run("INT('+42')"), { value: 42, errors: [] });
  assert.deepEqual(run("INT('2147483648')"), { value: 0, errors: ['cast'] });
  assert.deepEqual(run("INT(' 1')"), { value: 0, errors: ['cast'] });
  assert.deepEqual(run("BOOL('TrUe')"), { value: true, errors: [] });
  assert.deepEqual(run('STRING(-0)'), { value: '0', errors: [] });
});
