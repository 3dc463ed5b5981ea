/**
 * The DynamoDB aggregation and correlation stores on dynalite: the shared suites, commits larger than one DynamoDB
 * write (redo chunks) crashed in the middle, late appliers, and tombstones (kept, skipped, cleaned).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoAggregateStore } from '../../../lib/adapters/dynamodb/aggregate-store.ts';
import { type Item, queryAll } from '../../../lib/adapters/dynamodb/client.ts';
import { DynamoCorrelationStore } from '../../../lib/adapters/dynamodb/correlation-store.ts';
import { APPLY_DEADLINE_MS, CLEAN_MAX, TOMBSTONE_MS } from '../../../lib/adapters/dynamodb/fenced-state.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import type { AggregateCommit } from '../../../lib/ports.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { aggregateStoreSuite } from '../../ports/aggregate-store.suite.ts';
import { correlationStoreSuite } from '../../ports/correlation-store.suite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

aggregateStoreSuite('DynamoAggregateStore (shared suite)', async () => {
  const { state: table } = await db.freshTables();
  return {
    store: new DynamoAggregateStore({ client: db.client, table }),
    reopen: async () => new DynamoAggregateStore({ client: db.client, table }),
    cleanup: async () => {},
  };
});

correlationStoreSuite('DynamoCorrelationStore (shared suite)', async () => {
  const { state: table } = await db.freshTables();
  return {
    store: new DynamoCorrelationStore({ client: db.client, table }),
    reopen: async () => new DynamoCorrelationStore({ client: db.client, table }),
    cleanup: async () => {},
  };
});

/** A client that fails the `nth` (1-based) write command of the given kinds, once: a crash mid-commit. */
function crashingClient(real: DynamoDBClient, kinds: readonly string[], nth: number): DynamoDBClient {
  let seen = 0;
  let crashed = false;
  return {
    send: (command: { constructor: { name: string } }) => {
      if (!crashed && kinds.includes(command.constructor.name) && ++seen === nth) {
        crashed = true;
        return Promise.reject(new JunctionError('Internal', 'crash (injected)', { retriable: true }));
      }
      return (real.send as (c: unknown) => Promise<unknown>)(command);
    },
  } as unknown as DynamoDBClient;
}

const WINDOWS = 300;
const big = (fence: number, expectedFence: number, tag: string): AggregateCommit => ({
  partition: 0,
  expectedFence,
  fence,
  dropRules: [],
  rules: [{ rule: 'r', version: 1, state: `{"tag":"${tag}"}` }],
  windows: Array.from({ length: WINDOWS }, (_, i) => ({
    rule: 'r',
    key: `k${i}`,
    start: 0,
    state: `{"tag":"${tag}","pad":"${'x'.repeat(2_000)}"}`,
  })),
});

async function tags(
  store: DynamoAggregateStore,
): Promise<{ fence: number; tags: Set<string>; windows: number }> {
  const p = await store.load(0);
  const all = [...p.rules, ...p.windows].map((row) => (JSON.parse(row.state) as { tag: string }).tag);
  return { fence: p.fence, tags: new Set(all), windows: p.windows.length };
}

