/**
 * The `postgres` target (issue #18, the PostgreSQL sink) against a real PostgreSQL: a row per event from JSON paths,
 * idempotent by the delivery key (test/adapters/postgres/sink.test.ts repeats a delivery), upserts by a unique constraint, the password never
 * shown, data errors dead-lettered without retries, the address guard on the host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const CE = { 'content-type': 'application/cloudevents+json' };
const BATCH = { 'content-type': 'application/cloudevents-batch+json' };

describe('the postgres target', { skip: postgresSkip }, () => {
  let db: TestPostgres;
  let bus: TestBus;
  before(async () => {
    db = await startPostgres();
    bus = await startTestBus();
    await db.query(
      'CREATE TABLE orders (delivery text UNIQUE, order_id text, total numeric, customer jsonb, event jsonb)',
    );
    await db.query('CREATE TABLE stock (sku text PRIMARY KEY, level int NOT NULL, updated_by text)');
  });
  after(async () => {
    await bus?.stop();
    await db?.stop();
  });
  const rows = async (sql: string) => (await db.query(sql)).rows as Array<Record<string, unknown>>;

  test('inserts a row per event from JSON paths; the same events again are duplicates, not rows', async () => {
    const rule = await request(bus.url, 'PUT', '/rules/orders-to-pg', {
      pattern: { type: ['order.created'] },
      targets: [
        {
          id: 'table',
          type: 'postgres',
          delivery: 'exactly-once',
          connection: db.url,
          table: 'public.orders',
          columns: { order_id: '$.data.id', total: '$.data.total', customer: '$.data.customer', event: '$' },
          key: 'delivery',
        },
      ],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const events = Array.from({ length: 20 }, (_, i) => ({
      specversion: '1.0',
      id: `o-${i}`,
      source: '/shop',
      type: 'order.created',
      data: { id: `order-${i}`, total: 10.5 + i, customer: { name: `c${i}` } },
    }));
    const res = await request(bus.url, 'POST', '/events', JSON.stringify(events), BATCH);
    assert.equal(res.body.accepted, 20);
    await waitFor(
      async () => (await rows('SELECT count(*)::int AS n FROM orders'))[0]?.n === 20,
      '20 rows',
      60_000,
    );
    const one = (await rows("SELECT * FROM orders WHERE order_id = 'order-3'"))[0] as Record<string, unknown>;
    assert.equal(one.total, '13.5');
    assert.deepEqual(one.customer, { name: 'c3' });
    assert.equal((one.event as { id: string }).id, 'o-3');
    assert.equal(one.delivery, 'orders-to-pg/table//shop#o-3');
    // The same events published again are duplicates for the log: no new delivery, no new row.
    const again = await request(bus.url, 'POST', '/events', JSON.stringify(events), BATCH);
    assert.equal(again.body.duplicates, 20, JSON.stringify(again.body));
    assert.equal((await rows('SELECT count(*)::int AS n FROM orders'))[0]?.n, 20);
  });

  test('upserts by a unique constraint: the last event per key wins', async () => {
    const rule = await request(bus.url, 'PUT', '/rules/stock-to-pg', {
      pattern: { type: ['stock.level'] },
      targets: [
        {
          id: 'levels',
          type: 'postgres',
          connection: db.url,
          table: 'stock',
          columns: { sku: '$.data.sku', level: '$.data.level', updated_by: '$.id' },
          upsert: ['sku'],
          ordering: { key: '$.data.sku' },
        },
      ],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    for (let i = 0; i < 5; i++) {
      const res = await request(
        bus.url,
        'POST',
        '/events',
        {
          specversion: '1.0',
          id: `s-${i}`,
          source: '/wh',
          type: 'stock.level',
          data: { sku: 'A', level: i },
        },
        CE,
      );
      assert.equal(res.status, 202);
    }
    await waitFor(
      async () => (await rows("SELECT * FROM stock WHERE sku = 'A'"))[0]?.updated_by === 's-4',
      'the last level',
      60_000,
    );
    assert.deepEqual(await rows('SELECT sku, level, updated_by FROM stock'), [
      { sku: 'A', level: 4, updated_by: 's-4' },
    ]);
  });

  test('a row the table refuses is dead-lettered at once (no retries), with the database error', async () => {
    const rule = await request(bus.url, 'PUT', '/rules/bad-rows', {
      pattern: { type: ['stock.bad'] },
      targets: [
        {
          id: 'levels',
          type: 'postgres',
          connection: db.url,
          table: 'stock',
          columns: { sku: '$.data.sku', level: '$.data.level' },
          retry: { maxAttempts: 5, backoff: { initialMs: 60_000 } },
        },
      ],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'b-1', source: '/wh', type: 'stock.bad', data: { sku: 'B', level: 'lots' } },
      CE,
    );
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/dead-letters?rule=bad-rows')).body.deadLetters.length === 1,
      'the dead letter',
      60_000,
    );
    const letter = (await request(bus.url, 'GET', '/dead-letters?rule=bad-rows')).body.deadLetters[0];
    assert.equal(letter.attempts.length, 1, 'a data error is not retried');
    assert.match(JSON.stringify(letter), /22P02/, 'invalid input syntax for type integer');
  });

  test('reads show the password as ***, and a rule read back and put again keeps it', async () => {
    const read = await request(bus.url, 'GET', '/rules/orders-to-pg');
    const connection = read.body.targets[0].connection as string;
    assert.ok(!connection.includes(db.password), connection);
    assert.match(connection, /:\*\*\*@/);
    const list = await request(bus.url, 'GET', '/rules');
    assert.ok(!JSON.stringify(list.body).includes(db.password));
    const again = await request(bus.url, 'PUT', '/rules/orders-to-pg', {
      pattern: read.body.pattern,
      targets: read.body.targets,
    });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'o-kept', source: '/shop', type: 'order.created', data: { id: 'kept' } },
      CE,
    );
    await waitFor(
      async () => (await rows("SELECT count(*)::int AS n FROM orders WHERE order_id = 'kept'"))[0]?.n === 1,
      'a row written with the kept password',
      60_000,
    );
    const fresh = await request(bus.url, 'PUT', '/rules/new-pg', {
      pattern: { type: ['x'] },
      targets: [
        { id: 't', type: 'postgres', connection: connection, table: 'orders', columns: { order_id: '$.id' } },
      ],
    });
    assert.equal(fresh.status, 400, 'a *** with nothing stored to keep');
    assert.equal(fresh.body.error.field, 'targets[0].connection');
  });

  test('refuses bad settings with 400 naming the field, never echoing the password', async () => {
    const base = {
      id: 't',
      type: 'postgres',
      connection: db.url,
      table: 'orders',
      columns: { order_id: '$.id' },
    };
    for (const [change, field] of [
      [{ connection: 'postgres://u:hunter2@169.254.169.254:5432/db' }, 'targets[0].connection'],
      [{ connection: 'mysql://u:hunter2@127.0.0.1/db' }, 'targets[0].connection'],
      [{ table: 'orders; DROP TABLE orders' }, 'targets[0].table'],
      [{ table: 'a.b.c' }, 'targets[0].table'],
      [{ columns: {} }, 'targets[0].columns'],
      [{ columns: { 'x"y': '$.id' } }, 'targets[0].columns.x"y'],
      [{ columns: { order_id: 'id' } }, 'targets[0].columns.order_id'],
      [{ key: 'order_id' }, 'targets[0].key'],
      [{ upsert: ['nope'] }, 'targets[0].upsert[0]'],
      [{ key: 'delivery', upsert: ['order_id'] }, 'targets[0].upsert'],
      [{ url: 'http://x' }, 'targets[0].url'],
    ] as const) {
      const res = await request(bus.url, 'PUT', '/rules/bad', {
        pattern: { type: ['x'] },
        targets: [{ ...base, ...change }],
      });
      assert.equal(res.status, 400, `${JSON.stringify(change)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.ok(!JSON.stringify(res.body).includes('hunter2'));
      assert.ok(!JSON.stringify(res.body).includes(db.password));
    }
  });
});
