/** Ingest protocols through the running server: the EventBridge SDK, byte-exact binary round trips, bad input. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { UUID_V7, uuidv7Millis, waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

describe('ingest protocols, end to end', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  let client: EventBridgeClient;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
    client = new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  after(async () => {
    client.destroy();
    await bus.stop();
    await sink.close();
  });

  test('accepts PutEvents from @aws-sdk/client-eventbridge and delivers the mapped CloudEvent', async () => {
    await request(bus.url, 'PUT', '/rules/from-aws', {
      pattern: {
        source: ['com.example.orders'],
        type: ['OrderPlaced'],
        data: { amount: [{ numeric: ['>=', 10] }] },
      },
      targets: [{ id: 'sink', type: 'http', url: `${sink.url}/aws`, mode: 'structured' }],
    });
    const out = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'com.example.orders',
            DetailType: 'OrderPlaced',
            Detail: JSON.stringify({ amount: 42, who: 'zoë' }),
          },
          { Source: 'com.example.orders', DetailType: 'OrderPlaced', Detail: 'not json' },
          {
            Source: 'com.example.orders',
            DetailType: 'OrderPlaced',
            Detail: JSON.stringify({ amount: 1 }),
            Resources: ['arn:a'],
          },
        ],
      }),
    );
    assert.equal(out.FailedEntryCount, 1);
    assert.equal(out.Entries?.length, 3);
    assert.ok(out.Entries?.[0]?.EventId);
    assert.equal(out.Entries?.[1]?.ErrorCode, 'MalformedDetail');
    assert.ok(out.Entries?.[2]?.EventId);
    // The bus makes time-ordered ids: UUID version 7, their first 48 bits the time of the call.
    for (const entry of [out.Entries?.[0], out.Entries?.[2]]) {
      const id = entry?.EventId ?? '';
      assert.match(id, UUID_V7);
      assert.ok(Math.abs(uuidv7Millis(id) - Date.now()) < 60_000);
    }
    assert.notEqual(out.Entries?.[0]?.EventId, out.Entries?.[2]?.EventId);
    await waitFor(() => sink.received.length === 1, 'the PutEvents delivery');
    const event = JSON.parse(sink.received[0]!.body.toString('utf8'));
    assert.equal(event.id, out.Entries?.[0]?.EventId);
    assert.equal(event.source, 'com.example.orders');
    assert.equal(event.type, 'OrderPlaced');
    assert.deepEqual(event.data, { amount: 42, who: 'zoë' });
    const unmatched = await traceOf(bus, out.Entries?.[2]?.EventId as string, 'com.example.orders');
    assert.deepEqual(
      unmatched.map((e) => e.kind),
      ['received', 'unmatched'],
    );
  });

  test('answers TestEventPattern like EventBridge, including a pattern error the SDK raises', async () => {
    const event = JSON.stringify({
      id: '1',
      source: 'com.example.orders',
      'detail-type': 'OrderPlaced',
      account: '123456789012',
      region: 'us-east-1',
      time: '2026-11-27T00:00:00Z',
      resources: [],
      detail: { amount: 5 },
    });
    const yes = await client.send(
      new TestEventPatternCommand({
        EventPattern: '{"detail":{"amount":[{"numeric":["<",10]}]}}',
        Event: event,
      }),
    );
    assert.equal(yes.Result, true);
    const no = await client.send(
      new TestEventPatternCommand({ EventPattern: '{"detail-type":["Other"]}', Event: event }),
    );
    assert.equal(no.Result, false);
    await assert.rejects(
      client.send(
        new TestEventPatternCommand({
          EventPattern: '{"detail":{"amount":[{"numeric":["<<",10]}]}}',
          Event: event,
        }),
      ),
      (error: Error) => error.name === 'InvalidEventPatternException',
    );
  });

  test('delivers events sent with the cloudevents SDK emitter in both modes', async () => {
    const target = await startHttpTarget();
    try {
      await request(bus.url, 'PUT', '/rules/sdk', {
        pattern: { source: ['/sdk'] },
        targets: [{ id: 'sdk', type: 'http', url: target.url, mode: 'binary' }],
      });
      await emitterFor(httpTransport(`${bus.url}/events`), { mode: Mode.BINARY })(
        new CloudEvent({ id: 'sdk-1', source: '/sdk', type: 't', subject: 's', data: { a: 1 }, myext: 'x' }),
      );
      await emitterFor(httpTransport(`${bus.url}/events`), { mode: Mode.STRUCTURED })(
        new CloudEvent({ id: 'sdk-2', source: '/sdk', type: 't', data: { b: [true, null] } }),
      );
      await waitFor(() => target.received.length === 2, 'both SDK events');
      const byId = new Map(target.received.map((r) => [r.headers['ce-id'], r]));
      assert.equal(byId.get('sdk-1')?.headers['ce-myext'], 'x');
      assert.equal(byId.get('sdk-1')?.headers['ce-subject'], 's');
      assert.deepEqual(JSON.parse(byId.get('sdk-1')!.body.toString()), { a: 1 });
      assert.deepEqual(JSON.parse(byId.get('sdk-2')!.body.toString()), { b: [true, null] });
    } finally {
      await target.close();
    }
  });

  test('round-trips a binary payload and non-ASCII header values byte for byte', async () => {
    const target = await startHttpTarget();
    try {
      await request(bus.url, 'PUT', '/rules/bytes', {
        pattern: { source: ['/bytes'] },
        targets: [{ id: 'raw', type: 'http', url: target.url, mode: 'binary' }],
      });
      const payload = new Uint8Array(4096);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919 + 13) % 256;
      const subject = 'größe/日本/%';
      const res = await request(bus.url, 'POST', '/events', payload, {
        'ce-specversion': '1.0',
        'ce-id': 'bytes-1',
        'ce-source': '/bytes',
        'ce-type': 'blob',
        'ce-subject': encodeURIComponent(subject),
        'content-type': 'application/octet-stream',
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      await waitFor(() => target.received.length === 1, 'the binary delivery');
      const got = target.received[0]!;
      assert.equal(got.headers['content-type'], 'application/octet-stream');
      assert.equal(Buffer.compare(got.body, Buffer.from(payload)), 0, 'the body arrives byte for byte');
      assert.equal(decodeURIComponent(String(got.headers['ce-subject'])), subject);
    } finally {
      await target.close();
    }
  });

  test('forwards JSON data as the producer wrote it, also when a retry reads it back from the ledger', async () => {
    // The first attempt fails, so the second is read back from the SQLite ledger by the poller.
    const target = await startHttpTarget((_, index) => ({ status: index === 0 ? 503 : 200 }));
    try {
      await request(bus.url, 'PUT', '/rules/exact-json', {
        pattern: { source: ['/exact-json'], data: { n2: [{ numeric: ['>', 0] }] } },
        targets: [
          {
            id: 'raw',
            type: 'http',
            url: target.url,
            mode: 'binary',
            retry: { maxAttempts: 3, backoff: { kind: 'fixed', initialMs: 50, maxMs: 50 } },
          },
        ],
      });
      // Digits a double cannot hold, odd spacing and a duplicate key: all of it must arrive unchanged.
      const body = '{ "n" :12345678901234567890123,\n  "text":"caf\\u00e9", "n2": 1.50, "n2": 2 }';
      const res = await request(bus.url, 'POST', '/events', body, {
        'ce-specversion': '1.0',
        'ce-id': 'exact-1',
        'ce-source': '/exact-json',
        'ce-type': 'exact',
        'content-type': 'application/json',
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      await waitFor(() => target.received.length === 2, 'the failed attempt and the retry');
      for (const got of target.received) assert.equal(got.body.toString('utf8'), body);
    } finally {
      await target.close();
    }
  });

  test('rejects an attribute sent twice in binary mode instead of joining the values', async () => {
    const { request: httpRequest } = await import('node:http');
    const url = new URL(bus.url);
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: '/events',
          method: 'POST',
          headers: {
            'ce-specversion': '1.0',
            'ce-id': ['one', 'two'],
            'ce-source': '/twice',
            'ce-type': 't',
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status.status, 400);
    assert.equal(JSON.parse(status.body).error.field, 'id');
  });

  test('rejects bad batch entries one by one and keeps the rest', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify([
        { specversion: '1.0', id: 'ok-1', source: '/batch', type: 't' },
        { specversion: '1.0', id: 'bad-1', source: '/batch' },
        { specversion: '0.3', id: 'bad-2', source: '/batch', type: 't' },
        { specversion: '1.0', id: 'ok-2', source: '/batch', type: 't', time: 'not-a-time' },
      ]),
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 1);
    assert.equal(res.body.failed, 3);
    assert.deepEqual(res.body.results[0], { id: 'ok-1' });
    assert.equal(res.body.results[1].error.field, 'type');
    assert.equal(res.body.results[2].error.field, 'specversion');
    assert.equal(res.body.results[3].error.field, 'time');
    const tooMany = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify(
        Array.from({ length: 1001 }, (_, i) => ({
          specversion: '1.0',
          id: `m-${i}`,
          source: '/batch',
          type: 't',
        })),
      ),
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.ok(tooMany.status === 400 || tooMany.status === 413, `got ${tooMany.status}`);
    const health = await request(bus.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
  });
});
