/** Small builders of valid, frozen CloudEvents for tests. */
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';

let sequence = 0;

/** A valid CloudEvent (frozen); every call gets a fresh `id` unless `overrides.id` is given. */
export function makeEvent(overrides: Partial<Record<string, unknown>> = {}): CloudEvent {
  sequence += 1;
  const event = {
    specversion: '1.0',
    id: `evt-${process.pid}-${sequence}`,
    source: 'urn:test:source',
    type: 'com.example.test',
    time: '2026-01-01T00:00:00Z',
    datacontenttype: 'application/json',
    data: { n: sequence },
    ...overrides,
  };
  return Object.freeze(event) as CloudEvent;
}

/** `count` events; `overrides` may depend on the index. */
export function makeEvents(
  count: number,
  overrides: (index: number) => Partial<Record<string, unknown>> = () => ({}),
): CloudEvent[] {
  return Array.from({ length: count }, (_, index) => makeEvent(overrides(index)));
}

/** Resolves once `predicate` holds, polling every few ms; rejects after `timeoutMs` with `what` in the message. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A promise with its resolve function exposed, for handlers the test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A UUID version 7 (RFC 9562 §5.7), as `lib/core/uuid.ts` mints them. */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The time a UUID version 7 carries: its first 48 bits, epoch milliseconds. */
export function uuidv7Millis(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
