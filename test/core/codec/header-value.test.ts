/** Tests of ce- header value encoding and decoding (HTTP binding §3.1.3.2). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeHeaderValue, percentEncode } from '../../../lib/core/codec/header-value.ts';

test('encodes the spec example', () => {
  assert.equal(percentEncode('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80');
  assert.equal(percentEncode('"100%"\t'), '%22100%25%22%09');
  assert.equal(percentEncode('plain-ascii_value'), 'plain-ascii_value');
});

/**
 * Well-formed texts, many with what percentEncode must escape: controls, space, DEL, '"', '%' (alone or looking like
 * an escape), Latin-1, 3-byte and astral characters (one last, where a pair ends the text), and the plain edges.
 * fast-check's grapheme texts alone had no control, space, DEL or Latin-1 character in 100 samples.
 */
const edge = fc.constantFrom(
  '\x00',
  '\t',
  '\x1f',
  ' ',
  '!',
  '~',
  '\x7f',
  '"',
  '%',
  '%41',
  '%C3',
  '\\',
  '\x80',
  'é',
  '\xff',
  '€',
  '\uffff',
  '😀',
  '\u{10ffff}',
);
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40, size: 'max' }),
  fc
    .array(fc.oneof(edge, fc.string({ unit: 'grapheme', maxLength: 3 })), { maxLength: 30, size: 'max' })
    .map((parts) => parts.join('')),
);

test('decodes what it encodes, for any well-formed string', () => {
  fc.assert(
    fc.property(text, (value) => {
      const encoded = percentEncode(value);
      assert.match(encoded, /^[\x21-\x7e]*$/);
      assert.equal(decodeHeaderValue(encoded), value);
    }),
    { numRuns: 500 },
  );
});

test('rejects overlong and truncated UTF-8', () => {
  for (const raw of ['%C0%A0', '%E2%82', '%ED%A0%80', '\u00ff'])
    assert.equal(decodeHeaderValue(raw), undefined, raw);
});
