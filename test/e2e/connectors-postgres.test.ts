/**
 * The postgres-cdc connector through the API, against a real PostgreSQL: row changes become events in the log, the
 * password is never shown, the host goes through the address guard, pause and resume keep the position; with
 * `snapshot`, the rows already there come first as read events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

describe('the postgres-cdc connector through the API', { skip: postgresSkip }, () => {
  let db: TestPostgres;
  let bus: TestBus;
  let target: HttpTarget;
  before(async () => {
    db = await startPostgres();
    bus = await startTestBus();
    target = await startHttpTarget();
    const rule = await request(bus.url, 'PUT', '/rules/db', {
      pattern: { type: [{ prefix: 'com.example.db.' }] },
      targets: [{ id: 'sink', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await db.query('CREATE TABLE orders (id serial PRIMARY KEY, status text NOT NULL)');
    await db.query('CREATE PUBLICATION shop FOR TABLE orders');
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await db?.stop();
  });

  /** The events of a type delivered (each delivery of the rule is one event, structured JSON). */
  async function logged(type: string): Promise<Array<Record<string, unknown>>> {
    const events = target.received.map((r) => {
      const body = JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;
      return r.headers['ce-type'] === undefined
        ? body
        : { type: r.headers['ce-type'], subject: r.headers['ce-subject'], data: body };
    });
    return events.filter((e) => e.type === type);
  }

  test('refuses a metadata host and a bad field with 400 naming it, never echoing the password', async () => {
    for (const [body, field] of [
      [{ connection: 'postgres://u:hunter2@169.254.169.254:5432/db' }, 'connection'],
      [{ connection: 'postgres://u:hunter2@[::]:5432/db' }, 'connection'],
      [{ publication: 'Shop' }, 'publication'],
      [{ snapshot: 'yes' }, 'snapshot'],
    ] as const) {
      const res = await request(bus.url, 'PUT', '/connectors/bad', {
        ...{ type: 'postgres-cdc', publication: 'shop', slot: 'bad' },
        ...{ connection: 'postgres://u:hunter2@127.0.0.1:5432/db' },
        ...body,
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.field, field);
      assert.ok(!JSON.stringify(res.body).includes('hunter2'));
    }
  });

  test('streams inserts, updates and deletes into the log; the password is redacted on every read', async () => {
    const put = await request(bus.url, 'PUT', '/connectors/shop', {
      type: 'postgres-cdc',
      connection: db.url,
      publication: 'shop',
      slot: 'junction_shop',
      typePrefix: 'com.example.db',
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    for (const res of [
      put,
      await request(bus.url, 'GET', '/connectors/shop'),
      await request(bus.url, 'GET', '/connectors'),
    ]) {
      assert.ok(!JSON.stringify(res.body).includes(db.password), JSON.stringify(res.body));
    }
    assert.equal(put.body.spec.connection, `postgres://postgres:***@127.0.0.1:${db.port}/postgres`);
    await waitFor(
      async () => (await request(bus.url, 'GET', '/connectors/shop')).body.state === 'running',
      'running',
      60_000,
    );
    await db.query("INSERT INTO orders (status) VALUES ('new')");
    await db.query("UPDATE orders SET status = 'paid' WHERE id = 1");
    await db.query('DELETE FROM orders WHERE id = 1');
    await waitFor(
      async () => (await logged('com.example.db.public.orders.delete')).length === 1,
      'the delete in the log',
      60_000,
    );
    const [insert] = await logged('com.example.db.public.orders.insert');
    const [update] = await logged('com.example.db.public.orders.update');
    assert.deepEqual(insert?.data, { before: null, after: { id: 1, status: 'new' } });
    assert.deepEqual(update?.data, { before: null, after: { id: 1, status: 'paid' } });
    assert.equal(insert?.subject, 'id=1');
    // The connector counts an event when the log's answer reaches it, which can be after the router has delivered it.
    await waitFor(
      async () => (await request(bus.url, 'GET', '/connectors/shop')).body.events === 3,
      'the connector counting the 3 events',
      60_000,
    );
    const status = await request(bus.url, 'GET', '/connectors/shop');
    assert.equal(status.body.events, 3);
    assert.ok(status.body.position.lsn > 0, JSON.stringify(status.body));

    // Paused, changes wait in the slot; resumed, they come, once.
    const paused = await request(bus.url, 'POST', '/connectors/shop/pause', {});
    assert.equal(paused.body.state, 'paused');
    await db.query("INSERT INTO orders (status) VALUES ('while-paused')");
    await request(bus.url, 'POST', '/connectors/shop/resume', {});
    await waitFor(
      async () => (await logged('com.example.db.public.orders.insert')).length === 2,
      'the insert made while paused',
      60_000,
    );
    const deleted = await request(bus.url, 'DELETE', '/connectors/shop');
    assert.equal(deleted.status, 204);
    await waitFor(
      async () => {
        const { rows } = await db.query<{ active: boolean }>(
          "SELECT active FROM pg_replication_slots WHERE slot_name = 'junction_shop'",
        );
        return rows[0]?.active === false;
      },
      'the slot let go',
      60_000,
    );
    assert.equal((await logged('com.example.db.public.orders.insert')).length, 2);
  });
  test('snapshot: the rows already in the table come as read events, then the changes, each once', async () => {
    await db.query('CREATE TABLE stock (sku text PRIMARY KEY, qty int NOT NULL)');
    await db.query("INSERT INTO stock SELECT 'sku-' || g, g FROM generate_series(1, 30) AS g");
    await db.query('CREATE PUBLICATION stockpub FOR TABLE stock');
    const put = await request(bus.url, 'PUT', '/connectors/stock', {
      type: 'postgres-cdc',
      connection: db.url,
      publication: 'stockpub',
      slot: 'junction_stock',
      snapshot: true,
      maxBatch: 7,
      typePrefix: 'com.example.db',
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.spec.snapshot, true);
    await waitFor(
      async () => (await logged('com.example.db.public.stock.read')).length === 30,
      'the 30 rows as read events',
      60_000,
    );
    await db.query("UPDATE stock SET qty = 0 WHERE sku = 'sku-3'");
    await waitFor(
      async () => (await logged('com.example.db.public.stock.update')).length === 1,
      'the update after the snapshot',
      60_000,
    );
    const reads = await logged('com.example.db.public.stock.read');
    assert.equal(new Set(reads.map((e) => e.subject)).size, 30);
    const third = reads.find((e) => e.subject === 'sku=sku-3');
    assert.deepEqual(third?.data, { before: null, after: { sku: 'sku-3', qty: 3 } });
    // Counted when the log's answer reaches the connector, which can be after the delivery (see above).
    await waitFor(
      async () => (await request(bus.url, 'GET', '/connectors/stock')).body.events >= 31,
      'the connector counting the 31 events',
      60_000,
    );
    const status = await request(bus.url, 'GET', '/connectors/stock');
    assert.equal(status.body.state, 'running');
    assert.equal(status.body.events, 31);
    assert.equal(status.body.duplicates, 0);
    assert.equal((await request(bus.url, 'DELETE', '/connectors/stock')).status, 204);
  });
});
