/**
 * Crash safety of aggregation windows: the bus runs as a child process while two clients stream events (batches,
 * retried until acknowledged) into a count/sum aggregation over many keys; it is killed with SIGKILL at random
 * moments and restarted on the same data dir. Afterwards the windows the bus published are compared with a reference
 * computed from the log itself (each partition's events in log order, the documented watermark rule): every closed
 * window is there, with the reference's count and sum, none missing and none twice.
 *
 * Size (the issue asks 20 kills, 50,000 events, 1,000 keys): AGG_CRASH_EVENTS, AGG_CRASH_KEYS and AGG_CRASH_KILLS
 * override the defaults below, which run in a few minutes on two busy cores.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { LogRecord } from '../../lib/ports.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';

const EVENTS = Number(process.env.AGG_CRASH_EVENTS ?? 50_000);
const KEYS = Number(process.env.AGG_CRASH_KEYS ?? 1000);
const KILLS = Number(process.env.AGG_CRASH_KILLS ?? 20);
const BATCH = 250;
const SOURCE = '/agg-crash';
const WINDOW_MS = 60_000;
const LATENESS_MS = 1000;
/** Event n happens at about BASE + n × STEP_MS: about 6 events per key and window with the defaults. */
const BASE = Date.parse('2026-12-04T00:00:00Z');
const STEP_MS = 10;

function tick(n: number): Record<string, unknown> {
  const key = `k${n % KEYS}`;
  return {
    specversion: '1.0',
    id: `t-${n}`,
    source: SOURCE,
    type: 'tick',
    // Every 7th event 3 s behind its neighbours: out of order, and late when that crosses a closed window's end.
    time: new Date(BASE + n * STEP_MS - (n % 7 === 0 ? 3000 : 0)).toISOString(),
    partitionkey: key,
    datacontenttype: 'application/json',
    data: { key, amount: n % 97 },
  };
}

/** One last event per key, well after the others: its partition's watermark passes every earlier window. */
function closer(k: number): Record<string, unknown> {
  const key = `k${k}`;
  return {
    ...tick(0),
    id: `close-${k}`,
    time: new Date(BASE + EVENTS * STEP_MS + 10 * WINDOW_MS).toISOString(),
    partitionkey: key,
    data: { key, amount: 0 },
  };
}

interface Sum {
  n: number;
  total: number;
}

/**
 * The reference, from the log: per partition in offset order, the watermark before an event is the greatest event
 * time before it minus the lateness; an event counts in its window when the window ends after that watermark; a
 * window is closed when it ends at or before the partition's final watermark.
 */
function reference(partitions: readonly (readonly LogRecord[])[]): Map<string, Sum> {
  const closed = new Map<string, Sum>();
  for (const records of partitions) {
    let maxTime = Number.NEGATIVE_INFINITY;
    const windows = new Map<string, Sum & { end: number }>();
    for (const { event } of records) {
      if (event.source !== SOURCE) continue;
      const time = Date.parse(event.time as string);
      const data = event.data as { key: string; amount: number };
      const start = Math.floor(time / WINDOW_MS) * WINDOW_MS;
      if (start + WINDOW_MS > maxTime - LATENESS_MS) {
        const id = `${data.key}@${start}`;
        const w = windows.get(id) ?? { n: 0, total: 0, end: start + WINDOW_MS };
        w.n++;
        w.total += data.amount;
        windows.set(id, w);
      }
      maxTime = Math.max(maxTime, time);
    }
    for (const [id, w] of windows)
      if (w.end <= maxTime - LATENESS_MS) closed.set(id, { n: w.n, total: w.total });
  }
  return closed;
}

