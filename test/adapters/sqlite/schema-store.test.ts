import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { SqliteSchemaStore } from '../../../lib/adapters/sqlite/schema-store.ts';
import { tempDir } from '../../helpers/paths.ts';
import { schemaStoreSuite } from '../../ports/schema-store.suite.ts';

schemaStoreSuite('SqliteSchemaStore (shared suite)', async () => {
  const dir = tempDir('junction-schemas-');
  const databases: SqliteDatabase[] = [];
  const openStore = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return new SqliteSchemaStore(db);
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
