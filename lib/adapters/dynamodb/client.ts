/** DynamoDB plumbing shared by the stores: the client, paginated queries, batches with retries, error mapping. */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  type ScanCommandInput,
  UpdateTimeToLiveCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import { attributeDefinitions, DEFAULT_TABLE_PREFIX, type StoreName, TABLES, tableNames } from './tables.ts';

export type Item = Record<string, AttributeValue>;

export interface DynamoClientOptions {
  /** A DynamoDB-compatible endpoint (dynalite, DynamoDB Local). @default the AWS regional endpoint */
  readonly endpoint?: string;
  /** @default process.env.AWS_REGION, else 'us-east-1' */
  readonly region?: string;
  /** Static credentials, for local endpoints. @default the SDK's default provider chain */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** A DynamoDB client; with an endpoint and no credentials it uses dummy ones, as local emulators accept any. */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  const local = options.endpoint !== undefined;
  return new DynamoDBClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(local ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined
      ? { credentials: options.credentials }
      : local
        ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
        : {}),
  });
}

/** Whether an SDK error is a failed ConditionExpression. */
export function isConditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

const RETRIABLE = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'ECONNREFUSED',
  'ECONNRESET',
]);

/** Wraps an SDK failure into the one error hierarchy, naming the operation and table. */
export function storeError(operation: string, table: string, error: unknown): JunctionError {
  if (error instanceof JunctionError) return error;
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const retriable =
    RETRIABLE.has(name) ||
    (typeof code === 'string' && RETRIABLE.has(code)) ||
    (error as { $retryable?: unknown } | null)?.$retryable !== undefined;
  return new JunctionError(
    'Internal',
    `DynamoDB ${operation} on table ${table} failed: ${name}: ${message}`,
    {
      retriable,
      cause: error,
    },
  );
}

/** Runs one operation, mapping its failure through storeError. */
export async function guard<T>(operation: string, table: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw storeError(operation, table, error);
  }
}

/**
 * Runs one conditional write: its output, or undefined when its condition did not hold (the caller lost a race or
 * the item is not in the expected state). Any other failure is mapped through storeError.
 */
export async function conditional<T>(
  operation: string,
  table: string,
  run: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (isConditionFailed(error)) return undefined;
    throw storeError(operation, table, error);
  }
}

/** Every item a Query answers that `keep` accepts, following LastEvaluatedKey, stopping once `max` are in (when given). */
export async function queryAll(
  client: DynamoDBClient,
  input: QueryCommandInput,
  max?: number,
  keep: (item: Item) => boolean = () => true,
): Promise<Item[]> {
  const items: Item[] = [];
  let start: Item | undefined;
  do {
    const page = await guard('Query', input.TableName ?? '?', () =>
      client.send(
        new QueryCommand({ ...input, ...(start !== undefined ? { ExclusiveStartKey: start } : {}) }),
      ),
    );
    items.push(...(page.Items ?? []).filter(keep));
    start = page.LastEvaluatedKey;
  } while (start !== undefined && (max === undefined || items.length < max));
  return max === undefined ? items : items.slice(0, max);
}

/** Counts what a Query or Scan matches, page by page. */
export async function countAll(
  client: DynamoDBClient,
  input: QueryCommandInput | ScanCommandInput,
  kind: 'query' | 'scan',
): Promise<number> {
  let count = 0;
  let start: Item | undefined;
  do {
    const request = {
      ...input,
      Select: 'COUNT' as const,
      ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
    };
    const page = await guard(kind === 'query' ? 'Query' : 'Scan', input.TableName ?? '?', () =>
      client.send(kind === 'query' ? new QueryCommand(request) : new ScanCommand(request)),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;
const BATCH_RETRIES = 8;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes requests to one table in batches of 25, retrying unprocessed items with backoff. */
export async function batchWrite(
  client: DynamoDBClient,
  table: string,
  requests: readonly WriteRequest[],
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX)
    chunks.push(requests.slice(i, i + BATCH_WRITE_MAX));
  await Promise.all(
    chunks.map(async (chunk) => {
      let pending: WriteRequest[] = chunk;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > BATCH_RETRIES) {
          throw new JunctionError(
            'Internal',
            `DynamoDB BatchWriteItem on table ${table} left ${pending.length} items unprocessed`,
            {
              retriable: true,
            },
          );
        }
        if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
        const out = await guard('BatchWriteItem', table, () =>
          client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } })),
        );
        pending = out.UnprocessedItems?.[table] ?? [];
      }
    }),
  );
}

/** Reads keys from one table (consistently) in batches of 100, retrying unprocessed keys; answers found items. */
export async function batchGet(
  client: DynamoDBClient,
  table: string,
  keys: readonly Item[],
): Promise<Item[]> {
  const found: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX) {
    let pending: Item[] = keys.slice(i, i + BATCH_GET_MAX);
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > BATCH_RETRIES) {
        throw new JunctionError(
          'Internal',
          `DynamoDB BatchGetItem on table ${table} left ${pending.length} keys unprocessed`,
          {
            retriable: true,
          },
        );
      }
      if (attempt > 0) await pause(Math.min(1000, 25 * 2 ** attempt));
      const out = await guard('BatchGetItem', table, () =>
        client.send(
          new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
        ),
      );
      found.push(...(out.Responses?.[table] ?? []));
      pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return found;
}

/** Runs `work` over `items` with at most `limit` at a time, answering results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Creates the tables of every store (on-demand billing) unless they exist, waits until they are active, and turns
 * on TTL where the definition has a TTL attribute (ignored where the endpoint has no UpdateTimeToLive, as dynalite).
 * @returns the table names used
 */
export async function createTables(
  client: DynamoDBClient,
  prefix: string = DEFAULT_TABLE_PREFIX,
  overrides: Partial<Record<StoreName, string>> = {},
): Promise<ReturnType<typeof tableNames>> {
  const names = tableNames(prefix, overrides);
  for (const store of Object.keys(TABLES) as StoreName[]) {
    const table = TABLES[store];
    const name = names[store];
    try {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: attributeDefinitions(table).map((a) => ({
            AttributeName: a.name,
            AttributeType: a.type,
          })),
          KeySchema: [
            { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
            ...(table.sortKey ? [{ AttributeName: table.sortKey.name, KeyType: 'RANGE' as const }] : []),
          ],
          ...(table.globalIndexes.length > 0
            ? {
                GlobalSecondaryIndexes: table.globalIndexes.map((index) => ({
                  IndexName: index.indexName,
                  KeySchema: [
                    { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
                    ...(index.sortKey
                      ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }]
                      : []),
                  ],
                  Projection: { ProjectionType: index.projection },
                })),
              }
            : {}),
        }),
      );
    } catch (error) {
      if (!(error instanceof Error && error.name === 'ResourceInUseException'))
        throw storeError('CreateTable', name, error);
    }
    await waitActive(client, name);
    if (table.ttlAttribute !== undefined) {
      try {
        await client.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true },
          }),
        );
      } catch (error) {
        const ignorable =
          error instanceof Error &&
          (error.name === 'UnknownOperationException' || /already enabled/i.test(error.message));
        if (!ignorable) throw storeError('UpdateTimeToLive', name, error);
      }
    }
  }
  return names;
}

async function waitActive(client: DynamoDBClient, table: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const out = await guard('DescribeTable', table, () =>
      client.send(new DescribeTableCommand({ TableName: table })),
    );
    const indexesActive = (out.Table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (out.Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    await pause(attempt < 10 ? 20 : 500);
  }
  throw new JunctionError('Internal', `DynamoDB table ${table} did not become ACTIVE`, { retriable: true });
}
