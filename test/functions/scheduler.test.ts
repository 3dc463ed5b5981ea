/**
 * The `scheduler` handler: publishes the slots of scheduled rules that fell in its lookback, runs deliveries that are
 * due (retries) and waits for them within the time budget.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEmfPublisher } from '../../lib/adapters/aws/emf.ts';
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
    assert.deepEqual(await scheduler({}, lambdaContext()), {
      taken: 0,
      stillRunning: 0,
      schedules: 0,
      gauges: 0,
    });
  });

  it('publishes the slots of scheduled rules in its lookback, each once whatever the runs that cover it', async () => {
    await rt.junction.putRule('tick', {
      schedule: { expression: 'rate(1 minute)', event: { source: '/cron', type: 'tick' } },
      targets: [{ id: 'hook', type: 'http', url: `${target.url}/tick` }],
    });
    const scheduler = createSchedulerHandler(async () => rt, { marginMs: 500, scheduleLookbackMs: 150_000 });
    // The minute slots in (now - 150 s, now]: two or three, by where now falls in its minute.
    const inLookback = (now: number) => Math.floor(now / 60_000) - Math.floor((now - 150_000) / 60_000);
    const expected = inLookback(rt.clock.now());
    const first = await scheduler({}, lambdaContext());
    assert.equal(first.schedules, expected, 'the minute slots of the last 150 s');
    rt.clock.advance(60_000);
    const second = await scheduler({}, lambdaContext());
    assert.equal(second.schedules, inLookback(rt.clock.now()), 'one new slot, the others published already');
    const slots = async () => {
      const found: string[] = [];
      for (const p of await rt.stores.log.endOffsets()) {
        for (const r of await rt.stores.log.read(p.partition, 0, 1000))
          if (r.event.source === '/cron') found.push(r.event.id);
      }
      return found.sort();
    };
    const ids = await slots();
    assert.equal(ids.length, expected + 1, `every slot in the log once: ${ids.join(' ')}`);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^tick@\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    await rt.junction.deleteRule('tick');
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
    // With an EMF publisher (as on AWS), each run writes the gauges: one delivery pending for all/hook.
    const lines: string[] = [];
    const emf = createEmfPublisher(rt.junction.metrics, {
      serviceName: 'default',
      output: { log: (line: string) => void lines.push(line) },
    });
    const metered = createSchedulerHandler(async () => ({ ...rt, emf }), { marginMs: 500 });
    const run = await metered({}, lambdaContext());
    assert.equal(run.taken, 0);
    assert.ok(run.gauges > 0, `gauges written: ${run.gauges}`);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const pending = records.filter((r) => 'junction_target_pending' in r);
    assert.deepEqual(
      pending.map((r) => [r.rule ?? '(total)', r.target ?? '(total)', r.junction_target_pending]),
      [
        ['all', 'hook', 1],
        ['(total)', '(total)', 1],
      ],
    );
    const age = records.find((r) => 'junction_target_oldest_pending_age_seconds' in r && r.rule === 'all');
    assert.equal(typeof age?.junction_target_oldest_pending_age_seconds, 'number', JSON.stringify(age));
    const aws = age?._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Unit: string }> }> };
    assert.equal(aws.CloudWatchMetrics[0]?.Metrics[0]?.Unit, 'Seconds');
    assert.equal(records.find((r) => 'junction_deliveries_pending' in r)?.junction_deliveries_pending, 1);
    rt.clock.advance(60 * 60 * 1000);
    assert.deepEqual(await scheduler({}, lambdaContext()), {
      taken: 1,
      stillRunning: 0,
      schedules: 0,
      gauges: 0,
    });
    assert.equal(target.received.length, 2);
    const kinds = (await rt.junction.trace('r-1', '/s')).entries.map((e) => e.kind);
    assert.ok(kinds.includes('retry-scheduled'), kinds.join(' '));
    assert.equal(kinds.at(-1), 'delivered');
  });
});