describe('DynamoDB state stores: commits over one write', () => {
  test('a commit of 300 windows (over 100 items, chunked redo) is written whole', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoAggregateStore({ client: db.client, table, chunkBytes: 64 * 1024 });
    await store.commit(big(10, 0, 'a'));
    assert.deepEqual(await tags(store), { fence: 10, tags: new Set(['a']), windows: WINDOWS });
    // No redo chunks remain once applied.
    const left = await db.client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :r)',
        ExpressionAttributeValues: { ':pk': { S: 'aggregate#0' }, ':r': { S: '~redo#' } },
      }),
    );
    assert.equal(left.Count, 0);
  });

  test('a crash while writing the redo chunks leaves the previous state; the retry commits', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoAggregateStore({ client: db.client, table, chunkBytes: 64 * 1024 });
    await store.commit(big(10, 0, 'a'));
    const crashing = new DynamoAggregateStore({
      client: crashingClient(db.client, ['BatchWriteItemCommand'], 1),
      table,
      chunkBytes: 64 * 1024,
    });
    await assert.rejects(crashing.commit(big(20, 10, 'b')), /crash \(injected\)/);
    assert.deepEqual(await tags(store), { fence: 10, tags: new Set(['a']), windows: WINDOWS });
    await crashing.commit(big(20, 10, 'b'));
    assert.deepEqual(await tags(store), { fence: 20, tags: new Set(['b']), windows: WINDOWS });
  });

  test('a crash while applying a committed redo: the next load finishes it; the retry is refused', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoAggregateStore({ client: db.client, table, chunkBytes: 64 * 1024 });
    await store.commit(big(10, 0, 'a'));
    const crashing = new DynamoAggregateStore({
      client: crashingClient(db.client, ['PutItemCommand'], 150),
      table,
      chunkBytes: 64 * 1024,
    });
    await assert.rejects(crashing.commit(big(20, 10, 'b')), /crash \(injected\)/);
    assert.deepEqual(await tags(store), { fence: 20, tags: new Set(['b']), windows: WINDOWS });
    await assert.rejects(
      crashing.commit(big(30, 10, 'c')),
      (e: unknown) => e instanceof JunctionError && e.code === 'Conflict',
    );
    await store.commit(big(30, 20, 'c'));
    assert.deepEqual(await tags(store), { fence: 30, tags: new Set(['c']), windows: WINDOWS });
  });

  // Writer A commits generation 2 (puts the window) and stalls while applying it, on the window's item; meanwhile
  // writer B loads (finishing A's redo) and commits generation 3, which rewrites the window or deletes it; then A
  // wakes and puts the window at generation 2. Before tombstones, the deleted window came back with A's state.
  for (const [third, what, after] of [
    ['c', 'undo a newer commit', { fence: 30, tags: new Set(['c']), windows: 1 }],
    [null, 'bring back an item a newer commit deleted', { fence: 30, tags: new Set(['gone']), windows: 0 }],
  ] as const) {
    test(`a late application of an older redo does not ${what}`, async () => {
      const { state: table } = await db.freshTables();
      const store = new DynamoAggregateStore({ client: db.client, table });
      const one = (fence: number, expectedFence: number, tag: string | null): AggregateCommit => ({
        ...big(fence, expectedFence, tag ?? 'gone'),
        windows: [{ rule: 'r', key: 'k', start: 0, state: tag === null ? null : `{"tag":"${tag}"}` }],
      });
      await store.commit(one(10, 0, 'a'));
      let reached!: () => void;
      const held = new Promise<void>((resolve) => {
        reached = resolve;
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const stalling = {
        send: async (command: {
          constructor: { name: string };
          input?: { Item?: Record<string, { S?: string }> };
        }) => {
          if (command.constructor.name === 'PutItemCommand' && command.input?.Item?.sk?.S === 'w#r#0#k') {
            reached();
            await released;
          }
          return (db.client.send as (c: unknown) => Promise<unknown>)(command);
        },
      } as unknown as DynamoDBClient;
      const a = new DynamoAggregateStore({ client: stalling, table }).commit(one(20, 10, 'b'));
      await held;
      assert.deepEqual(await tags(store), { fence: 20, tags: new Set(['b']), windows: 1 });
      await store.commit(one(30, 20, third));
      assert.deepEqual(await tags(store), after);
      release();
      await a;
      assert.deepEqual(await tags(store), after);
    });
  }

  test('a correlation commit over one write, crashed before its commit point, leaves the previous state', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoCorrelationStore({ client: db.client, table, chunkBytes: 16 * 1024 });
    const put = (tag: string) =>
      Array.from({ length: 200 }, (_, i) => ({
        rule: 'c',
        offset: i,
        key: `k${i}`,
        deadline: 1_000 + i,
        state: `{"tag":"${tag}","pad":"${'y'.repeat(500)}"}`,
      }));
    await store.commit({
      partition: 2,
      expectedFence: 0,
      fence: 5,
      dropRules: [],
      rules: [],
      put: put('a'),
      remove: [],
    });
    const crashing = new DynamoCorrelationStore({
      client: crashingClient(db.client, ['BatchWriteItemCommand'], 1),
      table,
      chunkBytes: 16 * 1024,
    });
    const change = {
      partition: 2,
      expectedFence: 5,
      fence: 9,
      dropRules: [],
      rules: [],
      put: put('b').slice(100),
      remove: put('b').slice(0, 100),
    };
    await assert.rejects(crashing.commit(change), /crash \(injected\)/);
    let p = await store.load(2);
    assert.equal(p.fence, 5);
    assert.equal(p.pending.length, 200);
    await crashing.commit(change);
    p = await store.load(2);
    assert.equal(p.fence, 9);
    assert.deepEqual(
      p.pending.map((e) => e.offset),
      Array.from({ length: 100 }, (_, i) => 100 + i),
    );
    assert.ok(p.pending.every((e) => e.state.includes('"b"')));
  });
});

