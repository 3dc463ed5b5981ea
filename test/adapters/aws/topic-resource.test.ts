/**
 * The `topic` custom resource (functions/topic.ts) against a real Kafka broker: create with the declared
 * partitions, replication factor, min.insync.replicas and retention.ms; update (more partitions, new settings);
 * refusals Kafka cannot honour in place; delete keeps the topic and its records.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Admin, Producer, stringSerializers } from '@platformatic/kafka';
import {
  createTopicResourceHandler,
  type TopicResourceEvent,
  type TopicResourceProperties,
  topicConnectionFromEnv,
  topicSpecOf,
} from '../../../lib/adapters/aws/topic-resource.ts';
import { describeTopic } from '../../../lib/adapters/kafka/topic-admin.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip =
  kafka === undefined
    ? `no Kafka broker: ${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'JUNCTION_TEST_KAFKA is unset'}`
    : false;

const props = (topic: string, more: Partial<TopicResourceProperties> = {}): TopicResourceProperties => ({
  Topic: topic,
  Partitions: '2',
  ReplicationFactor: '1',
  MinInsyncReplicas: '1',
  RetentionMs: String(86_400_000),
  ...more,
});

const event = (
  RequestType: TopicResourceEvent['RequestType'],
  ResourceProperties: TopicResourceProperties,
  extra: Partial<TopicResourceEvent> = {},
): TopicResourceEvent => ({ RequestType, ResourceProperties, ...extra });

describe('topic custom resource (functions/topic.ts) on a real Kafka broker', { skip }, () => {
  const connection = () => ({ bootstrap: [kafka as string], clientId: 'topic-resource-test' });
  const handler = createTopicResourceHandler(connection, { waitMs: 60_000 });
  const topic = `junction-events.cr-${randomUUID().slice(0, 8)}`;
  let admin: Admin;

  before(() => {
    admin = new Admin({ clientId: 'topic-resource-test-admin', bootstrapBrokers: [kafka as string] });
  });
  after(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
  });

  it('creates the topic with the declared partitions, replication factor and settings', async () => {
    assert.equal(await describeTopic(connection(), topic), undefined);
    const answer = await handler(event('Create', props(topic)));
    assert.equal(answer.PhysicalResourceId, topic);
    assert.deepEqual(answer.Data, { Topic: topic, Partitions: 2, ReplicationFactor: 1, Created: 'true' });
    const state = await describeTopic(connection(), topic);
    assert.deepEqual(state, {
      partitions: 2,
      replicationFactor: 1,
      configs: { 'min.insync.replicas': '1', 'retention.ms': '86400000' },
    });
  });

  it('on update adds partitions and changes retention.ms, keeping the records', async () => {
    const producer = new Producer({
      clientId: 'topic-resource-test-producer',
      bootstrapBrokers: [kafka as string],
      serializers: stringSerializers,
    });
    try {
      await producer.send({ messages: [{ topic, key: 'k', value: 'kept', partition: 0 }] });
    } finally {
      await producer.close();
    }
    const answer = await handler(
      event('Update', props(topic, { Partitions: '3', RetentionMs: String(2 * 86_400_000) }), {
        PhysicalResourceId: topic,
        OldResourceProperties: props(topic),
      }),
    );
    assert.equal(answer.PhysicalResourceId, topic);
    assert.equal(answer.Data?.Partitions, 3);
    assert.equal(answer.Data?.Created, 'false');
    const state = await describeTopic(connection(), topic);
    assert.equal(state?.partitions, 3);
    assert.equal(state?.configs['retention.ms'], '172800000');
    const offsets = await admin.listOffsets({
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    assert.equal(Number(offsets[0]?.partitions[0]?.offset), 1, 'the record on partition 0 is still there');
  });

  it('refuses fewer partitions and another replication factor, naming the field, and changes nothing', async () => {
    await assert.rejects(handler(event('Update', props(topic, { Partitions: '1' }))), {
      code: 'InvalidRequest',
      field: 'partitions',
      message: /has 3 partitions and Kafka cannot remove partitions/,
    });
    await assert.rejects(
      handler(
        event('Update', props(topic, { Partitions: '3', ReplicationFactor: '2', MinInsyncReplicas: '1' })),
      ),
      { code: 'InvalidRequest', field: 'replicationFactor', message: /has replication factor 1, not 2/ },
    );
    await assert.rejects(handler(event('Create', props(topic, { MinInsyncReplicas: '2' }))), {
      code: 'InvalidRequest',
      field: 'minInsyncReplicas',
    });
    assert.equal((await describeTopic(connection(), topic))?.partitions, 3);
  });

  it('adopts an existing topic on create (a stack that once let its handlers create it)', async () => {
    const answer = await handler(event('Create', props(topic, { Partitions: '3' })));
    assert.equal(answer.Data?.Created, 'false');
    assert.equal((await describeTopic(connection(), topic))?.configs['retention.ms'], '86400000');
  });

  it('on delete keeps the topic and its records', async () => {
    const answer = await handler(event('Delete', props(topic), { PhysicalResourceId: topic }));
    assert.equal(answer.PhysicalResourceId, topic);
    assert.ok((await admin.listTopics()).includes(topic));
    assert.equal((await describeTopic(connection(), topic))?.partitions, 3);
  });

  it('runs as deployed: functions/topic.ts reads its brokers from JUNCTION_KAFKA_BOOTSTRAP', async () => {
    const saved = process.env.JUNCTION_KAFKA_BOOTSTRAP;
    process.env.JUNCTION_KAFKA_BOOTSTRAP = kafka as string;
    const other = `junction-events.cr-${randomUUID().slice(0, 8)}`;
    try {
      const { handler: deployed } = await import('../../../functions/topic.ts');
      const answer = await deployed(event('Create', props(other, { Partitions: '1', RetentionMs: '-1' })));
      assert.equal(answer.Data?.Created, 'true');
      assert.equal((await describeTopic(connection(), other))?.configs['retention.ms'], '-1');
    } finally {
      if (saved === undefined) delete process.env.JUNCTION_KAFKA_BOOTSTRAP;
      else process.env.JUNCTION_KAFKA_BOOTSTRAP = saved;
      await admin.deleteTopics({ topics: [other] }).catch(() => undefined);
    }
  });
});

describe('topic custom resource: properties and environment', () => {
  it('reads the numbers CloudFormation passes as strings, and refuses what is not a whole number', () => {
    assert.deepEqual(topicSpecOf(props('t')), {
      topic: 't',
      partitions: 2,
      replicationFactor: 1,
      minInsyncReplicas: 1,
      retentionMs: 86_400_000,
    });
    assert.throws(() => topicSpecOf(props('t', { Partitions: 'three' })), {
      code: 'InvalidRequest',
      field: 'Partitions',
      message: /Partitions must be a whole number; received "three"/,
    });
  });

  it('connects with MSK IAM when the cluster ARN is set, and needs the brokers', () => {
    assert.deepEqual(
      topicConnectionFromEnv({
        JUNCTION_KAFKA_BOOTSTRAP: 'b-1:9098, b-2:9098',
        JUNCTION_KAFKA_CLUSTER_ARN: 'arn:aws:kafka:eu-west-1:123456789012:cluster/junction/abc',
      }),
      {
        bootstrap: ['b-1:9098', 'b-2:9098'],
        clientId: 'junction-topic-resource',
        sasl: { mechanism: 'AWS_MSK_IAM', region: 'eu-west-1' },
      },
    );
    assert.throws(() => topicConnectionFromEnv({}), { field: 'JUNCTION_KAFKA_BOOTSTRAP' });
  });
});
