import { SqliteAggregateStore } from '../../../lib/adapters/sqlite/aggregate-store.ts';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { tempDir } from '../../helpers/paths.ts';
import { aggregateStoreSuite } from '../../ports/aggregate-store.suite.ts';

aggregateStoreSuite('SqliteAggregateStore (shared suite)', async () => {
  const dir = tempDir('junction-aggregates-');
  const databases: SqliteDatabase[] = [];
  const openStore = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return new SqliteAggregateStore(db);
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
