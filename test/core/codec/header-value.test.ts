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

test('decodes what it encodes, for any well-formed string', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (text) => {
      const encoded = percentEncode(text);
      assert.match(encoded, /^[\x21-\x7e]*$/);
      assert.equal(decodeHeaderValue(encoded), text);
    }),
  );
});

test('rejects overlong and truncated UTF-8', () => {
  for (const raw of ['%C0%A0', '%E2%82', '%ED%A0%80', '\u00ff'])
    assert.equal(decodeHeaderValue(raw), undefined, raw);
});
