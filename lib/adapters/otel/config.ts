/**
 * Whether and where spans are exported, from the server's option and the environment. Tracing is off unless an OTLP
 * endpoint is named; `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` turn it off whatever is named.
 */
import { JunctionError } from '../../core/errors.ts';

/** Where the OTLP/HTTP traces go, and which setting said so (for messages). */
export interface OtlpTarget {
  /** The full traces URL (`…/v1/traces`). */
  readonly url: string;
  /** The option or variable it came from. */
  readonly from: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A base endpoint (`http://collector:4318`) as its traces URL; a URL that already ends in `/v1/traces` stays. */
function tracesUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

function checked(url: string, from: string): OtlpTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new JunctionError('InvalidRequest', `${from} must be an http(s) URL, got ${JSON.stringify(url)}`, {
      field: from,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new JunctionError('InvalidRequest', `${from} must be an http(s) URL, got ${JSON.stringify(url)}`, {
      field: from,
    });
  }
  return { url, from };
}

/**
 * The OTLP/HTTP traces endpoint, in this order: the `otlpEndpoint` option (`--otlp-endpoint`) and
 * `JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT` (base URLs: `/v1/traces` is added), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
 * (the full URL, used as it is), `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL). Undefined: tracing is off. Throws
 * `InvalidRequest` naming the setting when its value is not an http(s) URL.
 */
export function otlpTarget(option: string | undefined, env: Env = process.env): OtlpTarget | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const set = (value: string | undefined) => value !== undefined && value.trim() !== '';
  if (set(option)) return checked(tracesUrl((option as string).trim()), 'otlpEndpoint');
  const junction = env.JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT;
  if (set(junction)) {
    return checked(tracesUrl((junction as string).trim()), 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT');
  }
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (set(traces)) return checked((traces as string).trim(), 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (set(base)) return checked(tracesUrl((base as string).trim()), 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return undefined;
}
