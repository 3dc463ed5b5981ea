/** Tests of JSON parsing with positioned InvalidJson errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  jsonErrorPosition,
  nestsDeeperThan,
  parseJson,
  parseJsonBytes,
} from '../../../lib/core/codec/json.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

test('reports the position of the first error', () => {
  const cases: Array<[string, number]> = [
    ['{"id": }', 7],
    ['[1,2', 4],
    ['{"a" 1}', 5],
    ['[01]', 2],
    ['{} x', 3],
    ['"abc', 4],
    ['1.e5', 2],
    ['{"a":"\\q"}', 7],
    ['[1 2]', 3],
    ['{"a":1,}', 7],
  ];
  for (const [text, position] of cases) {
    assert.throws(
      () => parseJson(text),
      (error: unknown) =>
        error instanceof JunctionError &&
        error.code === 'InvalidJson' &&
        error.details?.position === position,
      text,
    );
  }
});

test('finds an error wherever a valid document is broken', () => {
  fc.assert(
    fc.property(fc.json(), fc.nat(), (text, at) => {
      const cut = text.slice(0, at % (text.length + 1));
      let valid = true;
      try {
        JSON.parse(cut);
      } catch {
        valid = false;
      }
      if (!valid) assert.ok(jsonErrorPosition(cut) <= cut.length);
    }),
  );
});

test('rejects empty and non-UTF-8 bodies', () => {
  assert.throws(() => parseJsonBytes(new Uint8Array()), /empty/);
  assert.throws(() => parseJsonBytes(Uint8Array.from([0x22, 0xff, 0x22])), /UTF-8/);
  assert.deepEqual(parseJsonBytes(Uint8Array.from([0xef, 0xbb, 0xbf, 0x5b, 0x5d])), []);
});

test('measures nesting depth outside strings, iteratively', () => {
  assert.equal(nestsDeeperThan('1', 0), false);
  assert.equal(nestsDeeperThan('[]', 0), true);
  assert.equal(nestsDeeperThan('[[{"a":[]}]]', 4), false);
  assert.equal(nestsDeeperThan('[[{"a":[]}]]', 3), true);
  assert.equal(nestsDeeperThan('[[],[],[[]]]', 2), true);
  assert.equal(nestsDeeperThan('["[[[[", "\\"]', 1), false);
  assert.equal(nestsDeeperThan('{"a\\"[[":"{{"}', 1), false);
  const deep = 1_000_000;
  assert.equal(nestsDeeperThan(`${'['.repeat(deep)}${']'.repeat(deep)}`, 256), true);
});
