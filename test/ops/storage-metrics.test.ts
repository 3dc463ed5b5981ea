/**
 * A bus's SQLite storage on `/metrics` (lib/server/sqlite-metrics.ts), on a real bus: the WAL's fsync times, the
 * group commits and the writes they carried, the WAL's size — per bus, each bus its own database.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import { observeSqliteStorage } from '../../lib/server/sqlite-metrics.ts';
import { dedupRows } from '../adapters/sqlite/harness.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { makeEvent, makeEvents } from '../helpers/events.ts';
import { metricValue } from '../helpers/metrics.ts';
import { tempDir } from '../helpers/paths.ts';

/** The value of the series of `name` for `bus` (no other label), or undefined. */
const series = (text: string, name: string, bus: string) => metricValue(text, name, { bus });

describe("a bus's SQLite storage metrics", () => {
  let bus: TestBus;
  const scrape = async (path = '/metrics') => (await fetch(`${bus.url}${path}`)).text();
  const publish = async (name: string, ids: readonly string[]) => {
    for (const id of ids) {
      const answer = await request(bus.url, 'POST', `/buses/${name}/events`, makeEvent({ id }), {
        'content-type': 'application/cloudevents+json',
      });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
    }
  };

  before(async () => {
    bus = await startTestBus();
    assert.equal((await request(bus.url, 'PUT', '/buses/orders', {})).status, 201);
  });
  after(async () => {
    await bus.stop();
  });

  test('fsync times, commits, writes and the WAL size of each bus, counted as it writes', async () => {
    await publish('orders', ['s-1', 's-2', 's-3']);
    const first = await scrape();
    const fsyncs = series(first, 'junction_sqlite_fsync_seconds_count', 'orders') ?? 0;
    const commits = series(first, 'junction_sqlite_commits_total', 'orders') ?? 0;
    const writes = series(first, 'junction_sqlite_writes_total', 'orders') ?? 0;
    // Each accepted event waited for an fsync of its append (one fsync may cover several commits).
    assert.ok(fsyncs >= 1, `${fsyncs} fsyncs`);
    assert.ok((series(first, 'junction_sqlite_fsync_seconds_sum', 'orders') ?? 0) > 0, 'their time');
    assert.ok(commits >= 3, `${commits} commits for three appends`);
    assert.ok(writes >= commits, `${writes} writes in ${commits} commits`);
    assert.ok((series(first, 'junction_sqlite_wal_bytes', 'orders') ?? 0) > 0, 'the WAL has frames');
    // Pages written since the last checkpoint live in the WAL: the file has at least its header page.
    assert.ok((series(first, 'junction_sqlite_database_bytes', 'orders') ?? 0) > 0, 'the database file');
    assert.equal(series(first, 'junction_sqlite_checkpoint_waits_total', 'orders'), 0);
    assert.equal(series(first, 'junction_sqlite_checkpoint_catchups_total', 'orders'), 0);
    // The default bus has series of its own, from its own database.
    assert.notEqual(series(first, 'junction_sqlite_commits_total', 'default'), undefined);

    await publish('orders', ['s-4', 's-5']);
    const second = await scrape();
    assert.ok((series(second, 'junction_sqlite_commits_total', 'orders') ?? 0) >= commits + 2, 'counted on');
    assert.ok((series(second, 'junction_sqlite_fsync_seconds_count', 'orders') ?? 0) > fsyncs);
  });

  test('the dedup keys a bus with a short window keeps in memory; none for the default 24 hours', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/brief', { dedupWindowMs: 120_000 })).status, 201);
    await publish('brief', ['k-1', 'k-2', 'k-3']);
    await publish('orders', ['k-1']);
    const text = await scrape();
    assert.equal(series(text, 'junction_sqlite_dedup_keys_in_memory', 'brief'), 3);
    assert.equal(series(text, 'junction_sqlite_dedup_keys_in_memory', 'orders'), 0);
    assert.equal(series(text, 'junction_sqlite_dedup_keys_spilled_total', 'brief'), 0);
  });

  test("a bus's own metrics show its storage and no other bus's", async () => {
    const text = await scrape('/buses/orders/metrics');
    assert.notEqual(series(text, 'junction_sqlite_commits_total', 'orders'), undefined);
    assert.equal(series(text, 'junction_sqlite_commits_total', 'default'), undefined);
  });
});

