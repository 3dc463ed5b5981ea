import { SqliteAggregateStore } from '../../../lib/adapters/sqlite/aggregate-store.ts';
import { aggregateStoreSuite } from '../../ports/aggregate-store.suite.ts';
import { storeOnOneDatabase } from './harness.ts';

aggregateStoreSuite('SqliteAggregateStore (shared suite)', async () =>
  storeOnOneDatabase('junction-aggregates-', (db) => new SqliteAggregateStore(db)),
);
