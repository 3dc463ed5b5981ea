/**
 * Crash safety of absence timers: the bus runs as a child process while two clients stream A's ("created") over many
 * keys, with a B ("paid") for two of every three A's a little later, into an absence rule; it is killed with SIGKILL at
 * moments spread over the stream and restarted on the same data dir. Afterwards the timeout events in the log are
 * compared with a reference computed from the log itself (each partition's records in offset order, the documented
 * rule: an A times out unless a B of its key follows it there, accepted less than `within` after it): every expected
 * timeout is in the log exactly once, and none for an A whose B came in time.
 *
 * Size (the shape: 20 kills while 50,000 events stream over 1,000 keys — 30,000 A's and 20,000 B's):
 * CORR_CRASH_EVENTS (A's), CORR_CRASH_KEYS and CORR_CRASH_KILLS override the defaults below, which run in a few
 * minutes on two busy cores.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { LogRecord } from '../../lib/ports.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';

const EVENTS = Number(process.env.CORR_CRASH_EVENTS ?? 30_000);
const KEYS = Number(process.env.CORR_CRASH_KEYS ?? 1000);
const KILLS = Number(process.env.CORR_CRASH_KILLS ?? 20);
const BATCH = 250;
const SOURCE = '/corr-crash';
const WITHIN_MS = 3000;
/** A's B comes this many A's later in the stream (then usually well within `within`; across a kill, often not). */
const B_DELAY = 100;

function event(id: string, type: 'created' | 'paid', n: number): Record<string, unknown> {
  const key = `k${n % KEYS}`;
  return {
    specversion: '1.0',
    id,
    source: SOURCE,
    type,
    partitionkey: key,
    datacontenttype: 'application/json',
    data: { key, n },
  };
}

/** The stream: A n, and after A n+B_DELAY the B of A n unless n % 3 == 0 (those keys wait for nothing). */
function stream(): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const b = (n: number) => {
    if (n >= 0 && n % 3 !== 0) out.push(event(`b-${n}`, 'paid', n));
  };
  for (let n = 0; n < EVENTS; n++) {
    out.push(event(`a-${n}`, 'created', n));
    b(n - B_DELAY);
  }
  for (let n = Math.max(0, EVENTS - B_DELAY); n < EVENTS; n++) b(n);
  return out;
}

/**
 * The reference, from the log: per partition in offset order, every A (its id) that no B of its key follows there
 * with a timestamp less than `within` after the A's.
 */
function reference(partitions: readonly (readonly LogRecord[])[]): Set<string> {
  const out = new Set<string>();
  for (const records of partitions) {
    const pending = new Map<string, Array<{ id: string; deadline: number }>>();
    for (const { event: e, timestamp } of records) {
      if (e.source !== SOURCE) continue;
      const key = (e.data as { key: string }).key;
      const list = pending.get(key) ?? [];
      if (e.type === 'paid') {
        for (const a of list) if (timestamp >= a.deadline) out.add(a.id);
        pending.delete(key);
      } else {
        list.push({ id: e.id, deadline: timestamp + WITHIN_MS });
        pending.set(key, list);
      }
    }
    for (const list of pending.values()) for (const a of list) out.add(a.id);
  }
  return out;
}

