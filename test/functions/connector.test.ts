/**
 * The `connector` handler (a Kafka source on AWS): an MSK event from a topic that is not the bus's log → events in the
 * log with ids from the records (the embedded source's mapping code), a batch delivered again publishing nothing
 * twice, records that cannot become events dead-lettered with their reason, and its configuration from the
 * environment naming the variable at fault.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type ConnectorFunctionConfig,
  createConnectorHandler,
  readConnectorConfig,
} from '../../lib/adapters/aws/handlers.ts';
import { buildMskEvent, type RawKafkaRecord } from '../../lib/adapters/aws/msk-event.ts';
import { type AwsRuntime, createAwsRuntime, readAwsConfig } from '../../lib/adapters/aws/wiring.ts';
import { validateMapping } from '../../lib/core/connector.ts';
import { startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';
import { startTestRuntime, type TestRuntime } from './runtime.ts';

const TOPIC = 'shop.orders';
const bytes = (text: string) => new TextEncoder().encode(text);

function record(
  partition: number,
  offset: number,
  value: unknown,
  headers: Record<string, string> = {},
  key: string | null = `c-${offset}`,
): RawKafkaRecord {
  return {
    topic: TOPIC,
    partition,
    offset,
    timestamp: Date.parse('2026-12-04T09:00:00Z'),
    key: key === null ? null : bytes(key),
    value: bytes(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: Object.entries(headers).map(([name, v]) => [name, bytes(v)] as const),
  };
}

/** Plain JSON orders (mapped), a binary and a structured CloudEvent, one record the mapping cannot fill. */
function batch() {
  const event = buildMskEvent({
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/source/1',
    bootstrapServers: ['b-1.source:9098'],
    records: [
      record(0, 40, { kind: 'order.created', order: 'o-40' }),
      record(0, 41, { kind: 'order.paid', order: 'o-40' }),
      record(1, 7, 'binary data', {
        ce_specversion: '1.0',
        ce_id: 'given-id',
        ce_source: '/producer',
        ce_type: 'com.example.binary',
        'content-type': 'text/plain',
      }),
      record(
        1,
        8,
        { specversion: '1.0', id: 'structured-1', source: '/producer', type: 'com.example.structured' },
        { 'content-type': 'application/cloudevents+json' },
      ),
      record(1, 9, { order: 'o-41' }),
    ],
  });
  // A record whose value is not base64, as no mapping should send: malformed, dead-lettered too.
  const list = event.records[`${TOPIC}-1`] as unknown as Array<Record<string, unknown>>;
  list.push({ ...list[0], offset: 10, value: '***not base64***' });
  return event;
}

