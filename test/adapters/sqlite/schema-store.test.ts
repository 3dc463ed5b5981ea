import { SqliteSchemaStore } from '../../../lib/adapters/sqlite/schema-store.ts';
import { schemaStoreSuite } from '../../ports/schema-store.suite.ts';
import { storeOnOneDatabase } from './harness.ts';

schemaStoreSuite('SqliteSchemaStore (shared suite)', async () =>
  storeOnOneDatabase('junction-schemas-', (db) => new SqliteSchemaStore(db)),
);
