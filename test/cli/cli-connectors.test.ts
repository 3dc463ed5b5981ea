/** `junction connectors …` against a real bus reading a real Kafka topic: declare, list, status, pause, resume, delete. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { EXIT } from '../../lib/cli/cli.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';

describe('junction connectors', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const kafka = testKafka;
  let bus: TestBus;
  let admin: Admin;
  const topic = `cli-${randomUUID()}`;

  before(async () => {
    bus = await startTestBus();
    admin = new Admin({ clientId: 'cli-connectors', bootstrapBrokers: [kafka], retries: 5 });
    await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
    const producer = new Producer({
      clientId: 'cli-connectors',
      bootstrapBrokers: [kafka],
      idempotent: true,
    });
    await producer.send({ messages: [{ topic, partition: 0, value: Buffer.from('{"n":1}') }] });
    await producer.close();
  });
  after(async () => {
    await bus?.stop();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.close();
  });

  const run = (...args: string[]) => cli([...args, '--url', bus.url]);

  test('declares a connector from inline JSON, shows it running, pauses, resumes and deletes it', async () => {
    const spec = JSON.stringify({ type: 'kafka', brokers: [kafka], topic, group: `g-${randomUUID()}` });
    const put = await run('connectors', 'put', 'feed', spec);
    assert.equal(put.code, EXIT.ok, put.err);
    assert.match(put.out, /^connector feed saved \(kafka cli-/);

    await waitFor(
      async () => /state\s+running/.test((await run('connectors', 'status', 'feed')).out),
      'the connector running',
      60_000,
    );
    await waitFor(
      async () => /position\s+0:1\n/.test((await run('connectors', 'status', 'feed')).out),
      'the connector caught up',
      60_000,
    );
    const status = await run('connectors', 'status', 'feed');
    assert.match(status.out, /position\s+0:1/);
    assert.match(status.out, /events\s+1 taken, 0 duplicates dropped, 0 dead-lettered/);

    const list = await run('connectors', 'list');
    assert.equal(list.code, EXIT.ok);
    assert.match(list.out, /^NAME\s+TYPE\s+STATE\s+READS\s+LAG/);
    assert.match(list.out, /\nfeed\s+kafka\s+running\s+cli-\S+\s+0\b/);
    const json = JSON.parse((await run('connectors', 'list', '--json')).out);
    assert.equal(json.connectors[0].name, 'feed');

    const paused = await run('connectors', 'pause', 'feed');
    assert.equal(paused.code, EXIT.ok, paused.err);
    assert.equal(paused.out, 'connector feed paused\n');
    assert.match((await run('connectors', 'status', 'feed')).out, /state\s+paused/);
    const resumed = await run('connectors', 'resume', 'feed');
    assert.equal(resumed.code, EXIT.ok, resumed.err);
    assert.match(resumed.out, /^connector feed resumed/);

    const deleted = await run('connectors', 'delete', 'feed');
    assert.equal(deleted.code, EXIT.ok);
    assert.equal(deleted.out, 'deleted connector feed\n');
    assert.match((await run('connectors', 'list')).out, /^no connectors yet/);
  });

  test('a bad connector is refused with the field named; an unknown one with a hint; bad JSON is a usage error', async () => {
    const bad = await run(
      'connectors',
      'put',
      'bad',
      '{"type":"kafka","topic":"t","brokers":["localhost:9092"]}',
    );
    assert.equal(bad.code, EXIT.apiError);
    assert.match(bad.err, /group/);
    assert.doesNotMatch(bad.err, /\n\s+at /);
    const missing = await run('connectors', 'status', 'nope');
    assert.equal(missing.code, EXIT.apiError);
    assert.match(missing.err, /junction connectors list/);
    const notJson = await run('connectors', 'put', 'bad', '{not json');
    assert.equal(notJson.code, EXIT.usage);
  });
});
