import { SqliteDraftStore } from '../../../lib/adapters/sqlite/draft-store.ts';
import { draftStoreSuite } from '../../ports/draft-store.suite.ts';
import { storeOnOneDatabase } from './harness.ts';

draftStoreSuite('SqliteDraftStore (shared suite)', async () =>
  storeOnOneDatabase('junction-drafts-', (db) => new SqliteDraftStore(db)),
);
