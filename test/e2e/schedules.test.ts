/**
 * Scheduled rules (issue #19) on a real bus: the scheduled event is published at its slot and delivered by the rule;
 * a slot missed while the bus was down is published once at the next start (and not again at the one after: the
 * id is the same, so idempotent publish drops it); bad schedules are refused naming the field.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

/** `at(…)` of a second at least `ms` from now, in UTC, and that instant. */
function atIn(ms: number): { expression: string; slot: number } {
  const slot = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { expression: `at(${new Date(slot).toISOString().slice(0, 19)})`, slot };
}

describe('scheduled rules', () => {
  let bus: TestBus | undefined;
  let target: HttpTarget;
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  test('publishes the scheduled event at its slot, and the rule delivers it', async () => {
    target = await startHttpTarget();
    bus = await startTestBus();
    const { expression, slot } = atIn(2_000);
    const rule = await request(bus.url, 'PUT', '/rules/tick', {
      schedule: { expression, event: { source: '/cron', type: 'tick', data: { job: 'report' } } },
      targets: [{ id: 'hook', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    assert.deepEqual(rule.body.schedule, {
      expression,
      timezone: 'UTC',
      event: { source: '/cron', type: 'tick', data: { job: 'report' } },
    });
    await waitFor(() => target.received.length >= 1, 'the scheduled event', 60_000);
    const got = target.received[0];
    assert.equal(got?.headers['ce-id'], `tick@${new Date(slot).toISOString()}`);
    assert.equal(got?.headers['ce-source'], '/cron');
    assert.equal(got?.headers['ce-type'], 'tick');
    assert.equal(got?.headers['ce-time'], new Date(slot).toISOString());
    assert.deepEqual(JSON.parse(got?.body.toString() ?? ''), { job: 'report' });
    assert.ok(Date.now() >= slot, 'not before its slot');
    const metrics = await (await fetch(`${bus.url}/metrics`)).text();
    assert.match(metrics, /junction_schedule_fired_total\{[^}]*rule="tick"[^}]*\} 1/);
  });

  test('a slot missed while the bus was down is published once at the next start, not again after', async () => {
    const running = bus as TestBus;
    const { expression, slot } = atIn(3_000);
    const rule = await request(running.url, 'PUT', '/rules/missed', {
      schedule: { expression },
      targets: [{ id: 'hook', type: 'http', url: target.url }],
    });
    assert.equal(rule.status, 201);
    await running.stop({ keepData: true });
    await waitFor(() => Date.now() > slot + 500, 'the slot to pass while the bus is down', 60_000);
    bus = await running.restart();
    const id = `missed@${new Date(slot).toISOString()}`;
    const ofMissed = () => target.received.filter((r) => r.headers['ce-id'] === id);
    await waitFor(() => ofMissed().length >= 1, 'the missed slot, published at start', 60_000);
    assert.equal(ofMissed()[0]?.headers['ce-source'], 'aws.events');
    assert.equal(
      decodeURIComponent(String(ofMissed()[0]?.headers['ce-type'])),
      'Scheduled Event',
      'percent-encoded in the header',
    );
    const again = bus;
    await again.stop({ keepData: true });
    bus = await again.restart();
    const fired = async () =>
      /junction_schedule_fired_total\{[^}]*rule="missed"[^}]*\} 1/.test(
        await (await fetch(`${(bus as TestBus).url}/metrics`)).text(),
      );
    await waitFor(fired, 'the slot published again at this start (a duplicate)', 60_000);
    const trace = await request(
      (bus as TestBus).url,
      'GET',
      `/events/${encodeURIComponent(id)}/trace?source=aws.events`,
    );
    assert.equal(trace.body.entries.filter((e: { kind: string }) => e.kind === 'received').length, 1);
    assert.equal(ofMissed().length, 1, 'delivered once');
  });

  test('refuses a bad schedule, a schedule with a pattern, and unknown settings, naming the field', async () => {
    const url = (bus as TestBus).url;
    for (const [body, field] of [
      [{ schedule: { expression: 'rate(1 minutes)' } }, 'schedule.expression'],
      [{ schedule: { expression: 'cron(0 10 * * ? *)', timezone: 'Nowhere/City' } }, 'schedule.timezone'],
      [{ schedule: { expression: 'rate(1 day)', every: 2 } }, 'schedule.every'],
      [{ schedule: { expression: 'rate(1 day)', event: { id: 'x' } } }, 'schedule.event.id'],
      [{ schedule: { expression: 'rate(1 day)' }, pattern: { type: ['x'] } }, 'pattern'],
      [{ schedule: 'rate(1 day)' }, 'schedule'],
      [
        {
          schedule: { expression: 'rate(1 day)' },
          aggregate: { groupBy: '$.source', window: { tumbling: '1m' }, aggregates: { n: { count: {} } } },
        },
        'aggregate',
      ],
    ] as const) {
      const res = await request(url, 'PUT', '/rules/bad-schedule', { ...body, targets: [], enabled: false });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
  });
});
