import { SqliteConnectorStore } from '../../../lib/adapters/sqlite/connector-store.ts';
import { connectorStoreSuite } from '../../ports/connector-store.suite.ts';
import { storeOnOneDatabase } from './harness.ts';

connectorStoreSuite('SqliteConnectorStore (shared suite)', async () =>
  storeOnOneDatabase('junction-connectors-', (db) => new SqliteConnectorStore(db)),
);
