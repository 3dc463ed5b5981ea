/** Tests of the JS JSON scanner over UTF-8 bytes: it accepts exactly what JSON.parse accepts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  isJson,
  resetOffsets,
  SCAN_NON_FINITE,
  SCAN_TOO_DEEP,
  scanEscaped,
  scanExtra,
  scanFlags,
  scanPlain,
  scanString,
  scanValue,
} from '../../../lib/core/codec/json-scan.ts';
import { INVALID_JSON, mutatedJson, parses, VALID_JSON } from '../../helpers/json-texts.ts';

const enc = new TextEncoder();

const ALPHABET = ' \t\n\r{}[]":,.-+eE0123456789truefalsn\\/u\u0001\u007féabc';
const mutated = mutatedJson(fc.json({ stringUnit: 'binary' }), ALPHABET);
const jsonish = fc.stringMatching(/^[ \t\n{}[\]":,.\-+eE0-9tfnrulsaé\\/]{0,24}$/);

test('accepts exactly what JSON.parse accepts (generated and mutated texts, any Unicode)', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json({ stringUnit: 'binary' }), mutated, jsonish), (text) => {
      assert.equal(isJson(enc.encode(text)), parses(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

test('accepts and rejects the edge cases of RFC 8259', () => {
  const valid = [...VALID_JSON, ' [ ] ', '"é😀"'];
  const invalid = INVALID_JSON;
  for (const text of valid) assert.equal(isJson(enc.encode(text)), true, text);
  for (const text of invalid) assert.equal(isJson(enc.encode(text)), false, text);
});

test('flags nesting deeper than asked, and numbers that overflow a double', () => {
  const deep = enc.encode(`${'['.repeat(65)}${']'.repeat(65)}`);
  assert.equal(scanValue(deep, 0, 64), deep.length);
  assert.equal(scanFlags, SCAN_TOO_DEEP);
  assert.equal(scanValue(deep, 0, 65), deep.length);
  assert.equal(scanFlags, 0);
  const huge = enc.encode('[1e400]');
  assert.equal(scanValue(huge, 0, 64), huge.length);
  assert.equal(scanFlags, SCAN_NON_FINITE);
  assert.equal(scanValue(enc.encode(`[${'9'.repeat(309)}]`), 0, 64) > 0 && scanFlags, SCAN_NON_FINITE);
  assert.equal(scanValue(enc.encode(`[${'9'.repeat(308)}, 1e308]`), 0, 64) > 0 && scanFlags, 0);
});

test('scans nesting far deeper than the JS stack allows', () => {
  const deep = enc.encode(`${'['.repeat(200_000)}${']'.repeat(200_000)}`);
  assert.equal(scanValue(deep, 0, 64), deep.length);
});

test('reports escapes, plain strings and the UTF-16 offset shift of non-ASCII text', () => {
  resetOffsets(0);
  assert.equal(scanString(enc.encode('"plain text"'), 0), 12);
  assert.deepEqual([scanEscaped, scanPlain], [false, true]);
  scanString(enc.encode('"a\\nb"'), 0);
  assert.deepEqual([scanEscaped, scanPlain], [true, false]);
  scanString(enc.encode('"del\u007f"'), 0);
  assert.deepEqual([scanEscaped, scanPlain], [false, false]);
  resetOffsets(0);
  const text = '"é😀x"';
  const bytes = enc.encode(text);
  assert.equal(scanString(bytes, 0), bytes.length);
  assert.equal(bytes.length - scanExtra, text.length);
});
