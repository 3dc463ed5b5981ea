import { SqliteCorrelationStore } from '../../../lib/adapters/sqlite/correlation-store.ts';
import { correlationStoreSuite } from '../../ports/correlation-store.suite.ts';
import { storeOnOneDatabase } from './harness.ts';

correlationStoreSuite('SqliteCorrelationStore (shared suite)', async () =>
  storeOnOneDatabase('junction-correlations-', (db) => new SqliteCorrelationStore(db)),
);
