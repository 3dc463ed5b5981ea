/** The DynamoDB TraceStore on dynalite: the shared TraceStore suite, then what is particular to DynamoDB. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoTraceStore } from '../../../lib/adapters/dynamodb/trace-store.ts';
import type { TraceEntry } from '../../../lib/ports.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { traceStoreSuite } from '../../ports/trace-store.suite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

const T0 = 1_700_000_000_000;

traceStoreSuite('DynamoTraceStore (dynalite)', async () => {
  const { traces: table } = await db.freshTables();
  return { traces: new DynamoTraceStore({ client: db.client, table }), cleanup: async () => {} };
});

describe('DynamoTraceStore', () => {
  test('writes a TTL attribute of entry time plus retention, in epoch seconds', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table, retentionMs: 3_600_000 });
    await store.record([{ source: 's', id: 'ttl', at: T0, kind: 'received' }]);
    const out = await db.client.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: JSON.stringify(['s', 'ttl']) } },
      }),
    );
    assert.equal(out.Items?.length, 2, 'one entry and the marker');
    for (const item of out.Items ?? []) assert.equal(item.ttl?.N, String((T0 + 3_600_000) / 1000));
  });

  test('records more entries than one batch write holds, in order', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table });
    const entries: TraceEntry[] = Array.from({ length: 60 }, (_, i) => ({
      source: 's',
      id: 'many',
      at: T0 + Math.floor(i / 3),
      kind: 'attempt',
      detail: { i },
    }));
    await store.record(entries);
    assert.deepEqual(await store.get('s', 'many'), entries);
  });

  test('prunes whole events and their markers, and keeps events recorded later', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table });
    await store.record([
      { source: 'a', id: 'old', at: T0, kind: 'received' },
      { source: 'a', id: 'old', at: T0 + 1, kind: 'unmatched' },
      { source: 'b', id: 'new', at: T0 + 100, kind: 'received' },
    ]);
    assert.equal(await store.prune(T0 + 50), 2);
    assert.deepEqual(await store.sourcesOf('old', 10), []);
    assert.deepEqual(await store.sourcesOf('new', 10), ['b']);
    await store.record([{ source: 'a', id: 'old', at: T0 + 200, kind: 'replayed' }]);
    assert.deepEqual(await store.sourcesOf('old', 10), ['a']);
    assert.equal((await store.get('a', 'old')).length, 1);
  });

  test('stores a large detail compressed and gives it back', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table });
    const entry: TraceEntry = {
      source: 's',
      id: 'big',
      at: T0,
      kind: 'emitted',
      detail: { ids: Array.from({ length: 5000 }, (_, i) => `emitted-${i}`) },
    };
    await store.record([entry]);
    assert.deepEqual(await store.get('s', 'big'), [entry]);
  });

  test('records and finds events whose source and id are longer than a key holds', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table });
    const source = `urn:${'s'.repeat(3_000)}`;
    const id = 'i'.repeat(2_500);
    const entry: TraceEntry = { source, id, at: T0, kind: 'received' };
    await store.record([entry]);
    assert.deepEqual(await store.get(source, id), [entry]);
    assert.deepEqual(await store.sourcesOf(id, 5), [source]);
  });

  test('rejects an entry without a source, naming the field', async () => {
    const { traces: table } = await db.freshTables();
    const store = new DynamoTraceStore({ client: db.client, table });
    await assert.rejects(store.record([{ source: '', id: 'x', at: T0, kind: 'received' }]), {
      code: 'InvalidRequest',
      field: 'source',
    });
  });
});
