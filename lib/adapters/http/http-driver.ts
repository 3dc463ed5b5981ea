/**
 * The `http` and `bus` targets: POST (or PUT) the event in the CloudEvents HTTP binding (binary or structured) —
 * or, to an `http` target with `format: "eventbridge"`, the event in EventBridge's shape as a plain JSON body —
 * with an `Idempotency-Key` (and, when tracing is on, the attempt's W3C `traceparent`), over undici's keep-alive
 * pool. 2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retriable (honouring `Retry-After`); any other status, and an address the SSRF policy
 * refuses, is final. At most `maxResponseBytes` of an answer are read — except the answer of a target with `reply`,
 * read up to the largest event the bus accepts and handed back as the event(s) to publish.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import {
  DEFAULT_INGEST_LIMITS,
  parseHttpRequest,
  toHttpBatch,
  toHttpMessage,
} from '../../core/codec/http.ts';
import { payloadToBytes } from '../../core/codec/payload.ts';
import { toJunctionError } from '../../core/errors.ts';
import { type AddressPolicy, createAddressPolicy, parseAddress } from '../../core/net/address-policy.ts';
import { parseRetryAfter } from '../../core/retry.ts';
import type { Clock, DeliveryRequest, DeliveryResult, TargetDriver, TargetResponse } from '../../ports.ts';
import { systemClock } from '../../ports.ts';

export interface HttpDriverOptions {
  readonly clock?: Clock;
  /** `User-Agent` sent to targets. @default 'junction' */
  readonly userAgent?: string;
  /**
   * Which addresses targets may resolve to (checked when connecting, after DNS). @default every non-public
   * address refused (loopback, private, link-local, metadata, unspecified): `createAddressPolicy()`
   */
  readonly addressPolicy?: AddressPolicy;
  /** Most bytes of a target's answer that are read; the connection is dropped past it. @default 65536 */
  readonly maxResponseBytes?: number;
  /** Most bytes of an answer's body kept for traces (and dead letters that ask). @default 256 */
  readonly keepBodyBytes?: number;
  /** Keep-alive connections per origin. @default 64 */
  readonly connectionsPerOrigin?: number;
  /** How DNS names are resolved (tests). @default node:dns lookup */
  readonly lookup?: LookupFunction;
  /**
   * Certificates (PEM) trusted for `https` targets instead of Node's bundled roots (and `NODE_EXTRA_CA_CERTS`), e.g.
   * a private CA. @default Node's roots
   */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
}

/** Header values must be ISO-8859-1 without controls: percent-encode anything else. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function retriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

interface Destination {
  readonly method: 'POST' | 'PUT';
  readonly mode: 'binary' | 'structured';
  readonly headers: Readonly<Record<string, string>>;
  readonly origin: string;
  /** The path and query. */
  readonly path: string;
  /** The method and URL as shown in errors. */
  readonly where: string;
}

/** What an outcome's error text needs of a request. */
interface Resolved {
  readonly where: string;
  readonly timeoutMs: number;
}

/** Destinations by target definition (immutable): the URL is parsed once per target, not per delivery. */
const destinations = new WeakMap<object, Destination>();

function destinationOf(request: DeliveryRequest): Destination {
  const { target } = request;
  let found = destinations.get(target);
  if (found === undefined) {
    found = makeDestination(target);
    destinations.set(target, found);
  }
  return found;
}

function makeDestination(target: DeliveryRequest['target']): Destination {
  const at = (raw: string, method: 'POST' | 'PUT') => {
    const url = new URL(raw);
    return { origin: url.origin, path: `${url.pathname}${url.search}`, where: `${method} ${shown(url)}` };
  };
  if (target.type === 'http') {
    return {
      method: target.method,
      mode: target.mode,
      headers: target.headers ?? {},
      ...at(target.url, target.method),
    };
  }
  if (target.type === 'bus') {
    if (target.url === undefined) throw new TypeError('the http driver got a bus target by name');
    return {
      method: 'POST',
      mode: 'structured',
      headers: {},
      ...at(`${target.url.replace(/\/+$/, '')}/events`, 'POST'),
    };
  }
  throw new TypeError(`http driver got a ${target.type} target`);
}

