/**
 * The HTTP API of CONTRACT.md as a transport-agnostic handler: `ApiRequest → ApiResponse`. The local server
 * (node:http) and the Lambda handlers (API Gateway events) only translate to and from these shapes.
 */

import type { Need, Principal } from '../core/auth/scopes.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { DEFAULT_INGEST_LIMITS, type IngestLimits, parseHttpRequest } from '../core/codec/http.ts';
import { memberText } from '../core/codec/json-select.ts';
import { invalidRequest, JunctionError, toJunctionError } from '../core/errors.ts';
import {
  awsErrorBody,
  mapPutEventsRequest,
  mapTestEventPatternRequest,
  putEventsResponse,
  testEventPatternResponse,
} from '../core/eventbridge.ts';
import { checkEventDepth } from '../core/pattern/limits.ts';
import { readTraceContext, type TraceContext } from '../core/trace-context.ts';
import type { Connectors } from '../engine/connectors.ts';
import type { SchemaDiscovery } from '../engine/discovery.ts';
import { MAX_EVENT_SEARCH_LIMIT } from '../engine/event-search.ts';
import { type Junction, MAX_LIST } from '../engine/junction.ts';
import type { Schemas } from '../engine/schemas.ts';
import type { DeadLetterFilter, FunctionConfig } from '../ports.ts';
import { bodyText, readJsonBody } from './body.ts';
import { createEventBridgeApi } from './eventbridge-api.ts';
import type { Extensions } from './extensions.ts';

export interface ApiRequest {
  readonly method: string;
  /** The path as sent (percent-encoded), e.g. `/events/order%2F1/trace`; each segment is decoded. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Uint8Array;
  /** Set by the auth layer for publishers limited to a source prefix: an error refuses that event (403). */
  readonly allowSource?: (source: string, bus: string) => JunctionError | undefined;
  /** Set by the auth layer: whether the caller may make a call that needs `need` on `bus` (lists filter with it). */
  readonly may?: (need: Need, bus: string) => boolean;
  /**
   * Set by the auth layer with `may`: who calls and what the call needs, as data (a bus in a process of its own gets
   * them with the request and derives `may` and `allowSource` from them again).
   */
  readonly caller?: { readonly principal: Principal; readonly need: Need };
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array;
  /**
   * A response that goes on after `body` (server-sent events: `GET /events/tail`): the chunks are written as they
   * come, until the stream ends or the signal aborts (the client went away, the server closes). Only the embedded
   * server streams; transports that answer once (API Gateway, MQTT) are never handed one.
   */
  readonly stream?: (signal: AbortSignal) => AsyncIterable<string>;
}

/**
 * The response as one body, for transports that answer once (API Gateway and Lambda): a streamed response's chunks
 * for at most `windowMs`, then the stream is ended (a live tail ends with its cursor, so the client goes on from it
 * with `Last-Event-ID`: a long poll). Other responses as they are.
 */
export async function answeredOnce(response: ApiResponse, windowMs: number): Promise<ApiResponse> {
  const stream = response.stream;
  if (stream === undefined) return response;
  let body = typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body);
  for await (const chunk of stream(AbortSignal.timeout(windowMs))) body += chunk;
  return { status: response.status, headers: response.headers, body };
}

export interface AppOptions {
  readonly junction: Junction;
  /** The bus this API serves (EventBridge's `EventBusName` must name it). @default 'default' */
  readonly busName?: string;
  /** Whether the bus `to` accepts events forwarded by the rules of the bus `from` (its `acceptFrom`). @default no */
  readonly busAccepts?: (from: string, to: string) => boolean;
  readonly limits?: Partial<IngestLimits>;
  /** Optional features served beside the core API (replay, simulation). */
  readonly extensions?: Extensions;
  /** The bus's source connectors (`/connectors`); absent, those paths answer 404. */
  readonly connectors?: Connectors;
  /**
   * The bus's schema registry (`/schemas`); absent, those paths answer 404. The engine enforces it: give the same
   * registry to the `Junction` (`JunctionOptions.schemas`).
   */
  readonly schemas?: Schemas;
  /** Schema discovery (`/schemas/discovered`); the engine feeds it (`JunctionOptions.discovery`). */
  readonly discovery?: SchemaDiscovery;
  /** Called with unexpected errors (500s). */
  readonly onError?: (error: unknown) => void;
}

