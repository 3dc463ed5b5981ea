/**
 * The schema registry (issue #16) on a real bus on 127.0.0.1: versions registered, kept across a restart and refused
 * when incompatible; events checked at ingest — sent with the `cloudevents` SDK (binary and structured), in batches,
 * and with `@aws-sdk/client-eventbridge` PutEvents — under `reject`, `warn` and `off`, bound by type (and source
 * prefix), by `dataschema`, and by the registry's own version URIs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const order = {
  type: 'object',
  required: ['id', 'total'],
  properties: {
    id: { type: 'string' },
    total: { type: 'number', minimum: 0 },
    email: { type: 'string', format: 'email' },
  },
};

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Loose = any;

/** Sends an event with the cloudevents SDK's HTTP emitter; answers the bus's JSON answer (the SDK keeps no status). */
async function emit(bus: TestBus, mode: Mode, event: CloudEvent<unknown>): Promise<{ body: Loose }> {
  const response = (await emitterFor(httpTransport(`${bus.url}/events`), { mode })(event)) as {
    body: string;
  };
  return { body: JSON.parse(response.body) };
}

async function metric(bus: TestBus, line: RegExp): Promise<number> {
  const text = (await request(bus.url, 'GET', '/metrics')).body as string;
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? 0 : Number(found.split(' ').pop());
}

