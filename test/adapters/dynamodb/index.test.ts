/** createDynamoStores: every store wired to the tables of one prefix, and close stops the rule polling. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDynamoStores, createTables } from '../../../lib/adapters/dynamodb/index.ts';
import type { DedupStore } from '../../../lib/adapters/kafka/dedup.ts';
import type { RuleChange } from '../../../lib/ports.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../../helpers/dynalite.ts';
import { waitFor } from '../../helpers/events.ts';
import { makeDeadLetter } from '../../ports/dead-letters.suite.ts';
import { makeDelivery } from '../../ports/ledger.suite.ts';
import { makeRule } from '../../ports/rule-store.suite.ts';

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

describe('createDynamoStores', () => {
  test('wires every store to the tables of its prefix', async () => {
    const prefix = uniquePrefix();
    await createTables(db.client, prefix);
    const stores = createDynamoStores({ client: db.client, tablePrefix: prefix, rulePollMs: 20 });
    assert.equal(stores.tables.ledger, `${prefix}-ledger`);
    const changes: RuleChange[] = [];
    stores.rules.watch((c) => changes.push(c));
    await stores.rules.put(makeRule('wired'));
    await waitFor(() => changes.length === 1, 'the put');
    const delivery = makeDelivery();
    assert.deepEqual(await stores.ledger.enqueue([delivery]), [true]);
    await stores.traces.record([{ source: 's', id: 'i', at: 1, kind: 'received' }]);
    assert.equal((await stores.traces.get('s', 'i')).length, 1);
    await stores.deadLetters.add(makeDeadLetter());
    assert.equal(await stores.deadLetters.count(), 1);
    const dedup: DedupStore = stores.dedup;
    await dedup.remember(['s\u0000i'], 60_000);
    assert.deepEqual(await dedup.seen(['s\u0000i']), [true]);
    await stores.schemas.put({
      name: 'wired',
      compatibility: 'NONE',
      binding: { type: 'com.wired' },
      enforcement: 'reject',
      versions: [],
      createdAt: 1,
      updatedAt: 1,
    });
    assert.deepEqual(
      (await stores.schemas.list()).map((d) => d.name),
      ['wired'],
    );
    await stores.drafts.put({ source: 's', type: 't', versions: [], events: 1, firstSeen: 1, lastSeen: 1 });
    assert.equal((await stores.drafts.list()).length, 1);
    // Schemas and drafts share the rules table: the rules are as they were.
    assert.deepEqual(
      (await stores.rules.list()).map((r) => r.name),
      ['wired'],
    );
    await stores.close();
    await stores.rules.put(makeRule('after-close'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(changes.length, 1);
  });

  test('lets a per-store table name override the prefix', async () => {
    const prefix = uniquePrefix();
    const names = await createTables(db.client, prefix, { rules: `${prefix}-custom-rules` });
    assert.equal(names.rules, `${prefix}-custom-rules`);
    const stores = createDynamoStores({
      client: db.client,
      tablePrefix: prefix,
      tables: { rules: names.rules },
    });
    await stores.rules.put(makeRule('x'));
    assert.equal((await stores.rules.list()).length, 1);
    await stores.close();
  });
});
