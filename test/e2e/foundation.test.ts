/** The embedded bus end to end: functions, rules, the SDK as a real client, HTTP targets, restarts, bad input. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { fixtureFunction, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const SHORT_RETRY = {
  maxAttempts: 2,
  maxAgeSeconds: 60,
  backoff: { kind: 'fixed', initialMs: 50, maxMs: 50, jitter: false },
};

describe('the embedded bus, end to end', () => {
  let bus: TestBus;
  let sink: HttpTarget;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
  });
  after(async () => {
    await bus.stop();
    await sink.close();
  });

  test('runs an uploaded function once per matching event and routes what it returns to a second rule', async () => {
    const deployed = await request(bus.url, 'PUT', '/functions/echo', fixtureFunction('echo'));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    assert.equal(deployed.body.name, 'echo');

    const orders = await request(bus.url, 'PUT', '/rules/orders', {
      pattern: { type: ['com.shop.order.created'], data: { total: [{ numeric: ['>', 100] }] } },
      targets: [{ id: 'echo', type: 'function', function: 'echo' }],
    });
    assert.equal(orders.status, 201, JSON.stringify(orders.body));
    const echoes = await request(bus.url, 'PUT', '/rules/echoes', {
      pattern: { type: [{ suffix: '.echoed' }] },
      targets: [{ id: 'sink', type: 'http', url: `${sink.url}/echoes`, mode: 'structured' }],
    });
    assert.equal(echoes.status, 201, JSON.stringify(echoes.body));

    const binary = emitterFor(httpTransport(`${bus.url}/events`), { mode: Mode.BINARY });
    const structured = emitterFor(httpTransport(`${bus.url}/events`), { mode: Mode.STRUCTURED });
    await binary(
      new CloudEvent({ id: 'o-1', source: '/shop', type: 'com.shop.order.created', data: { total: 150 } }),
    );
    await structured(
      new CloudEvent({ id: 'o-2', source: '/shop', type: 'com.shop.order.created', data: { total: 250 } }),
    );
    const batch = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify([
        {
          specversion: '1.0',
          id: 'o-3',
          source: '/shop',
          type: 'com.shop.order.created',
          data: { total: 999 },
        },
        {
          specversion: '1.0',
          id: 'o-4',
          source: '/shop',
          type: 'com.shop.order.created',
          data: { total: 5 },
        },
        { specversion: '1.0', id: 'x-1', source: '/shop', type: 'com.shop.cart.viewed' },
      ]),
      { 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(batch.status, 200);
    assert.deepEqual(batch.body, {
      accepted: 3,
      duplicates: 0,
      failed: 0,
      results: [{ id: 'o-3' }, { id: 'o-4' }, { id: 'x-1' }],
    });

    await waitFor(() => sink.received.length >= 3, 'three echoed events at the sink');
    const ids = sink.received.map((r) => JSON.parse(r.body.toString()).id).sort();
    assert.deepEqual(ids, ['o-1-echo', 'o-2-echo', 'o-3-echo']);
    for (const r of sink.received) {
      assert.match(String(r.headers['content-type']), /^application\/cloudevents\+json/);
      const event = JSON.parse(r.body.toString());
      assert.equal(event.type, 'com.shop.order.created.echoed');
      assert.equal(event.causationsource, '/shop');
    }
    for (const id of ['o-1', 'o-2', 'o-3']) {
      const trace = await traceOf(bus, id, '/shop');
      assert.equal(
        trace.filter((e) => e.kind === 'delivered' && e.rule === 'orders').length,
        1,
        `${id} delivered once`,
      );
      assert.ok(
        trace.some((e) => e.kind === 'emitted'),
        `${id} traced its emitted event`,
      );
    }
    const small = await traceOf(bus, 'o-4', '/shop');
    assert.deepEqual(
      small.map((e) => e.kind),
      ['received', 'unmatched'],
    );
    const viewed = await traceOf(bus, 'x-1', '/shop');
    assert.deepEqual(
      viewed.map((e) => e.kind),
      ['received', 'unmatched'],
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sink.received.length, 3, 'no further deliveries');
  });

  test('delivers to an HTTP target in binary mode with every attribute and the data intact', async () => {
    const target = await startHttpTarget();
    try {
      await request(bus.url, 'PUT', '/rules/binary-sink', {
        pattern: { source: ['/binary-test'] },
        targets: [{ id: 'bin', type: 'http', url: `${target.url}/in`, mode: 'binary' }],
      });
      const res = await request(bus.url, 'POST', '/events', JSON.stringify({ hello: 'wörld', n: [1, 2.5] }), {
        'ce-specversion': '1.0',
        'ce-id': 'b-1',
        'ce-source': '/binary-test',
        'ce-type': 'com.example.binary',
        'ce-subject': 'sub/1',
        'ce-time': '2026-11-27T10:00:00.123456Z',
        'ce-myext': 'ext-value',
        'content-type': 'application/json',
      });
      assert.equal(res.status, 202);
      assert.deepEqual(res.body, { id: 'b-1', duplicate: false });
      await waitFor(() => target.received.length === 1, 'the binary delivery');
      const got = target.received[0]!;
      assert.equal(got.headers['ce-id'], 'b-1');
      assert.equal(got.headers['ce-source'], '/binary-test');
      assert.equal(got.headers['ce-type'], 'com.example.binary');
      assert.equal(got.headers['ce-subject'], 'sub/1');
      assert.equal(got.headers['ce-time'], '2026-11-27T10:00:00.123456Z');
      assert.equal(got.headers['ce-myext'], 'ext-value');
      assert.equal(got.headers['ce-specversion'], '1.0');
      assert.match(String(got.headers['content-type']), /^application\/json/);
      assert.equal(got.headers['idempotency-key'], '/binary-test#b-1');
      assert.deepEqual(JSON.parse(got.body.toString('utf8')), { hello: 'wörld', n: [1, 2.5] });
    } finally {
      await target.close();
    }
  });

  test('answers bad input with the documented status and code, and keeps serving', async () => {
    const malformed = await request(bus.url, 'POST', '/events', '{"specversion": "1.0",', {
      'content-type': 'application/cloudevents+json',
    });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'InvalidJson');

    const invalid = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify({ specversion: '1.0', id: 'bad-1', type: 't' }),
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'InvalidEvent');
    assert.equal(invalid.body.error.field, 'source');

    const badTime = await request(bus.url, 'POST', '/events', '', {
      'ce-specversion': '1.0',
      'ce-id': 'bad-2',
      'ce-source': '/x',
      'ce-type': 't',
      'ce-time': 'yesterday',
    });
    assert.equal(badTime.status, 400);
    assert.equal(badTime.body.error.field, 'time');

    const unknownType = await request(bus.url, 'POST', '/events', '<xml/>', {
      'content-type': 'application/xml',
    });
    assert.equal(unknownType.status, 415);
    assert.equal(unknownType.body.error.code, 'UnsupportedMediaType');

    const huge = await request(bus.url, 'POST', '/events', 'x'.repeat(11 * 1024 * 1024), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'PayloadTooLarge');

    const badRule = await request(bus.url, 'PUT', '/rules/bad', {
      pattern: { data: { total: [{ numeric: ['>>', 1] }] } },
      targets: [],
    });
    assert.equal(badRule.status, 400);
    assert.equal(badRule.body.error.code, 'InvalidPattern');
    assert.match(badRule.body.error.path, /^pattern\.data\.total/);

    const badTarget = await request(bus.url, 'PUT', '/rules/bad', {
      pattern: { source: ['x'] },
      targets: [{ id: 'h', type: 'http', url: 'ftp://nope' }],
    });
    assert.equal(badTarget.status, 400);
    assert.equal(badTarget.body.error.code, 'InvalidRule');
    assert.equal(badTarget.body.error.path, 'targets[0].url');

    const badFunction = await request(
      bus.url,
      'PUT',
      '/functions/broken',
      'export const handler = (e) => {{;',
    );
    assert.equal(badFunction.status, 400);
    assert.equal(badFunction.body.error.code, 'InvalidFunction');

    const health = await request(bus.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.body.status, 'ok');
  });

  test('records failures of functions that throw, never return, loop forever or allocate without bound', async () => {
    for (const name of ['throws', 'never-returns', 'busy-loop', 'allocate']) {
      const config = name === 'allocate' ? '?timeoutMs=5000&memoryMb=32' : '?timeoutMs=300';
      const up = await request(bus.url, 'PUT', `/functions/${name}${config}`, fixtureFunction(name));
      assert.equal(up.status, 200, `${name}: ${JSON.stringify(up.body)}`);
      const rule = await request(bus.url, 'PUT', `/rules/bad-fn-${name}`, {
        pattern: { type: [`bad.${name}`] },
        targets: [{ id: 'fn', type: 'function', function: name, retry: SHORT_RETRY }],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      const sent = await request(bus.url, 'POST', '/events', '', {
        'ce-specversion': '1.0',
        'ce-id': `bad-fn-${name}`,
        'ce-source': '/bad-functions',
        'ce-type': `bad.${name}`,
      });
      assert.equal(sent.status, 202);
    }
    const expected: Record<string, RegExp> = {
      throws: /FunctionError/,
      'never-returns': /FunctionTimeout/,
      'busy-loop': /FunctionTimeout/,
      allocate: /FunctionOutOfMemory/,
    };
    for (const [name, code] of Object.entries(expected)) {
      await waitFor(
        async () =>
          (await traceOf(bus, `bad-fn-${name}`, '/bad-functions')).some((e) => e.kind === 'dead-lettered'),
        `${name} dead-lettered`,
        30_000,
      );
      const trace = await traceOf(bus, `bad-fn-${name}`, '/bad-functions');
      const attempts = trace.filter((e) => e.kind === 'attempt');
      assert.equal(attempts.length, 2, `${name}: two attempts under the short policy`);
      for (const a of attempts) {
        assert.equal(a.detail.outcome, 'failed');
        assert.match(a.detail.error, code, `${name}: ${a.detail.error}`);
      }
    }
    const health = await request(bus.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
  });

  test('serves Prometheus metrics', async () => {
    const res = await fetch(`${bus.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const name of [
      'junction_events_in_total',
      'junction_events_matched_total',
      'junction_deliveries_total',
      'junction_router_lag_events',
      'junction_delivery_latency_seconds_bucket',
    ]) {
      assert.ok(text.includes(name), `${name} in /metrics`);
    }
  });
});

describe('restarting on the same data dir', () => {
  test('keeps rules, functions and undelivered events, and resumes delivery', async () => {
    let healthy = false;
    const target = await startHttpTarget(() => (healthy ? { status: 200 } : { status: 503 }));
    const first = await startTestBus();
    try {
      assert.equal((await request(first.url, 'PUT', '/functions/noop', fixtureFunction('noop'))).status, 200);
      const rule = await request(first.url, 'PUT', '/rules/resume', {
        pattern: { type: ['resume.me'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: target.url,
            retry: {
              maxAttempts: 100,
              maxAgeSeconds: 600,
              backoff: { kind: 'fixed', initialMs: 300, maxMs: 300, jitter: false },
            },
          },
        ],
      });
      assert.equal(rule.status, 201);
      for (let i = 0; i < 5; i++) {
        const res = await request(first.url, 'POST', '/events', '', {
          'ce-specversion': '1.0',
          'ce-id': `r-${i}`,
          'ce-source': '/resume',
          'ce-type': 'resume.me',
        });
        assert.equal(res.status, 202);
      }
      await waitFor(() => target.received.length >= 5, 'first failing attempts');
      await first.stop({ keepData: true });
      healthy = true;
      const before = target.received.length;
      const second = await first.restart();
      try {
        assert.equal((await request(second.url, 'GET', '/rules/resume')).status, 200);
        const fns = await request(second.url, 'GET', '/functions');
        assert.deepEqual(
          fns.body.functions.map((f: { name: string }) => f.name),
          ['noop'],
        );
        await waitFor(async () => {
          const delivered = await Promise.all(
            [0, 1, 2, 3, 4].map(async (i) =>
              (await traceOf(second, `r-${i}`, '/resume')).some((e) => e.kind === 'delivered'),
            ),
          );
          return delivered.every(Boolean);
        }, 'all five delivered after the restart');
        const okIds = target.received
          .slice(before)
          .map((r) => r.headers['ce-id'])
          .sort();
        assert.deepEqual(okIds, ['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
      } finally {
        await second.stop();
      }
    } finally {
      await target.close();
    }
  });
});
