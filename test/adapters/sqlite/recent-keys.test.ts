/** The dedup keys of short windows held in memory: how long a key stays, and what a key is made of. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { keyOf, RecentKeys } from '../../../lib/adapters/sqlite/recent-keys.ts';

test('keeps a key at least its span and at most two, in two generations rotated by time', () => {
  const keys = new RecentKeys(100);
  assert.equal(keys.cover(1_000), true);
  assert.equal(keys.cover(500), false, 'a shorter window keeps the span');
  keys.set('s', 'a', 1, 0);
  keys.set('s', 'b', 2, 999);
  assert.equal(keys.get('s', 'a'), 1);
  keys.set('s', 'c', 3, 1_000); // rotates: a and b move to the older generation
  assert.deepEqual([keys.get('s', 'a'), keys.get('s', 'b'), keys.size], [1, 2, 3]);
  keys.set('s', 'b', 4, 1_500); // set again: b moves to the newer generation
  keys.set('s', 'd', 5, 2_000); // rotates: a goes (2 spans old), c and b stay
  assert.deepEqual(
    ['a', 'b', 'c', 'd'].map((id) => keys.get('s', id)),
    [undefined, 4, 3, 5],
  );
  assert.equal(keys.size, 3);
  keys.clear();
  assert.equal(keys.get('s', 'd'), undefined);
});

test('tells sources and ids apart however they split one text', () => {
  assert.notEqual(keyOf('ab', 'c'), keyOf('a', 'bc'));
  assert.notEqual(keyOf('1:a', 'b'), keyOf('1', ':ab'));
  const keys = new RecentKeys(10);
  keys.cover(1_000);
  keys.set('ab', 'c', 1, 0);
  assert.equal(keys.get('a', 'bc'), undefined);
  assert.equal(keys.get('ab', 'c'), 1);
});

test('makes a key of its own text, not a slice that keeps the request it came from alive', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const keys = new RecentKeys(10_000);
  keys.cover(60_000);
  gc();
  const before = process.memoryUsage().heapUsed;
  // 1,000 ids, each sliced from a request text of its own of 100 KB (100 MB kept, were the slices kept).
  for (let i = 0; i < 1_000; i += 1) {
    const body = `{"id":"${String(i).padStart(36, '0')}","data":"${'y'.repeat(100_000)}${i}"}`;
    const id = body.slice(7, 43);
    keys.set('/s', id, i, 0);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  assert.equal(keys.get('/s', `${'0'.repeat(33)}999`), 999);
  assert.ok(grown < 10_000_000, `1,000 keys took ${grown} bytes`);
  assert.equal(keyOf('/s', 'x'.repeat(36)), `2:/s${'x'.repeat(36)}`);
});
