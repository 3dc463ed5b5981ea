/** The shared test suite every CorrelationStore implementation passes: call `correlationStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import type { CorrelationCommit, CorrelationPartition, CorrelationStore } from '../../lib/ports.ts';

export interface CorrelationStoreHarness {
  readonly store: CorrelationStore;
  /** Opens the same data again (a restart); omit where impossible. */
  readonly reopen?: () => Promise<CorrelationStore>;
  readonly cleanup: () => Promise<void>;
}

function commit(
  partition: number,
  expectedFence: number,
  fence: number,
  more: Partial<CorrelationCommit> = {},
): CorrelationCommit {
  return { partition, expectedFence, fence, dropRules: [], rules: [], put: [], remove: [], ...more };
}

function sorted(p: CorrelationPartition): CorrelationPartition {
  return {
    fence: p.fence,
    rules: [...p.rules].sort((a, b) => a.rule.localeCompare(b.rule)),
    pending: [...p.pending].sort((a, b) => a.rule.localeCompare(b.rule) || a.offset - b.offset),
  };
}

export function correlationStoreSuite(name: string, open: () => Promise<CorrelationStoreHarness>): void {
  describe(name, () => {
    test('an unknown partition is empty at fence 0', async () => {
      const { store, cleanup } = await open();
      try {
        assert.deepEqual(await store.load(3), { fence: 0, rules: [], pending: [] });
      } finally {
        await cleanup();
      }
    });

    test('a commit writes pending entries, rule state and the fence; remove deletes; partitions stay apart', async () => {
      const { store, reopen, cleanup } = await open();
      try {
        await store.commit(
          commit(0, 0, 10, {
            rules: [{ rule: 'r', version: 5, state: '{"clock":1}' }],
            put: [
              { rule: 'r', offset: 1, key: 'a', deadline: 100, state: '{"n":1}' },
              { rule: 'r', offset: 4, key: 'b', deadline: 200, state: '{"n":2}' },
              { rule: 'r', offset: 7, key: 'a\u0000b ü', deadline: 300, state: '{"n":3}' },
            ],
          }),
        );
        // Only timers fired: the fence stays.
        await store.commit(
          commit(0, 10, 10, {
            remove: [
              { rule: 'r', offset: 1 },
              { rule: 'r', offset: 99 },
            ],
          }),
        );
        await store.commit(
          commit(0, 10, 25, {
            rules: [{ rule: 'r', version: 5, state: '{"clock":2}' }],
            put: [{ rule: 'r', offset: 4, key: 'b', deadline: 200, state: '{"n":4}' }],
          }),
        );
        await store.commit(
          commit(1, 0, 7, { put: [{ rule: 'r', offset: 1, key: 'a', deadline: 5, state: '{"p":1}' }] }),
        );
        const expected: CorrelationPartition = {
          fence: 25,
          rules: [{ rule: 'r', version: 5, state: '{"clock":2}' }],
          pending: [
            { rule: 'r', offset: 4, key: 'b', deadline: 200, state: '{"n":4}' },
            { rule: 'r', offset: 7, key: 'a\u0000b ü', deadline: 300, state: '{"n":3}' },
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
        await store.commit(
          commit(0, 0, 10, { put: [{ rule: 'r', offset: 0, key: 'a', deadline: 1, state: '1' }] }),
        );
        await assert.rejects(
          store.commit(
            commit(0, 0, 20, {
              put: [{ rule: 'r', offset: 3, key: 'z', deadline: 1, state: '2' }],
              remove: [{ rule: 'r', offset: 0 }],
            }),
          ),
          (e: unknown) => e instanceof JunctionError && e.code === 'Conflict',
        );
        const p = await store.load(0);
        assert.equal(p.fence, 10);
        assert.deepEqual(
          p.pending.map((w) => w.key),
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
            put: [
              { rule: 'r', offset: 0, key: 'a', deadline: 1, state: 'old' },
              { rule: 's', offset: 0, key: 'a', deadline: 1, state: 'keep' },
            ],
          }),
        );
        await store.commit(commit(1, 0, 1, { rules: [{ rule: 'r', version: 1, state: 'other partition' }] }));
        await store.commit(
          commit(0, 1, 2, {
            dropRules: ['r'],
            rules: [{ rule: 'r', version: 2, state: 'new' }],
            put: [{ rule: 'r', offset: 1, key: 'b', deadline: 2, state: 'new' }],
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
            pending: [
              { rule: 'r', offset: 1, key: 'b', deadline: 2, state: 'new' },
              { rule: 's', offset: 0, key: 'a', deadline: 1, state: 'keep' },
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
