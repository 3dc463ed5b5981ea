/**
 * The `router` handler with the recorded MSK event: each partition through the router in offset order, deliveries
 * to a function target (Lambda Invoke) and an HTTP target, unmatched events traced, undecodable records
 * dead-lettered with their raw bytes; a routing failure fails the invocation so the mapping retries the batch.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRouterHandler } from '../../lib/adapters/aws/handlers.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { repoRoot } from '../helpers/paths.ts';
import { lambdaContext, startTestRuntime, type TestRuntime } from './runtime.ts';

const mskEvent = () =>
  JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', 'msk-event.json'), 'utf8')) as unknown;
const source = (name: string) => readFileSync(join(repoRoot, 'test', 'fixtures', 'functions', `${name}.ts`));

describe('router handler', () => {
  let rt: TestRuntime;
  let target: HttpTarget;
  let handler: ReturnType<typeof createRouterHandler>;

  before(async () => {
    rt = await startTestRuntime();
    target = await startHttpTarget();
    handler = createRouterHandler(async () => rt, { marginMs: 500 });
    await rt.functions.deploy('echo', source('echo'));
    await rt.junction.putRule('big-orders', {
      pattern: { type: ['com.shop.order.created'], data: { total: [{ numeric: ['>', 100] }] } },
      targets: [
        { id: 'fulfil', type: 'function', function: 'echo' },
        { id: 'audit', type: 'http', url: `${target.url}/hook` },
      ],
    });
  });
  after(async () => {
    await rt.close();
    await target.close();
  });

  it('routes the recorded batch and delivers to the function and the HTTP target before returning', async () => {
    const summary = await handler(mskEvent(), lambdaContext());
    assert.deepEqual(summary, { routed: 2, undecodable: 1, stillRunning: 0 });
    // HTTP target: order-1 (total 120) only, as a CloudEvent with an idempotency key.
    assert.equal(target.received.length, 1);
    assert.equal(target.received[0]?.headers['idempotency-key'], '/shop#order-1');
    // Function target: one Lambda Invoke with { event, context }.
    const invokes = rt.lambda.requests.filter(
      (r) => r.path === '/2015-03-31/functions/junction-fn-echo/invocations',
    );
    assert.equal(invokes.length, 1);
    assert.equal((invokes[0]?.json as { event: { id: string } } | undefined)?.event.id, 'order-1');
    const trace = await rt.junction.trace('order-1', '/shop');
    const kinds = trace.entries.map((e) => `${e.kind}${e.target ? `:${e.target}` : ''}`);
    assert.ok(kinds.includes('received'));
    assert.ok(kinds.includes('delivered:fulfil'), kinds.join(' '));
    assert.ok(kinds.includes('delivered:audit'), kinds.join(' '));
    const received = trace.entries.find((e) => e.kind === 'received');
    assert.deepEqual(
      { partition: received?.detail?.partition, offset: received?.detail?.offset },
      { partition: 0, offset: 15 },
    );
    // The event the function returned was published back onto the bus (the log).
    const logged = [...(await rt.stores.log.read(0, 0, 100)), ...(await rt.stores.log.read(1, 0, 100))];
    const echoed = logged.find((r) => r.event.id === 'order-1-echo');
    assert.equal(echoed?.event.type, 'com.shop.order.created.echoed');
    assert.equal(echoed?.event.causationid, 'order-1');
  });

  it('traces the event that matched no rule as unmatched', async () => {
    const trace = await rt.junction.trace('order-2', '/cafe');
    assert.deepEqual(
      trace.entries.map((e) => e.kind),
      ['received', 'unmatched'],
    );
  });

  it('dead-letters the undecodable record with its raw bytes and the reason', async () => {
    const letters = await rt.deadLetters.list({ rule: '$undecodable' });
    assert.equal(letters.length, 1);
    const letter = letters[0];
    assert.equal(letter?.dlId, 'undecodable-junction-events-0-16');
    assert.deepEqual(letter?.position, { partition: 0, offset: 16 });
    assert.match(letter?.reason ?? '', /^InvalidJson: /);
    assert.equal(
      Buffer.from(String(letter?.event.data_base64), 'base64').toString('utf8'),
      '{"not":"a cloudevent"',
    );
    const trace = await rt.junction.trace('junction-events-0-16', 'kafka://junction-events');
    assert.equal(trace.entries[0]?.kind, 'dead-lettered');
    assert.equal(trace.entries[0]?.detail?.offset, 16);
  });

  it('does not deliver twice when the mapping redelivers the same batch', async () => {
    await handler(mskEvent(), lambdaContext());
    assert.equal(target.received.length, 1);
    assert.equal((await rt.deadLetters.list({ rule: '$undecodable' })).length, 1);
  });

  it('throws when routing fails, so that the mapping retries the batch', async () => {
    const failing = await startTestRuntime({
      ledger: (ledger) =>
        new Proxy(ledger, {
          get(target, key) {
            if (key === 'enqueue') {
              return () =>
                Promise.reject(new JunctionError('Internal', 'ledger is down', { retriable: true }));
            }
            const value: unknown = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    });
    try {
      await failing.junction.putRule('all', {
        pattern: { source: [{ prefix: '' }] },
        targets: [{ id: 'h', type: 'http', url: `${target.url}/x` }],
      });
      const route = createRouterHandler(async () => failing, { marginMs: 500 });
      await assert.rejects(route(mskEvent(), lambdaContext()), (error: JunctionError) => {
        assert.equal(error.code, 'BufferUnavailable');
        assert.equal(error.retriable, true);
        assert.match(error.message, /junction-events-0: ledger is down/);
        return true;
      });
    } finally {
      await failing.close();
    }
  });

  it('rejects an event that is not an MSK event', async () => {
    await assert.rejects(handler({ version: '2.0' }, lambdaContext()), {
      code: 'InvalidRequest',
      field: 'eventSource',
    });
  });
});
