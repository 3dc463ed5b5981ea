/**
 * Issue #12, through the whole bus: a function that kills its process becomes poison after 3 crashes (across a
 * restart), returned events obey ingest limits, publish only as `/functions/<name>` and stop at 16 hops, and a
 * stuck function does not hold up the bus's shutdown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';

const text = (source: string): Uint8Array => new TextEncoder().encode(source);

async function deploy(bus: TestBus, name: string, source: string, query = ''): Promise<void> {
  const response = await request(bus.url, 'PUT', `/functions/${name}${query}`, text(source));
  assert.equal(response.status, 200, JSON.stringify(response.body));
}

async function rule(bus: TestBus, name: string, type: string, fn: string, retry?: unknown): Promise<void> {
  const target = { id: 'fn', type: 'function', function: fn, ...(retry === undefined ? {} : { retry }) };
  const response = await request(bus.url, 'PUT', `/rules/${name}`, {
    pattern: { type: [type] },
    targets: [target],
  });
  assert.ok(response.status === 200 || response.status === 201, JSON.stringify(response.body));
}

async function emittedTrace(
  bus: TestBus,
  id: string,
  source: string,
): Promise<{ error?: string; events: unknown[] }> {
  let found: { error?: string; events: unknown[] } | undefined;
  await waitFor(async () => {
    found = (await traceOf(bus, id, source)).find((entry) => entry.kind === 'emitted')?.detail;
    return found !== undefined;
  }, `the emitted trace of ${id}`);
  return found as { error?: string; events: unknown[] };
}

describe('functions through the bus (sandbox)', () => {
  test('dead-letters a delivery as poison after its function crashed its process 3 times, across a restart', async () => {
    let bus = await startTestBus();
    try {
      await deploy(bus, 'suicide', 'export function handler() { process.kill(process.pid, "SIGKILL"); }\n');
      const retry = { backoff: { kind: 'fixed', initialMs: 1500, maxMs: 1500, jitter: false } };
      await rule(bus, 'poison', 'poison', 'suicide', retry);
      await publishBinary(bus, { id: 'p-1', source: '/shop', type: 'poison' });
      await waitFor(
        async () => (await traceOf(bus, 'p-1', '/shop')).some((e) => e.kind === 'attempt'),
        'the first crash',
      );
      await bus.stop({ keepData: true });
      bus = await bus.restart();
      const current = bus;
      await waitFor(
        async () => (await current.junction.listDeadLetters()).deadLetters.length === 1,
        'the dead letter',
        30_000,
      );
      const [letter] = (await current.junction.listDeadLetters()).deadLetters;
      assert.match(letter?.reason ?? '', /^poison: the function crashed its process 3 times/);
      assert.equal(letter?.attempts.length, 3);
      for (const attempt of letter?.attempts ?? []) assert.match(attempt.error ?? '', /^FunctionCrashed: /);
    } finally {
      await bus.stop();
    }
  });

  test('returned events: forced source, at most 100 per call, 1 MiB each, and a hop limit on loops', async () => {
    const errors: unknown[] = [];
    const bus = await startTestBus({ onError: (error) => errors.push(error) });
    try {
      const spoof =
        'export const handler = (e) => ({ id: "real-order-1", source: "/shop", type: "spoofed" });\n';
      await deploy(bus, 'spoof', spoof);
      await rule(bus, 'spoof', 'spoof', 'spoof');
      await publishBinary(bus, { id: 's-1', source: '/shop', type: 'spoof' });
      const spoofed = await emittedTrace(bus, 's-1', '/shop');
      assert.deepEqual(spoofed.events, [{ source: '/functions/spoof', id: 'real-order-1' }]);
      // The producer's real event with that id is not a duplicate.
      const real = await publishBinary(bus, { id: 'real-order-1', source: '/shop', type: 'order' });
      assert.equal(real.status, 202, JSON.stringify(real.body));
      assert.notEqual(real.body?.duplicate, true);

      await deploy(
        bus,
        'flood',
        'export const handler = () => Array.from({ length: 20000 }, (_, i) => ({ type: "flood", data: i }));\n',
      );
      await rule(bus, 'flood', 'flood', 'flood');
      await publishBinary(bus, { id: 'f-1', source: '/shop', type: 'flood' });
      const flood = await emittedTrace(bus, 'f-1', '/shop');
      assert.match(flood.error ?? '', /20000 events; at most 100/);
      assert.deepEqual(flood.events, []);

      await deploy(
        bus,
        'huge',
        'export const handler = () => ({ type: "huge", data: "x".repeat(4 * 1024 * 1024) });\n',
        '?memoryMb=256',
      );
      await rule(bus, 'huge', 'huge', 'huge');
      await publishBinary(bus, { id: 'h-1', source: '/shop', type: 'huge' });
      const huge = await emittedTrace(bus, 'h-1', '/shop');
      assert.match(huge.error ?? '', /^PayloadTooLarge: /);

      // A function triggered by its own events: each hop is counted; the 16th is not published.
      await deploy(bus, 'looper', 'export const handler = (e) => ({ id: e.id + "+", type: "loop" });\n');
      await rule(bus, 'loop', 'loop', 'looper');
      await publishBinary(bus, { id: 'l', source: '/shop', type: 'loop' });
      const last = `l${'+'.repeat(15)}`;
      const stopped = await emittedTrace(bus, last, '/functions/looper');
      assert.match(
        stopped.error ?? '',
        /already passed 15 function or reply hops \(junctionhops\).*limit 16/,
      );
      assert.ok(
        errors.some((error) => /loop is likely/.test(String((error as Error).message))),
        'the loop is logged',
      );
    } finally {
      await bus.stop();
    }
  });

  test("returned events count against the function source's ingest quota", async () => {
    const bus = await startTestBus({ quota: { eventsPerSecond: 1, burst: 5 } });
    try {
      await deploy(
        bus,
        'fan',
        'export const handler = () => Array.from({ length: 50 }, (_, i) => ({ type: "fan", data: i }));\n',
      );
      await rule(bus, 'fan', 'fan-out', 'fan');
      await publishBinary(bus, { id: 'q-1', source: '/shop', type: 'fan-out' });
      const fan = await emittedTrace(bus, 'q-1', '/shop');
      assert.match(fan.error ?? '', /^RateLimited: /);
      assert.deepEqual(fan.events, []);
    } finally {
      await bus.stop();
    }
  });

  test('close() is not held up by a function stuck in native code', async () => {
    const bus = await startTestBus({ stopDeadlineMs: 1_000 });
    let closed = false;
    try {
      const stuck =
        'import { pbkdf2Sync } from "node:crypto";\nexport const handler = () => { pbkdf2Sync("x", "y", 2 ** 31 - 1, 64, "sha512"); };\n';
      await deploy(bus, 'stuck', stuck, '?timeoutMs=900000');
      await rule(bus, 'stuck', 'stuck', 'stuck');
      await publishBinary(bus, { id: 'k-1', source: '/shop', type: 'stuck' });
      await waitFor(() => bus.junction.dispatcher.inFlight === 1, 'the stuck call');
      // Without the stop deadline this waits for the 15-minute timeout: the test's own timeout fails it.
      await bus.stop();
      closed = true;
    } finally {
      if (!closed) await bus.stop();
    }
  });
});
