/** The shared test suite every DeadLetters implementation passes (SQLite, DynamoDB): call `deadLettersSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import type { DeadLetter, DeadLetters } from '../../lib/ports.ts';
import { makeEvent } from '../helpers/events.ts';

/** What the factory hands the suite: a fresh, empty store. */
export interface DeadLettersHarness {
  readonly deadLetters: DeadLetters;
  /** Closes what the harness opened and removes the backing data. */
  readonly cleanup: () => Promise<void>;
}

const T0 = 1_700_000_000_000;
let counter = 0;

/** A dead letter of a fresh event; `overrides` replace fields. */
export function makeDeadLetter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  counter += 1;
  const event = makeEvent({ source: 'urn:test:dl', id: `dl-event-${process.pid}-${counter}` });
  return {
    dlId: `dl-${process.pid}-${counter}`,
    source: event.source,
    id: event.id,
    rule: 'r',
    target: 't',
    event,
    reason: 'max attempts reached',
    attempts: [
      { at: T0 - 2, outcome: 'failed', status: 500, error: 'boom', latencyMs: 3 },
      { at: T0 - 1, outcome: 'failed', error: 'timeout', latencyMs: 10_000 },
    ],
    at: T0 + counter,
    position: { partition: 2, offset: counter },
    ...overrides,
  };
}

