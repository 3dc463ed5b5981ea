/**
 * HTTP subscribers that answer with an event (`reply: true`, Knative's broker reply): the reply is published onto
 * the bus caused by the delivered event, routed by other rules, and traced; answers that are no event are told apart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, type Reply, startHttpTarget } from '../helpers/http-target.ts';

describe('HTTP targets with reply: true', () => {
  let bus: TestBus;
  let subscriber: HttpTarget;
  let downstream: HttpTarget;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    // The subscriber answers each order with an event of its own, in binary mode; other requests as the test says.
    subscriber = await startHttpTarget((req): Reply => {
      const id = String(req.headers['ce-id']);
      if (id.startsWith('order-')) {
        return {
          status: 200,
          headers: {
            'ce-specversion': '1.0',
            'ce-id': `invoice-for-${id}`,
            'ce-source': '/billing',
            'ce-type': 'invoice.created',
            'content-type': 'application/json',
          },
          body: `{"order":"${id}","total":12345678901234567890}`,
        };
      }
      if (id.startsWith('structured-')) {
        return {
          status: 201,
          headers: { 'content-type': 'application/cloudevents+json' },
          body: JSON.stringify({
            specversion: '1.0',
            id: `r-${id}`,
            source: '/billing',
            type: 'invoice.created',
          }),
        };
      }
      if (id.startsWith('garbage-'))
        return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'thanks!' };
      return { status: 204 };
    });
    downstream = await startHttpTarget();
    const first = await request(bus.url, 'PUT', '/rules/orders', {
      pattern: { type: ['order.placed'] },
      targets: [{ id: 'billing', type: 'http', url: subscriber.url, reply: true }],
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const second = await request(bus.url, 'PUT', '/rules/invoices', {
      pattern: { type: ['invoice.created'] },
      targets: [{ id: 'mail', type: 'http', url: downstream.url }],
    });
    assert.equal(second.status, 201, JSON.stringify(second.body));
  });
  after(async () => {
    await subscriber.close();
    await downstream.close();
    await bus.stop();
  });

  test('publishes the reply, which a second rule routes; both traces say how they are linked', async () => {
    assert.equal(
      (await publishBinary(bus, { id: 'order-1', source: '/shop', type: 'order.placed' })).status,
      202,
    );
    await waitFor(
      () => downstream.received.some((r) => r.headers['ce-id'] === 'invoice-for-order-1'),
      'the reply routed',
    );
    const got = downstream.received.find((r) => r.headers['ce-id'] === 'invoice-for-order-1');
    assert.equal(got?.headers['ce-source'], '/billing', 'the reply keeps its own source');
    assert.equal(got?.headers['ce-causationid'], 'order-1');
    assert.equal(got?.headers['ce-causationsource'], '/shop');
    assert.equal(
      got?.body.toString(),
      '{"order":"order-1","total":12345678901234567890}',
      'its data as written',
    );
    // The reply is published (and may be routed) before the original's delivery and its trace are recorded.
    await waitFor(
      async () => (await traceOf(bus, 'order-1', '/shop')).some((e) => e.kind === 'emitted'),
      'the emitted entry',
    );
    const original = await traceOf(bus, 'order-1', '/shop');
    const emitted = original.find((e) => e.kind === 'emitted');
    assert.deepEqual(emitted?.detail?.events, [{ source: '/billing', id: 'invoice-for-order-1' }]);
    await waitFor(
      async () => (await traceOf(bus, 'invoice-for-order-1', '/billing')).some((e) => e.kind === 'received'),
      "the reply's received entry",
    );
    const reply = await traceOf(bus, 'invoice-for-order-1', '/billing');
    const received = reply.find((e) => e.kind === 'received');
    assert.deepEqual((received?.detail as { causedBy?: unknown } | undefined)?.causedBy, {
      source: '/shop',
      id: 'order-1',
    });
  });

  test('reads a structured-mode reply in a 201 too', async () => {
    await publishBinary(bus, { id: 'structured-1', source: '/shop', type: 'order.placed' });
    await waitFor(
      () => downstream.received.some((r) => r.headers['ce-id'] === 'r-structured-1'),
      'the reply routed',
    );
  });

  test('an answer without a body is no reply, and an answer that is no event is delivered and says so', async () => {
    await publishBinary(bus, { id: 'quiet-1', source: '/shop', type: 'order.placed' });
    await publishBinary(bus, { id: 'garbage-1', source: '/shop', type: 'order.placed' });
    await waitFor(
      async () => (await traceOf(bus, 'garbage-1', '/shop')).some((e) => e.kind === 'delivered'),
      'delivered',
    );
    await waitFor(
      async () => (await traceOf(bus, 'quiet-1', '/shop')).some((e) => e.kind === 'delivered'),
      'delivered',
    );
    const quiet = await traceOf(bus, 'quiet-1', '/shop');
    assert.equal(
      quiet.some((e) => e.kind === 'emitted'),
      false,
    );
    const garbage = await traceOf(bus, 'garbage-1', '/shop');
    const emitted = garbage.find((e) => e.kind === 'emitted');
    assert.match(String(emitted?.detail?.error), /not a CloudEvent/);
    assert.deepEqual(emitted?.detail?.events, []);
  });

  test('refuses reply beside batch, and a reply that is not a boolean, naming the field', async () => {
    const both = await request(bus.url, 'PUT', '/rules/bad-reply', {
      pattern: { type: ['x'] },
      targets: [
        { id: 't', type: 'http', url: subscriber.url, reply: true, batch: { maxSize: 10, windowMs: 10 } },
      ],
    });
    assert.equal(both.status, 400);
    assert.equal(both.body.error.field, 'targets[0].reply');
    const notBoolean = await request(bus.url, 'PUT', '/rules/bad-reply', {
      pattern: { type: ['x'] },
      targets: [{ id: 't', type: 'http', url: subscriber.url, reply: 'yes' }],
    });
    assert.equal(notBoolean.status, 400);
    assert.match(String(notBoolean.body.error.message), /reply must be a boolean/);
  });
});
