/**
 * The `router` handler delivers to `postgres` targets on AWS: the runtime the Lambda builds (createAwsRuntime on
 * the test run's Kafka broker and dynalite) routes an MSK batch to a rule whose target writes into a real PostgreSQL.
 * A delivery made twice (the batch redelivered to the same router; a second router whose ledger never saw the first
 * delivery, as after a crash between the insert and the ledger's record) writes one row. The password is `***` on
 * every read, and the outbound address policy applies as on the embedded bus.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { createRouterHandler } from '../../lib/adapters/aws/handlers.ts';
import { buildMskEvent } from '../../lib/adapters/aws/msk-event.ts';
import { type AwsRuntime, createAwsRuntime, readAwsConfig } from '../../lib/adapters/aws/wiring.ts';
import { createTables } from '../../lib/adapters/dynamodb/client.ts';
import type { ApiRequest } from '../../lib/server/app.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { waitFor } from '../helpers/events.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';
import { lambdaContext } from './runtime.ts';

const skip = kafkaSkip || postgresSkip || false;

function api(method: string, path: string, body?: unknown): ApiRequest {
  return {
    method,
    path,
    query: new URLSearchParams(),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body)),
  };
}

describe('router handler → postgres target (createAwsRuntime, dynalite, Kafka, PostgreSQL)', { skip }, () => {
  const topic = `junction-events.pg-${randomUUID().slice(0, 8)}`;
  let db: TestPostgres;
  let dynalite: Dynalite;
  const prefix = uniquePrefix();
  const runtimes: AwsRuntime[] = [];

  /** A router instance as a Lambda cold start builds it, on its own tables (`prefix`). */
  async function runtime(prefix: string): Promise<AwsRuntime> {
    const rt = await createAwsRuntime(
      readAwsConfig({
        JUNCTION_KAFKA_BOOTSTRAP: testKafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
        // The test database listens on loopback, which the policy refuses unless it is listed.
        JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
        AWS_REGION: 'us-east-1',
      }),
      { onError: () => undefined },
    );
    runtimes.push(rt);
    return rt;
  }

  const rule = () => ({
    pattern: { type: ['com.shop.order.created'] },
    targets: [
      {
        id: 'orders-table',
        type: 'postgres',
        delivery: 'exactly-once',
        connection: db.url,
        table: 'orders',
        columns: { order_id: '$.data.order', total: '$.data.total', event: '$' },
        key: 'delivery',
      },
    ],
  });

  const batch = () =>
    buildMskEvent({
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/junction/1',
      bootstrapServers: [testKafka as string],
      records: ['o-1', 'o-2'].map((order, i) => ({
        topic,
        partition: 0,
        offset: 10 + i,
        timestamp: Date.parse('2026-12-04T09:00:00Z'),
        key: null,
        value: new TextEncoder().encode(
          JSON.stringify({
            specversion: '1.0',
            id: `order-${order}`,
            source: '/shop',
            type: 'com.shop.order.created',
            data: { order, total: 10 * (i + 1) },
          }),
        ),
        headers: [['content-type', new TextEncoder().encode('application/cloudevents+json')]],
      })),
    });

  before(async () => {
    db = await startPostgres();
    await db.query(
      'CREATE TABLE orders (delivery text UNIQUE NOT NULL, order_id text, total numeric, event jsonb)',
    );
    dynalite = await startDynalite(prefix);
  });
  after(async () => {
    for (const rt of runtimes) await rt.close();
    const admin = new Admin({ clientId: 'router-pg-test', bootstrapBrokers: [testKafka as string] });
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close().catch(() => undefined);
    await dynalite?.stop();
    await db?.stop();
  });

  it('accepts the rule through the API and shows its password as *** on every read', async () => {
    const rt = await runtime(prefix);
    const put = await rt.app(api('PUT', '/rules/orders', rule()));
    assert.equal(put.status, 201, String(put.body));
    for (const answer of [
      put,
      await rt.app(api('GET', '/rules/orders')),
      await rt.app(api('GET', '/rules')),
    ]) {
      const text = String(answer.body);
      assert.ok(!text.includes(db.password), text);
      assert.match(text, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
    }
  });

  it('routes a batch into the table, and the batch redelivered writes nothing more', async () => {
    const rt = runtimes[0] as AwsRuntime;
    const route = createRouterHandler(async () => rt, { marginMs: 500 });
    const summary = await route(batch(), lambdaContext(60_000));
    assert.deepEqual(summary, { routed: 2, undecodable: 0, stillRunning: 0 });
    const rows = async () =>
      (await db.query('SELECT delivery, order_id, total, event FROM orders ORDER BY order_id')).rows;
    const first = await rows();
    assert.deepEqual(
      first.map((r) => [r.delivery, r.order_id, r.total]),
      [
        ['orders/orders-table//shop#order-o-1', 'o-1', '10'],
        ['orders/orders-table//shop#order-o-2', 'o-2', '20'],
      ],
    );
    assert.equal((first[0]?.event as { id?: string } | undefined)?.id, 'order-o-1');
    const trace = await rt.junction.trace('order-o-1', '/shop');
    assert.ok(
      trace.entries.some((e) => e.kind === 'delivered' && e.target === 'orders-table'),
      JSON.stringify(trace.entries),
    );
    await route(batch(), lambdaContext(60_000));
    assert.equal((await rows()).length, 2);
  });

  it('writes one row for a delivery made twice (a router whose ledger never saw the first)', async () => {
    // Another instance on fresh tables: its ledger does not know the deliveries above, so it delivers again —
    // what a crash between the insert and the ledger's record leads to. The key column makes the insert a no-op.
    const fresh = uniquePrefix();
    await createTables(dynalite.client, fresh);
    const other = await runtime(fresh);
    assert.equal((await other.app(api('PUT', '/rules/orders', rule()))).status, 201);
    const route = createRouterHandler(async () => other, { marginMs: 500 });
    await route(batch(), lambdaContext(60_000));
    await waitFor(
      async () => {
        const trace = await other.junction.trace('order-o-2', '/shop');
        return trace.entries.some((e) => e.kind === 'delivered' && e.target === 'orders-table');
      },
      'the second router delivered',
      60_000,
    );
    const { rows } = await db.query<{ n: string }>('SELECT count(*)::text AS n FROM orders');
    assert.equal(rows[0]?.n, '2', 'each delivery once in the table');
  });

  it('refuses a target at an address the policy refuses, naming the field', async () => {
    const rt = runtimes[0] as AwsRuntime;
    const body = rule();
    (body.targets[0] as { connection: string }).connection = 'postgres://u:secret@10.1.2.3:5432/shop';
    const refused = await rt.app(api('PUT', '/rules/private', body));
    assert.equal(refused.status, 400, String(refused.body));
    assert.match(String(refused.body), /targets\[0\]\.connection/);
    assert.ok(!String(refused.body).includes('secret'));
  });
});