export type App = (request: ApiRequest) => Promise<ApiResponse>;

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * Largest request body of `POST /patterns/test` and `AWSEvents.TestEventPattern` (256 KiB, EventBridge's own
 * PutEvents/TestEventPattern size): matching an arbitrary pattern against an arbitrary event runs on the event
 * loop, so these bodies are capped well under the ingest limits.
 */
export const PATTERN_TEST_MAX_BODY_BYTES = 256 * 1024;

/** Throws `PayloadTooLarge` (413) when a pattern-testing request's body is over `PATTERN_TEST_MAX_BODY_BYTES`. */
function capPatternTestBody(request: ApiRequest, what: string): void {
  if (request.body.length > PATTERN_TEST_MAX_BODY_BYTES) {
    throw new JunctionError(
      'PayloadTooLarge',
      `the ${what} body is ${request.body.length} bytes, more than the limit of ${PATTERN_TEST_MAX_BODY_BYTES}`,
      { field: 'body', details: { size: request.body.length, limit: PATTERN_TEST_MAX_BODY_BYTES } },
    );
  }
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/**
 * A JSON answer holding rules: each rule's `pattern` is written as its `patternText` (the client's own text: number
 * lexemes and repeated keys that the parsed value lost), and `patternText` itself is not shown.
 */
function rulesJson(status: number, value: unknown): ApiResponse {
  const texts: string[] = [];
  const mark = `\u0000${crypto.randomUUID()}:`;
  const body = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const text = (v as { patternText?: unknown }).patternText;
    if (typeof text !== 'string') return v;
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (k === 'pattern') {
        out.pattern = `${mark}${texts.length}`;
        texts.push(text);
      } else if (k !== 'patternText') out[k] = item;
    }
    return out;
  });
  const marked = JSON.stringify(mark).slice(1, -1);
  return {
    status,
    headers: JSON_TYPE,
    body:
      texts.length === 0
        ? body
        : body
            .split(`"${marked}`)
            .map((part, i) => {
              if (i === 0) return part;
              const end = part.indexOf('"');
              return `${texts[Number(part.slice(0, end))]}${part.slice(end + 1)}`;
            })
            .join(''),
  };
}

function errorResponse(error: JunctionError): ApiResponse {
  const headers: Record<string, string> = {};
  if (error.code === 'RateLimited' || error.code === 'BufferUnavailable') {
    headers['retry-after'] = String(error.details?.retryAfterSeconds ?? 1);
  }
  // RFC 9110 §15.5.6: a 405 says which methods the resource does allow.
  const allow = error.details?.allow;
  if (error.code === 'MethodNotAllowed' && Array.isArray(allow)) headers.allow = allow.join(', ');
  return json(error.status, error.toJSON(), headers);
}

export { MAX_BODY_DEPTH } from './body.ts';

/**
 * A rule body with `patternText`: the exact text of its `pattern` member (number lexemes and repeated keys that the
 * parsed body lost), so that matching reads the pattern as written. Whatever the client sent as `patternText` is
 * replaced.
 */
function withPatternText(request: ApiRequest, body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...body };
  delete out.patternText;
  if (out.pattern === undefined) return out;
  const text = memberText(bodyText(request.body), 'pattern');
  return text === undefined ? out : { ...out, patternText: text };
}

/**
 * A rule that forwards to another bus of the deployment publishes there: whoever puts it must be allowed to publish
 * on that bus, or that bus must accept the rule's bus (`acceptFrom`) — else a manager of one bus could feed any other
 * through a rule. Checked where the auth layer says who is calling (`request.may`); an open bus checks nothing.
 */
