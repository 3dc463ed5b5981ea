/** Payloads split over chunk items: round trip, integrity check, missing chunks, discard. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DeleteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CHUNK_BYTES, PayloadStore } from '../../../lib/adapters/dynamodb/payload.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

async function stored(table: string): Promise<string[]> {
  const out = await db.client.send(new ScanCommand({ TableName: table, ProjectionExpression: 'pk' }));
  return (out.Items ?? []).map((item) => item.pk?.S ?? '');
}

describe('PayloadStore', () => {
  test('keeps small and compressible documents inline, without chunks', async () => {
    const { dedup: table } = await db.freshTables();
    const payloads = new PayloadStore(db.client, table, 'pk');
    assert.deepEqual((await payloads.encode('o', 'event', { a: 1 })).chunks, []);
    const big = await payloads.encode('o', 'event', { text: 'z'.repeat(2_000_000) });
    assert.deepEqual(big.chunks, []);
    assert.ok(big.attributes.eventGz !== undefined);
  });

  test('splits an incompressible document into chunks and reads it back', async () => {
    const { dedup: table } = await db.freshTables();
    const payloads = new PayloadStore(db.client, table, 'pk');
    const doc = { data: randomBytes(900_000).toString('base64') };
    const encoded = await payloads.encode('owner-1', 'event', doc);
    assert.ok(encoded.chunks.length >= 3, `${encoded.chunks.length} chunks of ${CHUNK_BYTES} bytes`);
    await payloads.write(encoded);
    assert.deepEqual(await payloads.decode('owner-1', encoded.attributes, 'event'), doc);
    await payloads.discard('owner-1', encoded.attributes, 'event');
    assert.deepEqual(await stored(table), []);
  });

  test('refuses chunks that do not match the checksum, and says which are missing', async () => {
    const { dedup: table } = await db.freshTables();
    const payloads = new PayloadStore(db.client, table, 'pk');
    const encoded = await payloads.encode('o', 'event', { data: randomBytes(500_000).toString('base64') });
    await payloads.write(encoded);
    const first = encoded.chunks[0]!;
    await db.client.send(
      new PutItemCommand({ TableName: table, Item: { ...first, data: { B: new Uint8Array(10) } } }),
    );
    await assert.rejects(payloads.decode('o', encoded.attributes, 'event'), {
      code: 'Internal',
      message: /do not match/,
    });
    await db.client.send(new DeleteItemCommand({ TableName: table, Key: { pk: first.pk! } }));
    await assert.rejects(payloads.decode('o', encoded.attributes, 'event'), {
      code: 'Internal',
      message: /missing/,
    });
  });

  test('discards nothing for an item without chunks', async () => {
    const { dedup: table } = await db.freshTables();
    const payloads = new PayloadStore(db.client, table, 'pk');
    await payloads.discard('o', undefined, 'event');
    await payloads.discard('o', { event: { S: '{}' } }, 'event');
    assert.deepEqual(await stored(table), []);
  });
});
