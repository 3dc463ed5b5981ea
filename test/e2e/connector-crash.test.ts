/**
 * Connector crash safety (issue #18): the bus runs as a child process with a Kafka source connector while a producer
 * keeps writing plain records to a three-partition topic; the bus is killed with SIGKILL at random moments (5 times)
 * and restarted on the same data dir. Afterwards every record the topic holds is in the bus's log exactly once: a
 * crash neither loses a record (the position is committed only after the log accepted the events) nor publishes one
 * twice (ids derive from the position, and the idempotent publish drops what a restart reads again).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { kafkaSkip, testKafka } from '../kafka/env.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';
import { idCountsInLog } from './support/log-ids.ts';

const KILLS = 5;
const PARTITIONS = 3;
const MAX_RECORDS = 30_000;

async function position(bus: ChildBus): Promise<number> {
  const res = await request(bus.url, 'GET', '/connectors/feed');
  if (res.status !== 200) return -1;
  return Object.values(res.body.position as Record<string, number>).reduce((a, b) => a + b, 0);
}

test('a connector killed with SIGKILL at random moments takes every record into the log exactly once', {
  skip: kafkaSkip,
  timeout: 300_000,
}, async () => {
  if (testKafka === undefined) return;
  const brokers = [testKafka];
  const topic = `crash-${randomUUID()}`;
  const admin = new Admin({ clientId: 'connector-crash-admin', bootstrapBrokers: brokers, retries: 5 });
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'connector-crash',
    bootstrapBrokers: brokers,
    acks: -1,
    idempotent: true,
  });
  const dir = tempDir('junction-connector-crash-');
  const port = await freePort();
  let bus: ChildBus = await startChildBus(join(dir.path, 'data'), port);
  let producing = true;
  let written = 0;
  try {
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    const put = await request(bus.url, 'PUT', '/connectors/feed', {
      type: 'kafka',
      brokers,
      topic,
      group: `g-${randomUUID()}`,
      maxBatch: 100,
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));

    const writer = (async () => {
      while (producing && written < MAX_RECORDS) {
        const messages = Array.from({ length: 150 }, (_, i) => ({
          topic,
          partition: (written + i) % PARTITIONS,
          value: Buffer.from(JSON.stringify({ n: written + i })),
        }));
        await producer.send({ messages });
        written += messages.length;
      }
    })();

    for (let k = 0; k < KILLS; k++) {
      // Kill at a random moment, but only once this incarnation has taken some records in.
      const from = await position(bus);
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 700)));
      const deadline = Date.now() + 120_000;
      while ((await position(bus)) < from + 100) {
        if (Date.now() > deadline) assert.fail(`the connector did not move past ${from} in incarnation ${k}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await kill9(bus);
      bus = await startChildBus(join(dir.path, 'data'), port);
    }
    producing = false;
    await writer;

    // Everything written is read: the connector runs, at the end of every partition.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const status = (await request(bus.url, 'GET', '/connectors/feed')).body;
      if (status.state === 'running' && status.lag === 0 && (await position(bus)) === written) break;
      if (Date.now() > deadline) assert.fail(`the connector did not catch up: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await stopGracefully(bus);

    const stores = openSqliteStores({ dataDir: join(dir.path, 'data') });
    try {
      const inLog = await idCountsInLog(stores.log);
      const perPartition = Math.ceil(written / PARTITIONS);
      const expected: string[] = [];
      for (let p = 0; p < PARTITIONS; p++)
        for (let o = 0; o < perPartition && o * PARTITIONS + p < written; o++)
          expected.push(`${topic}-${p}-${o}`);
      assert.equal(expected.length, written);
      const missing = expected.filter((id) => !inLog.has(id));
      assert.deepEqual(missing.slice(0, 10), [], `${missing.length} records are not in the log`);
      const twice = [...inLog].filter(([, n]) => n > 1);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} records are in the log more than once`);
      assert.equal(inLog.size, written);
    } finally {
      stores.close();
    }
  } finally {
    producing = false;
    await kill9(bus);
    await producer.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.close();
    dir.remove();
  }
});