async function gauge(bus: ChildBus, name: string, labels: string): Promise<number> {
  const metrics = await (await fetch(`${bus.url}/metrics`)).text();
  const line = metrics.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('absence timers survive SIGKILL: every expected timeout is in the log once, none for an A whose B came in time', {
  timeout: 900_000,
}, async (t) => {
  const dir = tempDir('junction-corr-crash-');
  const port = await freePort();
  const data = join(dir.path, 'data');
  let bus: ChildBus = await startChildBus(data, port);
  let running = true;
  try {
    const rule = await request(bus.url, 'PUT', '/rules/unpaid', {
      correlate: {
        first: { pattern: { source: [SOURCE], type: ['created'] } },
        followedBy: { pattern: { source: [SOURCE], type: ['paid'] } },
        key: '$.data.key',
        within: WITHIN_MS,
        mode: 'absence',
        emit: { type: 'unpaid', source: '/correlations/unpaid' },
      },
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));

    const all = stream();
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
    let acked = 0;
    let next = 0;
    /** Sends a batch until the bus accepts all of it (its entries keep their ids: the log drops what it has). */
    const send = async (batch: Record<string, unknown>[]): Promise<void> => {
      while (running) {
        try {
          const res = await fetch(`${bus.url}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/cloudevents-batch+json' },
            body: JSON.stringify(batch),
          });
          const body = (await res.json()) as { failed?: number };
          if (res.status === 200 && body.failed === 0) {
            acked += batch.length;
            return;
          }
        } catch {
          // The bus is down: try again once it is back.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const client = async () => {
      for (let i = next++; i < batches.length; i = next++)
        await send(batches[i] as Record<string, unknown>[]);
    };
    const clients = Promise.all([client(), client()]);
    let done = false;
    void clients.then(() => {
      done = true;
    });
    let duringStream = 0;
    for (let k = 1; k <= KILLS; k++) {
      const threshold = Math.floor((k * all.length) / (KILLS + 1));
      while (acked < threshold && !done) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      if (!done) duringStream++;
      await kill9(bus);
      bus = await startChildBus(data, port);
    }
    await clients;

    // Wait until every event is routed and every A has completed or timed out (the last deadlines pass after the
    // stream ends: the idle bus's clock reaches them).
    const deadline = Date.now() + 300_000;
    for (;;) {
      const lag = await gauge(bus, 'junction_router_lag_events', 'bus="default"');
      const pending = await gauge(bus, 'junction_correlate_pending', 'rule="unpaid"');
      if (lag === 0 && pending === 0) break;
      if (Date.now() > deadline) assert.fail(`still ${lag} events unrouted, ${pending} A's pending`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await stopGracefully(bus);

    const stores = openSqliteStores({ dataDir: data });
    const partitions: LogRecord[][] = [];
    try {
      for (let p = 0; p < stores.log.partitions; p++) {
        const records: LogRecord[] = [];
        for (let offset = 0; ; ) {
          const page = await stores.log.read(p, offset, 1000);
          if (page.length === 0) break;
          records.push(...page);
          offset = (page.at(-1)?.offset ?? offset) + 1;
        }
        partitions.push(records);
      }
    } finally {
      await stores.close();
    }
    const inLog = partitions.flat().filter((r) => r.event.source === SOURCE);
    assert.equal(new Set(inLog.map((r) => r.event.id)).size, inLog.length, 'each event is in the log once');
    assert.equal(inLog.length, all.length, 'every event is in the log');
    const expected = reference(partitions);
    const published = new Map<string, number>();
    for (const r of partitions.flat()) {
      if (r.event.type !== 'unpaid') continue;
      const d = r.event.data as { first: { id: string }; key: string };
      published.set(d.first.id, (published.get(d.first.id) ?? 0) + 1);
    }
    const twice = [...published].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice.slice(0, 10), [], `${twice.length} timeouts published more than once`);
    const missing = [...expected].filter((id) => !published.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} timeouts missing`);
    const extra = [...published.keys()].filter((id) => !expected.has(id));
    assert.deepEqual(extra.slice(0, 10), [], `${extra.length} timeouts for an A whose B came in time`);
    const lateB = expected.size - Math.ceil(EVENTS / 3);
    t.diagnostic(
      `${EVENTS} A's over ${KEYS} keys, ${KILLS} kills (${duringStream} while the events streamed): ${expected.size} timeouts, each once, as the reference (${lateB} of them A's whose B came too late or before them)`,
    );
  } finally {
    running = false;
    await kill9(bus);
    dir.remove();
  }
});
