/**
 * The DynamoDB adapters of Junction: the storage ports (rules, ledger, traces, dead letters, schemas, schema drafts,
 * aggregation and correlation state) and the dedup store.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  AggregateStore,
  Clock,
  CorrelationStore,
  DeadLetters,
  DraftStore,
  Ledger,
  RuleStore,
  SchemaStore,
  TraceStore,
} from '../../ports.ts';
import { DynamoAggregateStore } from './aggregate-store.ts';
import { DynamoCorrelationStore } from './correlation-store.ts';
import { DynamoDeadLetters } from './dead-letters.ts';
import { DynamoDedupStore } from './dedup-store.ts';
import { DynamoDraftStore } from './draft-store.ts';
import { DynamoLedger } from './ledger.ts';
import { DynamoRuleStore } from './rule-store.ts';
import { DynamoSchemaStore } from './schema-store.ts';
import { DEFAULT_TABLE_PREFIX, INDEX_SHARDS, type TableNames, tableNames } from './tables.ts';
import { DynamoTraceStore } from './trace-store.ts';

export { DynamoAggregateStore, type DynamoAggregateStoreOptions } from './aggregate-store.ts';
export { createDynamoClient, createTables, type DynamoClientOptions } from './client.ts';
export { COMPRESS_ABOVE_BYTES, MAX_STORED_DOCUMENT_BYTES } from './codec.ts';
export { DynamoCorrelationStore, type DynamoCorrelationStoreOptions } from './correlation-store.ts';
export { DynamoDeadLetters, type DynamoDeadLettersOptions } from './dead-letters.ts';
export { DynamoDedupStore, type DynamoDedupStoreOptions } from './dedup-store.ts';
export { DynamoDraftStore, type DynamoDraftStoreOptions } from './draft-store.ts';
export { DynamoLedger, type DynamoLedgerOptions } from './ledger.ts';
export { CHUNK_BYTES, MAX_PAYLOAD_CHUNKS } from './payload.ts';
export { DynamoRuleStore, type DynamoRuleStoreOptions } from './rule-store.ts';
export { DynamoSchemaStore, type DynamoSchemaStoreOptions } from './schema-store.ts';
export {
  attributeDefinitions,
  DEFAULT_TABLE_PREFIX,
  type GlobalIndexDefinition,
  INDEX_SHARDS,
  type KeyAttribute,
  type StoreName,
  TABLES,
  type TableDefinition,
  type TableNames,
  tableNames,
} from './tables.ts';
export { DynamoTraceStore, type DynamoTraceStoreOptions } from './trace-store.ts';

export interface DynamoStoresOptions {
  readonly client: DynamoDBClient;
  /** Table names are `<prefix>-<suffix>` (see TABLES). @default 'junction' */
  readonly tablePrefix?: string;
  /** Per-store table names, overriding the prefix. @default {} */
  readonly tables?: Partial<TableNames>;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How often a watching rule store polls for changes, in ms (on AWS: each Lambda instance polls). @default 1000 */
  readonly rulePollMs?: number;
  /** Buckets of the sharded indexes (ledger, traces, dead letters); all readers and writers must agree. @default 8 */
  readonly indexShards?: number;
  /** Trace entries expire (DynamoDB TTL) this many ms after their time. @default 604800000 (7 days) */
  readonly traceRetentionMs?: number;
  /** Finished ledger entries expire (DynamoDB TTL) this many ms after they finished. @default undefined (only prune) */
  readonly ledgerRetentionMs?: number;
}

export interface DynamoStores {
  readonly rules: RuleStore;
  readonly ledger: Ledger;
  readonly traces: TraceStore;
  readonly deadLetters: DeadLetters;
  readonly dedup: DynamoDedupStore;
  /** The schema registry (issue #16), in the rules table. */
  readonly schemas: SchemaStore;
  /** The drafts of schema discovery (issue #16), in the rules table. */
  readonly drafts: DraftStore;
  /** Window state of aggregation rules per log partition (docs/aggregation.md), in the state table. */
  readonly aggregates: AggregateStore;
  /** Pending events of correlation rules per log partition (docs/correlation.md), in the state table. */
  readonly correlations: CorrelationStore;
  /** The table names in use. */
  readonly tables: TableNames;
  /** Stops the rule store's polling. The client stays open (it belongs to the caller). */
  close(): Promise<void>;
}

/** Every DynamoDB store on one client, over tables created from TABLES (by CDK, or createTables locally). */
export function createDynamoStores(options: DynamoStoresOptions): DynamoStores {
  const tables = tableNames(options.tablePrefix ?? DEFAULT_TABLE_PREFIX, options.tables ?? {});
  const { client } = options;
  const clock = options.clock;
  const shards = options.indexShards ?? INDEX_SHARDS;
  const rules = new DynamoRuleStore({
    client,
    table: tables.rules,
    ...(clock ? { clock } : {}),
    ...(options.rulePollMs !== undefined ? { pollMs: options.rulePollMs } : {}),
  });
  return {
    rules,
    ledger: new DynamoLedger({
      client,
      table: tables.ledger,
      shards,
      ...(clock ? { clock } : {}),
      ...(options.ledgerRetentionMs !== undefined ? { finishedRetentionMs: options.ledgerRetentionMs } : {}),
    }),
    traces: new DynamoTraceStore({
      client,
      table: tables.traces,
      shards,
      ...(options.traceRetentionMs !== undefined ? { retentionMs: options.traceRetentionMs } : {}),
    }),
    deadLetters: new DynamoDeadLetters({ client, table: tables.deadLetters, shards }),
    dedup: new DynamoDedupStore({ client, table: tables.dedup, ...(clock ? { clock } : {}) }),
    schemas: new DynamoSchemaStore({ client, table: tables.rules }),
    drafts: new DynamoDraftStore({ client, table: tables.rules }),
    aggregates: new DynamoAggregateStore({ client, table: tables.state }),
    correlations: new DynamoCorrelationStore({ client, table: tables.state }),
    tables,
    close: () => rules.close(),
  };
}
