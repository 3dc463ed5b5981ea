/**
 * The bus target driver: a named bus gets the event published on it (its quota applies, each hop counts in
 * `junctionhops`), an event at the hop limit is not forwarded, a URL target goes to the HTTP driver with the hop
 * counted, and a missing bus is a retriable failure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { validateRule } from '../../lib/core/rule.ts';
import { createBusDriver, inboxOf, MAX_BUS_HOPS } from '../../lib/engine/bus-driver.ts';
import type { Junction } from '../../lib/engine/junction.ts';
import type { DeliveryRequest, TargetDriver } from '../../lib/ports.ts';
import { errorData, errorOfData } from '../../lib/server/isolated-bus.ts';
import { makeEvent } from '../helpers/events.ts';

function requestFor(target: Record<string, unknown>, event: CloudEvent): DeliveryRequest {
  const rule = validateRule('r', { pattern: { type: ['x'] }, targets: [{ id: 't', ...target }] }, 0);
  return {
    rule,
    target: rule.targets[0] as DeliveryRequest['target'],
    event,
    idempotencyKey: `${event.source}#${event.id}`,
    attempt: 1,
    possibleDuplicate: false,
    timeoutMs: 1000,
  };
}

/** A bus that records what is published on it, with a quota that admits `room` events. */
function fakeBus(room = Number.POSITIVE_INFINITY): { bus: Junction; published: CloudEvent[] } {
  const published: CloudEvent[] = [];
  let left = room;
  const bus = {
    admit: (events: readonly CloudEvent[]) =>
      events.map(() => {
        if (left-- > 0) return undefined;
        return { code: 'RateLimited', message: 'over quota', details: { retryAfterSeconds: 2 } };
      }),
    publish: async (events: readonly CloudEvent[]) => {
      published.push(...events);
      return events.map(() => ({ duplicate: false }));
    },
  } as unknown as Junction;
  return { bus, published };
}

describe('the bus target driver', () => {
  test('publishes on the named bus with the hop counted', async () => {
    const { bus, published } = fakeBus();
    const driver = createBusDriver({
      lookup: async (name) => (name === 'orders' ? inboxOf(bus) : undefined),
    });
    const result = await driver.deliver(
      requestFor({ type: 'bus', bus: 'orders' }, makeEvent({ junctionhops: 2 })),
    );
    assert.deepEqual(result, { ok: true });
    assert.equal(published.length, 1);
    assert.equal((published[0] as Record<string, unknown>).junctionhops, 3);
  });

  test('does not forward an event at the hop limit, and says why', async () => {
    const { bus, published } = fakeBus();
    const driver = createBusDriver({ lookup: async () => inboxOf(bus) });
    const result = await driver.deliver(
      requestFor({ type: 'bus', bus: 'orders' }, makeEvent({ junctionhops: MAX_BUS_HOPS })),
    );
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.retriable, false);
    assert.match(!result.ok ? result.error : '', /^LoopDetected: .*16 hops/);
    assert.equal(published.length, 0);
  });

  test('a missing bus is retriable; a bus over its quota asks to come back later', async () => {
    const driver = createBusDriver({ lookup: async () => undefined });
    const missing = await driver.deliver(requestFor({ type: 'bus', bus: 'gone' }, makeEvent()));
    assert.equal(!missing.ok && missing.retriable, true);
    assert.match(!missing.ok ? missing.error : '', /no bus named "gone"/);
    const { bus } = fakeBus(0);
    const full = await createBusDriver({ lookup: async () => inboxOf(bus) }).deliver(
      requestFor({ type: 'bus', bus: 'orders' }, makeEvent()),
    );
    assert.equal(!full.ok && full.retriable, true);
    assert.equal(!full.ok ? full.retryAfterMs : 0, 2000);
    assert.equal(!full.ok ? full.status : 0, 429);
  });

  test('a refusal marked retriable (a bus the deployment does not have, asked from a bus process) is retried', async () => {
    // What the deployment answers a bus process whose list of buses is a step ahead of its own (isolated-bus.ts).
    const refused = errorOfData(
      errorData(new JunctionError('NotFound', 'there is no bus named "orders"', { retriable: true })),
    );
    const result = await createBusDriver({ lookup: async () => ({ offer: async () => refused }) }).deliver(
      requestFor({ type: 'bus', bus: 'orders' }, makeEvent()),
    );
    assert.equal(!result.ok && result.retriable, true);
    assert.equal(!result.ok ? result.error : '', 'NotFound: there is no bus named "orders"');
  });

  test("an event the receiving bus's schemas refuse is not retried: it fails with the violation", async () => {
    const published: CloudEvent[] = [];
    const bus = {
      admit: (events: readonly CloudEvent[]) =>
        events.map(() => ({ code: 'SchemaViolation', message: 'the event does not match /data/total' })),
      publish: async (events: readonly CloudEvent[]) => {
        published.push(...events);
        return events.map(() => ({ duplicate: false }));
      },
    } as unknown as Junction;
    const result = await createBusDriver({ lookup: async () => inboxOf(bus) }).deliver(
      requestFor({ type: 'bus', bus: 'orders' }, makeEvent()),
    );
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.retriable, false);
    assert.equal(
      !result.ok ? result.error : '',
      'SchemaViolation: bus "orders" refused it: the event does not match /data/total',
    );
    assert.equal(published.length, 0);
  });

  test('a URL target goes to the HTTP driver with the hop counted; at the limit it does not', async () => {
    const sent: DeliveryRequest[] = [];
    const http: TargetDriver = {
      deliver: async (request) => {
        sent.push(request);
        return { ok: true, status: 202 };
      },
    };
    const driver = createBusDriver({ lookup: async () => undefined, http });
    const ok = await driver.deliver(requestFor({ type: 'bus', url: 'http://127.0.0.1:1/' }, makeEvent()));
    assert.equal(ok.ok, true);
    assert.equal((sent[0] as DeliveryRequest).event.junctionhops, 1);
    const loop = await driver.deliver(
      requestFor({ type: 'bus', url: 'http://127.0.0.1:1/' }, makeEvent({ junctionhops: '16' })),
    );
    assert.match(!loop.ok ? loop.error : '', /^LoopDetected/);
    assert.equal(sent.length, 1);
  });
});
