/** The AWS wiring: configuration from the environment, and the brokers from GetBootstrapBrokers (once). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { KafkaClient } from '@aws-sdk/client-kafka';
import { Admin } from '@platformatic/kafka';
import { createAwsRuntime, lazy, readAwsConfig, resolveBootstrap } from '../../../lib/adapters/aws/wiring.ts';
import { DynamoSchemaStore } from '../../../lib/adapters/dynamodb/schema-store.ts';
import { Metrics } from '../../../lib/engine/metrics.ts';
import { Schemas } from '../../../lib/engine/schemas.ts';
import type { ApiRequest, ApiResponse } from '../../../lib/server/app.ts';
import { schemaRefresher, withFreshSchemas } from '../../../lib/server/fresh-schemas.ts';
import { startDynalite, uniquePrefix } from '../../helpers/dynalite.ts';

const ARN = 'arn:aws:kafka:eu-west-1:123456789012:cluster/junction/751d2973-a626-431c-9d4e-d7975eb44dd7-2';

describe('readAwsConfig', () => {
  it('reads the variables the stack sets, with defaults', () => {
    const config = readAwsConfig({
      JUNCTION_TABLE_PREFIX: 'prod-junction',
      JUNCTION_KAFKA_CLUSTER_ARN: ARN,
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/fn',
    });
    assert.deepEqual(config, {
      busName: 'default',
      tablePrefix: 'prod-junction',
      kafkaClusterArn: ARN,
      kafkaTopic: 'junction-events',
      kafkaBootstrap: undefined,
      kafkaReplication: -1,
      kafkaRetentionMs: undefined,
      functionPrefix: 'junction-fn-',
      functionRoleArn: 'arn:aws:iam::123456789012:role/fn',
      dynamodbEndpoint: undefined,
      lambdaEndpoint: undefined,
      region: 'eu-west-1',
    });
  });

  it('creates the topic with the broker default replication on MSK, 1 elsewhere, or what it is told', () => {
    const local = readAwsConfig({ JUNCTION_KAFKA_BOOTSTRAP: '127.0.0.1:9092' });
    assert.equal(local.kafkaReplication, 1);
    const told = readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN, JUNCTION_KAFKA_REPLICATION: '3' });
    assert.equal(told.kafkaReplication, 3);
    assert.throws(
      () => readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN, JUNCTION_KAFKA_REPLICATION: '0' }),
      (e: { field?: string }) => e.field === 'JUNCTION_KAFKA_REPLICATION',
    );
  });

  it('serves the bus JUNCTION_BUS names and creates its topic with JUNCTION_KAFKA_RETENTION_MS', () => {
    const config = readAwsConfig({
      JUNCTION_KAFKA_CLUSTER_ARN: ARN,
      JUNCTION_BUS: 'orders.eu',
      JUNCTION_KAFKA_RETENTION_MS: '259200000',
    });
    assert.equal(config.busName, 'orders.eu');
    assert.equal(config.kafkaRetentionMs, 259_200_000);
    assert.equal(
      readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN, JUNCTION_KAFKA_RETENTION_MS: '-1' }).kafkaRetentionMs,
      -1,
    );
    for (const bus of ['.orders', 'a/b', 'x'.repeat(65)]) {
      assert.throws(() => readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN, JUNCTION_BUS: bus }), {
        code: 'InvalidRequest',
        field: 'JUNCTION_BUS',
      });
    }
    for (const retention of ['0', '-2', '1.5', '3d', '1e9', '99999999999999999999']) {
      assert.throws(
        () => readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN, JUNCTION_KAFKA_RETENTION_MS: retention }),
        { code: 'InvalidRequest', field: 'JUNCTION_KAFKA_RETENTION_MS', message: new RegExp(retention) },
        retention,
      );
    }
  });

  it('takes the brokers from JUNCTION_KAFKA_BOOTSTRAP and the region from AWS_REGION', () => {
    const config = readAwsConfig({
      JUNCTION_KAFKA_BOOTSTRAP: 'b-1:9098, b-2:9098',
      JUNCTION_KAFKA_TOPIC: 'events',
      AWS_REGION: 'us-west-2',
    });
    assert.deepEqual(config.kafkaBootstrap, ['b-1:9098', 'b-2:9098']);
    assert.equal(config.kafkaTopic, 'events');
    assert.equal(config.region, 'us-west-2');
    assert.equal(config.kafkaClusterArn, undefined);
  });

  it('traces to the OTLP endpoint the tracing prop sets, and not when the SDK is disabled', () => {
    const base = { JUNCTION_KAFKA_BOOTSTRAP: 'b:1' };
    assert.equal(readAwsConfig(base).otlp, undefined, 'off by default');
    assert.deepEqual(
      readAwsConfig({ ...base, JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' }).otlp,
      {
        url: 'http://localhost:4318/v1/traces',
        from: 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT',
        protocol: 'http/json',
      },
    );
    assert.deepEqual(
      readAwsConfig({
        ...base,
        JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4317',
        JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      }).otlp,
      { url: 'http://localhost:4317', from: 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT', protocol: 'grpc' },
    );
    assert.throws(
      () =>
        readAwsConfig({
          ...base,
          JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318',
          JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL: 'zipkin',
        }),
      { code: 'InvalidRequest', field: 'JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL' },
    );
    assert.equal(
      readAwsConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })
        .otlp,
      undefined,
    );
    assert.throws(() => readAwsConfig({ ...base, JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }), {
      code: 'InvalidRequest',
      field: 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT',
    });
  });

  it('rejects bad values, naming the variable and the value', () => {
    assert.throws(() => readAwsConfig({}), { code: 'InvalidRequest', field: 'JUNCTION_KAFKA_CLUSTER_ARN' });
    assert.throws(() => readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: 'arn:aws:s3:::bucket' }), {
      field: 'JUNCTION_KAFKA_CLUSTER_ARN',
      message: /arn:aws:s3:::bucket/,
    });
    assert.throws(() => readAwsConfig({ JUNCTION_KAFKA_BOOTSTRAP: 'no-port' }), {
      field: 'JUNCTION_KAFKA_BOOTSTRAP',
    });
    assert.throws(() => readAwsConfig({ JUNCTION_KAFKA_BOOTSTRAP: 'b:1', JUNCTION_KAFKA_TOPIC: 'a b' }), {
      field: 'JUNCTION_KAFKA_TOPIC',
    });
    assert.throws(() => readAwsConfig({ JUNCTION_KAFKA_BOOTSTRAP: 'b:1', JUNCTION_TABLE_PREFIX: 'x/y' }), {
      field: 'JUNCTION_TABLE_PREFIX',
    });
  });
});

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;

describe('createAwsRuntime for a named bus (a real broker, dynalite)', {
  skip:
    kafka === undefined
      ? `no Kafka broker: ${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'JUNCTION_TEST_KAFKA is unset'}`
      : false,
}, () => {
  it("creates the bus's topic with its retention and answers to its EventBusName only", async () => {
    const prefix = uniquePrefix();
    const dynalite = await startDynalite(prefix);
    const topic = `junction-events.orders-${randomUUID().slice(0, 8)}`;
    const runtime = await createAwsRuntime(
      readAwsConfig({
        JUNCTION_BUS: 'orders',
        JUNCTION_KAFKA_BOOTSTRAP: kafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_KAFKA_RETENTION_MS: '3600000',
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
        AWS_REGION: 'us-east-1',
      }),
      { onError: () => undefined },
    );
    const admin = new Admin({ clientId: 'wiring-test', bootstrapBrokers: [kafka as string] });
    try {
      const configs = await admin.describeConfigs({
        resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['retention.ms'] }],
      });
      assert.equal(
        configs[0]?.configs.find((c: { name: string }) => c.name === 'retention.ms')?.value,
        '3600000',
      );
      const putRule = (bus: string) =>
        runtime.app({
          method: 'POST',
          path: '/',
          query: new URLSearchParams(),
          headers: { 'x-amz-target': 'AWSEvents.PutRule', 'content-type': 'application/x-amz-json-1.1' },
          body: new TextEncoder().encode(
            JSON.stringify({ Name: 'big', EventBusName: bus, EventPattern: '{"source":["shop"]}' }),
          ),
        });
      const mine = await putRule('orders');
      assert.equal(mine.status, 200, String(mine.body));
      const other = await putRule('default');
      assert.equal(other.status, 400, String(other.body));
      assert.match(String(other.body), /ResourceNotFoundException.*Event bus default does not exist/);
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.close().catch(() => undefined);
      await runtime.close();
      await dynalite.stop();
    }
  });

  it('enforces at ingest a schema the api function registered in another instance (DynamoDB registry)', async () => {
    const prefix = uniquePrefix();
    const dynalite = await startDynalite(prefix);
    const topic = `junction-events.schemas-${randomUUID().slice(0, 8)}`;
    const config = readAwsConfig({
      JUNCTION_KAFKA_BOOTSTRAP: kafka,
      JUNCTION_KAFKA_TOPIC: topic,
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      AWS_REGION: 'us-east-1',
    });
    // Two instances, as the api and ingest functions are; the ingest one reloads the registry on every request.
    const api = await createAwsRuntime(config, { onError: () => undefined });
    const ingest = await createAwsRuntime(config, { onError: () => undefined, schemaRefreshMs: 0 });
    const admin = new Admin({ clientId: 'wiring-test', bootstrapBrokers: [kafka as string] });
    const request = (method: string, path: string, body: unknown, type = 'application/json'): ApiRequest => ({
      method,
      path,
      query: new URLSearchParams(),
      headers: { 'content-type': type },
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
    const event = (amount: unknown) =>
      request(
        'POST',
        '/events',
        {
          specversion: '1.0',
          id: randomUUID(),
          source: '/billing',
          type: 'com.shop.invoice.issued',
          data: { amount },
        },
        'application/cloudevents+json',
      );
    try {
      assert.equal((await ingest.app(event('none yet'))).status, 202, 'no schema yet: accepted');
      const put = await api.app(
        request('PUT', '/schemas/invoices', {
          schema: { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } },
          binding: { type: 'com.shop.invoice.issued' },
          enforcement: 'reject',
        }),
      );
      assert.equal(put.status, 201, String(put.body));
      const refused: ApiResponse = await ingest.app(event('ten'));
      assert.equal(refused.status, 400, String(refused.body));
      assert.match(String(refused.body), /SchemaViolation/);
      assert.equal((await ingest.app(event(10))).status, 202);
      const listed = await ingest.app(request('GET', '/schemas/invoices', undefined));
      assert.equal(listed.status, 200);
      assert.equal(JSON.parse(String(listed.body)).latest, 1);
      // The api instance numbers the next version after what is stored, whichever instance stored it.
      const second = await ingest.app(
        request('PUT', '/schemas/invoices', {
          schema: { type: 'object', required: ['amount'], properties: { amount: { type: 'number' } } },
          binding: { type: 'com.shop.invoice.issued' },
          enforcement: 'reject',
        }),
      );
      assert.equal(second.status, 201, String(second.body));
      const third = await api.app(
        request('PUT', '/schemas/invoices', {
          schema: {
            type: 'object',
            required: ['amount'],
            properties: { amount: { type: 'number' }, note: { type: 'string' } },
          },
          binding: { type: 'com.shop.invoice.issued' },
          enforcement: 'reject',
        }),
      );
      assert.equal(third.status, 201, String(third.body));
      assert.equal(JSON.parse(String(third.body)).version, 3);
    } finally {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.close().catch(() => undefined);
      await ingest.close();
      await api.close();
      await dynalite.stop();
    }
  });
});

describe('withFreshSchemas', () => {
  it('reloads the registry when it is older than the refresh time, and before every change to /schemas', async () => {
    const dynalite = await startDynalite();
    let now = 1_000_000;
    const clock = { now: () => now };
    const open = async () => {
      const schemas = new Schemas({
        store: new DynamoSchemaStore({ client: dynalite.client, table: dynalite.tables.rules }),
        metrics: new Metrics(),
        clock,
      });
      await schemas.start();
      return schemas;
    };
    const writer = await open();
    const reader = await open();
    const seen: string[] = [];
    const errors: unknown[] = [];
    const app = withFreshSchemas(
      async (r) => {
        seen.push(
          reader
            .list()
            .map((s) => `${s.name}@${s.latest}`)
            .join(',') || r.path,
        );
        return { status: 200, headers: {}, body: '' };
      },
      reader,
      schemaRefresher(reader, 5_000, clock, (e) => errors.push(e)),
      (e) => errors.push(e),
    );
    const get = (path: string, method = 'GET'): ApiRequest => ({
      method,
      path,
      query: new URLSearchParams(),
      headers: {},
      body: new Uint8Array(),
    });
    try {
      await writer.put('orders', { schema: { type: 'object' }, binding: { type: 'com.order' } });
      await app(get('/events', 'POST'));
      now += 4_999;
      await app(get('/events', 'POST'));
      assert.deepEqual(seen, ['/events', '/events'], 'not reloaded within the refresh time');
      now += 1;
      await app(get('/events', 'POST'));
      assert.equal(seen[2], 'orders@1', 'reloaded once the refresh time passed');
      await writer.put('orders', {
        schema: { type: 'object', properties: { a: { type: 'string' } } },
        binding: { type: 'com.order' },
      });
      await app(get('/schemas/orders', 'DELETE'));
      assert.equal(seen[3], 'orders@2', 'reloaded before a change, however recent the last load');
      assert.deepEqual(errors, []);
      // DynamoDB gone: a change is refused with a JSON error; ingest goes on with the registry as last loaded.
      await dynalite.stop();
      const refused = await app(get('/schemas/orders', 'PUT'));
      assert.equal(refused.status, 500);
      assert.equal(JSON.parse(String(refused.body)).error.code, 'Internal');
      assert.equal(seen.length, 4, 'the change did not reach the app');
      now += 5_000;
      assert.equal((await app(get('/events', 'POST'))).status, 200);
      assert.equal(seen[4], 'orders@2');
      assert.equal(errors.length, 2, 'both failed reloads were reported');
    } finally {
      await dynalite.stop().catch(() => undefined);
    }
  });
});

describe('resolveBootstrap', () => {
  it('asks GetBootstrapBrokers (GET /v1/clusters/{arn}/bootstrap-brokers) for the IAM brokers', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bootstrapBrokerStringSaslIam: 'b-1.x:9098,b-2.x:9098' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new KafkaClient({
      region: 'eu-west-1',
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    try {
      const brokers = await resolveBootstrap(readAwsConfig({ JUNCTION_KAFKA_CLUSTER_ARN: ARN }), client);
      assert.deepEqual(brokers, ['b-1.x:9098', 'b-2.x:9098']);
      assert.deepEqual(seen, [`GET /v1/clusters/${encodeURIComponent(ARN)}/bootstrap-brokers`]);
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('uses the configured brokers without asking', async () => {
    assert.deepEqual(await resolveBootstrap(readAwsConfig({ JUNCTION_KAFKA_BOOTSTRAP: '127.0.0.1:9092' })), [
      '127.0.0.1:9092',
    ]);
  });
});

describe('lazy', () => {
  it('builds once for concurrent callers and builds again after a failure', async () => {
    let builds = 0;
    const get = lazy(async () => {
      builds++;
      if (builds === 1) throw new Error('cold start failed');
      return builds;
    });
    await assert.rejects(get(), /cold start failed/);
    const [a, b] = await Promise.all([get(), get()]);
    assert.equal(a, 2);
    assert.equal(b, 2);
    assert.equal(builds, 2);
  });
});
