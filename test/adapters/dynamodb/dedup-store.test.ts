/** The DynamoDB dedup store on dynalite: windows, expired-but-present items, atomic claims. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDedupStore } from '../../../lib/adapters/dynamodb/dedup-store.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

const T0 = 1_700_000_000_000;

async function open(): Promise<{
  store: DynamoDedupStore;
  table: string;
  clock: { t: number; now(): number };
}> {
  const { dedup: table } = await db.freshTables();
  const clock = {
    t: T0,
    now() {
      return this.t;
    },
  };
  return { store: new DynamoDedupStore({ client: db.client, table, clock }), table, clock };
}

describe('DynamoDedupStore', () => {
  test('answers seen for remembered keys until their window passes', async () => {
    const { store, clock } = await open();
    assert.deepEqual(await store.seen(['a', 'b']), [false, false]);
    await store.remember(['a'], 1_000);
    assert.deepEqual(await store.seen(['a', 'b', 'a']), [true, false, true]);
    clock.t = T0 + 999;
    assert.deepEqual(await store.seen(['a']), [true]);
    clock.t = T0 + 1_000;
    assert.deepEqual(await store.seen(['a']), [false], 'expired but not yet deleted counts as absent');
  });

  test('writes a TTL attribute in epoch seconds at the window end', async () => {
    const { store, table } = await open();
    await store.remember(['k'], 60_000);
    const out = await db.client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'k' } } }));
    assert.equal(out.Item?.ttl?.N, String((T0 + 60_000) / 1000));
    assert.equal(out.Item?.expiresAt?.N, String(T0 + 60_000));
  });

  test('extends a window but never shortens it', async () => {
    const { store, clock } = await open();
    await store.remember(['k'], 10_000);
    await store.remember(['k'], 1_000);
    clock.t = T0 + 5_000;
    assert.deepEqual(await store.seen(['k']), [true]);
    await store.remember(['k'], 10_000);
    clock.t = T0 + 14_000;
    assert.deepEqual(await store.seen(['k']), [true]);
  });

  test('lets exactly one of concurrent claims of a key win, and a key again after its window', async () => {
    const { store, clock } = await open();
    const results = await Promise.all([
      store.claim(['x', 'y'], 1_000),
      store.claim(['x'], 1_000),
      store.claim(['x'], 1_000),
    ]);
    assert.equal(results.flat().filter((won, i) => won && i !== 1).length, 1, 'one winner for x');
    assert.equal(results[0]?.[1], true, 'y claimed');
    assert.deepEqual(await store.claim(['x', 'x'], 1_000), [false, false]);
    clock.t = T0 + 1_000;
    assert.deepEqual(await store.claim(['x', 'x'], 1_000), [true, false]);
  });

  test('treats an expired item left behind by TTL as absent', async () => {
    const { store, table } = await open();
    await db.client.send(
      new PutItemCommand({ TableName: table, Item: { pk: { S: 'old' }, expiresAt: { N: String(T0 - 1) } } }),
    );
    assert.deepEqual(await store.seen(['old']), [false]);
    assert.deepEqual(await store.claim(['old'], 1_000), [true]);
  });

  test('handles keys longer than a partition key holds and batches over 100 keys', async () => {
    const { store } = await open();
    const long = `urn:${'x'.repeat(5_000)}\u0000id`;
    const many = Array.from({ length: 150 }, (_, i) => `k${i}`);
    await store.remember([long, ...many.slice(0, 75)], 1_000);
    const seen = await store.seen([long, ...many]);
    assert.equal(seen[0], true);
    assert.equal(seen.filter(Boolean).length, 76);
  });

  test('rejects a window that is not positive, naming the field', async () => {
    const { store } = await open();
    await assert.rejects(store.remember(['k'], 0), { code: 'InvalidRequest', field: 'windowMs' });
  });
});
