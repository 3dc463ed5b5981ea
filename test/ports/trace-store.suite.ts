/** The shared test suite every TraceStore implementation passes (SQLite, DynamoDB): call `traceStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TraceEntry, TraceStore } from '../../lib/ports.ts';

/** What the factory hands the suite: a fresh, empty store. */
export interface TraceStoreHarness {
  readonly traces: TraceStore;
  /** Closes what the harness opened and removes the backing data. */
  readonly cleanup: () => Promise<void>;
}

const T0 = 1_700_000_000_000;

/** Registers the TraceStore suite under `describe(name)`; `open` must answer a fresh, empty store each call. */
export function traceStoreSuite(name: string, open: () => Promise<TraceStoreHarness>): void {
  async function withStore(run: (store: TraceStore) => Promise<void>): Promise<void> {
    const harness = await open();
    try {
      await run(harness.traces);
    } finally {
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test('records entries and answers an event journey oldest first', () =>
      withStore(async (store) => {
        const received: TraceEntry = {
          source: 's',
          id: 'e1',
          at: T0,
          kind: 'received',
          detail: { partition: 1, offset: 42 },
        };
        const matched: TraceEntry = { source: 's', id: 'e1', at: T0 + 1, kind: 'matched', rule: 'r' };
        const attempt: TraceEntry = {
          source: 's',
          id: 'e1',
          at: T0 + 5,
          kind: 'attempt',
          rule: 'r',
          target: 't',
          detail: {
            outcome: 'failed',
            status: 500,
            error: 'boom',
            latencyMs: 12,
            nested: { list: [1, 'two'] },
          },
        };
        const other: TraceEntry = { source: 's', id: 'e2', at: T0, kind: 'unmatched' };
        await store.record([attempt, other]);
        await store.record([received, matched]);
        assert.deepEqual(await store.get('s', 'e1'), [received, matched, attempt]);
        assert.deepEqual(await store.get('s', 'e2'), [other]);
        assert.deepEqual(await store.get('s', 'none'), []);
        assert.deepEqual(await store.get('other-source', 'e1'), []);
      }));

    test('keeps the recorded order of entries with the same time', () =>
      withStore(async (store) => {
        const kinds = ['received', 'matched', 'attempt', 'delivered'] as const;
        await store.record(kinds.map((kind) => ({ source: 's', id: 'same', at: T0, kind })));
        assert.deepEqual(
          (await store.get('s', 'same')).map((e) => e.kind),
          kinds,
        );
      }));

    test('answers an empty record without error', () =>
      withStore(async (store) => {
        await store.record([]);
        assert.deepEqual(await store.get('s', 'x'), []);
      }));

    test('answers the distinct sources of an id, at most limit', () =>
      withStore(async (store) => {
        await store.record([
          { source: 'a', id: 'shared', at: T0, kind: 'received' },
          { source: 'a', id: 'shared', at: T0 + 1, kind: 'matched', rule: 'r' },
          { source: 'b', id: 'shared', at: T0, kind: 'received' },
          { source: 'c', id: 'shared', at: T0, kind: 'received' },
          { source: 'a', id: 'other', at: T0, kind: 'received' },
        ]);
        assert.deepEqual((await store.sourcesOf('shared', 10)).sort(), ['a', 'b', 'c']);
        assert.equal((await store.sourcesOf('shared', 2)).length, 2);
        assert.deepEqual(await store.sourcesOf('missing', 10), []);
      }));

    test('prunes entries older than a time, answering how many went', () =>
      withStore(async (store) => {
        await store.record([
          { source: 's', id: 'p', at: T0, kind: 'received' },
          { source: 's', id: 'p', at: T0 + 10, kind: 'matched', rule: 'r' },
          { source: 's', id: 'p', at: T0 + 20, kind: 'delivered', rule: 'r', target: 't' },
        ]);
        assert.equal(await store.prune(T0 + 10), 1);
        assert.deepEqual(
          (await store.get('s', 'p')).map((e) => e.at),
          [T0 + 10, T0 + 20],
        );
        assert.equal(await store.prune(T0 + 10), 0);
      }));
  });
}
