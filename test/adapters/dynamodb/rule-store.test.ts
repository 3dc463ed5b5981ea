/** The DynamoDB RuleStore on dynalite: the shared RuleStore suite, then what is particular to DynamoDB. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoRuleStore } from '../../../lib/adapters/dynamodb/rule-store.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import type { RuleChange } from '../../../lib/ports.ts';
import { type Dynalite, startDynalite } from '../../helpers/dynalite.ts';
import { waitFor } from '../../helpers/events.ts';
import { makeRule, ruleStoreSuite } from '../../ports/rule-store.suite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

function open(table: string, pollMs = 20): DynamoRuleStore {
  return new DynamoRuleStore({ client: db.client, table, pollMs });
}

ruleStoreSuite('DynamoRuleStore (dynalite)', async () => {
  const { rules } = await db.freshTables();
  const stores = [open(rules)];
  return {
    store: stores[0]!,
    openAnother: async () => {
      const another = open(rules);
      stores.push(another);
      return another;
    },
    cleanup: async () => {
      for (const store of stores) await store.close();
    },
  };
});

describe('DynamoRuleStore', () => {
  test('numbers changes without gaps when stores write concurrently', async () => {
    const { rules } = await db.freshTables();
    const a = open(rules);
    const b = open(rules);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 === 0 ? a : b).put(makeRule(`r${String(i).padStart(2, '0')}`)),
      ),
    );
    const changes = await a.changesAfter(0);
    assert.deepEqual(
      changes.map((c) => c.rev),
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    assert.equal(await a.latestRevision(), 12);
    assert.equal((await a.list()).length, 12);
  });

  test('delivers every change in order to a watcher, including quick successive ones', async () => {
    const { rules } = await db.freshTables();
    const writer = open(rules);
    const watcher = open(rules);
    const seen: RuleChange[] = [];
    const stop = watcher.watch((c) => seen.push(c));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writer.put(makeRule('a'));
    await writer.put(makeRule('a', { description: 'second' }));
    await writer.delete('a');
    await waitFor(() => seen.length >= 3, 'three changes');
    assert.deepEqual(
      seen.map((c) => (c.kind === 'put' ? `put:${c.rule.description}` : `delete:${c.name}`)),
      ['put:rule a', 'put:second', 'delete:a'],
    );
    stop();
  });

  test('keeps the newest revision when an older write arrives late', async () => {
    const { rules } = await db.freshTables();
    const store = open(rules);
    await store.put(makeRule('x', { description: 'new' }));
    // A put of an older revision (as from a writer that stalled between its log append and its item write).
    await assert.rejects(
      db.client.send(
        new PutItemCommand({
          TableName: rules,
          Item: {
            pk: { S: 'rule' },
            sk: { S: 'x' },
            rev: { N: '0' },
            body: { S: JSON.stringify(makeRule('x')) },
          },
          ConditionExpression: 'attribute_not_exists(pk) OR rev < :rev',
          ExpressionAttributeValues: { ':rev': { N: '0' } },
        }),
      ),
      { name: 'ConditionalCheckFailedException' },
    );
    assert.equal((await store.get('x'))?.description, 'new');
  });

  test('leaves a tombstone with a TTL when a rule is deleted', async () => {
    const { rules } = await db.freshTables();
    const store = new DynamoRuleStore({ client: db.client, table: rules, clock: { now: () => 1_000_000 } });
    await store.put(makeRule('t'));
    await store.delete('t');
    const out = await db.client.send(
      new GetItemCommand({
        TableName: rules,
        Key: { pk: { S: 'rule' }, sk: { S: 't' } },
        ConsistentRead: true,
      }),
    );
    assert.equal(out.Item?.deleted?.BOOL, true);
    assert.equal(out.Item?.ttl?.N, String(Math.ceil((1_000_000 + 86_400_000) / 1000)));
    assert.equal(out.Item?.body, undefined);
    assert.deepEqual(await store.put(makeRule('t')), { created: true });
  });

  test('resynchronizes a watcher whose next change has expired from the log', async () => {
    const { rules } = await db.freshTables();
    const store = open(rules);
    await store.put(makeRule('kept'));
    const seen: RuleChange[] = [];
    const stop = store.watch((c) => seen.push(c));
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A change item at a later revision with a hole before it: what TTL leaves behind.
    const rev = (await store.latestRevision()) + 2;
    await db.client.send(
      new PutItemCommand({
        TableName: rules,
        Item: {
          pk: { S: 'change' },
          sk: { S: String(rev).padStart(16, '0') },
          kind: { S: 'put' },
          name: { S: 'late' },
          body: { S: JSON.stringify(makeRule('late')) },
        },
      }),
    );
    await db.client.send(
      new PutItemCommand({
        TableName: rules,
        Item: {
          pk: { S: 'rule' },
          sk: { S: 'late' },
          rev: { N: String(rev) },
          body: { S: JSON.stringify(makeRule('late')) },
        },
      }),
    );
    await waitFor(() => seen.length >= 1, 'the resync');
    assert.deepEqual(seen, [{ kind: 'put', rule: makeRule('late') }]);
    stop();
  });

  test('rejects a rule without a name, naming the field', async () => {
    const { rules } = await db.freshTables();
    const store = open(rules);
    await assert.rejects(store.put(makeRule('')), (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'InvalidRule');
      assert.equal(error.field, 'name');
      return true;
    });
  });

  test('stores a rule larger than the compression threshold', async () => {
    const { rules } = await db.freshTables();
    const store = open(rules);
    const rule = makeRule('big', { description: 'x'.repeat(100_000) });
    await store.put(rule);
    assert.deepEqual(await store.get('big'), rule);
  });
});