describe('schemas on a real bus', () => {
  let bus: TestBus;
  let sink: HttpTarget;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
    const rule = await request(bus.url, 'PUT', '/rules/all-orders', {
      pattern: { source: [{ prefix: '/shop' }] },
      targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
  });
  after(async () => {
    await sink?.close();
    await bus?.stop();
  });

  test('registers versions: 201 new, 200 the same again, 409 naming the change and the rule', async () => {
    const put = (schema: unknown, more: Record<string, unknown> = {}) =>
      request(bus.url, 'PUT', '/schemas/orders', {
        schema,
        compatibility: 'BACKWARD',
        binding: { type: 'com.shop.order.created', source: '/shop' },
        enforcement: 'reject',
        ...more,
      });
    const first = await put(order);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.version, 1);
    // Key order aside, the same schema is the same version.
    const again = await put({ properties: order.properties, required: order.required, type: 'object' });
    assert.equal(again.status, 200);
    assert.equal(again.body.version, 1);
    const narrowed = await put({
      ...order,
      properties: { ...order.properties, total: { type: 'integer', minimum: 0 } },
    });
    assert.equal(narrowed.status, 409);
    assert.equal(narrowed.body.error.code, 'IncompatibleSchema');
    assert.deepEqual(
      narrowed.body.error.changes.map((c: Loose) => [c.pointer, c.change, c.rule, c.against]),
      [['/properties/total/type', 'type-narrowed', 'BACKWARD', 1]],
    );
    // The same change under FORWARD is fine (old readers read integers), and under FULL it is not.
    const full = await put(
      { ...order, properties: { ...order.properties, total: { type: 'integer', minimum: 0 } } },
      {
        compatibility: 'FULL',
      },
    );
    assert.equal(full.status, 409);
    assert.deepEqual(
      full.body.error.changes.map((c: Loose) => c.rule),
      ['BACKWARD'],
    );
    const added = await put({ ...order, properties: { ...order.properties, note: { type: 'string' } } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.version, 2);
    const got = await request(bus.url, 'GET', '/schemas/orders');
    assert.equal(got.status, 200);
    assert.deepEqual(
      got.body.versions.map((v: Loose) => v.version),
      [1, 2],
    );
    assert.deepEqual(got.body.binding, { type: 'com.shop.order.created', source: '/shop' });
    const v1 = await request(bus.url, 'GET', '/schemas/orders/versions/1');
    assert.deepEqual(v1.body.schema, order);
    assert.equal((await request(bus.url, 'GET', '/schemas/orders/versions/latest')).body.version, 2);
    assert.equal((await request(bus.url, 'GET', '/schemas/orders/versions/9')).status, 404);
    assert.equal((await request(bus.url, 'GET', '/schemas/nothing')).status, 404);
    const clash = await request(bus.url, 'PUT', '/schemas/orders-again', {
      schema: order,
      binding: { type: 'com.shop.order.created', source: '/shop' },
    });
    assert.equal(clash.status, 409);
    assert.equal(clash.body.error.field, 'binding');
    const unsafe = await request(bus.url, 'PUT', '/schemas/unsafe', {
      schema: { type: 'string', pattern: '^(a+)+$' },
      binding: { type: 'x' },
    });
    assert.equal(unsafe.status, 400);
    assert.equal(unsafe.body.error.code, 'InvalidSchema');
    assert.match(unsafe.body.error.message, /nested quantifiers/);
  });

  test('reject: the cloudevents SDK gets a 400 with the pointer and keyword of each failing value', async () => {
    for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
      const bad = await emit(
        bus,
        mode,
        new CloudEvent({
          id: `bad-${mode}`,
          source: '/shop/eu',
          type: 'com.shop.order.created',
          datacontenttype: 'application/json',
          data: { id: 7, total: -1, email: 'not-an-email' },
        }),
      );
      assert.equal(bad.body.error.code, 'SchemaViolation', JSON.stringify(bad.body));
      assert.equal(bad.body.error.schema, 'orders');
      assert.equal(bad.body.error.version, 2);
      assert.deepEqual(bad.body.error.violations.map((v: Loose) => `${v.pointer} ${v.keyword}`).sort(), [
        '/data/email format',
        '/data/id type',
        '/data/total minimum',
      ]);
      const good = await emit(
        bus,
        mode,
        new CloudEvent({
          id: `good-${mode}`,
          source: '/shop/eu',
          type: 'com.shop.order.created',
          datacontenttype: 'application/json',
          data: { id: 'o-1', total: 5 },
        }),
      );
      assert.deepEqual(good.body, { id: `good-${mode}`, duplicate: false });
    }
    // A source outside the binding's prefix is not governed.
    const elsewhere = await emit(
      bus,
      Mode.BINARY,
      new CloudEvent({ id: 'other-1', source: '/pos', type: 'com.shop.order.created', data: { id: 1 } }),
    );
    assert.equal(elsewhere.body.id, 'other-1');
    await waitFor(() => sink.received.length >= 2, 'the two valid orders delivered', 60_000);
    const delivered = sink.received.map((r) => JSON.parse(r.body.toString()).id).sort();
    assert.deepEqual(delivered, ['good-binary', 'good-structured']);
    assert.ok(
      (await metric(bus, /^junction_schema_violations_total\{.*enforcement="reject".*schema="orders"/)) >= 2,
    );
  });

  test('reject in a batch refuses only the failing entries', async () => {
    const batch = await request(
      bus.url,
      'POST',
      '/events',
      [
        {
          specversion: '1.0',
          id: 'b-1',
          source: '/shop',
          type: 'com.shop.order.created',
          data: { id: 'a', total: 1 },
        },
        {
          specversion: '1.0',
          id: 'b-2',
          source: '/shop',
          type: 'com.shop.order.created',
          data: { total: 'x' },
        },
        {
          specversion: '1.0',
          id: 'b-3',
          source: '/shop',
          type: 'com.shop.order.created',
          data_base64: 'AAE=',
        },
      ],
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(batch.status, 200);
    assert.equal(batch.body.accepted, 1);
    assert.equal(batch.body.failed, 2);
    assert.deepEqual(batch.body.results[0], { id: 'b-1' });
    assert.equal(batch.body.results[1].error.code, 'SchemaViolation');
    assert.deepEqual(
      batch.body.results[1].error.violations.map((v: Loose) => `${v.pointer} ${v.keyword}`).sort(),
      ['/data/id required', '/data/total type'],
    );
    assert.deepEqual(
      batch.body.results[2].error.violations.map((v: Loose) => v.pointer),
      ['/data_base64'],
    );
  });

  test("PutEvents from @aws-sdk/client-eventbridge: per-entry ErrorCode, with an OpenAPI schema from EventBridge's registry", async () => {
    const openapi = {
      openapi: '3.0.0',
      info: { version: '1.0.0', title: 'InvoicePaid' },
      paths: {},
      components: {
        schemas: {
          AWSEvent: {
            type: 'object',
            'x-amazon-events-detail-type': 'InvoicePaid',
            'x-amazon-events-source': 'com.billing',
            properties: { detail: { $ref: '#/components/schemas/InvoicePaid' }, source: { type: 'string' } },
          },
          InvoicePaid: {
            type: 'object',
            required: ['invoice'],
            properties: { invoice: { type: 'string' }, paidAt: { type: 'string', format: 'date-time' } },
          },
        },
      },
    };
    const put = await request(bus.url, 'PUT', '/schemas/invoice-paid', { schema: openapi });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(put.body.binding, { type: 'InvoicePaid', source: 'com.billing' });
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
            { Source: 'com.billing', DetailType: 'InvoicePaid', Detail: JSON.stringify({ invoice: 'I-1' }) },
            {
              Source: 'com.billing',
              DetailType: 'InvoicePaid',
              Detail: JSON.stringify({ paidAt: 'yesterday' }),
            },
          ],
        }),
      );
      assert.equal(out.FailedEntryCount, 1);
      assert.ok(out.Entries?.[0]?.EventId);
      assert.equal(out.Entries?.[1]?.ErrorCode, 'SchemaViolation');
      assert.match(out.Entries?.[1]?.ErrorMessage ?? '', /\/data\/invoice .*\(required\)/);
      assert.match(out.Entries?.[1]?.ErrorMessage ?? '', /\/data\/paidAt .*\(format\)/);
    } finally {
      client.destroy();
    }
  });

  test('warn accepts and counts; off checks nothing', async () => {
    const put = await request(bus.url, 'PUT', '/schemas/payments', {
      schema: { type: 'object', required: ['amount'] },
      binding: { type: 'com.shop.payment' },
      enforcement: 'warn',
    });
    assert.equal(put.status, 201);
    const warned = /^junction_schema_violations_total\{.*enforcement="warn".*schema="payments"/;
    const before = await metric(bus, warned);
    const send = (id: string) =>
      request(
        bus.url,
        'POST',
        '/events',
        { not: 'an amount' },
        {
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-source': '/shop',
          'ce-type': 'com.shop.payment',
          'content-type': 'application/json',
        },
      );
    assert.equal((await send('w-1')).status, 202);
    assert.equal(await metric(bus, warned), before + 1);
    // Traced: the event's journey says which schema it failed, and where.
    await waitFor(
      async () => (await traceOf(bus, 'w-1', '/shop')).some((e) => e.kind === 'schema-violation'),
      'the schema-violation trace entry',
      60_000,
    );
    const entry = (await traceOf(bus, 'w-1', '/shop')).find((e) => e.kind === 'schema-violation');
    assert.equal(entry?.detail?.schema, 'payments');
    assert.deepEqual(
      entry?.detail?.violations.map((v: Loose) => `${v.pointer} ${v.keyword}`),
      ['/data/amount required'],
    );
    await waitFor(
      () => sink.received.some((r) => JSON.parse(r.body.toString()).id === 'w-1'),
      'the warned event delivered',
      60_000,
    );
    const off = await request(bus.url, 'PUT', '/schemas/payments', {
      schema: { type: 'object', required: ['amount'] },
      binding: { type: 'com.shop.payment' },
      enforcement: 'off',
    });
    assert.equal(off.status, 200);
    assert.equal((await send('w-2')).status, 202);
    assert.equal(await metric(bus, warned), before + 1);
  });

  test('dataschema: a bound URI, a version under it, and the registry own version URIs', async () => {
    const base = 'https://schemas.shop.example/refund';
    const v1 = { type: 'object', required: ['order'], properties: { order: { type: 'string' } } };
    assert.equal(
      (await request(bus.url, 'PUT', '/schemas/refunds', { schema: v1, binding: { dataschema: base } }))
        .status,
      201,
    );
    const v2 = { ...v1, properties: { order: { type: 'string' }, reason: { type: 'string', maxLength: 5 } } };
    assert.equal(
      (await request(bus.url, 'PUT', '/schemas/refunds', { schema: v2, binding: { dataschema: base } }))
        .status,
      201,
    );
    const send = (id: string, dataschema: string | undefined, data: unknown) =>
      emit(
        bus,
        Mode.STRUCTURED,
        new CloudEvent({
          id,
          source: '/shop',
          type: 'com.shop.refund',
          ...(dataschema === undefined ? {} : { dataschema }),
          data,
        }),
      );
    const long = { order: 'o-1', reason: 'far too long a reason' };
    // The bound URI: the latest version (v2 limits the reason).
    const latest = await send('r-1', base, long);
    assert.equal(latest.body.error?.code, 'SchemaViolation');
    assert.equal(latest.body.error.version, 2);
    assert.equal(latest.body.error.violations[0].pointer, '/data/reason');
    // The URI and /versions/1: version 1, which has no limit.
    assert.equal((await send('r-2', `${base}/versions/1`, long)).body.id, 'r-2');
    // The registry's own URI of a version, whatever its binding.
    const own = await send('r-3', `${bus.url}/schemas/orders/versions/1`, { total: 1 });
    assert.equal(own.body.error?.code, 'SchemaViolation');
    assert.equal(own.body.error.schema, 'orders');
    assert.equal(own.body.error.violations[0].pointer, '/data/id');
    const missing = await send('r-4', `${base}/versions/7`, long);
    assert.equal(missing.body.error?.violations[0].keyword, 'dataschema');
    // Without a dataschema (and no type binding) nothing is checked.
    assert.equal((await send('r-5', undefined, long)).body.id, 'r-5');
  });

  test('schemas and their enforcement survive a restart; DELETE removes one', async () => {
    await bus.stop({ keepData: true });
    bus = await bus.restart();
    const list = await request(bus.url, 'GET', '/schemas');
    assert.deepEqual(
      list.body.schemas.map((s: Loose) => [s.name, s.latest]),
      [
        ['invoice-paid', 1],
        ['orders', 2],
        ['payments', 1],
        ['refunds', 2],
      ],
    );
    const bad = await emit(
      bus,
      Mode.BINARY,
      new CloudEvent({
        id: 'after-restart',
        source: '/shop',
        type: 'com.shop.order.created',
        data: { total: 1 },
      }),
    );
    assert.equal(bad.body.error?.code, 'SchemaViolation');
    assert.equal((await request(bus.url, 'DELETE', '/schemas/orders')).status, 204);
    assert.equal((await request(bus.url, 'DELETE', '/schemas/orders')).status, 404);
    const now = await emit(
      bus,
      Mode.BINARY,
      new CloudEvent({
        id: 'after-delete',
        source: '/shop',
        type: 'com.shop.order.created',
        data: { total: 1 },
      }),
    );
    assert.equal(now.body.id, 'after-delete');
  });

  test('a named bus has a registry of its own', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/other', {})).status, 201);
    const put = await request(bus.url, 'PUT', '/buses/other/schemas/things', {
      schema: { type: 'object', required: ['x'] },
      binding: { type: 'thing' },
    });
    assert.equal(put.status, 201);
    const refused = await request(
      bus.url,
      'POST',
      '/buses/other/events',
      {},
      {
        'ce-specversion': '1.0',
        'ce-id': 't-1',
        'ce-source': '/s',
        'ce-type': 'thing',
        'content-type': 'application/json',
      },
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'SchemaViolation');
    const elsewhere = await request(
      bus.url,
      'POST',
      '/events',
      {},
      {
        'ce-specversion': '1.0',
        'ce-id': 't-1',
        'ce-source': '/s',
        'ce-type': 'thing',
        'content-type': 'application/json',
      },
    );
    assert.equal(elsewhere.status, 202);
    assert.deepEqual(
      (await request(bus.url, 'GET', '/buses/other/schemas')).body.schemas.map((s: Loose) => s.name),
      ['things'],
    );
  });
});

