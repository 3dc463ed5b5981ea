/** The in-memory dedup store: remembers keys for their window, by the clock it is given, within a size bound. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryDedupStore } from '../../../lib/adapters/kafka/dedup.ts';

test('answers seen for remembered keys until their window passes', async () => {
  let now = 0;
  const store = createMemoryDedupStore({ clock: { now: () => now } });
  await store.remember(['a', 'b'], 1000);
  assert.deepEqual(await store.seen(['a', 'b', 'c']), [true, true, false]);
  now = 999;
  assert.deepEqual(await store.seen(['a']), [true]);
  now = 1000;
  assert.deepEqual(await store.seen(['a', 'b']), [false, false]);
});

test('restarts a key window when it is remembered again', async () => {
  let now = 0;
  const store = createMemoryDedupStore({ clock: { now: () => now } });
  await store.remember(['a'], 100);
  now = 90;
  await store.remember(['a'], 100);
  now = 150;
  assert.deepEqual(await store.seen(['a']), [true]);
});

test('forgets the oldest keys beyond maxKeys', async () => {
  const store = createMemoryDedupStore({ clock: { now: () => 0 }, maxKeys: 2 });
  await store.remember(['a'], 1000);
  await store.remember(['b'], 1000);
  await store.remember(['c'], 1000);
  assert.deepEqual(await store.seen(['a', 'b', 'c']), [false, true, true]);
});
