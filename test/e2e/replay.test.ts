/** Replay and rule simulation over retained events (on the SQLite log; the Kafka log runs the same engine code). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EventLog } from '../../lib/ports.ts';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

/** Spaces publishes apart in time (the replay ranges are times); not a wait for a condition. */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deliveries the bus still has to make (pending or in flight), from its metrics. */
async function pending(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^junction_deliveries_pending\{bus="default"\} (\d+)/m.exec(text)?.[1] ?? 'NaN');
}

const kafka = process.env.JUNCTION_TEST_KAFKA;
const logs: Array<{ name: string; skip: string | false; open: () => Promise<EventLog | undefined> }> = [
  { name: 'SQLite', skip: false, open: async () => undefined },
  {
    name: 'Kafka',
    skip: kafka
      ? false
      : `no Kafka broker: JUNCTION_TEST_KAFKA is unset (${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'run through npm test'})`,
    open: async () => {
      const { createKafkaEventLog } = await import('../../lib/adapters/kafka/index.ts');
      return createKafkaEventLog({
        bootstrap: [kafka as string],
        topic: `replay-${Date.now()}`,
        partitions: 3,
      });
    },
  },
];

for (const { name, skip, open } of logs)
  describe(`replay and rule simulation on the ${name} log`, { skip }, () => {
    let bus: TestBus;
    let a: HttpTarget;
    let b: HttpTarget;
    let t1 = 0;
    let t2 = 0;

    before(async () => {
      const log = await open();
      bus = await startTestBus(log === undefined ? {} : { log });
      a = await startHttpTarget();
      b = await startHttpTarget();
      await request(bus.url, 'PUT', '/rules/to-a', {
        pattern: { type: ['r'] },
        targets: [{ id: 'a', type: 'http', url: a.url }],
      });
      await request(bus.url, 'PUT', '/rules/to-b', {
        pattern: { type: ['r'] },
        targets: [{ id: 'b', type: 'http', url: b.url }],
      });
      for (const id of ['before-1', 'before-2'])
        await publishBinary(bus, { id, source: '/replay', type: 'r' });
      await pause(30);
      t1 = Date.now();
      await pause(5);
      for (let i = 0; i < 5; i++)
        await publishBinary(bus, {
          id: `in-${i}`,
          source: '/replay',
          type: 'r',
          priority: i % 2 ? 'high' : 'low',
        });
      await pause(5);
      t2 = Date.now();
      await pause(30);
      await publishBinary(bus, { id: 'after-1', source: '/replay', type: 'r' });
      await waitFor(
        () => a.received.length === 8 && b.received.length === 8,
        'the first deliveries',
        120_000,
      );
    });
    after(async () => {
      await bus.stop();
      await a.close();
      await b.close();
    });

    test('re-delivers exactly the events of the range, marked as replays, to the one rule asked for', async () => {
      const res = await request(bus.url, 'POST', '/replays', {
        from: new Date(t1).toISOString(),
        to: new Date(t2).toISOString(),
        rule: 'to-a',
        name: 'fix-123',
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.body.name, 'fix-123');
      assert.equal(res.body.events, 5);
      assert.equal(res.body.deliveries, 5);
      await waitFor(() => a.received.length === 13, 'the replayed deliveries', 60_000);
      const replayed = a.received.slice(8);
      assert.deepEqual(replayed.map((r) => r.headers['ce-id']).sort(), [
        'in-0',
        'in-1',
        'in-2',
        'in-3',
        'in-4',
      ]);
      assert.ok(replayed.every((r) => r.headers['ce-replayname'] === 'fix-123'));
      // A replay is a new delivery on purpose: its idempotency key carries the replay's name.
      for (const r of replayed)
        assert.equal(r.headers['idempotency-key'], `/replay#${r.headers['ce-id']}#replay:fix-123`);
      // Every delivery made (a stray replayed one would have arrived by then): only then the counts say "nothing else".
      await waitFor(async () => (await pending(bus.url)) === 0, 'no delivery left to make', 60_000);
      assert.equal(b.received.length, 8, 'the other rule got nothing');
      assert.equal(a.received.length, 13, 'nothing outside the range');
    });

    test('simulates a new rule over retained events without delivering anything', async () => {
      const before = a.received.length + b.received.length;
      const res = await request(bus.url, 'POST', '/rules/high-only/simulate', {
        from: t1,
        to: t2,
        pattern: { priority: ['high'] },
        targets: [{ id: 'x', type: 'http', url: a.url }],
        sample: 1,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.scanned, 5);
      assert.equal(res.body.matched, 2);
      assert.equal(res.body.deliveries, 2);
      assert.equal(res.body.sample.length, 1);
      assert.equal(res.body.sample[0].priority, 'high');
      const stored = await request(bus.url, 'POST', '/rules/to-b/simulate', {
        from: 0,
        to: Date.now() + 1000,
      });
      assert.equal(stored.body.scanned, 8);
      assert.equal(stored.body.matched, 8);
      assert.equal(
        (await request(bus.url, 'GET', '/rules/high-only')).status,
        404,
        'simulation creates no rule',
      );
      await waitFor(async () => (await pending(bus.url)) === 0, 'no delivery left to make', 60_000);
      assert.equal(a.received.length + b.received.length, before, 'nothing was delivered');
    });

    test('rejects a replay without a valid range', async () => {
      const res = await request(bus.url, 'POST', '/replays', { from: 'yesterday', to: 'now' });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.field, 'from');
      const backwards = await request(bus.url, 'POST', '/replays', { from: 2000, to: 1000 });
      assert.equal(backwards.body.error.field, 'to');
    });
  });
