/**
 * Issue 17, OpenTelemetry into a real collector: the bus exports over OTLP/HTTP to Jaeger v2 (the OpenTelemetry
 * Collector with Jaeger's storage, built from the Go module proxy by test/helpers/jaeger.ts), and Jaeger's query API
 * answers the span tree of one event: ingest (child of the producer's span) → route → deliver to a function → the
 * ingest of the event the function emitted → its route → its deliver to an HTTP target, whose request carries that
 * last span's traceparent; and the same tree of one event over each OTLP protocol (`http/json`, the default above;
 * `http/protobuf`; `grpc` to Jaeger's OTLP/gRPC receiver). Skipped only where no Go toolchain can build Jaeger and CI
 * is not set.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import {
  type Jaeger,
  type JaegerSpan,
  type JaegerTrace,
  jaegerUnavailable,
  startJaeger,
} from '../helpers/jaeger.ts';

const TRACE = '5bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '10f067aa0ba902b7';

const unavailable = jaegerUnavailable();
if (unavailable !== undefined && process.env.CI === 'true')
  throw new Error(`CI=true but Jaeger cannot be built: ${unavailable}`);

describe('OpenTelemetry into Jaeger (a real OTLP receiver)', { skip: unavailable }, () => {
  let jaeger: Jaeger;
  let target: HttpTarget;
  let bus: TestBus;

  before(async () => {
    jaeger = await startJaeger();
    target = await startHttpTarget();
    bus = await startTestBus({ otlpEndpoint: jaeger.otlpUrl });
    assert.equal(
      (await request(bus.url, 'PUT', '/functions/traced', fixtureFunction('emit-traced'))).status,
      200,
    );
    const fn = await request(bus.url, 'PUT', '/rules/jobs', {
      pattern: { type: ['job'] },
      targets: [{ id: 'fn', type: 'function', function: 'traced' }],
    });
    assert.equal(fn.status, 201, JSON.stringify(fn.body));
    const hook = await request(bus.url, 'PUT', '/rules/children', {
      pattern: { type: ['job.child'] },
      targets: [{ id: 'hook', type: 'http', url: `${target.url}/children`, mode: 'binary' }],
    });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
    await jaeger?.close();
  });

  const tag = (span: JaegerSpan, key: string) => span.tags.find((t) => t.key === key)?.value;
  const parent = (span: JaegerSpan) => span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
  /** The spans of `trace` named `name` for the event `id`. */
  const spansOf = (trace: JaegerTrace | undefined, id: string, name: string) =>
    trace?.spans.filter((s) => s.operationName === name && tag(s, 'cloudevents.event_id') === id) ?? [];

  test('Jaeger answers the span tree of one event, through a function and the event it emitted', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'jg-1', source: '/jobs', type: 'job' },
      { 'content-type': 'application/cloudevents+json', traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01` },
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const childId = 'jg-1.jobs.fn.0'; // <event id>.<rule>.<target id>.<index>: what the function emitted
    await waitFor(
      () => target.received.some((r) => r.headers['ce-id'] === childId),
      'the child delivered',
      60_000,
    );

    let trace: JaegerTrace | undefined;
    const of = (id: string, name: string) => spansOf(trace, id, name);
    await waitFor(
      async () => {
        trace = await jaeger.trace(TRACE);
        return ['ingest', 'route', 'deliver'].every(
          (n) => of('jg-1', n).length === 1 && of(childId, n).length === 1,
        );
      },
      'the six spans of the event and its child in Jaeger',
      60_000,
    );
    const one = (id: string, name: string) => of(id, name)[0] as JaegerSpan;
    const [ingest, route, fnDeliver] = ['ingest', 'route', 'deliver'].map((n) =>
      one('jg-1', n),
    ) as JaegerSpan[];
    const [childIngest, childRoute, childDeliver] = ['ingest', 'route', 'deliver'].map((n) =>
      one(childId, n),
    ) as JaegerSpan[];

    assert.equal(parent(ingest!), PRODUCER_SPAN, 'ingest is a child of the producer span');
    assert.equal(parent(route!), ingest!.spanID);
    assert.equal(parent(fnDeliver!), route!.spanID);
    assert.equal(tag(fnDeliver!, 'junction.target.type'), 'function');
    assert.equal(
      parent(childIngest!),
      fnDeliver!.spanID,
      "the emitted event's ingest is under the function's span",
    );
    assert.equal(parent(childRoute!), childIngest!.spanID);
    assert.equal(parent(childDeliver!), childRoute!.spanID);
    assert.equal(tag(childDeliver!, 'junction.target.id'), 'hook');
    assert.equal(tag(childDeliver!, 'http.response.status_code'), 200);
    for (const span of [ingest, route, fnDeliver, childIngest, childRoute, childDeliver]) {
      assert.equal(span!.traceID, TRACE);
      assert.equal(trace?.processes[span!.processID]?.serviceName, 'junction');
    }
    const received = target.received.find((r) => r.headers['ce-id'] === childId);
    assert.match(
      String(received?.headers.traceparent),
      new RegExp(`^00-${TRACE}-${childDeliver!.spanID}-01$`),
    );
  });

  for (const [protocol, traceId] of [
    ['http/protobuf', '6cf92f3577b34da6a3ce929d0e0e4736'],
    ['grpc', '7df92f3577b34da6a3ce929d0e0e4736'],
  ] as const) {
    test(`over ${protocol}: Jaeger answers ingest → route → deliver of one event`, async () => {
      const other = await startTestBus({
        otlpEndpoint: protocol === 'grpc' ? jaeger.otlpGrpcUrl : jaeger.otlpUrl,
        otlpProtocol: protocol,
      });
      try {
        const rule = await request(other.url, 'PUT', '/rules/hook', {
          pattern: { type: ['ping'] },
          targets: [{ id: 'hook', type: 'http', url: `${target.url}/${protocol.replace('/', '-')}` }],
        });
        assert.equal(rule.status, 201, JSON.stringify(rule.body));
        const id = `proto-${protocol}`;
        const res = await request(
          other.url,
          'POST',
          '/events',
          { specversion: '1.0', id, source: '/protocols', type: 'ping' },
          {
            'content-type': 'application/cloudevents+json',
            traceparent: `00-${traceId}-${PRODUCER_SPAN}-01`,
          },
        );
        assert.equal(res.status, 202, JSON.stringify(res.body));
        let found: JaegerTrace | undefined;
        const named = (name: string) => spansOf(found, id, name);
        await waitFor(
          async () => {
            found = await jaeger.trace(traceId);
            return ['ingest', 'route', 'deliver'].every((n) => named(n).length === 1);
          },
          `the three spans of the event in Jaeger, exported over ${protocol}`,
          60_000,
        );
        const [ingest, route, deliver] = ['ingest', 'route', 'deliver'].map(
          (n) => named(n)[0],
        ) as JaegerSpan[];
        assert.equal(parent(ingest!), PRODUCER_SPAN);
        assert.equal(parent(route!), ingest!.spanID);
        assert.equal(parent(deliver!), route!.spanID);
        assert.equal(tag(deliver!, 'junction.target.id'), 'hook');
      } finally {
        await other.stop();
      }
    });
  }
});
