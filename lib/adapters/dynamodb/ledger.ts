/** Ledger on DynamoDB: one item per delivery, state changes by conditional UpdateItem, due work through a sharded GSI. */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { decodeCursor, encodeCursor } from '../../core/cursor.ts';
import { JunctionError } from '../../core/errors.ts';
import type {
  Attempt,
  Clock,
  DeliveryFilter,
  DeliveryKey,
  DeliveryPage,
  EnqueueOptions,
  Ledger,
  LedgerEntry,
  LedgerState,
  LiveDelivery,
  PendingDelivery,
  PendingStat,
  ReopenItem,
  ReopenOutcome,
} from '../../ports.ts';
import { systemClock } from '../../ports.ts';
import {
  batchGet,
  conditional,
  countAll,
  guard,
  type Item,
  isConditionFailed,
  mapLimit,
  queryAll,
  storeError,
} from './client.ts';
import { boundedKey, deepFreeze, n, num, requireNum, requireStr, s, shardOf, str } from './codec.ts';
import { type EncodedPayload, PayloadStore } from './payload.ts';
import { INDEX_SHARDS } from './tables.ts';

export interface DynamoLedgerOptions {
  readonly client: DynamoDBClient;
  /** The ledger table (see TABLES.ledger). */
  readonly table: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Buckets of the `due` and `finished` indexes; every reader and writer of a table must agree. @default 8 */
  readonly shards?: number;
  /**
   * When set, finished (delivered, dead-lettered) entries carry a TTL this many ms after they finished, so that
   * DynamoDB removes them without `prune`. @default undefined (only `prune` removes them)
   */
  readonly finishedRetentionMs?: number;
  /** At most this many requests in flight per call (enqueue, prune). @default 16 */
  readonly concurrency?: number;
}

const ACTIVE: readonly LedgerState[] = ['pending', 'in-flight'];
const PAYLOAD_ATTRIBUTES = [...PayloadStore.attributes('event'), 'dueShard', 'dueKey', 'leaseUntil'].join(
  ', ',
);

/**
 * Keys and states:
 * - pending: carries `dueShard` and `dueKey = dueAt`, so the sparse `due` index lists it by due time;
 * - in-flight: `dueKey = leaseUntil`, so the entry shows up in `due` again exactly when its lease runs out;
 * - delivered / dead-lettered: payload and due keys removed, `doneShard` set for the sparse `finished` index.
 * Enqueue is one conditional PutItem per delivery (no transactions: each is durable on its own).
 */
export class DynamoLedger implements Ledger {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #shards: number;
  readonly #retentionMs: number | undefined;
  readonly #concurrency: number;
  readonly #payloads: PayloadStore;

  constructor(options: DynamoLedgerOptions) {
    this.#client = options.client;
    this.#table = options.table;
    this.#clock = options.clock ?? systemClock;
    this.#shards = positiveInteger(options.shards ?? INDEX_SHARDS, 'shards');
    this.#retentionMs = options.finishedRetentionMs;
    this.#concurrency = positiveInteger(options.concurrency ?? 16, 'concurrency');
    this.#payloads = new PayloadStore(this.#client, this.#table, 'pk');
  }

