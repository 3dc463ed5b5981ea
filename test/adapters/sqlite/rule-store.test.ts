/** The SQLite RuleStore against the shared suite, plus watching across processes through the change log. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { SqliteRuleStore } from '../../../lib/adapters/sqlite/rule-store.ts';
import type { RuleChange } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { makeRule, ruleStoreSuite } from '../../ports/rule-store.suite.ts';
import { openHarness } from './harness.ts';

ruleStoreSuite('SqliteRuleStore', async () => {
  const h = openHarness();
  return { store: h.stores.rules, openAnother: async () => h.reopen().rules, cleanup: h.cleanup };
});

test('sees a change written by another connection through polling', async () => {
  const h = openHarness();
  try {
    const changes: RuleChange[] = [];
    const watcher = new SqliteRuleStore(h.stores.database, { pollIntervalMs: 20 });
    const unsubscribe = watcher.watch((change) => changes.push(change));
    // A second connection writing rows directly stands in for another process: no in-process wake-up.
    const foreign = new SqliteDatabase({ dataDir: h.dataDir });
    const rule = makeRule('foreign');
    foreign.run(
      "INSERT INTO rule_changes (kind, name, rule) VALUES ('put', ?, ?)",
      rule.name,
      JSON.stringify(rule),
    );
    foreign.close();
    await waitFor(() => changes.length === 1, 'the polled change');
    unsubscribe();
    assert.deepEqual(changes, [{ kind: 'put', rule }]);
  } finally {
    await h.cleanup();
  }
});

test('rejects a rule without a name, naming the field', async () => {
  const h = openHarness();
  try {
    await assert.rejects(h.stores.rules.put({ ...makeRule('x'), name: '' }), {
      code: 'InvalidRule',
      field: 'name',
    });
  } finally {
    await h.cleanup();
  }
});

test('keeps rules across a reopen', async () => {
  const h = openHarness();
  try {
    await h.stores.rules.put(makeRule('kept'));
    await h.stores.close();
    assert.deepEqual(await h.reopen().rules.get('kept'), makeRule('kept'));
  } finally {
    await h.cleanup();
  }
});
