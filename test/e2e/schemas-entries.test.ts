/**
 * Schemas at every entry of the bus (issue #16, "the check runs where ingest runs"), on a real bus on 127.0.0.1:
 * events a function returns, events a rule forwards from another bus (checked against the receiving bus's schemas),
 * scheduled events, aggregation windows, and events published over MQTT with a real MQTT client (MQTT 5: PUBACK 0x99
 * with the violation; 3.1.1: the connection is closed). Discovery reads the events of each entry. Connectors:
 * schemas-connector.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { fixtureFunction, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
type Loose = any;

const structured = { 'content-type': 'application/cloudevents+json' };

function event(id: string, source: string, type: string, data: unknown): Record<string, unknown> {
  return { specversion: '1.0', id, source, type, datacontenttype: 'application/json', data };
}

async function metric(bus: TestBus, line: RegExp): Promise<number> {
  const text = (await request(bus.url, 'GET', '/metrics')).body as string;
  const found = text.split('\n').find((l) => line.test(l));
  return found === undefined ? 0 : Number(found.split(' ').pop());
}

async function putSchema(bus: TestBus, path: string, body: Record<string, unknown>): Promise<void> {
  const put = await request(bus.url, 'PUT', path, { compatibility: 'NONE', ...body });
  assert.equal(put.status, 201, JSON.stringify(put.body));
}

async function connect(url: string, protocolVersion: 4 | 5): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 30_000, protocolVersion });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

describe('schemas at every entry', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  const errors: unknown[] = [];
  const deliveredIds = () => sink.received.map((r) => JSON.parse(r.body.toString('utf8')).id as string);

  before(async () => {
    sink = await startHttpTarget();
    bus = await startTestBus({ mqttPort: 0, schemaDiscovery: true, onError: (e) => errors.push(e) });
  });
  after(async () => {
    await bus?.stop();
    await sink?.close();
  });

  /** Publishes an event through the API and waits until the sink got it: everything sent before it had its turn. */
  async function barrier(id: string): Promise<void> {
    const res = await request(bus.url, 'POST', '/events', event(id, '/barrier', 'barrier', {}), structured);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitFor(() => deliveredIds().includes(id), `the barrier ${id} delivered`, 60_000);
  }

  test("a function's events: one refused fails the invocation's emit visibly, none published; warn accepts", async () => {
    const deployed = await request(bus.url, 'PUT', '/functions/emit-many', fixtureFunction('emit-many'));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    for (const [name, body] of Object.entries({
      fan: {
        pattern: { type: ['fan.out'] },
        targets: [{ id: 'fn', type: 'function', function: 'emit-many' }],
      },
      out: {
        pattern: { type: ['com.example.emitted', 'barrier'] },
        targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
      },
    })) {
      const put = await request(bus.url, 'PUT', `/rules/${name}`, body);
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
    await putSchema(bus, '/schemas/emitted', {
      schema: {
        type: 'object',
        required: ['index', 'of'],
        properties: { index: { type: 'integer', maximum: 1 }, of: { type: 'string' } },
      },
      binding: { type: 'com.example.emitted', source: '/functions/' },
      enforcement: 'reject',
    });
    const fan = async (id: string, count: number) => {
      const res = await request(
        bus.url,
        'POST',
        '/events',
        event(id, '/shop', 'fan.out', { count }),
        structured,
      );
      assert.equal(res.status, 202, JSON.stringify(res.body));
    };

    // Two events, both valid: published and delivered.
    await fan('fan-2', 2);
    await waitFor(
      () => deliveredIds().includes('fan-2-0') && deliveredIds().includes('fan-2-1'),
      'the valid emitted events delivered',
      60_000,
    );

    // Three: the third (index 2) breaks `maximum`, so none of the three is published.
    await fan('fan-3', 3);
    await waitFor(
      async () => (await traceOf(bus, 'fan-3', '/shop')).some((e) => e.kind === 'emitted'),
      'the emitted entry of fan-3',
      60_000,
    );
    const emitted = (await traceOf(bus, 'fan-3', '/shop')).find((e) => e.kind === 'emitted');
    assert.deepEqual(emitted?.detail.events, []);
    assert.match(
      emitted?.detail.error,
      /^SchemaViolation: function "emit-many" returned an event \(index 2, id fan-3-2\) its bus refuses, so none of its 3 were published: .*\/data\/index .*\(maximum\)/,
    );
    // The invocation itself was delivered (retrying would return the same events).
    assert.ok((await traceOf(bus, 'fan-3', '/shop')).some((e) => e.kind === 'delivered'));
    // The refused event's own trace says why it never arrived.
    const refused = (await traceOf(bus, 'fan-3-2', '/functions/emit-many')).find(
      (e) => e.kind === 'schema-violation',
    );
    assert.equal(refused?.detail.refused, true);
    assert.equal(refused?.detail.schema, 'emitted');
    assert.equal(refused?.detail.violations[0].pointer, '/data/index');
    // Counted, in the bus's error log and in the function's activity.
    assert.ok(
      (await metric(
        bus,
        /^junction_schema_violations_total\{(?=.*enforcement="reject")(?=.*schema="emitted")/,
      )) >= 1,
    );
    assert.ok(errors.some((e) => /function "emit-many" returned an event \(index 2/.test(String(e))));
    const activity = (await request(bus.url, 'GET', '/functions/emit-many/activity')).body;
    assert.ok(
      activity.logs.some((l: { line: string }) =>
        /^junction: function "emit-many" returned an event \(index 2/.test(l.line),
      ),
      JSON.stringify(activity.logs),
    );
    await barrier('b-fan-3');
    for (const id of ['fan-3-0', 'fan-3-1', 'fan-3-2']) assert.ok(!deliveredIds().includes(id), id);

    // In warn mode the same events are published, and the violating one is traced.
    const warn = await request(bus.url, 'PUT', '/schemas/emitted', {
      schema: {
        type: 'object',
        required: ['index', 'of'],
        properties: { index: { type: 'integer', maximum: 1 }, of: { type: 'string' } },
      },
      binding: { type: 'com.example.emitted', source: '/functions/' },
      enforcement: 'warn',
    });
    assert.equal(warn.status, 200, JSON.stringify(warn.body));
    await fan('fan-3w', 3);
    await waitFor(() => deliveredIds().includes('fan-3w-2'), 'the warned event delivered', 60_000);
    const warned = (await traceOf(bus, 'fan-3w-2', '/functions/emit-many')).find(
      (e) => e.kind === 'schema-violation',
    );
    assert.equal(warned?.detail.schema, 'emitted');
    assert.equal(warned?.detail.refused, undefined);

    // Discovery read the function's events (it reads every accepted event, whatever its entry).
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/schemas/discovered')).body.drafts.some(
          (d: Loose) => d.source === '/functions/emit-many' && d.type === 'com.example.emitted',
        ),
      "a draft of the function's events",
      60_000,
    );
  });

  test("an event forwarded from another bus is checked against the receiving bus's schemas", async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/strict', {})).status, 201);
    await putSchema(bus, '/buses/strict/schemas/audit', {
      schema: { type: 'object', required: ['who'], properties: { who: { type: 'string' } } },
      binding: { type: 'audit.me' },
      enforcement: 'reject',
    });
    const forward = await request(bus.url, 'PUT', '/rules/forward', {
      pattern: { type: ['audit.me'] },
      targets: [{ id: 'to-strict', type: 'bus', bus: 'strict' }],
    });
    assert.equal(forward.status, 201, JSON.stringify(forward.body));
    const hook = await request(bus.url, 'PUT', '/buses/strict/rules/hook', {
      pattern: { type: ['audit.me'] },
      targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    // The sending bus has no schema: both are accepted there.
    for (const [id, data] of [
      ['a-good', { who: 'ada' }],
      ['a-bad', { who: 7 }],
    ] as const) {
      const res = await request(bus.url, 'POST', '/events', event(id, '/shop', 'audit.me', data), structured);
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    await waitFor(() => deliveredIds().includes('a-good'), 'a-good forwarded and delivered', 60_000);
    // The refused one is a dead letter of the forwarding rule at its first attempt (a retry would be refused too).
    const letters = async () =>
      (await request(bus.url, 'GET', '/dead-letters?rule=forward')).body.deadLetters as Loose[];
    await waitFor(async () => (await letters()).length === 1, 'a-bad dead-lettered', 60_000);
    const [letter] = await letters();
    assert.equal(letter.id, 'a-bad');
    assert.equal(letter.attempts.length, 1);
    assert.match(letter.reason, /SchemaViolation: bus "strict" refused it: .*\/data\/who/);
    assert.ok(!deliveredIds().includes('a-bad'));
    const counted = await request(bus.url, 'GET', '/buses/strict/metrics');
    assert.match(String(counted.body), /junction_schema_violations_total\{[^}]*schema="audit"[^}]*\} 1/);
  });

  test('a scheduled event the schemas refuse is not published; its trace and the error log say why', async () => {
    await putSchema(bus, '/schemas/ticks', {
      schema: { type: 'object', required: ['job'], properties: { job: { type: 'string' } } },
      binding: { type: 'tick', source: '/cron' },
      enforcement: 'reject',
    });
    const tick = await request(bus.url, 'PUT', '/rules/ticks-out', {
      pattern: { type: ['tick'] },
      targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
    });
    assert.equal(tick.status, 201, JSON.stringify(tick.body));
    const slot = Math.ceil((Date.now() + 2_000) / 1000) * 1000;
    const at = `at(${new Date(slot).toISOString().slice(0, 19)})`;
    for (const [name, data] of [
      ['good-tick', { job: 'report' }],
      ['bad-tick', { job: 1 }],
    ] as const) {
      const rule = await request(bus.url, 'PUT', `/rules/${name}`, {
        schedule: { expression: at, event: { source: '/cron', type: 'tick', data } },
        targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
    }
    const id = (name: string) => `${name}@${new Date(slot).toISOString()}`;
    await waitFor(() => deliveredIds().includes(id('good-tick')), 'the valid scheduled event', 60_000);
    await waitFor(
      async () => (await traceOf(bus, id('bad-tick'), '/cron')).some((e) => e.kind === 'schema-violation'),
      'the refusal of the invalid scheduled event',
      60_000,
    );
    const entries = await traceOf(bus, id('bad-tick'), '/cron');
    assert.deepEqual(
      entries.map((e) => e.kind),
      ['schema-violation'],
      'refused before the log: never received',
    );
    assert.equal(entries[0]?.detail.refused, true);
    assert.ok(
      errors.some((e) => String(e).includes(`the event ${id('bad-tick')} of a schedule was not published`)),
    );
    await barrier('b-ticks');
    assert.ok(!deliveredIds().includes(id('bad-tick')));
  });

  test('an aggregation window the schemas refuse is not published; the other windows are', async () => {
    await putSchema(bus, '/schemas/windows', {
      schema: {
        type: 'object',
        required: ['aggregates'],
        properties: {
          aggregates: { type: 'object', properties: { orders: { type: 'integer', maximum: 2 } } },
        },
      },
      binding: { type: 'sales.window' },
      enforcement: 'reject',
    });
    const agg = await request(bus.url, 'PUT', '/rules/sales-windows', {
      pattern: { type: ['order.paid'] },
      aggregate: {
        groupBy: '$.data.region',
        window: { tumbling: '1m' },
        aggregates: { orders: { count: {} } },
        emit: { type: 'sales.window', source: '/aggregations/sales' },
      },
    });
    assert.equal(agg.status, 201, JSON.stringify(agg.body));
    const out = await request(bus.url, 'PUT', '/rules/sales-out', {
      pattern: { type: ['sales.window'] },
      targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
    });
    assert.equal(out.status, 201, JSON.stringify(out.body));
    // One partition (one partition key) for one watermark: eu's window has 3 orders (refused), us's 2 (published).
    const sale = (id: string, region: string, at: string) => ({
      ...event(id, '/shop', 'order.paid', { region }),
      time: `2026-12-04T10:${at}Z`,
      partitionkey: 'sales',
    });
    const sales = [
      sale('p1', 'eu', '00:05'),
      sale('p2', 'eu', '00:10'),
      sale('p3', 'eu', '00:15'),
      sale('p4', 'us', '00:20'),
      sale('p5', 'us', '00:25'),
      sale('p6', 'eu', '01:30'), // the watermark passes 10:01: both windows close
    ];
    const batch = await request(bus.url, 'POST', '/events', sales, {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(batch.status, 200, JSON.stringify(batch.body));
    assert.equal(batch.body.failed, 0, JSON.stringify(batch.body));
    const windows = () =>
      sink.received
        .map((r) => JSON.parse(r.body.toString('utf8')))
        .filter((e: Loose) => e.type === 'sales.window');
    await waitFor(() => windows().length >= 1, "us's window delivered", 60_000);
    await waitFor(
      () =>
        errors.some((e) =>
          /of an aggregation was not published: .*\/data\/aggregates\/orders/.test(String(e)),
        ),
      "eu's window refused",
      60_000,
    );
    await barrier('b-windows');
    assert.deepEqual(
      windows().map((w: Loose) => [w.subject, w.data.aggregates.orders]),
      [['us', 2]],
    );
  });

  test('MQTT: a refused event gets 0x99 and the violation (MQTT 5) or a closed connection (3.1.1)', async () => {
    const url = bus.mqtt?.url as string;
    await putSchema(bus, '/schemas/readings', {
      schema: { type: 'object', required: ['t'], properties: { t: { type: 'number' } } },
      binding: { type: 'device.reading' },
      enforcement: 'reject',
    });
    const reading = await request(bus.url, 'PUT', '/rules/readings', {
      pattern: { type: ['device.reading'] },
      targets: [{ id: 'sink', type: 'http', url: sink.url, mode: 'structured' }],
    });
    assert.equal(reading.status, 201, JSON.stringify(reading.body));
    const payload = (id: string, data: unknown) =>
      JSON.stringify(event(id, '/devices/d1', 'device.reading', data));

    const v5 = await connect(url, 5);
    try {
      const publish = (id: string, data: unknown) =>
        new Promise<(Error & { code?: number; reason?: string }) | undefined>((resolve) => {
          v5.publish('events/d1', payload(id, data), { qos: 1 }, (error, packet) => {
            if (!error) return resolve(undefined);
            const reason = (packet as { properties?: { reasonString?: string } } | undefined)?.properties
              ?.reasonString;
            resolve(Object.assign(error, { reason }));
          });
        });
      const bad = await publish('r-bad', { t: 'warm' });
      assert.equal(bad?.code, 0x99, 'payload format invalid');
      assert.match(bad?.reason ?? '', /^SchemaViolation: .*\/data\/t/);
      assert.equal(await publish('r-good', { t: 21.5 }), undefined, 'the connection goes on');
    } finally {
      await v5.endAsync();
    }
    await waitFor(() => deliveredIds().includes('r-good'), 'r-good delivered', 60_000);

    const v4 = await connect(url, 4);
    const closed = new Promise<void>((resolve) => v4.once('close', () => resolve()));
    v4.publish('events/d1', payload('r-bad-311', { t: 'warm' }), { qos: 1 });
    await closed;
    await v4.endAsync(true);
    await barrier('b-mqtt');
    assert.ok(!deliveredIds().includes('r-bad'));
    assert.ok(!deliveredIds().includes('r-bad-311'));
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/schemas/discovered')).body.drafts.some(
          (d: Loose) => d.source === '/devices/d1' && d.type === 'device.reading',
        ),
      'a draft of the MQTT events',
      60_000,
    );
  });
});
