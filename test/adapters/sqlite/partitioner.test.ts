/** Kafka's default partitioner: murmur2 test vectors from Kafka's own UtilsTest. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, murmur2Ascii, partitionFor } from '../../../lib/adapters/sqlite/partitioner.ts';

const encode = (s: string) => new TextEncoder().encode(s);

test('hashes as Kafka Utils.murmur2 does', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [input, expected] of vectors) assert.equal(murmur2(encode(input)), expected, input);
});

test('maps a key to a partition in range, the same every time', () => {
  for (const key of ['a', 'urn:shop', 'ünïcödé', '']) {
    const p = partitionFor(key, 7);
    assert.ok(p >= 0 && p < 7);
    assert.equal(partitionFor(key, 7), p);
  }
  assert.equal(partitionFor('foobar', 4), (-790332482 & 0x7fffffff) % 4);
});

test('hashes an ASCII string as its bytes, without encoding it, and leaves any other string to the bytes', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['abc', 479470107],
  ];
  for (const [input, expected] of vectors) assert.equal(murmur2Ascii(input), expected, input);
  for (const key of ['ünïcödé', 'urn:\u0080', '\u{1f600}abc', 'abc\u00ff', 'abcd\u0100']) {
    assert.equal(murmur2Ascii(key), undefined, key);
  }
  // Every length's tail, random ASCII (all 128 code units) and random text with code units past it.
  const ascii = (n: number) =>
    String.fromCharCode(...Array.from({ length: n }, () => Math.floor(Math.random() * 128)));
  const wide = (n: number) =>
    String.fromCharCode(...Array.from({ length: n }, () => Math.floor(Math.random() * 0xd800)));
  for (let n = 0; n < 2_000; n++) {
    const key = ascii(n % 67);
    assert.equal(murmur2Ascii(key), murmur2(encode(key)), JSON.stringify(key));
    const other = wide(1 + (n % 40));
    assert.equal(
      partitionFor(other, 1024),
      (murmur2(encode(other)) & 0x7fffffff) % 1024,
      JSON.stringify(other),
    );
    assert.equal(partitionFor(key, 1024), (murmur2(encode(key)) & 0x7fffffff) % 1024);
  }
});
