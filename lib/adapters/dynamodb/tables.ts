/** The DynamoDB table definitions of Junction, as plain data: the adapters and the CDK stack both read them. */

/** The stores that get a table each. */
export type StoreName = 'rules' | 'ledger' | 'traces' | 'deadLetters' | 'dedup' | 'state';

/** The table name of each store. */
export type TableNames = Record<StoreName, string>;

export type KeyType = 'S' | 'N' | 'B';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface GlobalIndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** `ALL` copies every attribute; `KEYS_ONLY` only the table and index keys. */
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  /** The table name is `<prefix>-<suffix>`. */
  readonly suffix: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly globalIndexes: readonly GlobalIndexDefinition[];
  /** The attribute that holds the expiry time (epoch seconds) for DynamoDB TTL. */
  readonly ttlAttribute?: string;
  /** What the table holds, for people reading the CDK output. */
  readonly description: string;
}

/** The default table name prefix. */
export const DEFAULT_TABLE_PREFIX = 'junction';

/**
 * Partition-key buckets of the sharded indexes (the ledger's `due` and `finished`, the traces' `byTime`, the dead
 * letters' `byTime`). Writes spread over this many index partitions; reads query all of them and merge.
 */
export const INDEX_SHARDS = 8;

const S = (name: string): KeyAttribute => ({ name, type: 'S' });
const N = (name: string): KeyAttribute => ({ name, type: 'N' });

/** Every table, keyed by store. */
export const TABLES: Readonly<Record<StoreName, TableDefinition>> = {
  rules: {
    suffix: 'rules',
    description:
      'Bus configuration: rules (pk "rule", sk name), the rule change log (pk "change", sk zero-padded revision), ' +
      'the revision head; schemas (pk "schema", sk name; versions pk "schema#<name>", sk zero-padded version) and ' +
      'discovery drafts (pk "draft", sk type+source)',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    ttlAttribute: 'ttl',
  },
  ledger: {
    suffix: 'ledger',
    description:
      'Delivery ledger: one item per (event, rule, target) with its state, payload while pending and attempts',
    partitionKey: S('pk'),
    globalIndexes: [
      // Sparse: only pending and in-flight entries carry dueShard. dueKey = dueAt when pending, leaseUntil in flight.
      // Keys only: due() reads the entries it answers with a consistent BatchGetItem (the index may lag).
      { indexName: 'due', partitionKey: S('dueShard'), sortKey: N('dueKey'), projection: 'KEYS_ONLY' },
      // Sparse: only delivered and dead-lettered entries carry doneShard.
      {
        indexName: 'finished',
        partitionKey: S('doneShard'),
        sortKey: N('updatedAt'),
        projection: 'KEYS_ONLY',
      },
    ],
    ttlAttribute: 'ttl',
  },
  traces: {
    suffix: 'traces',
    description: 'Trace entries (pk source+id, sk time+sequence) and one marker item per event (sk "~")',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [
      // Sparse: only marker items carry eventId and timeShard. Long ids are stored hashed (boundedKey).
      // No sort key: sources may be longer than a sort key holds (1024 bytes). Markers are small, so ALL.
      { indexName: 'byId', partitionKey: S('eventId'), projection: 'ALL' },
      { indexName: 'byTime', partitionKey: S('timeShard'), sortKey: N('firstAt'), projection: 'KEYS_ONLY' },
    ],
    ttlAttribute: 'ttl',
  },
  deadLetters: {
    suffix: 'dead-letters',
    description: 'Dead letters, one item per dlId, listed newest first through byTime or byRule',
    partitionKey: S('dlId'),
    globalIndexes: [
      // Keys only (dlId, shard or rule, at): list() reads the letters it answers with a BatchGetItem.
      { indexName: 'byTime', partitionKey: S('shard'), sortKey: N('at'), projection: 'KEYS_ONLY' },
      { indexName: 'byRule', partitionKey: S('rule'), sortKey: N('at'), projection: 'KEYS_ONLY' },
    ],
  },
  dedup: {
    suffix: 'dedup',
    description: 'Idempotent publish: one item per (source, id) seen, until the dedup window ends',
    partitionKey: S('pk'),
    globalIndexes: [],
    ttlAttribute: 'ttl',
  },
  state: {
    suffix: 'state',
    description:
      'Aggregation and correlation state per log partition (pk "aggregate#<p>" or "correlate#<p>"): the fence ' +
      '(sk "!fence"), rule rows, windows, pending events, tombstones of deleted ones (attribute tomb, TTL), and redo ' +
      'chunks of large commits (sk "~redo#…", TTL)',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    globalIndexes: [],
    ttlAttribute: 'ttl',
  },
};

/** The table names for a prefix, with per-store overrides. */
export function tableNames(
  prefix: string = DEFAULT_TABLE_PREFIX,
  overrides: Partial<TableNames> = {},
): TableNames {
  const name = (store: StoreName): string => overrides[store] ?? `${prefix}-${TABLES[store].suffix}`;
  return {
    rules: name('rules'),
    ledger: name('ledger'),
    traces: name('traces'),
    deadLetters: name('deadLetters'),
    dedup: name('dedup'),
    state: name('state'),
  };
}

/** The attribute definitions a CreateTable call (or a CDK table) needs: every key of the table and its indexes. */
export function attributeDefinitions(table: TableDefinition): KeyAttribute[] {
  const all = new Map<string, KeyAttribute>();
  const add = (key: KeyAttribute | undefined): void => {
    if (key !== undefined) all.set(key.name, key);
  };
  add(table.partitionKey);
  add(table.sortKey);
  for (const index of table.globalIndexes) {
    add(index.partitionKey);
    add(index.sortKey);
  }
  return [...all.values()];
}
