import { SqliteConnectorStore } from '../../../lib/adapters/sqlite/connector-store.ts';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { tempDir } from '../../helpers/paths.ts';
import { connectorStoreSuite } from '../../ports/connector-store.suite.ts';

connectorStoreSuite('SqliteConnectorStore (shared suite)', async () => {
  const dir = tempDir('junction-connectors-');
  const databases: SqliteDatabase[] = [];
  const openStore = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return new SqliteConnectorStore(db);
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
