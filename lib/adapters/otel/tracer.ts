/**
 * The `Tracer` port on the OpenTelemetry JS SDK: spans go through a `BatchSpanProcessor` (a bounded queue, exported
 * in the background; past the queue's size spans are dropped, never waited for) to an OTLP exporter: OTLP/HTTP with
 * JSON (the default) or protobuf bodies, or OTLP/gRPC (`createOtlpExporter`).
 * A collector that fails, refuses or never answers costs the bus nothing but the dropped spans: nothing on the
 * delivery path awaits the exporter, and `flush`/`close` wait a bounded time.
 *
 * The provider is this bus's own (not registered as the global one): an application embedding Junction keeps its
 * own OpenTelemetry set-up.
 */
import {
  type Attributes,
  type Context,
  SpanKind as OtelSpanKind,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type BufferConfig,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../../core/trace-context.ts';
import type { SpanAttributes, SpanKind, SpanOptions, Tracer, TraceSpan } from '../../ports.ts';
import type { OtlpProtocol } from './config.ts';

export interface OtelTracerOptions {
  /** Where spans go: `createOtlpExporter`'s exporter for the configured protocol (tests pass an in-memory one). */
  readonly exporter: SpanExporter;
  /** @default the `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` environment variables, else parent-based always-on */
  readonly sampler?: Sampler;
  /** `service.name`, unless `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) says otherwise. @default 'junction' */
  readonly serviceName?: string;
  /** The batch processor's queue and timing. @default the `OTEL_BSP_*` variables, else 2048 spans, 512 per export */
  readonly batch?: BufferConfig;
  /** How long `flush()` and `close()` wait for the exporter at most. @default 5000 */
  readonly flushTimeoutMs?: number;
}

/** `createOtlpExporter`'s settings. */
export interface OtlpExporterOptions {
  /** OTLP/HTTP: the traces URL (`http://localhost:4318/v1/traces`); OTLP/gRPC: the collector's URL. */
  readonly url: string;
  readonly protocol: OtlpProtocol;
  /** Headers sent with each export (besides `OTEL_EXPORTER_OTLP_HEADERS`, which the exporter reads itself). */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long one export request may take before it is abandoned. @default 10000 */
  readonly timeoutMillis?: number;
}

const KINDS: Record<SpanKind, OtelSpanKind> = {
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
  internal: OtelSpanKind.INTERNAL,
};

function attributesOf(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (attributes === undefined) return out;
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    out[key] = Array.isArray(value)
      ? [...(value as readonly string[])]
      : (value as string | number | boolean);
  }
  return out;
}

/** The OpenTelemetry context whose (remote) span is the one `parent` names. */
function contextOf(parent: TraceContext | undefined): Context {
  const parsed = parent === undefined ? undefined : parseTraceparent(parent.traceparent);
  if (parent === undefined || parsed === undefined) return ROOT_CONTEXT;
  let traceState: TraceState | undefined;
  if (parent.tracestate !== undefined) {
    try {
      traceState = new TraceState(parent.tracestate);
    } catch {
      traceState = undefined;
    }
  }
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parsed.traceId,
    spanId: parsed.spanId,
    traceFlags: parsed.flags & 0x01,
    isRemote: true,
    ...(traceState === undefined ? {} : { traceState }),
  });
}

/** Resolves after `ms` at most, whatever `work` does (and never rejects). */
async function bounded(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  await Promise.race([
    work.then(
      () => undefined,
      () => undefined,
    ),
    deadline,
  ]);
  clearTimeout(timer);
}

/**
 * An OTLP span exporter of the OpenTelemetry JS SDK for `protocol`: `http/json` (exporter-trace-otlp-http),
 * `http/protobuf` (exporter-trace-otlp-proto) or `grpc` (exporter-trace-otlp-grpc, whose channel is insecure for an
 * `http:` URL and TLS for `https:`). Only the one asked for is loaded. Each reads `OTEL_EXPORTER_OTLP_HEADERS` (and
 * the other standard variables it knows) itself; `headers` adds to them over OTLP/HTTP only.
 */
export async function createOtlpExporter(options: OtlpExporterOptions): Promise<SpanExporter> {
  const timeoutMillis = options.timeoutMillis ?? 10_000;
  const http = {
    url: options.url,
    ...(options.headers === undefined ? {} : { headers: { ...options.headers } }),
    timeoutMillis,
  };
  switch (options.protocol) {
    case 'http/json':
      return new OTLPTraceExporter(http);
    case 'http/protobuf': {
      const { OTLPTraceExporter: ProtoExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
      return new ProtoExporter(http);
    }
    case 'grpc': {
      if (options.headers !== undefined)
        throw new Error('headers are not supported over OTLP/gRPC here: set OTEL_EXPORTER_OTLP_HEADERS');
      const { OTLPTraceExporter: GrpcExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
      return new GrpcExporter({ url: options.url, timeoutMillis });
    }
  }
}

/** A `Tracer` exporting over OTLP with the OpenTelemetry SDK. */
export function createOtelTracer(options: OtelTracerOptions): Tracer {
  const { exporter } = options;
  // Junction's name, then what the environment says (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) over it.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName ?? 'junction' }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporter, options.batch)],
    ...(options.sampler === undefined ? {} : { sampler: options.sampler }),
  });
  const tracer = provider.getTracer('junction');
  const flushTimeoutMs = options.flushTimeoutMs ?? 5_000;
  let closed: Promise<void> | undefined;

  return {
    enabled: true,
    startSpan(name: string, spanOptions: SpanOptions): TraceSpan {
      const span = tracer.startSpan(
        name,
        {
          kind: KINDS[spanOptions.kind],
          attributes: attributesOf(spanOptions.attributes),
          ...(spanOptions.startTime === undefined ? {} : { startTime: spanOptions.startTime }),
        },
        contextOf(spanOptions.parent),
      );
      const sc = span.spanContext();
      const tracestate = sc.traceState?.serialize();
      const context: TraceContext = {
        traceparent: formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags),
        ...(tracestate === undefined || tracestate === '' ? {} : { tracestate }),
      };
      return {
        context,
        setAttributes: (attributes) => {
          span.setAttributes(attributesOf(attributes));
        },
        addEvent: (eventName, attributes) => {
          span.addEvent(eventName, attributesOf(attributes));
        },
        setError: (message) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message });
        },
        end: (endTime) => {
          span.end(endTime);
        },
      };
    },
    flush: () => bounded(provider.forceFlush(), flushTimeoutMs),
    close() {
      closed ??= bounded(provider.shutdown(), flushTimeoutMs);
      return closed;
    },
  };
}
