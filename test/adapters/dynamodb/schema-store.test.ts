/** The DynamoDB SchemaStore and DraftStore on dynalite: the shared suites, then what is particular to DynamoDB. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDraftStore } from '../../../lib/adapters/dynamodb/draft-store.ts';
import { DynamoSchemaStore } from '../../../lib/adapters/dynamodb/schema-store.ts';
import { canonicalJson, type SchemaDefinition } from '../../../lib/core/schema.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { draftStoreSuite } from '../../ports/draft-store.suite.ts';
import { schemaStoreSuite } from '../../ports/schema-store.suite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

schemaStoreSuite('DynamoSchemaStore (dynalite)', async () => {
  const { rules: schemas } = await db.freshTables();
  return {
    store: new DynamoSchemaStore({ client: db.client, table: schemas }),
    reopen: async () => new DynamoSchemaStore({ client: db.client, table: schemas }),
    cleanup: async () => {},
  };
});

draftStoreSuite('DynamoDraftStore (dynalite)', async () => {
  const { rules: drafts } = await db.freshTables();
  return {
    store: new DynamoDraftStore({ client: db.client, table: drafts }),
    reopen: async () => new DynamoDraftStore({ client: db.client, table: drafts }),
    cleanup: async () => {},
  };
});

function definition(name: string, versions: number, schema: (v: number) => unknown): SchemaDefinition {
  return {
    name,
    compatibility: 'NONE',
    binding: { type: `com.${name}` },
    enforcement: 'reject',
    versions: Array.from({ length: versions }, (_, i) => ({
      version: i + 1,
      dialect: '2020-12' as const,
      schema: schema(i + 1),
      fingerprint: canonicalJson(schema(i + 1)),
      createdAt: 1_000 + i,
    })),
    createdAt: 1_000,
    updatedAt: 2_000,
  };
}

describe('DynamoSchemaStore', () => {
  test('keeps the version another instance stored first (conditional writes)', async () => {
    const { rules: schemas } = await db.freshTables();
    const a = new DynamoSchemaStore({ client: db.client, table: schemas });
    const b = new DynamoSchemaStore({ client: db.client, table: schemas });
    // Two instances, each with a stale view, register version 2 at once with different schemas.
    await a.put(definition('orders', 1, () => ({ type: 'object' })));
    await Promise.all([
      a.put(definition('orders', 2, (v) => (v === 1 ? { type: 'object' } : { type: 'object', title: 'a' }))),
      b.put(definition('orders', 2, (v) => (v === 1 ? { type: 'object' } : { type: 'object', title: 'b' }))),
    ]);
    const stored = await a.get('orders');
    assert.equal(stored?.versions.length, 2);
    const title = (stored?.versions[1]?.schema as { title?: string } | undefined)?.title;
    assert.ok(title === 'a' || title === 'b');
    // Whichever won stays: a later put of the other one changes nothing.
    await b.put(
      definition('orders', 2, (v) => (v === 1 ? { type: 'object' } : { type: 'object', title: 'c' })),
    );
    assert.equal(
      ((await b.get('orders'))?.versions[1]?.schema as { title?: string } | undefined)?.title,
      title,
    );
  });

  test('stores large schemas compressed and lists them among many others', async () => {
    const { rules: schemas } = await db.freshTables();
    const store = new DynamoSchemaStore({ client: db.client, table: schemas });
    // ~60 KB per version: more than an uncompressed item should hold, so it is gzip'd.
    const big = (v: number) => ({
      type: 'object',
      description: `v${v} ${'lorem ipsum dolor sit amet '.repeat(2_300)}`,
    });
    await store.put(definition('big', 3, big));
    const raw = await db.client.send(
      new GetItemCommand({
        TableName: schemas,
        Key: { pk: { S: 'schema#big' }, sk: { S: '0000000000000001' } },
      }),
    );
    assert.ok(raw.Item?.schemaGz?.B !== undefined, 'the version is stored gzip-compressed');
    for (let i = 0; i < 30; i++)
      await store.put(
        definition(`s${String(i).padStart(2, '0')}`, 2, (v) => ({ type: 'object', title: `${i}.${v}` })),
      );
    const listed = await store.list();
    assert.equal(listed.length, 31);
    assert.deepEqual(listed[0], definition('big', 3, big));
    assert.deepEqual(
      listed.slice(1).map((d) => d.versions.map((v) => (v.schema as { title: string }).title)),
      Array.from({ length: 30 }, (_, i) => [`${i}.1`, `${i}.2`]),
    );
  });

  test('answers no schema for a name DynamoDB cannot key, and refuses to store one', async () => {
    const { rules: schemas } = await db.freshTables();
    const store = new DynamoSchemaStore({ client: db.client, table: schemas });
    assert.equal(await store.get(''), undefined);
    assert.equal(await store.delete(''), false);
    await assert.rejects(store.put(definition('', 1, () => ({}))), { code: 'InvalidRequest', field: 'name' });
  });
});

describe('DynamoDraftStore', () => {
  test('keys a pair whose source is longer than a key holds', async () => {
    const { rules: drafts } = await db.freshTables();
    const store = new DynamoDraftStore({ client: db.client, table: drafts });
    const source = `/long/${'x'.repeat(3_000)}`;
    const draft = {
      source,
      type: 'com.long',
      versions: [{ version: 1, schema: { type: 'object' }, createdAt: 1 }],
      events: 1,
      firstSeen: 1,
      lastSeen: 1,
    };
    await store.put(draft);
    assert.deepEqual(await store.get(source, 'com.long'), draft);
    assert.equal(await store.get(`${source}y`, 'com.long'), undefined);
    assert.equal(await store.delete(`${source}y`, 'com.long'), false);
    assert.equal(await store.delete(source, 'com.long'), true);
    assert.deepEqual(await store.list(), []);
  });
});
