/**
 * Issue 17, OpenTelemetry: the bus exports its spans over OTLP/HTTP to a real receiver (an HTTP server decoding the
 * `http/json` protocol). One event's spans share its trace: `ingest` (child of the producer's `traceparent`) →
 * `route` → `deliver` per attempt, and the HTTP target receives the `deliver` span's `traceparent`; a function
 * sees it too, and the events it returns continue the trace. A collector that never answers does not slow the bus.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { type CollectedSpan, type OtlpCollector, startOtlpCollector } from '../helpers/otlp-collector.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '00f067aa0ba902b7';

/** OTLP span kinds. */
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

function parentOf(traceparent: unknown): { traceId: string; spanId: string } {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(String(traceparent));
  assert.ok(m, `a W3C traceparent, got ${String(traceparent)}`);
  return { traceId: m[1] as string, spanId: m[2] as string };
}

describe('OpenTelemetry traces over OTLP', () => {
  let collector: OtlpCollector;
  let target: HttpTarget;
  let bus: TestBus;

  before(async () => {
    collector = await startOtlpCollector();
    let flaky = 0;
    target = await startHttpTarget((req) => {
      if (req.url === '/refuse') return { status: 400 };
      if (req.url === '/flaky') return { status: flaky++ === 0 ? 503 : 200 };
      if (req.url === '/unavailable') return { status: 503 };
      return { status: 200 };
    });
    bus = await startTestBus({ otlpEndpoint: collector.url });
    const put = await request(bus.url, 'PUT', '/rules/orders', {
      pattern: { type: ['order.created'] },
      targets: [{ id: 'shop', type: 'http', url: `${target.url}/orders`, mode: 'binary' }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const refuse = await request(bus.url, 'PUT', '/rules/refused', {
      pattern: { type: ['order.refused'] },
      targets: [{ id: 'strict', type: 'http', url: `${target.url}/refuse`, mode: 'binary' }],
    });
    assert.equal(refuse.status, 201, JSON.stringify(refuse.body));
    const retried = await request(bus.url, 'PUT', '/rules/retried', {
      pattern: { type: ['order.flaky'] },
      targets: [
        {
          id: 'flaky',
          type: 'http',
          url: `${target.url}/flaky`,
          mode: 'binary',
          retry: { backoff: { kind: 'fixed', initialMs: 100, jitter: false } },
        },
      ],
    });
    assert.equal(retried.status, 201, JSON.stringify(retried.body));
    assert.equal(
      (await request(bus.url, 'PUT', '/functions/traced', fixtureFunction('emit-traced'))).status,
      200,
    );
    const fn = await request(bus.url, 'PUT', '/rules/traced', {
      pattern: { type: ['job'] },
      targets: [{ id: 'fn', type: 'function', function: 'traced' }],
    });
    assert.equal(fn.status, 201, JSON.stringify(fn.body));
    const child = await request(bus.url, 'PUT', '/rules/children', {
      pattern: { type: ['job.child'] },
      targets: [{ id: 'hook', type: 'http', url: `${target.url}/children`, mode: 'binary' }],
    });
    assert.equal(child.status, 201, JSON.stringify(child.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await collector?.close();
  });

  /** The spans of one event (by its CloudEvents id), once the three stages are exported. */
  async function spansOf(id: string, names = ['ingest', 'route', 'deliver']): Promise<CollectedSpan[]> {
    const mine = () => collector.spans.filter((s) => s.attributes['cloudevents.event_id'] === id);
    await waitFor(
      () => names.every((n) => mine().some((s) => s.name === n)),
      `the ${names.join(', ')} spans of ${id} exported`,
      60_000,
    );
    return mine();
  }

  function one(spans: CollectedSpan[], name: string): CollectedSpan {
    const found = spans.filter((s) => s.name === name);
    assert.equal(found.length, 1, `one ${name} span, got ${found.length}`);
    return found[0] as CollectedSpan;
  }

  test('continues the traceparent header through ingest → route → deliver to the HTTP target', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'o-1', source: '/shop', type: 'order.created', data: { n: 1 } },
      {
        'content-type': 'application/cloudevents+json',
        traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01`,
        tracestate: 'vendor=abc',
      },
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const spans = await spansOf('o-1');
    const ingest = one(spans, 'ingest');
    const route = one(spans, 'route');
    const deliver = one(spans, 'deliver');
    for (const span of [ingest, route, deliver]) {
      assert.equal(span.traceId, TRACE, `${span.name} is in the producer's trace`);
      assert.equal(span.attributes['messaging.system'], 'junction');
      assert.equal(span.attributes['cloudevents.event_source'], '/shop');
      assert.equal(span.resource['service.name'], 'junction');
    }
    assert.equal(ingest.parentSpanId, PRODUCER_SPAN, 'ingest is a child of the producer span');
    assert.equal(ingest.kind, SERVER);
    assert.equal(ingest.attributes['messaging.operation.type'], 'receive');
    assert.equal(ingest.attributes['messaging.destination.name'], 'default');
    assert.equal(route.parentSpanId, ingest.spanId, 'route is a child of ingest');
    assert.equal(route.kind, CONSUMER);
    assert.equal(route.attributes['messaging.operation.type'], 'process');
    assert.deepEqual(route.attributes['junction.rules'], ['orders']);
    assert.equal(route.attributes['junction.rules.matched'], 1);
    assert.equal(deliver.parentSpanId, route.spanId, 'deliver is a child of route');
    assert.equal(deliver.kind, CLIENT);
    assert.equal(deliver.attributes['messaging.operation.type'], 'send');
    assert.equal(deliver.attributes['junction.rule'], 'orders');
    assert.equal(deliver.attributes['junction.target.id'], 'shop');
    assert.equal(deliver.attributes['junction.target.type'], 'http');
    assert.equal(deliver.attributes['junction.delivery.attempt'], 1);
    assert.equal(deliver.attributes['junction.delivery.outcome'], 'delivered');
    assert.equal(deliver.attributes['http.response.status_code'], 200);
    assert.equal(typeof deliver.attributes['junction.delivery.latency_ms'], 'number');
    assert.notEqual(deliver.status.code, 2);

    const received = target.received.find((r) => r.headers['ce-id'] === 'o-1');
    assert.ok(received, 'the target got the event');
    const header = parentOf(received.headers.traceparent);
    assert.equal(header.traceId, TRACE, 'the target request is in the same trace');
    assert.equal(header.spanId, deliver.spanId, "the target's parent is the deliver span");
    assert.equal(received.headers.tracestate, 'vendor=abc', 'tracestate travels with the trace');
    assert.equal(
      received.headers['ce-traceparent'],
      received.headers.traceparent,
      'the event carries it too',
    );
    assert.deepEqual(collector.malformed, []);
  });

  test("an event's own distributed-tracing extension wins over the header", async () => {
    const own = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const res = await request(bus.url, 'POST', '/events', '{"n":2}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'o-2',
      'ce-source': '/shop',
      'ce-type': 'order.created',
      'ce-traceparent': `00-${own}-bbbbbbbbbbbbbbbb-01`,
      traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01`,
    });
    assert.equal(res.status, 202);
    const ingest = one(await spansOf('o-2'), 'ingest');
    assert.equal(ingest.traceId, own);
    assert.equal(ingest.parentSpanId, 'bbbbbbbbbbbbbbbb');
  });

  test('a malformed traceparent is ignored: the event is accepted and starts a new trace', async () => {
    const res = await request(bus.url, 'POST', '/events', '{"n":3}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'o-3',
      'ce-source': '/shop',
      'ce-type': 'order.created',
      'ce-traceparent': '00-ab-cd-01',
      traceparent: `00-${'0'.repeat(32)}-${PRODUCER_SPAN}-01`,
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const spans = await spansOf('o-3');
    const ingest = one(spans, 'ingest');
    assert.equal(ingest.parentSpanId, '', 'a root span');
    assert.match(ingest.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(ingest.traceId, '0'.repeat(32));
    assert.equal(one(spans, 'deliver').traceId, ingest.traceId);
    await waitFor(() => target.received.some((r) => r.headers['ce-id'] === 'o-3'), 'o-3 delivered', 60_000);
    const received = target.received.find((r) => r.headers['ce-id'] === 'o-3');
    assert.equal(parentOf(received?.headers.traceparent).traceId, ingest.traceId);
    assert.equal(
      received?.headers['ce-traceparent'],
      received?.headers.traceparent,
      'the bad one is replaced',
    );
  });

  test('a dead letter is an event on the failed deliver span', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'r-1', source: '/shop', type: 'order.refused' },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(res.status, 202);
    const deliver = one(await spansOf('r-1'), 'deliver');
    assert.equal(deliver.status.code, 2, 'error status');
    assert.equal(deliver.attributes['http.response.status_code'], 400);
    assert.equal(deliver.attributes['junction.delivery.outcome'], 'failed');
    const dead = deliver.events.find((e) => e.name === 'dead-lettered');
    assert.ok(dead, `a dead-lettered event, got ${JSON.stringify(deliver.events)}`);
    assert.match(String(dead.attributes['junction.dead_letter.reason']), /400|final|not retriable/i);
    assert.equal(typeof dead.attributes['junction.dead_letter.id'], 'string');
  });

  test('each attempt is a deliver span of its own, under the same route span', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'f-1', source: '/shop', type: 'order.flaky' },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(res.status, 202);
    await waitFor(
      () =>
        collector.spans.filter((s) => s.name === 'deliver' && s.attributes['cloudevents.event_id'] === 'f-1')
          .length === 2,
      'two deliver spans of f-1',
      60_000,
    );
    const spans = await spansOf('f-1');
    const route = one(spans, 'route');
    const attempts = spans
      .filter((s) => s.name === 'deliver')
      .sort(
        (a, b) =>
          Number(a.attributes['junction.delivery.attempt']) -
          Number(b.attributes['junction.delivery.attempt']),
      );
    assert.deepEqual(
      attempts.map((s) => [
        s.attributes['junction.delivery.attempt'],
        s.attributes['http.response.status_code'],
      ]),
      [
        [1, 503],
        [2, 200],
      ],
    );
    for (const attempt of attempts) assert.equal(attempt.parentSpanId, route.spanId);
    assert.equal(attempts[0]?.status.code, 2);
    assert.ok(attempts[0]?.events.some((e) => e.name === 'retry-scheduled'));
    const headers = target.received
      .filter((r) => r.url === '/flaky')
      .map((r) => parentOf(r.headers.traceparent));
    assert.deepEqual(
      headers.map((h) => h.spanId),
      attempts.map((s) => s.spanId),
      'each request carries its own attempt span',
    );
  });

  test('a rule forwarding to another bus continues the trace there', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/audit', {})).status, 201);
    const hook = await request(bus.url, 'PUT', '/buses/audit/rules/hook', {
      pattern: { type: ['order.audited'] },
      targets: [{ id: 'audit-hook', type: 'http', url: `${target.url}/audit`, mode: 'binary' }],
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const forward = await request(bus.url, 'PUT', '/rules/forward', {
      pattern: { type: ['order.audited'] },
      targets: [{ id: 'to-audit', type: 'bus', bus: 'audit' }],
    });
    assert.equal(forward.status, 201, JSON.stringify(forward.body));
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'a-1', source: '/shop', type: 'order.audited' },
      { 'content-type': 'application/cloudevents+json', traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01` },
    );
    assert.equal(res.status, 202);
    await waitFor(
      () =>
        collector.spans.filter((s) => s.attributes['cloudevents.event_id'] === 'a-1' && s.name === 'deliver')
          .length === 2,
      'the deliver spans of a-1 on both buses',
      60_000,
    );
    const spans = collector.spans.filter((s) => s.attributes['cloudevents.event_id'] === 'a-1');
    const on = (name: string, busName: string) => {
      const found = spans.filter((s) => s.name === name && s.attributes['junction.bus.name'] === busName);
      assert.equal(found.length, 1, `one ${name} span on ${busName}`);
      return found[0] as CollectedSpan;
    };
    const forwarded = on('deliver', 'default');
    assert.equal(forwarded.attributes['junction.target.type'], 'bus');
    assert.equal(forwarded.attributes['junction.target.bus'], 'audit');
    const auditIngest = on('ingest', 'audit');
    assert.equal(auditIngest.traceId, TRACE);
    assert.equal(
      auditIngest.parentSpanId,
      forwarded.spanId,
      "the other bus's ingest is a child of the forwarding attempt",
    );
    assert.equal(auditIngest.kind, PRODUCER);
    assert.equal(on('route', 'audit').parentSpanId, auditIngest.spanId);
    const auditDeliver = on('deliver', 'audit');
    await waitFor(() => target.received.some((r) => r.url === '/audit'), 'the audit hook called', 60_000);
    const received = target.received.find((r) => r.url === '/audit');
    assert.equal(parentOf(received?.headers.traceparent).spanId, auditDeliver.spanId);
  });

  test('a delivery whose rule was deleted is dead-lettered under a deliver span saying so', async () => {
    const put = await request(bus.url, 'PUT', '/rules/doomed', {
      pattern: { type: ['order.doomed'] },
      targets: [
        {
          id: 'down',
          type: 'http',
          url: `${target.url}/unavailable`,
          mode: 'binary',
          retry: { backoff: { kind: 'fixed', initialMs: 1000, jitter: false } },
        },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'd-1', source: '/shop', type: 'order.doomed' },
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(res.status, 202);
    await waitFor(() => target.received.some((r) => r.url === '/unavailable'), 'a first attempt', 60_000);
    assert.equal((await request(bus.url, 'DELETE', '/rules/doomed')).status, 204);
    const deadLettered = () =>
      collector.spans.find(
        (s) =>
          s.name === 'deliver' &&
          s.attributes['cloudevents.event_id'] === 'd-1' &&
          s.events.some((e) => e.name === 'dead-lettered'),
      );
    await waitFor(() => deadLettered() !== undefined, 'the dead-lettered deliver span of d-1', 60_000);
    const span = deadLettered() as CollectedSpan;
    const route = one(await spansOf('d-1'), 'route');
    assert.equal(span.parentSpanId, route.spanId);
    assert.equal(span.status.code, 2);
    assert.match(String(span.status.message), /no longer exists/);
    assert.equal(span.attributes['junction.target.type'], undefined);
  });

  test('the span tree of one event: ingest → route → deliver (function) → ingest (emitted) → route → deliver (HTTP)', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'j-1', source: '/jobs', type: 'job' },
      {
        'content-type': 'application/cloudevents+json',
        traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01`,
      },
    );
    assert.equal(res.status, 202);
    const top = await spansOf('j-1');
    const ingest = one(top, 'ingest');
    const route = one(top, 'route');
    const fnDeliver = one(top, 'deliver');
    assert.equal(ingest.parentSpanId, PRODUCER_SPAN);
    assert.equal(route.parentSpanId, ingest.spanId);
    assert.equal(fnDeliver.parentSpanId, route.spanId);
    assert.equal(fnDeliver.attributes['junction.target.type'], 'function');
    assert.equal(fnDeliver.attributes['junction.function'], 'traced');
    assert.equal(fnDeliver.attributes['junction.emitted'], 1);

    const childId = 'j-1.traced.fn.0';
    const below = await spansOf(childId);
    const childIngest = one(below, 'ingest');
    const childRoute = one(below, 'route');
    const childDeliver = one(below, 'deliver');
    for (const span of below)
      assert.equal(span.traceId, TRACE, `${span.name} of the emitted event is in the trace`);
    assert.equal(
      childIngest.parentSpanId,
      fnDeliver.spanId,
      "the emitted event's ingest is a child of the function's span",
    );
    assert.equal(childIngest.kind, PRODUCER);
    assert.equal(childIngest.attributes['cloudevents.event_source'], '/functions/traced');
    assert.equal(childRoute.parentSpanId, childIngest.spanId);
    assert.equal(childDeliver.parentSpanId, childRoute.spanId);
    assert.equal(childDeliver.attributes['junction.target.id'], 'hook');

    await waitFor(
      () => target.received.some((r) => r.headers['ce-id'] === childId),
      'the child delivered',
      60_000,
    );
    const received = target.received.find((r) => r.headers['ce-id'] === childId);
    assert.equal(parentOf(received?.headers.traceparent).spanId, childDeliver.spanId);
    // What the function saw: its attempt's span, in its context and in the event's extension.
    const data = JSON.parse(String(received?.body));
    assert.equal(parentOf(data.contextTraceparent).spanId, fnDeliver.spanId);
    assert.equal(parentOf(data.contextTraceparent).traceId, TRACE);
    assert.equal(data.eventTraceparent, data.contextTraceparent);
  });
});

describe('OpenTelemetry with a collector that never answers', () => {
  let collector: OtlpCollector;
  let target: HttpTarget;
  let bus: TestBus;

  before(async () => {
    collector = await startOtlpCollector({ hang: true });
    target = await startHttpTarget();
    bus = await startTestBus({ otlpEndpoint: collector.url });
    const put = await request(bus.url, 'PUT', '/rules/all', {
      pattern: { source: ['/load'] },
      targets: [{ id: 'sink', type: 'http', url: `${target.url}/in`, concurrency: 16 }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await collector?.close();
  });

  test('events are accepted and delivered while exports hang (more spans than the span queue holds), and the bus stops', async () => {
    const batch = (from: number, count: number) =>
      request(
        bus.url,
        'POST',
        '/events',
        JSON.stringify(
          Array.from({ length: count }, (_, i) => ({
            specversion: '1.0',
            id: `e-${from + i}`,
            source: '/load',
            type: 'load',
          })),
        ),
        { 'content-type': 'application/cloudevents-batch+json' },
      );
    const first = await batch(0, 100);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.accepted, 100);
    // The exporter has sent spans to the collector, which holds the request open.
    await waitFor(() => collector.requests > 0, 'an export request stuck at the collector', 60_000);
    // Meanwhile the bus takes and delivers far more than the span queue holds (3 spans an event, 2048 queued).
    for (let i = 0; i < 8; i++) {
      const res = await batch(100 + i * 100, 100);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.accepted, 100);
    }
    await waitFor(
      () => new Set(target.received.map((r) => r.url)).size > 0 && target.received.length >= 900,
      'all 900 events delivered',
      120_000,
    );
    const ids = new Set(target.received.map((r) => r.headers['ce-id']));
    assert.equal(ids.size, 900);
    // Stopping does not wait for the collector beyond the exporter's bounded flush.
    await bus.stop();
  });
});

describe('tracing off (the default)', () => {
  let target: HttpTarget;
  let bus: TestBus;

  before(async () => {
    for (const name of [
      'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]) {
      delete process.env[name];
    }
    target = await startHttpTarget();
    bus = await startTestBus();
    const put = await request(bus.url, 'PUT', '/rules/plain', {
      pattern: { type: ['plain'] },
      targets: [{ id: 'sink', type: 'http', url: `${target.url}/plain`, mode: 'binary' }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  test('events keep the trace context they came with, and targets get no traceparent header of the bus', async () => {
    const res = await request(bus.url, 'POST', '/events', '{}', {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'p-1',
      'ce-source': '/plain',
      'ce-type': 'plain',
      'ce-traceparent': '00-ab-cd-01',
      traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01`,
    });
    assert.equal(res.status, 202);
    await waitFor(() => target.received.some((r) => r.headers['ce-id'] === 'p-1'), 'p-1 delivered', 60_000);
    const received = target.received.find((r) => r.headers['ce-id'] === 'p-1');
    assert.equal(received?.headers['ce-traceparent'], '00-ab-cd-01', 'the extension as sent');
    assert.equal(received?.headers.traceparent, undefined);
  });
});
