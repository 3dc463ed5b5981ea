/**
 * The bus on Kafka, against a real broker: two server processes sharing a 6-partition topic through the consumer
 * group (one is SIGKILLed and the other takes over), ingest during a broker outage (503, then recovery, nothing
 * acknowledged lost), and the `kafka` target.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Consumer } from '@platformatic/kafka';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { fixtureFunction, request, startTestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';
import { startBroker } from '../kafka/broker.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';

const bootstrap = process.env.JUNCTION_TEST_KAFKA;
const skip = bootstrap
  ? false
  : `no Kafka broker: JUNCTION_TEST_KAFKA is unset (${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'run through npm test'})`;

async function publish(url: string, id: string, source: string): Promise<number> {
  try {
    const res = await fetch(`${url}/events`, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': source,
        'ce-type': 'kafka.test',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ id }),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function pendingAndLag(url: string): Promise<[number, number]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [
    Number(/^junction_deliveries_pending\{bus="default"\} (\d+)/m.exec(text)?.[1] ?? 'NaN'),
    Number(/^junction_router_lag_events\{bus="default"\} (\d+)/m.exec(text)?.[1] ?? 'NaN'),
  ];
}

describe('the bus on Kafka', { skip }, () => {
  test('two processes share the topic; when one is SIGKILLed the other takes over and nothing is lost', {
    timeout: 180_000,
  }, async (t) => {
    const dir = tempDir('junction-kafka-two-');
    const web = await startHttpTarget();
    const onceFile = join(dir.path, 'once.txt');
    const topic = `two-${Date.now()}`;
    const env = {
      JUNCTION_KAFKA: bootstrap as string,
      JUNCTION_KAFKA_TOPIC: topic,
      JUNCTION_KAFKA_PARTITIONS: '6',
      JUNCTION_LEASE_MS: '3000',
    };
    const data = join(dir.path, 'data');
    let a: ChildBus | undefined;
    let b: ChildBus | undefined;
    try {
      a = await startChildBus(data, await freePort(), env);
      assert.equal(
        (await request(a.url, 'PUT', '/functions/once', fixtureFunction('append-line-once'))).status,
        200,
      );
      const rule = await request(a.url, 'PUT', '/rules/k', {
        pattern: { type: ['kafka.test'] },
        targets: [
          { id: 'web', type: 'http', url: web.url },
          {
            id: 'once',
            type: 'function',
            function: 'once',
            delivery: 'exactly-once',
            input: { template: JSON.stringify({ file: onceFile }) },
          },
        ],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      b = await startChildBus(data, await freePort(), env);

      const acked = new Set<string>();
      let n = 0;
      let streaming = true;
      const stream = async (bus: () => ChildBus | undefined) => {
        while (streaming) {
          const target = bus();
          if (!target) break;
          const i = n++;
          const id = `k-${i}`;
          const source = `/src-${i % 7}`;
          if ((await publish(target.url, id, source)) === 202) acked.add(`${source} ${id}`);
        }
      };
      // Two clients on A, two on B; then A dies mid-stream and its clients stop.
      let aAlive = true;
      const clients = [
        stream(() => (aAlive ? a : undefined)),
        stream(() => (aAlive ? a : undefined)),
        stream(() => b),
        stream(() => b),
      ];
      await waitFor(() => acked.size >= 200, '200 acknowledged events', 60_000);
      aAlive = false;
      await kill9(a);
      a = undefined;
      await waitFor(() => acked.size >= 400, '200 more acknowledged by the survivor', 60_000);
      streaming = false;
      await Promise.all(clients);

      const deadline = Date.now() + 90_000;
      for (;;) {
        const [pending, lag] = await pendingAndLag(b.url);
        if (pending === 0 && lag === 0) break;
        if (Date.now() > deadline)
          assert.fail(
            `the survivor still has ${pending} pending deliveries and ${lag} unrouted events; its stderr ends:\n${b.stderr.join('').slice(-6000)}`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
      await stopGracefully(b);
      b = undefined;

      const stores = openSqliteStores({ dataDir: data });
      try {
        for (const key of acked) {
          const [source, id] = key.split(' ') as [string, string];
          for (const target of ['web', 'once']) {
            const state = await stores.ledger.get({ source, id, rule: 'k', target });
            assert.ok(state, `${key} → ${target} was enqueued`);
            assert.ok(
              state.entry.state === 'delivered' || state.entry.state === 'dead-lettered',
              `${key} → ${target} reached an outcome (${state.entry.state})`,
            );
          }
        }
      } finally {
        await stores.close();
      }
      const lines = existsSync(onceFile) ? readFileSync(onceFile, 'utf8').split('\n').filter(Boolean) : [];
      const counts = new Map<string, number>();
      for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
      for (const key of acked) assert.equal(counts.get(key), 1, `the exactly-once function ran ${key} once`);
      const webIds = new Set(web.received.map((r) => `${r.headers['ce-source']} ${r.headers['ce-id']}`));
      for (const key of acked) assert.ok(webIds.has(key), `the HTTP target received ${key}`);
      t.diagnostic(`acknowledged ${acked.size}; HTTP deliveries ${web.received.length} (at-least-once)`);
    } finally {
      if (a) await kill9(a);
      if (b) await kill9(b);
      await web.close();
      dir.remove();
    }
  });

  test('answers 503 while the broker is down, recovers when it returns, and loses nothing acknowledged', {
    timeout: 180_000,
  }, async () => {
    const broker = await startBroker();
    const dir = tempDir('junction-kafka-outage-');
    const sink = await startHttpTarget();
    const topic = `outage-${Date.now()}`;
    let bus: ChildBus | undefined;
    try {
      bus = await startChildBus(join(dir.path, 'data'), await freePort(), {
        JUNCTION_KAFKA: broker.bootstrap,
        JUNCTION_KAFKA_TOPIC: topic,
        JUNCTION_KAFKA_PARTITIONS: '3',
        JUNCTION_APPEND_TIMEOUT_MS: '2000',
      });
      await request(bus.url, 'PUT', '/rules/all', {
        pattern: { type: ['kafka.test'] },
        targets: [{ id: 's', type: 'http', url: sink.url }],
      });
      const acked = new Set<string>();
      const statuses = new Map<number, number>();
      let n = 0;
      const send = async () => {
        const id = `o-${n++}`;
        const status = await publish((bus as ChildBus).url, id, '/outage');
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 202) acked.add(id);
        return status;
      };
      for (let i = 0; i < 20; i++) assert.equal(await send(), 202);
      await broker.stop();
      let saw503 = false;
      for (let i = 0; i < 5 && !saw503; i++) saw503 = (await send()) === 503;
      assert.ok(saw503, `ingest answered ${JSON.stringify([...statuses])} while the broker was down`);
      const restarted = await startBroker({
        dir: broker.dir,
        port: broker.port,
        controllerPort: broker.controllerPort,
      });
      try {
        await waitFor(async () => (await send()) === 202, 'ingest to recover', 90_000);
        for (let i = 0; i < 20; i++) await send();
        await waitFor(
          () => new Set(sink.received.map((r) => String(r.headers['ce-id']))).size >= acked.size,
          'every acknowledged event delivered',
          90_000,
        );
        const delivered = new Set(sink.received.map((r) => String(r.headers['ce-id'])));
        for (const id of acked) assert.ok(delivered.has(id), `acknowledged ${id} was delivered`);
      } finally {
        if (bus) await stopGracefully(bus);
        bus = undefined;
        await restarted.remove();
      }
    } finally {
      if (bus) await kill9(bus);
      await sink.close();
      await broker.remove().catch(() => undefined);
      dir.remove();
    }
  });

  test('delivers to a kafka target in the CloudEvents Kafka binding', { timeout: 60_000 }, async () => {
    const bus = await startTestBus();
    const topic = `target-${Date.now()}`;
    const consumer = new Consumer({
      clientId: 'test-target',
      groupId: `g-${topic}`,
      bootstrapBrokers: [bootstrap as string],
    });
    try {
      const rule = await request(bus.url, 'PUT', '/rules/to-kafka', {
        pattern: { type: ['to.kafka'] },
        targets: [{ id: 'k', type: 'kafka', topic, brokers: [bootstrap], mode: 'binary' }],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      await request(bus.url, 'POST', '/events', JSON.stringify({ hello: 'kafka' }), {
        'ce-specversion': '1.0',
        'ce-id': 'kt-1',
        'ce-source': '/kt',
        'ce-type': 'to.kafka',
        'ce-partitionkey': 'order-7',
        'content-type': 'application/json',
      });
      await waitFor(
        async () =>
          (await request(bus.url, 'GET', '/events/kt-1/trace?source=/kt')).body?.entries?.some(
            (e: { kind: string }) => e.kind === 'delivered',
          ),
        'the kafka delivery',
        30_000,
      );
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
      const got = await new Promise<{ key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> }>(
        (resolve) => {
          stream.once('data', (message) => resolve(message as never));
        },
      );
      await stream.close();
      assert.equal(got.key.toString(), 'order-7');
      assert.deepEqual(JSON.parse(got.value.toString()), { hello: 'kafka' });
      const headers = new Map([...got.headers].map(([k, v]) => [k.toString(), v.toString()]));
      assert.equal(headers.get('ce_id'), 'kt-1');
      assert.equal(headers.get('ce_source'), '/kt');
      assert.equal(headers.get('idempotency-key'), '/kt#kt-1');
    } finally {
      await consumer.close(true).catch(() => undefined);
      await bus.stop();
    }
  });

  for (const isolation of ['shared', 'process'] as const)
    test(`a named bus gets its own topic and consumer group, with its own retention (isolation: ${isolation})`, {
      timeout: 90_000,
    }, async () => {
      const { createKafkaEventLog } = await import('../../lib/adapters/kafka/index.ts');
      const { Admin } = await import('@platformatic/kafka');
      const topic = `buses-${isolation}-${Date.now()}`;
      const kafka = { bootstrap: [bootstrap as string], topic, partitions: 2 };
      const bus = await startTestBus({ log: await createKafkaEventLog(kafka), kafka, pollMs: 50 });
      const target = await startHttpTarget();
      const admin = new Admin({ clientId: 'test-buses', bootstrapBrokers: [bootstrap as string] });
      try {
        const created = await request(bus.url, 'PUT', '/buses/orders', {
          retentionMs: 3_600_000,
          // In a bus process of its own, the bus opens its topic and joins its group there.
          ...(isolation === 'process' ? { isolation } : {}),
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        assert.equal(created.body.process?.state, isolation === 'process' ? 'running' : undefined);
        for (const [path, id] of [
          ['/buses/orders/rules/r', 'o'],
          ['/rules/r', 'd'],
        ] as const) {
          const rule = await request(bus.url, 'PUT', path, {
            pattern: { type: ['kafka.test'] },
            targets: [{ id, type: 'http', url: `${target.url}/${id}` }],
          });
          assert.equal(rule.status, 201, JSON.stringify(rule.body));
        }
        const res = await fetch(`${bus.url}/buses/orders/events`, {
          method: 'POST',
          headers: { 'ce-specversion': '1.0', 'ce-id': 'nb-1', 'ce-source': '/nb', 'ce-type': 'kafka.test' },
        });
        assert.equal(res.status, 202);
        await waitFor(() => target.received.some((r) => r.url === '/o'), 'the orders bus delivering', 60_000);
        assert.ok(!target.received.some((r) => r.url === '/d'), 'the default bus never saw it');
        const topics = await admin.listTopics();
        assert.ok(topics.includes(`${topic}.orders`), `topics: ${topics.join(', ')}`);
        const configs = await admin.describeConfigs({
          resources: [
            { resourceType: 2, resourceName: `${topic}.orders`, configurationKeys: ['retention.ms'] },
          ],
        });
        assert.equal(
          configs[0]?.configs.find((c: { name: string }) => c.name === 'retention.ms')?.value,
          '3600000',
        );
        const groups = await admin.listGroups();
        assert.ok(
          [...groups.keys()].includes('junction-router.orders'),
          `groups: ${[...groups.keys()].join(', ')}`,
        );
        // Deleting the bus deletes its topic and its group.
        assert.equal((await request(bus.url, 'DELETE', '/buses/orders?force=true')).status, 204);
        assert.ok(!(await admin.listTopics()).includes(`${topic}.orders`));
        assert.ok(![...(await admin.listGroups()).keys()].includes('junction-router.orders'));
      } finally {
        await admin.close().catch(() => undefined);
        await bus.stop();
        await target.close();
      }
    });
});
