/**
 * PostgreSQL CDC crash safety (issue #18): the bus runs as a child process with a postgres-cdc connector while two
 * writers commit 10,000 row inserts in small concurrent transactions into a real PostgreSQL; the bus is killed with
 * SIGKILL at random moments (5 times) and restarted on the same data dir. Afterwards every committed row change is in
 * the bus's log exactly once: the slot's LSN is confirmed only after the log took a transaction's changes (nothing
 * lost), and ids come from the commit LSN and the change's index (a transaction streamed again is dropped).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';

const KILLS = 5;
const ROWS = 10_000;
const PER_TRANSACTION = 10;
const WRITERS = 2;

async function taken(bus: ChildBus): Promise<number> {
  const res = await request(bus.url, 'GET', '/connectors/feed');
  return res.status === 200 ? Number(res.body.events) : -1;
}

test('a postgres-cdc connector killed with SIGKILL at random moments takes every committed change once', {
  skip: postgresSkip,
  timeout: 600_000,
}, async (t) => {
  const db: TestPostgres = await startPostgres();
  const dir = tempDir('junction-pg-crash-');
  const port = await freePort();
  let bus: ChildBus = await startChildBus(join(dir.path, 'data'), port);
  let next = 0;
  let writersDone = false;
  let killsWhileWriting = 0;
  const writers: Promise<void>[] = [];
  const clients: import('pg').Client[] = [];
  try {
    await db.query('CREATE TABLE feed (id bigserial PRIMARY KEY, n int NOT NULL, writer int NOT NULL)');
    await db.query('CREATE PUBLICATION feed FOR TABLE feed');
    const put = await request(bus.url, 'PUT', '/connectors/feed', {
      type: 'postgres-cdc',
      connection: db.url,
      publication: 'feed',
      slot: 'feed',
      data: 'row',
      typePrefix: 'com.example.db',
      maxBatch: 100,
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.ok(!JSON.stringify(put.body).includes(db.password), 'the password is redacted');
    // The slot exists once the connector started: what is committed from then on is streamed.
    const started = Date.now() + 120_000;
    while ((await request(bus.url, 'GET', '/connectors/feed')).body.state !== 'running') {
      if (Date.now() > started) assert.fail('the connector did not start');
      await new Promise((r) => setTimeout(r, 50));
    }

    const { default: pg } = await import('pg');
    for (let w = 0; w < WRITERS; w++) {
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      clients.push(client);
      writers.push(
        (async () => {
          // Paced so that the kills fall while it writes; transactions of the two writers interleave.
          while (next < ROWS) {
            const first = next;
            next += PER_TRANSACTION;
            await client.query('BEGIN');
            for (let i = first; i < first + PER_TRANSACTION; i++) {
              await client.query('INSERT INTO feed (n, writer) VALUES ($1, $2)', [i, w]);
            }
            await client.query('COMMIT');
            await new Promise((r) => setTimeout(r, 15));
          }
        })(),
      );
    }
    const writing = Promise.all(writers).then(() => {
      writersDone = true;
    });

    for (let k = 0; k < KILLS; k++) {
      // Kill at a random moment, once this incarnation has taken some changes in (or the writers are done).
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 700)));
      const deadline = Date.now() + 120_000;
      while (!writersDone && (await taken(bus)) < 100) {
        if (Date.now() > deadline) assert.fail(`the connector took nothing in incarnation ${k}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      if (!writersDone) killsWhileWriting += 1;
      await kill9(bus);
      bus = await startChildBus(join(dir.path, 'data'), port);
    }
    await writing;
    t.diagnostic(`${killsWhileWriting} of ${KILLS} kills fell while the writers wrote`);

    // A last transaction after every other: once its commit is confirmed on the slot, all before it was taken.
    await db.query('INSERT INTO feed (n, writer) VALUES (-1, -1)');
    const { rows: end } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const target = end[0]?.lsn as string;
    const caughtUp = Date.now() + 300_000;
    for (;;) {
      const { rows } = await db.query<{ done: boolean }>(
        "SELECT confirmed_flush_lsn >= $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = 'feed'",
        [target],
      );
      const status = (await request(bus.url, 'GET', '/connectors/feed')).body;
      if (rows[0]?.done === true && status.state === 'running' && status.lag === 0) break;
      if (Date.now() > caughtUp) assert.fail(`the connector did not catch up: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await stopGracefully(bus);

    const committed = await db.query<{ id: string; n: number }>('SELECT id::text, n FROM feed');
    assert.equal(committed.rows.length, ROWS + 1);
    const stores = openSqliteStores({ dataDir: join(dir.path, 'data') });
    try {
      const ids = new Map<string, number>();
      const rows = new Map<string, number>();
      const log = stores.log;
      for (let p = 0; p < log.partitions; p++) {
        for (let offset = 0; ; ) {
          const records = await log.read(p, offset, 1000);
          if (records.length === 0) break;
          for (const r of records) {
            if (r.event.type !== 'com.example.db.public.feed.insert') continue;
            ids.set(r.event.id, (ids.get(r.event.id) ?? 0) + 1);
            const key = String((r.event.data as { id: number | string }).id);
            rows.set(key, (rows.get(key) ?? 0) + 1);
          }
          offset = (records.at(-1)?.offset ?? offset) + 1;
        }
      }
      const missing = committed.rows.filter((row) => !rows.has(row.id));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} committed rows are not in the log`);
      const twice = [...rows].filter(([, n]) => n > 1);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} rows are in the log more than once`);
      assert.equal(rows.size, ROWS + 1);
      assert.equal(ids.size, ROWS + 1, 'one id per row change');
      assert.ok([...ids.values()].every((n) => n === 1));
    } finally {
      stores.close();
    }
  } finally {
    writersDone = true;
    next = ROWS;
    await Promise.allSettled(writers);
    await kill9(bus);
    for (const client of clients) await client.end().catch(() => undefined);
    await db.stop();
    dir.remove();
  }
});
