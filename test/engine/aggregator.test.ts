/**
 * The aggregator on a real SQLite store: exactly-once counting across a restart (the fence), and the same event ids
 * when a batch is processed again after its state commit failed.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { SqliteAggregateStore } from '../../lib/adapters/sqlite/aggregate-store.ts';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { validateRule } from '../../lib/core/rule.ts';
import { Aggregator } from '../../lib/engine/aggregator.ts';
import { Junction } from '../../lib/engine/junction.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import type { AggregateCommit, AggregateStore, LogRecord } from '../../lib/ports.ts';
import { makeEvent } from '../helpers/events.ts';
import { noFunctions } from '../helpers/no-functions.ts';
import { tempDir } from '../helpers/paths.ts';

const rule = validateRule(
  'per-key',
  {
    pattern: { type: ['sale'] },
    aggregate: {
      groupBy: '$.data.k',
      window: { tumbling: '10s' },
      aggregates: { n: { count: {} }, total: { sum: '$.data.amount' } },
      emit: { type: 'sale.window' },
    },
  },
  1,
);

/** The same, correcting closed windows for 10 s of watermark with each late event (a new revision each). */
const correcting = validateRule(
  'per-key-corrected',
  {
    pattern: { type: ['sale'] },
    aggregate: {
      groupBy: '$.data.k',
      window: { tumbling: '10s' },
      aggregates: { n: { count: {} }, total: { sum: '$.data.amount' } },
      emit: { type: 'sale.window.corrected' },
      late: 'correct',
      correctFor: '10s',
    },
  },
  1,
);

/** Record i: key k<i%3>, amount i, time i seconds. */
function record(i: number): LogRecord {
  const event = makeEvent({
    id: `sale-${i}`,
    type: 'sale',
    time: new Date(i * 1000).toISOString(),
    data: { k: `k${i % 3}`, amount: i },
  });
  return { partition: 0, offset: i, key: 'x', timestamp: 0, event };
}

const records = (from: number, to: number) => Array.from({ length: to - from }, (_, j) => record(from + j));

function open(store: AggregateStore, published: CloudEvent[]): Aggregator {
  const aggregator = new Aggregator({
    store,
    metrics: new Metrics(),
    publish: async (events) => {
      published.push(...events);
    },
  });
  aggregator.set(rule);
  return aggregator;
}

/** Windows [0,10) and [10,20) per key, as the reference sums them. */
function reference(upTo: number): Map<string, { n: number; total: number }> {
  const out = new Map<string, { n: number; total: number }>();
  for (let i = 0; i < upTo; i++) {
    const id = `k${i % 3}@${Math.floor(i / 10) * 10_000}`;
    const w = out.get(id) ?? { n: 0, total: 0 };
    w.n++;
    w.total += i;
    out.set(id, w);
  }
  return out;
}

function windows(published: readonly CloudEvent[]): Map<string, { n: number; total: number }> {
  const out = new Map<string, { n: number; total: number }>();
  for (const e of published) {
    const data = e.data as {
      key: string;
      window: { start: string };
      aggregates: { n: number; total: number };
    };
    const id = `${data.key}@${Date.parse(data.window.start)}`;
    assert.ok(!out.has(id), `${id} published twice`);
    out.set(id, data.aggregates);
  }
  return out;
}

