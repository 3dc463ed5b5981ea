/** The SQLite TraceStore against the shared suite. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { DATABASE_FILE, openSqliteStores, SqliteDatabase } from '../../../lib/adapters/sqlite/index.ts';
import { SqliteTraceStore } from '../../../lib/adapters/sqlite/trace-store.ts';
import type { TraceEntry } from '../../../lib/ports.ts';
import { tempDir } from '../../helpers/paths.ts';
import { traceStoreSuite } from '../../ports/trace-store.suite.ts';
import { openHarness, pruneBesideAWrite } from './harness.ts';

traceStoreSuite('SqliteTraceStore', async () => {
  const h = openHarness();
  return { traces: h.stores.traces, cleanup: h.cleanup };
});

test('keeps traces across a reopen of the database', async () => {
  const h = openHarness();
  try {
    await h.stores.traces.record([{ source: 's', id: 'x', at: 1, kind: 'received', detail: { offset: 3 } }]);
    await h.stores.close();
    const again = h.reopen();
    assert.deepEqual(await again.traces.get('s', 'x'), [
      { source: 's', id: 'x', at: 1, kind: 'received', detail: { offset: 3 } },
    ]);
  } finally {
    await h.cleanup();
  }
});

test('keeps the entries one record makes for one event at one time in one row, and answers each of them', async () => {
  const h = openHarness();
  try {
    const entries: TraceEntry[] = [
      { source: 's', id: 'e1', at: 5, kind: 'received', detail: { partition: 0, offset: 1 } },
      { source: 's', id: 'e1', at: 5, kind: 'unmatched' },
      { source: 's', id: 'e2', at: 5, kind: 'received', detail: { partition: 1, offset: 7 } },
      { source: 's', id: 'e2', at: 5, kind: 'matched', rule: 'r1', detail: { targets: ['a'] } },
      // Every field in a shared row's later entries, and text that JSON escapes.
      {
        source: 's',
        id: 'e2',
        at: 5,
        kind: 'matched',
        rule: 'r"2',
        target: 't\\b',
        detail: { targets: ['b', 'c'] },
      },
      { source: 's', id: 'e2', at: 6, kind: 'attempt', rule: 'r1', target: 'a' },
    ];
    await h.stores.traces.record(entries);
    const rows = () => Number(h.stores.database.get('SELECT count(*) AS n FROM traces')?.n);
    assert.equal(rows(), 3);
    assert.deepEqual(await h.stores.traces.get('s', 'e1'), entries.slice(0, 2));
    const e2 = await h.stores.traces.get('s', 'e2');
    assert.deepEqual(e2, entries.slice(2));
    assert.ok(Object.isFrozen(e2[1]?.detail) && Object.isFrozen(e2[2]?.detail?.targets));
    // Pruning counts entries, not rows.
    assert.equal(await h.stores.traces.prune(6), 5);
    assert.equal(rows(), 1);
  } finally {
    await h.cleanup();
  }
});

test("keeps the router's row short (a position in columns, a lone kind by name), and answers the same entries", async () => {
  const h = openHarness();
  try {
    const position = { partition: 2, offset: 41, acceptedAt: 1_767_323_045_678 };
    const entries: TraceEntry[] = [
      { source: 's', id: 'r', at: 9, kind: 'received', detail: position },
      { source: 's', id: 'r', at: 9, kind: 'unmatched' },
      // Details that are not exactly a position of integers stay JSON.
      {
        source: 's',
        id: 'c',
        at: 9,
        kind: 'received',
        detail: { ...position, causedBy: { source: 's', id: 'r' } },
      },
      { source: 's', id: 'c', at: 9, kind: 'matched', rule: 'r1' },
      { source: 's', id: 'f', at: 9, kind: 'received', detail: { ...position, offset: 2.5 } },
      { source: 's', id: 'f', at: 9, kind: 'unmatched' },
      { source: 's', id: 'f', at: 9, kind: 'unmatched' },
      { source: 's', id: 'p', at: 9, kind: 'received', detail: { partition: 1, offset: 2 } },
      { source: 's', id: 'p', at: 9, kind: 'dead-lettered', detail: position },
    ];
    await h.stores.traces.record(entries);
    const row = (id: string) =>
      h.stores.database.get(
        'SELECT detail, more, partition, offset, accepted_at FROM traces WHERE id = ?',
        id,
      );
    assert.deepEqual(
      { ...row('r') },
      { detail: null, more: 'unmatched', partition: 2, offset: 41, accepted_at: position.acceptedAt },
    );
    assert.equal(row('c')?.more, '[{"kind":"matched","rule":"r1"}]');
    assert.equal(typeof row('c')?.detail, 'string');
    assert.equal(row('f')?.more, '[{"kind":"unmatched"},{"kind":"unmatched"}]');
    assert.equal(row('f')?.partition, null);
    assert.equal(row('p')?.more, `[{"kind":"dead-lettered","detail":${JSON.stringify(position)}}]`);
    for (const id of ['r', 'c', 'f', 'p']) {
      const got = await h.stores.traces.get('s', id);
      assert.deepEqual(
        got,
        entries.filter((e) => e.id === id),
      );
      for (const e of got) if (e.detail !== undefined) assert.ok(Object.isFrozen(e.detail));
    }
    assert.equal(await h.stores.traces.prune(10), entries.length);
  } finally {
    await h.cleanup();
  }
});

test('reads a database made before entries shared rows or positions had columns, and adds to it', async () => {
  const dir = tempDir('junction-traces-old-');
  try {
    const old = new DatabaseSync(join(dir.path, DATABASE_FILE));
    old.exec(`CREATE TABLE traces (
      seq INTEGER PRIMARY KEY, source TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
      kind TEXT NOT NULL, rule TEXT, target TEXT, detail TEXT);
      INSERT INTO traces (source, id, at, kind, detail) VALUES ('s', 'x', 1, 'received', '{"offset":3}');
      INSERT INTO traces (source, id, at, kind) VALUES ('s', 'x', 1, 'unmatched');`);
    old.close();
    const stores = openSqliteStores({ dataDir: dir.path });
    try {
      const position = { partition: 0, offset: 4, acceptedAt: 2 };
      await stores.traces.record([
        { source: 's', id: 'x', at: 2, kind: 'replayed', detail: position },
        { source: 's', id: 'x', at: 2, kind: 'unmatched' },
      ]);
      assert.deepEqual(
        (await stores.traces.get('s', 'x')).map((e) => [e.at, e.kind, e.detail]),
        [
          [1, 'received', { offset: 3 }],
          [1, 'unmatched', undefined],
          [2, 'replayed', position],
          [2, 'unmatched', undefined],
        ],
      );
      assert.equal(await stores.traces.prune(3), 4);
    } finally {
      await stores.close();
    }
  } finally {
    dir.remove();
  }
});

test('inserts what every record call made before a flush with one write, and answers each caller', async () => {
  const h = openHarness();
  try {
    const db = h.stores.database;
    const before = db.stats.writes;
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        h.stores.traces.record([
          { source: 's', id: `d${i}`, at: 7, kind: 'attempt', rule: 'r', target: 't', detail: { number: 1 } },
          { source: 's', id: `d${i}`, at: 7, kind: 'delivered', rule: 'r', target: 't' },
        ]),
      ),
    );
    assert.equal(db.stats.writes - before, 1, 'one write for 40 record calls');
    for (const i of [0, 17, 39]) {
      assert.deepEqual(
        (await h.stores.traces.get('s', `d${i}`)).map((e) => e.kind),
        ['attempt', 'delivered'],
      );
    }
    // A record after that flush is a write of its own.
    await h.stores.traces.record([{ source: 's', id: 'late', at: 8, kind: 'received' }]);
    assert.equal(db.stats.writes - before, 2);
    assert.equal((await h.stores.traces.get('s', 'late')).length, 1);
  } finally {
    await h.cleanup();
  }
});

test('fails the callers of a flush that failed, and records again afterwards', async () => {
  const h = openHarness();
  try {
    const locked = new SqliteDatabase({ dataDir: h.dataDir, busyTimeoutMs: 0 });
    const traces = new SqliteTraceStore(locked);
    // A flush whose transaction cannot start (another connection holds the write lock) fails every write in it.
    const other = new DatabaseSync(join(h.dataDir, DATABASE_FILE));
    other.exec('BEGIN IMMEDIATE');
    await assert.rejects(traces.record([{ source: 's', id: 'x', at: 1, kind: 'received' }]), {
      code: 'BufferUnavailable',
    });
    other.exec('ROLLBACK');
    other.close();
    await traces.record([{ source: 's', id: 'y', at: 2, kind: 'received' }]);
    assert.deepEqual(
      (await traces.get('s', 'y')).map((e) => e.kind),
      ['received'],
    );
    assert.deepEqual(await traces.get('s', 'x'), []);
    locked.close();
  } finally {
    await h.cleanup();
  }
});

test('prunes in writes of about PRUNE_BATCH_ROWS rows, the loop free between them, and counts every entry', async () => {
  const h = openHarness();
  try {
    const { traces, database } = h.stores;
    const rows = () => Number(database.get('SELECT count(*) AS n FROM traces')?.n);
    // 12,000 events at their own times, two entries in a row each; 6,000 more in one millisecond (a batch takes
    // every row of its last row's time); and 10 rows that stay.
    for (let b = 0; b < 120; b++) {
      const entries: TraceEntry[] = [];
      for (let i = 0; i < 100; i++) {
        const at = 1_000 + b * 100 + i;
        entries.push(
          { source: 's', id: `e${at}`, at, kind: 'received' },
          { source: 's', id: `e${at}`, at, kind: 'unmatched' },
        );
      }
      await traces.record(entries);
    }
    await traces.record(
      Array.from({ length: 6_000 }, (_, i) => ({
        source: 's',
        id: `m${i}`,
        at: 50_000,
        kind: 'received' as const,
      })),
    );
    await traces.record(
      Array.from({ length: 10 }, (_, i) => ({
        source: 's',
        id: `k${i}`,
        at: 90_000 + i,
        kind: 'received' as const,
      })),
    );
    assert.equal(rows(), 18_010);
    const { result, writeFirst, writes } = await pruneBesideAWrite(h.stores, () => traces.prune(60_000));
    assert.equal(result, 24_000 + 6_000);
    assert.ok(writeFirst, 'a write queued after the prune started commits before it ends');
    assert.ok(writes >= 3, `${writes} writes`); // 18,000 rows: 5,000, 5,000, then 8,000 (the last with its millisecond)
    assert.equal(rows(), 11);
    assert.equal(await traces.prune(60_000), 0);
    assert.deepEqual(
      (await traces.get('s', 'k3')).map((e) => e.at),
      [90_003],
    );
  } finally {
    await h.cleanup();
  }
});