test('each scrape adds what the database did since the last one; stopped, fsyncs are no longer observed', async () => {
  const dir = tempDir('junction-storage-metrics-');
  const database = new SqliteDatabase({ dataDir: dir.path });
  const metrics = new Metrics({ bus: 'b' });
  const stop = observeSqliteStorage(database, metrics);
  try {
    database.migrate('CREATE TABLE t (k INTEGER PRIMARY KEY)');
    for (let k = 0; k < 3; k++) await database.write(() => database.run('INSERT INTO t (k) VALUES (?)', k));
    const first = await metrics.render();
    assert.equal(series(first, 'junction_sqlite_commits_total', 'b'), database.stats.commits);
    assert.equal(series(first, 'junction_sqlite_writes_total', 'b'), 3);
    // Each durable write waited for an fsync run off the loop (the schema's own fsync ran on the loop: not timed).
    const fsyncs = series(first, 'junction_sqlite_fsync_seconds_count', 'b') ?? 0;
    assert.ok(fsyncs >= 1 && fsyncs <= 3, `${fsyncs} fsyncs timed for three writes`);
    assert.equal(series(first, 'junction_sqlite_database_bytes', 'b'), statSync(database.path).size);
    // Nothing written in between: the next scrape counts nothing more.
    assert.equal(await metrics.render(), first);
    await database.write(() => database.run('INSERT INTO t (k) VALUES (3)'));
    const second = await metrics.render();
    assert.equal(series(second, 'junction_sqlite_writes_total', 'b'), 4);
    stop();
    const syncs = series(second, 'junction_sqlite_fsync_seconds_count', 'b');
    await database.write(() => database.run('INSERT INTO t (k) VALUES (4)'));
    assert.equal(series(await metrics.render(), 'junction_sqlite_fsync_seconds_count', 'b'), syncs);
  } finally {
    database.close();
    dir.remove();
  }
});

test('counts the catch-up checkpoints that let a long WAL start over', async () => {
  const dir = tempDir('junction-storage-metrics-');
  const database = new SqliteDatabase({ dataDir: dir.path, checkpointIntervalMs: 5 });
  const metrics = new Metrics({ bus: 'b' });
  const stop = observeSqliteStorage(database, metrics);
  try {
    database.migrate('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
    const row = 'y'.repeat(20_000);
    // Commits back to back past 16 MiB of WAL: a checkpoint on the thread ends with newer commits, and a catch-up
    // follows (a round goes on until one did, or the deadline).
    const deadline = Date.now() + 90_000;
    for (let i = 0; database.stats.catchUps === 0; i++) {
      assert.ok(Date.now() < deadline, `no catch-up after ${i} writes`);
      await database.write(() => database.run('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)', i % 50, row), {
        durable: false,
      });
    }
    const text = await metrics.render();
    assert.equal(series(text, 'junction_sqlite_checkpoint_catchups_total', 'b'), database.stats.catchUps);
    assert.ok(database.stats.catchUps > 0);
  } finally {
    stop();
    database.close();
    dir.remove();
  }
});

test('counts the dedup keys of short windows that memory had no room for', async () => {
  const dir = tempDir('junction-storage-metrics-');
  const stores = openSqliteStores({ dataDir: dir.path, dedupMemoryKeys: 4 });
  const metrics = new Metrics({ bus: 'b' });
  const stop = observeSqliteStorage(stores.database, metrics, stores.log);
  try {
    const window = { dedupWindowMs: 60_000 };
    await stores.log.append(makeEvents(3), window);
    const first = await metrics.render();
    assert.equal(series(first, 'junction_sqlite_dedup_keys_in_memory', 'b'), 3);
    assert.equal(series(first, 'junction_sqlite_dedup_keys_spilled_total', 'b'), 0);
    // Two more would make 5: they go to the index, as the bound says.
    await stores.log.append(makeEvents(2), window);
    await stores.log.append(makeEvents(1), window);
    const second = await metrics.render();
    assert.equal(series(second, 'junction_sqlite_dedup_keys_in_memory', 'b'), 4);
    assert.equal(series(second, 'junction_sqlite_dedup_keys_spilled_total', 'b'), 2);
    assert.equal(dedupRows(stores.database), 2);
  } finally {
    stop();
    await stores.close();
    dir.remove();
  }
});
