/** TraceStore on DynamoDB: entries under the event's key sorted by time, a marker per event for lookups and pruning. */
import { randomBytes } from 'node:crypto';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { TraceEntry, TraceKind, TraceStore } from '../../ports.ts';
import { batchWrite, guard, type Item, isConditionFailed, mapLimit, queryAll, storeError } from './client.ts';
import {
  boundedKey,
  decodeDocument,
  encodeDocument,
  n,
  pad,
  requireNum,
  requireStr,
  s,
  shardOf,
  str,
} from './codec.ts';
import { INDEX_SHARDS } from './tables.ts';

export interface DynamoTraceStoreOptions {
  readonly client: DynamoDBClient;
  /** The traces table (see TABLES.traces). */
  readonly table: string;
  /** Entries carry a TTL this many ms after their time; DynamoDB removes them then (dynalite never does). @default 604800000 (7 days) */
  readonly retentionMs?: number;
  /** Buckets of the `byTime` index; every reader and writer of a table must agree. @default 8 */
  readonly shards?: number;
  /** At most this many requests in flight per call. @default 16 */
  readonly concurrency?: number;
}

/** Sorts after every entry key (entries start with digits). */
const MARKER_SK = '~';

let sequence = 0;

/**
 * Entry items: `pk` = JSON [source, id], `sk` = zero-padded time, a per-process sequence and an instance tag, so
 * a Query answers the journey oldest first and entries recorded in one call keep their order. Marker items
 * (`sk` = "~", one per event) carry `eventId` + `source` for the sparse `byId` index (sourcesOf) and
 * `timeShard` + `firstAt` for the sparse `byTime` index (prune finds old events without scanning).
 */
