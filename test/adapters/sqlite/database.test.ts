/** The shared SQLite database: pragmas, statement cache and group commit semantics. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DATABASE_FILE, deepFreeze, SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { tempDir } from '../../helpers/paths.ts';

function withDatabase(run: (db: SqliteDatabase, dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = tempDir('junction-sqlite-db-');
    const db = new SqliteDatabase({ dataDir: join(dir.path, 'nested', 'data') });
    try {
      db.migrate('CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
      await run(db, dir.path);
    } finally {
      db.close();
      dir.remove();
    }
  };
}

test(
  'creates the data dir and opens junction.db in WAL mode with full sync',
  withDatabase(async (db, dir) => {
    assert.ok(existsSync(join(dir, 'nested', 'data', DATABASE_FILE)));
    assert.equal(db.get('PRAGMA journal_mode')?.journal_mode, 'wal');
    assert.equal(db.get('PRAGMA synchronous')?.synchronous, 2);
  }),
);

test(
  'caches prepared statements by their SQL',
  withDatabase(async (db) => {
    assert.equal(db.statement('SELECT 1'), db.statement('SELECT 1'));
  }),
);

test(
  'commits the writes of one tick in one transaction and answers each its own result',
  withDatabase(async (db) => {
    const before = db.stats.commits;
    const results = await Promise.all(
      [1, 2, 3].map((v) => db.write(() => db.run('INSERT INTO t (k, v) VALUES (?, ?)', `k${v}`, v) * v)),
    );
    assert.deepEqual(results, [1, 2, 3]);
    assert.equal(db.stats.commits - before, 1);
  }),
);

test(
  'fails only the write that throws a JunctionError and rolls back just its changes',
  withDatabase(async (db) => {
    const outcomes = await Promise.allSettled([
      db.write(() => db.run("INSERT INTO t (k, v) VALUES ('a', 1)")),
      db.write(() => {
        db.run("INSERT INTO t (k, v) VALUES ('b', 2)");
        throw new JunctionError('InvalidRequest', 'bad input', { field: 'x' });
      }),
      db.write(() => db.run("INSERT INTO t (k, v) VALUES ('c', 3)")),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.code, 'InvalidRequest');
    assert.deepEqual(
      db.all('SELECT k FROM t ORDER BY k').map((r) => r.k),
      ['a', 'c'],
    );
  }),
);

test(
  'fails every write of the flush with a retriable BufferUnavailable on any other error, committing none',
  withDatabase(async (db) => {
    const outcomes = await Promise.allSettled([
      db.write(() => db.run("INSERT INTO t (k, v) VALUES ('a', 1)")),
      db.write(() => db.run("INSERT INTO t (k, v) VALUES ('a', 2)")),
    ]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      assert.equal(reason.code, 'BufferUnavailable');
      assert.equal(reason.retriable, true);
      assert.match(reason.message, /UNIQUE constraint failed/);
    }
    assert.equal(db.get('SELECT count(*) AS n FROM t')?.n, 0);
  }),
);

test('commits queued writes on close and rejects writes after it', async () => {
  const dir = tempDir('junction-sqlite-db-');
  try {
    const db = new SqliteDatabase({ dataDir: dir.path });
    db.migrate('CREATE TABLE t (v INTEGER)');
    const pending = db.write(() => db.run('INSERT INTO t (v) VALUES (1)'));
    db.close();
    assert.equal(await pending, 1);
    await assert.rejects(
      db.write(() => 0),
      { code: 'BufferUnavailable' },
    );
    assert.throws(() => db.get('SELECT 1'), { code: 'BufferUnavailable' });
    db.close();
    const again = new SqliteDatabase({ dataDir: dir.path });
    assert.equal(again.get('SELECT count(*) AS n FROM t')?.n, 1);
    again.close();
  } finally {
    dir.remove();
  }
});

test('rejects a missing data dir and a bad busy timeout, naming the field', () => {
  assert.throws(() => new SqliteDatabase({ dataDir: '' }), { code: 'InvalidRequest', field: 'dataDir' });
  assert.throws(() => new SqliteDatabase({ dataDir: '/tmp/x', busyTimeoutMs: -1 }), {
    code: 'InvalidRequest',
    field: 'busyTimeoutMs',
    message: /got -1/,
  });
});

test('freezes parsed values all the way down', () => {
  const value = deepFreeze({ a: { b: [1, { c: 2 }] } });
  assert.ok(Object.isFrozen(value.a.b[1]));
});
