/** The DynamoDB Ledger on dynalite: the shared Ledger suite, then what is particular to DynamoDB. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoLedger, keyString } from '../../../lib/adapters/dynamodb/ledger.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { makeEvent } from '../../helpers/events.ts';
import { ledgerSuite, makeDelivery } from '../../ports/ledger.suite.ts';

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

async function chunkKeys(table: string): Promise<string[]> {
  const out = await db.client.send(new ScanCommand({ TableName: table, ProjectionExpression: 'pk' }));
  return (out.Items ?? []).map((item) => item.pk?.S ?? '').filter((pk) => pk.startsWith('chunk:'));
}

ledgerSuite('DynamoLedger (dynalite)', async () => {
  const { ledger: table } = await db.freshTables();
  return {
    ledger: new DynamoLedger({ client: db.client, table }),
    reopen: async () => new DynamoLedger({ client: db.client, table }),
    cleanup: async () => {},
  };
});

describe('DynamoLedger', () => {
  test('spreads pending entries over the index shards and still answers due ones oldest first', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table, shards: 4 });
    const deliveries = Array.from({ length: 40 }, (_, i) => makeDelivery({ dueAt: T0 + ((i * 7) % 40) }));
    await ledger.enqueue(deliveries);
    const due = await ledger.due(T0 + 1000, 15);
    assert.deepEqual(
      due.map((d) => d.dueAt),
      Array.from({ length: 15 }, (_, i) => T0 + i),
    );
    assert.equal(await ledger.pendingCount(), 40);
    assert.equal(await ledger.nextDueAt(), T0);
    const shards = new Set<string>();
    for (const d of deliveries) {
      const out = await db.client.send(
        new GetItemCommand({ TableName: table, Key: { pk: { S: keyString(d) } } }),
      );
      shards.add(out.Item?.dueShard?.S ?? '?');
    }
    assert.ok(shards.size > 1, `entries landed in ${shards.size} shard(s)`);
  });

  test('counts an in-flight delivery as due again at its lease end', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table });
    const d = makeDelivery({ dueAt: T0 });
    await ledger.enqueue([d]);
    await ledger.claim(d, T0, T0 + 5_000);
    assert.equal(await ledger.nextDueAt(), T0 + 5_000);
    assert.equal(await ledger.pendingCount(), 1);
  });

  test('stores an event over the item size limit compressed and gives it back', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table });
    const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} of a large payload`).join('\n');
    const event = makeEvent({ data: { text } });
    assert.ok(JSON.stringify(event).length > 500_000);
    const d = makeDelivery({ event, source: event.source, id: event.id });
    assert.deepEqual(await ledger.enqueue([d]), [true]);
    assert.deepEqual((await ledger.get(d))?.pending?.event, event);
    const stored = await db.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: keyString(d) } } }),
    );
    assert.ok(stored.Item?.eventGz?.B !== undefined, 'stored as eventGz');
  });

  test('splits an event too large for one item over chunk items, and drops them when the delivery finishes', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table });
    const event = binaryEvent(700_000);
    const d = makeDelivery({ event, source: event.source, id: event.id });
    assert.deepEqual(await ledger.enqueue([d]), [true]);
    const chunks = (await chunkKeys(table)).length;
    assert.ok(chunks >= 2, `${chunks} chunk items`);
    assert.deepEqual((await ledger.get(d))?.pending?.event, event);
    assert.deepEqual(
      (await ledger.due(T0, 10)).map((x) => x.event),
      [event],
    );
    assert.deepEqual(await ledger.enqueue([d]), [false]);
    assert.equal((await chunkKeys(table)).length, chunks, 'a refused enqueue leaves no chunks behind');
    await ledger.abandon(d, T0 + 1);
    assert.deepEqual(await chunkKeys(table), []);
    assert.equal(await ledger.reopen(d, { keepDelivered: true }), true);
    assert.deepEqual((await ledger.get(d))?.pending?.event, event);
    await ledger.complete(d, { at: T0, outcome: 'delivered', latencyMs: 1 }, T0 + 2);
    assert.deepEqual(await chunkKeys(table), []);
  });

  test('rejects an event that does not fit even in chunks, naming the field', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table });
    const event = binaryEvent(7_000_000);
    const d = makeDelivery({ event, source: event.source, id: event.id });
    await assert.rejects(ledger.enqueue([d]), (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'PayloadTooLarge');
      assert.equal(error.field, 'event');
      return true;
    });
    assert.equal(await ledger.get(d), undefined);
  });

  test('sets a TTL on finished entries when a retention is configured', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table, finishedRetentionMs: 3_600_000 });
    const d = makeDelivery();
    await ledger.enqueue([d]);
    await ledger.complete(d, { at: T0, outcome: 'delivered', latencyMs: 1 }, T0 + 1);
    const stored = await db.client.send(
      new GetItemCommand({ TableName: table, Key: { pk: { S: keyString(d) } } }),
    );
    assert.equal(stored.Item?.ttl?.N, String(Math.ceil((T0 + 1 + 3_600_000) / 1000)));
    assert.equal(stored.Item?.event, undefined);
    assert.equal(stored.Item?.dueShard, undefined);
  });

  test('holds deliveries whose key is longer than a partition key holds', async () => {
    const { ledger: table } = await db.freshTables();
    const ledger = new DynamoLedger({ client: db.client, table });
    const d = makeDelivery({ source: `urn:${'s'.repeat(3_000)}`, rule: 'r'.repeat(1_000) });
    assert.deepEqual(await ledger.enqueue([d]), [true]);
    assert.equal(await ledger.claim(d, T0, T0 + 10), true);
    assert.equal((await ledger.get(d))?.entry.key.source, d.source);
  });

  test('rejects a shard count that is not a positive integer', () => {
    assert.throws(() => new DynamoLedger({ client: db.client, table: 'x', shards: 0 }), {
      code: 'InvalidRequest',
      field: 'shards',
    });
  });
});