/** Registers the DeadLetters suite under `describe(name)`; `open` must answer a fresh, empty store each call. */
export function deadLettersSuite(name: string, open: () => Promise<DeadLettersHarness>): void {
  async function withStore(run: (store: DeadLetters) => Promise<void>): Promise<void> {
    const harness = await open();
    try {
      await run(harness.deadLetters);
    } finally {
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test('adds a dead letter and gets it back exactly', () =>
      withStore(async (store) => {
        const letter = makeDeadLetter();
        await store.add(letter);
        assert.deepEqual(await store.get(letter.dlId), letter);
        assert.ok(Object.isFrozen((await store.get(letter.dlId))?.event), 'the event is frozen');
        const { position: _omit, ...withoutPosition } = makeDeadLetter();
        await store.add(withoutPosition);
        assert.deepEqual(await store.get(withoutPosition.dlId), withoutPosition);
        assert.equal(await store.get('missing'), undefined);
      }));

    test('lists newest first', () =>
      withStore(async (store) => {
        const letters = [
          makeDeadLetter({ at: T0 + 20 }),
          makeDeadLetter({ at: T0 + 30 }),
          makeDeadLetter({ at: T0 + 10 }),
        ];
        for (const l of letters) await store.add(l);
        assert.deepEqual(
          (await store.list()).map((l) => l.at),
          [T0 + 30, T0 + 20, T0 + 10],
        );
      }));

    test('filters by rule, target, time range and ids, and honours the limit', () =>
      withStore(async (store) => {
        const a = makeDeadLetter({ rule: 'r1', target: 't1', at: T0 + 100 });
        const b = makeDeadLetter({ rule: 'r1', target: 't2', at: T0 + 200 });
        const c = makeDeadLetter({ rule: 'r2', target: 't1', at: T0 + 300 });
        const d = makeDeadLetter({ rule: 'r2', target: 't2', at: T0 + 400 });
        for (const l of [a, b, c, d]) await store.add(l);
        const ids = async (filter: Parameters<DeadLetters['list']>[0]) =>
          (await store.list(filter)).map((l) => l.dlId);
        assert.deepEqual(await ids({ rule: 'r1' }), [b.dlId, a.dlId]);
        assert.deepEqual(await ids({ target: 't1' }), [c.dlId, a.dlId]);
        assert.deepEqual(await ids({ rule: 'r2', target: 't2' }), [d.dlId]);
        assert.deepEqual(await ids({ from: T0 + 200, to: T0 + 400 }), [c.dlId, b.dlId]);
        assert.deepEqual(await ids({ from: T0 + 300 }), [d.dlId, c.dlId]);
        assert.deepEqual(await ids({ to: T0 + 200 }), [a.dlId]);
        assert.deepEqual(await ids({ ids: [a.dlId, d.dlId, 'unknown'] }), [d.dlId, a.dlId]);
        assert.deepEqual(await ids({ ids: [] }), []);
        assert.deepEqual(await ids({ limit: 2 }), [d.dlId, c.dlId]);
        assert.deepEqual(await ids({ rule: 'r1', limit: 1 }), [b.dlId]);
      }));

    test('lists at most 100 by default', () =>
      withStore(async (store) => {
        for (let i = 0; i < 105; i += 1) await store.add(makeDeadLetter());
        assert.equal((await store.list()).length, 100);
        assert.equal(await store.count(), 105);
      }));

    test('counts dead letters per rule and target', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.countByTarget(), []);
        const a = makeDeadLetter({ rule: 'a', target: 't1' });
        for (const l of [
          a,
          makeDeadLetter({ rule: 'a', target: 't1' }),
          makeDeadLetter({ rule: 'a', target: 't2' }),
        ])
          await store.add(l);
        await store.add(makeDeadLetter({ rule: 'b', target: 't1' }));
        assert.deepEqual(await store.countByTarget(), [
          { rule: 'a', target: 't1', count: 2 },
          { rule: 'a', target: 't2', count: 1 },
          { rule: 'b', target: 't1', count: 1 },
        ]);
        await store.remove([a.dlId]);
        assert.equal((await store.countByTarget())[0]?.count, 1);
      }));

    test('removes dead letters by id, answering how many went', () =>
      withStore(async (store) => {
        const a = makeDeadLetter();
        const b = makeDeadLetter();
        const c = makeDeadLetter();
        for (const l of [a, b, c]) await store.add(l);
        assert.equal(await store.count(), 3);
        assert.equal(await store.remove([a.dlId, c.dlId, 'unknown']), 2);
        assert.equal(await store.count(), 1);
        assert.equal(await store.get(a.dlId), undefined);
        assert.deepEqual(
          (await store.list()).map((l) => l.dlId),
          [b.dlId],
        );
        assert.equal(await store.remove([]), 0);
      }));

    test('pages newest first with a cursor, each letter once, letters of the same time included', () =>
      withStore(async (store) => {
        const letters = Array.from({ length: 23 }, (_, i) =>
          makeDeadLetter({ at: T0 + 1000 + Math.floor(i / 4), rule: i % 2 === 0 ? 'even' : 'odd' }),
        );
        for (const l of letters) await store.add(l);
        const collect = async (filter: { rule?: string; limit: number }) => {
          const seen: DeadLetter[] = [];
          let cursor: string | undefined;
          for (let pages = 0; pages < 100; pages++) {
            const page = await store.page({ ...filter, ...(cursor === undefined ? {} : { cursor }) });
            assert.ok(page.deadLetters.length <= filter.limit);
            seen.push(...page.deadLetters);
            cursor = page.nextCursor;
            if (cursor === undefined) return seen;
          }
          throw new Error('paging did not finish');
        };
        const all = await collect({ limit: 3 });
        assert.deepEqual(all.map((l) => l.dlId).sort(), letters.map((l) => l.dlId).sort());
        const ats = all.map((l) => l.at);
        assert.deepEqual(
          ats,
          [...ats].sort((a, b) => b - a),
          'newest first across pages',
        );
        const odd = await collect({ rule: 'odd', limit: 2 });
        assert.deepEqual(
          odd.map((l) => l.dlId).sort(),
          letters
            .filter((l) => l.rule === 'odd')
            .map((l) => l.dlId)
            .sort(),
        );
        const whole = await store.page({ limit: 100 });
        assert.equal(whole.nextCursor, undefined);
        assert.equal(whole.deadLetters.length, 23);
      }));

    test('keeps paging past letters removed between pages', () =>
      withStore(async (store) => {
        const letters = Array.from({ length: 12 }, (_, i) => makeDeadLetter({ at: T0 + 2000 + i }));
        for (const l of letters) await store.add(l);
        const seen: string[] = [];
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await store.page({ limit: 5, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.deadLetters.map((l) => l.dlId));
          await store.remove(page.deadLetters.map((l) => l.dlId));
          await store.add(makeDeadLetter({ at: T0 + 9000 + pages })); // newer than the cursor: not visited
          cursor = page.nextCursor;
          if (cursor === undefined) break;
        }
        assert.deepEqual(seen.sort(), letters.map((l) => l.dlId).sort());
      }));

    test('refuses a cursor it did not make, naming the cursor', () =>
      withStore(async (store) => {
        await assert.rejects(store.page({ cursor: 'nonsense%' }), (e: unknown) => {
          assert.ok(e instanceof JunctionError);
          assert.equal(e.code, 'InvalidRequest');
          assert.equal(e.field, 'cursor');
          return true;
        });
      }));
  });
}
