/**
 * OpenTelemetry tracing: the `Tracer` port over the OTel SDK and OTLP/HTTP (`tracer.ts`), and its configuration.
 * The SDK is loaded only when tracing is on.
 */
import { noopTracer, type Tracer } from '../../ports.ts';
import { type OtlpTarget, otlpTarget } from './config.ts';
import type { OtelTracerOptions, OtlpExporterOptions } from './tracer.ts';

export { OTLP_PROTOCOLS, type OtlpProtocol, type OtlpTarget, otlpTarget } from './config.ts';
export type { OtelTracerOptions, OtlpExporterOptions } from './tracer.ts';

/** What the tracer and its exporter take besides the target (tests tune them; the servers use the defaults). */
export type TracerSettings = Omit<OtelTracerOptions, 'exporter'> &
  Pick<OtlpExporterOptions, 'headers' | 'timeoutMillis'>;

/**
 * The tracer a server runs with: OpenTelemetry exporting to the configured OTLP endpoint (see `otlpTarget`), else
 * the no-op tracer (tracing off: no spans, events unchanged, the SDK not even loaded).
 */
export async function tracerFromConfig(
  otlpEndpoint: string | undefined,
  options: TracerSettings = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
  otlpProtocol?: string,
): Promise<Tracer> {
  const target = otlpTarget(otlpEndpoint, env, otlpProtocol);
  if (target === undefined) return noopTracer;
  return tracerFor(target, options);
}

/** The OpenTelemetry tracer exporting to `target` (its protocol's exporter, loaded only now). */
export async function tracerFor(target: OtlpTarget, options: TracerSettings = {}): Promise<Tracer> {
  const { createOtelTracer, createOtlpExporter } = await import('./tracer.ts');
  const { headers, timeoutMillis, ...tracer } = options;
  const exporter = await createOtlpExporter({
    url: target.url,
    protocol: target.protocol,
    ...(headers === undefined ? {} : { headers }),
    ...(timeoutMillis === undefined ? {} : { timeoutMillis }),
  });
  return createOtelTracer({ ...tracer, exporter });
}
