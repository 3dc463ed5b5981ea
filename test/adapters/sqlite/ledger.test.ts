/** The SQLite Ledger against the shared suite, plus SQLite specifics (group commit of enqueues, bad input). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { SqliteLedger } from '../../../lib/adapters/sqlite/ledger.ts';
import type { DeliveryKey } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { ledgerSuite, makeDelivery } from '../../ports/ledger.suite.ts';
import { openHarness, pruneBesideAWrite } from './harness.ts';

ledgerSuite('SqliteLedger', async () => {
  const h = openHarness();
  return { ledger: h.stores.ledger, reopen: async () => h.reopen().ledger, cleanup: h.cleanup };
});

test('commits concurrent enqueues that arrive in one tick together', async () => {
  const h = openHarness();
  try {
    const batches = Array.from({ length: 20 }, () => [makeDelivery(), makeDelivery()]);
    const results = await Promise.all(batches.map((b) => h.stores.ledger.enqueue(b)));
    assert.ok(results.flat().every(Boolean));
    assert.equal(await h.stores.ledger.pendingCount(), 40);
  } finally {
    await h.cleanup();
  }
});

test('answers an enqueue or a completion that need not be durable at commit, without waiting for an fsync', async () => {
  const h = openHarness();
  try {
    const { ledger, database } = h.stores;
    const [early, durable] = [makeDelivery(), makeDelivery()];
    let syncs = database.stats.syncs;
    assert.deepEqual(await ledger.enqueue([early], { durable: false }), [true]);
    assert.equal(database.stats.syncs, syncs, 'answered at commit');
    assert.deepEqual(await ledger.enqueue([durable]), [true]);
    assert.ok(database.stats.syncs > syncs, 'answered after an fsync of the WAL');
    const attempt = { at: h.clock.now(), outcome: 'delivered' as const, latencyMs: 1 };
    syncs = database.stats.syncs;
    await ledger.complete(early, attempt, h.clock.now(), { durable: false });
    assert.equal(database.stats.syncs, syncs, 'answered at commit');
    await ledger.complete(durable, attempt, h.clock.now());
    assert.ok(database.stats.syncs > syncs, 'answered after an fsync of the WAL');
    // Committed either way: what the ledger answers next sees both.
    assert.equal((await ledger.get(early))?.entry.state, 'delivered');
    assert.equal((await ledger.get(durable))?.entry.state, 'delivered');
    assert.equal(await ledger.pendingCount(), 0);
  } finally {
    await h.cleanup();
  }
});

test('commits an enqueue that need not be durable while an fsync of the WAL runs: its deliveries start at once', async () => {
  const dir = tempDir('junction-sqlite-ledger-');
  const held: Array<() => void> = [];
  const database = new SqliteDatabase({
    dataDir: dir.path,
    fdatasync: (_fd, done) => held.push(() => done(null)),
  });
  try {
    const ledger = new SqliteLedger(database);
    const durable = ledger.enqueue([makeDelivery()]);
    await waitFor(() => held.length > 0, 'the durable enqueue to wait for its fsync', 30_000);
    assert.equal(held.length, 1, 'the durable enqueue is waiting for its fsync');
    let added: readonly boolean[] | undefined;
    const early = ledger.enqueue([makeDelivery()], { durable: false, onAdded: (a) => (added = a) });
    await waitFor(() => added !== undefined, 'the non-durable enqueue to commit', 30_000);
    assert.deepEqual(added, [true], 'committed with the fsync still under way');
    assert.deepEqual(await early, [true]);
    held.shift()?.();
    assert.deepEqual(await durable, [true]);
  } finally {
    for (const release of held.splice(0)) release();
    database.close();
    dir.remove();
  }
});

test('rejects a delivery without a rule, naming the field and leaving the others of the tick alone', async () => {
  const h = openHarness();
  try {
    const good = makeDelivery();
    const bad = { ...makeDelivery(), rule: '' };
    const [ok, failed] = await Promise.allSettled([
      h.stores.ledger.enqueue([good]),
      h.stores.ledger.enqueue([bad]),
    ]);
    assert.deepEqual(ok, { status: 'fulfilled', value: [true] });
    assert.equal(failed?.status, 'rejected');
    assert.match(String((failed as PromiseRejectedResult).reason.message), /deliveries\[0\]\.rule/);
    assert.equal((failed as PromiseRejectedResult).reason.code, 'InvalidRequest');
  } finally {
    await h.cleanup();
  }
});

test('rejects completing a delivery it does not hold with NotFound', async () => {
  const h = openHarness();
  try {
    await assert.rejects(
      h.stores.ledger.complete(
        { source: 's', id: 'i', rule: 'r', target: 't' },
        { at: 1, outcome: 'delivered', latencyMs: 1 },
        2,
      ),
      { code: 'NotFound' },
    );
  } finally {
    await h.cleanup();
  }
});

test('fails a call with a bad key alone, leaving the group commit of the others intact', async () => {
  const h = openHarness();
  try {
    const good = makeDelivery();
    const bad = { source: 's', id: undefined, rule: 'r', target: 't' } as unknown as DeliveryKey;
    const [ok, failed] = await Promise.allSettled([
      h.stores.ledger.enqueue([good]),
      h.stores.ledger.claim(bad, 1, 2),
    ]);
    assert.equal(ok.status, 'fulfilled');
    assert.equal(failed.status, 'rejected');
    assert.equal((failed as PromiseRejectedResult).reason.field, 'key.id');
  } finally {
    await h.cleanup();
  }
});

test('indexes only live rows by due time and only finished rows by age, replacing the indexes of an older database', async () => {
  const h = openHarness();
  try {
    // An older database: the full (state, …) indexes that every state change had to keep up to date.
    const db = new SqliteDatabase({ dataDir: `${h.dataDir}/older` });
    db.migrate(
      `CREATE TABLE ledger (source TEXT NOT NULL, id TEXT NOT NULL, rule TEXT NOT NULL, target TEXT NOT NULL,
        state TEXT NOT NULL, event TEXT, partition INTEGER, offset INTEGER, created_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL, attempts TEXT NOT NULL DEFAULT '[]', lease_until INTEGER, redrive_of TEXT,
        updated_at INTEGER NOT NULL, PRIMARY KEY (source, id, rule, target));
      CREATE INDEX ledger_state_due ON ledger (state, due_at);
      CREATE INDEX ledger_state_updated ON ledger (state, updated_at);`,
    );
    const ledger = new SqliteLedger(db, { clock: h.clock });
    const indexes = db
      .all(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'ledger' AND sql IS NOT NULL",
      )
      .map((row) => String(row.name))
      .sort();
    assert.deepEqual(indexes, ['ledger_done', 'ledger_leases', 'ledger_live', 'ledger_pending_due']);
    const [due, later] = [makeDelivery(), makeDelivery({ dueAt: h.clock.now() + 60_000 })];
    await ledger.enqueue([due, later]);
    assert.deepEqual(
      (await ledger.due(h.clock.now(), 10)).map((d) => d.id),
      [due.id],
    );
    await ledger.complete(due, { at: h.clock.now(), outcome: 'delivered', latencyMs: 1 }, h.clock.now());
    assert.equal(await ledger.prune(h.clock.now() + 1), 1);
    assert.equal(await ledger.pendingCount(), 1);
    db.close();
  } finally {
    await h.cleanup();
  }
});

test('prunes finished entries in writes of PRUNE_BATCH_ROWS rows, the loop free between them', async () => {
  const h = openHarness();
  try {
    const { ledger, database } = h.stores;
    // 12,001 finished entries before the cut, 5 finished after it, 3 pending before it (a prune never takes those).
    const insert = database.statement(
      `INSERT INTO ledger (source, id, rule, target, state, created_at, due_at, updated_at)
       VALUES ('s', ?, 'r', 't', ?, 0, 0, ?)`,
    );
    database.run('BEGIN');
    for (let i = 0; i < 12_001; i++)
      insert.run(`d${i}`, i % 2 === 0 ? 'delivered' : 'dead-lettered', 1_000 + i);
    for (let i = 0; i < 5; i++) insert.run(`n${i}`, 'delivered', 50_000 + i);
    for (let i = 0; i < 3; i++) insert.run(`p${i}`, 'pending', 1_000 + i);
    database.run('COMMIT');
    const { result, writeFirst, writes } = await pruneBesideAWrite(h.stores, () => ledger.prune(40_000));
    assert.equal(result, 12_001);
    assert.ok(writeFirst, 'a write queued after the prune started commits before it ends');
    assert.ok(writes >= 3, `${writes} writes`); // 12,001 rows: three writes of at most 5,000
    const left = database.all('SELECT id FROM ledger ORDER BY id').map((r) => r.id);
    assert.deepEqual(left, ['n0', 'n1', 'n2', 'n3', 'n4', 'p0', 'p1', 'p2']);
    assert.equal(await ledger.prune(40_000), 0);
  } finally {
    await h.cleanup();
  }
});