describe('schemas and credentials', () => {
  let bus: TestBus;
  const keys: Record<string, string> = {};

  before(async () => {
    bus = await startTestBus();
    for (const [name, scope] of [
      ['admin', 'manage'],
      ['reader', 'read'],
      ['producer', 'publish'],
    ] as const) {
      const made = await cli(['keys', 'create', name, '--scope', scope, '--data-dir', bus.dataDir, '--json']);
      assert.equal(made.code, 0, made.err);
      keys[name] = JSON.parse(made.out).key as string;
    }
  });
  after(() => bus?.stop());

  test('registering and deleting need manage; reading needs read; publishing is checked for a publish key', async () => {
    const as = (name: string) => ({ authorization: `Bearer ${keys[name]}` });
    const spec = { schema: { type: 'object', required: ['a'] }, binding: { type: 'k' } };
    for (const name of ['reader', 'producer']) {
      const refused = await request(bus.url, 'PUT', '/schemas/k', spec, as(name));
      assert.equal(refused.status, 403, name);
      assert.equal(refused.body.error.needs, 'manage');
    }
    assert.equal((await request(bus.url, 'PUT', '/schemas/k', spec)).status, 401);
    assert.equal((await request(bus.url, 'PUT', '/schemas/k', spec, as('admin'))).status, 201);
    assert.equal((await request(bus.url, 'GET', '/schemas/k', undefined, as('reader'))).status, 200);
    assert.equal((await request(bus.url, 'GET', '/schemas', undefined, as('producer'))).status, 403);
    const refused = await request(
      bus.url,
      'POST',
      '/events',
      {},
      {
        ...as('producer'),
        'ce-specversion': '1.0',
        'ce-id': 'k-1',
        'ce-source': '/s',
        'ce-type': 'k',
        'content-type': 'application/json',
      },
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'SchemaViolation');
    assert.equal((await request(bus.url, 'DELETE', '/schemas/k', undefined, as('reader'))).status, 403);
    assert.equal((await request(bus.url, 'DELETE', '/schemas/k', undefined, as('admin'))).status, 204);
  });
});
