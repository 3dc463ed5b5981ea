/**
 * The OpenTelemetry adapter: the shared Tracer suite, then what it exports (through the SDK's in-memory exporter):
 * kinds, parent links, attributes without undefined values, events, error status, the resource; and a flush or
 * close bounded however long the exporter takes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createOtelTracer } from '../../../lib/adapters/otel/tracer.ts';
import { parseTraceparent } from '../../../lib/core/trace-context.ts';
import { tracerSuite } from '../../ports/tracer.suite.ts';

tracerSuite('OpenTelemetry tracer', async () => {
  const tracer = createOtelTracer({ exporter: new InMemorySpanExporter() });
  return { tracer, cleanup: () => tracer.close() };
});

describe('OpenTelemetry tracer: what it exports', () => {
  test('spans with their kind, parent, attributes, events and status; the resource names junction', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = createOtelTracer({ exporter });
    const root = tracer.startSpan('ingest', {
      kind: 'server',
      parent: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      attributes: { 'messaging.system': 'junction', gone: undefined, rules: ['a', 'b'] },
    });
    const child = tracer.startSpan('deliver', {
      kind: 'client',
      ...(root.context === undefined ? {} : { parent: root.context }),
    });
    child.addEvent('dead-lettered', { 'junction.dead_letter.reason': 'final' });
    child.setError('answered 400');
    child.end();
    root.end();
    await tracer.flush();
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name) as ReadableSpan;
    const ingest = byName('ingest');
    const deliver = byName('deliver');
    assert.equal(ingest.kind, SpanKind.SERVER);
    assert.equal(ingest.parentSpanContext?.spanId, '00f067aa0ba902b7');
    assert.equal(ingest.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.deepEqual(ingest.attributes, { 'messaging.system': 'junction', rules: ['a', 'b'] });
    assert.equal(ingest.resource.attributes['service.name'], 'junction');
    assert.equal(deliver.kind, SpanKind.CLIENT);
    assert.equal(deliver.parentSpanContext?.spanId, ingest.spanContext().spanId);
    assert.equal(parseTraceparent(root.context?.traceparent)?.spanId, ingest.spanContext().spanId);
    assert.deepEqual(deliver.status, { code: SpanStatusCode.ERROR, message: 'answered 400' });
    assert.equal(deliver.events[0]?.name, 'dead-lettered');
    assert.equal(deliver.events[0]?.attributes?.['junction.dead_letter.reason'], 'final');
    await tracer.close();
  });

  test('OTEL_SERVICE_NAME names the service', async () => {
    const before = process.env.OTEL_SERVICE_NAME;
    process.env.OTEL_SERVICE_NAME = 'junction-eu';
    try {
      const exporter = new InMemorySpanExporter();
      const tracer = createOtelTracer({ exporter });
      tracer.startSpan('ingest', { kind: 'server' }).end();
      await tracer.flush();
      assert.equal(exporter.getFinishedSpans()[0]?.resource.attributes['service.name'], 'junction-eu');
      await tracer.close();
    } finally {
      if (before === undefined) delete process.env.OTEL_SERVICE_NAME;
      else process.env.OTEL_SERVICE_NAME = before;
    }
  });

  test('flush and close return although the exporter never answers', async () => {
    let exports = 0;
    const stuck: SpanExporter = {
      export() {
        exports++; // never calls back
      },
      shutdown: () => new Promise<void>(() => {}),
      forceFlush: () => new Promise<void>(() => {}),
    };
    const tracer = createOtelTracer({ exporter: stuck, flushTimeoutMs: 50 });
    for (let i = 0; i < 10; i++) tracer.startSpan('ingest', { kind: 'server' }).end();
    await tracer.flush();
    assert.ok(exports >= 1, 'the exporter was called');
    await tracer.close();
  });

  test('a span queue past its size drops spans instead of growing', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = createOtelTracer({
      exporter,
      batch: { maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 3_600_000 },
    });
    for (let i = 0; i < 100; i++) tracer.startSpan('ingest', { kind: 'server' }).end();
    await tracer.flush();
    const exported = exporter.getFinishedSpans().length;
    assert.ok(exported <= 20, `at most the queue's size (and a batch being exported), got ${exported}`);
    assert.ok(exported >= 1);
    await tracer.close();
  });
});

describe('OpenTelemetry tracer: the sampler', () => {
  test('OTEL_TRACES_SAMPLER=always_off records nothing, yet the context still propagates (not sampled)', async () => {
    const before = process.env.OTEL_TRACES_SAMPLER;
    process.env.OTEL_TRACES_SAMPLER = 'always_off';
    try {
      const exporter = new InMemorySpanExporter();
      const tracer = createOtelTracer({ exporter });
      const span = tracer.startSpan('ingest', {
        kind: 'server',
        parent: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      });
      const parsed = parseTraceparent(span.context?.traceparent);
      assert.equal(parsed?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal((parsed?.flags ?? 1) & 1, 0);
      span.end();
      await tracer.flush();
      assert.equal(exporter.getFinishedSpans().length, 0);
      await tracer.close();
    } finally {
      if (before === undefined) delete process.env.OTEL_TRACES_SAMPLER;
      else process.env.OTEL_TRACES_SAMPLER = before;
    }
  });
});
