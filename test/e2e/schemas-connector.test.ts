/**
 * Schemas on a connector's events (issue #16): a real Kafka topic read by a Kafka connector of a real bus. An event
 * whose data breaks the schema bound to it is a dead letter of the connector with the violation, and the partition
 * goes on (the events after it are delivered, the position passes it); discovery reads the connector's events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Loose = any;

describe("schemas on a Kafka connector's events", { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const brokers = [testKafka];
  let bus: TestBus;
  let target: HttpTarget;
  let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  let admin: Admin;

  before(async () => {
    producer = new Producer({
      clientId: 'schemas-e2e',
      bootstrapBrokers: brokers,
      acks: -1,
      idempotent: true,
    });
    admin = new Admin({ clientId: 'schemas-e2e-admin', bootstrapBrokers: brokers, retries: 5 });
    bus = await startTestBus({ schemaDiscovery: true });
    target = await startHttpTarget();
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await producer?.close();
    await admin?.close();
  });

  test('a violating event is dead-lettered with the violation; the partition goes on', async () => {
    const topic = `schemas-${randomUUID()}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const schema = await request(bus.url, 'PUT', '/schemas/orders', {
      schema: { type: 'object', required: ['total'], properties: { total: { type: 'number', minimum: 0 } } },
      binding: { type: 'com.shop.order', source: 'kafka://' },
      enforcement: 'reject',
    });
    assert.equal(schema.status, 201, JSON.stringify(schema.body));
    const rule = await request(bus.url, 'PUT', '/rules/orders', {
      pattern: { type: ['com.shop.order'] },
      targets: [{ id: 'web', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await producer.send({
      messages: ['{"total":5}', '{"total":"five"}', '{"total":7}'].map((value) => ({
        topic,
        partition: 0,
        value: Buffer.from(value),
      })),
    });
    const put = await request(bus.url, 'PUT', '/connectors/orders', {
      type: 'kafka',
      brokers,
      topic,
      group: `g-${randomUUID()}`,
      mapping: { type: 'com.shop.order' },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));

    const ids = () => target.received.map((r) => r.headers['ce-id']);
    await waitFor(
      () => ids().includes(`${topic}-0-0`) && ids().includes(`${topic}-0-2`),
      'the valid events delivered',
      60_000,
    );
    const letters = async () =>
      (await request(bus.url, 'GET', `/dead-letters?rule=${encodeURIComponent('connector/orders')}`)).body
        .deadLetters as Loose[];
    await waitFor(async () => (await letters()).length === 1, 'the violating event dead-lettered', 60_000);
    const [letter] = await letters();
    assert.equal(letter.id, `${topic}-0-1`);
    assert.equal(letter.source, `kafka://${topic}`);
    assert.equal(letter.event.type, 'com.shop.order', 'the event itself, as read');
    assert.deepEqual(letter.event.data, { total: 'five' });
    assert.match(letter.reason, /^SchemaViolation: .*\/data\/total .*\(type\)/);
    await waitFor(
      async () => {
        const s = (await request(bus.url, 'GET', '/connectors/orders')).body;
        return s.state === 'running' && s.position['0'] === 3;
      },
      'the connector running past the violating record',
      60_000,
    );
    const status = (await request(bus.url, 'GET', '/connectors/orders')).body;
    assert.equal(status.events, 2);
    assert.equal(status.invalid, 1);
    assert.ok(!ids().includes(`${topic}-0-1`));
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/schemas/discovered')).body.drafts.some(
          (d: Loose) => d.source === `kafka://${topic}` && d.type === 'com.shop.order',
        ),
      "a draft of the connector's events",
      60_000,
    );
    assert.equal((await request(bus.url, 'DELETE', '/connectors/orders')).status, 204);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  });
});