describe('Aggregator', () => {
  const dir = tempDir('junction-aggregator-');
  const databases: SqliteDatabase[] = [];
  after(() => {
    for (const db of databases) db.close();
    dir.remove();
  });

  test('counts a record once when the log hands it again after a restart (the fence)', async () => {
    const db = new SqliteDatabase({ dataDir: `${dir.path}` });
    databases.push(db);
    const store = new SqliteAggregateStore(db);
    const published: CloudEvent[] = [];
    await open(store, published).process(records(0, 15));
    // A restart before the log committed its position: the log hands 5..19 again, from a fresh aggregator.
    await open(store, published).process(records(5, 25));
    // Records 20..24 closed [0,10) and [10,20) of every key.
    const expected = reference(20);
    assert.deepEqual(windows(published), expected);
    assert.equal(published[0]?.type, 'sale.window');
    assert.equal(published[0]?.source, '/aggregations/per-key');
  });

  test('a partition that moved away and back: forget(partition) reads its state afresh; without it a stale window is published', async () => {
    // Two processes sharing one store (the Kafka log: a rebalance moves partition 0 from A to B and back). A folds
    // 0..12, B 12..25, then A gets 25..35 (which close [20,30)). A kept 0..12 in memory: folding on that stale state
    // publishes [10,20) again (its own, missing B's records 12..19) before the fence refuses the commit — a wrong
    // window under the id B published it with. With forget(0) first A reads B's state and publishes only [20,30).
    for (const forget of [false, true]) {
      const db = new SqliteDatabase({ dataDir: tempDir('junction-aggregator-').path });
      databases.push(db);
      const store = new SqliteAggregateStore(db);
      const byA: CloudEvent[] = [];
      const byB: CloudEvent[] = [];
      const a = open(store, byA);
      const b = open(store, byB);
      await a.process(records(0, 12));
      await b.process(records(12, 25));
      const before = byA.length;
      if (forget) a.forget(0);
      const moved = a.process(records(25, 35));
      if (!forget) {
        await assert.rejects(moved, (e: unknown) => e instanceof JunctionError && e.code === 'Conflict');
        const stale = byA.slice(before).map((e) => e.data as { window: { start: string } });
        assert.ok(
          stale.some((d) => Date.parse(d.window.start) === 10_000),
          'the stale state published [10,20) again before the fence refused it',
        );
        continue;
      }
      await moved;
      const again = byA
        .slice(before)
        .map((e) => Date.parse((e.data as { window: { start: string } }).window.start));
      assert.deepEqual([...new Set(again)], [20_000], 'only [20,30) closes now');
      assert.equal(again.length, 3, 'one window per key');
    }
  });

  test('a batch whose state commit failed publishes the same ids when it is processed again', async () => {
    const db = new SqliteDatabase({ dataDir: tempDir('junction-aggregator-').path });
    databases.push(db);
    const real = new SqliteAggregateStore(db);
    let failNext = false;
    const store: AggregateStore = {
      load: (p) => real.load(p),
      commit: (change: AggregateCommit) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('disk full'));
        }
        return real.commit(change);
      },
    };
    const published: CloudEvent[] = [];
    const aggregator = open(store, published);
    await aggregator.process(records(0, 8));
    failNext = true;
    await assert.rejects(aggregator.process(records(8, 12)), /disk full/);
    const first = published.map((e) => e.id);
    assert.equal(first.length, 3, 'the windows [0,10) closed and were published before the commit failed');
    // The log hands the batch again (its position did not move): the same windows, the same ids and data.
    await aggregator.process(records(8, 12));
    assert.deepEqual(
      published.slice(3).map((e) => e.id),
      first,
    );
    assert.deepEqual(
      published.slice(3).map((e) => e.data),
      published.slice(0, 3).map((e) => e.data),
    );
    assert.deepEqual(windows(published.slice(3)), reference(10));
  });

  test('a changed rule starts its windows afresh; its own events are not folded', async () => {
    const db = new SqliteDatabase({ dataDir: tempDir('junction-aggregator-').path });
    databases.push(db);
    const store = new SqliteAggregateStore(db);
    const published: CloudEvent[] = [];
    const aggregator = open(store, published);
    await aggregator.process(records(0, 5));
    const changed = validateRule(
      'per-key',
      {
        pattern: { type: ['sale'] },
        aggregate: {
          groupBy: '$.data.k',
          window: { tumbling: '10s' },
          aggregates: { n: { count: {} } },
          emit: { type: 'sale' },
        },
      },
      2,
      rule,
    );
    aggregator.set(changed);
    // Its emit type is `sale`, like the events it folds: an event it published (its source and type) is skipped.
    const own = record(6);
    const batch = records(5, 20);
    batch[1] = { ...own, event: { ...own.event, source: '/aggregations/per-key' } };
    await aggregator.process(batch);
    const counts = published.map((e) => (e.data as { aggregates: { n: number } }).aggregates.n);
    assert.deepEqual(
      counts.sort(),
      [1, 1, 2],
      "only records 5, 7, 8, 9 count in [0,10): 0..4 went with the old version, 6 is the rule's own",
    );
    const loaded = await store.load(0);
    assert.ok(loaded.rules.every((r) => r.version === 2));
  });
});

