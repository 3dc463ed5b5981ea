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
              `${i.indexName}(${i.partitionKey.name}:${i.partitionKey.type},${i.sortKey?.name}:${i.sortKey?.type})${i.projection}`,
          ),
          ttl: t.ttlAttribute,
        },
      ]),
    );
    assert.deepEqual(shape, {
      rules: { keys: ['pk:S', 'sk:S'], indexes: [], ttl: 'ttl' },
      ledger: {
        keys: ['pk:S'],
        indexes: ['due(dueShard:S,dueKey:N)ALL', 'finished(doneShard:S,updatedAt:N)KEYS_ONLY'],
        ttl: 'ttl',
      },
      traces: {
        keys: ['pk:S', 'sk:S'],
        indexes: ['byId(eventId:S,source:S)KEYS_ONLY', 'byTime(timeShard:S,firstAt:N)KEYS_ONLY'],
        ttl: 'ttl',
      },
      deadLetters: {
        keys: ['dlId:S'],
        indexes: ['byTime(shard:S,at:N)ALL', 'byRule(rule:S,at:N)ALL'],
        ttl: undefined,
      },
      dedup: { keys: ['pk:S'], indexes: [], ttl: 'ttl' },
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
      assert.deepEqual(
        (Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort(),
        definition.globalIndexes.map((i) => i.indexName).sort(),
      );
      assert.equal(Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
      const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: name }));
      assert.ok(ttl.TimeToLiveDescription !== undefined);
    }
  });
});
