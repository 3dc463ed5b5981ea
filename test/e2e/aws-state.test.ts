/**
 * Aggregation and correlation on the AWS path, on this machine: rules put through the api handler, events into a
 * real Kafka broker, the local MSK event source mapping → the router handler (state in DynamoDB on dynalite,
 * behind a proxy that can fail a commit), the scheduler handler ticking the correlation timers. A count aggregation
 * and an absence rule give their events once each, also when a commit fails (the mapping re-delivers the batch)
 * and when a batch is delivered again after it was applied.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createApiHandler,
  createRouterHandler,
  createSchedulerHandler,
} from '../../lib/adapters/aws/handlers.ts';
import type { MskEvent } from '../../lib/adapters/aws/msk-event.ts';
import { type AwsRuntime, createAwsRuntime, readAwsConfig } from '../../lib/adapters/aws/wiring.ts';
import { DynamoAggregateStore } from '../../lib/adapters/dynamodb/aggregate-store.ts';
import { type MskPoller, startMskPoller } from '../../lib/adapters/kafka/msk-poller.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { apiGatewayRequest as apiRequest } from '../helpers/aws-fixtures.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip = kafka === undefined ? 'no Kafka broker: JUNCTION_TEST_KAFKA is unset' : false;

/** A proxy to dynalite that, while armed, fails the commits (fence updates) of the state table. */
interface FaultyProxy {
  readonly endpoint: string;
  /** Fails the next `n` fence updates of the state table with a non-retriable error. */
  arm(n: number): void;
  readonly failed: () => number;
  close(): Promise<void>;
}

async function startFaultyProxy(upstream: string): Promise<FaultyProxy> {
  let armed = 0;
  let failed = 0;
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '');
      const text = body.toString('utf8');
      if (armed > 0 && op.endsWith('.UpdateItem') && text.includes('-state"') && text.includes('!fence')) {
        if (text.includes('SET fence')) {
          armed--;
          failed++;
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(
            JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'injected' }),
          );
          return;
        }
      }
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      out.on('error', (e) => res.destroy(e));
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    arm: (n) => {
      armed = n;
    },
    failed: () => failed,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The data of the events the target receives (binary mode: the body is the data). */
type Data = { key?: string; aggregates?: { orders?: number } };

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const event = (id: string, type: string, data: Record<string, unknown>, at: number): CloudEvent =>
  ({
    specversion: '1.0',
    id,
    source: '/shop',
    type,
    time: new Date(at).toISOString(),
    partitionkey: 'shop',
    datacontenttype: 'application/json',
    data,
  }) as unknown as CloudEvent;

