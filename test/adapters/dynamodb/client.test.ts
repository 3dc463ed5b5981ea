/** DynamoDB plumbing: batches beyond the request limits, paged queries, bounded concurrency, error mapping. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  batchGet,
  batchWrite,
  mapLimit,
  queryAll,
  storeError,
} from '../../../lib/adapters/dynamodb/client.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

describe('client helpers', () => {
  test('writes and reads more items than one batch request takes', async () => {
    const table = db.tables.rules;
    const items = Array.from({ length: 130 }, (_, i) => ({
      pk: { S: 'batch' },
      sk: { S: String(i).padStart(3, '0') },
      v: { N: String(i) },
    }));
    await batchWrite(
      db.client,
      table,
      items.map((Item) => ({ PutRequest: { Item } })),
    );
    const found = await batchGet(
      db.client,
      table,
      items.map((item) => ({ pk: item.pk, sk: item.sk })),
    );
    assert.equal(found.length, 130);
    const input = {
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: 'batch' } },
      Limit: 7,
    };
    assert.equal((await queryAll(db.client, input)).length, 130, 'follows every page');
    assert.equal((await queryAll(db.client, input, 10)).length, 10, 'stops at max');
    const odd = await queryAll(db.client, input, 5, (item) => Number(item.v?.N) % 2 === 1);
    assert.deepEqual(
      odd.map((item) => item.v?.N),
      ['1', '3', '5', '7', '9'],
    );
  });

  test('runs at most `limit` tasks at once and answers in input order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (ms, index) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return `${index}:${ms}`;
    });
    assert.equal(peak, 2);
    assert.deepEqual(results, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
  });

  test('maps throttling to a retriable error and validation to a final one, naming the table', () => {
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ProvisionedThroughputExceededException',
    });
    const invalid = Object.assign(new Error('bad'), { name: 'ValidationException' });
    const a = storeError('PutItem', 'junction-ledger', throttled);
    const b = storeError('Query', 'junction-traces', invalid);
    assert.equal(a.code, 'Internal');
    assert.equal(a.retriable, true);
    assert.match(a.message, /PutItem on table junction-ledger/);
    assert.equal(b.retriable, false);
    assert.equal(a.cause, throttled);
  });
});
