/**
 * The dispatcher on real SQLite stores: fairness across sources and lanes per target (a recording driver), and the
 * adaptive concurrency of HTTP targets against real servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpDriver } from '../../lib/adapters/http/http-driver.ts';
import { openSqliteStores, type SqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { createAddressPolicy } from '../../lib/core/net/address-policy.ts';
import { validateRule } from '../../lib/core/rule.ts';
import type { Rule } from '../../lib/core/rule-types.ts';
import { Dispatcher } from '../../lib/engine/dispatcher.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import type { DeliveryRequest, PendingDelivery, TargetDriver } from '../../lib/ports.ts';
import { systemClock } from '../../lib/ports.ts';
import { publishBinary, request, startTestBus } from '../helpers/bus.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';

describe('Dispatcher', () => {
  const dir = tempDir('junction-dispatcher-');
  let stores: SqliteStores;
  before(() => {
    stores = openSqliteStores({ dataDir: dir.path });
  });
  after(async () => {
    await stores.close();
    dir.remove();
  });

  function dispatcherWith(
    rule: Rule,
    driver: TargetDriver,
    options: { maxHeld?: number; leaseMs?: number; pollMs?: number } = {},
  ): Dispatcher {
    return new Dispatcher({
      ...options,
      ledger: stores.ledger,
      deadLetters: stores.deadLetters,
      traces: stores.traces,
      clock: systemClock,
      metrics: new Metrics(),
      lookup: (name) => (name === rule.name ? rule : undefined),
      drivers: { http: driver },
      transform: (event) => event,
      onEmitted: async () => [],
    });
  }

  /** A driver whose deliveries all wait for `release()`; `delivered` holds the ids of those answered. */
  function gatedDriver(): { driver: TargetDriver; release: () => void; delivered: Set<string> } {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const delivered = new Set<string>();
    return {
      driver: {
        async deliver(request: DeliveryRequest) {
          await gate;
          delivered.add(request.event.id);
          return { ok: true, status: 200 };
        },
      },
      release: () => release(),
      delivered,
    };
  }

  /** Pending deliveries of `rule` to its target `web`, enqueued in the ledger as the router would. */
  async function enqueue(
    rule: Rule,
    events: ReadonlyArray<{ source: string; id: string }>,
    leaseMs = 30_000,
  ): Promise<PendingDelivery[]> {
    const now = Date.now();
    const deliveries = events.map(({ source, id }) => ({
      source,
      id,
      rule: rule.name,
      target: 'web',
      event: makeEvent({ source, id }),
      createdAt: now,
      dueAt: now + leaseMs,
      attempts: [],
    }));
    await stores.ledger.enqueue(deliveries);
    return deliveries;
  }

  test('takes sources round robin inside a lane, so one source’s backlog does not starve another', async () => {
    const rule = validateRule(
      'fair',
      {
        pattern: { type: ['x'] },
        targets: [{ id: 'web', type: 'http', url: 'http://127.0.0.1:1/', concurrency: 1 }],
      },
      Date.now(),
    );
    const order: string[] = [];
    const dispatcher = dispatcherWith(rule, {
      async deliver(request: DeliveryRequest) {
        order.push(request.event.source);
        await new Promise((r) => setTimeout(r, 1));
        return { ok: true, status: 200 };
      },
    });
    // A flood of 30 from one source arrives first, then 3 from another.
    const flood = await enqueue(
      rule,
      Array.from({ length: 30 }, (_, i) => ({ source: '/flood', id: `flood-${i}` })),
    );
    const quiet = await enqueue(
      rule,
      [0, 1, 2].map((i) => ({ source: '/quiet', id: `quiet-${i}` })),
    );
    dispatcher.submit(flood);
    dispatcher.submit(quiet);
    await dispatcher.idle();
    assert.equal(order.length, 33);
    const lastQuiet = order.lastIndexOf('/quiet');
    // Round robin: the quiet source's 3 deliveries go out interleaved with the flood, not after all 30 of it.
    assert.ok(
      lastQuiet < 10,
      `the quiet source finished at position ${lastQuiet} of ${order.length}: ${order.join(' ')}`,
    );
    for (const d of quiet) assert.equal((await stores.ledger.get(d))?.entry.state, 'delivered');
  });

  test('holds at most maxHeld deliveries in memory and leaves the rest to the ledger, which delivers them later', async () => {
    const rule = validateRule(
      'held',
      {
        pattern: { type: ['x'] },
        targets: [{ id: 'web', type: 'http', url: 'http://127.0.0.1:1/', concurrency: 2 }],
      },
      Date.now(),
    );
    const { driver, release, delivered } = gatedDriver();
    let most = 0;
    const dispatcher = dispatcherWith(rule, driver, { maxHeld: 10, leaseMs: 200, pollMs: 20 });
    const deliveries = await enqueue(
      rule,
      Array.from({ length: 60 }, (_, i) => ({ source: '/held', id: `held-${i}` })),
      200,
    );
    dispatcher.start();
    try {
      dispatcher.submit(deliveries);
      assert.equal(dispatcher.inFlight, 10, 'the first 10 are held; 50 stay in the ledger');
      // The leases of the 50 left run out while the first 10 wait: the poller may take none of them yet.
      await waitFor(async () => (await stores.ledger.due(Date.now(), 100)).length >= 50, 'leases run out');
      await dispatcher.runDue();
      assert.equal(dispatcher.inFlight, 10);
      release();
      await waitFor(() => {
        most = Math.max(most, dispatcher.inFlight);
        return delivered.size === 60;
      }, 'every delivery, the rest through the poller');
      assert.ok(most <= 10, `held ${most} at once`);
      for (const d of deliveries) assert.equal((await stores.ledger.get(d))?.entry.state, 'delivered');
    } finally {
      release();
      await dispatcher.stop();
    }
  });

  test('delivers what it had no room for as soon as room frees, not a lease or a poll later', async () => {
    const rule = validateRule(
      'overflow',
      {
        pattern: { type: ['x'] },
        targets: [{ id: 'web', type: 'http', url: 'http://127.0.0.1:1/', concurrency: 4 }],
      },
      Date.now(),
    );
    const { driver, release, delivered } = gatedDriver();
    // A lease of ten minutes and a poll once a minute: only the hand-off on free room delivers the rest in time.
    const dispatcher = dispatcherWith(rule, driver, { maxHeld: 10, leaseMs: 600_000, pollMs: 60_000 });
    const deliveries = await enqueue(
      rule,
      Array.from({ length: 60 }, (_, i) => ({ source: '/overflow', id: `overflow-${i}` })),
      600_000,
    );
    dispatcher.start();
    try {
      dispatcher.submit(deliveries);
      assert.equal(dispatcher.inFlight, 10);
      await waitFor(
        async () => (await stores.ledger.due(Date.now(), 100)).length >= 50,
        'the 50 left made due',
      );
      release();
      await waitFor(() => delivered.size === 60, 'every delivery, well before any lease or poll', 30_000);
      for (const d of deliveries) assert.equal((await stores.ledger.get(d))?.entry.state, 'delivered');
    } finally {
      release();
      await dispatcher.stop();
    }
  });

  test('stop hands queued deliveries back and cuts running ones off at the deadline, recording nothing for them', async () => {
    const rule = validateRule(
      'stopping',
      {
        pattern: { type: ['x'] },
        targets: [
          { id: 'web', type: 'http', url: 'http://127.0.0.1:1/', concurrency: 2, timeoutMs: 600_000 },
        ],
      },
      Date.now(),
    );
    const signals: AbortSignal[] = [];
    // Never answers by itself; only the stop's signal ends a request.
    const dispatcher = dispatcherWith(rule, {
      deliver(request: DeliveryRequest) {
        if (request.signal) signals.push(request.signal);
        return new Promise(() => {});
      },
    });
    const deliveries = await enqueue(
      rule,
      Array.from({ length: 5 }, (_, i) => ({ source: '/stop', id: `stop-${i}` })),
    );
    dispatcher.submit(deliveries);
    await waitFor(() => signals.length === 2, 'two running attempts');
    const report = await dispatcher.stop({ deadlineMs: 50 });
    assert.deepEqual(report, { deadlineReached: true, interrupted: 2, returned: 3 });
    assert.ok(signals.every((signal) => signal.aborted));
    assert.equal(dispatcher.inFlight, 0);
    const now = Date.now();
    for (const d of deliveries) {
      const state = await stores.ledger.get(d);
      assert.equal(state?.entry.state, 'pending', d.id);
      assert.ok((state?.pending?.dueAt ?? Infinity) <= now, `${d.id} is due`);
      assert.deepEqual(state?.pending?.attempts, [], `${d.id} has no attempt recorded`);
    }
  });

  test('stop waits for running attempts that finish before the deadline and records them', async () => {
    const rule = validateRule(
      'stopping-in-time',
      { pattern: { type: ['x'] }, targets: [{ id: 'web', type: 'http', url: 'http://127.0.0.1:1/' }] },
      Date.now(),
    );
    let answer: (() => void) | undefined;
    const dispatcher = dispatcherWith(rule, {
      deliver: () =>
        new Promise((resolve) => {
          answer = () => resolve({ ok: true, status: 200 });
        }),
    });
    const [delivery] = await enqueue(rule, [{ source: '/stop', id: 'in-time' }]);
    dispatcher.submit([delivery as PendingDelivery]);
    await waitFor(() => answer !== undefined, 'the running attempt');
    const stopped = dispatcher.stop({ deadlineMs: 60_000 });
    setImmediate(() => answer?.());
    assert.deepEqual(await stopped, { deadlineReached: false, interrupted: 0, returned: 0 });
    assert.equal((await stores.ledger.get(delivery as PendingDelivery))?.entry.state, 'delivered');
  });
});

