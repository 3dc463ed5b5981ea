/**
 * Crash safety: the bus runs as a child process while a client streams events and records every 2xx; it is killed
 * with SIGKILL at random moments (10 times) and restarted on the same data dir. Afterwards every acknowledged event
 * is in the log exactly once and every matched delivery reached an outcome; an exactly-once function's side effect
 * happened exactly once per event, an at-least-once function's at least once.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { fixtureFunction, request } from '../helpers/bus.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';
import { idCountsInLog } from './support/log-ids.ts';

const KILLS = 10;
const SOURCE = '/crash';
const TARGETS = ['web', 'once', 'many'] as const;

function countLines(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return counts;
}

test('survives SIGKILL at random moments without losing or duplicating accepted events', {
  timeout: 240_000,
}, async (t) => {
  const dir = tempDir('junction-crash-');
  const web = await startHttpTarget();
  const onceFile = join(dir.path, 'exactly-once.txt');
  const manyFile = join(dir.path, 'at-least-once.txt');
  const port = await freePort();
  let bus: ChildBus = await startChildBus(join(dir.path, 'data'), port);
  try {
    for (const [name, fixture] of [
      ['append-once', 'append-line-once'],
      ['append-many', 'append-line'],
    ] as const) {
      const up = await request(bus.url, 'PUT', `/functions/${name}`, fixtureFunction(fixture));
      assert.equal(up.status, 200, JSON.stringify(up.body));
    }
    const rule = await request(bus.url, 'PUT', '/rules/crash', {
      pattern: { source: [SOURCE] },
      targets: [
        {
          id: 'web',
          type: 'http',
          url: web.url,
          retry: { maxAttempts: 1000, backoff: { kind: 'fixed', initialMs: 100, maxMs: 100 } },
        },
        {
          id: 'once',
          type: 'function',
          function: 'append-once',
          delivery: 'exactly-once',
          input: { template: JSON.stringify({ file: onceFile }) },
          retry: { maxAttempts: 1000, backoff: { kind: 'fixed', initialMs: 100, maxMs: 100 } },
        },
        {
          id: 'many',
          type: 'function',
          function: 'append-many',
          input: { template: JSON.stringify({ file: manyFile }) },
          retry: { maxAttempts: 1000, backoff: { kind: 'fixed', initialMs: 100, maxMs: 100 } },
        },
      ],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));

    const acked = new Set<string>();
    const unacked: string[] = [];
    let next = 0;
    let streaming = true;
    const publish = async (id: string): Promise<void> => {
      try {
        const res = await fetch(`${bus.url}/events`, {
          method: 'POST',
          headers: {
            'ce-specversion': '1.0',
            'ce-id': id,
            'ce-source': SOURCE,
            'ce-type': 'crash.test',
            'content-type': 'application/json',
          },
          body: JSON.stringify({ n: id }),
        });
        await res.arrayBuffer();
        if (res.status === 202) acked.add(id);
        else unacked.push(id);
      } catch {
        unacked.push(id);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const client = async () => {
      while (streaming) await publish(unacked.shift() ?? `c-${next++}`);
    };
    const clients = Promise.all([client(), client(), client(), client()]);

    for (let k = 0; k < KILLS; k++) {
      // Kill at a random moment, but only once this incarnation has acknowledged some events.
      const before = acked.size;
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 500)));
      while (acked.size < before + 20) await new Promise((r) => setTimeout(r, 5));
      await kill9(bus);
      bus = await startChildBus(join(dir.path, 'data'), port);
    }
    await new Promise((r) => setTimeout(r, 300));
    streaming = false;
    await clients;
    // Whatever never got a 2xx is sent again until it does (the producer's retry, with the same id).
    while (unacked.length > 0) await publish(unacked.shift() as string);
    assert.ok(acked.size >= KILLS * 20, `the client got ${acked.size} acknowledgements`);

    // Wait until nothing is pending: every delivery of every acknowledged event has an outcome.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const metrics = await (await fetch(`${bus.url}/metrics`)).text();
      const pending = Number(
        /^junction_deliveries_pending\{bus="default"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN',
      );
      const lag = Number(/^junction_router_lag_events\{bus="default"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
      if (pending === 0 && lag === 0) break;
      if (Date.now() > deadline)
        assert.fail(`still ${pending} deliveries pending and ${lag} events unrouted`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await stopGracefully(bus);

    const stores = openSqliteStores({ dataDir: join(dir.path, 'data') });
    try {
      const inLog = await idCountsInLog(stores.log);
      for (const id of acked) assert.equal(inLog.get(id), 1, `acknowledged ${id} is in the log exactly once`);
      for (const [id, n] of inLog) assert.equal(n, 1, `${id} is in the log once`);

      for (const id of inLog.keys()) {
        for (const target of TARGETS) {
          const state = await stores.ledger.get({ source: SOURCE, id, rule: 'crash', target });
          assert.ok(state, `${id} → ${target} has a ledger entry`);
          assert.ok(
            state.entry.state === 'delivered' || state.entry.state === 'dead-lettered',
            `${id} → ${target} reached an outcome (it is ${state.entry.state})`,
          );
        }
      }
    } finally {
      await stores.close();
    }
    const once = countLines(onceFile);
    const many = countLines(manyFile);
    const webIds = new Set(web.received.map((r) => String(r.headers['ce-id'])));
    for (const id of acked) {
      assert.equal(once.get(`${SOURCE} ${id}`), 1, `exactly-once target ran ${id} exactly once`);
      assert.ok((many.get(`${SOURCE} ${id}`) ?? 0) >= 1, `at-least-once target ran ${id}`);
      assert.ok(webIds.has(id), `the HTTP target received ${id}`);
    }
    const duplicates = [...many.values()].filter((n) => n > 1).length;
    t.diagnostic(`acknowledged ${acked.size}; at-least-once duplicates after ${KILLS} kills: ${duplicates}`);
  } finally {
    await kill9(bus);
    await web.close();
    dir.remove();
  }
});
