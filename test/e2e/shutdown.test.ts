/**
 * SIGTERM with a backlog (issue 20): the bus runs as a child process with thousands of deliveries towards targets
 * that never answer or have gone away, or a function that hangs; SIGTERM makes it exit by its stop deadline (the
 * running attempts are cut off there), every delivery it held is left in the ledger for the next start, and after a
 * restart on the same data dir every event is delivered — an exactly-once function's effect exactly once.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { LiveDelivery } from '../../lib/ports.ts';
import { fixtureFunction, request } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, kill9, startChildBus } from './support/child-bus.ts';

/** The stop deadline the child bus is given; the test waits this plus a generous slack for a busy machine. */
const DEADLINE_MS = 2_000;
const SLACK_MS = 30_000;
const SOURCE = '/shutdown';
const RETRY = { maxAttempts: 1000, backoff: { kind: 'fixed', initialMs: 100, maxMs: 100 } };

/** An HTTP target on a fixed port that holds every request without answering until told to answer. */
async function startSwitchableTarget(port: number): Promise<{
  readonly url: string;
  held(): number;
  /** From now on answers 200 and records each event id; the held requests are dropped. */
  answer(): void;
  readonly ids: Set<string>;
  close(): Promise<void>;
}> {
  let answering = false;
  const held = new Set<ServerResponse>();
  const ids = new Set<string>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (!answering) {
        held.add(res);
        res.once('close', () => held.delete(res));
        return;
      }
      ids.add(String(req.headers['ce-id']));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/`,
    held: () => held.size,
    answer() {
      answering = true;
      for (const res of held) res.destroy();
    },
    ids,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sends SIGTERM; answers how long the exit took, or fails when it does not come within the deadline + slack. */
async function terminate(bus: ChildBus): Promise<{ ms: number; code: number | null }> {
  const started = performance.now();
  const exited = new Promise<number | null>((resolve) => bus.child.once('exit', (code) => resolve(code)));
  bus.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the bus did not exit within ${DEADLINE_MS + SLACK_MS} ms of SIGTERM`)),
        DEADLINE_MS + SLACK_MS,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return { ms: performance.now() - started, code };
}

/** The close report the child printed (`stopped {...}`). */
function stopReport(bus: ChildBus): { deadlineReached: boolean; interrupted: number; returned: number } {
  const match = /stopped (.*)\n/.exec(bus.stdout.join(''));
  assert.ok(match, `the bus printed no close report: ${bus.stdout.join('')} ${bus.stderr.join('')}`);
  return JSON.parse(match[1] as string);
}

/** Every live delivery in the ledger of a stopped bus. */
async function liveDeliveries(dataDir: string): Promise<LiveDelivery[]> {
  const stores = openSqliteStores({ dataDir });
  try {
    const out: LiveDelivery[] = [];
    let cursor: string | undefined;
    do {
      const page = await stores.ledger.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      out.push(...page.deliveries);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return out;
  } finally {
    await stores.close();
  }
}

/** Each live delivery can be taken by the next start at once: due, and no lease left. */
function assertHandedBack(live: readonly LiveDelivery[], stoppedAt: number): void {
  const held = live.filter((d) => (d.state === 'pending' ? d.dueAt : (d.leaseUntil ?? 0)) > stoppedAt);
  assert.deepEqual(
    held.slice(0, 3).map((d) => ({ id: d.id, target: d.target, state: d.state })),
    [],
    `${held.length} of ${live.length} deliveries are still held by the stopped bus`,
  );
}

async function publishAll(url: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 500) {
    const batch = Array.from({ length: Math.min(500, count - start) }, (_, i) => ({
      specversion: '1.0',
      id: `e-${start + i}`,
      source: SOURCE,
      type: 'shutdown.test',
      data: { n: start + i },
    }));
    const res = await request(url, 'POST', '/events', JSON.stringify(batch), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.accepted, batch.length, JSON.stringify(res.body).slice(0, 500));
  }
}

