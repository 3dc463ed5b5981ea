/** The DynamoDB DeadLetters on dynalite: the shared DeadLetters suite, then what is particular to DynamoDB. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDeadLetters } from '../../../lib/adapters/dynamodb/dead-letters.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { makeEvent } from '../../helpers/events.ts';
import { deadLettersSuite, makeDeadLetter } from '../../ports/dead-letters.suite.ts';

/** A CloudEvent with `bytes` random bytes as `data_base64` (they do not compress). */
function binaryEvent(bytes: number): CloudEvent {
  const { data: _data, ...event } = makeEvent({ data_base64: randomBytes(bytes).toString('base64') });
  return Object.freeze(event) as CloudEvent;
}

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

const T0 = 1_700_000_000_000;

deadLettersSuite('DynamoDeadLetters (dynalite)', async () => {
  const { deadLetters: table } = await db.freshTables();
  return { deadLetters: new DynamoDeadLetters({ client: db.client, table }), cleanup: async () => {} };
});

describe('DynamoDeadLetters', () => {
  test('merges the index shards into one newest-first list', async () => {
    const { deadLetters: table } = await db.freshTables();
    const store = new DynamoDeadLetters({ client: db.client, table, shards: 3 });
    const letters = Array.from({ length: 30 }, (_, i) => makeDeadLetter({ at: T0 + ((i * 11) % 30) }));
    for (const letter of letters) await store.add(letter);
    assert.deepEqual(
      (await store.list({ limit: 7 })).map((l) => l.at),
      Array.from({ length: 7 }, (_, i) => T0 + 29 - i),
    );
    assert.deepEqual(
      (await store.list({ from: T0 + 5, to: T0 + 9, target: 't' })).map((l) => l.at),
      [T0 + 8, T0 + 7, T0 + 6, T0 + 5],
    );
  });

  test('keeps paging past filtered-out letters until the limit is reached', async () => {
    const { deadLetters: table } = await db.freshTables();
    const store = new DynamoDeadLetters({ client: db.client, table, shards: 1 });
    for (let i = 0; i < 40; i++)
      await store.add(makeDeadLetter({ target: i % 10 === 0 ? 'rare' : 'common', at: T0 + i }));
    assert.deepEqual(
      (await store.list({ target: 'rare', limit: 3 })).map((l) => l.at),
      [T0 + 30, T0 + 20, T0 + 10],
    );
  });

  test('stores a large event compressed and gives it back', async () => {
    const { deadLetters: table } = await db.freshTables();
    const store = new DynamoDeadLetters({ client: db.client, table });
    const event = makeEvent({ data: { text: 'payload '.repeat(100_000) } });
    const letter = makeDeadLetter({ event, source: event.source, id: event.id });
    await store.add(letter);
    assert.deepEqual(await store.get(letter.dlId), letter);
  });

  test('keeps an event too large for one item in chunk items, invisible to count, list and remove by id', async () => {
    const { deadLetters: table } = await db.freshTables();
    const store = new DynamoDeadLetters({ client: db.client, table });
    const event = binaryEvent(600_000);
    const letter = makeDeadLetter({ event, source: event.source, id: event.id });
    await store.add(letter);
    assert.deepEqual(await store.get(letter.dlId), letter);
    assert.equal(await store.count(), 1);
    assert.deepEqual(await store.list(), [letter]);
    const scan = await db.client.send(new ScanCommand({ TableName: table, ProjectionExpression: 'dlId' }));
    const chunks = (scan.Items ?? []).map((i) => i.dlId?.S ?? '').filter((id) => id.startsWith('chunk:'));
    assert.equal(chunks.length, 2);
    assert.equal(await store.remove(chunks), 0);
    assert.equal(await store.get(chunks[0]!), undefined);
    assert.equal(await store.remove([letter.dlId]), 1);
    const after = await db.client.send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
    assert.equal(after.Count, 0, 'the chunks went with the letter');
  });

  test('rejects a negative limit, naming the field', async () => {
    const { deadLetters: table } = await db.freshTables();
    const store = new DynamoDeadLetters({ client: db.client, table });
    await assert.rejects(store.list({ limit: -1 }), { code: 'InvalidRequest', field: 'limit' });
  });
});
