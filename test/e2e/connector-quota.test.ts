/**
 * A Kafka connector under a per-source quota smaller than its batch (issue #18's connectors, #13's quotas): every
 * record gets through, each once, as fast as the quota lets it. The connector used to read the whole batch again on a
 * 429, spending the quota's tokens on the events admitted before the refusal and publishing none: a batch larger than
 * the burst never got through. And each event's warn-mode schema violation is traced once, not at every reading.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Loose = any;

const RECORDS = 24;

describe('a Kafka connector under a quota smaller than its batches', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const brokers = [testKafka];
  let bus: TestBus;
  let target: HttpTarget;
  let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  let admin: Admin;

  before(async () => {
    producer = new Producer({ clientId: 'quota-e2e', bootstrapBrokers: brokers, acks: -1, idempotent: true });
    admin = new Admin({ clientId: 'quota-e2e-admin', bootstrapBrokers: brokers, retries: 5 });
    // 4 events/s per source after a burst of 4: the connector's one source gets a sixth of a 24-record batch at once.
    bus = await startTestBus({ quota: { eventsPerSecond: 4, burst: 4 } });
    target = await startHttpTarget();
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await producer?.close();
    await admin?.close();
  });

  test('every record is published once, in the quota’s time; each violation traced once', async () => {
    const topic = `quota-${randomUUID()}`;
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const schema = await request(bus.url, 'PUT', '/schemas/orders', {
      schema: { type: 'object', properties: { total: { type: 'number' } } },
      binding: { type: 'com.shop.order', source: 'kafka://' },
      enforcement: 'warn',
    });
    assert.equal(schema.status, 201, JSON.stringify(schema.body));
    const rule = await request(bus.url, 'PUT', '/rules/orders', {
      pattern: { type: ['com.shop.order'] },
      targets: [{ id: 'web', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    // Every record breaks the schema (a string total): warn mode publishes it and traces the violation.
    await producer.send({
      messages: Array.from({ length: RECORDS }, (_, i) => ({
        topic,
        partition: 0,
        value: Buffer.from(JSON.stringify({ total: `t${i}` })),
      })),
    });
    // Put after the records are in the topic: the connector's first batch holds all of them.
    const put = await request(bus.url, 'PUT', '/connectors/orders', {
      type: 'kafka',
      brokers,
      topic,
      group: `g-${randomUUID()}`,
      mapping: { type: 'com.shop.order' },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));

    const ids = () => new Set(target.received.map((r) => r.headers['ce-id']));
    await waitFor(() => ids().size === RECORDS, `all ${RECORDS} records delivered`, 120_000);
    assert.equal(target.received.length, RECORDS, 'each delivered once');
    await waitFor(
      async () => (await request(bus.url, 'GET', '/connectors/orders')).body.position['0'] === RECORDS,
      'the connector past the batch',
      60_000,
    );
    const status = (await request(bus.url, 'GET', '/connectors/orders')).body;
    assert.equal(status.state, 'running');
    assert.equal(status.events, RECORDS);
    assert.equal(status.duplicates, 0, 'nothing published twice');
    assert.match(status.lastError?.message ?? '', /over its quota/, 'the quota showed as the last error');
    for (const i of [0, 5, RECORDS - 1]) {
      const id = `${topic}-0-${i}`;
      await waitFor(
        async () => (await traceOf(bus, id, `kafka://${topic}`)).some((e) => e.kind === 'delivered'),
        `the trace of ${id}`,
        60_000,
      );
      const violations = (await traceOf(bus, id, `kafka://${topic}`)).filter(
        (e: Loose) => e.kind === 'schema-violation',
      );
      assert.equal(violations.length, 1, `${id}: one schema-violation entry`);
    }
    assert.equal((await request(bus.url, 'DELETE', '/connectors/orders')).status, 204);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  });
});
