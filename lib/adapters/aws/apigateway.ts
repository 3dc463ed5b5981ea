/**
 * API Gateway proxy events (HTTP API payload 2.0, REST API payload 1.0) to the app's `ApiRequest`, and its
 * `ApiResponse` back to the proxy result. The app itself is the one the local server runs.
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 * @see https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
 */
import { Buffer } from 'node:buffer';
import { JunctionError } from '../../core/errors.ts';
import { isObject } from '../../core/values.ts';
import type { ApiRequest, ApiResponse } from '../../server/app.ts';

/** The fields of an HTTP API (payload format 2.0) event this adapter reads. */
export interface HttpApiEventV2 {
  readonly version: '2.0';
  readonly rawPath: string;
  readonly rawQueryString?: string;
  readonly cookies?: readonly string[];
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: {
    readonly stage?: string;
    readonly domainName?: string;
    readonly http: { readonly method: string; readonly path?: string };
  };
}

/** The fields of a REST API (payload format 1.0) proxy event this adapter reads. */
export interface RestApiEventV1 {
  readonly version?: '1.0';
  readonly httpMethod: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[] | undefined>> | null;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>> | null;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[] | undefined>> | null;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly stage?: string; readonly path?: string };
}

export type ApiGatewayEvent = HttpApiEventV2 | RestApiEventV1;

/** The proxy result both payload formats accept. */
export interface ApiGatewayResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded: boolean;
  /** Payload 2.0 only: `Set-Cookie` values. */
  readonly cookies?: string[];
}

export type ApiGatewayVersion = '1.0' | '2.0';

function badEvent(message: string, field: string): JunctionError {
  return new JunctionError('InvalidRequest', `API Gateway event: ${message}`, { field });
}

/** The payload format of an API Gateway proxy event. */
export function apiGatewayVersion(event: unknown): ApiGatewayVersion {
  if (isObject(event) && event.version === '2.0' && typeof event.rawPath === 'string') return '2.0';
  if (isObject(event) && typeof event.httpMethod === 'string' && typeof event.path === 'string') return '1.0';
  throw badEvent(
    'neither payload format 2.0 (version "2.0" with rawPath) nor 1.0 (httpMethod with path)',
    'version',
  );
}

function bodyBytes(body: unknown, base64: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body !== 'string') throw badEvent(`body must be a string, got ${typeof body}`, 'body');
  return base64 === true ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

/**
 * HTTP APIs hand the path over percent-decoded (`rawPath` despite its name), so each segment is encoded again
 * for the app, which decodes segments itself. A `/` that was sent as `%2F` cannot be told apart any more.
 */
function encodeDecodedPath(path: string): string {
  return path
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
}

function withoutStage(path: string, stage: unknown): string {
  if (typeof stage !== 'string' || stage === '' || stage === '$default') return path;
  const prefix = `/${stage}`;
  if (path === prefix) return '/';
  return path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
}

function lowerCaseHeaders(
  single: Readonly<Record<string, string | undefined>> | null | undefined,
  multi: Readonly<Record<string, readonly string[] | undefined>> | null | undefined,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (isObject(multi)) {
    for (const [name, values] of Object.entries(multi)) {
      if (Array.isArray(values) && values.length > 0) {
        out[name.toLowerCase()] = values.length === 1 ? String(values[0]) : values.map(String);
      }
    }
  }
  if (isObject(single)) {
    for (const [name, value] of Object.entries(single)) {
      const key = name.toLowerCase();
      if (typeof value === 'string' && out[key] === undefined) out[key] = value;
    }
  }
  return out;
}

/** An API Gateway proxy event (either payload format) as the app's request. Throws `InvalidRequest` otherwise. */
export function fromApiGatewayEvent(event: unknown): ApiRequest {
  const version = apiGatewayVersion(event);
  if (version === '2.0') {
    const e = event as HttpApiEventV2;
    const method = e.requestContext?.http?.method;
    if (typeof method !== 'string') throw badEvent('requestContext.http.method is missing', 'requestContext');
    // Lambda function URLs send the path as it came; HTTP APIs decode it.
    const functionUrl =
      typeof e.requestContext.domainName === 'string' && e.requestContext.domainName.includes('.lambda-url.');
    const raw = withoutStage(e.rawPath, e.requestContext.stage);
    const headers: Record<string, string | string[]> = lowerCaseHeaders(e.headers, undefined);
    if (Array.isArray(e.cookies) && e.cookies.length > 0) headers.cookie = e.cookies.join('; ');
    return {
      method: method.toUpperCase(),
      path: functionUrl ? raw : encodeDecodedPath(raw),
      query: new URLSearchParams(e.rawQueryString ?? ''),
      headers,
      body: bodyBytes(e.body, e.isBase64Encoded),
    };
  }
  const e = event as RestApiEventV1;
  const query = new URLSearchParams();
  if (isObject(e.multiValueQueryStringParameters)) {
    for (const [name, values] of Object.entries(e.multiValueQueryStringParameters)) {
      for (const value of values ?? []) query.append(name, value);
    }
  } else if (isObject(e.queryStringParameters)) {
    for (const [name, value] of Object.entries(e.queryStringParameters)) {
      if (value !== undefined) query.append(name, value);
    }
  }
  return {
    method: e.httpMethod.toUpperCase(),
    // REST APIs keep the path as sent (percent-encoded) and without the stage.
    path: e.path,
    query,
    headers: lowerCaseHeaders(e.headers, e.multiValueHeaders),
    body: bodyBytes(e.body, e.isBase64Encoded),
  };
}

const TEXTUAL =
  /^(text\/|application\/([a-z0-9.+-]*\+)?(json|xml|x-amz-json-1\.[01]|javascript|x-www-form-urlencoded)\b)/i;

/** The app's response as a proxy result: text bodies as they are, anything else base64. */
export function toApiGatewayResult(
  response: ApiResponse,
  version: ApiGatewayVersion = '2.0',
): ApiGatewayResult {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(response.headers)) {
    if (version === '2.0' && name.toLowerCase() === 'set-cookie') cookies.push(value);
    else headers[name] = value;
  }
  const contentType = Object.entries(response.headers).find(([n]) => n.toLowerCase() === 'content-type')?.[1];
  const text = typeof response.body === 'string' || (contentType !== undefined && TEXTUAL.test(contentType));
  const body =
    typeof response.body === 'string'
      ? response.body
      : text
        ? Buffer.from(response.body).toString('utf8')
        : Buffer.from(response.body).toString('base64');
  return {
    statusCode: response.status,
    headers,
    body,
    isBase64Encoded: !text,
    ...(cookies.length === 0 ? {} : { cookies }),
  };
}
