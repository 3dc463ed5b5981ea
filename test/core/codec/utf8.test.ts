/** Tests of strict UTF-8 decoding and byte counting. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeUtf8, encodeUtf8, encodeUtf8Scratch, utf8Length } from '../../../lib/core/codec/utf8.ts';

test('counts UTF-8 bytes like the encoder, lone surrogates included', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (text) => {
      assert.equal(utf8Length(text), encodeUtf8(text).length);
    }),
  );
});

test('decodes valid UTF-8 and keeps a BOM unless asked to strip it', () => {
  const bytes = Uint8Array.from([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]);
  assert.equal(decodeUtf8(bytes), '\ufeffhé');
  assert.equal(decodeUtf8(bytes, true), 'hé');
});

test('returns undefined for invalid UTF-8, short or long', () => {
  assert.equal(decodeUtf8(Uint8Array.from([0x41, 0xc0, 0xa0])), undefined);
  const long = new Uint8Array(1000).fill(0x41);
  long[999] = 0xff;
  assert.equal(decodeUtf8(long), undefined);
});

test('encodeUtf8Scratch gives the bytes encodeUtf8 gives, small or large, ASCII or not', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
      assert.deepEqual([...encodeUtf8Scratch(text)], [...encodeUtf8(text)]);
    }),
    { numRuns: 500 },
  );
  const large = `é${'x'.repeat(200_000)}€`;
  assert.deepEqual(Buffer.from(encodeUtf8Scratch(large)), Buffer.from(encodeUtf8(large)));
  const huge = 'y'.repeat(2_000_000);
  assert.equal(encodeUtf8Scratch(huge).length, 2_000_000);
});