function checkBusTargets(
  request: ApiRequest,
  body: unknown,
  from: string,
  accepts: ((from: string, to: string) => boolean) | undefined,
): void {
  if (request.may === undefined || typeof body !== 'object' || body === null) return;
  const targets = (body as { targets?: unknown }).targets;
  if (!Array.isArray(targets)) return;
  targets.forEach((target: unknown, i) => {
    if (typeof target !== 'object' || target === null) return;
    const { type, bus } = target as { type?: unknown; bus?: unknown };
    if (type !== 'bus' || typeof bus !== 'string') return;
    if (!request.may?.('publish', bus) && !(accepts?.(from, bus) ?? false)) {
      throw new JunctionError(
        'Forbidden',
        `targets[${i}].bus: a rule of the bus ${from} may forward to the bus ${bus} only when its author may publish there or ${bus} lists ${from} in its acceptFrom`,
        { field: `targets[${i}].bus`, details: { needs: 'publish', bus } },
      );
    }
  });
}

function readJson(request: ApiRequest): unknown {
  return readJsonBody(request.body);
}

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The publish options of an ingest request: its W3C `traceparent`/`tracestate` headers as the parent of the events'
 * `ingest` spans (an event's own extension wins). A malformed header is ignored: the events start a new trace.
 */
function publishOptions(request: ApiRequest): { parent?: TraceContext } {
  const traceparent = header(request, 'traceparent');
  if (traceparent === undefined) return {};
  const parent = readTraceContext(traceparent, header(request, 'tracestate'));
  return parent === undefined ? {} : { parent };
}

function optionalInt(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw))
    throw invalidRequest(`query parameter ${name} must be a whole number, got "${raw}"`, name);
  return Number(raw);
}

/**
 * The `limit` query parameter of a list: a whole number from 1 to `max` (1,000 for every list), `fallback` when
 * absent. A larger one is refused rather than clipped, so a client never mistakes a clipped page for the whole.
 */
export function limitParam(query: URLSearchParams, fallback = 100, max = MAX_LIST): number {
  const limit = optionalInt(query, 'limit') ?? fallback;
  if (limit < 1 || limit > max) {
    throw invalidRequest(`query parameter limit must be from 1 to ${max}, got ${limit}`, 'limit');
  }
  return limit;
}

/** The largest time a JavaScript Date holds, in ms either side of the epoch. */
const MAX_TIME = 8.64e15;

/** Accepts epoch ms (within a Date's range) or an RFC 3339 time. */
export function parseTime(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_TIME) return value;
  if (typeof value === 'string') {
    if (/^\d{1,15}$/.test(value)) return Number(value);
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t;
  }
  throw invalidRequest(
    `${field} must be an RFC 3339 time or epoch milliseconds, got ${JSON.stringify(value)}`,
    field,
  );
}

/** The body of a redrive or a delete of dead letters: a JSON object (empty when no body; the engine checks its fields). */
function letterSelection(request: ApiRequest): Record<string, unknown> {
  const body = request.body.length === 0 ? {} : readJson(request);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('the body must be {"all": true}, {"rule": "name"} or {"ids": [...]}');
  }
  return body as Record<string, unknown>;
}

function segments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw invalidRequest(`the path segment "${s}" is not valid percent-encoding`);
      }
    });
}

