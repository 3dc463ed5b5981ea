/** The shared test suite every CredentialStore implementation passes: call `credentialStoreSuite`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CredentialStore, StoredCredential } from '../../lib/ports.ts';

export interface CredentialStoreHarness {
  readonly store: CredentialStore;
  /** A second store object on the same backing data (another process, as far as the store can tell). */
  readonly openAnother: () => Promise<CredentialStore>;
  readonly cleanup: () => Promise<void>;
}

export function makeCredential(name: string, overrides: Partial<StoredCredential> = {}): StoredCredential {
  return {
    name,
    kind: 'key',
    scope: 'publish',
    bus: 'default',
    lookup: `hash-of-${name}`,
    createdAt: 1_750_000_000_000,
    ...overrides,
  };
}

export function credentialStoreSuite(name: string, open: () => Promise<CredentialStoreHarness>): void {
  async function withStore(run: (h: CredentialStoreHarness) => Promise<void>): Promise<void> {
    const h = await open();
    try {
      await run(h);
    } finally {
      await h.cleanup();
    }
  }

  describe(name, () => {
    test('creates credentials and finds them by lookup, with every field kept', () =>
      withStore(async ({ store }) => {
        const a = makeCredential('ci', { sourcePrefix: 'com.shop.' });
        const b = makeCredential('sdk', { kind: 'aws', lookup: 'AKJEXAMPLE', secret: 'v1:sealed' });
        const c = makeCredential('admin', { scope: 'manage' });
        for (const x of [a, b, c]) await store.create(x);
        assert.deepEqual(await store.find('hash-of-ci'), a);
        assert.deepEqual(await store.find('AKJEXAMPLE'), b);
        assert.equal(await store.find('hash-of-nobody'), undefined);
        assert.deepEqual(
          (await store.list()).map((x) => x.name),
          ['admin', 'ci', 'sdk'],
        );
        assert.equal(await store.count(), 3);
      }));

    test('refuses a second credential with the same name or lookup (Conflict)', () =>
      withStore(async ({ store }) => {
        await store.create(makeCredential('ci'));
        await assert.rejects(store.create(makeCredential('ci', { lookup: 'other' })), {
          code: 'Conflict',
          field: 'name',
        });
        await assert.rejects(store.create(makeCredential('ci2', { lookup: 'hash-of-ci' })), {
          code: 'Conflict',
        });
        assert.equal(await store.count(), 1);
      }));

    test('revokes by name, answering whether it existed', () =>
      withStore(async ({ store }) => {
        await store.create(makeCredential('ci'));
        assert.equal(await store.revoke('ci'), true);
        assert.equal(await store.revoke('ci'), false);
        assert.equal(await store.find('hash-of-ci'), undefined);
        assert.equal(await store.count(), 0);
      }));

    test('moves its version on every create and revoke, as another store on the same data sees it', () =>
      withStore(async ({ store, openAnother }) => {
        const other = await openAnother();
        assert.equal(await other.version(), 0, 'a store that never had a credential is at 0');
        await store.create(makeCredential('ci'));
        const v1 = await other.version();
        assert.ok(v1 > 0);
        assert.equal(await store.revoke('nobody'), false);
        assert.equal(await other.version(), v1, 'a revoke that removed nothing changes nothing');
        await store.revoke('ci');
        assert.ok((await other.version()) > v1, 'and never back to 0');
      }));

    test('keeps the audit log newest first, pages it with before, and bounds the limit', () =>
      withStore(async ({ store }) => {
        for (let i = 0; i < 5; i++) {
          await store.appendAudit({
            at: 1000 + i,
            who: i % 2 ? 'admin' : 'anonymous',
            method: 'PUT',
            path: `/rules/r${i}`,
            status: 200,
            result: 'ok',
          });
        }
        const all = await store.listAudit();
        assert.deepEqual(
          all.map((e) => e.path),
          ['/rules/r4', '/rules/r3', '/rules/r2', '/rules/r1', '/rules/r0'],
        );
        assert.deepEqual(all[0], {
          ...all[0],
          at: 1004,
          who: 'anonymous',
          method: 'PUT',
          status: 200,
          result: 'ok',
        });
        const page = await store.listAudit({ limit: 2, before: all[1]!.seq });
        assert.deepEqual(
          page.map((e) => e.path),
          ['/rules/r2', '/rules/r1'],
        );
        await assert.rejects(store.listAudit({ limit: 0 }), { code: 'InvalidRequest', field: 'limit' });
      }));
  });
}
