/** The shared test suite every Ledger implementation passes (SQLite, DynamoDB): call `ledgerSuite` from a test. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import type { Attempt, DeliveryFilter, DeliveryKey, Ledger, PendingDelivery } from '../../lib/ports.ts';
import { makeEvent } from '../helpers/events.ts';

/** What the factory hands the suite: a fresh, empty ledger. */
export interface LedgerHarness {
  readonly ledger: Ledger;
  /** Opens another ledger on the same backing data (the suite does not close the first). Omit if impossible. */
  readonly reopen?: () => Promise<Ledger>;
  /** Closes what the harness opened and removes the backing data. */
  readonly cleanup: () => Promise<void>;
}

const T0 = 1_700_000_000_000;

let counter = 0;

/** A pending delivery of a fresh event to rule `r`, target `t`; `overrides` replace fields. */
export function makeDelivery(overrides: Partial<PendingDelivery> = {}): PendingDelivery {
  counter += 1;
  const event = makeEvent({ source: 'urn:test:ledger', id: `ledger-${process.pid}-${counter}` });
  return {
    source: event.source,
    id: event.id,
    rule: 'r',
    target: 't',
    event,
    position: { partition: 1, offset: counter },
    createdAt: T0,
    dueAt: T0,
    attempts: [],
    ...overrides,
  };
}

function keyOf(d: DeliveryKey): DeliveryKey {
  return { source: d.source, id: d.id, rule: d.rule, target: d.target };
}

/** Every live delivery the filter lists, page by page; fails on a page loop. */
async function listAll(ledger: Ledger, filter: DeliveryFilter = {}): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await ledger.list({ ...filter, ...(cursor === undefined ? {} : { cursor }) });
    ids.push(...page.deliveries.map((d) => `${d.id}/${d.rule}/${d.target}`));
    if (page.nextCursor === undefined) return ids;
    assert.notEqual(page.nextCursor, cursor, 'the cursor moves');
    cursor = page.nextCursor;
  }
  throw new Error('list did not finish in 1000 pages');
}

function failed(at: number, error = 'boom'): Attempt {
  return { at, outcome: 'failed', status: 500, error, latencyMs: 12 };
}

function delivered(at: number): Attempt {
  return { at, outcome: 'delivered', status: 200, latencyMs: 7 };
}

