/**
 * Schema discovery (issue #16) on a real bus on 127.0.0.1: events sent in binary mode, in a batch and with
 * `@aws-sdk/client-eventbridge` PutEvents become a draft per (source, type); shapes seen again make no new version,
 * a new shape does; drafts survive a restart; a draft is promoted into the registry (binding and enforcement
 * defaulted, the compatibility check applied) and then governs ingest; with discovery off nothing is read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { publishBinary, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Loose = any;

const TYPE = 'com.shop.order.created';
const PATH = `/schemas/discovered/${encodeURIComponent('/shop')}/${TYPE}`;

async function draftWith(bus: TestBus, path: string, events: number): Promise<Loose> {
  let draft: Loose;
  await waitFor(
    async () => {
      const res = await request(bus.url, 'GET', path);
      draft = res.body;
      return res.status === 200 && draft.events >= events;
    },
    `the draft at ${path} to have read ${events} events`,
    60_000,
  );
  return draft;
}

let seq = 0;
function order(bus: TestBus, data: unknown, source = '/shop', type = TYPE) {
  return publishBinary(bus, { id: `o-${++seq}`, source, type }, JSON.stringify(data), 'application/json');
}

describe('schema discovery on a real bus', () => {
  let bus: TestBus;

  before(async () => {
    bus = await startTestBus({ schemaDiscovery: true });
  });
  after(async () => {
    await bus?.stop();
  });

  test('infers a draft per (source, type) from binary, batched and PutEvents events', async () => {
    const first = await order(bus, {
      id: '0b9d5a4e-3f63-4a4b-9c55-2f9c3f1e7b11',
      total: 12,
      at: '2026-12-04T03:00:00Z',
      lines: [{ sku: 'A', qty: 1 }],
    });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const batch = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify([
        {
          specversion: '1.0',
          id: `b-${++seq}`,
          source: '/shop',
          type: TYPE,
          datacontenttype: 'application/json',
          data: {
            id: '7c0e8a1e-0000-4000-8000-000000000001',
            total: 7.5,
            at: '2026-12-05T00:00:00Z',
            lines: [],
          },
        },
        {
          specversion: '1.0',
          id: `b-${++seq}`,
          source: '/billing',
          type: 'com.shop.invoice.issued',
          data: { n: 1 },
        },
      ]),
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    const client = new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'com.shop', DetailType: 'OrderShipped', Detail: JSON.stringify({ carrier: 'ups' }) },
          ],
        }),
      );
      assert.equal(out.FailedEntryCount, 0);
    } finally {
      client.destroy();
    }

    const draft = await draftWith(bus, PATH, 2);
    assert.equal(draft.source, '/shop');
    assert.equal(draft.type, TYPE);
    assert.equal(draft.events, 2);
    assert.equal(draft.version, 2, 'the second shape (a number total, empty lines) made version 2');
    assert.deepEqual(draft.schema, {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        total: { type: 'number' },
        at: { type: 'string', format: 'date-time' },
        lines: {
          type: 'array',
          items: {
            type: 'object',
            properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
            required: ['qty', 'sku'],
          },
        },
      },
      required: ['at', 'id', 'lines', 'total'],
    });
    const v1 = await request(bus.url, 'GET', `${PATH}/versions/1`);
    assert.equal(v1.status, 200);
    assert.deepEqual(v1.body.schema.properties.total, { type: 'integer' });

    await waitFor(
      async () => (await request(bus.url, 'GET', '/schemas/discovered')).body.drafts.length === 3,
      'three drafts',
      60_000,
    );
    const list = await request(bus.url, 'GET', '/schemas/discovered');
    assert.equal(list.body.discovery, 'on');
    assert.deepEqual(
      list.body.drafts.map((d: Loose) => [d.type, d.source, d.version, d.path]),
      [
        ['OrderShipped', 'com.shop', 1, '/schemas/discovered/com.shop/OrderShipped'],
        ['com.shop.invoice.issued', '/billing', 1, '/schemas/discovered/%2Fbilling/com.shop.invoice.issued'],
        [TYPE, '/shop', 2, PATH],
      ],
    );
    const shipped = await request(bus.url, 'GET', '/schemas/discovered/com.shop/OrderShipped');
    assert.deepEqual(shipped.body.schema.required, ['carrier']);
  });

  test('the same shapes again make no new version; a new shape does', async () => {
    for (let i = 0; i < 5; i++)
      await order(bus, {
        id: '0b9d5a4e-3f63-4a4b-9c55-2f9c3f1e7b1f',
        total: i,
        at: '2026-12-06T00:00:00Z',
        lines: [],
      });
    const same = await draftWith(bus, PATH, 7);
    assert.equal(same.version, 2);
    await order(bus, { id: 'not-a-uuid', total: 1, at: '2026-12-06T00:00:00Z', lines: [], note: 'gift' });
    const widened = await draftWith(bus, PATH, 8);
    assert.equal(widened.version, 3);
    assert.deepEqual(widened.schema.properties.id, { type: 'string' }, 'a non-UUID id drops the format');
    assert.deepEqual(widened.schema.properties.note, { type: 'string' });
    assert.ok(!widened.schema.required.includes('note'), 'note is optional: earlier events lacked it');
  });

  test('promotes a draft into the registry, which then checks ingest; the compatibility check applies', async () => {
    const promoted = await request(bus.url, 'POST', `${PATH}/promote`, { name: 'orders' });
    assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
    assert.equal(promoted.body.version, 1);
    assert.deepEqual(promoted.body.binding, { type: TYPE, source: '/shop' });
    assert.equal(promoted.body.enforcement, 'warn');
    assert.deepEqual(promoted.body.promotedFrom, { source: '/shop', type: TYPE, version: 3 });
    const again = await request(bus.url, 'POST', `${PATH}/promote`, { name: 'orders' });
    assert.equal(again.status, 200, 'the same draft again is the same version');

    // Version 1 of the draft required a UUID id and an integer total: narrower, so BACKWARD refuses it.
    const narrower = await request(bus.url, 'POST', `${PATH}/promote`, { name: 'orders', version: 1 });
    assert.equal(narrower.status, 409, JSON.stringify(narrower.body));
    assert.equal(narrower.body.error.code, 'IncompatibleSchema');

    // Promoted with reject enforcement under another name and binding, it refuses an event that breaks it.
    const strict = await request(bus.url, 'POST', `${PATH}/promote`, {
      name: 'orders-strict',
      binding: { type: TYPE, source: '/shop/strict' },
      enforcement: 'reject',
    });
    assert.equal(strict.status, 201, JSON.stringify(strict.body));
    const refused = await order(bus, { id: 'x', total: 'lots', at: 'now', lines: [] }, '/shop/strict');
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'SchemaViolation');
    assert.match(refused.body.error.message, /\/data\/total/);

    const badName = await request(bus.url, 'POST', `${PATH}/promote`, { name: 'discovered' });
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.field, 'name');
    const noName = await request(bus.url, 'POST', `${PATH}/promote`, {});
    assert.equal(noName.status, 400);
    assert.equal(noName.body.error.field, 'name');
    const missing = await request(bus.url, 'GET', '/schemas/discovered/%2Fnowhere/x');
    assert.equal(missing.status, 404);
  });

  test('an event whose data is over 64 KiB is counted, not read', async () => {
    const big = await order(bus, { blob: 'x'.repeat(70 * 1024) }, '/shop/big', 'com.shop.big');
    assert.equal(big.status, 202, JSON.stringify(big.body));
    await waitFor(
      async () =>
        /junction_schema_discovery_events_total\{[^}]*outcome="too-large"[^}]*\} 1\b/.test(
          (await request(bus.url, 'GET', '/metrics')).body as string,
        ),
      'the too-large count',
      60_000,
    );
    const none = await request(
      bus.url,
      'GET',
      `/schemas/discovered/${encodeURIComponent('/shop/big')}/com.shop.big`,
    );
    assert.equal(none.status, 404);
  });

  test('drafts survive a restart, with the events counted since the last version; a deleted draft is gone', async () => {
    await order(bus, { id: 'again', total: 2, at: '2026-12-06T00:00:00Z', lines: [] });
    assert.equal((await draftWith(bus, PATH, 9)).version, 3);
    await bus.stop({ keepData: true });
    bus = await bus.restart();
    const draft = await request(bus.url, 'GET', PATH);
    assert.equal(draft.status, 200);
    assert.equal(draft.body.version, 3);
    assert.equal(draft.body.events, 9);
    const del = await request(bus.url, 'DELETE', '/schemas/discovered/%2Fbilling/com.shop.invoice.issued');
    assert.equal(del.status, 204);
    const gone = await request(bus.url, 'GET', '/schemas/discovered/%2Fbilling/com.shop.invoice.issued');
    assert.equal(gone.status, 404);
  });
});

describe('schema discovery on a named bus', () => {
  test('each bus has its own drafts', async () => {
    const bus = await startTestBus({ schemaDiscovery: true });
    try {
      const created = await request(bus.url, 'PUT', '/buses/orders', {});
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const sent = await request(bus.url, 'POST', '/buses/orders/events', JSON.stringify({ total: 5 }), {
        'ce-specversion': '1.0',
        'ce-id': 'n-1',
        'ce-source': '/shop',
        'ce-type': TYPE,
        'content-type': 'application/json',
      });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const draft = await draftWith(bus, `/buses/orders${PATH}`, 1);
      assert.deepEqual(draft.schema.properties, { total: { type: 'integer' } });
      const onDefault = await request(bus.url, 'GET', '/schemas/discovered');
      assert.deepEqual(onDefault.body.drafts, []);
    } finally {
      await bus.stop();
    }
  });
});

describe('schema discovery off (the default)', () => {
  test('reads nothing, and says so', async () => {
    const bus = await startTestBus();
    try {
      const sent = await order(bus, { total: 1 });
      assert.equal(sent.status, 202);
      // Discovery reads an event on the next turns of the event loop; the router's trace of it comes later.
      await waitFor(
        async () => (await traceOf(bus, sent.body.id, '/shop')).length > 0,
        'the router to trace the event',
        60_000,
      );
      const list = await request(bus.url, 'GET', '/schemas/discovered');
      assert.deepEqual(list.body, { discovery: 'off', drafts: [] });
    } finally {
      await bus.stop();
    }
  });
});
