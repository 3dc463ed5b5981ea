/**
 * The correlator on a real SQLite store, against a reference model: random streams of A's and B's over a few keys with
 * log times moving forward, batches split anywhere, idle ticks anywhere, state commits failing and processes
 * restarting anywhere, the log re-delivering from a position that lags the fence. The correlated and timeout events
 * published (deduplicated by id, as the log does) are the reference's, each with the same data every time it is
 * published.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SqliteCorrelationStore } from '../../lib/adapters/sqlite/correlation-store.ts';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { validateRule } from '../../lib/core/rule.ts';
import { Correlator } from '../../lib/engine/correlator.ts';
import { Junction } from '../../lib/engine/junction.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import type { CorrelationStore, LogRecord } from '../../lib/ports.ts';
import { makeEvent } from '../helpers/events.ts';
import { noFunctions } from '../helpers/no-functions.ts';
import { tempDir } from '../helpers/paths.ts';

const WITHIN = 10_000;
const MAX_PENDING = 6;

const correlate = (mode: 'match' | 'absence', maxPending?: number) => ({
  first: { pattern: { type: ['a', 'ab'] } },
  followedBy: { filter: "type = 'b' OR type = 'ab'" },
  key: '$.data.k',
  within: WITHIN,
  mode,
  ...(maxPending === undefined ? {} : { maxPending }),
});
const rules = [
  validateRule('matched', { correlate: correlate('match') }, 1),
  validateRule('absent', { correlate: correlate('absence') }, 1),
  validateRule('bounded', { correlate: correlate('absence', MAX_PENDING) }, 1),
];

/** One step of the stream: a type, a key and how far the log's clock moved since the previous record. */
interface Item {
  readonly type: 'a' | 'b' | 'ab' | 'x';
  readonly k: number;
  readonly dt: number;
}

function stream(items: readonly Item[], partition: number): LogRecord[] {
  let t = 1_000_000;
  return items.map((item, offset) => {
    t += item.dt;
    const event = makeEvent({ id: `e-${offset}`, type: item.type, data: { k: `k${item.k}` } });
    return { partition, offset, key: 'x', timestamp: t, event };
  });
}

/**
 * The reference, a plain list per rule: before each record, the pending A's whose deadline its time reached time out;
 * a B completes every pending A of its key; an A is kept unless `maxPending` are pending. At the end the clock is
 * `final`. Answers, per rule, A's id → its outcome ("B's id" for matched, "timeout").
 */
function reference(records: readonly LogRecord[], final: number, maxPending: number): Map<string, string> {
  const out = new Map<string, string>();
  let pending: Array<{ id: string; key: string; deadline: number }> = [];
  const expire = (now: number) => {
    for (const p of pending) if (p.deadline <= now) out.set(p.id, 'timeout');
    pending = pending.filter((p) => p.deadline > now);
  };
  for (const r of records) {
    expire(r.timestamp);
    const type = r.event.type;
    const key = (r.event.data as { k: string }).k;
    if (type === 'b' || type === 'ab') {
      for (const p of pending) if (p.key === key) out.set(p.id, r.event.id);
      pending = pending.filter((p) => p.key !== key);
    }
    if ((type === 'a' || type === 'ab') && pending.length < maxPending) {
      pending.push({ id: r.event.id, key, deadline: r.timestamp + WITHIN });
    }
  }
  expire(final);
  return out;
}

/** What the correlator published, per rule: A's id → its outcome, as the reference writes it. */
function outcomes(published: ReadonlyMap<string, CloudEvent>): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>(rules.map((r) => [r.name, new Map()]));
  for (const e of published.values()) {
    const data = e.data as {
      rule: string;
      first: { id: string };
      followedBy?: { id: string };
      deadline?: string;
    };
    const rule = out.get(data.rule) as Map<string, string>;
    assert.ok(!rule.has(data.first.id), `${data.rule}: two outcomes for ${data.first.id}`);
    rule.set(data.first.id, data.followedBy?.id ?? 'timeout');
  }
  return out;
}

