/**
 * A request body's text and JSON value, decoded and parsed at most once per request however many layers read it:
 * an EventBridge call is read by the auth layer and the buses app (for the buses it names) and then by the bus's
 * app (for the call itself), and a PutEvents of 10 entries paid ≈ 2 µs an event for each extra parse. Memoised by
 * the body's bytes, which no layer changes (a layer that rewrites a body makes new bytes). A reader must not change
 * the value it is given.
 */

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
