/** Tests of base64 validation, encoding and decoding. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeBase64, encodeBase64, isBase64 } from '../../../lib/core/codec/base64.ts';

test('encodes as the RFC 4648 test vectors say', () => {
  const vectors: Array<[string, string]> = [
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ];
  for (const [plain, encoded] of vectors) {
    assert.equal(encodeBase64(new TextEncoder().encode(plain)), encoded);
    assert.equal(new TextDecoder().decode(decodeBase64(encoded)), plain);
  }
});

test('round-trips any bytes, padded and unpadded', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 70000 }), (bytes) => {
      const encoded = encodeBase64(bytes);
      assert.equal(encoded, Buffer.from(bytes).toString('base64'));
      assert.ok(isBase64(encoded));
      assert.deepEqual(decodeBase64(encoded), bytes);
      const unpadded = encoded.replace(/=+$/, '');
      assert.ok(isBase64(unpadded));
      assert.deepEqual(decodeBase64(unpadded), bytes);
    }),
    { numRuns: 50 },
  );
});

test('rejects text that is not base64', () => {
  for (const text of ['A', 'AAAAA', 'AA=A', 'A===', 'AA==A', 'AB=', 'A B=', '-_==', 'AA\n==', 'é===']) {
    assert.equal(isBase64(text), false, text);
  }
});
