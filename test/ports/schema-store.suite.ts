/** The shared test suite every SchemaStore implementation passes: call `schemaStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalJson, type SchemaDefinition, type SchemaVersion } from '../../lib/core/schema.ts';
import type { SchemaStore } from '../../lib/ports.ts';

export interface SchemaStoreHarness {
  readonly store: SchemaStore;
  /** Opens the same data again (a restart); omit where impossible. */
  readonly reopen?: () => Promise<SchemaStore>;
  readonly cleanup: () => Promise<void>;
}

function version(
  n: number,
  schema: unknown = { type: 'object', properties: { [`p${n}`]: { type: 'string' } } },
): SchemaVersion {
  return { version: n, dialect: '2020-12', schema, fingerprint: canonicalJson(schema), createdAt: 1_000 + n };
}

function definition(name: string, overrides: Partial<SchemaDefinition> = {}): SchemaDefinition {
  return {
    name,
    compatibility: 'BACKWARD',
    binding: { type: `com.shop.${name}`, source: '/shop' },
    enforcement: 'reject',
    versions: [version(1)],
    createdAt: 1_000,
    updatedAt: 2_000,
    ...overrides,
  };
}

export function schemaStoreSuite(name: string, open: () => Promise<SchemaStoreHarness>): void {
  describe(name, () => {
    test('puts a schema and gets it back exactly', async () => {
      const { store, cleanup } = await open();
      try {
        const one = definition('orders', { versions: [version(1), version(2)] });
        await store.put(one);
        assert.deepEqual(await store.get('orders'), one);
        assert.equal(await store.get('missing'), undefined);
      } finally {
        await cleanup();
      }
    });

    test('adds versions and changes settings, but never changes a stored version', async () => {
      const { store, cleanup } = await open();
      try {
        await store.put(definition('orders'));
        const next = definition('orders', {
          enforcement: 'warn',
          binding: { dataschema: 'urn:orders' },
          versions: [version(1, { type: 'string' }), version(2)],
          updatedAt: 3_000,
        });
        await store.put(next);
        const stored = await store.get('orders');
        assert.equal(stored?.enforcement, 'warn');
        assert.deepEqual(stored?.binding, { dataschema: 'urn:orders' });
        assert.equal(stored?.updatedAt, 3_000);
        assert.equal(stored?.createdAt, 1_000);
        assert.deepEqual(stored?.versions, [version(1), version(2)]);
      } finally {
        await cleanup();
      }
    });

    test('lists by name with their versions, and deletes a schema with its versions', async () => {
      const { store, cleanup } = await open();
      try {
        await store.put(definition('b', { versions: [version(1), version(2)] }));
        await store.put(definition('a'));
        assert.deepEqual(
          (await store.list()).map((d) => [d.name, d.versions.length]),
          [
            ['a', 1],
            ['b', 2],
          ],
        );
        assert.equal(await store.delete('b'), true);
        assert.equal(await store.delete('b'), false);
        assert.deepEqual(
          (await store.list()).map((d) => d.name),
          ['a'],
        );
        // A schema of the same name starts again from its own versions: none of the deleted one's come back.
        await store.put(definition('b', { versions: [version(1, { type: 'number' })] }));
        assert.deepEqual((await store.get('b'))?.versions, [version(1, { type: 'number' })]);
      } finally {
        await cleanup();
      }
    });

    test('keeps schemas across a reopen', async (t) => {
      const harness = await open();
      try {
        if (harness.reopen === undefined) {
          t.skip('this store cannot be reopened');
          return;
        }
        await harness.store.put(definition('kept', { versions: [version(1), version(2)] }));
        const again = await harness.reopen();
        assert.deepEqual(await again.get('kept'), definition('kept', { versions: [version(1), version(2)] }));
      } finally {
        await harness.cleanup();
      }
    });
  });
}
