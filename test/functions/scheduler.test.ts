/** The `scheduler` handler: runs deliveries that are due (retries) and waits for them within the time budget. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createRouterHandler, createSchedulerHandler } from '../../lib/adapters/aws/handlers.ts';
import { buildMskEvent } from '../../lib/adapters/aws/msk-event.ts';
import { toKafkaRecord } from '../../lib/core/codec/kafka.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { lambdaContext, startTestRuntime, type TestRuntime } from './runtime.ts';

describe('scheduler handler', () => {
  let rt: TestRuntime;
  let target: HttpTarget;

  before(async () => {
    rt = await startTestRuntime();
    target = await startHttpTarget((_, index) => (index === 0 ? { status: 503 } : { status: 200 }));
    await rt.junction.putRule('all', {
      pattern: { type: ['t'] },
      targets: [{ id: 'hook', type: 'http', url: `${target.url}/hook` }],
    });
  });
  after(async () => {
    await rt.close();
    await target.close();
  });

  it('finds nothing to do when nothing is due', async () => {
    const scheduler = createSchedulerHandler(async () => rt, { marginMs: 500 });
    assert.deepEqual(await scheduler({}, lambdaContext()), { taken: 0, stillRunning: 0 });
  });

  it('delivers a retry that has come due', async () => {
    const record = toKafkaRecord({ specversion: '1.0', id: 'r-1', source: '/s', type: 't' });
    const event = buildMskEvent({
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/c/1',
      bootstrapServers: ['127.0.0.1:9092'],
      records: [
        {
          topic: 'junction-events',
          partition: 0,
          offset: 0,
          timestamp: 1,
          key: Buffer.from(record.key),
          value: record.value,
          headers: record.headers,
        },
      ],
    });
    await createRouterHandler(async () => rt, { marginMs: 500 })(event, lambdaContext());
    assert.equal(target.received.length, 1, 'the first attempt got a 503');
    const scheduler = createSchedulerHandler(async () => rt, { marginMs: 500 });
    assert.equal((await scheduler({}, lambdaContext())).taken, 0, 'the retry is not due yet');
    rt.clock.advance(60 * 60 * 1000);
    assert.deepEqual(await scheduler({}, lambdaContext()), { taken: 1, stillRunning: 0 });
    assert.equal(target.received.length, 2);
    const kinds = (await rt.junction.trace('r-1', '/s')).entries.map((e) => e.kind);
    assert.ok(kinds.includes('retry-scheduled'), kinds.join(' '));
    assert.equal(kinds.at(-1), 'delivered');
  });
});