describe('connector handler', () => {
  let rt: TestRuntime;
  const config: ConnectorFunctionConfig = {
    name: 'orders',
    mapping: validateMapping({ type: 'com.shop.{value.kind}', source: '/shop', subject: '{key}' }),
  };
  let handler: ReturnType<typeof createConnectorHandler>;

  before(async () => {
    rt = await startTestRuntime();
    handler = createConnectorHandler(
      async () => rt,
      () => config,
    );
  });
  after(async () => {
    await rt.close();
  });

  async function logged() {
    const records = [...(await rt.stores.log.read(0, 0, 1000)), ...(await rt.stores.log.read(1, 0, 1000))];
    return records.map((r) => r.event).sort((a, b) => a.id.localeCompare(b.id));
  }

  it('publishes each record as an event with its id, and dead-letters what cannot be one', async () => {
    const summary = await handler(batch());
    assert.deepEqual(summary, { published: 4, duplicates: 0, invalid: 2 });
    const events = await logged();
    assert.deepEqual(
      events.map((e) => [e.id, e.source, e.type, e.subject]),
      [
        ['given-id', '/producer', 'com.example.binary', undefined],
        ['shop.orders-0-40', '/shop', 'com.shop.order.created', 'c-40'],
        ['shop.orders-0-41', '/shop', 'com.shop.order.paid', 'c-41'],
        ['structured-1', '/producer', 'com.example.structured', undefined],
      ],
    );
    assert.deepEqual(events.find((e) => e.id === 'shop.orders-0-40')?.data, {
      kind: 'order.created',
      order: 'o-40',
    });
    assert.equal(events.find((e) => e.id === 'given-id')?.data, 'binary data');
    const letters = await rt.deadLetters.list({ rule: 'connector/orders' });
    assert.deepEqual(letters.map((l) => l.dlId).sort(), [
      'orders:shop.orders/1/10',
      'orders:shop.orders/1/9',
    ]);
    const unfilled = letters.find((l) => l.dlId === 'orders:shop.orders/1/9');
    assert.match(unfilled?.reason ?? '', /mapping\.type: the record has no value for \{value\.kind\}/);
    assert.equal(unfilled?.event.type, 'junction.connector.invalid-record');
    assert.deepEqual((unfilled?.event.data as { value?: unknown } | undefined)?.value, '{"order":"o-41"}');
    const malformed = letters.find((l) => l.dlId === 'orders:shop.orders/1/10');
    assert.match(malformed?.reason ?? '', /value must be base64/);
  });

  it('publishes nothing twice when the mapping delivers the batch again', async () => {
    const summary = await handler(batch());
    assert.deepEqual(summary, { published: 0, duplicates: 4, invalid: 2 });
    assert.equal((await logged()).length, 4);
    assert.equal((await rt.deadLetters.list({ rule: 'connector/orders' })).length, 2);
  });

  it('throws when the log fails, so that the mapping retries the batch', async () => {
    const failing = await startTestRuntime();
    const publish = failing.junction.publish.bind(failing.junction);
    failing.junction.publish = () => Promise.reject(new Error('the log is down'));
    try {
      const connector = createConnectorHandler(
        async () => failing,
        () => config,
      );
      await assert.rejects(connector(batch()), /the log is down/);
    } finally {
      failing.junction.publish = publish;
      await failing.close();
    }
  });

  it('rejects an event that is not a Kafka event', async () => {
    await assert.rejects(handler({ version: '2.0' }), {
      code: 'InvalidRequest',
      field: 'eventSource',
    });
  });
});

describe('readConnectorConfig', () => {
  it('reads the name and the mapping, the mapping defaulting to ids from the position', () => {
    const config = readConnectorConfig({
      JUNCTION_CONNECTOR_NAME: 'orders',
      JUNCTION_CONNECTOR_MAPPING: '{"type":"com.shop.{value.kind}"}',
    });
    assert.equal(config.name, 'orders');
    assert.equal(config.mapping.type, 'com.shop.{value.kind}');
    assert.equal(
      readConnectorConfig({ JUNCTION_CONNECTOR_NAME: 'orders' }).mapping.id,
      '{topic}-{partition}-{offset}',
    );
  });

  it('names the variable at fault', () => {
    assert.throws(() => readConnectorConfig({}), {
      code: 'InvalidRequest',
      field: 'JUNCTION_CONNECTOR_NAME',
    });
    assert.throws(() => readConnectorConfig({ JUNCTION_CONNECTOR_NAME: 'a/b' }), {
      field: 'JUNCTION_CONNECTOR_NAME',
    });
    assert.throws(
      () => readConnectorConfig({ JUNCTION_CONNECTOR_NAME: 'orders', JUNCTION_CONNECTOR_MAPPING: '{' }),
      { field: 'JUNCTION_CONNECTOR_MAPPING' },
    );
    assert.throws(
      () =>
        readConnectorConfig({
          JUNCTION_CONNECTOR_NAME: 'orders',
          JUNCTION_CONNECTOR_MAPPING: '{"nope":"x"}',
        }),
      (e: { field?: string }) => e.field?.startsWith('JUNCTION_CONNECTOR_MAPPING') === true,
    );
  });
});

