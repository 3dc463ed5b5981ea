/**
 * The `http` and `bus` targets: POST (or PUT) the event in the CloudEvents HTTP binding (binary or structured),
 * with an `Idempotency-Key`. 2xx is delivered; 408, 429, 5xx, timeouts and connection errors are retriable
 * (honouring `Retry-After`); any other status is final.
 */
import { toHttpBatch, toHttpMessage } from '../../core/codec/http.ts';
import { parseRetryAfter } from '../../core/retry.ts';
import type { Clock, DeliveryRequest, DeliveryResult, TargetDriver } from '../../ports.ts';
import { systemClock } from '../../ports.ts';

export interface HttpDriverOptions {
  readonly clock?: Clock;
  /** `User-Agent` sent to targets. @default 'junction' */
  readonly userAgent?: string;
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
  readonly method: string;
  readonly mode: 'binary' | 'structured';
  readonly headers: Readonly<Record<string, string>>;
}

function destinationOf(request: DeliveryRequest): Destination {
  const { target } = request;
  if (target.type === 'http') {
    return { url: target.url, method: target.method, mode: target.mode, headers: target.headers ?? {} };
  }
  if (target.type === 'bus') {
    return {
      url: `${target.url.replace(/\/+$/, '')}/events`,
      method: 'POST',
      mode: 'structured',
      headers: {},
    };
  }
  throw new TypeError(`http driver got a ${target.type} target`);
}

export function createHttpDriver(options: HttpDriverOptions = {}): TargetDriver {
  const clock = options.clock ?? systemClock;
  const userAgent = options.userAgent ?? 'junction';

  async function send(
    to: Destination,
    message: { headers: Record<string, string>; body: Uint8Array },
    extra: Record<string, string>,
    timeoutMs: number,
  ): Promise<DeliveryResult> {
    const { url, method } = to;
    const headers: Record<string, string> = {
      ...to.headers,
      ...message.headers,
      ...extra,
      'user-agent': userAgent,
    };
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: message.body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      const detail = timedOut
        ? `timed out after ${timeoutMs} ms`
        : `${e.cause?.code ?? e.name}: ${e.cause?.message ?? e.message}`;
      return { ok: false, retriable: true, error: `${method} ${url} failed: ${detail}` };
    }
    // Drain the body so the connection is reused; keep a little of it for the error text.
    const text = await response.text().catch(() => '');
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
    return {
      ok: false,
      retriable: retriableStatus(response.status),
      status: response.status,
      error: `${method} ${url} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }

  return {
    deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const to = destinationOf(request);
      return send(
        to,
        toHttpMessage(request.event, to.mode),
        { 'idempotency-key': headerSafe(request.idempotencyKey) },
        request.timeoutMs,
      );
    },
    /** A batch goes as `application/cloudevents-batch+json`; each event's (source, id) is its idempotency key. */
    deliverBatch(requests: readonly DeliveryRequest[]): Promise<DeliveryResult> {
      const first = requests[0];
      if (first === undefined) return Promise.resolve({ ok: true });
      return send(destinationOf(first), toHttpBatch(requests.map((r) => r.event)), {}, first.timeoutMs);
    },
  };
}
