/** The SQLite Ledger against the shared suite, plus SQLite specifics (group commit of enqueues, bad input). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeliveryKey } from '../../../lib/ports.ts';
import { ledgerSuite, makeDelivery } from '../../ports/ledger.suite.ts';
import { openHarness } from './harness.ts';

ledgerSuite('SqliteLedger', async () => {
  const h = openHarness();
  return { ledger: h.stores.ledger, reopen: async () => h.reopen().ledger, cleanup: h.cleanup };
});

test('commits concurrent enqueues that arrive in one tick together', async () => {
  const h = openHarness();
  try {
    const batches = Array.from({ length: 20 }, () => [makeDelivery(), makeDelivery()]);
    const results = await Promise.all(batches.map((b) => h.stores.ledger.enqueue(b)));
    assert.ok(results.flat().every(Boolean));
    assert.equal(await h.stores.ledger.pendingCount(), 40);
  } finally {
    await h.cleanup();
  }
});

test('rejects a delivery without a rule, naming the field and leaving the others of the tick alone', async () => {
  const h = openHarness();
  try {
    const good = makeDelivery();
    const bad = { ...makeDelivery(), rule: '' };
    const [ok, failed] = await Promise.allSettled([
      h.stores.ledger.enqueue([good]),
      h.stores.ledger.enqueue([bad]),
    ]);
    assert.deepEqual(ok, { status: 'fulfilled', value: [true] });
    assert.equal(failed?.status, 'rejected');
    assert.match(String((failed as PromiseRejectedResult).reason.message), /deliveries\[0\]\.rule/);
    assert.equal((failed as PromiseRejectedResult).reason.code, 'InvalidRequest');
  } finally {
    await h.cleanup();
  }
});

test('rejects completing a delivery it does not hold with NotFound', async () => {
  const h = openHarness();
  try {
    await assert.rejects(
      h.stores.ledger.complete(
        { source: 's', id: 'i', rule: 'r', target: 't' },
        { at: 1, outcome: 'delivered', latencyMs: 1 },
        2,
      ),
      { code: 'NotFound' },
    );
  } finally {
    await h.cleanup();
  }
});

test('fails a call with a bad key alone, leaving the group commit of the others intact', async () => {
  const h = openHarness();
  try {
    const good = makeDelivery();
    const bad = { source: 's', id: undefined, rule: 'r', target: 't' } as unknown as DeliveryKey;
    const [ok, failed] = await Promise.allSettled([
      h.stores.ledger.enqueue([good]),
      h.stores.ledger.claim(bad, 1, 2),
    ]);
    assert.equal(ok.status, 'fulfilled');
    assert.equal(failed.status, 'rejected');
    assert.equal((failed as PromiseRejectedResult).reason.field, 'key.id');
  } finally {
    await h.cleanup();
  }
});
