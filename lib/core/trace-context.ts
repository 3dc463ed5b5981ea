/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): reading and checking `traceparent` and `tracestate`, as
 * HTTP headers and as the CloudEvents distributed-tracing extension's attributes. Pure: what is malformed is ignored
 * (answered as undefined), never an error — a bad header must not cost the producer its event.
 */

import type { CloudEvent } from './cloudevent-types.ts';
import { defineRawData, rawDataOf } from './codec/raw-data.ts';

/** A trace context as it travels: the `traceparent` value and, when there is one, the `tracestate` value. */
export interface TraceContext {
  /** `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`, lower case. */
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** The parts of a valid `traceparent`. */
export interface TraceParent {
  readonly version: string;
  readonly traceId: string;
  readonly spanId: string;
  /** The trace flags byte (bit 0: sampled). */
  readonly flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[\x21-\x7e]*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Longest `tracestate` kept (W3C: platforms must propagate at least 512 characters; 32 list members at most). */
export const MAX_TRACESTATE_LENGTH = 512;
const MAX_TRACESTATE_MEMBERS = 32;
const TRACESTATE_KEY =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$/;
// A value: printable ASCII except ',' and '=', not ending in a space; at most 256 characters.
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Reads a `traceparent` value: version `00` exactly as the spec writes it; a later version by its first four fields
 * (the spec's forward compatibility). Version `ff`, all-zero ids, upper case or any other shape: undefined.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string?,
  ];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { version, traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** A `traceparent` value (version 00) for the given ids and flags. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * Reads a `tracestate` value: its list members checked one by one (key=value, W3C syntax), at most 32 and 512
 * characters in all; empty members are dropped. Anything malformed: undefined (the whole header is discarded, as
 * the spec asks).
 */
export function parseTracestate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_TRACESTATE_LENGTH) return undefined;
  const members: string[] = [];
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return undefined;
    if (!TRACESTATE_KEY.test(member.slice(0, eq)) || !TRACESTATE_VALUE.test(member.slice(eq + 1))) {
      return undefined;
    }
    members.push(member);
  }
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  return members.join(',');
}

/**
 * The trace context in a pair of values (headers, or an event's attributes): undefined without a valid
 * `traceparent`; a `tracestate` only when it is valid too (and only beside a valid `traceparent`).
 */
export function readTraceContext(traceparent: unknown, tracestate: unknown): TraceContext | undefined {
  const parent = parseTraceparent(traceparent);
  if (parent === undefined) return undefined;
  const normalized = formatTraceparent(parent.traceId, parent.spanId, parent.flags);
  const state = parseTracestate(tracestate);
  return state === undefined ? { traceparent: normalized } : { traceparent: normalized, tracestate: state };
}

/** The trace context an event carries in the CloudEvents distributed-tracing extension, when valid. */
export function eventTraceContext(event: Readonly<Record<string, unknown>>): TraceContext | undefined {
  return readTraceContext(event.traceparent, event.tracestate);
}

/** The trace id of a valid `traceparent`, else undefined. */
export function traceIdOf(traceparent: unknown): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

/**
 * The event with its distributed-tracing extension set to `context` (`traceparent`, and `tracestate` or none): a
 * frozen copy that keeps the data as it is (JSON data stays the producer's text, unparsed).
 */
export function withTraceContext(event: CloudEvent, context: TraceContext): CloudEvent {
  const raw = rawDataOf(event);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(event)) {
    if (key === 'traceparent' || key === 'tracestate') continue;
    if (key === 'data' && raw !== undefined) defineRawData(out, raw);
    else out[key] = event[key];
  }
  out.traceparent = context.traceparent;
  if (context.tracestate !== undefined) out.tracestate = context.tracestate;
  return Object.freeze(out) as CloudEvent;
}