/** Registers the Ledger suite under `describe(name)`; `open` must answer a fresh, empty ledger each call. */
export function ledgerSuite(name: string, open: () => Promise<LedgerHarness>): void {
  async function withLedger(run: (harness: LedgerHarness) => Promise<void>): Promise<void> {
    const harness = await open();
    try {
      await run(harness);
    } finally {
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test('enqueues deliveries once and leaves an existing key as it is', () =>
      withLedger(async ({ ledger }) => {
        const a = makeDelivery();
        const b = makeDelivery();
        assert.deepEqual(await ledger.enqueue([a, b]), [true, true]);
        const changed = { ...a, dueAt: T0 + 99_999 };
        assert.deepEqual(await ledger.enqueue([changed, makeDelivery({ ...b, target: 'other' })]), [
          false,
          true,
        ]);
        const got = await ledger.get(keyOf(a));
        assert.equal(got?.entry.state, 'pending');
        assert.equal(got?.pending?.dueAt, T0, 'the first write stays');
        assert.equal(await ledger.pendingCount(), 3);
      }));

    test('tells onAdded which deliveries were added, once, before the enqueue answers', () =>
      withLedger(async ({ ledger }) => {
        const a = makeDelivery();
        await ledger.enqueue([a]);
        const heard: (readonly boolean[])[] = [];
        const answer = await ledger.enqueue([a, makeDelivery()], {
          onAdded: (added) => heard.push([...added]),
        });
        assert.deepEqual(heard, [[false, true]]);
        assert.deepEqual(answer, [false, true]);
      }));

    test('treats a repeated key within one enqueue as existing', () =>
      withLedger(async ({ ledger }) => {
        const a = makeDelivery();
        assert.deepEqual(await ledger.enqueue([a, a]), [true, false]);
      }));

    test('answers an empty list for an empty enqueue', () =>
      withLedger(async ({ ledger }) => {
        assert.deepEqual(await ledger.enqueue([]), []);
      }));

    test('gives a pending delivery back exactly as enqueued', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery({ attempts: [failed(T0 - 5)], redriveOf: 'dl-1', createdAt: T0 - 10 });
        await ledger.enqueue([d]);
        const got = await ledger.get(keyOf(d));
        assert.deepEqual(got?.entry.key, keyOf(d));
        assert.equal(got?.entry.state, 'pending');
        assert.deepEqual(got?.pending, d);
        assert.ok(Object.isFrozen(got?.pending?.event), 'the event is frozen');
        const noPosition = makeDelivery({ position: undefined });
        const { position: _omit, ...withoutPosition } = noPosition;
        await ledger.enqueue([withoutPosition]);
        assert.deepEqual((await ledger.get(keyOf(noPosition)))?.pending, withoutPosition);
      }));

    test('answers undefined for a key it does not hold', () =>
      withLedger(async ({ ledger }) => {
        assert.equal(await ledger.get({ source: 's', id: 'i', rule: 'r', target: 't' }), undefined);
      }));

    test('answers due deliveries oldest due first, up to the limit', () =>
      withLedger(async ({ ledger }) => {
        const late = makeDelivery({ dueAt: T0 + 30 });
        const early = makeDelivery({ dueAt: T0 + 10 });
        const middle = makeDelivery({ dueAt: T0 + 20 });
        const future = makeDelivery({ dueAt: T0 + 1_000 });
        await ledger.enqueue([late, early, future, middle]);
        assert.deepEqual(
          (await ledger.due(T0 + 30, 10)).map((d) => [d.id, d.state]),
          [
            [early.id, 'pending'],
            [middle.id, 'pending'],
            [late.id, 'pending'],
          ],
        );
        assert.deepEqual(
          (await ledger.due(T0 + 30, 2)).map((d) => d.id),
          [early.id, middle.id],
        );
        assert.deepEqual(await ledger.due(T0, 10), []);
        assert.equal(await ledger.nextDueAt(), T0 + 10);
      }));

    test('answers no next due time when nothing is pending', () =>
      withLedger(async ({ ledger }) => {
        assert.equal(await ledger.nextDueAt(), undefined);
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.claim(keyOf(d), T0, T0 + 100);
        await ledger.complete(keyOf(d), delivered(T0), T0 + 1);
        assert.equal(await ledger.nextDueAt(), undefined);
        assert.equal(await ledger.pendingCount(), 0);
      }));

    test('counts live deliveries per rule and target with the oldest creation time', () =>
      withLedger(async ({ ledger }) => {
        assert.deepEqual(await ledger.pendingByTarget(), []);
        const a1 = makeDelivery({ rule: 'a', target: 't1', createdAt: T0 + 5 });
        const a2 = makeDelivery({ rule: 'a', target: 't1', createdAt: T0 + 2 });
        const b = makeDelivery({ rule: 'b', target: 't2', createdAt: T0 + 7 });
        const done = makeDelivery({ rule: 'c', target: 't3' });
        const dead = makeDelivery({ rule: 'a', target: 't1', createdAt: T0 });
        await ledger.enqueue([a1, a2, b, done, dead]);
        assert.equal(await ledger.claim(keyOf(a2), T0, T0 + 1_000), true, 'in flight still counts');
        assert.equal(await ledger.claim(keyOf(done), T0, T0 + 1_000), true);
        await ledger.complete(keyOf(done), delivered(T0), T0 + 1);
        await ledger.abandon(keyOf(dead), T0 + 1);
        assert.deepEqual(await ledger.pendingByTarget(), [
          { rule: 'a', target: 't1', count: 2, oldestCreatedAt: T0 + 2 },
          { rule: 'b', target: 't2', count: 1, oldestCreatedAt: T0 + 7 },
        ]);
      }));

    test('lets exactly one of two concurrent claims win', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        const wins = await Promise.all([
          ledger.claim(keyOf(d), T0, T0 + 1_000),
          ledger.claim(keyOf(d), T0, T0 + 1_000),
        ]);
        assert.deepEqual(wins.filter(Boolean).length, 1);
        const got = await ledger.get(keyOf(d));
        assert.equal(got?.entry.state, 'in-flight');
        assert.equal(got?.entry.leaseUntil, T0 + 1_000);
      }));

    test('hides a claimed delivery from due until its lease runs out, then lets it be claimed again', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        assert.equal(await ledger.claim(keyOf(d), T0, T0 + 1_000), true);
        assert.deepEqual(await ledger.due(T0 + 500, 10), []);
        assert.equal(await ledger.claim(keyOf(d), T0 + 500, T0 + 1_500), false, 'lease still held');
        // Found in flight, its lease run out: the caller knows its process may have died mid-delivery.
        assert.deepEqual(
          (await ledger.due(T0 + 1_000, 10)).map((x) => [x.id, x.state, x.leaseUntil]),
          [[d.id, 'in-flight', T0 + 1_000]],
        );
        assert.equal(
          await ledger.claim(keyOf(d), T0 + 1_000, T0 + 2_000),
          true,
          'expired lease is reclaimable',
        );
      }));

    test('refuses to claim a key it does not hold', () =>
      withLedger(async ({ ledger }) => {
        assert.equal(
          await ledger.claim({ source: 's', id: 'nope', rule: 'r', target: 't' }, T0, T0 + 1),
          false,
        );
      }));

    test('completes a delivery: delivered, payload dropped, no longer claimable or due', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.claim(keyOf(d), T0, T0 + 1_000);
        await ledger.complete(keyOf(d), delivered(T0 + 1), T0 + 2);
        const got = await ledger.get(keyOf(d));
        assert.equal(got?.entry.state, 'delivered');
        assert.equal(got?.entry.updatedAt, T0 + 2);
        assert.equal(got?.pending, undefined);
        assert.equal(await ledger.claim(keyOf(d), T0 + 5_000, T0 + 6_000), false);
        assert.deepEqual(await ledger.due(T0 + 10_000, 10), []);
        assert.deepEqual(await ledger.enqueue([d]), [false], 'a delivered key is not enqueued again');
      }));

    test('reschedules a failed attempt: pending again at the new due time with the attempt kept', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.claim(keyOf(d), T0, T0 + 1_000);
        await ledger.reschedule(keyOf(d), failed(T0 + 1, 'first'), T0 + 500);
        assert.deepEqual(await ledger.due(T0 + 499, 10), []);
        const [due] = await ledger.due(T0 + 500, 10);
        assert.deepEqual(due?.attempts, [failed(T0 + 1, 'first')]);
        assert.equal(due?.dueAt, T0 + 500);
        assert.equal(await ledger.claim(keyOf(d), T0 + 500, T0 + 1_500), true);
        await ledger.reschedule(keyOf(d), failed(T0 + 501, 'second'), T0 + 900);
        const got = await ledger.get(keyOf(d));
        assert.equal(got?.entry.state, 'pending');
        assert.deepEqual(got?.pending?.attempts, [failed(T0 + 1, 'first'), failed(T0 + 501, 'second')]);
        assert.equal(await ledger.nextDueAt(), T0 + 900);
      }));

    test('abandons a delivery: dead-lettered and no longer due or claimable', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.abandon(keyOf(d), T0 + 3);
        const got = await ledger.get(keyOf(d));
        assert.equal(got?.entry.state, 'dead-lettered');
        assert.equal(got?.entry.updatedAt, T0 + 3);
        assert.equal(got?.pending, undefined);
        assert.deepEqual(await ledger.due(T0 + 10_000, 10), []);
        assert.equal(await ledger.claim(keyOf(d), T0 + 10, T0 + 20), false);
        assert.equal(await ledger.pendingCount(), 0);
      }));

    test('reopens a dead-lettered delivery as pending', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.abandon(keyOf(d), T0 + 3);
        const redrive = { ...d, dueAt: T0 + 50, attempts: [], redriveOf: 'dl-7' };
        assert.equal(await ledger.reopen(redrive, { keepDelivered: true }), true);
        const got = await ledger.get(keyOf(d));
        assert.equal(got?.entry.state, 'pending');
        assert.deepEqual(got?.pending, redrive);
        assert.deepEqual(
          (await ledger.due(T0 + 50, 10)).map((x) => x.id),
          [d.id],
        );
      }));

    test('reopens a delivered entry only when keepDelivered is false', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.claim(keyOf(d), T0, T0 + 100);
        await ledger.complete(keyOf(d), delivered(T0), T0 + 1);
        assert.equal(await ledger.reopen(d, { keepDelivered: true }), false);
        assert.equal((await ledger.get(keyOf(d)))?.entry.state, 'delivered');
        assert.equal(await ledger.reopen(d, { keepDelivered: false }), true);
        assert.equal((await ledger.get(keyOf(d)))?.entry.state, 'pending');
      }));

    test('does not reopen a delivery that is still pending', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        assert.equal(await ledger.reopen({ ...d, dueAt: T0 + 7 }, { keepDelivered: false }), false);
        assert.equal((await ledger.get(keyOf(d)))?.pending?.dueAt, T0);
      }));

    test('reopens many deliveries at once and says why the others stay as they are', () =>
      withLedger(async ({ ledger }) => {
        const dead = makeDelivery();
        const done = makeDelivery();
        const doneToo = makeDelivery();
        const live = makeDelivery();
        const inFlight = makeDelivery();
        const unknown = makeDelivery();
        await ledger.enqueue([dead, done, doneToo, live, inFlight]);
        await ledger.abandon(keyOf(dead), T0 + 3);
        for (const d of [done, doneToo]) {
          await ledger.claim(keyOf(d), T0, T0 + 100);
          await ledger.complete(keyOf(d), delivered(T0), T0 + 1);
        }
        await ledger.claim(keyOf(inFlight), T0, T0 + 100);
        const redrive = (d: PendingDelivery) => ({
          ...d,
          dueAt: T0 + 50,
          attempts: [],
          redriveOf: `dl-${d.id}`,
        });
        const outcomes = await ledger.reopenMany([
          { delivery: redrive(dead), keepDelivered: true },
          { delivery: redrive(done), keepDelivered: true },
          { delivery: redrive(doneToo), keepDelivered: false },
          { delivery: redrive(live), keepDelivered: false },
          { delivery: redrive(inFlight), keepDelivered: false },
          { delivery: redrive(unknown), keepDelivered: true },
        ]);
        assert.deepEqual(outcomes, ['reopened', 'delivered', 'reopened', 'live', 'live', 'reopened']);
        assert.deepEqual((await ledger.get(keyOf(dead)))?.pending, redrive(dead));
        assert.equal((await ledger.get(keyOf(done)))?.entry.state, 'delivered');
        assert.deepEqual((await ledger.get(keyOf(doneToo)))?.pending, redrive(doneToo));
        assert.equal((await ledger.get(keyOf(live)))?.pending?.dueAt, T0);
        assert.equal((await ledger.get(keyOf(inFlight)))?.entry.state, 'in-flight');
        assert.deepEqual((await ledger.get(keyOf(unknown)))?.pending, redrive(unknown));
        assert.deepEqual(
          (await ledger.due(T0 + 50, 10)).map((x) => x.id).sort(),
          [dead.id, doneToo.id, live.id, unknown.id].sort(),
        );
        assert.deepEqual(await ledger.reopenMany([]), []);
      }));

    test('reopens a key named twice in one call once: the second finds it live', () =>
      withLedger(async ({ ledger }) => {
        const d = makeDelivery();
        await ledger.enqueue([d]);
        await ledger.abandon(keyOf(d), T0 + 3);
        const outcomes = await ledger.reopenMany([
          { delivery: d, keepDelivered: false },
          { delivery: d, keepDelivered: false },
        ]);
        assert.deepEqual([...outcomes].sort(), ['live', 'reopened']);
        assert.equal((await ledger.get(keyOf(d)))?.entry.state, 'pending');
      }));

    test('prunes finished entries updated before a time and keeps pending ones', () =>
      withLedger(async ({ ledger }) => {
        const old = makeDelivery();
        const recent = makeDelivery();
        const dead = makeDelivery();
        const pending = makeDelivery();
        await ledger.enqueue([old, recent, dead, pending]);
        await ledger.complete(keyOf(old), delivered(T0), T0 + 10);
        await ledger.complete(keyOf(recent), delivered(T0), T0 + 1_000);
        await ledger.abandon(keyOf(dead), T0 + 20);
        assert.equal(await ledger.prune(T0 + 500), 2);
        assert.equal(await ledger.get(keyOf(old)), undefined);
        assert.equal(await ledger.get(keyOf(dead)), undefined);
        assert.equal((await ledger.get(keyOf(recent)))?.entry.state, 'delivered');
        assert.equal((await ledger.get(keyOf(pending)))?.entry.state, 'pending');
        assert.equal(await ledger.prune(T0 + 500), 0);
      }));

    test('keeps every state across a reopen', () =>
      withLedger(async ({ ledger, reopen }) => {
        if (!reopen) return;
        const a = makeDelivery();
        const b = makeDelivery();
        await ledger.enqueue([a, b]);
        await ledger.claim(keyOf(a), T0, T0 + 100);
        await ledger.complete(keyOf(a), delivered(T0), T0 + 1);
        const again = await reopen();
        assert.equal((await again.get(keyOf(a)))?.entry.state, 'delivered');
        assert.deepEqual((await again.get(keyOf(b)))?.pending, b);
        assert.equal(await again.claim(keyOf(a), T0 + 5, T0 + 6), false);
      }));

    test('lists live deliveries with their state and history, filtered by state, rule and target', () =>
      withLedger(async ({ ledger }) => {
        const a = makeDelivery({ rule: 'r1', target: 't1', dueAt: T0 + 50 });
        const b = makeDelivery({ rule: 'r1', target: 't2' });
        const c = makeDelivery({ rule: 'r2', target: 't1' });
        const done = makeDelivery({ rule: 'r1', target: 't1' });
        await ledger.enqueue([a, b, c, done]);
        await ledger.claim(keyOf(b), T0, T0 + 100);
        await ledger.reschedule(keyOf(c), failed(T0 + 1), T0 + 500);
        await ledger.claim(keyOf(done), T0, T0 + 100);
        await ledger.complete(keyOf(done), delivered(T0 + 2), T0 + 3);
        const all = await ledger.list();
        assert.equal(all.nextCursor, undefined);
        const byId = new Map(all.deliveries.map((d) => [d.id, d]));
        assert.deepEqual([...byId.keys()].sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual(byId.get(a.id), { ...a, state: 'pending' });
        assert.deepEqual(byId.get(b.id), { ...b, state: 'in-flight', leaseUntil: T0 + 100 });
        assert.equal(byId.get(c.id)?.state, 'pending');
        assert.equal(byId.get(c.id)?.dueAt, T0 + 500);
        assert.deepEqual(byId.get(c.id)?.attempts, [failed(T0 + 1)]);
        const ids = async (filter: DeliveryFilter) =>
          (await ledger.list(filter)).deliveries.map((d) => d.id).sort();
        assert.deepEqual(await ids({ state: 'in-flight' }), [b.id]);
        assert.deepEqual(await ids({ state: 'pending' }), [a.id, c.id].sort());
        assert.deepEqual(await ids({ rule: 'r1' }), [a.id, b.id].sort());
        assert.deepEqual(await ids({ target: 't1' }), [a.id, c.id].sort());
        assert.deepEqual(await ids({ rule: 'r1', target: 't1' }), [a.id]);
        assert.deepEqual(await ids({ rule: 'nope' }), []);
        assert.deepEqual(await ids({ limit: 0 }), []);
      }));

    test('pages through live deliveries with a cursor, each exactly once', () =>
      withLedger(async ({ ledger }) => {
        const deliveries = Array.from({ length: 23 }, (_, i) =>
          makeDelivery({ rule: `r${i % 3}`, target: `t${i % 2}`, createdAt: T0 + (i % 4), dueAt: T0 + i }),
        );
        await ledger.enqueue(deliveries);
        const want = deliveries.map((d) => `${d.id}/${d.rule}/${d.target}`).sort();
        const seen = await listAll(ledger, { limit: 5 });
        assert.deepEqual([...seen].sort(), want);
        assert.equal((await ledger.list({ limit: 5 })).deliveries.length, 5);
        const r0 = await listAll(ledger, { rule: 'r0', limit: 2 });
        assert.deepEqual(
          [...r0].sort(),
          want.filter((k) => k.endsWith('/r0/t0') || k.endsWith('/r0/t1')),
        );
      }));

    test('refuses a cursor it did not make, naming the cursor', () =>
      withLedger(async ({ ledger }) => {
        for (const cursor of ['garbage!', 'W10', '']) {
          await assert.rejects(ledger.list({ cursor }), (e: unknown) => {
            assert.ok(e instanceof JunctionError);
            assert.equal(e.code, 'InvalidRequest');
            assert.equal(e.field, 'cursor');
            return true;
          });
        }
      }));

    test('makes pending deliveries due now, leaving in-flight and already due ones alone', () =>
      withLedger(async ({ ledger }) => {
        const later = makeDelivery({ dueAt: T0 + 60_000 });
        const dueAlready = makeDelivery({ dueAt: T0 - 5 });
        const running = makeDelivery({ dueAt: T0 + 60_000 });
        await ledger.enqueue([later, dueAlready, running]);
        await ledger.claim(keyOf(running), T0, T0 + 30_000);
        assert.deepEqual(
          (await ledger.due(T0, 10)).map((d) => d.id),
          [dueAlready.id],
        );
        const missing = { ...keyOf(later), id: 'not-there' };
        assert.equal(await ledger.makeDue([keyOf(later), keyOf(dueAlready), keyOf(running), missing], T0), 1);
        assert.deepEqual(
          (await ledger.due(T0, 10)).map((d) => d.id).sort(),
          [later.id, dueAlready.id].sort(),
        );
        assert.equal((await ledger.get(keyOf(later)))?.pending?.dueAt, T0);
        assert.equal((await ledger.get(keyOf(running)))?.entry.state, 'in-flight');
        assert.equal(await ledger.makeDue([keyOf(later)], T0), 0, 'a second time changes nothing');
        assert.equal(await ledger.makeDue([], T0), 0);
      }));

    test('gives back the lease of in-flight deliveries: due at once, still in flight', () =>
      withLedger(async ({ ledger }) => {
        const running = makeDelivery({ dueAt: T0 + 30_000 });
        const waiting = makeDelivery({ dueAt: T0 + 30_000 });
        const done = makeDelivery();
        await ledger.enqueue([running, waiting, done]);
        await ledger.claim(keyOf(running), T0, T0 + 60_000);
        await ledger.claim(keyOf(done), T0, T0 + 60_000);
        await ledger.complete(keyOf(done), { at: T0, outcome: 'delivered', latencyMs: 1 }, T0);
        assert.deepEqual(await ledger.due(T0 + 10, 10), []);
        const missing = { ...keyOf(running), id: 'not-there' };
        assert.equal(
          await ledger.release([keyOf(running), keyOf(waiting), keyOf(done), missing], T0 + 10),
          1,
        );
        assert.deepEqual(
          (await ledger.due(T0 + 10, 10)).map((d) => d.id),
          [running.id],
        );
        const entry = (await ledger.get(keyOf(running)))?.entry;
        assert.equal(entry?.state, 'in-flight');
        assert.equal(entry?.leaseUntil, T0 + 10);
        assert.equal((await ledger.get(keyOf(waiting)))?.entry.state, 'pending');
        assert.equal((await ledger.get(keyOf(done)))?.entry.state, 'delivered');
        assert.equal(
          await ledger.claim(keyOf(running), T0 + 10, T0 + 40_000),
          true,
          'another process takes it',
        );
        assert.equal(await ledger.release([keyOf(running)], T0 + 10_000), 1);
        assert.equal(await ledger.release([keyOf(running)], T0 + 10_000), 0, 'a second time changes nothing');
        assert.equal(await ledger.release([], T0), 0);
      }));

    test('makes every pending delivery due while paging, each counted once', () =>
      withLedger(async ({ ledger }) => {
        const deliveries = Array.from({ length: 17 }, (_, i) => makeDelivery({ dueAt: T0 + 1000 + i }));
        await ledger.enqueue(deliveries);
        let changed = 0;
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const page = await ledger.list({ state: 'pending', limit: 4, ...(cursor ? { cursor } : {}) });
          changed += await ledger.makeDue(page.deliveries.map(keyOf), T0);
          cursor = page.nextCursor;
          if (cursor === undefined) break;
        }
        assert.equal(changed, 17);
        assert.equal((await ledger.due(T0, 100)).length, 17);
      }));
  });
}
