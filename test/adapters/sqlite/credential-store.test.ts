/** The SQLite CredentialStore against the shared suite, plus the bound on the audit log. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteCredentialStore } from '../../../lib/adapters/sqlite/credential-store.ts';
import { credentialStoreSuite } from '../../ports/credential-store.suite.ts';
import { openHarness } from './harness.ts';

credentialStoreSuite('SqliteCredentialStore', async () => {
  const h = openHarness();
  return {
    store: new SqliteCredentialStore(h.stores.database),
    openAnother: async () => new SqliteCredentialStore(h.reopen().database),
    cleanup: h.cleanup,
  };
});

test('keeps at most auditKept audit entries (trimmed every 100 appends)', async () => {
  const h = openHarness();
  try {
    const store = new SqliteCredentialStore(h.stores.database, { auditKept: 50 });
    for (let i = 0; i < 200; i++) {
      await store.appendAudit({ at: i, who: 'x', method: 'PUT', path: `/p${i}`, status: 200, result: 'ok' });
    }
    const rows = await store.listAudit({ limit: 1000 });
    assert.ok(rows.length <= 150, `${rows.length} rows kept`);
    assert.equal(rows[0]?.path, '/p199');
  } finally {
    await h.cleanup();
  }
});
