/** DeadLetters on DynamoDB: one item per dead letter, listed newest first through the byTime (sharded) or byRule index. */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { decodeCursor, encodeCursor } from '../../core/cursor.ts';
import { JunctionError } from '../../core/errors.ts';
import type {
  Attempt,
  DeadLetter,
  DeadLetterCount,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetters,
} from '../../ports.ts';
import { batchGet, conditional, countAll, guard, type Item, mapLimit, queryAll } from './client.ts';
import { deepFreeze, n, num, requireNum, requireStr, s, shardOf, str } from './codec.ts';
import { PayloadStore } from './payload.ts';
import { INDEX_SHARDS } from './tables.ts';

/** How many dead letters `countByTarget` reads at most. */
const COUNT_BY_TARGET_MAX = 10_000;

export interface DynamoDeadLettersOptions {
  readonly client: DynamoDBClient;
  /** The dead-letters table (see TABLES.deadLetters). */
  readonly table: string;
  /** Buckets of the `byTime` index; every reader and writer of a table must agree. @default 8 */
  readonly shards?: number;
  /** At most this many requests in flight per call. @default 16 */
  readonly concurrency?: number;
}

const DEFAULT_LIMIT = 100;

export class DynamoDeadLetters implements DeadLetters {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #shards: number;
  readonly #concurrency: number;
  readonly #payloads: PayloadStore;

  constructor(options: DynamoDeadLettersOptions) {
    this.#client = options.client;
    this.#table = options.table;
    this.#shards = options.shards ?? INDEX_SHARDS;
    this.#concurrency = options.concurrency ?? 16;
    this.#payloads = new PayloadStore(this.#client, this.#table, 'dlId');
  }