describe('Correlator under random crashes (property)', () => {
  test('batches split anywhere, idle ticks, commits failing, restarts and a lagging log position: the events published (deduplicated by id) are the reference model’s', async () => {
    const dir = tempDir('junction-correlator-prop-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              type: fc.constantFrom('a', 'a', 'b', 'ab', 'x') as fc.Arbitrary<Item['type']>,
              k: fc.integer({ min: 0, max: 3 }),
              // Whole seconds (some 0): a B exactly `within` after its A (too late) comes up often.
              dt: fc.integer({ min: 0, max: 6 }).map((s) => s * 1000),
            }),
            { minLength: 1, maxLength: 80, size: 'max' },
          ),
          fc.array(
            fc.record({
              size: fc.integer({ min: 1, max: 12 }),
              fail: fc.boolean(),
              crash: fc.boolean(),
              tick: fc.boolean(),
              lag: fc.nat(10),
            }),
            { minLength: 1, maxLength: 40 },
          ),
          fc.integer({ min: 0, max: 20 }).map((s) => s * 1000),
          async (items, plan, tail) => {
            run++;
            const partition = run;
            const input = stream(items, partition);
            const final = (input.at(-1) as LogRecord).timestamp + tail;
            const real = new SqliteCorrelationStore(db);
            let failNext = false;
            const store: CorrelationStore = {
              load: (p) => real.load(p),
              commit: (change) => {
                if (failNext) {
                  failNext = false;
                  return Promise.reject(new Error('crash before the commit'));
                }
                return real.commit(change);
              },
            };
            const log = new Map<string, CloudEvent>();
            // The log's end: records up to it are appended; the next one's timestamp is the bus's time meanwhile.
            let appended = 0;
            const now = () => (appended < input.length ? (input[appended] as LogRecord).timestamp : final);
            const fresh = () => {
              const c = new Correlator({
                store,
                metrics: new Metrics(),
                clock: { now },
                marginMs: 0,
                partitions: 1,
                endOffsets: async () => [{ partition, offset: appended }],
                publish: async (events) => {
                  for (const e of events) {
                    const known = log.get(e.id);
                    if (known !== undefined)
                      assert.deepEqual(known.data, e.data, `${e.id} published again with other data`);
                    else log.set(e.id, e);
                  }
                },
              });
              for (const r of rules) c.set(r);
              return c;
            };
            let correlator = fresh();
            let position = 0;
            let step = 0;
            while (position < input.length) {
              const planned = plan[step % plan.length] as (typeof plan)[number];
              const p = step++ % 2 === 0 ? planned : { ...planned, fail: false, crash: false };
              appended = Math.max(appended, Math.min(input.length, position + p.size + (p.lag % 3)));
              if (p.tick) {
                try {
                  await correlator.tick();
                } catch {
                  // A failure armed for a batch that was under the fence (nothing to commit) fails the tick's commit
                  // instead: the bus's tick loop reports it and ticks again, as here.
                }
              }
              const batch = input.slice(position, position + p.size);
              failNext = p.fail;
              try {
                await correlator.process(batch);
                if (!p.crash || p.lag === 0) position += batch.length;
              } catch {
                // The handler failed: the log hands the batch again.
              }
              if (p.crash) correlator = fresh();
              if (step > 2000) assert.fail('no progress');
            }
            // The bus idles: the clock reaches `final`.
            appended = input.length;
            failNext = false;
            await correlator.tick();
            const got = outcomes(log);
            assert.deepEqual(
              got.get('matched'),
              new Map([...reference(input, final, Infinity)].filter(([, o]) => o !== 'timeout')),
            );
            assert.deepEqual(
              got.get('absent'),
              new Map([...reference(input, final, Infinity)].filter(([, o]) => o === 'timeout')),
            );
            assert.deepEqual(
              got.get('bounded'),
              new Map([...reference(input, final, MAX_PENDING)].filter(([, o]) => o === 'timeout')),
            );
          },
        ),
        {
          numRuns: 60,
          // Found by CI (the test had no try around its ticks): a failure armed for a batch under the fence failed
          // the next tick's commit instead.
          examples: [
            [
              [
                { type: 'a', k: 0, dt: 0 },
                { type: 'a', k: 0, dt: 0 },
                { type: 'a', k: 0, dt: 0 },
              ],
              [
                { size: 1, fail: true, crash: true, tick: false, lag: 1 },
                { size: 1, fail: false, crash: false, tick: true, lag: 0 },
                { size: 2, fail: false, crash: true, tick: false, lag: 1 },
                { size: 1, fail: false, crash: false, tick: false, lag: 0 },
              ],
              10_000,
            ],
          ],
        },
      );
    } finally {
      db.close();
      dir.remove();
    }
  });
});

