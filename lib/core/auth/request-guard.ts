/**
 * Checks every request before it is routed, against the browser threats of a bus on a developer's machine: DNS
 * rebinding (the `Host` allow-list), web pages calling the API (the `Origin` allow-list) and cross-site requests a
 * browser sends without a CORS preflight (CSRF). Pure: headers in, an error or undefined out.
 */
import { JunctionError } from '../errors.ts';

export interface RequestGuardOptions {
  /** The port the bus listens on (loopback names are accepted with it). */
  readonly port: number;
  /** Whether the bus serves HTTPS (a Host without a port means 443, else 80). @default false */
  readonly tls?: boolean;
  /**
   * More names a request's `Host` may carry (e.g. `bus.example.com` behind a reverse proxy, or the address the
   * bus listens on). An entry without a port matches any port. @default [] (loopback names with the port only)
   */
  readonly allowedHosts?: readonly string[];
  /** Origins (`https://console.example.com`) whose pages may call the API. @default [] */
  readonly allowedOrigins?: readonly string[];
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Content types a page can send cross-site without a preflight (the fetch spec's CORS-safelisted ones). */
const SIMPLE_TYPES = ['text/plain', 'multipart/form-data', 'application/x-www-form-urlencoded'];

/** Headers a page cannot send cross-site without a preflight (which the bus grants to allowed origins only). */
const PREFLIGHTED_HEADERS = ['authorization', 'x-api-key', 'ce-specversion', 'x-amz-target'];

function first(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Splits `name[:port]` (IPv6 in brackets) into a lower-case name without a trailing dot, and the port. */
export function splitHost(host: string): { name: string; port: string | undefined } {
  const lower = host.trim().toLowerCase();
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(lower);
  if (match === null) return { name: lower, port: undefined };
  return { name: (match[1] as string).replace(/\.$/, ''), port: match[2] };
}

/** Whether `name` is a loopback address or `localhost` (the bus may run open only there). */
export function isLoopback(name: string): boolean {
  const bare = name.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/** 421 unless the request's Host (or HTTP/2 `:authority`) names this bus. */
export function checkHost(headers: Headers, options: RequestGuardOptions): JunctionError | undefined {
  const raw = first(headers, 'host') ?? first(headers, ':authority');
  if (raw === undefined || raw === '') {
    return new JunctionError('MisdirectedRequest', 'the request has no Host header', { field: 'host' });
  }
  const { name, port } = splitHost(raw);
  const effectivePort = port ?? (options.tls ? '443' : '80');
  const ok =
    (LOOPBACK_NAMES.includes(name) && effectivePort === String(options.port)) ||
    (options.allowedHosts ?? []).some((entry) => {
      const allowed = splitHost(entry);
      return allowed.name === name && (allowed.port === undefined || allowed.port === effectivePort);
    });
  if (ok) return undefined;
  return new JunctionError(
    'MisdirectedRequest',
    `this bus does not serve the host ${JSON.stringify(raw.slice(0, 100))}; add it to the allowed hosts (--allowed-host) if it is a name of this bus`,
    { field: 'host' },
  );
}

/**
 * Whether `origin` is the bus's own: the scheme it serves and the request's own `Host` (which `checkHost` has
 * allowed). Browsers send `Origin` on a same-origin POST/PUT/DELETE too, so the console the bus serves (/console)
 * calls the API with its own origin; a page elsewhere (or a rebound name, refused by `checkHost`) cannot.
 */
function ownOrigin(origin: string, headers: Headers, options: RequestGuardOptions): boolean {
  const host = first(headers, 'host') ?? first(headers, ':authority');
  if (host === undefined || host === '') return false;
  return origin.toLowerCase() === `${options.tls ? 'https' : 'http'}://${host.trim().toLowerCase()}`;
}

/**
 * 403 when an `Origin` header is present and not allowed (a web page is calling the API); the bus's own origin (its
 * console, same scheme and Host) is allowed.
 */
export function checkOrigin(headers: Headers, options: RequestGuardOptions): JunctionError | undefined {
  const origin = first(headers, 'origin');
  if (origin === undefined) return undefined;
  if ((options.allowedOrigins ?? []).includes(origin) || ownOrigin(origin, headers, options))
    return undefined;
  return new JunctionError(
    'Forbidden',
    `requests from web pages of origin ${JSON.stringify(origin.slice(0, 100))} are not allowed; add it to the allowed origins (--allowed-origin) to allow them`,
    { field: 'origin' },
  );
}

/** Whether the origin may call the API from a page (CORS answers are given to these only). */
export function originAllowed(headers: Headers, options: RequestGuardOptions): string | undefined {
  const origin = first(headers, 'origin');
  return origin !== undefined && (options.allowedOrigins ?? []).includes(origin) ? origin : undefined;
}

/**
 * 403 for a state-changing request a cross-site form or fetch can send without a CORS preflight: a POST (the only
 * state-changing method a page can send without one) with no content type, `text/plain`, `multipart/form-data` or
 * `application/x-www-form-urlencoded` — unless it carries a header no page can send cross-site without a preflight
 * (authorization, x-api-key, ce-specversion, x-amz-target). PUT and DELETE are always preflighted by browsers, and
 * the bus answers preflights for allowed origins only, so their content type is not what stops a web page.
 */
export function checkCrossSite(method: string, headers: Headers): JunctionError | undefined {
  if (method !== 'POST') return undefined;
  const type = first(headers, 'content-type');
  const essence = type?.split(';')[0]?.trim().toLowerCase();
  const simple = essence === undefined || SIMPLE_TYPES.includes(essence);
  if (!simple) return undefined;
  if (PREFLIGHTED_HEADERS.some((name) => headers[name] !== undefined)) return undefined;
  return new JunctionError(
    'Forbidden',
    `a ${method} with ${type === undefined ? 'no content type' : `content type ${essence}`} could come from any web page (CSRF); send application/json (or the content type of the call) or an authorization header`,
    { field: 'content-type' },
  );
}
