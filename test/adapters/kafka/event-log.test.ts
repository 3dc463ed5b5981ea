/** The Kafka EventLog against a real broker: the shared EventLog suite (a fresh topic per test) and Kafka specifics. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Consumer } from '@platformatic/kafka';
import { createMemoryDedupStore } from '../../../lib/adapters/kafka/dedup.ts';
import { createKafkaEventLog } from '../../../lib/adapters/kafka/index.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import type { Clock, LogRecord } from '../../../lib/ports.ts';
import { deferred, makeEvent, makeEvents, waitFor } from '../../helpers/events.ts';
import { type Broker, startBroker } from '../../kafka/broker.ts';
import { kafkaSkip, testKafka } from '../../kafka/env.ts';
import { eventLogSuite, readAll } from '../../ports/event-log.suite.ts';

/** Real time plus an offset the suite can move forward. */
function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

/**
 * Each test's deadline: generous for a busy machine, far below the runner's per-file timeout, so a test stuck on the
 * broker fails by name and the others still run (a hang once cancelled the whole file after 20 minutes, unnamed).
 */
const timeout = 300_000;

function freshTopic(): string {
  return `junction-test-${randomUUID()}`;
}

describe('Kafka EventLog', { skip: kafkaSkip }, () => {
  if (testKafka === undefined) return;
  const bootstrap = [testKafka];

  eventLogSuite(
    'KafkaEventLog (shared suite)',
    async () => {
      const topic = freshTopic();
      const clock = movableClock();
      const dedup = createMemoryDedupStore({ clock });
      const open = () =>
        createKafkaEventLog({ bootstrap, topic, partitions: 3, dedup, clock, retryBaseMs: 50 });
      return {
        log: await open(),
        reopen: open,
        advanceClock: (ms) => clock.advance(ms),
        cleanup: async () => undefined,
      };
    },
    { groupMembers: true, testTimeoutMs: timeout },
  );

  test('creates the topic with the partitions asked for and keeps an existing topic as it is', {
    timeout,
  }, async () => {
    const topic = freshTopic();
    const first = await createKafkaEventLog({ bootstrap, topic, partitions: 4, retentionMs: 3_600_000 });
    assert.equal(first.partitions, 4);
    await first.close();
    const second = await createKafkaEventLog({ bootstrap, topic, partitions: 9 });
    assert.equal(second.partitions, 4);
    await second.close();
  });

  test('writes CloudEvents in the Kafka binding, structured, keyed by partitionkey', {
    timeout,
  }, async () => {
    const topic = freshTopic();
    const log = await createKafkaEventLog({ bootstrap, topic, partitions: 2 });
    const event = makeEvent({ partitionkey: 'order-42', data: { total: 7 } });
    await log.append([event]);
    const consumer = new Consumer({
      clientId: 'raw',
      groupId: `raw-${randomUUID()}`,
      bootstrapBrokers: bootstrap,
    });
    try {
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
      const [message] = await stream.take(1).toArray();
      await stream.close();
      assert.ok(message);
      assert.equal(message.key.toString(), 'order-42');
      assert.equal(headerOf(message.headers), 'application/cloudevents+json; charset=utf-8');
      assert.deepEqual(JSON.parse(message.value.toString()), event);
    } finally {
      await consumer.close(true);
      await log.close();
    }
  });

  test('hands a partition to a new group member only after the running batch is committed', {
    timeout,
  }, async () => {
    const topic = freshTopic();
    const log = await createKafkaEventLog({ bootstrap, topic, partitions: 1 });
    try {
      await log.append(makeEvents(10, () => ({ source: 'urn:test:handover' })));
      const handled = new Map<string, number>();
      const gate = deferred();
      let firstCall = true;
      const handler = async (records: readonly LogRecord[]) => {
        if (firstCall) {
          firstCall = false;
          await gate.promise;
        }
        for (const r of records) handled.set(r.event.id, (handled.get(r.event.id) ?? 0) + 1);
      };
      const a = await log.subscribe({ group: 'g-handover', handler, maxBatch: 5 });
      let joining: Promise<{ close(): Promise<void> }> | undefined;
      try {
        await waitFor(() => !firstCall, 'the first batch to start');
        joining = log.subscribe({ group: 'g-handover', handler, maxBatch: 5 });
        await new Promise((resolve) => setTimeout(resolve, 1500));
      } finally {
        gate.resolve(); // the log's close waits for the running batch: a failure above must not leave it waiting
      }
      const b = await joining!;
      await waitFor(
        async () => (await log.committed('g-handover'))[0]!.offset === 10,
        'every record committed',
      );
      await a.close();
      await b.close();
      assert.equal(handled.size, 10);
      assert.ok(
        [...handled.values()].every((n) => n === 1),
        'no record handled twice',
      );
    } finally {
      await log.close();
    }
  });

  test('buses on two topics may share a group name: each member is handed only its own topic’s partitions', {
    timeout,
  }, async () => {
    // The client's default assigner hands every topic's partitions round-robin over ALL members of a group, whatever
    // each subscribed to: a member then drops the partitions of the other topic and nobody consumes them (the CI
    // failure of test/e2e/kafka.test.ts: tests on other topics had joined "junction-router" meanwhile).
    const group = `g-shared-${randomUUID()}`;
    const logs = await Promise.all(
      [freshTopic(), freshTopic()].map((topic) => createKafkaEventLog({ bootstrap, topic, partitions: 4 })),
    );
    const subscriptions: { close(): Promise<void> }[] = [];
    try {
      const handled = logs.map(() => new Set<string>());
      for (const [i, log] of logs.entries()) {
        subscriptions.push(
          await log.subscribe({
            group,
            handler: async (records) => {
              for (const r of records) handled[i]!.add(r.event.id);
            },
          }),
        );
      }
      const ids = logs.map((_, i) => Array.from({ length: 40 }, (_, n) => `t${i}-${n}`));
      for (const [i, log] of logs.entries())
        await log.append(ids[i]!.map((id) => makeEvent({ id, source: 'urn:test:shared-group' })));
      await waitFor(
        () => logs.every((_, i) => handled[i]!.size === 40),
        'both members to handle all 40 events of their own topic',
        60_000,
      );
      // A batch is committed after its handler returns: wait for the commits rather than read them at once.
      const committed = async (log: (typeof logs)[number]) =>
        (await log.committed(group)).map((p) => p.offset).reduce((a, b) => a + b, 0);
      for (const [i, log] of logs.entries())
        await waitFor(
          async () => (await committed(log)) === 40,
          `topic ${i}: every partition committed`,
          60_000,
        );
    } finally {
      for (const s of subscriptions) await s.close();
      for (const log of logs) await log.close();
    }
  });

  test('appends made together go in one request and each answers its own positions, in its order', {
    timeout,
  }, async () => {
    // The appends of one turn of the event loop are produced together (one request per 512 KiB): the broker's base
    // offsets are split back to each caller. 120 appends of 1–3 events on one partition key, all at once: every
    // position is answered once, each append's in its own order, and the log holds each event where it was told.
    const topic = freshTopic();
    const log = await createKafkaEventLog({ bootstrap, topic, partitions: 3 });
    try {
      const appends = Array.from({ length: 120 }, (_, i) =>
        Array.from({ length: 1 + (i % 3) }, (_, j) => makeEvent({ id: `a${i}-e${j}`, partitionkey: 'one' })),
      );
      const answers = await Promise.all(appends.map((events) => log.append(events)));
      const placed = new Map<number, string>();
      let partition: number | undefined;
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.length, (appends[i] as unknown[]).length);
        for (const [j, result] of answer.entries()) {
          const position = result.position as { partition: number; offset: number };
          partition ??= position.partition;
          assert.equal(position.partition, partition, 'one key, one partition');
          if (j > 0) assert.equal(position.offset, (answer[j - 1]?.position?.offset as number) + 1);
          assert.ok(!placed.has(position.offset), `offset ${position.offset} answered twice`);
          placed.set(position.offset, `a${i}-e${j}`);
        }
      }
      const total = appends.reduce((sum, events) => sum + events.length, 0);
      assert.equal(placed.size, total);
      const read = await log.read(partition as number, 0, total + 10);
      assert.equal(read.length, total);
      for (const record of read) assert.equal(record.event.id, placed.get(record.offset));
    } finally {
      await log.close();
    }
  });

  test('rejects bad arguments with the field named', { timeout }, async () => {
    const log = await createKafkaEventLog({ bootstrap, topic: freshTopic(), partitions: 2 });
    try {
      await assert.rejects(log.read(2, 0, 1), { code: 'InvalidRequest', field: 'partition' });
      await assert.rejects(log.read(0, -1, 1), { code: 'InvalidRequest', field: 'fromOffset' });
      await assert.rejects(log.subscribe({ group: 'bad group', handler: async () => {} }), {
        code: 'InvalidRequest',
        field: 'group',
      });
      await assert.rejects(log.subscribe({ group: 'g', handler: async () => {}, maxBatch: 0 }), {
        code: 'InvalidRequest',
        field: 'maxBatch',
      });
    } finally {
      await log.close();
    }
  });
});

