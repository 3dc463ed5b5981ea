/**
 * Schemas with several processes on one data dir (the Kafka log, docs/kafka.md): a schema registered through one
 * process is enforced by the other within the refresh interval, without a restart; a version registered through the
 * second after that is numbered after the first's. Real broker, two bus processes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { request } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, startChildBus, stopGracefully } from './support/child-bus.ts';

const bootstrap = process.env.JUNCTION_TEST_KAFKA;
const skip = bootstrap
  ? false
  : `no Kafka broker: JUNCTION_TEST_KAFKA is unset (${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'run through npm test'})`;

const CE = { 'content-type': 'application/cloudevents+json' };
const order = (id: string, total: unknown) => ({
  specversion: '1.0',
  id,
  source: '/shop',
  type: 'com.shop.order.created',
  data: { total },
});

describe('schemas across the processes of one data dir', { skip }, () => {
  test('a schema put through one process is enforced by the other without a restart', {
    timeout: 180_000,
  }, async () => {
    const dir = tempDir('junction-schemas-shared-');
    const env = {
      JUNCTION_KAFKA: bootstrap as string,
      JUNCTION_KAFKA_TOPIC: `schemas-shared-${Date.now()}`,
      JUNCTION_KAFKA_PARTITIONS: '2',
    };
    const data = join(dir.path, 'data');
    let a: ChildBus | undefined;
    let b: ChildBus | undefined;
    try {
      a = await startChildBus(data, await freePort(), env);
      b = await startChildBus(data, await freePort(), env);
      // b has loaded its registry (empty): an order with a string total is accepted.
      assert.equal((await request(b.url, 'POST', '/events', order('o-0', 'ten'), CE)).status, 202);
      const put = await request(a.url, 'PUT', '/schemas/order', {
        schema: {
          type: 'object',
          properties: { total: { type: 'number' } },
          required: ['total'],
        },
        binding: { type: 'com.shop.order.created' },
        enforcement: 'reject',
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      let n = 0;
      await waitFor(
        async () =>
          (await request(b?.url as string, 'POST', '/events', order(`o-${++n}`, 'ten'), CE)).status === 400,
        'the other process refusing what the schema forbids',
        60_000,
      );
      const refused = await request(b.url, 'POST', '/events', order('o-bad', 'ten'), CE);
      assert.equal(refused.status, 400);
      assert.equal((refused.body as { error: { code: string } }).error.code, 'SchemaViolation');
      assert.equal((await request(b.url, 'POST', '/events', order('o-good', 10), CE)).status, 202);
      // A new version through b is numbered after a's.
      const second = await request(b.url, 'PUT', '/schemas/order', {
        schema: { type: 'object', properties: { total: { type: 'number' }, note: { type: 'string' } } },
        binding: { type: 'com.shop.order.created' },
        enforcement: 'reject',
      });
      assert.equal(second.status, 201, JSON.stringify(second.body));
      assert.equal((second.body as { version: number }).version, 2);
    } finally {
      if (b) await stopGracefully(b);
      if (a) await stopGracefully(a);
      dir.remove();
    }
  });
});