describe('connector handler on the runtime a Lambda builds (Kafka log, DynamoDB dedup in dynalite)', {
  skip: kafkaSkip,
}, () => {
  it('publishes the batch into the events topic once, however often it is delivered', async () => {
    const prefix = uniquePrefix();
    const dynalite = await startDynalite(prefix);
    const topic = `junction-events.connector-${randomUUID().slice(0, 8)}`;
    const runtimes: AwsRuntime[] = [];
    try {
      const config = readAwsConfig({
        JUNCTION_KAFKA_BOOTSTRAP: testKafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
        AWS_REGION: 'us-east-1',
      });
      const handlerOn = async () => {
        const runtime = await createAwsRuntime(config, { onError: () => undefined });
        runtimes.push(runtime);
        return createConnectorHandler(
          async () => runtime,
          () =>
            readConnectorConfig({
              JUNCTION_CONNECTOR_NAME: 'orders',
              JUNCTION_CONNECTOR_MAPPING: JSON.stringify({ type: 'com.shop.{value.kind}', source: '/shop' }),
            }),
        );
      };
      const first = await handlerOn();
      assert.deepEqual(await first(batch()), { published: 4, duplicates: 0, invalid: 2 });
      assert.deepEqual(await first(batch()), { published: 0, duplicates: 4, invalid: 2 });
      // Another Lambda environment given the same batch (a retry after a timeout): the DynamoDB dedup drops it.
      const second = await handlerOn();
      assert.deepEqual(await second(batch()), { published: 0, duplicates: 4, invalid: 2 });
      const runtime = runtimes[0] as AwsRuntime;
      const ids: string[] = [];
      for (let partition = 0; partition < runtime.log.partitions; partition++) {
        for (const record of await runtime.log.read(partition, 0, 100)) ids.push(record.event.id);
      }
      assert.deepEqual(ids.sort(), ['given-id', 'shop.orders-0-40', 'shop.orders-0-41', 'structured-1']);
      const letters = await runtime.deadLetters.list({ rule: 'connector/orders' });
      assert.deepEqual(letters.map((l) => l.dlId).sort(), [
        'orders:shop.orders/1/10',
        'orders:shop.orders/1/9',
      ]);
    } finally {
      for (const runtime of runtimes) await runtime.close();
      await dynalite.stop();
    }
  });

  it('dead-letters an event whose data breaks the schema bound to its type, and publishes the rest', async () => {
    const prefix = uniquePrefix();
    const dynalite = await startDynalite(prefix);
    const topic = `junction-events.connector-${randomUUID().slice(0, 8)}`;
    const runtime = await createAwsRuntime(
      readAwsConfig({
        JUNCTION_KAFKA_BOOTSTRAP: testKafka,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_TABLE_PREFIX: prefix,
        JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
        AWS_REGION: 'us-east-1',
      }),
      { onError: () => undefined, schemaRefreshMs: 0 },
    );
    try {
      const put = await runtime.app({
        method: 'PUT',
        path: '/schemas/paid',
        query: new URLSearchParams(),
        headers: { 'content-type': 'application/json' },
        body: new TextEncoder().encode(
          JSON.stringify({
            schema: { type: 'object', required: ['total'] },
            binding: { type: 'com.shop.order.paid' },
            enforcement: 'reject',
          }),
        ),
      });
      assert.equal(put.status, 201, String(put.body));
      const connector = createConnectorHandler(
        async () => runtime,
        () => ({
          name: 'orders',
          mapping: validateMapping({ type: 'com.shop.{value.kind}', source: '/shop' }),
        }),
      );
      // order.paid (0/41) has no total: refused for what it is, on every delivery; the rest goes into the log.
      assert.deepEqual(await connector(batch()), { published: 3, duplicates: 0, invalid: 3 });
      assert.deepEqual(await connector(batch()), { published: 0, duplicates: 3, invalid: 3 });
      const letters = await runtime.deadLetters.list({ rule: 'connector/orders' });
      const refused = letters.find((l) => l.id === 'shop.orders-0-41');
      assert.match(refused?.reason ?? '', /^SchemaViolation: /);
      assert.equal(refused?.event.type, 'com.shop.order.paid');
      assert.equal(letters.length, 3);
    } finally {
      await runtime.close();
      await dynalite.stop();
    }
  });
});
