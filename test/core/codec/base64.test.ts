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

/** encodeBase64's chunk (lib/core/codec/base64.ts): the lengths where a chunk could pad or lose a byte. */
const CHUNK = 3 * 8192;

/**
 * A length that matters: short (every tail of 0–3 bytes), within 4 of one or two chunk boundaries, or anywhere up to
 * 70,000. The bytes are made from a seed inside the property (not shrunk): a failure shrinks only the length, prints
 * `[length, seed]` instead of 70,000 numbers, and each shrinking step costs one encoding.
 */
const length = fc.oneof(
  fc.integer({ min: 0, max: 40 }),
  fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: -4, max: 4 })).map(([k, d]) => k * CHUNK + d),
  fc.integer({ min: 0, max: 70_000 }),
);

/** `length` bytes from a xorshift generator seeded with `seed`. */
function bytesOf(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

test('round-trips any bytes, padded and unpadded, across chunk boundaries', () => {
  fc.assert(
    fc.property(length, fc.noShrink(fc.integer()), (n, seed) => {
      const bytes = bytesOf(n, seed);
      const encoded = encodeBase64(bytes);
      assert.ok(encoded === Buffer.from(bytes).toString('base64'), 'encodes as Buffer does');
      assert.ok(isBase64(encoded));
      assert.ok(Buffer.from(decodeBase64(encoded)).equals(bytes), 'decodes to the bytes');
      const unpadded = encoded.replace(/=+$/, '');
      assert.ok(isBase64(unpadded));
      assert.ok(Buffer.from(decodeBase64(unpadded)).equals(bytes), 'decodes the unpadded text to the bytes');
    }),
    { numRuns: 60 },
  );
});

test('rejects text that is not base64', () => {
  for (const text of ['A', 'AAAAA', 'AA=A', 'A===', 'AA==A', 'AB=', 'A B=', '-_==', 'AA\n==', 'é===']) {
    assert.equal(isBase64(text), false, text);
  }
});