describe('Correlator events', () => {
  test('a correlated event carries A and B, a timeout event A and its deadline; ids stable across a restart', async () => {
    const dir = tempDir('junction-correlator-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      const published: CloudEvent[] = [];
      let now = 0;
      const open = () => {
        const c = new Correlator({
          store: new SqliteCorrelationStore(db),
          metrics: new Metrics(),
          clock: { now: () => now },
          marginMs: 0,
          partitions: 1,
          endOffsets: async () => [{ partition: 0, offset: 3 }],
          publish: async (events) => {
            published.push(...events);
          },
        });
        for (const r of rules.slice(0, 2)) c.set(r);
        return c;
      };
      const a1 = makeEvent({ id: 'a1', type: 'a', data: { k: 'order-1' } });
      const a2 = makeEvent({ id: 'a2', type: 'a', data: { k: 'order-2' } });
      const b1 = makeEvent({ id: 'b1', type: 'b', data: { k: 'order-1' } });
      const c = open();
      await c.process([
        { partition: 0, offset: 0, key: 'x', timestamp: 1000, event: a1 },
        { partition: 0, offset: 1, key: 'x', timestamp: 2000, event: a2 },
        { partition: 0, offset: 2, key: 'x', timestamp: 3000, event: b1 },
      ]);
      assert.equal(published.length, 1);
      const matched = published[0] as CloudEvent;
      assert.equal(matched.type, 'junction.correlated');
      assert.equal(matched.source, '/correlations/matched');
      assert.equal(matched.subject, 'order-1');
      assert.equal(matched.time, new Date(3000).toISOString());
      const data = matched.data as { first: CloudEvent; followedBy: CloudEvent; key: string };
      assert.equal(data.key, 'order-1');
      assert.deepEqual(data.first.data, { k: 'order-1' });
      assert.equal(data.followedBy.id, 'b1');
      // Just before a2's deadline nothing times out; at it, a2 does — once, also after a restart.
      now = 2000 + WITHIN - 1;
      await c.tick();
      assert.equal(published.length, 1);
      now = 2000 + WITHIN;
      await open().tick();
      await c.tick();
      const timeouts = published.filter((e) => e.type === 'junction.absent');
      assert.equal(new Set(timeouts.map((e) => e.id)).size, 1, JSON.stringify(timeouts.map((e) => e.id)));
      const t = timeouts[0] as CloudEvent;
      assert.equal((t.data as { first: { id: string } }).first.id, 'a2');
      assert.equal((t.data as { deadline: string }).deadline, new Date(2000 + WITHIN).toISOString());
      assert.equal(t.time, new Date(2000 + WITHIN).toISOString());
      // A process started afresh fires nothing more (the timer's removal was committed).
      const before = published.length;
      await open().tick();
      assert.equal(published.length, before);
    } finally {
      db.close();
      dir.remove();
    }
  });

  test('an A over 8 KiB is carried without its data (data.cut); a key with a control character is not the subject', async () => {
    const dir = tempDir('junction-correlator-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      const published: CloudEvent[] = [];
      const c = new Correlator({
        store: new SqliteCorrelationStore(db),
        metrics: new Metrics(),
        clock: { now: () => 10 * WITHIN },
        marginMs: 0,
        partitions: 1,
        endOffsets: async () => [{ partition: 0, offset: 2 }],
        publish: async (events) => {
          published.push(...events);
        },
      });
      c.set(rules[1] as (typeof rules)[number]);
      const big = makeEvent({ id: 'big', type: 'a', data: { k: 'x', pad: 'p'.repeat(9000) } });
      const odd = makeEvent({ id: 'odd', type: 'a', data: { k: 'x\u0001y' } });
      await c.process([
        { partition: 0, offset: 0, key: 'x', timestamp: 0, event: big },
        { partition: 0, offset: 1, key: 'x', timestamp: 0, event: odd },
      ]);
      await c.tick();
      assert.equal(published.length, 2);
      const [first, second] = published as [CloudEvent, CloudEvent];
      const d1 = first.data as { first: Record<string, unknown>; cut?: string[] };
      assert.equal(d1.first.id, 'big');
      assert.equal(d1.first.data, undefined);
      assert.deepEqual(d1.cut, ['first']);
      assert.equal(first.subject, 'x');
      const d2 = second.data as { first: { data: unknown }; key: string; cut?: string[] };
      assert.deepEqual(d2.first.data, { k: 'x\u0001y' });
      assert.equal(d2.cut, undefined);
      assert.equal(d2.key, 'x\u0001y');
      assert.equal(second.subject, undefined);
    } finally {
      db.close();
      dir.remove();
    }
  });

  test('a tick does not move the clock of a partition whose records are not all applied', async () => {
    const dir = tempDir('junction-correlator-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      const published: CloudEvent[] = [];
      let end = 1;
      const c = new Correlator({
        store: new SqliteCorrelationStore(db),
        metrics: new Metrics(),
        clock: { now: () => 10 * WITHIN },
        marginMs: 0,
        partitions: 1,
        endOffsets: async () => [{ partition: 0, offset: end }],
        publish: async (events) => {
          published.push(...events);
        },
      });
      c.set(rules[1] as (typeof rules)[number]);
      const a = makeEvent({ id: 'a', type: 'a', data: { k: 'x' } });
      const b = makeEvent({ id: 'b', type: 'b', data: { k: 'x' } });
      await c.process([{ partition: 0, offset: 0, key: 'x', timestamp: 0, event: a }]);
      end = 2; // b is in the log, not yet applied: its B came in time
      await c.tick();
      assert.deepEqual(published, []);
      await c.process([{ partition: 0, offset: 1, key: 'x', timestamp: WITHIN - 1, event: b }]);
      await c.tick();
      assert.deepEqual(published, []);
    } finally {
      db.close();
      dir.remove();
    }
  });
});