/** Whether the target takes the event in EventBridge's shape (the delivered event's data is that body). */
function eventBridgeShaped(request: DeliveryRequest): boolean {
  return request.target.type === 'http' && request.target.format === 'eventbridge';
}

/** The event's data as a plain HTTP body (its content type, no `ce-` headers): what an EventBridge target gets. */
function bodyOnly(event: DeliveryRequest['event']): { headers: Record<string, string>; body: Uint8Array } {
  const { contentType, body } = payloadToBytes(event);
  return { headers: contentType === undefined ? {} : { 'content-type': contentType }, body };
}

/** The URL as shown in errors: without credentials or query (they may hold secrets). */
function shown(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** Raised (inside undici's connect) when the policy refuses every address of a target. */
class AddressRefused extends Error {
  readonly code = 'ERR_JUNCTION_ADDRESS_REFUSED';
}

function refusedIn(error: unknown): AddressRefused | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e instanceof AddressRefused) return e;
    if (e instanceof AggregateError) {
      const inner = e.errors.find((x) => x instanceof AddressRefused) as AddressRefused | undefined;
      if (inner) return inner;
    }
  }
  return undefined;
}

/** A DNS lookup that answers only the addresses the policy allows (the check is made where the socket connects). */
function guardedLookup(policy: AddressPolicy, lookup: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, answer) => {
      if (error) return callback(error, '', 0);
      const all = (Array.isArray(answer) ? answer : []) as LookupAddress[];
      const allowed = all.filter((a) => policy(a.address).allowed);
      if (allowed.length === 0) {
        const first = all[0];
        const reason =
          first === undefined ? 'no address' : (policy(first.address) as { reason: string }).reason;
        return callback(new AddressRefused(`${hostname} resolves to ${reason}`), '', 0);
      }
      if (options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, allowed);
      const one = allowed[0] as LookupAddress;
      callback(null, one.address, one.family);
    });
  };
}

/**
 * One request in flight, as undici's dispatch handler: the answer's status, headers and at most `limit` bytes of its
 * body, kept in memory (past the limit the connection is dropped). Answers through `done` once, whatever comes
 * first: the answer, an error, the timeout or the stop signal. Lighter than `agent.request` (no body stream, no
 * promise per step, one plain timer instead of `AbortSignal.timeout` and `AbortSignal.any`).
 */
class Exchange implements Dispatcher.DispatchHandler {
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  readonly chunks: Buffer[] = [];
  size = 0;
  over = false;
  /** Set once the timer fired. */
  timedOut = false;
  readonly #limit: number;
  readonly #done: (error: Error | undefined) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** Why it was aborted before undici started it (it is aborted when it starts). */
  #reason: Error | undefined;
  #settled = false;
  readonly #timer: NodeJS.Timeout;

  constructor(limit: number, timeoutMs: number, done: (error: Error | undefined) => void) {
    this.#limit = limit;
    this.#done = done;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    this.#timer.unref();
  }