export class DynamoTraceStore implements TraceStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #retentionMs: number;
  readonly #shards: number;
  readonly #concurrency: number;
  readonly #tag = randomBytes(4).toString('hex');

  constructor(options: DynamoTraceStoreOptions) {
    this.#client = options.client;
    this.#table = options.table;
    this.#retentionMs = options.retentionMs ?? 7 * 86_400_000;
    this.#shards = options.shards ?? INDEX_SHARDS;
    this.#concurrency = options.concurrency ?? 16;
    if (!(this.#retentionMs > 0)) {
      throw new JunctionError(
        'InvalidRequest',
        `retentionMs must be positive, got ${String(options.retentionMs)}`,
        {
          field: 'retentionMs',
        },
      );
    }
  }

  async record(entries: readonly TraceEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const events = new Map<string, { source: string; id: string; firstAt: number; lastAt: number }>();
    const puts: WriteRequest[] = [];
    for (const entry of entries) {
      validate(entry);
      const pk = pkOf(entry.source, entry.id);
      sequence += 1;
      const item: Item = {
        pk: s(pk),
        sk: s(`${pad(entry.at)}#${pad(sequence, 12)}#${this.#tag}`),
        at: n(entry.at),
        kind: s(entry.kind),
        ttl: n(this.#ttl(entry.at)),
        ...(entry.rule !== undefined ? { rule: s(entry.rule) } : {}),
        ...(entry.target !== undefined ? { target: s(entry.target) } : {}),
        ...(entry.detail !== undefined ? await encodeDocument('detail', entry.detail) : {}),
      };
      puts.push({ PutRequest: { Item: item } });
      const event = events.get(pk);
      if (event === undefined)
        events.set(pk, { source: entry.source, id: entry.id, firstAt: entry.at, lastAt: entry.at });
      else {
        event.firstAt = Math.min(event.firstAt, entry.at);
        event.lastAt = Math.max(event.lastAt, entry.at);
      }
    }
    await Promise.all([
      batchWrite(this.#client, this.#table, puts),
      mapLimit([...events], this.#concurrency, ([pk, event]) => this.#mark(pk, event)),
    ]);
  }

  async get(source: string, id: string): Promise<TraceEntry[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND sk < :marker',
      ExpressionAttributeValues: { ':pk': s(pkOf(source, id)), ':marker': s(MARKER_SK) },
      ConsistentRead: true,
    });
    return Promise.all(items.map((item) => this.#toEntry(source, id, item)));
  }

  async sourcesOf(id: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const items = await queryAll(
      this.#client,
      {
        TableName: this.#table,
        IndexName: 'byId',
        KeyConditionExpression: 'eventId = :id',
        ExpressionAttributeValues: { ':id': s(boundedKey(id)) },
        ExpressionAttributeNames: { '#source': 'source' },
        ProjectionExpression: '#source',
        Limit: limit,
      },
      limit,
    );
    return [...new Set(items.map((item) => requireStr(item, 'source', this.#table)))];
  }

  async prune(before: number): Promise<number> {
    const markers = (
      await Promise.all(
        Array.from({ length: this.#shards }, (_, shard) =>
          queryAll(this.#client, {
            TableName: this.#table,
            IndexName: 'byTime',
            KeyConditionExpression: 'timeShard = :shard AND firstAt < :before',
            ExpressionAttributeValues: { ':shard': s(String(shard)), ':before': n(before) },
          }),
        ),
      )
    ).flat();
    const counts = await mapLimit(markers, this.#concurrency, (marker) =>
      this.#pruneEvent(requireStr(marker, 'pk', this.#table), before),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async #pruneEvent(pk: string, before: number): Promise<number> {
    const old = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND sk < :before',
      ExpressionAttributeValues: { ':pk': s(pk), ':before': s(pad(before)) },
      ProjectionExpression: 'pk, sk',
      ConsistentRead: true,
    });
    await batchWrite(
      this.#client,
      this.#table,
      old.map((item) => ({ DeleteRequest: { Key: { pk: item.pk!, sk: item.sk! } } })),
    );
    const rest = await guard('Query', this.#table, () =>
      this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND sk >= :from',
          ExpressionAttributeValues: { ':pk': s(pk), ':from': s(pad(before)) },
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    );
    const next = rest.Items?.[0];
    const key = { pk: s(pk), sk: s(MARKER_SK) };
    try {
      if (next !== undefined && str(next, 'sk') !== MARKER_SK) {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: key,
            UpdateExpression: 'SET firstAt = :first',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':first': n(requireNum(next, 'at', this.#table)) },
          }),
        );
      } else {
        // Only if nothing was recorded for the event meanwhile (record moves lastAt forward).
        await this.#client.send(
          new DeleteItemCommand({
            TableName: this.#table,
            Key: key,
            ConditionExpression: 'lastAt < :before',
            ExpressionAttributeValues: { ':before': n(before) },
          }),
        );
      }
    } catch (error) {
      if (!isConditionFailed(error)) throw storeError('UpdateItem', this.#table, error);
    }
    return old.length;
  }

  async #mark(
    pk: string,
    event: { source: string; id: string; firstAt: number; lastAt: number },
  ): Promise<void> {
    await guard('UpdateItem', this.#table, () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: s(pk), sk: s(MARKER_SK) },
          UpdateExpression:
            'SET eventId = :eventId, #source = :source, timeShard = if_not_exists(timeShard, :shard), ' +
            'firstAt = if_not_exists(firstAt, :first), lastAt = :last, #ttl = :ttl',
          ExpressionAttributeNames: { '#source': 'source', '#ttl': 'ttl' },
          ExpressionAttributeValues: {
            ':eventId': s(boundedKey(event.id)),
            ':source': s(event.source),
            ':shard': s(String(shardOf(pk, this.#shards))),
            ':first': n(event.firstAt),
            ':last': n(event.lastAt),
            ':ttl': n(this.#ttl(event.lastAt)),
          },
        }),
      ),
    );
  }

  async #toEntry(source: string, id: string, item: Item): Promise<TraceEntry> {
    const rule = str(item, 'rule');
    const target = str(item, 'target');
    const detail = await decodeDocument(item, 'detail');
    return {
      source,
      id,
      at: requireNum(item, 'at', this.#table),
      kind: requireStr(item, 'kind', this.#table) as TraceKind,
      ...(rule !== undefined ? { rule } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(detail !== undefined ? { detail: detail as Record<string, unknown> } : {}),
    };
  }

  #ttl(at: number): number {
    return Math.ceil((at + this.#retentionMs) / 1000);
  }
}

function pkOf(source: string, id: string): string {
  return boundedKey(JSON.stringify([source, id]));
}

function validate(entry: TraceEntry): void {
  for (const field of ['source', 'id'] as const) {
    if (typeof entry[field] !== 'string' || entry[field].length === 0) {
      throw new JunctionError(
        'InvalidRequest',
        `trace entry ${field} must be a non-empty string, got ${JSON.stringify(entry[field])}`,
        {
          field,
        },
      );
    }
  }
  if (!Number.isFinite(entry.at) || entry.at < 0) {
    throw new JunctionError(
      'InvalidRequest',
      `trace entry at must be a time in ms since the epoch, got ${String(entry.at)}`,
      {
        field: 'at',
      },
    );
  }
}
