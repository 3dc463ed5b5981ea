/** The DynamoDB table definitions the CDK stack builds from: names, keys, indexes, TTL attributes. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { attributeDefinitions, TABLES, tableNames } from '../../../lib/adapters/dynamodb/tables.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite('defs');
});
after(() => db.stop());

describe('TABLES', () => {
  test('names the tables from a prefix, with overrides', () => {
    assert.deepEqual(tableNames(), {
      rules: 'junction-rules',
      ledger: 'junction-ledger',
      traces: 'junction-traces',
      deadLetters: 'junction-dead-letters',
      dedup: 'junction-dedup',
      state: 'junction-state',
    });
    assert.equal(tableNames('acme', { ledger: 'my-ledger' }).ledger, 'my-ledger');
    assert.equal(tableNames('acme').traces, 'acme-traces');
  });

  test('defines the keys, indexes and TTL attribute of every table', () => {
    const shape = Object.fromEntries(
      Object.entries(TABLES).map(([store, t]) => [
        store,
        {
          keys: [t.partitionKey, t.sortKey].filter(Boolean).map((k) => `${k?.name}:${k?.type}`),
          indexes: t.globalIndexes.map(
            (i) =>
              `${i.indexName}(${i.partitionKey.name}:${i.partitionKey.type},${i.sortKey?.name}:${i.sortKey?.type})` +
              i.projection,
          ),
          ttl: t.ttlAttribute,
        },
      ]),
    );
    assert.deepEqual(shape, {
      rules: { keys: ['pk:S', 'sk:S'], indexes: [], ttl: 'ttl' },
      ledger: {
        keys: ['pk:S'],
        indexes: ['due(dueShard:S,dueKey:N)KEYS_ONLY', 'finished(doneShard:S,updatedAt:N)KEYS_ONLY'],
        ttl: 'ttl',
      },
      traces: {
        keys: ['pk:S', 'sk:S'],
        indexes: ['byId(eventId:S,undefined:undefined)ALL', 'byTime(timeShard:S,firstAt:N)KEYS_ONLY'],
        ttl: 'ttl',
      },
      deadLetters: {
        keys: ['dlId:S'],
        indexes: ['byTime(shard:S,at:N)KEYS_ONLY', 'byRule(rule:S,at:N)KEYS_ONLY'],
        ttl: undefined,
      },
      dedup: { keys: ['pk:S'], indexes: [], ttl: 'ttl' },
      state: { keys: ['pk:S', 'sk:S'], indexes: [], ttl: 'ttl' },
    });
  });

  test('lists each key attribute once for CreateTable', () => {
    assert.deepEqual(
      attributeDefinitions(TABLES.ledger).map((a) => a.name),
      ['pk', 'dueShard', 'dueKey', 'doneShard', 'updatedAt'],
    );
  });

  test('creates tables on a DynamoDB endpoint exactly as defined', async () => {
    for (const [store, definition] of Object.entries(TABLES)) {
      const name = db.tables[store as keyof typeof db.tables];
      const { Table } = await db.client.send(new DescribeTableCommand({ TableName: name }));
      assert.equal(Table?.TableStatus, 'ACTIVE');
      assert.deepEqual(
        Table?.KeySchema?.map((k) => `${k.AttributeName}:${k.KeyType}`),
        [
          `${definition.partitionKey.name}:HASH`,
          ...(definition.sortKey ? [`${definition.sortKey.name}:RANGE`] : []),
        ],
      );
      const described = (Table?.GlobalSecondaryIndexes ?? []).map((i) => ({
        name: i.IndexName,
        keys: i.KeySchema?.map((k) => k.AttributeName),
        projection: i.Projection?.ProjectionType,
      }));
      const defined = definition.globalIndexes.map((i) => ({
        name: i.indexName,
        keys: [i.partitionKey.name, ...(i.sortKey ? [i.sortKey.name] : [])],
        projection: i.projection,
      }));
      const byName = (a: { name?: string | undefined }, b: { name?: string | undefined }) =>
        (a.name ?? '').localeCompare(b.name ?? '');
      assert.deepEqual(described.sort(byName), defined.sort(byName));
      assert.equal(Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
      const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
      assert.ok(ttl.TimeToLiveDescription !== undefined);
    }
  });
});
