/** The SQLite DeadLetters store against the shared suite, plus its prune. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deadLettersSuite, makeDeadLetter } from '../../ports/dead-letters.suite.ts';
import { openHarness } from './harness.ts';

deadLettersSuite('SqliteDeadLetters', async () => {
  const h = openHarness();
  return { deadLetters: h.stores.deadLetters, cleanup: h.cleanup };
});

test('prunes dead letters older than a time', async () => {
  const h = openHarness();
  try {
    const { deadLetters } = h.stores;
    await deadLetters.add(makeDeadLetter({ at: 100 }));
    await deadLetters.add(makeDeadLetter({ at: 200 }));
    assert.equal(await deadLetters.prune(150), 1);
    assert.deepEqual(
      (await deadLetters.list()).map((l) => l.at),
      [200],
    );
  } finally {
    await h.cleanup();
  }
});