test('aggregation windows survive SIGKILL: every window equals the reference, none missing, none twice', {
  timeout: 900_000,
}, async (t) => {
  const dir = tempDir('junction-agg-crash-');
  const port = await freePort();
  const data = join(dir.path, 'data');
  let bus: ChildBus = await startChildBus(data, port);
  /** The clients stop retrying when the test ends (a failed assertion must not leave them looping). */
  let running = true;
  try {
    const rule = await request(bus.url, 'PUT', '/rules/per-key', {
      pattern: { source: [SOURCE] },
      aggregate: {
        groupBy: '$.data.key',
        window: { tumbling: WINDOW_MS },
        allowedLateness: LATENESS_MS,
        aggregates: { n: { count: {} }, total: { sum: '$.data.amount' } },
        emit: { type: 'tick.window', source: '/aggregations/per-key' },
      },
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));

    const batches: Record<string, unknown>[][] = [];
    for (let n = 0; n < EVENTS; n += BATCH) {
      batches.push(Array.from({ length: Math.min(BATCH, EVENTS - n) }, (_, i) => tick(n + i)));
    }
    for (let k = 0; k < KEYS; k += BATCH) {
      batches.push(Array.from({ length: Math.min(BATCH, KEYS - k) }, (_, i) => closer(k + i)));
    }
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
    // The closers go last, once every tick is in (two clients would otherwise race them past late ticks).
    const ticks = batches.length - Math.ceil(KEYS / BATCH);
    const client = async () => {
      for (let i = next++; i < ticks; i = next++) await send(batches[i] as Record<string, unknown>[]);
    };
    const clients = Promise.all([client(), client()]);
    let done = false;
    void clients.then(() => {
      done = true;
    });
    // Kills spread over the stream: the k-th once about k/(KILLS+1) of the events are in, plus a random moment.
    let duringStream = 0;
    for (let k = 1; k <= KILLS; k++) {
      const threshold = Math.floor((k * EVENTS) / (KILLS + 1));
      while (acked < threshold && !done) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      if (!done) duringStream++;
      await kill9(bus);
      bus = await startChildBus(data, port);
    }
    await clients;
    for (const batch of batches.slice(ticks)) await send(batch);

    // Wait until the router (and so the aggregator, on its batches) has taken every event.
    const deadline = Date.now() + 300_000;
    for (;;) {
      const metrics = await (await fetch(`${bus.url}/metrics`)).text();
      const lag = Number(/^junction_router_lag_events\{bus="default"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
      if (lag === 0) break;
      if (Date.now() > deadline) assert.fail(`still ${lag} events unrouted`);
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
    const ticksInLog = partitions.flat().filter((r) => r.event.source === SOURCE);
    assert.equal(
      new Set(ticksInLog.map((r) => r.event.id)).size,
      ticksInLog.length,
      'each event is in the log once',
    );
    assert.equal(ticksInLog.length, EVENTS + KEYS, 'every event is in the log');
    const expected = reference(partitions);
    const published = new Map<string, Sum>();
    for (const r of partitions.flat()) {
      if (r.event.type !== 'tick.window') continue;
      const d = r.event.data as { key: string; window: { start: string }; aggregates: Sum };
      const id = `${d.key}@${Date.parse(d.window.start)}`;
      assert.ok(!published.has(id), `window ${id} was published twice`);
      published.set(id, d.aggregates);
    }
    const missing = [...expected.keys()].filter((id) => !published.has(id));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} windows missing`);
    const extra = [...published.keys()].filter((id) => !expected.has(id));
    assert.deepEqual(extra.slice(0, 10), [], `${extra.length} windows the reference does not close`);
    for (const [id, sum] of expected) assert.deepEqual(published.get(id), sum, `window ${id}`);
    const late = ticksInLog.length - [...expected.values()].reduce((a, w) => a + w.n, 0) - KEYS;
    t.diagnostic(
      `${EVENTS} events over ${KEYS} keys, ${KILLS} kills (${duringStream} while the events streamed): ${expected.size} windows equal the reference (${late} events late or in windows still open)`,
    );
  } finally {
    running = false;
    await kill9(bus);
    dir.remove();
  }
});
