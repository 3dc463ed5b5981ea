/** The CESQL lexer: tokens with offsets, string escapes, and errors that name the position. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenize } from '../../../lib/core/cesql/lexer.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

test('splits words, strings and symbols and records their offsets', () => {
  const tokens = tokenize("a<=10 AND b<>'x'");
  assert.deepEqual(
    tokens.map((t) => [t.type, t.value, t.offset]),
    [
      ['word', 'A', 0],
      ['symbol', '<=', 1],
      ['word', '10', 3],
      ['word', 'AND', 6],
      ['word', 'B', 10],
      ['symbol', '<>', 11],
      ['string', 'x', 13],
      ['end', '', 16],
    ],
  );
});

test('keeps the case of the text while upper-casing the value of words', () => {
  const [word] = tokenize('myExt');
  assert.equal(word?.text, 'myExt');
  assert.equal(word?.value, 'MYEXT');
});

test('unescapes the quote, a backslash and a doubled quote, and keeps other backslashes', () => {
  assert.equal(tokenize("'a\\'b'")[0]?.value, "a'b");
  assert.equal(tokenize('"a\\"b"')[0]?.value, 'a"b');
  assert.equal(tokenize("'it''s'")[0]?.value, "it's");
  assert.equal(tokenize("'a\\\\'")[0]?.value, 'a\\');
  assert.equal(tokenize("'a\\%b'")[0]?.value, 'a\\%b');
  assert.equal(tokenize('\'say "hi"\'')[0]?.value, 'say "hi"');
});

test('rejects an unterminated string, naming where it starts', () => {
  assert.throws(
    () => tokenize("a = 'abc"),
    (error: unknown) =>
      error instanceof JunctionError &&
      error.code === 'InvalidFilter' &&
      /line 1, column 5: unterminated string/.test(error.message) &&
      (error.details?.position as { offset: number } | undefined)?.offset === 4,
  );
});

test('rejects an unknown character with its line and column', () => {
  assert.throws(
    () => tokenize('a = 1\n  AND b ; c'),
    (error: unknown) =>
      error instanceof JunctionError &&
      /line 2, column 9: unexpected character ";"/.test(error.message) &&
      JSON.stringify(error.details?.position) === JSON.stringify({ offset: 14, line: 2, column: 9 }),
  );
});
