/** Kafka's default partitioner: murmur2 test vectors from Kafka's own UtilsTest. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { murmur2, partitionFor } from '../../../lib/adapters/sqlite/partitioner.ts';

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

test('partitions every key as murmur2 of its encoded bytes: ASCII or not, of every length, short after long', () => {
  const vectors: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['abc', 479470107],
  ];
  // murmur2 of the first `length` bytes of a longer array, as partitionFor hashes its reused one.
  for (const [input, expected] of vectors) {
    const longer = new Uint8Array(64).fill(0x7a);
    longer.set(encode(input));
    assert.equal(murmur2(longer, input.length), expected, input);
    assert.equal(partitionFor(input, 1024), (expected & 0x7fffffff) % 1024, input);
  }
  const expected = (key: string) => (murmur2(encode(key)) & 0x7fffffff) % 1024;
  for (const key of ['ünïcödé', 'urn:\u0080', '\u{1f600}abc', 'abc\u00ff', 'abcd\u0100', 'x\ud800y']) {
    assert.equal(partitionFor(key, 1024), expected(key), key);
  }
  // Every length's tail, random ASCII (all 128 code units) and random text with code units past it; keys longer
  // than the reused array (1,024 code units), and a short key after each.
  const ascii = (n: number) =>
    String.fromCharCode(...Array.from({ length: n }, () => Math.floor(Math.random() * 128)));
  const wide = (n: number) =>
    String.fromCharCode(...Array.from({ length: n }, () => Math.floor(Math.random() * 0xd800)));
  for (let n = 0; n < 2_000; n++) {
    const key = ascii(n % 67);
    assert.equal(partitionFor(key, 1024), expected(key), JSON.stringify(key));
    const other = wide(1 + (n % 40));
    assert.equal(partitionFor(other, 1024), expected(other), JSON.stringify(other));
  }
  for (const long of [ascii(1_024), ascii(1_025), wide(1_024), wide(3_000)]) {
    assert.equal(partitionFor(long, 1024), expected(long));
    assert.equal(partitionFor('abc', 1024), expected('abc'));
  }
});
