/**
 * The `http` and `bus` targets: POST (or PUT) the event in the CloudEvents HTTP binding (binary or structured) —
 * or, to an `http` target with `format: "eventbridge"`, the event in EventBridge's shape as a plain JSON body —
 * with an `Idempotency-Key`, over undici's keep-alive pool. 2xx is delivered; 408, 429, 5xx, timeouts and
 * connection errors are retriable (honouring `Retry-After`); any other status, and an address the SSRF policy
 * refuses, is final. At most `maxResponseBytes` of an answer are read — except the answer of a target with `reply`,
 * read up to the largest event the bus accepts and handed back as the event(s) to publish.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Agent, buildConnector } from 'undici';
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
}

/** Header values must be ISO-8859-1 without controls: percent-encode anything else. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

function retriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

interface Destination {
  readonly url: string;
  readonly method: 'POST' | 'PUT';
  readonly mode: 'binary' | 'structured';
  readonly headers: Readonly<Record<string, string>>;
}

function destinationOf(request: DeliveryRequest): Destination {
  const { target } = request;
  if (target.type === 'http') {
    return { url: target.url, method: target.method, mode: target.mode, headers: target.headers ?? {} };
  }
  if (target.type === 'bus') {
    if (target.url === undefined) throw new TypeError('the http driver got a bus target by name');
    return {
      url: `${target.url.replace(/\/+$/, '')}/events`,
      method: 'POST',
      mode: 'structured',
      headers: {},
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

/** Reads at most `limit` bytes of a body; answers them and whether there was more (the rest is not read). */
async function readCapped(
  body: AsyncIterable<Buffer> & { destroy(): void },
  limit: number,
): Promise<{ bytes: Buffer; over: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size + chunk.length > limit) {
      chunks.push(chunk.subarray(0, limit - size));
      body.destroy();
      return { bytes: Buffer.concat(chunks), over: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), over: false };
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

export function createHttpDriver(options: HttpDriverOptions = {}): TargetDriver {
  const clock = options.clock ?? systemClock;
  const userAgent = options.userAgent ?? 'junction';
  const policy = options.addressPolicy ?? createAddressPolicy();
  const maxResponseBytes = options.maxResponseBytes ?? 65_536;
  const keepBodyBytes = options.keepBodyBytes ?? 256;
  const connector = buildConnector({
    lookup: guardedLookup(policy, options.lookup ?? (dnsLookup as LookupFunction)),
  });
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

  async function send(
    to: Destination,
    message: { headers: Record<string, string>; body: Uint8Array },
    extra: Record<string, string>,
    timeoutMs: number,
    stop: AbortSignal | undefined,
    reply = false,
  ): Promise<DeliveryResult> {
    const { method } = to;
    const url = new URL(to.url);
    const where = `${method} ${shown(url)}`;
    const headers: Record<string, string> = {
      ...to.headers,
      ...message.headers,
      ...extra,
      'user-agent': userAgent,
    };
    const timeout = AbortSignal.timeout(timeoutMs);
    // The dispatcher's stop deadline aborts the request too.
    const signal = stop === undefined ? timeout : AbortSignal.any([timeout, stop]);
    let status: number;
    let responseHeaders: Record<string, string>;
    let start: { bytes: Buffer; over: boolean };
    try {
      const response = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        body: message.body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = flatHeaders(response.headers);
      start = await readCapped(
        response.body,
        reply ? Math.max(maxResponseBytes, DEFAULT_INGEST_LIMITS.maxEventBytes + 1) : maxResponseBytes,
      );
    } catch (error) {
      const refused = refusedIn(error);
      if (refused) return { ok: false, retriable: false, error: `${where} refused: ${refused.message}` };
      const e = error as Error & { code?: string; cause?: { code?: string; message?: string } };
      const timedOut = timeout.aborted || e.name === 'TimeoutError' || /Timeout/.test(e.name);
      const detail = timedOut
        ? `timed out after ${timeoutMs} ms`
        : `${e.cause?.code ?? e.code ?? e.name}: ${e.cause?.message ?? e.message}`;
      return { ok: false, retriable: true, error: `${where} failed: ${detail}` };
    }
    if (status >= 200 && status < 300)
      return reply ? replyOf(status, responseHeaders, start) : { ok: true, status };
    const text = new TextDecoder().decode(start.bytes.subarray(0, keepBodyBytes));
    const response: TargetResponse = {
      headers: responseHeaders,
      ...(text === '' ? {} : { body: text }),
      ...(start.over || start.bytes.length > keepBodyBytes ? { bodyTruncated: true } : {}),
    };
    const retryAfterMs = parseRetryAfter(responseHeaders['retry-after'] ?? null, clock.now());
    return {
      ok: false,
      retriable: retriableStatus(status),
      status,
      error: `${where} answered ${status}`,
      response,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  return {
    deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const to = destinationOf(request);
      return send(
        to,
        eventBridgeShaped(request) ? bodyOnly(request.event) : toHttpMessage(request.event, to.mode),
        { 'idempotency-key': headerSafe(request.idempotencyKey) },
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
        {},
        first.timeoutMs,
        first.signal,
      );
    },
    close: () => agent.close(),
  };
}
