/**
 * The deployed code path end to end, on this machine: the `ingest` handler (recorded API Gateway events) → a real
 * Kafka broker → the local MSK event source mapping → the `router` handler → a function target (Lambda Invoke,
 * against the stand-in Lambda API, running the deployed zip) and an HTTP target; DynamoDB stores on dynalite.
 * The handlers are the modules in functions/, configured only through the environment, as in Lambda.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@platformatic/kafka';
import type { ApiGatewayResult } from '../../lib/adapters/aws/apigateway.ts';
import type { AwsRuntime } from '../../lib/adapters/aws/wiring.ts';
import { type MskPoller, startMskPoller } from '../../lib/adapters/kafka/msk-poller.ts';
import { type FakeLambda, startFakeLambda } from '../adapters/lambda/fake-lambda.ts';
import { apiGatewayRequest as apiRequest, awsFixture as fixture } from '../helpers/aws-fixtures.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { repoRoot } from '../helpers/paths.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip = kafka === undefined ? 'no Kafka broker: JUNCTION_TEST_KAFKA is unset' : false;

type Handler<R> = (event: unknown, context?: unknown) => Promise<R>;
const lambdaContext = () => {
  const until = Date.now() + 30_000;
  return { getRemainingTimeInMillis: () => until - Date.now() };
};

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An HTTP API (2.0) request to the management API, shaped like the recorded one. */
describe('AWS path: ingest → Kafka → MSK poller → router → function and HTTP targets (dynalite)', {
  skip,
}, () => {
  const saved = { ...process.env };
  let dynalite: Dynalite;
  let lambda: FakeLambda;
  let target: HttpTarget;
  let poller: MskPoller;
  let ingest: Handler<ApiGatewayResult>;
  let api: Handler<ApiGatewayResult>;
  let router: Handler<unknown>;
  let scheduler: Handler<{ taken: number }>;
  let runtime: () => Promise<AwsRuntime>;
  const topic = `junction-events-${randomUUID().slice(0, 8)}`;

  before(async () => {
    const prefix = uniquePrefix();
    dynalite = await startDynalite(prefix);
    lambda = await startFakeLambda();
    target = await startHttpTarget();
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_KAFKA_BOOTSTRAP: kafka,
      JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
      JUNCTION_KAFKA_TOPIC: topic,
      JUNCTION_FUNCTION_PREFIX: 'junction-fn-',
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/junction-functions',
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      JUNCTION_LAMBDA_ENDPOINT: lambda.endpoint,
    });
    delete process.env.JUNCTION_KAFKA_CLUSTER_ARN;
    ingest = (await import('../../functions/ingest.ts')).handler as Handler<ApiGatewayResult>;
    api = (await import('../../functions/api.ts')).handler as Handler<ApiGatewayResult>;
    router = (await import('../../functions/router.ts')).handler as Handler<unknown>;
    scheduler = (await import('../../functions/scheduler.ts')).handler as Handler<{ taken: number }>;
    runtime = (await import('../../lib/adapters/aws/wiring.ts')).awsRuntime;
  });

  after(async () => {
    await poller?.close();
    await (await runtime?.())?.close();
    await target?.close();
    await lambda?.close();
    await dynalite?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('deploys a function and puts a rule through the api handler', async () => {
    const source = readFileSync(join(repoRoot, 'test', 'fixtures', 'functions', 'echo.ts'), 'utf8');
    const deployed = await api(apiRequest('PUT', '/functions/echo', source));
    assert.equal(deployed.statusCode, 200, deployed.body);
    const create = lambda.requests.find((r) => r.method === 'POST' && r.path === '/2015-03-31/functions');
    assert.equal((create?.json as { Runtime?: string } | undefined)?.Runtime, 'nodejs22.x');
    const rule = {
      pattern: { type: ['com.shop.order.created'], data: { total: [{ numeric: ['>', 100] }] } },
      targets: [
        { id: 'fulfil', type: 'function', function: 'echo' },
        { id: 'audit', type: 'http', url: `${target.url}/hook` },
      ],
    };
    const put = await api(apiRequest('PUT', '/rules/big-orders', JSON.stringify(rule)));
    assert.equal(put.statusCode, 201, put.body);
  });

  it('ingests the recorded events into Kafka and routes them from the poller to both targets', async () => {
    poller = await startMskPoller({
      bootstrap: [kafka as string],
      topic,
      group: 'junction-router',
      batchWindowMs: 200,
      handler: (event, context) => router(event, context),
    });
    const single = await ingest(fixture('apigw-http-v2-ingest'));
    assert.equal(single.statusCode, 202, single.body);
    assert.deepEqual(JSON.parse(single.body), { id: 'order-1', duplicate: false });
    const batch = await ingest(fixture('apigw-rest-v1-ingest'));
    assert.equal(batch.statusCode, 200, batch.body);
    assert.equal((JSON.parse(batch.body) as { accepted: number }).accepted, 1);
    // The producer retried: accepted once (the dedup store is the DynamoDB one).
    assert.deepEqual(JSON.parse((await ingest(fixture('apigw-http-v2-ingest'))).body), {
      id: 'order-1',
      duplicate: true,
    });

    await until(() => target.received.length >= 1, 'the HTTP target');
    await until(() => (lambda.functions.get('junction-fn-echo')?.invocations ?? 0) >= 1, 'the function');
    const hook = target.received[0];
    assert.equal(hook?.headers['ce-id'], 'order-1');
    assert.equal(hook?.headers['idempotency-key'], '/shop#order-1');
    const invoke = lambda.requests.find(
      (r) => r.path === '/2015-03-31/functions/junction-fn-echo/invocations',
    );
    assert.equal(invoke?.headers['x-amz-invocation-type'], 'RequestResponse');
    assert.equal((invoke?.json as { event: { id: string } } | undefined)?.event.id, 'order-1');

    // The trace (in DynamoDB) through the api handler: received from Kafka, both targets delivered.
    await until(async () => {
      const trace = await api(apiRequest('GET', '/events/order-1/trace', undefined, 'source=/shop'));
      if (trace.statusCode !== 200) return false;
      const kinds = (
        JSON.parse(trace.body) as { entries: Array<{ kind: string; target?: string }> }
      ).entries.map((e) => `${e.kind}:${e.target ?? ''}`);
      return kinds.includes('delivered:fulfil') && kinds.includes('delivered:audit');
    }, 'order-1 delivered to both targets');
    const trace = JSON.parse(
      (await api(apiRequest('GET', '/events/order-1/trace', undefined, 'source=/shop'))).body,
    ) as {
      entries: Array<{ kind: string; detail?: { partition?: number; offset?: number } }>;
    };
    const received = trace.entries.find((e) => e.kind === 'received');
    assert.equal(typeof received?.detail?.partition, 'number');
    assert.equal(typeof received?.detail?.offset, 'number');

    // order-2 (total 80) matched nothing; the echo's returned event came back through Kafka and matched nothing.
    await until(
      async () =>
        (await api(apiRequest('GET', '/events/order-2/trace', undefined, 'source=/shop'))).statusCode === 200,
      'order-2 traced',
    );
    const unmatched = JSON.parse(
      (await api(apiRequest('GET', '/events/order-2/trace', undefined, 'source=/shop'))).body,
    ) as {
      entries: Array<{ kind: string }>;
    };
    assert.deepEqual(
      unmatched.entries.map((e) => e.kind),
      ['received', 'unmatched'],
    );
    await until(
      async () =>
        (await api(apiRequest('GET', '/events/order-1-echo/trace', undefined, 'source=/functions/echo')))
          .statusCode === 200,
      "the function's returned event routed",
    );
    assert.equal(target.received.length, 1, 'the HTTP target got order-1 once');
  });

  it('dead-letters a record on the topic that is not a CloudEvent, with its raw bytes, and goes on', async () => {
    const producer = new Producer({ clientId: 'aws-path-test', bootstrapBrokers: [kafka as string] });
    try {
      await producer.send({
        messages: [
          {
            topic,
            partition: 0,
            key: Buffer.from('raw'),
            value: Buffer.from('\u0000not json'),
            headers: new Map([[Buffer.from('content-type'), Buffer.from('application/cloudevents+json')]]),
          },
        ],
      });
    } finally {
      await producer.close();
    }
    let letters: Array<{ rule: string; reason: string; event: { data_base64?: string } }> = [];
    await until(async () => {
      const answer = await api(apiRequest('GET', '/dead-letters', undefined, 'rule=%24undecodable'));
      letters = (JSON.parse(answer.body) as { deadLetters: typeof letters }).deadLetters;
      return letters.length > 0;
    }, 'the undecodable record dead-lettered');
    assert.equal(letters.length, 1);
    assert.match(letters[0]?.reason ?? '', /^InvalidJson: /);
    assert.equal(
      Buffer.from(letters[0]?.event.data_base64 ?? '', 'base64').toString('utf8'),
      '\u0000not json',
    );
    // The partition goes on: a later event is routed.
    assert.equal((await ingest(fixture('apigw-http-v2-ingest'))).statusCode, 202);
    const next = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
    const later = await ingest({ ...next, headers: { ...next.headers, 'ce-id': 'order-9' } });
    assert.equal(later.statusCode, 202);
    await until(() => target.received.some((r) => r.headers['ce-id'] === 'order-9'), 'order-9 delivered');
  });

  it('retries a failed delivery from the scheduler handler (ledger in DynamoDB)', async () => {
    const flaky = await startHttpTarget((_, index) => (index === 0 ? { status: 503 } : { status: 200 }));
    try {
      const rule = {
        pattern: { type: ['com.shop.flaky'] },
        targets: [{ id: 'flaky', type: 'http', url: `${flaky.url}/f` }],
      };
      assert.equal((await api(apiRequest('PUT', '/rules/flaky', JSON.stringify(rule)))).statusCode, 201);
      const base = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
      const accepted = await ingest({
        ...base,
        headers: { ...base.headers, 'ce-id': 'flaky-1', 'ce-type': 'com.shop.flaky' },
      });
      assert.equal(accepted.statusCode, 202);
      await until(() => flaky.received.length >= 1, 'the first (failing) attempt');
      // The retry is due about a second later (EventBridge-like backoff); the scheduler takes it from the ledger.
      let taken = 0;
      await until(async () => {
        taken += (await scheduler({}, lambdaContext())).taken;
        return flaky.received.length >= 2;
      }, 'the retry delivered by the scheduler');
      assert.ok(taken >= 1);
      const trace = JSON.parse(
        (await api(apiRequest('GET', '/events/flaky-1/trace', undefined, 'source=/shop'))).body,
      ) as {
        entries: Array<{ kind: string }>;
      };
      const kinds = trace.entries.map((e) => e.kind);
      assert.ok(kinds.includes('retry-scheduled'), kinds.join(' '));
      assert.equal(kinds.at(-1), 'delivered');
    } finally {
      await flaky.close();
    }
  });

  it('leaves nothing due for the scheduler once everything was delivered', async () => {
    const summary = await scheduler({}, lambdaContext());
    assert.equal(summary.taken, 0);
    const rt = await runtime();
    assert.equal(await rt.stores.ledger.pendingCount(), 0);
    assert.equal(await rt.stores.deadLetters.count(), 1, 'only the undecodable record');
  });
  it('answers the live tail as a long poll: one window of frames, ended by the cursor to go on from', async () => {
    const { createApiHandler } = await import('../../lib/adapters/aws/handlers.ts');
    const tailApi = createApiHandler(runtime, { tailWindowMs: 1_500 });
    const query = `pattern=${encodeURIComponent(JSON.stringify({ type: ['tail.test'] }))}`;
    const poll = (cursor?: string) => {
      const request = apiRequest('GET', '/events/tail', undefined, query) as unknown as {
        headers: Record<string, string>;
      };
      return tailApi(
        cursor === undefined
          ? request
          : { ...request, headers: { ...request.headers, 'last-event-id': cursor } },
        lambdaContext(),
      );
    };
    const cursorOf = (body: string) => [...body.matchAll(/^id: (.+)$/gm)].at(-1)?.[1];
    const first = await poll();
    assert.equal(first.statusCode, 200, first.body);
    assert.match(String(first.headers?.['content-type']), /text\/event-stream/);
    let cursor = cursorOf(first.body);
    assert.ok(cursor !== undefined, `the window ends with a cursor: ${first.body}`);
    for (const id of ['t-1', 't-2', 't-3']) {
      const request = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
      request.headers['ce-id'] = id;
      request.headers['ce-type'] = 'tail.test';
      assert.equal((await ingest(request)).statusCode, 202);
    }
    const seen: string[] = [];
    await until(async () => {
      const answer = await poll(cursor);
      assert.equal(answer.statusCode, 200, answer.body);
      for (const [, data] of answer.body.matchAll(/^event: cloudevent\ndata: (.+)$/gm)) {
        seen.push((JSON.parse(data as string) as { event: { id: string } }).event.id);
      }
      cursor = cursorOf(answer.body) ?? cursor;
      return seen.length >= 3;
    }, 'the three events through the tail');
    assert.deepEqual([...seen].sort(), ['t-1', 't-2', 't-3'], 'each once, nothing else (the pattern)');
    const after = await poll(cursor);
    assert.equal(
      [...after.body.matchAll(/^event: cloudevent$/gm)].length,
      0,
      'nothing twice after the cursor',
    );
  });
});