test('SIGTERM with thousands of deliveries to a silent and a vanished HTTP target exits by the deadline and loses none', {
  timeout: 180_000,
}, async (t) => {
  const COUNT = 3000;
  const dir = tempDir('junction-shutdown-');
  const dataDir = join(dir.path, 'data');
  const silent = await startSwitchableTarget(await freePort());
  const gonePort = await freePort(); // nothing listens there: connections are refused
  const env = { JUNCTION_STOP_DEADLINE_MS: String(DEADLINE_MS) };
  let bus = await startChildBus(dataDir, await freePort(), env);
  let gone: Awaited<ReturnType<typeof startSwitchableTarget>> | undefined;
  try {
    const rule = await request(bus.url, 'PUT', '/rules/backlog', {
      pattern: { source: [SOURCE] },
      targets: [
        { id: 'silent', type: 'http', url: silent.url, timeoutMs: 120_000, retry: RETRY },
        { id: 'gone', type: 'http', url: `http://127.0.0.1:${gonePort}/`, timeoutMs: 120_000, retry: RETRY },
      ],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    await publishAll(bus.url, COUNT);
    // The silent target's lane is full (16 requests held open) and the rest of the backlog waits behind it.
    await waitFor(() => silent.held() >= 16, 'the silent target to hold 16 requests', 60_000);

    const { ms, code } = await terminate(bus);
    const stoppedAt = Date.now();
    t.diagnostic(`SIGTERM → exit: ${Math.round(ms)} ms (stop deadline ${DEADLINE_MS} ms)`);
    assert.equal(code, 0, bus.stderr.join(''));
    const report = stopReport(bus);
    assert.equal(report.deadlineReached, true, JSON.stringify(report));
    assert.ok(report.interrupted >= 16, JSON.stringify(report));
    assertHandedBack(await liveDeliveries(dataDir), stoppedAt);

    // The next start: the silent target answers now, and the vanished one is back.
    silent.answer();
    gone = await startSwitchableTarget(gonePort);
    gone.answer();
    bus = await startChildBus(dataDir, await freePort(), env);
    const targets = [silent, gone];
    await waitFor(
      () => targets.every((x) => x.ids.size === COUNT),
      `every event at both targets (${silent.ids.size} and ${gone.ids.size} of ${COUNT})`,
      120_000,
    );
  } finally {
    await kill9(bus);
    await silent.close();
    await gone?.close();
    dir.remove();
  }
});

for (const isolation of ['process', 'thread'] as const) {
  test(`SIGTERM while an exactly-once function hangs (${isolation}) exits by the deadline and runs each event once`, {
    timeout: 180_000,
  }, async (t) => {
    const COUNT = 200;
    const dir = tempDir('junction-shutdown-fn-');
    const dataDir = join(dir.path, 'data');
    const file = join(dir.path, 'once.txt');
    const hang = join(dir.path, 'hang');
    writeFileSync(hang, '');
    const env = { JUNCTION_STOP_DEADLINE_MS: String(DEADLINE_MS), JUNCTION_FUNCTION_ISOLATION: isolation };
    let bus = await startChildBus(dataDir, await freePort(), env);
    try {
      const up = await request(
        bus.url,
        'PUT',
        '/functions/hang-once?timeoutMs=900000',
        fixtureFunction('append-line-once-then-hang'),
      );
      assert.equal(up.status, 200, JSON.stringify(up.body));
      const rule = await request(bus.url, 'PUT', '/rules/hang', {
        pattern: { source: [SOURCE] },
        targets: [
          {
            id: 'once',
            type: 'function',
            function: 'hang-once',
            delivery: 'exactly-once',
            concurrency: 4,
            input: { template: JSON.stringify({ file, hang }) },
            retry: RETRY,
          },
        ],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      await publishAll(bus.url, COUNT);
      // Four deliveries are claimed (the lane's concurrency); the calls that got a worker made their effect and hang
      // before the bus could record them (the others wait for a worker: the pool is capped by the machine's cores).
      const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
      const inFlight = async () =>
        (await request(bus.url, 'GET', '/deliveries?state=in-flight')).body.deliveries.length as number;
      await waitFor(async () => lines().length >= 1 && (await inFlight()) === 4, 'hanging calls', 60_000);

      const { ms, code } = await terminate(bus);
      const stoppedAt = Date.now();
      t.diagnostic(`SIGTERM → exit: ${Math.round(ms)} ms (stop deadline ${DEADLINE_MS} ms)`);
      assert.equal(code, 0, bus.stderr.join(''));
      const report = stopReport(bus);
      assert.equal(report.deadlineReached, true, JSON.stringify(report));
      assert.equal(report.interrupted, 4, JSON.stringify(report));
      const live = await liveDeliveries(dataDir);
      assertHandedBack(live, stoppedAt);
      // The four cut off mid-call stay in flight, so that the next run is told it may be a duplicate.
      assert.equal(live.filter((d) => d.state === 'in-flight').length, 4);

      rmSync(hang);
      bus = await startChildBus(dataDir, await freePort(), env);
      await waitFor(
        async () => (await request(bus.url, 'GET', '/deliveries?limit=1')).body.deliveries.length === 0,
        'no live delivery left',
        120_000,
      );
      const counts = new Map<string, number>();
      for (const line of lines()) counts.set(line, (counts.get(line) ?? 0) + 1);
      assert.equal(counts.size, COUNT, 'every event ran');
      assert.deepEqual(
        [...counts].filter(([, n]) => n !== 1),
        [],
        'no event ran twice',
      );
    } finally {
      await kill9(bus);
      dir.remove();
    }
  });
}
