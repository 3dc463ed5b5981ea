/**
 * A request body's text and JSON value, decoded and parsed at most once per request however many layers read it:
 * an EventBridge call is read by the auth layer and the buses app (for the buses it names) and then by the bus's
 * app (for the call itself), and a PutEvents of 10 entries paid ≈ 2 µs an event for each extra parse. Memoised by
 * the body's bytes, which no layer changes (a layer that rewrites a body makes new bytes). A reader must not change
 * the value it is given.
 */

import { nestsDeeperThan } from '../core/codec/json.ts';
import { JunctionError } from '../core/errors.ts';

/** How deep a JSON request body may nest: far above any valid rule or pattern, far below a stack overflow. */
export const MAX_BODY_DEPTH = 256;

interface Read {
  readonly text: string;
  parsed?: { readonly value: unknown } | { readonly error: unknown };
}

const reads = new WeakMap<Uint8Array, Read>();
const decoder = new TextDecoder();

function readOf(body: Uint8Array): Read {
  let read = reads.get(body);
  if (read === undefined) {
    read = { text: decoder.decode(body) };
    reads.set(body, read);
  }
  return read;
}

/** The body as UTF-8 text (malformed sequences replaced, as `TextDecoder` does). */
export function bodyText(body: Uint8Array): string {
  return readOf(body).text;
}

/** The body's JSON value; throws `JSON.parse`'s error (the same one to every reader) when the text is not JSON. */
export function bodyJson(body: Uint8Array): unknown {
  const read = readOf(body);
  if (read.parsed === undefined) {
    try {
      read.parsed = { value: JSON.parse(read.text) };
    } catch (error) {
      read.parsed = { error };
    }
  }
  if ('error' in read.parsed) throw read.parsed.error;
  return read.parsed.value;
}

/**
 * The JSON document of an API request's body, as every route reads it: `InvalidJson` (400) when the body is empty
 * (unless `empty` says what an empty body stands for), is not JSON, or nests deeper than `MAX_BODY_DEPTH` levels —
 * so that no route hands a hostile document on to code that walks it.
 */
export function readJsonBody(body: Uint8Array, empty?: () => unknown): unknown {
  const text = bodyText(body);
  if (text.trim() === '') {
    if (empty !== undefined) return empty();
    throw new JunctionError('InvalidJson', 'the request body is empty; send a JSON document');
  }
  let value: unknown;
  try {
    value = bodyJson(body);
  } catch (error) {
    throw new JunctionError('InvalidJson', `the request body is not valid JSON: ${(error as Error).message}`);
  }
  if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
    throw new JunctionError('InvalidJson', `the request body nests deeper than ${MAX_BODY_DEPTH} levels`);
  }
  return value;
}