describe('Aggregator events', () => {
  test('a key an attribute cannot hold (a control character) is in the data only, not the subject', async () => {
    const dir = tempDir('junction-aggregator-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      const published: CloudEvent[] = [];
      const odd = (i: number, k: string): LogRecord => ({
        ...record(i),
        event: makeEvent({
          id: `odd-${i}`,
          type: 'sale',
          time: new Date(i * 1000).toISOString(),
          data: { k, amount: 1 },
        }),
      });
      await open(new SqliteAggregateStore(db), published).process([
        odd(0, 'a\u0001b'),
        odd(1, 'plain'),
        odd(20, 'x'),
      ]);
      const byKey = new Map(published.map((e) => [(e.data as { key: string }).key, e]));
      assert.equal(byKey.get('a\u0001b')?.subject, undefined);
      assert.equal(byKey.get('plain')?.subject, 'plain');
    } finally {
      db.close();
      dir.remove();
    }
  });
});

describe('Aggregator state of deleted rules', () => {
  test('is dropped at the next batch, also by a process that starts with no aggregation rule', async () => {
    const dir = tempDir('junction-aggregator-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      const store = new SqliteAggregateStore(db);
      await open(store, []).process(records(0, 15));
      assert.ok((await store.load(0)).windows.length > 0);
      // The rule was deleted while the bus was down: the new process has none.
      const none = new Aggregator({ store, metrics: new Metrics(), publish: async () => undefined });
      await none.process(records(15, 20));
      const after = await store.load(0);
      assert.deepEqual([after.rules, after.windows, after.fence], [[], [], 20]);
      // Nothing left: later batches write nothing.
      await none.process(records(20, 25));
      assert.equal((await store.load(0)).fence, 20);
    } finally {
      db.close();
      dir.remove();
    }
  });
});

describe('Junction and aggregation rules', () => {
  test('a bus without an aggregate store (the Kafka log, AWS) refuses them, naming the field; one with it takes them', async () => {
    const dir = tempDir('junction-aggregator-');
    const stores = openSqliteStores({ dataDir: dir.path });
    try {
      const body = {
        pattern: { type: ['sale'] },
        aggregate: { window: { tumbling: '1m' }, aggregates: { n: { count: {} } } },
      };
      const without = await Junction.open({ ...stores, functions: noFunctions });
      await assert.rejects(
        without.putRule('agg', body),
        (e: unknown) => e instanceof JunctionError && e.code === 'InvalidRule' && e.field === 'aggregate',
      );
      const withStore = await Junction.open({
        ...stores,
        functions: noFunctions,
        aggregates: new SqliteAggregateStore(stores.database),
      });
      const { rule, created } = await withStore.putRule('agg', body);
      assert.equal(created, true);
      assert.deepEqual(rule.targets, []);
      assert.deepEqual(rule.aggregate?.window, { tumbling: 60_000 });
      await withStore.stop();
      await without.stop();
    } finally {
      await stores.close();
      dir.remove();
    }
  });
});

