/** The PostgreSQL CDC source against a real PostgreSQL started by the test: the shared Source suite, and its own. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PostgresCdcSource } from '../../../lib/adapters/postgres/source.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { type PostgresCdcConnectorSpec, validateConnectorSpec } from '../../../lib/core/connector.ts';
import type { InvalidSourceRecord, SourceBatch } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../../helpers/postgres.ts';
import { sourceSuite } from '../../ports/source.suite.ts';

describe('PostgreSQL CDC source', { skip: postgresSkip }, () => {
  let db: TestPostgres;
  before(async () => {
    db = await startPostgres();
  });
  after(async () => {
    await db?.stop();
  });

  function spec(extra: Record<string, unknown>): PostgresCdcConnectorSpec {
    return validateConnectorSpec({
      type: 'postgres-cdc',
      connection: db.url,
      ...extra,
    }) as PostgresCdcConnectorSpec;
  }

  /** A table, a publication of it and a slot name, all fresh. */
  async function place(
    columns = 'n int, big text',
  ): Promise<{ table: string; publication: string; slot: string }> {
    const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
    const table = `t_${suffix}`;
    await db.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, ${columns})`);
    await db.query(`CREATE PUBLICATION p_${suffix} FOR TABLE ${table}`);
    return { table, publication: `p_${suffix}`, slot: `s_${suffix}` };
  }

  async function dropSlot(slot: string): Promise<void> {
    await waitFor(
      async () => {
        try {
          await db.query(
            'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          );
          return true;
        } catch {
          return false; // still active: its connection is closing
        }
      },
      `slot ${slot} dropped`,
      60_000,
    );
  }

  sourceSuite('PostgresCdcSource (shared suite)', {
    fixture: async () => {
      const { table, publication, slot } = await place();
      // The slot is the place's position: made with the place, so that what is written before the first start is
      // read (as a Kafka group starting from the earliest offset would).
      await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot]);
      return {
        open: () =>
          new PostgresCdcSource({ spec: spec({ publication, slot, data: 'row' }), maxEventBytes: 64 * 1024 }),
        write: async (ns) => {
          // One transaction per row: each a commit of its own.
          for (const n of ns) await db.query(`INSERT INTO ${table} (n) VALUES ($1)`, [n]);
        },
        writeInvalid: async () => {
          // Larger than the event size limit: it cannot become an event.
          await db.query(`INSERT INTO ${table} (n, big) VALUES (-1, $1)`, ['x'.repeat(100 * 1024)]);
        },
        cleanup: async () => {
          await dropSlot(slot);
          await db.query(`DROP PUBLICATION IF EXISTS ${publication}`);
          await db.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
  });

  test('one event per row change: type, {before, after}, the transaction as extensions, ids from the commit LSN', async () => {
    const { table, publication, slot } = await place(
      'n int, label text, at timestamptz, raw bytea, big bigint',
    );
    await db.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
    const batches: SourceBatch[] = [];
    const source = new PostgresCdcSource({
      spec: spec({ publication, slot, typePrefix: 'com.example.db', source: '/shop' }),
    });
    try {
      await source.start({ handle: async (batch) => void batches.push(batch), onWarning: () => {} });
      await db.query('BEGIN');
      await db.query(
        `INSERT INTO ${table} (n, label, at, raw, big) VALUES (1, 'a', '2026-01-02T03:04:05Z', '\\x0102', 9007199254740993)`,
      );
      await db.query(`INSERT INTO ${table} (n, label) VALUES (2, 'b')`);
      await db.query('COMMIT');
      await db.query(`UPDATE ${table} SET label = 'A' WHERE n = 1`);
      await db.query(`DELETE FROM ${table} WHERE n = 2`);
      const events = (): CloudEvent[] => batches.flatMap((b) => [...b.events]);
      await waitFor(() => events().length >= 4, 'four events', 60_000);
      const [insert1, insert2, update, remove] = events() as [CloudEvent, CloudEvent, CloudEvent, CloudEvent];
      assert.equal(insert1.type, `com.example.db.public.${table}.insert`);
      assert.equal(update.type, `com.example.db.public.${table}.update`);
      assert.equal(remove.type, `com.example.db.public.${table}.delete`);
      assert.equal(insert1.source, '/shop');
      assert.equal(insert1.subject, undefined, 'REPLICA IDENTITY FULL: no key to name');
      assert.deepEqual(insert1.data, {
        before: null,
        after: {
          id: 1,
          n: 1,
          label: 'a',
          at: '2026-01-02T03:04:05.000Z',
          raw: 'AQI=',
          big: '9007199254740993',
        },
      });
      assert.deepEqual((update.data as { before: { label: string } }).before.label, 'a');
      assert.deepEqual((update.data as { after: { label: string } }).after.label, 'A');
      assert.deepEqual((remove.data as { before: { n: number } }).before.n, 2);
      assert.equal((remove.data as { after: unknown }).after, null);
      // One transaction: one commit LSN, one xid, ids by index in it.
      assert.equal(insert1.pglsn, insert2.pglsn);
      assert.equal(insert1.pgxid, insert2.pgxid);
      assert.notEqual(insert1.pglsn, update.pglsn);
      assert.equal(insert1.id, `${insert1.pglsn}:0`);
      assert.equal(insert2.id, `${insert1.pglsn}:1`);
      assert.equal(insert1.time, insert1.pgcommittime);
      assert.ok(Number.isFinite(Date.parse(String(insert1.time))));
      // Confirmed on the server once taken.
      await waitFor(
        async () => {
          const status = await source.status();
          const slotRow = await db.query(
            'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
            [slot],
          );
          return status.lag === 0 && slotRow.rows[0]?.lsn !== undefined && status.position.lsn !== undefined;
        },
        'confirmed',
        60_000,
      );
    } finally {
      await source.close();
      await dropSlot(slot);
    }
  });

  test('a large transaction is handed over in batches of maxBatch, confirmed only at its commit', async () => {
    const { table, publication, slot } = await place();
    const sizes: number[] = [];
    const invalid: InvalidSourceRecord[] = [];
    const source = new PostgresCdcSource({ spec: spec({ publication, slot, maxBatch: 100, data: 'row' }) });
    try {
      await source.start({
        handle: async (batch) => {
          sizes.push(batch.events.length);
          invalid.push(...batch.invalid);
        },
        onWarning: () => {},
      });
      await db.query(`INSERT INTO ${table} (n) SELECT g FROM generate_series(1, 1050) AS g`);
      await waitFor(() => sizes.reduce((a, b) => a + b, 0) >= 1050, '1050 events', 60_000);
      assert.ok(
        sizes.every((n) => n <= 100),
        `no batch over maxBatch: ${sizes.join(',')}`,
      );
      assert.equal(invalid.length, 0);
    } finally {
      await source.close();
      await dropSlot(slot);
    }
  });

  test('an unchanged TOASTed value is left out of an update, not shown as null', async () => {
    const { table, publication, slot } = await place('n int, big text');
    const batches: SourceBatch[] = [];
    const source = new PostgresCdcSource({ spec: spec({ publication, slot }) });
    try {
      await source.start({ handle: async (batch) => void batches.push(batch), onWarning: () => {} });
      // Random text, so that compression leaves it over the TOAST threshold: stored out of line.
      await db.query(
        `INSERT INTO ${table} (n, big) SELECT 1, string_agg(md5(random()::text), '') FROM generate_series(1, 400)`,
      );
      await db.query(`UPDATE ${table} SET n = 2`);
      const events = (): CloudEvent[] => batches.flatMap((b) => [...b.events]);
      await waitFor(() => events().length >= 2, 'two events', 60_000);
      const [insert, update] = events() as [CloudEvent, CloudEvent];
      assert.equal(((insert.data as { after: { big: string } }).after.big ?? '').length, 400 * 32);
      assert.deepEqual((update.data as { after: unknown }).after, { id: 1, n: 2 });
    } finally {
      await source.close();
      await dropSlot(slot);
    }
  });

  test('a missing publication fails the start with the reason', async () => {
    const source = new PostgresCdcSource({ spec: spec({ publication: 'no_such_pub', slot: 'never_made' }) });
    await assert.rejects(
      source.start({ handle: async () => {}, onWarning: () => {} }),
      /publication "no_such_pub" does not exist/,
    );
    await source.close();
  });
});