/** Every item under a partition key, tombstones included (the table as it is, not as a load answers it). */
async function raw(table: string, pk: string): Promise<Item[]> {
  return queryAll(db.client, {
    TableName: table,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': { S: pk } },
    ConsistentRead: true,
  });
}

const tombstones = async (table: string): Promise<string[]> =>
  (await raw(table, 'aggregate#0'))
    .filter((item) => item.tomb !== undefined)
    .map((item) => item.sk?.S ?? '')
    .sort();

/** A commit of partition 0 that puts (a tag) or deletes (null) windows `keys` of rule r, and no rule row. */
const windows = (
  fence: number,
  expectedFence: number,
  keys: readonly string[],
  tag: string | null,
): AggregateCommit => ({
  partition: 0,
  expectedFence,
  fence,
  dropRules: [],
  rules: [],
  windows: keys.map((key) => ({
    rule: 'r',
    key,
    start: 0,
    state: tag === null ? null : `{"tag":"${tag}"}`,
  })),
});

const MINUTE = 60_000;

describe('DynamoDB state stores: tombstones', () => {
  test('a delete leaves a tombstone that loads skip; the next load removes it once older than TOMBSTONE_MS', async () => {
    const { state: table } = await db.freshTables();
    let clock = Date.UTC(2026, 0, 1);
    const store = new DynamoAggregateStore({ client: db.client, table, now: () => clock });
    await store.commit(windows(10, 0, ['k1', 'k2', 'k3'], 'a'));
    await store.commit(windows(20, 10, ['k1'], null));
    clock += 10 * MINUTE;
    await store.commit(windows(30, 20, ['k2'], null));
    assert.deepEqual(await tombstones(table), ['w#r#0#k1', 'w#r#0#k2']);
    let p = await store.load(0);
    assert.deepEqual(
      p.windows.map((w) => w.key),
      ['k3'],
    );
    // k1's tombstone is 11 minutes old, k2's 1 minute: a load keeps both.
    clock += MINUTE;
    await store.load(0);
    assert.deepEqual(await tombstones(table), ['w#r#0#k1', 'w#r#0#k2']);
    // k1's is TOMBSTONE_MS + 1 ms old, k2's 10 minutes younger: the load removes k1's only.
    clock += TOMBSTONE_MS - 11 * MINUTE + 1;
    p = await store.load(0);
    assert.deepEqual(await tombstones(table), ['w#r#0#k2']);
    assert.deepEqual(
      p.windows.map((w) => w.key),
      ['k3'],
    );
    const expiry = (await raw(table, 'aggregate#0')).find((item) => item.sk?.S === 'w#r#0#k2')?.ttl?.N;
    assert.ok(Number(expiry) * 1000 >= clock + TOMBSTONE_MS, 'DynamoDB TTL expires a tombstone no earlier');
    clock += 10 * MINUTE;
    await store.load(0);
    assert.deepEqual(await tombstones(table), []);
    // Neither the fence nor the live window was touched.
    p = await store.load(0);
    assert.equal(p.fence, 30);
    assert.deepEqual(
      p.windows.map((w) => [w.key, w.state]),
      [['k3', '{"tag":"a"}']],
    );
  });

  test('the cleaning never removes an item put (or deleted) again at the key of an old tombstone', async () => {
    const { state: table } = await db.freshTables();
    let clock = Date.UTC(2026, 0, 1);
    const store = new DynamoAggregateStore({ client: db.client, table, now: () => clock });
    await store.commit(windows(10, 0, ['j', 'k'], 'a'));
    await store.commit(windows(20, 10, ['j', 'k'], null));
    clock += TOMBSTONE_MS + MINUTE;
    // The cleaner has read both old tombstones; before its deletes arrive, another writer puts both windows again
    // and then deletes j again (a new tombstone, at a newer generation).
    let race: Promise<void> | undefined;
    let raced = 0;
    const racing = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'DeleteItemCommand') {
          raced += 1;
          race ??= (async () => {
            await store.commit(windows(30, 20, ['j', 'k'], 'b'));
            await store.commit(windows(40, 30, ['j'], null));
          })();
          await race;
        }
        return (db.client.send as (c: unknown) => Promise<unknown>)(command);
      },
    } as unknown as DynamoDBClient;
    await new DynamoAggregateStore({ client: racing, table, now: () => clock }).load(0);
    assert.equal(raced, 2, 'the cleaner tried to delete both old tombstones');
    assert.deepEqual(await tombstones(table), ['w#r#0#j']);
    const p = await store.load(0);
    assert.equal(p.fence, 40);
    assert.deepEqual(
      p.windows.map((w) => [w.key, w.state]),
      [['k', '{"tag":"b"}']],
    );
  });

  test(`a load removes at most CLEAN_MAX (${CLEAN_MAX}) old tombstones; the next ones the rest`, async () => {
    const { state: table } = await db.freshTables();
    let clock = Date.UTC(2026, 0, 1);
    const store = new DynamoAggregateStore({ client: db.client, table, now: () => clock });
    const keys = Array.from({ length: CLEAN_MAX + 100 }, (_, i) => `k${String(i).padStart(4, '0')}`);
    await store.commit(windows(10, 0, keys, 'a'));
    await store.commit(windows(20, 10, keys, null));
    assert.equal((await tombstones(table)).length, CLEAN_MAX + 100);
    clock += TOMBSTONE_MS + MINUTE;
    assert.equal((await store.load(0)).windows.length, 0);
    assert.equal((await tombstones(table)).length, 100);
    await store.load(0);
    assert.equal((await tombstones(table)).length, 0);
  });

  test('maxItems counts live items, not tombstones, on load and when dropping a rule', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoAggregateStore({ client: db.client, table, maxItems: 2 });
    await store.commit(windows(10, 0, ['k1', 'k2'], 'a'));
    await store.commit(windows(20, 10, ['k1', 'k2'], null));
    await store.commit(windows(30, 20, ['k3', 'k4'], 'a'));
    assert.equal((await tombstones(table)).length, 2);
    // 2 live items and 2 tombstones: within maxItems.
    assert.deepEqual(
      (await store.load(0)).windows.map((w) => w.key),
      ['k3', 'k4'],
    );
    // Dropping the rule finds its 2 live windows (the tombstones of k1 and k2 sort first and are skipped).
    await store.commit({ ...windows(40, 30, [], 'a'), dropRules: ['r'] });
    assert.deepEqual((await store.load(0)).windows, []);
    assert.deepEqual(await tombstones(table), ['r#r#', 'w#r#0#k1', 'w#r#0#k2', 'w#r#0#k3', 'w#r#0#k4']);
    await store.commit(windows(50, 40, ['k5', 'k6', 'k7'], 'a'));
    await assert.rejects(
      store.load(0),
      (e: unknown) => e instanceof JunctionError && /more than 2 items/.test(e.message),
    );
  });

  test('an applier past APPLY_DEADLINE_MS stops (retriable), the redo stays pending, the next load finishes it', async () => {
    const { state: table } = await db.freshTables();
    const keys = Array.from({ length: 50 }, (_, i) => `k${String(i).padStart(2, '0')}`);
    const store = new DynamoAggregateStore({ client: db.client, table });
    await store.commit(windows(10, 0, keys, 'a'));
    // Writer A's clock jumps past the deadline at its first write of a window (a stall of over 10 minutes).
    let clock = Date.UTC(2026, 0, 1);
    const stalling = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'PutItemCommand') clock += APPLY_DEADLINE_MS + 1;
        return (db.client.send as (c: unknown) => Promise<unknown>)(command);
      },
    } as unknown as DynamoDBClient;
    const a = new DynamoAggregateStore({ client: stalling, table, now: () => clock });
    await assert.rejects(
      a.commit(windows(20, 10, keys, 'b')),
      (e: unknown) => e instanceof JunctionError && e.retriable && /took over 600 s/.test(e.message),
    );
    const fenceItem = async () =>
      (
        await db.client.send(
          new GetItemCommand({
            TableName: table,
            Key: { pk: { S: 'aggregate#0' }, sk: { S: '!fence' } },
            ConsistentRead: true,
          }),
        )
      ).Item;
    assert.ok((await fenceItem())?.redoGen !== undefined, 'the redo stays pending');
    const applied = (await raw(table, 'aggregate#0')).filter((item) => item.state?.S === '{"tag":"b"}');
    assert.ok(applied.length < keys.length, `A stopped early (${applied.length} of ${keys.length} applied)`);
    const p = await store.load(0);
    assert.equal(p.fence, 20);
    assert.deepEqual(
      p.windows.map((w) => [w.key, w.state]),
      keys.map((k) => [k, '{"tag":"b"}']),
    );
    assert.equal((await fenceItem())?.redoGen, undefined, 'the load cleared the redo');
  });
});
