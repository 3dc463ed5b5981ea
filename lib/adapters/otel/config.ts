/**
 * Whether and where spans are exported, from the server's option and the environment. Tracing is off unless an OTLP
 * endpoint is named; `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` turn it off whatever is named.
 */
import { JunctionError } from '../../core/errors.ts';

/**
 * The OTLP transports and encodings an exporter can use (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`): OTLP/HTTP with
 * JSON or protobuf bodies, or OTLP/gRPC.
 */
export const OTLP_PROTOCOLS = ['http/json', 'http/protobuf', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** Whether `value` names one of `OTLP_PROTOCOLS` (as written: callers trim or lower-case first where they allow it). */
export function isOtlpProtocol(value: string): value is OtlpProtocol {
  return (OTLP_PROTOCOLS as readonly string[]).includes(value);
}

/** Where the traces go, how, and which setting said so (for messages). */
export interface OtlpTarget {
  /** OTLP/HTTP: the full traces URL (`…/v1/traces`). OTLP/gRPC: the collector's URL (`http://host:4317`). */
  readonly url: string;
  /** The option or variable it came from. */
  readonly from: string;
  /** @default 'http/json' */
  readonly protocol: OtlpProtocol;
}

type Env = Readonly<Record<string, string | undefined>>;

/** A base endpoint (`http://collector:4318`) as its traces URL; a URL that already ends in `/v1/traces` stays. */
function tracesUrl(base: string): string {
  const trimmed = base.replace(/\/+$/, '');
  return trimmed.endsWith('/v1/traces') ? trimmed : `${trimmed}/v1/traces`;
}

function checked(url: string, from: string, protocol: OtlpProtocol): OtlpTarget {
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
  return { url, from, protocol };
}

/**
 * The protocol, in this order: the `otlpProtocol` option (`--otlp-protocol`), `JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL`,
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_PROTOCOL`; else `http/json` (what Junction has always
 * sent; the specification's default for SDKs is `http/protobuf`, and OTLP/HTTP receivers take both).
 */
function protocolOf(option: string | undefined, env: Env): OtlpProtocol {
  const settings: Array<[string, string | undefined]> = [
    ['otlpProtocol', option],
    ['JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL', env.JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL],
    ['OTEL_EXPORTER_OTLP_PROTOCOL', env.OTEL_EXPORTER_OTLP_PROTOCOL],
  ];
  for (const [from, value] of settings) {
    if (value === undefined || value.trim() === '') continue;
    const protocol = value.trim().toLowerCase();
    if (isOtlpProtocol(protocol)) return protocol;
    throw new JunctionError(
      'InvalidRequest',
      `${from} must be one of ${OTLP_PROTOCOLS.join(', ')}, got ${JSON.stringify(value.slice(0, 64))}`,
      { field: from },
    );
  }
  return 'http/json';
}

/**
 * The OTLP traces endpoint, in this order: the `otlpEndpoint` option (`--otlp-endpoint`) and
 * `JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT` (base URLs), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, used as it
 * is), `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL); and the protocol (`protocolOf`). Over OTLP/HTTP a base URL gets
 * `/v1/traces`; over gRPC every URL is the collector's as it is. Undefined: tracing is off. Throws `InvalidRequest`
 * naming the setting when its value is not an http(s) URL or not a protocol.
 */
export function otlpTarget(
  option: string | undefined,
  env: Env = process.env,
  protocolOption?: string,
): OtlpTarget | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return undefined;
  const set = (value: string | undefined) => value !== undefined && value.trim() !== '';
  const endpoint = (): [string, string, boolean] | undefined => {
    if (set(option)) return [(option as string).trim(), 'otlpEndpoint', true];
    const junction = env.JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT;
    if (set(junction)) return [(junction as string).trim(), 'JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT', true];
    const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    if (set(traces)) return [(traces as string).trim(), 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', false];
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    if (set(base)) return [(base as string).trim(), 'OTEL_EXPORTER_OTLP_ENDPOINT', true];
    return undefined;
  };
  const found = endpoint();
  if (found === undefined) return undefined;
  const [url, from, isBase] = found;
  const protocol = protocolOf(protocolOption, env);
  // Checked as the setting has it (a refusal quotes what the user wrote), then made the traces URL.
  checked(url, from, protocol);
  return { url: isBase && protocol !== 'grpc' ? tracesUrl(url) : url, from, protocol };
}