describe('Aggregator under random crashes (property)', () => {
  test('batches split anywhere, commits failing anywhere, the log re-delivering from a lagging position: the windows published (deduplicated by id) are those of one clean pass', async () => {
    const dir = tempDir('junction-aggregator-prop-');
    const db = new SqliteDatabase({ dataDir: dir.path });
    let run = 0;
    let corrections = 0;
    try {
      // Times move forward with jitter (some events late): record i has time i s minus 0–7 s.
      const stream = (jitter: readonly number[]) =>
        jitter.map((j, i) => {
          const r = record(i);
          return {
            ...r,
            event: makeEvent({
              id: `p-${i}`,
              type: 'sale',
              time: new Date(Math.max(0, i * 1000 - j * 1000)).toISOString(),
              data: { k: `k${i % 4}`, amount: i },
            }),
          };
        });
      const clean = async (records: readonly LogRecord[]): Promise<Map<string, unknown>> => {
        const published: CloudEvent[] = [];
        const cleanDir = tempDir('junction-aggregator-');
        const cleanDb = new SqliteDatabase({ dataDir: cleanDir.path });
        try {
          const both = open(new SqliteAggregateStore(cleanDb), published);
          both.set(correcting);
          await both.process(records);
        } finally {
          cleanDb.close();
          cleanDir.remove();
        }
        return new Map(published.map((e) => [e.id, e.data]));
      };
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 80, size: 'max' }),
          fc.array(
            fc.record({
              size: fc.integer({ min: 1, max: 12 }),
              fail: fc.boolean(),
              crash: fc.boolean(),
              lag: fc.nat(10),
            }),
            {
              minLength: 1,
              maxLength: 40,
            },
          ),
          async (jitter, plan) => {
            run++;
            const records = stream(jitter);
            const expected = await clean(records);
            // A fresh partition of a fresh database per run (each run its own partition number in one file).
            const partition = run;
            const input = records.map((r) => ({ ...r, partition }));
            const real = new SqliteAggregateStore(db);
            let failNext = false;
            const store: AggregateStore = {
              load: (p) => real.load(p),
              commit: (change) => {
                if (failNext) {
                  failNext = false;
                  return Promise.reject(new Error('crash before the commit'));
                }
                return real.commit(change);
              },
            };
            const log = new Map<string, unknown>();
            const publishInto = (into: Map<string, unknown>) => async (events: readonly CloudEvent[]) => {
              for (const e of events) {
                if (into.has(e.id))
                  assert.deepEqual(into.get(e.id), e.data, `${e.id} published again with other data`);
                else into.set(e.id, e.data);
              }
            };
            const fresh = () => {
              const a = new Aggregator({ store, metrics: new Metrics(), publish: publishInto(log) });
              a.set(rule);
              a.set(correcting);
              return a;
            };
            let aggregator = fresh();
            let position = 0; // the log's committed position: it may lag behind the aggregator's fence
            let step = 0;
            while (position < input.length) {
              const planned = plan[step % plan.length] as (typeof plan)[number];
              // Every other attempt runs clean, so that the stream gets through.
              const p = step++ % 2 === 0 ? planned : { ...planned, fail: false, crash: false };
              const batch = input.slice(position, position + p.size);
              failNext = p.fail;
              try {
                await aggregator.process(batch);
                // The log commits its position only sometimes before a crash (lag), else past the batch.
                if (!p.crash || p.lag === 0) position += batch.length;
              } catch {
                // The handler failed: the log hands the batch again.
              }
              if (p.crash) aggregator = fresh();
              if (step > 2000) assert.fail('no progress');
            }
            // The windows closed by the clean pass are the ones published, with its data.
            const clean2 = new Map(
              [...expected].map(([id, data]) => [
                id.replace(/\.\d+\.(\d+)\.([^.]+)(\.r\d+)?$/, '.X.$1.$2$3'),
                data,
              ]),
            );
            const got = new Map(
              [...log].map(([id, data]) => [
                id.replace(/\.\d+\.(\d+)\.([^.]+)(\.r\d+)?$/, '.X.$1.$2$3'),
                data,
              ]),
            );
            assert.deepEqual(got, clean2);
            if ([...expected.keys()].some((id) => /\.r\d+$/.test(id))) corrections++;
          },
        ),
        { numRuns: 30 },
      );
      // The correcting rule did correct windows in some runs (the property is not vacuous for it).
      assert.ok(corrections > 0, 'no run published a correction');
    } finally {
      db.close();
      dir.remove();
    }
  });
});
