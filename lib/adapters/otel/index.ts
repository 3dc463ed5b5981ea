/**
 * OpenTelemetry tracing: the `Tracer` port over the OTel SDK and OTLP/HTTP (`tracer.ts`), and its configuration.
 * The SDK is loaded only when tracing is on.
 */
import { noopTracer, type Tracer } from '../../ports.ts';
import { otlpTarget } from './config.ts';
import type { OtelTracerOptions } from './tracer.ts';

export { type OtlpTarget, otlpTarget } from './config.ts';
export type { OtelTracerOptions } from './tracer.ts';

/**
 * The tracer a server runs with: OpenTelemetry exporting to the configured OTLP endpoint (see `otlpTarget`), else
 * the no-op tracer (tracing off: no spans, events unchanged, the SDK not even loaded).
 */
export async function tracerFromConfig(
  otlpEndpoint: string | undefined,
  options: Omit<OtelTracerOptions, 'url'> = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<Tracer> {
  const target = otlpTarget(otlpEndpoint, env);
  if (target === undefined) return noopTracer;
  const { createOtelTracer } = await import('./tracer.ts');
  return createOtelTracer({ ...options, url: target.url });
}
