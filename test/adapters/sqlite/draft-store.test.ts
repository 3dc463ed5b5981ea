import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { SqliteDraftStore } from '../../../lib/adapters/sqlite/draft-store.ts';
import { tempDir } from '../../helpers/paths.ts';
import { draftStoreSuite } from '../../ports/draft-store.suite.ts';

draftStoreSuite('SqliteDraftStore (shared suite)', async () => {
  const dir = tempDir('junction-drafts-');
  const databases: SqliteDatabase[] = [];
  const openStore = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return new SqliteDraftStore(db);
  };
  const store = openStore();
  return {
    store,
    reopen: async () => {
      databases.shift()?.close();
      return openStore();
    },
    cleanup: async () => {
      for (const db of databases) db.close();
      dir.remove();
    },
  };
});
