/**
 * PostgreSQL CDC initial snapshot crash safety (issue #18): a table holds 30,000 rows before a postgres-cdc connector
 * with `snapshot: true` starts in a bus run as a child process; while a writer inserts more rows, the bus is killed
 * with SIGKILL in the middle of the snapshot (up to 3 times) and restarted on the same data dir. Afterwards the log
 * holds every row of the table (a `read` event, or an `insert` for a row inserted after the slot was made), no event
 * twice, and each row that was there before the slot exactly one `read` event and no `insert`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { snapshotMarkerSlot } from '../../lib/adapters/postgres/source.ts';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';

const ROWS = 30_000;
const KILLS = 3;

async function taken(bus: ChildBus): Promise<number> {
  const res = await request(bus.url, 'GET', '/connectors/snap');
  return res.status === 200 ? Number(res.body.events) : -1;
}

test('a postgres-cdc snapshot killed with SIGKILL midway is read again: every row once, nothing lost', {
  skip: postgresSkip,
  timeout: 600_000,
}, async (t) => {
  const db: TestPostgres = await startPostgres();
  const dir = tempDir('junction-pg-snapshot-crash-');
  const port = await freePort();
  let bus: ChildBus = await startChildBus(join(dir.path, 'data'), port);
  let writing = true;
  let writer: Promise<void> = Promise.resolve();
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: db.url });
  try {
    await db.query('CREATE TABLE snap (id bigserial PRIMARY KEY, n int NOT NULL)');
    await db.query(`INSERT INTO snap (n) SELECT g FROM generate_series(1, ${ROWS}) AS g`);
    await db.query('CREATE PUBLICATION snap FOR TABLE snap');
    const marked = async (): Promise<boolean> =>
      (
        await db.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
          snapshotMarkerSlot('snap'),
        ])
      ).rowCount === 1;
    const put = await request(bus.url, 'PUT', '/connectors/snap', {
      type: 'postgres-cdc',
      connection: db.url,
      publication: 'snap',
      slot: 'snap',
      snapshot: true,
      data: 'row',
      maxBatch: 100,
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));

    // Rows inserted while the snapshot is read: once it is read, the slot exists and has its consistent point, so
    // they come from the stream.
    const reading = Date.now() + 120_000;
    while ((await taken(bus)) < 1) {
      if (Date.now() > reading) assert.fail('the snapshot did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    await client.connect();
    writer = (async () => {
      for (let i = 0; writing && i < 2_000; i++) {
        await client.query('INSERT INTO snap (n) VALUES ($1)', [-i]);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    let midway = 0;
    for (let k = 0; k < KILLS; k++) {
      // Once this incarnation took a part of the snapshot, and while the snapshot is not done.
      const deadline = Date.now() + 120_000;
      let took = await taken(bus);
      while (took < 1_000 + Math.floor(Math.random() * 2_000) && (await marked())) {
        if (Date.now() > deadline) assert.fail(`the connector took nothing in incarnation ${k}`);
        await new Promise((r) => setTimeout(r, 20));
        took = await taken(bus);
      }
      if (!(await marked())) break;
      midway += 1;
      await kill9(bus);
      bus = await startChildBus(join(dir.path, 'data'), port);
    }
    t.diagnostic(`${midway} kills fell in the middle of the snapshot`);
    assert.ok(midway >= 1, 'the snapshot was killed at least once while it was read');
    writing = false;
    await writer;

    // A last row after every other: once its commit is confirmed on the slot, all before it was taken.
    await db.query('INSERT INTO snap (n) VALUES (0)');
    const { rows: end } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const target = end[0]?.lsn as string;
    const caughtUp = Date.now() + 300_000;
    for (;;) {
      const { rows } = await db.query<{ done: boolean }>(
        "SELECT confirmed_flush_lsn >= $1::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = 'snap'",
        [target],
      );
      const status = (await request(bus.url, 'GET', '/connectors/snap')).body;
      if (rows[0]?.done === true && status.state === 'running' && status.lag === 0) break;
      if (Date.now() > caughtUp) assert.fail(`the connector did not catch up: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await marked(), false, 'the snapshot is done');
    await stopGracefully(bus);

    const table = await db.query<{ id: string }>('SELECT id::text FROM snap');
    const stores = openSqliteStores({ dataDir: join(dir.path, 'data') });
    try {
      const ids = new Map<string, number>();
      const reads = new Map<string, number>();
      const inserts = new Map<string, number>();
      const log = stores.log;
      for (let p = 0; p < log.partitions; p++) {
        for (let offset = 0; ; ) {
          const records = await log.read(p, offset, 1000);
          if (records.length === 0) break;
          for (const r of records) {
            const type = r.event.type;
            if (!type.startsWith('postgres.public.snap.')) continue;
            ids.set(r.event.id, (ids.get(r.event.id) ?? 0) + 1);
            const key = String((r.event.data as { id: number | string }).id);
            const seen = type.endsWith('.read') ? reads : inserts;
            seen.set(key, (seen.get(key) ?? 0) + 1);
          }
          offset = (records.at(-1)?.offset ?? offset) + 1;
        }
      }
      const twice = [...ids].filter(([, n]) => n > 1);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} events are in the log more than once`);
      const missing = table.rows.filter((row) => !reads.has(row.id) && !inserts.has(row.id));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} rows are not in the log`);
      for (let id = 1; id <= ROWS; id++) {
        if (reads.get(String(id)) !== 1 || inserts.has(String(id))) {
          assert.fail(
            `row ${id}, there before the slot: ${reads.get(String(id))} reads, ${inserts.get(String(id))} inserts`,
          );
        }
      }
      const insertedLater = table.rows.length - ROWS;
      assert.equal(
        inserts.size,
        insertedLater,
        'every row inserted after the slot was made, once, from the stream',
      );
      t.diagnostic(
        `${[...inserts.keys()].filter((k) => reads.has(k)).length} of ${insertedLater} later rows also came as a read (inserted after the slot, before the snapshot was read again)`,
      );
    } finally {
      stores.close();
    }
  } finally {
    writing = false;
    await writer.catch(() => undefined);
    await client.end().catch(() => undefined);
    await kill9(bus);
    await db.stop();
    dir.remove();
  }
});
