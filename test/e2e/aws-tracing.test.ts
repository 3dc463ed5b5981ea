/**
 * Issue 17, OpenTelemetry on AWS: the handlers of functions/, configured only through the environment as the
 * construct's `tracing` prop sets it, export the spans of one event to a real OTLP/HTTP receiver — ingest (a child
 * of the producer's `traceparent`) → route (in the router handler, another Lambda: the context travels in the
 * event) → deliver to an HTTP target, whose request carries the deliver span's `traceparent`. Each handler exports
 * its spans before it returns (Lambda freezes the process after): they are at the receiver when the call resolves.
 * Kafka broker, dynalite, the local MSK event source mapping.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ApiGatewayResult } from '../../lib/adapters/aws/apigateway.ts';
import type { AwsRuntime } from '../../lib/adapters/aws/wiring.ts';
import { type MskPoller, startMskPoller } from '../../lib/adapters/kafka/msk-poller.ts';
import { awsFixture as fixture } from '../helpers/aws-fixtures.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { type CollectedSpan, type OtlpCollector, startOtlpCollector } from '../helpers/otlp-collector.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip = kafka === undefined ? 'no Kafka broker: JUNCTION_TEST_KAFKA is unset' : false;

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '00f067aa0ba902b7';

type Handler<R> = (event: unknown, context?: unknown) => Promise<R>;
describe('AWS handlers export OpenTelemetry spans over OTLP (tracing prop)', { skip }, () => {
  const saved = { ...process.env };
  let dynalite: Dynalite;
  let collector: OtlpCollector;
  let target: HttpTarget;
  let poller: MskPoller | undefined;
  let ingest: Handler<ApiGatewayResult>;
  let api: Handler<ApiGatewayResult>;
  let router: Handler<unknown>;
  let runtime: () => Promise<AwsRuntime>;
  let routed = 0;

  before(async () => {
    const prefix = uniquePrefix();
    dynalite = await startDynalite(prefix);
    collector = await startOtlpCollector();
    target = await startHttpTarget();
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_KAFKA_BOOTSTRAP: kafka,
      JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
      JUNCTION_KAFKA_TOPIC: `junction-events-${randomUUID().slice(0, 8)}`,
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      // What JunctionBus({ tracing: { otlpEndpoint, serviceName } }) sets on the four handlers.
      JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_SERVICE_NAME: 'orders-bus',
    });
    for (const name of ['JUNCTION_KAFKA_CLUSTER_ARN', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER']) {
      delete process.env[name];
    }
    ingest = (await import('../../functions/ingest.ts')).handler as Handler<ApiGatewayResult>;
    api = (await import('../../functions/api.ts')).handler as Handler<ApiGatewayResult>;
    router = (await import('../../functions/router.ts')).handler as Handler<unknown>;
    runtime = (await import('../../lib/adapters/aws/wiring.ts')).awsRuntime;
  });

  after(async () => {
    await poller?.close();
    await (await runtime?.())?.close();
    await target?.close();
    await collector?.close();
    await dynalite?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  const spansOf = (id: string): CollectedSpan[] =>
    collector.spans.filter((s) => s.attributes['cloudevents.event_id'] === id);

  it('continues the producer trace: ingest → route → deliver, each exported before its handler returns', async () => {
    const base = fixture('apigw-http-v2-put-rule') as { requestContext: { http: Record<string, unknown> } };
    const rule = {
      pattern: { type: ['com.shop.order.created'] },
      targets: [{ id: 'audit', type: 'http', url: `${target.url}/hook` }],
    };
    const put = await api({
      ...base,
      rawPath: '/rules/audit',
      rawQueryString: '',
      body: JSON.stringify(rule),
      isBase64Encoded: false,
      requestContext: {
        ...base.requestContext,
        http: { ...base.requestContext.http, method: 'PUT', path: '/rules/audit' },
      },
    });
    assert.equal(put.statusCode, 201, put.body);

    const request = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
    request.headers.traceparent = `00-${TRACE}-${PRODUCER_SPAN}-01`;
    const accepted = await ingest(request);
    assert.equal(accepted.statusCode, 202, accepted.body);
    // Exported within the invocation: nothing is left to the batch processor's timer, which a frozen Lambda never runs.
    const [ingestSpan, ...more] = spansOf('order-1').filter((s) => s.name === 'ingest');
    assert.ok(ingestSpan !== undefined, 'the ingest span is at the receiver when the ingest handler returns');
    assert.equal(more.length, 0);
    assert.equal(ingestSpan.traceId, TRACE);
    assert.equal(ingestSpan.parentSpanId, PRODUCER_SPAN);
    assert.equal(ingestSpan.resource['service.name'], 'orders-bus');
    assert.equal(ingestSpan.attributes['junction.bus.name'], 'default');

    poller = await startMskPoller({
      bootstrap: [kafka as string],
      topic: process.env.JUNCTION_KAFKA_TOPIC as string,
      group: 'junction-router',
      batchWindowMs: 200,
      handler: async (event, context) => {
        const summary = await router(event, context);
        routed += (summary as { routed: number }).routed;
        return summary;
      },
    });
    await waitFor(() => target.received.length >= 1, 'the HTTP target', 120_000);
    await waitFor(() => routed >= 1, 'the router invocation to return', 120_000);
    const spans = spansOf('order-1');
    const route = spans.find((s) => s.name === 'route');
    const deliver = spans.find((s) => s.name === 'deliver');
    assert.ok(
      route !== undefined && deliver !== undefined,
      `route and deliver exported: ${spans.map((s) => s.name)}`,
    );
    assert.equal(route.traceId, TRACE);
    assert.equal(
      route.parentSpanId,
      ingestSpan.spanId,
      'route (router Lambda) is a child of ingest (ingest Lambda)',
    );
    assert.equal(deliver.traceId, TRACE);
    assert.equal(deliver.parentSpanId, route.spanId);
    assert.equal(deliver.attributes['junction.delivery.outcome'], 'delivered');
    assert.equal(
      target.received[0]?.headers.traceparent,
      `00-${TRACE}-${deliver.spanId}-01`,
      'the HTTP target request carries the deliver span',
    );
    assert.deepEqual(collector.malformed, []);
  });
});
