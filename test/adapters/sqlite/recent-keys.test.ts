/** The dedup keys of short windows held in memory: how long a key stays, what tells keys apart, what they take. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RecentKeys } from '../../../lib/adapters/sqlite/recent-keys.ts';

test('keeps a key at least its span and at most two, in two generations rotated by time', () => {
  const keys = new RecentKeys(100);
  assert.equal(keys.cover(1_000), true);
  assert.equal(keys.cover(500), false, 'a shorter window keeps the span');
  keys.set('s', 'a', 1, 0);
  keys.set('s', 'b', 2, 999);
  assert.equal(keys.get('s', 'a'), 1);
  keys.set('s', 'c', 3, 1_000); // rotates: a and b move to the older generation
  assert.deepEqual([keys.get('s', 'a'), keys.get('s', 'b'), keys.size], [1, 2, 3]);
  keys.set('s', 'b', 4, 1_500); // set again: the newer generation answers for b
  keys.set('s', 'd', 5, 2_000); // rotates: a goes (2 spans old), c and b stay
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((id) => keys.get('s', id)),
    [undefined, 4, 3, 5],
  );
  keys.clear();
  assert.equal(keys.get('s', 'd'), undefined);
});

test('answers every key it was given, whatever the ids, and none it was not', () => {
  const keys = new RecentKeys(1_000_000);
  keys.cover(60_000);
  const random = Array.from({ length: 100_000 }, () => crypto.randomUUID());
  // Values past 2^32 (positions of long-lived logs) come back whole.
  for (const [i, id] of random.entries()) keys.set('/random', id, 2 ** 40 + i, 0);
  for (let i = 0; i < 100_000; i++) keys.set(`/seq/${i % 8}`, `b-${i}`, i, 0);
  for (const [i, id] of random.entries()) assert.equal(keys.get('/random', id), 2 ** 40 + i);
  for (let i = 0; i < 100_000; i++) assert.equal(keys.get(`/seq/${i % 8}`, `b-${i}`), i);
  assert.equal(keys.size, 200_000);
  let found = 0;
  for (let i = 0; i < 100_000; i++) if (keys.get('/random', crypto.randomUUID()) !== undefined) found++;
  for (let i = 0; i < 100_000; i++) if (keys.get(`/seq/${(i + 1) % 8}`, `b-${i}`) !== undefined) found++;
  assert.equal(found, 0);
  // Where the source ends and the id starts is part of the key.
  keys.set('ab', 'c', 7, 0);
  assert.equal(keys.get('a', 'bc'), undefined);
  assert.equal(keys.get('ab', 'c'), 7);
});

test('takes at most 43 bytes a key, and keeps nothing of the request an id was sliced from', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const keys = new RecentKeys(100_000);
  keys.cover(60_000);
  gc();
  const before = process.memoryUsage();
  // 1,000 ids, each sliced from a request text of its own of 100 KB (100 MB kept, were the slices kept).
  for (let i = 0; i < 1_000; i += 1) {
    const body = `{"id":"${String(i).padStart(36, '0')}","data":"${'y'.repeat(100_000)}${i}"}`;
    keys.set('/s', body.slice(7, 43), i, 0);
  }
  for (let i = 0; i < 64_000; i += 1) keys.set('/t', `id-${i}`, i, 0);
  gc();
  const after = process.memoryUsage();
  const grown = after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers;
  assert.equal(keys.get('/s', `${'0'.repeat(33)}999`), 999);
  // 16-byte slots, three quarters full at most, half as full once a table doubled: 21–43 bytes a key.
  assert.ok(keys.bytes <= 65_000 * 43, `${keys.bytes} bytes of tables for 65,000 keys`);
  assert.ok(grown < 10_000_000, `65,000 keys took ${grown} bytes`);
});
