/** The Kafka topic source against the test run's broker: the shared Source suite, and what is Kafka's own. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { KafkaSource } from '../../../lib/adapters/kafka/source.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { validateConnectorSpec } from '../../../lib/core/connector.ts';
import type { SourceBatch } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { kafkaSkip, testKafka } from '../../kafka/env.ts';
import { sourceSuite } from '../../ports/source.suite.ts';

describe('Kafka topic source', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const bootstrap = [testKafka];
  let producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  let admin: Admin;

  before(() => {
    // Idempotent: a retried send on a busy broker must not write a record twice (the positions are asserted).
    producer = new Producer({
      clientId: 'source-test',
      bootstrapBrokers: bootstrap,
      acks: -1,
      idempotent: true,
      retries: 5,
    });
    admin = new Admin({ clientId: 'source-test-admin', bootstrapBrokers: bootstrap, retries: 5 });
  });
  after(async () => {
    await producer.close();
    await admin.close();
  });

  async function topic(partitions = 1): Promise<string> {
    const name = `source-${randomUUID()}`;
    await admin.createTopics({ topics: [name], partitions, replicas: 1 });
    return name;
  }

  function send(
    name: string,
    messages: Array<{
      key?: string;
      value: string | Buffer;
      headers?: Record<string, string>;
      partition?: number;
    }>,
  ) {
    return producer.send({
      messages: messages.map((m) => ({
        topic: name,
        partition: m.partition ?? 0,
        ...(m.key === undefined ? {} : { key: Buffer.from(m.key) }),
        value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
        headers: new Map(Object.entries(m.headers ?? {}).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])),
      })),
    });
  }

  function source(name: string, group: string, extra: Record<string, unknown> = {}): KafkaSource {
    return new KafkaSource({
      spec: validateConnectorSpec({
        type: 'kafka',
        brokers: bootstrap,
        topic: name,
        group,
        ...extra,
      }) as never,
    });
  }

  sourceSuite('KafkaSource (shared suite)', {
    fixture: async () => {
      const name = await topic();
      const group = `g-${randomUUID()}`;
      return {
        open: () => source(name, group),
        write: async (ns) => {
          await send(
            name,
            ns.map((n) => ({ value: JSON.stringify({ n }) })),
          );
        },
        writeInvalid: async () => {
          await send(name, [
            { value: '{"specversion":"1.0"}', headers: { 'content-type': 'application/cloudevents+json' } },
          ]);
        },
        cleanup: async () => {
          await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
        },
      };
    },
  });

  test('reads every partition; CloudEvents in the binding keep their ids, other records get their position', async () => {
    const name = await topic(3);
    const batches: SourceBatch[] = [];
    const reader = source(name, `g-${randomUUID()}`, {
      mapping: { type: 'com.shop.{header.kind}', subject: '{key}' },
    });
    try {
      await send(name, [
        { partition: 0, key: 'k0', value: '{"a":1}', headers: { kind: 'order' } },
        {
          partition: 1,
          value: '{"x":true}',
          headers: {
            ce_specversion: '1.0',
            ce_id: 'given-id',
            ce_source: '/producer',
            ce_type: 'com.example.binary',
            'content-type': 'application/json',
          },
        },
        {
          partition: 2,
          value: JSON.stringify({ specversion: '1.0', id: 'structured-id', source: '/p', type: 't.s' }),
          headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
        },
      ]);
      await reader.start({ handle: async (batch) => void batches.push(batch), onWarning: () => {} });
      await waitFor(() => batches.flatMap((b) => b.events).length >= 3, 'three events', 60_000);
      const events = new Map<string, CloudEvent>(batches.flatMap((b) => b.events).map((e) => [e.id, e]));
      assert.equal(events.get(`${name}-0-0`)?.type, 'com.shop.order');
      assert.equal(events.get(`${name}-0-0`)?.subject, 'k0');
      assert.equal(events.get('given-id')?.type, 'com.example.binary');
      assert.deepEqual(events.get('given-id')?.data, { x: true });
      assert.equal(events.get('structured-id')?.source, '/p');
      await waitFor(async () => (await reader.status()).lag === 0, 'lag 0', 60_000);
      assert.deepEqual((await reader.status()).position, { '0': 1, '1': 1, '2': 1 });
    } finally {
      await reader.close();
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
    }
  });

  test('startFrom latest skips what the topic held before the group first joined', async () => {
    const name = await topic();
    const seen: CloudEvent[] = [];
    const reader = source(name, `g-${randomUUID()}`, { startFrom: 'latest' });
    try {
      await send(name, [{ value: '{"n":"old"}' }]);
      await reader.start({ handle: async (batch) => void seen.push(...batch.events), onWarning: () => {} });
      await waitFor(
        async () => Object.keys((await reader.status()).position).length === 1,
        'an assignment',
        60_000,
      );
      await send(name, [{ value: '{"n":"new"}' }]);
      await waitFor(() => seen.length >= 1, 'the new record', 60_000);
      assert.deepEqual(
        seen.map((e) => (e.data as { n: string }).n),
        ['new'],
      );
    } finally {
      await reader.close();
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
    }
  });

  test('closed while it joins, a source leaves its consumer group (it does not go on consuming)', async () => {
    const name = await topic();
    const group = `g-${randomUUID()}`;
    const reader = source(name, group);
    try {
      const starting = reader.start({ handle: async () => {}, onWarning: () => {} }).catch(() => undefined);
      await reader.close();
      await starting;
      const members = async () =>
        (await admin.describeGroups({ groups: [group] })).get(group)?.members.size ?? 0;
      // Before the fix the member joined after close() and stayed in the group, heartbeating, for good.
      await waitFor(async () => (await members()) === 0, 'the group without members', 60_000);
      await assert.rejects(reader.start({ handle: async () => {}, onWarning: () => {} }), /closed/);
    } finally {
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
    }
  });

  test('a source on brokers that do not answer fails to start', async () => {
    const reader = new KafkaSource({
      spec: validateConnectorSpec({
        type: 'kafka',
        brokers: ['127.0.0.1:1'],
        topic: 't',
        group: 'g',
      }) as never,
    });
    await assert.rejects(reader.start({ handle: async () => {}, onWarning: () => {} }));
    await reader.close();
  });
});
