/** The dedup store of idempotent publish on DynamoDB: one item per event key until its window ends (TTL cleans up). */
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import { type Clock, systemClock } from '../../ports.ts';
import type { DedupStore } from '../kafka/dedup.ts';
import { batchGet, conditional, mapLimit } from './client.ts';
import { boundedKey, n, num, s, str } from './codec.ts';

export interface DynamoDedupStoreOptions {
  readonly client: DynamoDBClient;
  /** The dedup table (see TABLES.dedup). */
  readonly table: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** At most this many PutItem requests in flight per call. @default 16 */
  readonly concurrency?: number;
}

/**
 * Items: `pk` = the key, `expiresAt` (ms) and `ttl` (epoch seconds, for DynamoDB TTL). DynamoDB deletes expired
 * items up to a few days late and dynalite never does, so reads compare `expiresAt` with the clock: an expired
 * item that is still there counts as absent.
 */
export class DynamoDedupStore implements DedupStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #concurrency: number;

  constructor(options: DynamoDedupStoreOptions) {
    this.#client = options.client;
    this.#table = options.table;
    this.#clock = options.clock ?? systemClock;
    this.#concurrency = options.concurrency ?? 16;
  }

  async seen(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const stored = keys.map(storedKey);
    const items = await batchGet(
      this.#client,
      this.#table,
      [...new Set(stored)].map((pk) => ({ pk: s(pk) })),
    );
    const now = this.#clock.now();
    const live = new Set(
      items.filter((item) => (num(item, 'expiresAt') ?? 0) > now).map((item) => str(item, 'pk') ?? ''),
    );
    return stored.map((pk) => live.has(pk));
  }

  /** Remembers the keys until `windowMs` from now; a key already remembered for longer keeps its window. */
  async remember(keys: readonly string[], windowMs: number): Promise<void> {
    await this.#put(keys, windowMs, 'attribute_not_exists(pk) OR expiresAt < :expires');
  }

  /**
   * Remembers each key that is not remembered yet (or whose window has passed), atomically per key, and answers
   * which ones this call remembered: of two concurrent publishes of one event, exactly one gets true.
   */
  async claim(keys: readonly string[], windowMs: number): Promise<boolean[]> {
    return this.#put(keys, windowMs, 'attribute_not_exists(pk) OR expiresAt <= :now');
  }

  async #put(keys: readonly string[], windowMs: number, condition: string): Promise<boolean[]> {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new JunctionError(
        'InvalidRequest',
        `windowMs must be a positive number of ms, got ${String(windowMs)}`,
        {
          field: 'windowMs',
        },
      );
    }
    const now = this.#clock.now();
    const expires = now + windowMs;
    const seen = new Set<string>();
    return mapLimit(keys, this.#concurrency, async (key) => {
      const pk = storedKey(key);
      if (seen.has(pk)) return false;
      seen.add(pk);
      const out = await conditional('PutItem', this.#table, () =>
        this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: { pk: s(pk), expiresAt: n(expires), ttl: n(Math.ceil(expires / 1000)) },
            ConditionExpression: condition,
            ExpressionAttributeValues: condition.includes(':now')
              ? { ':now': n(now) }
              : { ':expires': n(expires) },
          }),
        ),
      );
      return out !== undefined;
    });
  }
}

function storedKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new JunctionError(
      'InvalidRequest',
      `dedup key must be a non-empty string, got ${JSON.stringify(key)}`,
      {
        field: 'key',
      },
    );
  }
  return boundedKey(key);
}