describe('correlation rules at PUT', () => {
  const refused = (body: unknown, field: string) =>
    assert.throws(
      () => validateRule('r', body, 1),
      (e: unknown) => e instanceof JunctionError && e.code === 'InvalidRule' && e.field === field,
      field,
    );
  const ok = correlate('absence');
  test('each bad setting is refused naming its field', () => {
    refused({ correlate: { ...ok, within: '10ms' } }, 'correlate.within');
    refused({ correlate: { ...ok, within: undefined } }, 'correlate.within');
    refused({ correlate: { ...ok, followedBy: undefined } }, 'correlate.followedBy');
    refused({ correlate: { ...ok, first: {} } }, 'correlate.first');
    refused({ correlate: { ...ok, first: { pattern: { type: 'a' } } } }, 'correlate.first.pattern');
    refused({ correlate: { ...ok, followedBy: { filter: 'type =' } } }, 'correlate.followedBy.filter');
    refused({ correlate: { ...ok, key: '' } }, 'correlate.key');
    refused({ correlate: { ...ok, mode: 'late' } }, 'correlate.mode');
    refused({ correlate: { ...ok, maxPending: 0 } }, 'correlate.maxPending');
    refused({ correlate: { ...ok, emit: { source: 'a b' } } }, 'correlate.emit.source');
    refused({ correlate: { ...ok, extra: 1 } }, 'correlate.extra');
    refused({ pattern: { type: ['a'] }, correlate: ok }, 'pattern');
    refused({ correlate: ok, targets: [{ id: 't', type: 'http', url: 'http://127.0.0.1:1/' }] }, 'targets');
  });
  test('a valid rule is stored with every default filled in', () => {
    const rule = validateRule('unpaid', { correlate: { ...ok, within: '15m', mode: undefined } }, 1);
    assert.deepEqual(rule.correlate, {
      first: { pattern: { type: ['a', 'ab'] } },
      followedBy: { filter: "type = 'b' OR type = 'ab'" },
      key: '$.data.k',
      within: 900_000,
      mode: 'match',
      maxPending: 100_000,
      emit: { type: 'junction.correlated', source: '/correlations/unpaid' },
    });
    assert.deepEqual(rule.targets, []);
  });
});

describe('Junction and correlation rules', () => {
  test('a bus without a correlation store (the Kafka log, AWS) refuses them, naming the field; one with it takes them', async () => {
    const dir = tempDir('junction-correlator-');
    const stores = openSqliteStores({ dataDir: dir.path });
    try {
      const body = { correlate: correlate('absence') };
      const without = await Junction.open({ ...stores, functions: noFunctions });
      await assert.rejects(
        without.putRule('corr', body),
        (e: unknown) => e instanceof JunctionError && e.code === 'InvalidRule' && e.field === 'correlate',
      );
      const withStore = await Junction.open({
        ...stores,
        functions: noFunctions,
        correlations: new SqliteCorrelationStore(stores.database),
      });
      const { rule, created } = await withStore.putRule('corr', body);
      assert.equal(created, true);
      assert.deepEqual(rule.targets, []);
      assert.equal(rule.correlate?.within, WITHIN);
      await withStore.stop();
      await without.stop();
    } finally {
      await stores.close();
      dir.remove();
    }
  });
});
