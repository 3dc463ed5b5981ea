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
