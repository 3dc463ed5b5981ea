import { SqliteCorrelationStore } from '../../../lib/adapters/sqlite/correlation-store.ts';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { tempDir } from '../../helpers/paths.ts';
import { correlationStoreSuite } from '../../ports/correlation-store.suite.ts';

correlationStoreSuite('SqliteCorrelationStore (shared suite)', async () => {
  const dir = tempDir('junction-correlations-');
  const databases: SqliteDatabase[] = [];
  const openStore = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return new SqliteCorrelationStore(db);
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