/** An HTTP target on 127.0.0.1 that answers as told and counts the requests it holds at once. */
async function startGauge(answer: () => { status: number; delayMs: number }) {
  let inFlight = 0;
  let peak = 0;
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      inFlight++;
      peak = Math.max(peak, inFlight);
      const { status, delayMs } = answer();
      setTimeout(() => {
        inFlight--;
        res.writeHead(status);
        res.end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/in`,
    get inFlight() {
      return inFlight;
    },
    get received() {
      return received;
    },
    /** The most requests held at once since the last call. */
    takePeak(): number {
      const p = peak;
      peak = inFlight;
      return p;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('Dispatcher: adaptive concurrency of HTTP targets (a real server on 127.0.0.1)', () => {
  const dir = tempDir('junction-adaptive-');
  let stores: SqliteStores;
  const driver = createHttpDriver({ addressPolicy: createAddressPolicy({ allowLoopback: true }) });
  before(() => {
    stores = openSqliteStores({ dataDir: dir.path });
  });
  after(async () => {
    await driver.close?.();
    await stores.close();
    dir.remove();
  });

  let sequence = 0;
  /** Enqueues and submits `n` deliveries of `rule` to its target `web`, as the router does. */
  async function publish(dispatcher: Dispatcher, rule: Rule, n: number): Promise<void> {
    const now = Date.now();
    const deliveries = Array.from({ length: n }, () => {
      const id = `e${sequence++}`;
      return {
        source: '/adaptive',
        id,
        rule: rule.name,
        target: 'web',
        event: makeEvent({ source: '/adaptive', id }),
        createdAt: now,
        dueAt: now + 30_000,
        attempts: [],
      };
    });
    await stores.ledger.enqueue(deliveries);
    dispatcher.submit(deliveries);
  }

  test('shrinks to 1 while the target fails or answers slowly, and grows back to maxConcurrency once it recovers', async () => {
    let mode: 'fast' | 'failing' | 'slow' = 'fast';
    const server = await startGauge(() =>
      mode === 'fast'
        ? { status: 200, delayMs: 5 }
        : mode === 'failing'
          ? { status: 503, delayMs: 5 }
          : { status: 200, delayMs: 400 },
    );
    const metrics = new Metrics();
    const rule = validateRule(
      'adaptive',
      {
        pattern: { type: ['x'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: server.url,
            concurrency: 4,
            maxConcurrency: 24,
            retry: { maxAttempts: 1 },
          },
        ],
      },
      Date.now(),
    );
    const dispatcher = new Dispatcher({
      ledger: stores.ledger,
      deadLetters: stores.deadLetters,
      traces: stores.traces,
      clock: systemClock,
      metrics,
      lookup: (name) => (name === rule.name ? rule : undefined),
      drivers: { http: driver },
      transform: (event) => event,
      onEmitted: async () => [],
    });
    const limit = () => metrics.value('junction_target_concurrency', { rule: 'adaptive', target: 'web' });
    /**
     * Feeds the healthy target until the limit reaches its cap. How many deliveries that takes depends on the
     * machine (on a loaded one, a stalled answer reads as slow and costs a cut), so it is fed in rounds, not a count.
     */
    const growToCap = async (what: string) => {
      const deadline = Date.now() + 120_000;
      do {
        await publish(dispatcher, rule, 500);
        await dispatcher.idle();
        if (Date.now() > deadline) assert.fail(`${what}: the limit stayed at ${limit()} for 2 minutes`);
      } while (limit() !== 24);
    };
    try {
      // Healthy: the limit grows from 4 to its cap, and the server sees that many at once — never more.
      await growToCap('healthy');
      const healthyPeak = server.takePeak();
      assert.ok(healthyPeak > 4 && healthyPeak <= 24, `peak ${healthyPeak} while healthy`);

      // Failing with 503: halves down to 1; once there, the server never holds more than one.
      mode = 'failing';
      await publish(dispatcher, rule, 400);
      await waitFor(() => limit() === 1, 'the limit to shrink to 1 on 503s');
      await waitFor(() => server.inFlight <= 1, 'the requests sent under the old limit to end');
      server.takePeak();
      const before = server.received;
      await dispatcher.idle();
      assert.ok(server.received - before >= 50, 'the lane kept sending, one at a time');
      assert.equal(server.takePeak(), 1);

      // Recovered: grows back to the cap.
      mode = 'fast';
      await growToCap('recovered');

      // Slow (400 ms against a 5 ms baseline) without failing: shrinks as well.
      mode = 'slow';
      await publish(dispatcher, rule, 60);
      await waitFor(() => limit() <= 3, 'the limit to shrink on slow answers');
      await dispatcher.idle();
    } finally {
      await server.close();
    }
  });

  test('a slow target holds back neither ingest nor a sibling rule’s deliveries', async () => {
    const slow = await startGauge(() => ({ status: 200, delayMs: 2000 }));
    const fast = await startGauge(() => ({ status: 200, delayMs: 1 }));
    const bus = await startTestBus();
    try {
      await request(bus.url, 'PUT', '/rules/slow', {
        pattern: { type: ['x'] },
        targets: [{ id: 'web', type: 'http', url: slow.url, concurrency: 2 }],
      });
      await request(bus.url, 'PUT', '/rules/fast', {
        pattern: { type: ['x'] },
        targets: [{ id: 'web', type: 'http', url: fast.url, concurrency: 2 }],
      });
      const n = 200;
      const answers = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          publishBinary(bus, { id: `iso-${i}`, source: '/iso', type: 'x' }, '{}', 'application/json'),
        ),
      );
      // Every event was accepted while the slow target had taken at most its first few.
      assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([202]));
      await waitFor(() => fast.received >= n, 'the sibling to receive every event');
      // The sibling got all 200 while the slow target (2 at a time, 2 s each) had answered only its first few.
      assert.ok(slow.received <= 10, `the slow target received ${slow.received}`);
    } finally {
      await bus.stop();
      await slow.close();
      await fast.close();
    }
  });
});