  async add(letter: DeadLetter): Promise<void> {
    if (typeof letter.dlId !== 'string' || letter.dlId.length === 0) {
      throw new JunctionError(
        'InvalidRequest',
        `dead letter dlId must be a non-empty string, got ${JSON.stringify(letter.dlId)}`,
        {
          field: 'dlId',
        },
      );
    }
    const payload = await this.#payloads.encode(letter.dlId, 'event', letter.event);
    const item: Item = {
      dlId: s(letter.dlId),
      shard: s(String(shardOf(letter.dlId, this.#shards))),
      source: s(letter.source),
      id: s(letter.id),
      rule: s(letter.rule),
      target: s(letter.target),
      reason: s(letter.reason),
      at: n(letter.at),
      attempts: { L: letter.attempts.map((attempt) => s(JSON.stringify(attempt))) },
      ...payload.attributes,
    };
    if (letter.position !== undefined) {
      item.partition = n(letter.position.partition);
      item.offset = n(letter.position.offset);
    }
    await this.#payloads.write(payload);
    let out: { Attributes?: Item | undefined };
    try {
      out = await guard('PutItem', this.#table, () =>
        this.#client.send(
          new PutItemCommand({ TableName: this.#table, Item: item, ReturnValues: 'ALL_OLD' }),
        ),
      );
    } catch (error) {
      await this.#payloads.discard(letter.dlId, payload.attributes, 'event').catch(() => {});
      throw error;
    }
    // A letter added again under the same id: the chunks of the one it replaced are nobody's now.
    if (str(out.Attributes ?? {}, 'eventChunkId') !== str(payload.attributes, 'eventChunkId')) {
      await this.#payloads.discard(letter.dlId, out.Attributes, 'event');
    }
  }

  async list(filter: DeadLetterFilter = {}): Promise<DeadLetter[]> {
    return [...(await this.page(filter)).deadLetters];
  }

  /** Newest first by (at, dlId); the cursor is the last letter's (at, dlId). */
  async page(filter: DeadLetterFilter = {}): Promise<DeadLetterPage> {
    const limit = filter.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new JunctionError(
        'InvalidRequest',
        `limit must be a non-negative integer, got ${String(filter.limit)}`,
        {
          field: 'limit',
        },
      );
    }
    const cursor =
      filter.cursor === undefined
        ? undefined
        : (decodeCursor(filter.cursor, ['number', 'string']) as [number, string]);
    if (limit === 0) return { deadLetters: [] };
    const newestFirst = (items: Item[]): Item[] =>
      items.sort(
        (a, b) =>
          requireNum(b, 'at', this.#table) - requireNum(a, 'at', this.#table) ||
          (requireStr(b, 'dlId', this.#table) > requireStr(a, 'dlId', this.#table) ? 1 : -1),
      );
    const afterCursor = (item: Item): boolean => {
      if (cursor === undefined) return true;
      const at = num(item, 'at') ?? 0;
      return at < cursor[0] || (at === cursor[0] && (str(item, 'dlId') ?? '') < cursor[1]);
    };
    // One more than asked tells whether another page follows.
    const want = limit + 1;
    const items =
      filter.ids !== undefined
        ? (await this.#byIds(filter)).filter(afterCursor)
        : await this.#byIndex(filter, want, cursor?.[0], afterCursor, newestFirst);
    const sorted = newestFirst(items).slice(0, want);
    const more = sorted.length > limit;
    const page = more ? sorted.slice(0, limit) : sorted;
    const last = page[page.length - 1];
    return {
      deadLetters: await Promise.all(page.map((item) => this.#toLetter(item))),
      ...(more && last !== undefined
        ? {
            nextCursor: encodeCursor([
              requireNum(last, 'at', this.#table),
              requireStr(last, 'dlId', this.#table),
            ]),
          }
        : {}),
    };
  }

  async get(dlId: string): Promise<DeadLetter | undefined> {
    const out = await guard('GetItem', this.#table, () =>
      this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: { dlId: s(dlId) }, ConsistentRead: true }),
      ),
    );
    return out.Item === undefined || out.Item.shard === undefined ? undefined : this.#toLetter(out.Item);
  }

  async remove(dlIds: readonly string[]): Promise<number> {
    const removed = await mapLimit([...new Set(dlIds)], this.#concurrency, async (dlId) => {
      const out = await conditional('DeleteItem', this.#table, () =>
        this.#client.send(
          new DeleteItemCommand({
            TableName: this.#table,
            Key: { dlId: s(dlId) },
            ReturnValues: 'ALL_OLD',
            // Only letters (chunk items of large events have no shard).
            ConditionExpression: 'attribute_exists(#shard)',
            ExpressionAttributeNames: { '#shard': 'shard' },
          }),
        ),
      );
      if (out === undefined) return false;
      await this.#payloads.discard(dlId, out.Attributes, 'event');
      return true;
    });
    return removed.filter(Boolean).length;
  }

  /** Counts the keys-only byTime index, shard by shard (~50 bytes per letter read, not the letters). */
  async count(): Promise<number> {
    const counts = await Promise.all(
      Array.from({ length: this.#shards }, (_, shard) =>
        countAll(
          this.#client,
          {
            TableName: this.#table,
            IndexName: 'byTime',
            KeyConditionExpression: '#shard = :shard',
            ExpressionAttributeNames: { '#shard': 'shard' },
            ExpressionAttributeValues: { ':shard': s(String(shard)) },
          },
          'query',
        ),
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /**
   * Scans the table for the rule and target of each letter (a projection: the events are not returned, though a scan's
   * read capacity counts whole items). Bounded: at most `COUNT_BY_TARGET_MAX` letters are read, so above that the
   * counts are a lower bound (`count` still counts them all).
   */
  async countByTarget(): Promise<DeadLetterCount[]> {
    const counts = new Map<string, { rule: string; target: string; count: number }>();
    let budget = COUNT_BY_TARGET_MAX;
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await guard('Scan', this.#table, () =>
        this.#client.send(
          new ScanCommand({
            TableName: this.#table,
            ProjectionExpression: '#rule, #target',
            ExpressionAttributeNames: { '#rule': 'rule', '#target': 'target' },
            Limit: Math.min(budget, 1000),
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        ),
      );
      const items = out.Items ?? [];
      budget -= items.length;
      for (const item of items) {
        const rule = requireStr(item, 'rule', this.#table);
        const target = requireStr(item, 'target', this.#table);
        const key = JSON.stringify([rule, target]);
        const found = counts.get(key);
        if (found === undefined) counts.set(key, { rule, target, count: 1 });
        else found.count += 1;
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined && budget > 0);
    return [...counts.values()].sort((a, b) =>
      a.rule === b.rule ? (a.target < b.target ? -1 : 1) : a.rule < b.rule ? -1 : 1,
    );
  }

  async #byIds(filter: DeadLetterFilter): Promise<Item[]> {
    const ids = [...new Set(filter.ids)];
    if (ids.length === 0) return [];
    const items = await batchGet(
      this.#client,
      this.#table,
      ids.map((dlId) => ({ dlId: s(dlId) })),
    );
    return items.filter((item) => {
      if (item.shard === undefined) return false;
      const at = requireNum(item, 'at', this.#table);
      return (
        (filter.rule === undefined || item.rule?.S === filter.rule) &&
        (filter.target === undefined || item.target?.S === filter.target) &&
        (filter.from === undefined || at >= filter.from) &&
        (filter.to === undefined || at < filter.to)
      );
    });
  }

  /**
   * Queries byRule (when filtering by rule) or every byTime shard, newest first, from the cursor's time (`upTo`,
   * inclusive; `afterCursor` drops the letters at that time the cursor has passed). The indexes hold keys only, so
   * without a target filter it takes the newest `limit` keys and reads those letters; with one, it reads each page
   * of letters and keeps the matching ones until `limit` are in. Letters at the same time as the last one taken are
   * all taken too, so that a page never ends between two letters of the same time that the index returned in
   * another order than (at, dlId).
   */
  async #byIndex(
    filter: DeadLetterFilter,
    limit: number,
    upTo: number | undefined,
    afterCursor: (item: Item) => boolean,
    newestFirst: (items: Item[]) => Item[],
  ): Promise<Item[]> {
    if (filter.from !== undefined && filter.to !== undefined && filter.to <= filter.from) return [];
    const low = filter.from;
    // `to` is exclusive but BETWEEN and <= are not: letters at exactly `to` are dropped by `keep`.
    const high = upTo === undefined ? filter.to : filter.to === undefined ? upTo : Math.min(filter.to, upTo);
    if (low !== undefined && high !== undefined && high < low) return [];
    const values: Record<string, AttributeValue> = {};
    let range = '';
    if (low !== undefined && high !== undefined) range = ' AND #at BETWEEN :from AND :to';
    else if (low !== undefined) range = ' AND #at >= :from';
    else if (high !== undefined) range = ' AND #at <= :to';
    if (low !== undefined) values[':from'] = n(low);
    if (high !== undefined) values[':to'] = n(high);
    const before = filter.to;
    const keep = (item: Item): boolean =>
      (before === undefined || (num(item, 'at') ?? 0) < before) && afterCursor(item);
    const target = filter.target;
    const read = (keys: Item[]): Promise<Item[]> =>
      batchGet(
        this.#client,
        this.#table,
        keys.map((item) => ({ dlId: s(requireStr(item, 'dlId', this.#table)) })),
      );
    const query = async (index: 'byRule' | 'byTime', keyName: string, key: string): Promise<Item[]> => {
      const input: QueryCommandInput = {
        TableName: this.#table,
        IndexName: index,
        KeyConditionExpression: `#key = :key${range}`,
        ExpressionAttributeNames: { '#key': keyName, ...(range !== '' ? { '#at': 'at' } : {}) },
        ExpressionAttributeValues: { ...values, ':key': s(key) },
        ScanIndexForward: false,
      };
      const ties = async (found: Item[]): Promise<Item[]> => {
        if (found.length < limit) return found;
        const lastAt = Math.min(...found.map((item) => num(item, 'at') ?? 0));
        const same = await queryAll(
          this.#client,
          {
            ...input,
            KeyConditionExpression: '#key = :key AND #at = :tie',
            ExpressionAttributeNames: { '#key': keyName, '#at': 'at' },
            ExpressionAttributeValues: { ':key': s(key), ':tie': n(lastAt) },
          },
          undefined,
          keep,
        );
        const seen = new Set(found.map((item) => str(item, 'dlId')));
        const extra = same.filter((item) => !seen.has(str(item, 'dlId')));
        return [...found, ...(target === undefined ? extra : (await read(extra)).filter(isTarget))];
      };
      const isTarget = (item: Item): boolean => str(item, 'target') === target;
      if (target === undefined) return ties(await queryAll(this.#client, input, limit, keep));
      const found: Item[] = [];
      let start: Item | undefined;
      do {
        const page = await guard('Query', this.#table, () =>
          this.#client.send(
            new QueryCommand({
              ...input,
              Limit: Math.max(limit, 25),
              ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        );
        const letters = await read((page.Items ?? []).filter(keep));
        found.push(...letters.filter(isTarget));
        start = page.LastEvaluatedKey;
      } while (start !== undefined && found.length < limit);
      return ties(found);
    };
    const candidates =
      filter.rule !== undefined
        ? await query('byRule', 'rule', filter.rule)
        : (
            await Promise.all(
              Array.from({ length: this.#shards }, (_, shard) => query('byTime', 'shard', String(shard))),
            )
          ).flat();
    const newest = newestFirst(candidates);
    if (target !== undefined) return newest;
    // Reads the letters up to and including every tie of the last one kept.
    const cut = newest[Math.min(limit, newest.length) - 1];
    const cutAt = cut === undefined ? 0 : (num(cut, 'at') ?? 0);
    return read(newest.filter((item, i) => i < limit || (num(item, 'at') ?? 0) === cutAt));
  }

  async #toLetter(item: Item): Promise<DeadLetter> {
    const table = this.#table;
    const dlId = requireStr(item, 'dlId', table);
    const event = (await this.#payloads.decode(dlId, item, 'event')) as CloudEvent | undefined;
    if (event === undefined)
      throw new JunctionError('Internal', `dead letter in ${table} has no event`, { field: 'event' });
    const partition = num(item, 'partition');
    const offset = num(item, 'offset');
    return {
      dlId,
      source: requireStr(item, 'source', table),
      id: requireStr(item, 'id', table),
      rule: requireStr(item, 'rule', table),
      target: requireStr(item, 'target', table),
      event: deepFreeze(event),
      reason: requireStr(item, 'reason', table),
      attempts: (item.attempts?.L ?? []).map((value) => JSON.parse(value.S ?? 'null') as Attempt),
      at: requireNum(item, 'at', table),
      ...(partition !== undefined && offset !== undefined ? { position: { partition, offset } } : {}),
    };
  }
}
