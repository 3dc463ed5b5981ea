/**
 * Source connectors end to end (issue #18): a real bus, a real Kafka topic fed by a plain producer, a rule that
 * delivers to a real HTTP server. The API validates, reports status and position, pauses and resumes; records that are
 * not events land in the dead letters; a named bus has its own connectors.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';

describe('source connectors through the API', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const brokers = [testKafka];
  let bus: TestBus;
  let target: HttpTarget;
  let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  let admin: Admin;

  before(async () => {
    producer = new Producer({
      clientId: 'connectors-e2e',
      bootstrapBrokers: brokers,
      acks: -1,
      idempotent: true,
    });
    admin = new Admin({ clientId: 'connectors-e2e-admin', bootstrapBrokers: brokers, retries: 5 });
    bus = await startTestBus();
    target = await startHttpTarget();
    const rule = await request(bus.url, 'PUT', '/rules/from-kafka', {
      pattern: { source: [{ prefix: 'kafka://' }, '/producer'] },
      targets: [{ id: 'web', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await producer?.close();
    await admin?.close();
  });

  async function topic(): Promise<string> {
    const name = `conn-${randomUUID()}`;
    await admin.createTopics({ topics: [name], partitions: 1, replicas: 1 });
    return name;
  }

  function send(
    name: string,
    messages: Array<{ key?: string; value: string; headers?: Record<string, string> }>,
  ) {
    return producer.send({
      messages: messages.map((m) => ({
        topic: name,
        partition: 0,
        ...(m.key === undefined ? {} : { key: Buffer.from(m.key) }),
        value: Buffer.from(m.value),
        headers: new Map(Object.entries(m.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
      })),
    });
  }

  function delivered(): Array<Record<string, unknown>> {
    return target.received.map((r) => ({
      id: r.headers['ce-id'],
      type: r.headers['ce-type'],
      source: r.headers['ce-source'],
      subject: r.headers['ce-subject'],
      body: r.body.toString(),
    }));
  }

  test('refuses a bad connector with 400 naming the field, and an unknown one with 404', async () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'kafka', brokers, group: 'g' }, 'topic'],
      [{ type: 'mysql', topic: 't', group: 'g' }, 'type'],
      [{ type: 'kafka', brokers: ['no-port'], topic: 't', group: 'g' }, 'brokers[0]'],
      [{ type: 'kafka', brokers, topic: 't', group: 'g', mapping: { type: '{nope}' } }, 'mapping.type'],
      [{ type: 'kafka', brokers: ['169.254.169.254:9092'], topic: 't', group: 'g' }, 'brokers[0]'],
      [{ type: 'kafka', brokers: ['10.0.0.1:9092'], topic: 't', group: 'g' }, 'brokers[0]'],
    ];
    for (const [body, field] of cases) {
      const res = await request(bus.url, 'PUT', '/connectors/bad', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
      assert.ok(!JSON.stringify(res.body).includes('    at '), 'no stack trace');
    }
    assert.equal((await request(bus.url, 'GET', '/connectors/bad')).status, 404);
    assert.equal((await request(bus.url, 'PUT', '/connectors/bad name', {})).status, 400);
    assert.equal((await request(bus.url, 'POST', '/connectors/none/pause', {})).status, 404);
  });

  test('reads a topic: CloudEvents as they are, other records mapped; status, pause, resume, delete', async () => {
    const name = await topic();
    await send(name, [
      { key: 'order-1', value: '{"total":5}', headers: { kind: 'order' } },
      {
        value: '{"ok":true}',
        headers: {
          ce_specversion: '1.0',
          ce_id: 'binary-1',
          ce_source: '/producer',
          ce_type: 'com.example.binary',
          'content-type': 'application/json',
        },
      },
      { value: 'not json', headers: { 'content-type': 'application/cloudevents+json' } },
    ]);
    const put = await request(bus.url, 'PUT', '/connectors/orders', {
      type: 'kafka',
      brokers,
      topic: name,
      group: `g-${randomUUID()}`,
      mapping: { type: 'com.shop.{header.kind}', subject: '{key}' },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.name, 'orders');

    await waitFor(() => target.received.length >= 2, 'two deliveries', 60_000);
    const got = delivered();
    assert.deepEqual(
      got.find((d) => d.id === `${name}-0-0`),
      {
        id: `${name}-0-0`,
        type: 'com.shop.order',
        source: `kafka://${name}`,
        subject: 'order-1',
        body: '{"total":5}',
      },
    );
    assert.equal(got.find((d) => d.id === 'binary-1')?.type, 'com.example.binary');

    // The record that is not a CloudEvent is a dead letter of the connector, with the reason.
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', `/dead-letters?rule=${encodeURIComponent('connector/orders')}`)).body
          .deadLetters.length === 1,
      'the invalid record in the dead letters',
      60_000,
    );
    const letters = (
      await request(bus.url, 'GET', `/dead-letters?rule=${encodeURIComponent('connector/orders')}`)
    ).body.deadLetters;
    assert.equal(letters[0].event.type, 'junction.connector.invalid-record');

    await waitFor(
      async () => {
        const s = (await request(bus.url, 'GET', '/connectors/orders')).body;
        return s.state === 'running' && s.lag === 0 && s.position['0'] === 3;
      },
      'the connector running at position 3 with no lag',
      60_000,
    );
    const status = (await request(bus.url, 'GET', '/connectors/orders')).body;
    assert.equal(status.events, 2);
    assert.equal(status.invalid, 1);
    assert.equal(status.spec.topic, name);
    const list = (await request(bus.url, 'GET', '/connectors')).body.connectors;
    assert.ok(list.some((c: { name: string }) => c.name === 'orders'));

    // Paused: nothing more is read, the last position stays visible; resumed: the record arrives.
    const paused = await request(bus.url, 'POST', '/connectors/orders/pause', {});
    assert.equal(paused.status, 200);
    assert.equal(paused.body.state, 'paused');
    assert.equal(paused.body.position['0'], 3);
    await send(name, [{ key: 'order-2', value: '{"total":7}', headers: { kind: 'order' } }]);
    // A barrier: an event published through the bus after the record was written; once it is delivered, a connector
    // that kept reading would have had its chance to deliver the record too.
    const barrier = await publishBinary(bus, { id: 'barrier', source: '/producer', type: 't' });
    assert.equal(barrier.status, 202);
    await waitFor(() => delivered().some((d) => d.id === 'barrier'), 'the barrier event', 60_000);
    assert.equal((await request(bus.url, 'GET', '/connectors/orders')).body.position['0'], 3);
    assert.equal((await request(bus.url, 'GET', '/connectors/orders')).body.state, 'paused');
    assert.ok(!delivered().some((d) => d.id === `${name}-0-3`), 'nothing read while paused');
    const resumed = await request(bus.url, 'POST', '/connectors/orders/resume', {});
    assert.equal(resumed.status, 200);
    await waitFor(() => delivered().some((d) => d.id === `${name}-0-3`), 'the record after resume', 60_000);
    assert.equal(delivered().filter((d) => d.id === `${name}-0-3`).length, 1);

    assert.equal((await request(bus.url, 'DELETE', '/connectors/orders')).status, 204);
    assert.equal((await request(bus.url, 'GET', '/connectors/orders')).status, 404);
    await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
  });

  test('a failing connector shows its last error and does not stop the bus', async () => {
    const put = await request(bus.url, 'PUT', '/connectors/nowhere', {
      type: 'kafka',
      brokers: ['127.0.0.1:1'],
      topic: 'absent',
      group: 'g',
    });
    assert.equal(put.status, 201);
    await waitFor(
      async () => (await request(bus.url, 'GET', '/connectors/nowhere')).body.state === 'failed',
      'the connector failed',
      120_000,
    );
    const status = (await request(bus.url, 'GET', '/connectors/nowhere')).body;
    assert.equal(typeof status.lastError.message, 'string');
    assert.ok(!status.lastError.message.includes('    at '));
    const res = await publishBinary(bus, { id: 'still-up', source: '/producer', type: 't' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor(
      () => delivered().some((d) => d.id === 'still-up'),
      'an event published while it fails',
      60_000,
    );
    assert.equal((await request(bus.url, 'DELETE', '/connectors/nowhere')).status, 204);
  });

  test('a named bus has its own connectors, unseen from the default bus', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/team-a', {})).status, 201);
    const name = await topic();
    await send(name, [{ value: '{"n":1}' }]);
    const put = await request(bus.url, 'PUT', '/buses/team-a/connectors/feed', {
      type: 'kafka',
      brokers,
      topic: name,
      group: `g-${randomUUID()}`,
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    await waitFor(
      async () => (await request(bus.url, 'GET', '/buses/team-a/connectors/feed')).body.events === 1,
      'the named bus read the record',
      60_000,
    );
    assert.equal((await request(bus.url, 'GET', '/connectors/feed')).status, 404);
    assert.ok(
      !(await request(bus.url, 'GET', '/connectors')).body.connectors.some(
        (c: { name: string }) => c.name === 'feed',
      ),
    );
    assert.equal((await request(bus.url, 'DELETE', '/buses/team-a/connectors/feed')).status, 204);
    await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
  });
});