  /** Ends the exchange with `reason` (the timeout, the stop deadline): now, whether undici started it or not. */
  abort(reason: Error): void {
    if (this.#settled) return;
    if (this.#controller === undefined) this.#reason = reason;
    else this.#controller.abort(reason);
    this.#settle(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#reason !== undefined) controller.abort(this.#reason);
    else this.#controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200) return; // 1xx: the answer is still to come
    this.status = status;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    if (this.size + chunk.length > this.#limit) {
      this.chunks.push(chunk.subarray(0, this.#limit - this.size));
      this.over = true;
      this.#settle(undefined);
      controller.abort(new Error('the answer is larger than the bytes read of it'));
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  onResponseEnd(): void {
    this.#settle(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#settle(error);
  }

  /** The body bytes read. */
  get bytes(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }

  #settle(error: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#done(error);
  }
}

/** The exchanges in flight per stop signal: one listener per signal aborts them all, not one per request. */
const exchangesOf = new WeakMap<AbortSignal, Set<Exchange>>();

function stoppable(signal: AbortSignal): Set<Exchange> {
  let exchanges = exchangesOf.get(signal);
  if (exchanges === undefined) {
    const live = new Set<Exchange>();
    exchanges = live;
    exchangesOf.set(signal, live);
    signal.addEventListener(
      'abort',
      () => {
        const reason = signal.reason instanceof Error ? signal.reason : new Error('aborted');
        for (const exchange of live) exchange.abort(reason);
      },
      { once: true },
    );
  }
  return exchanges;
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * A delivered answer of a target with `reply`: no body (or an empty one) is no reply; otherwise the body, read as a
 * CloudEvents HTTP message (binary, structured or batch mode, as ingest reads a request), is the event(s) to publish.
 * An answer that is no CloudEvent leaves the delivery delivered and says why (`emitError`).
 */
function replyOf(
  status: number,
  headers: Record<string, string>,
  body: { bytes: Buffer; over: boolean },
): DeliveryResult {
  if (body.bytes.length === 0 && headers['ce-specversion'] === undefined) return { ok: true, status };
  if (body.over) {
    return {
      ok: true,
      status,
      emitError: `PayloadTooLarge: the reply is larger than ${DEFAULT_INGEST_LIMITS.maxEventBytes} bytes, the largest event the bus accepts`,
    };
  }
  try {
    const parsed = parseHttpRequest(headers, body.bytes);
    if (parsed.mode !== 'batch') return { ok: true, status, emitted: [parsed.event] };
    const events = [];
    for (const entry of parsed.entries) {
      if (!entry.ok) return { ok: true, status, emitError: `${entry.error.code}: ${entry.error.message}` };
      events.push(entry.event);
    }
    return { ok: true, status, emitted: events };
  } catch (error) {
    const e = toJunctionError(error);
    return { ok: true, status, emitError: `${e.code}: the reply is not a CloudEvent: ${e.message}` };
  }
}

/** The W3C trace context headers of an attempt (its `deliver` span) when tracing is on. */
function traceHeaders(request: DeliveryRequest): Record<string, string> {
  const trace = request.trace;
  if (trace === undefined) return {};
  return trace.tracestate === undefined
    ? { traceparent: trace.traceparent }
    : { traceparent: trace.traceparent, tracestate: trace.tracestate };
}

export function createHttpDriver(options: HttpDriverOptions = {}): TargetDriver {
  const clock = options.clock ?? systemClock;
  const userAgent = options.userAgent ?? 'junction';
  const policy = options.addressPolicy ?? createAddressPolicy();
  const maxResponseBytes = options.maxResponseBytes ?? 65_536;
  const keepBodyBytes = options.keepBodyBytes ?? 256;
  // undici offers HTTP/2 by ALPN on every TLS connection (`allowH2` defaults to true): an https target whose server
  // accepts h2 gets one multiplexed connection, others HTTP/1.1 keep-alive (docs/delivery.md#http2).
  const connector = buildConnector({
    lookup: guardedLookup(policy, options.lookup ?? (dnsLookup as LookupFunction)),
    allowH2: true,
    ...(options.ca === undefined ? {} : { ca: options.ca as string | Buffer | Array<string | Buffer> }),
  } as buildConnector.BuildOptions);
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 64,
    keepAliveTimeout: 30_000,
    // A literal IP is never looked up: the policy is applied to it here, before connecting.
    connect: (connectOptions, callback) => {
      const literal = parseAddress(connectOptions.hostname);
      if (literal !== undefined) {
        const verdict = policy(connectOptions.hostname);
        if (!verdict.allowed) return callback(new AddressRefused(verdict.reason), null);
      }
      connector(connectOptions, callback);
    },
  });

  /** What a finished exchange came to. */
  function outcome(
    to: Resolved,
    exchange: Exchange,
    error: Error | undefined,
    reply: boolean,
  ): DeliveryResult {
    if (error !== undefined) {
      const refused = refusedIn(error);
      if (refused) return { ok: false, retriable: false, error: `${to.where} refused: ${refused.message}` };
      const e = error as Error & { code?: string; cause?: { code?: string; message?: string } };
      const timedOut = exchange.timedOut || e.name === 'TimeoutError' || /Timeout/.test(e.name);
      const detail = timedOut
        ? `timed out after ${to.timeoutMs} ms`
        : `${e.cause?.code ?? e.code ?? e.name}: ${e.cause?.message ?? e.message}`;
      return { ok: false, retriable: true, error: `${to.where} failed: ${detail}` };
    }
    const { status } = exchange;
    if (status >= 200 && status < 300) {
      return reply
        ? replyOf(status, flatHeaders(exchange.headers), { bytes: exchange.bytes, over: exchange.over })
        : { ok: true, status };
    }
    const responseHeaders = flatHeaders(exchange.headers);
    const bytes = exchange.bytes;
    const text = new TextDecoder().decode(bytes.subarray(0, keepBodyBytes));
    const response: TargetResponse = {
      headers: responseHeaders,
      ...(text === '' ? {} : { body: text }),
      ...(exchange.over || bytes.length > keepBodyBytes ? { bodyTruncated: true } : {}),
    };
    const retryAfterMs = parseRetryAfter(responseHeaders['retry-after'] ?? null, clock.now());
    return {
      ok: false,
      retriable: retriableStatus(status),
      status,
      error: `${to.where} answered ${status}`,
      response,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  function send(
    to: Destination,
    message: { headers: Record<string, string>; body: Uint8Array },
    extra: Record<string, string>,
    timeoutMs: number,
    stop: AbortSignal | undefined,
    reply = false,
  ): Promise<DeliveryResult> {
    const headers: Record<string, string> = {
      ...to.headers,
      ...message.headers,
      ...extra,
      'user-agent': userAgent,
    };
    const limit = reply
      ? Math.max(maxResponseBytes, DEFAULT_INGEST_LIMITS.maxEventBytes + 1)
      : maxResponseBytes;
    const resolved: Resolved = { where: to.where, timeoutMs };
    return new Promise((resolve) => {
      // The dispatcher's stop deadline aborts the request too.
      const live = stop === undefined ? undefined : stoppable(stop);
      const exchange: Exchange = new Exchange(limit, timeoutMs, (error) => {
        live?.delete(exchange);
        resolve(outcome(resolved, exchange, error, reply));
      });
      if (stop?.aborted) {
        exchange.abort(stop.reason instanceof Error ? stop.reason : new Error('aborted'));
        return;
      }
      live?.add(exchange);
      try {
        agent.dispatch(
          {
            origin: to.origin,
            path: to.path,
            method: to.method,
            headers,
            body: message.body,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          exchange,
        );
      } catch (error) {
        exchange.abort(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  return {
    deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const to = destinationOf(request);
      return send(
        to,
        eventBridgeShaped(request) ? bodyOnly(request.event) : toHttpMessage(request.event, to.mode),
        { 'idempotency-key': headerSafe(request.idempotencyKey), ...traceHeaders(request) },
        request.timeoutMs,
        request.signal,
        request.target.type === 'http' && request.target.reply === true,
      );
    },
    /** A batch goes as `application/cloudevents-batch+json`; each event's (source, id) is its idempotency key. */
    deliverBatch(requests: readonly DeliveryRequest[]): Promise<DeliveryResult> {
      const first = requests[0];
      if (first === undefined) return Promise.resolve({ ok: true });
      return send(
        destinationOf(first),
        toHttpBatch(requests.map((r) => r.event)),
        // One request, one context: the first delivery's (each event of the batch carries its own as well).
        traceHeaders(first),
        first.timeoutMs,
        first.signal,
      );
    },
    close: () => agent.close(),
  };
}
