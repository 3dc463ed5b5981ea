/** The shared test suite every AggregateStore implementation passes: call `aggregateStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import type { AggregateCommit, AggregatePartition, AggregateStore } from '../../lib/ports.ts';

export interface AggregateStoreHarness {
  readonly store: AggregateStore;
  /** Opens the same data again (a restart); omit where impossible. */
  readonly reopen?: () => Promise<AggregateStore>;
  readonly cleanup: () => Promise<void>;
}

function commit(
  partition: number,
  expectedFence: number,
  fence: number,
  more: Partial<AggregateCommit> = {},
): AggregateCommit {
  return { partition, expectedFence, fence, dropRules: [], rules: [], windows: [], ...more };
}

function sorted(p: AggregatePartition): AggregatePartition {
  return {
    fence: p.fence,
    rules: [...p.rules].sort((a, b) => a.rule.localeCompare(b.rule)),
    windows: [...p.windows].sort(
      (a, b) => a.rule.localeCompare(b.rule) || a.key.localeCompare(b.key) || a.start - b.start,
    ),
  };
}

export function aggregateStoreSuite(name: string, open: () => Promise<AggregateStoreHarness>): void {
  describe(name, () => {
    test('an unknown partition is empty at fence 0', async () => {
      const { store, cleanup } = await open();
      try {
        assert.deepEqual(await store.load(3), { fence: 0, rules: [], windows: [] });
      } finally {
        await cleanup();
      }
    });

    test('a commit writes windows, rule state and the fence; null removes a window; partitions stay apart', async () => {
      const { store, reopen, cleanup } = await open();
      try {
        await store.commit(
          commit(0, 0, 10, {
            rules: [{ rule: 'r', version: 5, state: '{"maxTime":1}' }],
            windows: [
              { rule: 'r', key: 'a', start: 0, state: '{"n":1}' },
              { rule: 'r', key: 'b', start: 0, state: '{"n":2}' },
              { rule: 'r', key: 'a\u0000b ü', start: 60_000, state: '{"n":3}' },
            ],
          }),
        );
        await store.commit(
          commit(0, 10, 25, {
            windows: [
              { rule: 'r', key: 'a', start: 0, state: null },
              { rule: 'r', key: 'b', start: 0, state: '{"n":4}' },
            ],
          }),
        );
        await store.commit(
          commit(1, 0, 7, { windows: [{ rule: 'r', key: 'a', start: 0, state: '{"p":1}' }] }),
        );
        const expected: AggregatePartition = {
          fence: 25,
          rules: [{ rule: 'r', version: 5, state: '{"maxTime":1}' }],
          windows: [
            { rule: 'r', key: 'a\u0000b ü', start: 60_000, state: '{"n":3}' },
            { rule: 'r', key: 'b', start: 0, state: '{"n":4}' },
          ],
        };
        assert.deepEqual(sorted(await store.load(0)), sorted(expected));
        assert.equal((await store.load(1)).fence, 7);
        if (reopen !== undefined) {
          const again = await reopen();
          assert.deepEqual(sorted(await again.load(0)), sorted(expected));
        }
      } finally {
        await cleanup();
      }
    });

    test('a commit on a stale fence is refused (Conflict) and writes nothing', async () => {
      const { store, cleanup } = await open();
      try {
        await store.commit(commit(0, 0, 10, { windows: [{ rule: 'r', key: 'a', start: 0, state: '1' }] }));
        await assert.rejects(
          store.commit(commit(0, 0, 20, { windows: [{ rule: 'r', key: 'z', start: 0, state: '2' }] })),
          (e: unknown) => e instanceof JunctionError && e.code === 'Conflict',
        );
        const p = await store.load(0);
        assert.equal(p.fence, 10);
        assert.deepEqual(
          p.windows.map((w) => w.key),
          ['a'],
        );
      } finally {
        await cleanup();
      }
    });

    test('dropRules forgets a rule on the partition before the commit writes its new state', async () => {
      const { store, cleanup } = await open();
      try {
        await store.commit(
          commit(0, 0, 1, {
            rules: [
              { rule: 'r', version: 1, state: 'old' },
              { rule: 's', version: 1, state: 'keep' },
            ],
            windows: [
              { rule: 'r', key: 'a', start: 0, state: 'old' },
              { rule: 's', key: 'a', start: 0, state: 'keep' },
            ],
          }),
        );
        await store.commit(commit(1, 0, 1, { rules: [{ rule: 'r', version: 1, state: 'other partition' }] }));
        await store.commit(
          commit(0, 1, 2, {
            dropRules: ['r'],
            rules: [{ rule: 'r', version: 2, state: 'new' }],
            windows: [{ rule: 'r', key: 'b', start: 0, state: 'new' }],
          }),
        );
        assert.deepEqual(
          sorted(await store.load(0)),
          sorted({
            fence: 2,
            rules: [
              { rule: 'r', version: 2, state: 'new' },
              { rule: 's', version: 1, state: 'keep' },
            ],
            windows: [
              { rule: 'r', key: 'b', start: 0, state: 'new' },
              { rule: 's', key: 'a', start: 0, state: 'keep' },
            ],
          }),
        );
        assert.deepEqual((await store.load(1)).rules, [{ rule: 'r', version: 1, state: 'other partition' }]);
      } finally {
        await cleanup();
      }
    });
  });
}