function headerOf(headers: Map<Buffer, Buffer>): string | undefined {
  for (const [name, value] of headers) if (name.toString() === 'content-type') return value.toString();
  return undefined;
}

describe('Kafka EventLog across broker restarts (its own broker)', { skip: kafkaSkip }, () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker?.remove();
  });

  async function restart(): Promise<void> {
    await broker.stop();
    broker = await startBroker({ dir: broker.dir, port: broker.port, controllerPort: broker.controllerPort });
  }

  test('keeps acknowledged events across a broker restart', { timeout: 120_000 }, async () => {
    const topic = freshTopic();
    const log = await createKafkaEventLog({ bootstrap: [broker.bootstrap], topic, partitions: 3 });
    const events = makeEvents(20, (i) => ({ source: `urn:test:durable:${i % 5}` }));
    await log.append(events);
    await log.close();
    await restart();
    const again = await createKafkaEventLog({ bootstrap: [broker.bootstrap], topic });
    try {
      const ids = (await readAll(again)).map((r) => r.event.id).sort();
      assert.deepEqual(ids, events.map((e) => e.id).sort());
    } finally {
      await again.close();
    }
  });

  test('answers BufferUnavailable within the append timeout while the broker is down, and recovers', {
    timeout: 120_000,
  }, async () => {
    const topic = freshTopic();
    const log = await createKafkaEventLog({
      bootstrap: [broker.bootstrap],
      topic,
      partitions: 2,
      appendTimeoutMs: 2000,
    });
    const handled: string[] = [];
    const subscription = await log.subscribe({
      group: 'g-outage',
      handler: async (records) => {
        for (const r of records) handled.push(r.event.id);
      },
    });
    try {
      const before = makeEvent({ source: 'urn:test:outage' });
      await log.append([before]);
      await broker.stop();

      const started = Date.now();
      const error = await log.append([makeEvent({ source: 'urn:test:outage' })]).then(
        () => undefined,
        (e: unknown) => e,
      );
      const elapsed = Date.now() - started;
      assert.ok(error instanceof JunctionError, `rejected with a JunctionError, got ${String(error)}`);
      assert.equal(error.code, 'BufferUnavailable');
      assert.equal(error.retriable, true);
      assert.equal(error.status, 503);
      assert.ok(elapsed < 2000 + 1500, `rejected within the append timeout (took ${elapsed} ms)`);

      broker = await startBroker({
        dir: broker.dir,
        port: broker.port,
        controllerPort: broker.controllerPort,
      });
      const after = makeEvent({ source: 'urn:test:outage' });
      let appended = false;
      await waitFor(
        async () => {
          appended = await log.append([after]).then(
            () => true,
            () => false,
          );
          return appended;
        },
        'an append to succeed after the restart',
        60_000,
      );
      await waitFor(
        () => handled.includes(before.id) && handled.includes(after.id),
        'the subscriber to resume',
        60_000,
      );
    } finally {
      await subscription.close();
      await log.close();
    }
  });
});
