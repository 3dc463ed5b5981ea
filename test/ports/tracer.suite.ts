/** The shared test suite every Tracer implementation passes (the no-op tracer, OpenTelemetry): call `tracerSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseTraceparent, type TraceContext } from '../../lib/core/trace-context.ts';
import type { Tracer } from '../../lib/ports.ts';

export interface TracerHarness {
  readonly tracer: Tracer;
  /** Closes what the harness opened. */
  readonly cleanup: () => Promise<void>;
}

const PARENT: TraceContext = {
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=abc,other=1',
};

/** Registers the Tracer suite under `describe(name)`; `open` answers a fresh tracer each call. */
export function tracerSuite(name: string, open: () => Promise<TracerHarness>): void {
  async function withTracer(run: (tracer: Tracer) => Promise<void> | void): Promise<void> {
    const harness = await open();
    try {
      await run(harness.tracer);
    } finally {
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test("a span's context continues its parent's trace, with its tracestate and sampled flag", () =>
      withTracer((tracer) => {
        const span = tracer.startSpan('ingest', { kind: 'server', parent: PARENT });
        const context = span.context;
        assert.ok(context, 'a span with a parent has a context to propagate');
        const parsed = parseTraceparent(context.traceparent);
        assert.ok(parsed, `a valid traceparent, got ${context.traceparent}`);
        assert.equal(parsed.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
        assert.equal(parsed.flags & 1, 1, 'sampled, as its parent');
        assert.equal(context.tracestate, PARENT.tracestate);
        if (tracer.enabled) assert.notEqual(parsed.spanId, '00f067aa0ba902b7', 'its own span id');
        else assert.deepEqual(context, PARENT, 'the no-op tracer passes the parent through');
        span.end();
      }));

    test('a parent that is not sampled makes a span that is not sampled (parent-based default)', () =>
      withTracer((tracer) => {
        const parent = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' };
        const span = tracer.startSpan('route', { kind: 'consumer', parent });
        const parsed = parseTraceparent(span.context?.traceparent);
        assert.ok(parsed);
        assert.equal(parsed.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
        assert.equal(parsed.flags & 1, 0);
        span.end();
      }));

    test('without a parent a span starts a new trace, or (no-op) has no context', () =>
      withTracer((tracer) => {
        const a = tracer.startSpan('ingest', { kind: 'server' });
        const b = tracer.startSpan('ingest', { kind: 'server' });
        if (!tracer.enabled) {
          assert.equal(a.context, undefined);
          return;
        }
        const pa = parseTraceparent(a.context?.traceparent);
        const pb = parseTraceparent(b.context?.traceparent);
        assert.ok(pa && pb);
        assert.notEqual(pa.traceId, pb.traceId, 'two new traces');
        assert.equal(a.context?.tracestate, undefined);
        a.end();
        b.end();
      }));

    test('a child of a span is in its trace; attributes, events, errors and ends never throw', () =>
      withTracer(async (tracer) => {
        const parent = tracer.startSpan('route', { kind: 'consumer', parent: PARENT, attributes: { a: 1 } });
        const child = tracer.startSpan('deliver', {
          kind: 'client',
          ...(parent.context === undefined ? {} : { parent: parent.context }),
          attributes: { 'junction.rule': 'r', skipped: undefined, list: ['x', 'y'], ok: true },
          startTime: Date.now(),
        });
        assert.equal(
          parseTraceparent(child.context?.traceparent)?.traceId,
          '4bf92f3577b34da6a3ce929d0e0e4736',
        );
        child.setAttributes({ 'http.response.status_code': 500, none: undefined });
        child.addEvent('dead-lettered', { reason: 'final' });
        child.addEvent('plain');
        child.setError('POST http://x/ answered 500');
        child.end();
        child.end();
        child.setAttributes({ late: 1 });
        parent.end(Date.now());
        await tracer.flush();
      }));

    test('a parent context that is not valid is ignored (a new trace, or none)', () =>
      withTracer((tracer) => {
        const span = tracer.startSpan('ingest', {
          kind: 'server',
          parent: { traceparent: 'garbage', tracestate: '=,=' },
        });
        if (tracer.enabled) {
          const parsed = parseTraceparent(span.context?.traceparent);
          assert.ok(parsed, 'a new, valid context');
          assert.equal(span.context?.tracestate, undefined);
        }
        span.end();
      }));

    test('flush and close resolve, close twice too; spans after close do not throw', () =>
      withTracer(async (tracer) => {
        tracer.startSpan('ingest', { kind: 'server' }).end();
        await tracer.flush();
        await tracer.close();
        await tracer.close();
        const late = tracer.startSpan('ingest', { kind: 'server', parent: PARENT });
        late.end();
        await tracer.flush();
      }));
  });
}
