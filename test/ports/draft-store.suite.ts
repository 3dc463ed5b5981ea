/** The shared test suite every DraftStore implementation passes: call `draftStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SchemaDraft } from '../../lib/core/schema-infer.ts';
import type { DraftStore } from '../../lib/ports.ts';

export interface DraftStoreHarness {
  readonly store: DraftStore;
  /** Opens the same data again (a restart); omit where impossible. */
  readonly reopen?: () => Promise<DraftStore>;
  readonly cleanup: () => Promise<void>;
}

function draft(source: string, type: string, overrides: Partial<SchemaDraft> = {}): SchemaDraft {
  return {
    source,
    type,
    versions: [
      {
        version: 1,
        schema: { type: 'object', properties: { total: { type: 'integer' } }, required: ['total'] },
        createdAt: 1_000,
      },
    ],
    events: 3,
    firstSeen: 1_000,
    lastSeen: 2_000,
    ...overrides,
  };
}

export function draftStoreSuite(name: string, open: () => Promise<DraftStoreHarness>): void {
  describe(name, () => {
    test('puts a draft and gets it back exactly; an unknown one is undefined', async () => {
      const { store, cleanup } = await open();
      try {
        const one = draft('/shop', 'com.shop.order.created');
        await store.put(one);
        assert.deepEqual(await store.get('/shop', 'com.shop.order.created'), one);
        assert.equal(await store.get('/shop', 'com.shop.order.paid'), undefined);
        assert.equal(await store.get('/shop/eu', 'com.shop.order.created'), undefined);
      } finally {
        await cleanup();
      }
    });

    test('a put replaces the draft as a whole: versions, counts and times', async () => {
      const { store, cleanup } = await open();
      try {
        await store.put(draft('/shop', 'com.shop.order.created'));
        const next = draft('/shop', 'com.shop.order.created', {
          versions: [
            { version: 2, schema: { type: 'object' }, createdAt: 2_500 },
            { version: 3, schema: { type: ['object', 'null'] }, createdAt: 3_000 },
          ],
          events: 10,
          lastSeen: 3_000,
        });
        await store.put(next);
        assert.deepEqual(await store.get('/shop', 'com.shop.order.created'), next);
        assert.equal((await store.list()).length, 1);
      } finally {
        await cleanup();
      }
    });

    test('lists by type then source, keeps pairs apart, and deletes one', async () => {
      const { store, cleanup } = await open();
      try {
        const drafts = [
          draft('/shop', 'com.shop.order.paid'),
          draft('/shop/eu', 'com.shop.order.created'),
          draft('/shop', 'com.shop.order.created', { events: 7 }),
        ];
        for (const d of drafts) await store.put(d);
        assert.deepEqual(
          (await store.list()).map((d) => [d.type, d.source, d.events]),
          [
            ['com.shop.order.created', '/shop', 7],
            ['com.shop.order.created', '/shop/eu', 3],
            ['com.shop.order.paid', '/shop', 3],
          ],
        );
        assert.equal(await store.delete('/shop', 'com.shop.order.created'), true);
        assert.equal(await store.delete('/shop', 'com.shop.order.created'), false);
        assert.deepEqual(
          (await store.list()).map((d) => [d.type, d.source]),
          [
            ['com.shop.order.created', '/shop/eu'],
            ['com.shop.order.paid', '/shop'],
          ],
        );
      } finally {
        await cleanup();
      }
    });

    test('keeps drafts across a restart', async (t) => {
      const harness = await open();
      try {
        if (harness.reopen === undefined) {
          t.skip('this store cannot be reopened');
          return;
        }
        const one = draft('/a', 'com.x', { events: 42 });
        await harness.store.put(one);
        const again = await harness.reopen();
        assert.deepEqual(await again.get('/a', 'com.x'), one);
      } finally {
        await harness.cleanup();
      }
    });
  });
}