  async enqueue(deliveries: readonly PendingDelivery[], options: EnqueueOptions = {}): Promise<boolean[]> {
    const seen = new Set<string>();
    const firsts = deliveries.map((delivery) => {
      const pk = keyString(delivery);
      if (seen.has(pk)) return false;
      seen.add(pk);
      return true;
    });
    const added = await mapLimit(deliveries, this.#concurrency, async (delivery, index) => {
      if (!firsts[index]) return false;
      const { item, payload } = await this.#pendingItem(delivery);
      await this.#payloads.write(payload);
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return true;
      } catch (error) {
        // The item was not written: its chunks (if any) are nobody's.
        await this.#payloads.discard(keyString(delivery), payload.attributes, 'event').catch(() => {});
        if (isConditionFailed(error)) return false;
        throw storeError('PutItem', this.#table, error);
      }
    });
    options.onAdded?.(added);
    return added;
  }

  async due(now: number, limit: number): Promise<LiveDelivery[]> {
    if (limit <= 0) return [];
    const perShard = await Promise.all(
      this.#shardList().map((shard) =>
        queryAll(
          this.#client,
          {
            TableName: this.#table,
            IndexName: 'due',
            KeyConditionExpression: 'dueShard = :shard AND dueKey <= :now',
            ExpressionAttributeValues: { ':shard': s(shard), ':now': n(now) },
            Limit: limit,
          },
          limit,
        ),
      ),
    );
    const isDue = (item: Item): boolean => {
      const state = str(item, 'state');
      return state === 'pending' || (state === 'in-flight' && (num(item, 'leaseUntil') ?? 0) <= now);
    };
    const byDueKey = (a: Item, b: Item): number => (num(a, 'dueKey') ?? 0) - (num(b, 'dueKey') ?? 0);
    // dueKey <= now means pending and due, or in flight with its lease run out: the index needs no other attribute.
    const candidates = perShard.flat().sort(byDueKey).slice(0, limit);
    if (candidates.length === 0) return [];
    // The index is eventually consistent and holds no payloads: read the entries themselves, consistently.
    const items = await batchGet(
      this.#client,
      this.#table,
      candidates.map((item) => ({ pk: s(requireStr(item, 'pk', this.#table)) })),
    );
    const stillDue = items
      .filter((item) => isDue(item) && (num(item, 'dueKey') ?? Infinity) <= now)
      .sort(byDueKey);
    return Promise.all(
      stillDue.map(async (item): Promise<LiveDelivery> => {
        const state = str(item, 'state') as 'pending' | 'in-flight';
        const leaseUntil = state === 'in-flight' ? num(item, 'leaseUntil') : undefined;
        return {
          ...(await this.#toPending(item)),
          state,
          ...(leaseUntil === undefined ? {} : { leaseUntil }),
        };
      }),
    );
  }

  async nextDueAt(): Promise<number | undefined> {
    const firsts = await Promise.all(
      this.#shardList().map((shard) =>
        queryAll(
          this.#client,
          {
            TableName: this.#table,
            IndexName: 'due',
            KeyConditionExpression: 'dueShard = :shard',
            ExpressionAttributeValues: { ':shard': s(shard) },
            Limit: 1,
          },
          1,
        ),
      ),
    );
    const times = firsts.flat().map((item) => requireNum(item, 'dueKey', this.#table));
    return times.length === 0 ? undefined : Math.min(...times);
  }

  async claim(key: DeliveryKey, now: number, leaseUntil: number): Promise<boolean> {
    const out = await conditional('UpdateItem', this.#table, () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: s(keyString(key)) },
          UpdateExpression: 'SET #state = :inflight, leaseUntil = :lease, dueKey = :lease, updatedAt = :now',
          ConditionExpression: '#state = :pending OR (#state = :inflight AND leaseUntil <= :now)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':pending': s('pending'),
            ':inflight': s('in-flight'),
            ':lease': n(leaseUntil),
            ':now': n(now),
          },
        }),
      ),
    );
    return out !== undefined;
  }

  async complete(key: DeliveryKey, attempt: Attempt, now: number): Promise<void> {
    await this.#finish(key, 'delivered', now, attempt, undefined);
  }

  async reschedule(key: DeliveryKey, attempt: Attempt, dueAt: number): Promise<void> {
    const pk = keyString(key);
    await this.#conditional(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: s(pk) },
        UpdateExpression:
          'SET #state = :pending, dueAt = :due, dueKey = :due, dueShard = :shard, updatedAt = :now, ' +
          'attempts = list_append(if_not_exists(attempts, :empty), :attempt) REMOVE leaseUntil',
        ConditionExpression: '#state IN (:pending, :inflight)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: {
          ':pending': s('pending'),
          ':inflight': s('in-flight'),
          ':due': n(dueAt),
          ':shard': s(this.#shard(pk)),
          ':now': n(this.#clock.now()),
          ':empty': { L: [] },
          ':attempt': { L: [s(JSON.stringify(attempt))] },
        },
      }),
    );
  }

  async abandon(key: DeliveryKey, now: number): Promise<void> {
    await this.#finish(key, 'dead-lettered', now, undefined, 'attribute_exists(pk) AND #state <> :delivered');
  }

  async get(key: DeliveryKey): Promise<{ entry: LedgerEntry; pending?: PendingDelivery } | undefined> {
    const out = await guard('GetItem', this.#table, () =>
      this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: { pk: s(keyString(key)) }, ConsistentRead: true }),
      ),
    );
    const item = out.Item;
    if (item === undefined) return undefined;
    const state = requireStr(item, 'state', this.#table) as LedgerState;
    const leaseUntil = num(item, 'leaseUntil');
    const entry: LedgerEntry = {
      key: { source: key.source, id: key.id, rule: key.rule, target: key.target },
      state,
      ...(state === 'in-flight' && leaseUntil !== undefined ? { leaseUntil } : {}),
      updatedAt: requireNum(item, 'updatedAt', this.#table),
    };
    if (!ACTIVE.includes(state)) return { entry };
    return { entry, pending: await this.#toPending(item) };
  }

  async reopen(delivery: PendingDelivery, options: { keepDelivered: boolean }): Promise<boolean> {
    const { item, payload } = await this.#pendingItem(delivery);
    const pk = keyString(delivery);
    const reopenable = options.keepDelivered ? '#state = :dead' : '#state IN (:dead, :delivered)';
    await this.#payloads.write(payload);
    try {
      const out = await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          ReturnValues: 'ALL_OLD',
          ConditionExpression: `attribute_not_exists(pk) OR ${reopenable}`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':dead': s('dead-lettered'),
            ...(options.keepDelivered ? {} : { ':delivered': s('delivered') }),
          },
        }),
      );
      await this.#payloads.discard(pk, out.Attributes, 'event');
      return true;
    } catch (error) {
      await this.#payloads.discard(pk, payload.attributes, 'event').catch(() => {});
      if (isConditionFailed(error)) return false;
      throw storeError('PutItem', this.#table, error);
    }
  }

  /**
   * One conditional put per delivery (`concurrency` at a time): DynamoDB has no transaction that lets some of its
   * conditions fail. A put refused because the entry is not reopenable reads the state; an entry closed between the
   * two (the dispatcher writes the letter, then closes the delivery) is tried once more.
   */
  async reopenMany(items: readonly ReopenItem[]): Promise<ReopenOutcome[]> {
    if (!Array.isArray(items)) {
      throw new JunctionError('InvalidRequest', `items must be an array; got ${typeof items}`, {
        field: 'items',
      });
    }
    return mapLimit(items, this.#concurrency, async ({ delivery, keepDelivered }): Promise<ReopenOutcome> => {
      const options = { keepDelivered: keepDelivered === true };
      for (let tries = 0; tries < 2; tries++) {
        if (await this.reopen(delivery, options)) return 'reopened';
        const state = (await this.get(delivery))?.entry.state;
        if (state === 'pending' || state === 'in-flight') return 'live';
        if (state === 'delivered' && options.keepDelivered) return 'delivered';
      }
      return 'live';
    });
  }

  async prune(before: number): Promise<number> {
    const keys = (
      await Promise.all(
        this.#shardList().map((shard) =>
          queryAll(this.#client, {
            TableName: this.#table,
            IndexName: 'finished',
            KeyConditionExpression: 'doneShard = :shard AND updatedAt < :before',
            ExpressionAttributeValues: { ':shard': s(shard), ':before': n(before) },
          }),
        ),
      )
    ).flat();
    const removed = await mapLimit(keys, this.#concurrency, async (item) => {
      const out = await conditional('DeleteItem', this.#table, () =>
        this.#client.send(
          new DeleteItemCommand({
            TableName: this.#table,
            Key: { pk: s(requireStr(item, 'pk', this.#table)) },
            // The index may be stale: delete only what is still finished and old.
            ConditionExpression: '#state IN (:delivered, :dead) AND updatedAt < :before',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':delivered': s('delivered'),
              ':dead': s('dead-lettered'),
              ':before': n(before),
            },
          }),
        ),
      );
      return out !== undefined;
    });
    return removed.filter(Boolean).length;
  }

  async pendingCount(): Promise<number> {
    const counts = await Promise.all(
      this.#shardList().map((shard) =>
        countAll(
          this.#client,
          {
            TableName: this.#table,
            IndexName: 'due',
            KeyConditionExpression: 'dueShard = :shard',
            ExpressionAttributeValues: { ':shard': s(shard) },
          },
          'query',
        ),
      ),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /**
   * Reads the keys of the sparse `due` index shard by shard, then the entries (consistent BatchGetItem; the index may
   * lag), grouping the live ones by rule and target. Bounded: at most `PENDING_STATS_MAX` live deliveries are read,
   * so on a larger backlog the counts are a lower bound (`pendingCount` still counts them all).
   */
  async pendingByTarget(): Promise<PendingStat[]> {
    const stats = new Map<string, { rule: string; target: string; count: number; oldestCreatedAt: number }>();
    let budget = PENDING_STATS_MAX;
    for (const shard of this.#shardList()) {
      let start: Record<string, AttributeValue> | undefined;
      do {
        const out = await guard('Query', this.#table, () =>
          this.#client.send(
            new QueryCommand({
              TableName: this.#table,
              IndexName: 'due',
              KeyConditionExpression: 'dueShard = :shard',
              ExpressionAttributeValues: { ':shard': s(shard) },
              Limit: Math.min(budget, 1000),
              ...(start === undefined ? {} : { ExclusiveStartKey: start }),
            }),
          ),
        );
        const keys = out.Items ?? [];
        budget -= keys.length;
        const items = await batchGet(
          this.#client,
          this.#table,
          keys.map((key) => ({ pk: s(requireStr(key, 'pk', this.#table)) })),
        );
        for (const item of items) {
          const state = str(item, 'state');
          if (state !== 'pending' && state !== 'in-flight') continue;
          const rule = requireStr(item, 'rule', this.#table);
          const target = requireStr(item, 'target', this.#table);
          const createdAt = requireNum(item, 'createdAt', this.#table);
          const key = JSON.stringify([rule, target]);
          const stat = stats.get(key);
          if (stat === undefined) stats.set(key, { rule, target, count: 1, oldestCreatedAt: createdAt });
          else {
            stat.count += 1;
            stat.oldestCreatedAt = Math.min(stat.oldestCreatedAt, createdAt);
          }
        }
        start = out.LastEvaluatedKey;
      } while (start !== undefined && budget > 0);
      if (budget <= 0) break;
    }
    return [...stats.values()].sort((a, b) =>
      a.rule === b.rule ? (a.target < b.target ? -1 : 1) : a.rule < b.rule ? -1 : 1,
    );
  }

  /**
   * Live deliveries shard by shard through the sparse `due` index, in (dueKey, pk) order within a shard; the
   * entries are read (consistently) to filter them. At most `scanBudget` index keys are read per call (default 1000
   * or 4 × limit): with a narrow filter a page may be short, or empty, and still carry a `nextCursor`. `makeDue`
   * moves an entry's dueKey to the retry's time, so a list made while retrying may show an entry twice.
   */
  async list(filter: DeliveryFilter = {}): Promise<DeliveryPage> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new JunctionError(
        'InvalidRequest',
        `limit must be a non-negative integer, got ${String(limit)}`,
        {
          field: 'limit',
        },
      );
    }
    if (filter.state !== undefined && filter.state !== 'pending' && filter.state !== 'in-flight') {
      throw new JunctionError(
        'InvalidRequest',
        `state must be "pending" or "in-flight"; got ${JSON.stringify(filter.state)}`,
        { field: 'state' },
      );
    }
    let [shard, startKey, startPk] =
      filter.cursor === undefined
        ? [0, 0, '']
        : (decodeCursor(filter.cursor, ['number', 'number', 'string']) as [number, number, string]);
    if (!Number.isInteger(shard) || shard < 0) shard = this.#shards;
    if (limit === 0) return { deliveries: [] };
    const found: LiveDelivery[] = [];
    let budget = Math.max(1000, limit * 4);
    const cursorAt = (sh: number, key: number, pk: string) => encodeCursor([sh, key, pk]);
    while (shard < this.#shards && budget > 0) {
      const out = await guard('Query', this.#table, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: 'due',
            KeyConditionExpression: 'dueShard = :shard',
            ExpressionAttributeValues: { ':shard': s(String(shard)) },
            Limit: Math.min(budget, Math.max(limit - found.length, 100)),
            ...(startPk === ''
              ? {}
              : {
                  ExclusiveStartKey: { dueShard: s(String(shard)), dueKey: n(startKey), pk: s(startPk) },
                }),
          }),
        ),
      );
      const keys = out.Items ?? [];
      budget -= keys.length;
      const items = new Map(
        (
          await batchGet(
            this.#client,
            this.#table,
            keys.map((key) => ({ pk: s(requireStr(key, 'pk', this.#table)) })),
          )
        ).map((item) => [str(item, 'pk'), item]),
      );
      for (const key of keys) {
        const item = items.get(str(key, 'pk'));
        if (item === undefined) continue;
        const state = str(item, 'state');
        if (state !== 'pending' && state !== 'in-flight') continue;
        if (filter.state !== undefined && state !== filter.state) continue;
        if (filter.rule !== undefined && str(item, 'rule') !== filter.rule) continue;
        if (filter.target !== undefined && str(item, 'target') !== filter.target) continue;
        const leaseUntil = state === 'in-flight' ? num(item, 'leaseUntil') : undefined;
        found.push({
          ...(await this.#toPending(item)),
          state,
          ...(leaseUntil === undefined ? {} : { leaseUntil }),
        });
        if (found.length === limit) {
          const next = cursorAt(shard, num(key, 'dueKey') ?? 0, requireStr(key, 'pk', this.#table));
          return { deliveries: found, nextCursor: next };
        }
      }
      const last = out.LastEvaluatedKey;
      if (last === undefined) {
        shard++;
        startKey = 0;
        startPk = '';
      } else {
        startKey = num(last, 'dueKey') ?? 0;
        startPk = requireStr(last, 'pk', this.#table);
      }
    }
    return shard < this.#shards
      ? { deliveries: found, nextCursor: cursorAt(shard, startKey, startPk) }
      : { deliveries: found };
  }

  async makeDue(keys: readonly DeliveryKey[], now: number): Promise<number> {
    const changed = await mapLimit(keys, this.#concurrency, async (key) => {
      const pk = keyString(key);
      const out = await conditional('UpdateItem', this.#table, () =>
        this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { pk: s(pk) },
            UpdateExpression: 'SET dueAt = :now, dueKey = :now, updatedAt = :updated',
            ConditionExpression: '#state = :pending AND dueAt > :now',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':pending': s('pending'),
              ':now': n(now),
              ':updated': n(this.#clock.now()),
            },
          }),
        ),
      );
      return out !== undefined;
    });
    return changed.filter(Boolean).length;
  }

  async release(keys: readonly DeliveryKey[], now: number): Promise<number> {
    const changed = await mapLimit(keys, this.#concurrency, async (key) => {
      const out = await conditional('UpdateItem', this.#table, () =>
        this.#client.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { pk: s(keyString(key)) },
            // An in-flight entry's dueKey is its lease: ending the lease makes it due.
            UpdateExpression: 'SET leaseUntil = :now, dueKey = :now, updatedAt = :updated',
            ConditionExpression: '#state = :inflight AND leaseUntil > :now',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: {
              ':inflight': s('in-flight'),
              ':now': n(now),
              ':updated': n(this.#clock.now()),
            },
          }),
        ),
      );
      return out !== undefined;
    });
    return changed.filter(Boolean).length;
  }

  async #finish(
    key: DeliveryKey,
    state: 'delivered' | 'dead-lettered',
    now: number,
    attempt: Attempt | undefined,
    condition: string | undefined,
  ): Promise<void> {
    const pk = keyString(key);
    const sets = [
      '#state = :state',
      'updatedAt = :now',
      'doneShard = :shard',
      '#source = :source',
      '#id = :id',
      '#rule = :rule',
      '#target = :target',
    ];
    const values: Record<string, AttributeValue> = {
      ':state': s(state),
      ':now': n(now),
      ':shard': s(this.#shard(pk)),
      ':source': s(key.source),
      ':id': s(key.id),
      ':rule': s(key.rule),
      ':target': s(key.target),
    };
    if (attempt !== undefined) {
      sets.push('attempts = list_append(if_not_exists(attempts, :empty), :attempt)');
      values[':empty'] = { L: [] };
      values[':attempt'] = { L: [s(JSON.stringify(attempt))] };
    }
    if (this.#retentionMs !== undefined) {
      sets.push('#ttl = :ttl');
      values[':ttl'] = n(Math.ceil((now + this.#retentionMs) / 1000));
    }
    if (condition?.includes(':delivered')) values[':delivered'] = s('delivered');
    const old = await this.#conditional(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: s(pk) },
        ReturnValues: 'ALL_OLD',
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${PAYLOAD_ATTRIBUTES}`,
        ...(condition !== undefined ? { ConditionExpression: condition } : {}),
        ExpressionAttributeNames: {
          '#state': 'state',
          '#source': 'source',
          '#id': 'id',
          '#rule': 'rule',
          '#target': 'target',
          ...(this.#retentionMs !== undefined ? { '#ttl': 'ttl' } : {}),
        },
        ExpressionAttributeValues: values,
      }),
    );
    await this.#payloads.discard(pk, old, 'event');
  }

  /**
   * Sends an UpdateItem whose failed condition means "nothing to do" (the entry moved on or does not exist).
   * Answers the attributes it returned (with ReturnValues), undefined when the condition failed.
   */
  async #conditional(command: UpdateItemCommand): Promise<Item | undefined> {
    try {
      return (await this.#client.send(command)).Attributes;
    } catch (error) {
      if (!isConditionFailed(error)) throw storeError('UpdateItem', this.#table, error);
      return undefined;
    }
  }

  async #pendingItem(delivery: PendingDelivery): Promise<{ item: Item; payload: EncodedPayload }> {
    const pk = keyString(delivery);
    const payload = await this.#payloads.encode(pk, 'event', delivery.event);
    const item: Item = {
      pk: s(pk),
      source: s(delivery.source),
      id: s(delivery.id),
      rule: s(delivery.rule),
      target: s(delivery.target),
      state: s('pending'),
      createdAt: n(delivery.createdAt),
      dueAt: n(delivery.dueAt),
      dueKey: n(delivery.dueAt),
      dueShard: s(this.#shard(pk)),
      updatedAt: n(this.#clock.now()),
      attempts: { L: delivery.attempts.map((attempt) => s(JSON.stringify(attempt))) },
      ...payload.attributes,
    };
    if (delivery.position !== undefined) {
      item.partition = n(delivery.position.partition);
      item.offset = n(delivery.position.offset);
    }
    if (delivery.redriveOf !== undefined) item.redriveOf = s(delivery.redriveOf);
    return { item, payload };
  }

  async #toPending(item: Item): Promise<PendingDelivery> {
    const table = this.#table;
    const event = (await this.#payloads.decode(requireStr(item, 'pk', table), item, 'event')) as
      | CloudEvent
      | undefined;
    if (event === undefined)
      throw new JunctionError('Internal', `ledger item in ${table} has no event`, { field: 'event' });
    const partition = num(item, 'partition');
    const offset = num(item, 'offset');
    const redriveOf = str(item, 'redriveOf');
    const attempts = (item.attempts?.L ?? []).map((value) => JSON.parse(value.S ?? 'null') as Attempt);
    return {
      source: requireStr(item, 'source', table),
      id: requireStr(item, 'id', table),
      rule: requireStr(item, 'rule', table),
      target: requireStr(item, 'target', table),
      event: deepFreeze(event),
      ...(partition !== undefined && offset !== undefined ? { position: { partition, offset } } : {}),
      createdAt: requireNum(item, 'createdAt', table),
      dueAt: requireNum(item, 'dueAt', table),
      attempts,
      ...(redriveOf !== undefined ? { redriveOf } : {}),
    };
  }

  #shard(pk: string): string {
    return String(shardOf(pk, this.#shards));
  }

  #shardList(): string[] {
    return Array.from({ length: this.#shards }, (_, i) => String(i));
  }
}

/** The partition key of a delivery: its four parts, unambiguously joined (hashed when long). */
/** How many live deliveries `pendingByTarget` reads at most. */
const PENDING_STATS_MAX = 10_000;

export function keyString(key: DeliveryKey): string {
  return boundedKey(JSON.stringify([key.source, key.id, key.rule, key.target]));
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new JunctionError('InvalidRequest', `${field} must be a positive integer, got ${String(value)}`, {
      field,
    });
  }
  return value;
}
