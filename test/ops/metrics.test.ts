/**
 * The per-rule and per-target metrics the alerts and the dashboard read, on a real bus: matches per rule, live
 * deliveries and the oldest one's age per target (gone once delivered), refusals of POST /events by code, function
 * errors by code, dead letters stored per target.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { metricValue } from '../helpers/metrics.ts';

/** The value of one series of the default bus (its other labels in any order), or undefined when it is absent. */
const sample = (text: string, name: string, labels: Record<string, string>) =>
  metricValue(text, name, { bus: 'default', ...labels });

describe('per-rule and per-target metrics', () => {
  let bus: TestBus;
  let healthy: boolean;
  let target: HttpTarget;
  const metrics = async () => (await fetch(`${bus.url}/metrics`)).text();

  before(async () => {
    healthy = false;
    target = await startHttpTarget(() => ({ status: healthy ? 200 : 503 }));
    bus = await startTestBus();
    const slowRetry = {
      maxAttempts: 50,
      maxAgeSeconds: 3600,
      backoff: { initialMs: 50, maxMs: 50, jitter: false },
    };
    for (const [name, id] of [
      ['orders', 'sink'],
      ['audit', 'log'],
    ] as const) {
      const put = await request(bus.url, 'PUT', `/rules/${name}`, {
        pattern: { type: ['order.created'] },
        targets: [{ id, type: 'http', url: `${target.url}/${id}`, retry: slowRetry }],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
  });
  after(async () => {
    await bus.stop();
    await target.close();
  });

  test('count matches per rule, and live deliveries and their age per target until they are delivered', async () => {
    for (const id of ['m-1', 'm-2']) {
      const sent = await request(
        bus.url,
        'POST',
        '/events',
        { specversion: '1.0', id, source: '/ops', type: 'order.created' },
        { 'content-type': 'application/cloudevents+json' },
      );
      assert.equal(sent.status, 202);
    }
    let text = '';
    await waitFor(async () => {
      text = await metrics();
      return (
        sample(text, 'junction_target_pending', { rule: 'orders', target: 'sink' }) === 2 &&
        sample(text, 'junction_target_pending', { rule: 'audit', target: 'log' }) === 2
      );
    }, 'two live deliveries per target');
    assert.equal(sample(text, 'junction_rule_matches_total', { rule: 'orders' }), 2);
    assert.equal(sample(text, 'junction_rule_matches_total', { rule: 'audit' }), 2);
    const age = sample(text, 'junction_target_oldest_pending_age_seconds', {
      rule: 'orders',
      target: 'sink',
    });
    assert.ok(age !== undefined && age >= 0, `an age: ${age}`);
    await waitFor(async () => {
      const later = sample(await metrics(), 'junction_target_oldest_pending_age_seconds', {
        rule: 'orders',
        target: 'sink',
      });
      return later !== undefined && later > age;
    }, 'the oldest delivery to age');
    healthy = true;
    await waitFor(async () => {
      text = await metrics();
      return sample(text, 'junction_deliveries_pending', {}) === 0;
    }, 'every delivery done');
    for (const labels of [
      { rule: 'orders', target: 'sink' },
      { rule: 'audit', target: 'log' },
    ]) {
      assert.equal(
        sample(text, 'junction_target_pending', labels),
        undefined,
        'no series once nothing is live',
      );
      assert.equal(sample(text, 'junction_target_oldest_pending_age_seconds', labels), undefined);
    }
  });

  test('count POST /events refusals by code', async () => {
    const malformed = await request(bus.url, 'POST', '/events', '{"specversion": "1.0",', {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(malformed.status, 400);
    const batch = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify([
        { specversion: '1.0', id: 'ok-1', source: '/ops', type: 'other' },
        { specversion: '1.0', id: 'bad-1', type: 'other' },
      ]),
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(batch.status, 200);
    const entryCode = batch.body.results[1].error.code as string;
    const text = await metrics();
    assert.equal(sample(text, 'junction_events_rejected_total', { code: 'InvalidJson' }), 1);
    assert.equal(sample(text, 'junction_events_rejected_total', { code: entryCode }), 1, entryCode);
  });

  test('count function errors by rule, target and code, and the dead letters per target', async () => {
    const deployed = await request(bus.url, 'PUT', '/functions/throws', fixtureFunction('throws'));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const put = await request(bus.url, 'PUT', '/rules/fails', {
      pattern: { type: ['fn.call'] },
      targets: [
        { id: 'fn', type: 'function', function: 'throws', retry: { maxAttempts: 1, maxAgeSeconds: 60 } },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const sent = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'f-1', source: '/ops', type: 'fn.call' },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(sent.status, 202);
    await waitFor(
      async () =>
        sample(await metrics(), 'junction_function_errors_total', {
          rule: 'fails',
          target: 'fn',
          code: 'FunctionError',
        }) === 1,
      'a FunctionError in /metrics',
    );
    await waitFor(
      async () =>
        sample(await metrics(), 'junction_target_dead_letters', { rule: 'fails', target: 'fn' }) === 1,
      'its dead letter in /metrics',
    );
  });
});
