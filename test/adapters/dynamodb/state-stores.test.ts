/**
 * The DynamoDB aggregation and correlation stores on dynalite: the shared suites, and commits larger than one
 * DynamoDB write (redo chunks) crashed in the middle.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoAggregateStore } from '../../../lib/adapters/dynamodb/aggregate-store.ts';
import { DynamoCorrelationStore } from '../../../lib/adapters/dynamodb/correlation-store.ts';
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

  test('a late application of an older redo does not undo a newer commit', async () => {
    const { state: table } = await db.freshTables();
    const store = new DynamoAggregateStore({ client: db.client, table });
    const one = (fence: number, expectedFence: number, tag: string): AggregateCommit => ({
      ...big(fence, expectedFence, tag),
      windows: [{ rule: 'r', key: 'k', start: 0, state: `{"tag":"${tag}"}` }],
    });
    await store.commit(one(10, 0, 'a'));
    // Writer A commits generation 2 and stalls while applying it, on the window's item.
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
    // Meanwhile writer B loads (finishing A's redo) and commits generation 3.
    assert.deepEqual(await tags(store), { fence: 20, tags: new Set(['b']), windows: 1 });
    await store.commit(one(30, 20, 'c'));
    release();
    await a;
    assert.deepEqual(await tags(store), { fence: 30, tags: new Set(['c']), windows: 1 });
  });

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