export function createApp(options: AppOptions): App {
  const { junction } = options;
  const busName = options.busName ?? 'default';
  const limits: IngestLimits = { ...DEFAULT_INGEST_LIMITS, ...options.limits };
  const eventBridge = createEventBridgeApi(options);
  junction.metrics.declare(
    'junction_events_rejected_total',
    'counter',
    'Events (or whole requests) POST /events refused, by error code (RateLimited is a 429).',
  );
  const rejected = (code: string, by = 1) =>
    junction.metrics.inc('junction_events_rejected_total', { code }, by);
  /** The quotas, then the schemas (the engine's gate): per event, undefined or the refusal. */
  const admit = (events: readonly CloudEvent[]): Array<JunctionError | undefined> => junction.admit(events);

  /** POST /events, counting what it refuses by error code (a bounded set). */
  async function ingest(request: ApiRequest): Promise<ApiResponse> {
    try {
      return await ingestEvents(request, rejected);
    } catch (error) {
      rejected(toJunctionError(error).code);
      throw error;
    }
  }

  async function ingestEvents(request: ApiRequest, reject: (code: string) => void): Promise<ApiResponse> {
    const parsed = parseHttpRequest(request.headers, request.body, limits);
    if (parsed.mode !== 'batch') {
      const denied = request.allowSource?.(parsed.event.source, busName);
      if (denied) throw denied;
      const [limited] = admit([parsed.event]);
      if (limited) throw limited;
      const [result] = await junction.publish([parsed.event], publishOptions(request));
      return json(202, { id: parsed.event.id, duplicate: result?.duplicate ?? false });
    }
    // Plain loops and a refusal per entry index: the flatMaps and Maps by event this replaced were ≈ 2% of batch ingest.
    const refusals: Array<JunctionError | undefined> = new Array(parsed.entries.length);
    const valid: CloudEvent[] = [];
    const validAt: number[] = [];
    for (const [i, e] of parsed.entries.entries()) {
      if (!e.ok) continue;
      const denied = request.allowSource?.(e.event.source, busName);
      if (denied) refusals[i] = denied;
      else {
        valid.push(e.event);
        validAt.push(i);
      }
    }
    const verdicts = admit(valid);
    for (let k = 0; k < validAt.length; k++) {
      const verdict = verdicts[k];
      if (verdict) refusals[validAt[k] as number] = verdict;
    }
    const entries = parsed.entries.map((entry, i) => {
      const error = refusals[i];
      return error === undefined || !entry.ok ? entry : { ok: false as const, id: entry.event.id, error };
    });
    const accepted: CloudEvent[] = [];
    for (const entry of entries) {
      if (entry.ok) accepted.push(entry.event);
      else reject(entry.error.code);
    }
    const appended = await junction.publish(accepted, publishOptions(request));
    let next = 0;
    const results = entries.map((entry) => {
      if (!entry.ok) {
        const body = entry.error.toJSON().error;
        return entry.id === undefined ? { error: body } : { id: entry.id, error: body };
      }
      const result = appended[next++];
      return { id: entry.event.id, ...(result?.duplicate ? { duplicate: true } : {}) };
    });
    const duplicates = appended.filter((r) => r?.duplicate).length;
    return json(200, {
      accepted: accepted.length,
      duplicates,
      failed: entries.length - accepted.length,
      results,
    });
  }

  async function amz(request: ApiRequest): Promise<ApiResponse> {
    const target = header(request, 'x-amz-target');
    const awsJson = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() };
    try {
      if (target === 'AWSEvents.TestEventPattern') capPatternTestBody(request, 'TestEventPattern');
      const body = readJson(request);
      if (target === 'AWSEvents.PutEvents') {
        // The mapping mints time-ordered ids (UUID v7, its default; see `PutEventsOptions.newId`).
        const mapped = mapPutEventsRequest(body);
        const results: Array<{ eventId: string } | { errorCode: string; errorMessage: string }> = [];
        const valid = [];
        for (const entry of mapped.entries) {
          if (!entry.ok) {
            results.push({ errorCode: entry.errorCode, errorMessage: entry.errorMessage });
            continue;
          }
          const { event } = entry;
          const denied = request.allowSource?.(event.source, busName);
          if (denied) {
            results.push({ errorCode: 'AccessDeniedException', errorMessage: denied.message });
            continue;
          }
          const [limited] = admit([event]);
          if (limited) {
            const errorCode = limited.code === 'RateLimited' ? 'ThrottlingException' : limited.code;
            results.push({ errorCode, errorMessage: limited.message });
            continue;
          }
          results.push({ eventId: event.id });
          valid.push(event);
        }
        await junction.publish(valid, publishOptions(request));
        return json(200, putEventsResponse(results), awsJson);
      }
      if (target === 'AWSEvents.TestEventPattern') {
        const { pattern, event } = mapTestEventPatternRequest(body);
        return json(200, testEventPatternResponse(junction.testPattern({ pattern, event }).matches), awsJson);
      }
      const managed = target?.startsWith('AWSEvents.')
        ? await eventBridge(target.slice(10), body, request.may === undefined ? {} : { may: request.may })
        : undefined;
      if (managed !== undefined) return json(managed.status, managed.body, awsJson);
      return json(
        400,
        awsErrorBody('UnknownOperationException', `unsupported X-Amz-Target ${target}`),
        awsJson,
      );
    } catch (error) {
      const e = toJunctionError(error);
      if (e.status >= 500) throw e;
      if (e.code === 'PayloadTooLarge')
        return json(413, awsErrorBody('ValidationException', e.message), awsJson);
      const code =
        e.code === 'InvalidPattern'
          ? 'InvalidEventPatternException'
          : e.code === 'InvalidJson'
            ? 'SerializationException'
            : 'ValidationException';
      return json(400, awsErrorBody(code, e.message), awsJson);
    }
  }

  async function route(request: ApiRequest): Promise<ApiResponse> {
    const { method } = request;
    const parts = segments(request.path);
    const [head, second, third] = parts;
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) {
        throw new JunctionError(
          'MethodNotAllowed',
          `${method} is not allowed on ${request.path}; use ${methods.join(' or ')}`,
          { details: { allow: methods } },
        );
      }
    };
    if (parts.length === 0) {
      if (method === 'POST' && header(request, 'x-amz-target') !== undefined) return amz(request);
      allow('GET');
      return json(200, {
        name: 'junction',
        docs: 'https://github.com/junction-bus/junction#readme',
        health: '/healthz',
      });
    }
    switch (head) {
      case 'events':
        if (parts.length === 1) {
          const search = options.extensions?.events;
          if (search === undefined) allow('POST');
          else allow('GET', 'POST');
          if (method === 'POST') return ingest(request);
          const q = request.query;
          return json(
            200,
            await (search as NonNullable<typeof search>)({
              ...(q.get('source') ? { source: q.get('source') as string } : {}),
              ...(q.get('type') ? { type: q.get('type') as string } : {}),
              ...(q.get('id') ? { id: q.get('id') as string } : {}),
              ...(q.get('from') ? { from: parseTime(q.get('from'), 'from') } : {}),
              ...(q.get('to') ? { to: parseTime(q.get('to'), 'to') } : {}),
              limit: limitParam(q, 20, MAX_EVENT_SEARCH_LIMIT),
            }),
          );
        }
        if (parts.length === 2 && second === 'tail') {
          allow('GET');
          const tail = options.extensions?.tail;
          if (tail === undefined) {
            throw new JunctionError(
              'NotFound',
              'the live tail is served by the embedded bus only: it needs a long-lived connection (server-sent events), which API Gateway and Lambda do not keep; search with GET /events instead',
            );
          }
          const q = request.query;
          const cursor = header(request, 'last-event-id') ?? q.get('cursor') ?? undefined;
          const stream = tail({
            ...(q.get('pattern') === null ? {} : { pattern: q.get('pattern') as string }),
            ...(q.get('filter') === null ? {} : { filter: q.get('filter') as string }),
            ...(cursor === undefined || cursor === '' ? {} : { cursor }),
          });
          return {
            status: 200,
            headers: {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-store',
              'x-accel-buffering': 'no',
            },
            body: '',
            stream,
          };
        }
        if (parts.length === 3 && third === 'trace') {
          allow('GET');
          const follow = request.query.get('follow');
          if (follow !== null && follow !== 'true' && follow !== 'false') {
            throw invalidRequest(`query parameter follow must be true or false, got "${follow}"`, 'follow');
          }
          const source = request.query.get('source') ?? undefined;
          return json(
            200,
            follow === 'true'
              ? await junction.traceFollow(second as string, source)
              : await junction.trace(second as string, source),
          );
        }
        break;
      case 'rules':
        if (parts.length === 1) {
          allow('GET');
          return rulesJson(200, { rules: await junction.listRules() });
        }
        if (parts.length === 2) {
          const name = second as string;
          allow('GET', 'PUT', 'DELETE');
          if (method === 'GET') return rulesJson(200, await junction.getRule(name));
          if (method === 'DELETE') {
            await junction.deleteRule(name);
            return { status: 204, headers: {}, body: '' };
          }
          const body = readJson(request);
          checkBusTargets(request, body, busName, options.busAccepts);
          const { rule, created } = await junction.putRule(name, withPatternText(request, body));
          return rulesJson(created ? 201 : 200, rule);
        }
        if (parts.length === 3 && (third === 'enable' || third === 'disable')) {
          allow('POST');
          return rulesJson(200, await junction.setRuleEnabled(second as string, third === 'enable'));
        }
        if (parts.length === 3 && third === 'simulate' && options.extensions?.simulate) {
          allow('POST');
          return json(200, await options.extensions.simulate(second as string, readJson(request)));
        }
        break;
      case 'patterns':
        if (parts.length === 2 && second === 'test') {
          allow('POST');
          capPatternTestBody(request, '/patterns/test');
          const body = readJson(request);
          if (typeof body === 'object' && body !== null) checkEventDepth((body as { event?: unknown }).event);
          return json(200, junction.testPattern(body));
        }
        break;
      case 'targets':
        if (parts.length === 2 && second === 'test') {
          allow('POST');
          capPatternTestBody(request, '/targets/test');
          const body = readJson(request);
          if (typeof body === 'object' && body !== null) checkEventDepth((body as { event?: unknown }).event);
          return json(200, await junction.previewTarget(body));
        }
        break;
      case 'connectors': {
        const connectors = options.connectors;
        if (connectors === undefined) break;
        if (parts.length === 1) {
          allow('GET');
          return json(200, { connectors: await connectors.list() });
        }
        const name = second as string;
        if (parts.length === 2) {
          allow('GET', 'PUT', 'DELETE');
          if (method === 'GET') return json(200, await connectors.get(name));
          if (method === 'DELETE') {
            await connectors.delete(name);
            return { status: 204, headers: {}, body: '' };
          }
          const { connector, created } = await connectors.put(name, readJson(request));
          return json(created ? 201 : 200, connector);
        }
        if (parts.length === 3 && (third === 'pause' || third === 'resume')) {
          allow('POST');
          return json(200, third === 'pause' ? await connectors.pause(name) : await connectors.resume(name));
        }
        break;
      }
      case 'schemas': {
        const schemas = options.schemas;
        if (schemas === undefined) break;
        if (parts.length === 1) {
          allow('GET');
          return json(200, { schemas: schemas.list() });
        }
        const name = second as string;
        const discovery = options.discovery;
        if (name === 'discovered' && discovery !== undefined) {
          if (parts.length === 2) {
            allow('GET');
            return json(200, { discovery: discovery.enabled ? 'on' : 'off', drafts: discovery.list() });
          }
          const [source, type, fifth, sixth] = parts.slice(2) as [string, string, string?, string?];
          if (parts.length === 4) {
            allow('GET', 'DELETE');
            if (method === 'GET') return json(200, discovery.get(source, type));
            await discovery.delete(source, type);
            return { status: 204, headers: {}, body: '' };
          }
          if (parts.length === 5 && fifth === 'promote') {
            allow('POST');
            const { schema, version, created, from } = await discovery.promote(
              source,
              type,
              readJson(request),
            );
            return json(created ? 201 : 200, { ...schema, version, promotedFrom: { source, type, ...from } });
          }
          if (parts.length === 6 && fifth === 'versions') {
            allow('GET');
            return json(200, discovery.getVersion(source, type, sixth as string));
          }
          break;
        }
        if (parts.length === 2) {
          allow('GET', 'PUT', 'DELETE');
          if (method === 'GET') return json(200, schemas.get(name));
          if (method === 'DELETE') {
            await schemas.delete(name);
            return { status: 204, headers: {}, body: '' };
          }
          const { schema, version, created } = await schemas.put(name, readJson(request));
          return json(created ? 201 : 200, { ...schema, version });
        }
        if (parts.length === 4 && third === 'versions') {
          allow('GET');
          return json(200, schemas.getVersion(name, parts[3] as string));
        }
        break;
      }
      case 'functions':
        if (parts.length === 1) {
          allow('GET');
          return json(200, { functions: await junction.listFunctions() });
        }
        if (parts.length === 2) {
          const name = second as string;
          allow('GET', 'PUT', 'DELETE');
          if (method === 'GET') return json(200, await junction.getFunction(name));
          if (method === 'DELETE') {
            await junction.deleteFunction(name);
            return { status: 204, headers: {}, body: '' };
          }
          const timeoutMs = optionalInt(request.query, 'timeoutMs');
          const memoryMb = optionalInt(request.query, 'memoryMb');
          const config: FunctionConfig = {
            ...(timeoutMs === undefined ? {} : { timeoutMs }),
            ...(memoryMb === undefined ? {} : { memoryMb }),
          };
          if (request.body.length === 0) {
            throw new JunctionError(
              'InvalidFunction',
              'the request body is empty; send the function source',
              { field: 'source' },
            );
          }
          return json(200, await junction.deployFunction(name, request.body, config));
        }
        if (parts.length === 3 && third === 'activity') {
          allow('GET');
          return json(200, await junction.functionActivity(second as string));
        }
        break;
      case 'dead-letters': {
        if (parts.length === 1) {
          allow('GET');
          const q = request.query;
          const filter: DeadLetterFilter = {
            ...(q.get('rule') ? { rule: q.get('rule') as string } : {}),
            ...(q.get('target') ? { target: q.get('target') as string } : {}),
            ...(q.get('from') ? { from: parseTime(q.get('from'), 'from') } : {}),
            ...(q.get('to') ? { to: parseTime(q.get('to'), 'to') } : {}),
            ...(q.getAll('id').length > 0 ? { ids: q.getAll('id').slice(0, MAX_LIST) } : {}),
            ...(q.get('cursor') ? { cursor: q.get('cursor') as string } : {}),
            limit: limitParam(q),
          };
          const page = await junction.listDeadLetters(filter);
          return json(200, {
            deadLetters: page.deadLetters,
            ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
          });
        }
        if (parts.length === 2 && second === 'redrive') {
          allow('POST');
          return json(200, await junction.redrive(letterSelection(request)));
        }
        if (parts.length === 2 && second === 'delete') {
          allow('POST');
          const { to, ...selection } = letterSelection(request);
          return json(
            200,
            await junction.deleteDeadLetters({
              ...selection,
              ...(to === undefined ? {} : { to: parseTime(to, 'to') }),
            }),
          );
        }
        break;
      }
      case 'deliveries': {
        if (parts.length === 1) {
          allow('GET');
          const q = request.query;
          const state = q.get('state');
          if (state !== null && state !== 'pending' && state !== 'in-flight') {
            throw invalidRequest(
              `query parameter state must be "pending" or "in-flight", got "${state}"`,
              'state',
            );
          }
          return json(
            200,
            await junction.listDeliveries({
              ...(state === null ? {} : { state }),
              ...(q.get('rule') ? { rule: q.get('rule') as string } : {}),
              ...(q.get('target') ? { target: q.get('target') as string } : {}),
              ...(q.get('cursor') ? { cursor: q.get('cursor') as string } : {}),
              limit: limitParam(q),
            }),
          );
        }
        if (parts.length === 2 && second === 'retry') {
          allow('POST');
          return json(200, await junction.retryDeliveries(readJson(request)));
        }
        break;
      }
      case 'replays':
        if (parts.length === 1 && options.extensions?.replay) {
          allow('GET', 'POST');
          if (method === 'GET' && options.extensions.replays)
            return json(200, await options.extensions.replays());
          if (method === 'GET') throw new JunctionError('NotFound', 'this bus does not list replays');
          return json(202, await options.extensions.replay(readJson(request)));
        }
        if (parts.length === 2 && options.extensions?.replayStatus) {
          allow('GET');
          return json(200, await options.extensions.replayStatus(second as string));
        }
        break;
      case 'metrics':
        if (parts.length === 1) {
          allow('GET');
          return {
            status: 200,
            headers: { 'content-type': 'text/plain; version=0.0.4' },
            body: await junction.metrics.render(),
          };
        }
        break;
      case 'healthz':
        if (parts.length === 1) {
          allow('GET');
          return json(200, await junction.health());
        }
        break;
    }
    throw new JunctionError('NotFound', `no route for ${method} ${request.path}`);
  }

  return async (request) => {
    try {
      return await route(request);
    } catch (error) {
      const e = toJunctionError(error);
      if (e.status >= 500 && e.code !== 'BufferUnavailable') options.onError?.(error);
      return errorResponse(e);
    }
  };
}