describe('AWS path: aggregation and correlation state in DynamoDB (Kafka, dynalite)', { skip }, () => {
  let dynalite: Dynalite;
  let proxy: FaultyProxy;
  let target: HttpTarget;
  let poller: MskPoller | undefined;
  let rt: AwsRuntime;
  let prefix: string;
  const delivered: MskEvent[] = [];
  const topic = `junction-state-${randomUUID().slice(0, 8)}`;

  before(async () => {
    prefix = uniquePrefix();
    dynalite = await startDynalite(prefix);
    proxy = await startFaultyProxy(dynalite.endpoint);
    target = await startHttpTarget();
    rt = await createAwsRuntime(
      readAwsConfig({
        AWS_REGION: 'us-east-1',
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_KAFKA_BOOTSTRAP: kafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
        JUNCTION_DYNAMODB_ENDPOINT: proxy.endpoint,
      }),
      { onError: () => {} },
    );
  });

  after(async () => {
    await poller?.close();
    await rt?.close();
    await target?.close();
    await proxy?.close();
    await dynalite?.stop();
  });

  const provider = () => Promise.resolve(rt);
  const context = () => {
    const until = Date.now() + 60_000;
    return { getRemainingTimeInMillis: () => until - Date.now() };
  };

  const received = (type: string) =>
    target.received
      .filter((r) => r.headers['ce-type'] === type)
      .map((r) => ({ id: String(r.headers['ce-id']), data: JSON.parse(r.body.toString('utf8')) as Data }));

  it('accepts aggregation and correlation rules through the api handler', async () => {
    const api = createApiHandler(provider);
    const put = async (name: string, rule: unknown) => {
      const answer = await api(apiRequest('PUT', `/rules/${name}`, JSON.stringify(rule)));
      assert.equal(answer.statusCode, 201, answer.body);
    };
    await put('paid-per-region', {
      pattern: { type: ['order.paid'] },
      aggregate: {
        groupBy: '$.data.region',
        window: { tumbling: '1m' },
        aggregates: { orders: { count: {} } },
        emit: { type: 'orders.counted', source: '/aggregations/paid' },
      },
    });
    await put('unpaid', {
      correlate: {
        first: { pattern: { type: ['order.created'] } },
        followedBy: { filter: "type = 'order.paid'" },
        key: '$.data.orderId',
        within: '2s',
        mode: 'absence',
        emit: { type: 'order.unpaid', source: '/correlations/unpaid' },
      },
    });
    await put('sink', {
      pattern: { type: ['orders.counted', 'order.unpaid'] },
      targets: [{ id: 'hook', type: 'http', url: `${target.url}/hook` }],
    });
  });

  it('counts once across a failed commit and a batch delivered again; times out the unpaid order once', async () => {
    const router = createRouterHandler(provider);
    const scheduler = createSchedulerHandler(provider);
    poller = await startMskPoller({
      bootstrap: [kafka as string],
      topic,
      group: 'junction-router',
      batchWindowMs: 200,
      handler: async (msk, ctx) => {
        delivered.push(msk);
        return router(msk, ctx);
      },
    });
    const store = new DynamoAggregateStore({ client: dynalite.client, table: `${prefix}-state` });
    const fenced = async () => {
      for (let p = 0; p < 32; p++) if ((await store.load(p)).fence > 0) return true;
      return false;
    };
    // The first commit of the aggregation fails: the handler throws and the mapping delivers the batch again.
    proxy.arm(1);
    await rt.junction.publish([
      event('c-1', 'order.created', { orderId: 'o-1' }, T0 + 1_000),
      event('c-2', 'order.created', { orderId: 'o-2' }, T0 + 2_000),
      event('p-1', 'order.paid', { orderId: 'o-2', region: 'eu' }, T0 + 10_000),
      event('p-2', 'order.paid', { orderId: 'x-2', region: 'eu' }, T0 + 20_000),
      event('p-3', 'order.paid', { orderId: 'x-3', region: 'eu' }, T0 + 30_000),
    ]);
    await waitFor(fenced, 'the batch applied to the aggregation state', 120_000);
    assert.equal(proxy.failed(), 1, 'a commit failed');
    // Every batch delivered so far, delivered again: records below the fence are skipped.
    for (const msk of [...delivered]) await router(msk, context());
    // A later event moves the watermark past the window's end: the window [0, 1m) closes.
    await rt.junction.publish([event('p-4', 'order.paid', { orderId: 'x-4', region: 'eu' }, T0 + 65_000)]);
    await waitFor(() => received('orders.counted').length >= 1, 'the window event', 120_000);
    // o-1 was never paid: the scheduler's tick times it out (log time); o-2 was paid.
    await waitFor(
      async () => {
        await scheduler(undefined, context());
        return received('order.unpaid').length >= 1;
      },
      'the timeout event',
      120_000,
    );
    for (const msk of [...delivered]) await router(msk, context());
    await scheduler(undefined, context());
    // Once more everything settles: nothing new arrives at the target.
    await waitFor(() => rt.junction.dispatcher.inFlight === 0, 'deliveries idle', 60_000);
    const counted = received('orders.counted');
    assert.equal(counted.length, 1, 'one window event');
    assert.equal(counted[0]?.data.aggregates?.orders, 3, 'each paid order counted once');
    assert.equal(counted[0]?.data.key, 'eu');
    const unpaid = received('order.unpaid');
    assert.equal(unpaid.length, 1, 'one timeout event');
    assert.equal(JSON.stringify(unpaid[0]?.data).includes('o-1'), true, 'for o-1');
    assert.equal(JSON.stringify(unpaid).includes('o-2'), false, 'not for the paid o-2');
  });
  it('another instance that held the partition before reads the state afresh (no stale window published)', async () => {
    await poller?.close();
    poller = undefined;
    // A second Lambda instance: its own engine over the same tables and topic.
    const other = await createAwsRuntime(
      readAwsConfig({
        AWS_REGION: 'us-east-1',
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_KAFKA_BOOTSTRAP: kafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
        JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      }),
      { onError: () => {} },
    );
    try {
      const routers = [createRouterHandler(provider), createRouterHandler(() => Promise.resolve(other))];
      let instance = 0;
      let invocations = 0;
      poller = await startMskPoller({
        bootstrap: [kafka as string],
        topic,
        group: 'junction-router',
        batchWindowMs: 200,
        handler: async (msk, ctx) => {
          const out = await (routers[instance] as (e: unknown, c?: unknown) => Promise<unknown>)(msk, ctx);
          invocations++;
          return out;
        },
      });
      const applied = async (n: number) => waitFor(() => invocations >= n, `invocation ${n}`, 120_000);
      // Instance 0 folds the first order of window [2m, 3m) for "us" and keeps the state in memory.
      await rt.junction.publish([event('u-1', 'order.paid', { orderId: 'u-1', region: 'us' }, T0 + 125_000)]);
      await applied(1);
      // Instance 1 folds two more.
      instance = 1;
      const before = invocations;
      await rt.junction.publish([
        event('u-2', 'order.paid', { orderId: 'u-2', region: 'us' }, T0 + 130_000),
        event('u-3', 'order.paid', { orderId: 'u-3', region: 'us' }, T0 + 135_000),
      ]);
      await applied(before + 1);
      // Back on instance 0, an event past the window's end closes it: counted from the stored state, 3.
      instance = 0;
      await rt.junction.publish([event('u-4', 'order.paid', { orderId: 'u-4', region: 'us' }, T0 + 190_000)]);
      await waitFor(
        () => received('orders.counted').some((e) => e.data.key === 'us'),
        'the window event for us',
        120_000,
      );
      await waitFor(() => rt.junction.dispatcher.inFlight === 0, 'deliveries idle', 60_000);
      const us = received('orders.counted').filter((e) => e.data.key === 'us');
      assert.equal(us.length, 1);
      assert.equal(
        us[0]?.data.aggregates?.orders,
        3,
        'the window counted from the state both instances wrote',
      );
    } finally {
      await poller?.close();
      poller = undefined;
      await other.close();
    }
  });
});
