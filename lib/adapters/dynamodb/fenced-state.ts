/**
 * What the DynamoDB aggregation and correlation stores share: a partition's state as items of the state table under
 * one partition key (`<kind>#<partition>`), and a fence item that says which log offset the state has applied up to.
 *
 * DynamoDB writes one item atomically, and TransactWriteItems at most 100 items and 4 MB (dynalite has none), while a
 * commit may touch any number of windows. So a commit is a redo log made durable by ONE conditional write:
 *
 * 1. The changes (puts and deletes of items) are packed into gzip'd chunks. One chunk travels inside the fence
 *    update itself; more are first written as chunk items (`~redo#<token>#<n>`, with a TTL) that nothing reads yet.
 * 2. The fence item is updated on the condition that its fence is the expected one, its generation the one read and
 *    no redo is pending: new fence, generation + 1, and the redo (inline chunk, or token and count). This write is
 *    the commit point: a crash before it leaves the previous state as it was (the chunk items are garbage, ignored
 *    and expired); a crash after it leaves a pending redo that every later load or commit finishes first.
 * 3. The changes are applied to the items, each put or delete on the condition that the item's generation is not
 *    newer than the redo's (a late, repeated application never undoes a later commit), then the redo is cleared.
 *
 * Reads are consistent and paginated, and refuse a partition holding more than `maxItems` items.
 */
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import { batchWrite, conditional, guard, type Item, mapLimit, queryAll } from './client.ts';
import { n, num, s, str } from './codec.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** The sort key of the fence item (sorts before every state item). */
const FENCE_SK = '!fence';
/** Sort keys of redo chunks start with this (sorts after every state item). */
const REDO_PREFIX = '~redo#';

/** The attributes of one state item besides its keys and generation: strings and numbers. */
export type Row = Readonly<Record<string, string | number>>;

/** One change of a commit: put `row` at `sk`, or delete `sk` (row undefined). */
export interface StateOp {
  readonly sk: string;
  readonly row?: Row;
}

export interface FencedStateOptions {
  readonly client: DynamoDBClient;
  /** The state table (see TABLES.state). */
  readonly table: string;
  /** `aggregate` or `correlate`: the partition key of a partition's items is `<kind>#<partition>`. */
  readonly kind: string;
  /** What the state is, for the Conflict message ("aggregation"). */
  readonly what: string;
  /** A partition holding more items than this is refused on load. @default 1_000_000 */
  readonly maxItems?: number;
  /** Uncompressed JSON bytes of changes per redo chunk. @default 300 KiB */
  readonly chunkBytes?: number;
  /** Item writes in flight while applying a redo. @default 16 */
  readonly concurrency?: number;
}

/** The largest state text of one item (DynamoDB items hold 400 KB, with the keys and other attributes). */
export const MAX_STATE_BYTES = 350 * 1024;
/** Redo chunk items expire (DynamoDB TTL) this long after they were written; a committed redo is applied before. */
const CHUNK_TTL_SECONDS = 7 * 24 * 3600;

interface Fence {
  readonly exists: boolean;
  readonly fence: number;
  readonly gen: number;
  /** The generation of a pending redo (committed, not yet applied). */
  readonly redoGen?: number;
}

/** The sort key `<prefix>#<rule>#<tail>`, the tail hashed when the whole would not fit a sort key. */
export function stateSk(prefix: string, rule: string, tail: string): string {
  const head = `${prefix}#${rule}#`;
  if (Buffer.byteLength(head) > 512) {
    throw new JunctionError('InvalidRequest', `rule name is ${Buffer.byteLength(rule)} bytes; at most 500`, {
      field: 'rule',
    });
  }
  return (
    head +
    (Buffer.byteLength(head + tail) <= 1024
      ? tail
      : `sha256:${createHash('sha256').update(tail).digest('hex')}`)
  );
}

export class FencedState {
  readonly #o: Required<FencedStateOptions>;

  constructor(options: FencedStateOptions) {
    this.#o = { maxItems: 1_000_000, chunkBytes: 300 * 1024, concurrency: 16, ...options };
  }

  #pk(partition: number): string {
    return `${this.#o.kind}#${partition}`;
  }

  /** The fence and every state item of a partition (a pending redo applied first). */
  async load(partition: number): Promise<{ fence: number; items: Item[] }> {
    const f = await this.#settled(partition);
    const { table, client, maxItems } = this.#o;
    const items = await queryAll(
      client,
      {
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': s(this.#pk(partition)) },
        ConsistentRead: true,
      },
      maxItems + 1,
      (item) => {
        const sk = str(item, 'sk') ?? '';
        return sk !== FENCE_SK && !sk.startsWith(REDO_PREFIX);
      },
    );
    if (items.length > maxItems) {
      throw new JunctionError(
        'Internal',
        `the ${this.#o.what} state of partition ${partition} holds more than ${maxItems} items`,
        { field: 'partition' },
      );
    }
    return { fence: f.fence, items };
  }

  /** The sort keys of a partition's items under `prefix` (a dropped rule's items), paginated and bounded. */
  async keysUnder(partition: number, prefix: string): Promise<string[]> {
    const { table, client, maxItems } = this.#o;
    const items = await queryAll(
      client,
      {
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': s(this.#pk(partition)), ':prefix': s(prefix) },
        ProjectionExpression: 'sk',
        ConsistentRead: true,
      },
      maxItems,
    );
    return items.map((item) => str(item, 'sk') ?? '');
  }

  /**
   * Commits `ops` (applied in order; a later op on an sk wins) on the condition that the fence is `expectedFence`,
   * moving it to `fence`. `ops` may be built from reads made before: the fence condition refuses the commit if
   * another writer moved the partition meanwhile.
   */
  async commit(
    partition: number,
    expectedFence: number,
    fence: number,
    ops: readonly StateOp[],
  ): Promise<void> {
    const { client, table } = this.#o;
    const f = await this.#settled(partition);
    if (f.fence !== expectedFence) throw this.#conflict(partition, f.fence, expectedFence);
    const last = new Map<string, StateOp>();
    for (const op of ops) {
      if (op.row !== undefined && typeof op.row.state === 'string') {
        const bytes = Buffer.byteLength(op.row.state);
        if (bytes > MAX_STATE_BYTES) {
          throw new JunctionError(
            'PayloadTooLarge',
            `a ${this.#o.what} state item is ${bytes} bytes; DynamoDB holds at most ${MAX_STATE_BYTES}`,
            { field: 'state' },
          );
        }
      }
      last.delete(op.sk);
      last.set(op.sk, op);
    }
    const chunks = await this.#pack([...last.values()]);
    const gen = f.gen + 1;
    const pk = this.#pk(partition);
    const token = randomUUID();
    if (chunks.length > 1) {
      const expires = Math.ceil(Date.now() / 1000) + CHUNK_TTL_SECONDS;
      await batchWrite(
        client,
        table,
        chunks.map((chunk, i) => ({
          PutRequest: {
            Item: {
              pk: s(pk),
              sk: s(`${REDO_PREFIX}${token}#${String(i).padStart(6, '0')}`),
              ops: { B: chunk },
              ttl: n(expires),
            },
          },
        })),
      );
    }
    const values: Item = {
      ':f': n(fence),
      ':g': n(gen),
      ...(chunks.length === 1 ? { ':ops': { B: chunks[0] as Uint8Array } } : {}),
      ...(chunks.length > 1 ? { ':token': s(token), ':count': n(chunks.length) } : {}),
    };
    const redo =
      chunks.length === 0
        ? ''
        : chunks.length === 1
          ? ', redoGen = :g, redoOps = :ops'
          : ', redoGen = :g, redoToken = :token, redoChunks = :count';
    let condition = 'attribute_not_exists(pk)';
    if (f.exists) {
      condition = 'fence = :expected AND gen = :old AND attribute_not_exists(redoGen)';
      values[':expected'] = n(expectedFence);
      values[':old'] = n(f.gen);
    }
    const out = await conditional('UpdateItem', table, () =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: s(pk), sk: s(FENCE_SK) },
          UpdateExpression: `SET fence = :f, gen = :g${redo}`,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      ),
    );
    if (out === undefined) {
      const now = await this.#fence(partition);
      throw this.#conflict(partition, now.fence, expectedFence);
    }
    if (chunks.length > 0)
      await this.#apply(partition, { exists: true, fence, gen, redoGen: gen }, chunks, token);
  }

  #conflict(partition: number, stored: number, expected: number): JunctionError {
    return new JunctionError(
      'Conflict',
      `the ${this.#o.what} state of partition ${partition} is at offset ${stored}, not ${expected}: another writer moved it`,
      { field: 'expectedFence' },
    );
  }

  async #fence(partition: number): Promise<Fence & { item?: Item }> {
    const { client, table } = this.#o;
    const out = await guard('GetItem', table, () =>
      client.send(
        new GetItemCommand({
          TableName: table,
          Key: { pk: s(this.#pk(partition)), sk: s(FENCE_SK) },
          ConsistentRead: true,
        }),
      ),
    );
    const item = out.Item;
    if (item === undefined) return { exists: false, fence: 0, gen: 0 };
    const redoGen = num(item, 'redoGen');
    return {
      exists: true,
      fence: num(item, 'fence') ?? 0,
      gen: num(item, 'gen') ?? 0,
      ...(redoGen !== undefined ? { redoGen } : {}),
      item,
    };
  }

  /** The fence, after finishing a pending redo (a writer that crashed after its commit point). */
  async #settled(partition: number): Promise<Fence> {
    const f = await this.#fence(partition);
    if (f.redoGen === undefined || f.item === undefined) return f;
    const inline = f.item.redoOps;
    let chunks: Uint8Array[];
    const token = str(f.item, 'redoToken') ?? '';
    if (inline !== undefined && 'B' in inline && inline.B !== undefined) chunks = [inline.B];
    else {
      const count = num(f.item, 'redoChunks') ?? 0;
      const found = await queryAll(this.#o.client, {
        TableName: this.#o.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': s(this.#pk(partition)), ':prefix': s(`${REDO_PREFIX}${token}#`) },
        ConsistentRead: true,
      });
      chunks = found
        .sort((a, b) => (str(a, 'sk') ?? '').localeCompare(str(b, 'sk') ?? ''))
        .map((item) => (item.ops as { B: Uint8Array }).B);
      if (chunks.length !== count) {
        throw new JunctionError(
          'Internal',
          `the ${this.#o.what} redo of partition ${partition} has ${chunks.length} of its ${count} chunks`,
          { field: 'redoChunks' },
        );
      }
    }
    await this.#apply(partition, f, chunks, token);
    return { exists: true, fence: f.fence, gen: f.gen };
  }

  async #pack(ops: readonly StateOp[]): Promise<Uint8Array[]> {
    const groups: string[][] = [];
    let current: string[] = [];
    let bytes = 0;
    for (const op of ops) {
      const json = JSON.stringify(op);
      const size = Buffer.byteLength(json);
      if (current.length > 0 && bytes + size > this.#o.chunkBytes) {
        groups.push(current);
        current = [];
        bytes = 0;
      }
      current.push(json);
      bytes += size;
    }
    if (current.length > 0) groups.push(current);
    return Promise.all(groups.map(async (g) => new Uint8Array(await gzipAsync(`[${g.join(',')}]`))));
  }

  async #apply(partition: number, f: Fence, chunks: readonly Uint8Array[], token: string): Promise<void> {
    const { client, table, concurrency } = this.#o;
    const gen = f.redoGen as number;
    const pk = this.#pk(partition);
    const ops: StateOp[] = [];
    for (const chunk of chunks) {
      ops.push(...(JSON.parse((await gunzipAsync(chunk)).toString('utf8')) as StateOp[]));
    }
    const condition = 'attribute_not_exists(gen) OR gen <= :g';
    await mapLimit(ops, concurrency, async (op) => {
      const key = { pk: s(pk), sk: s(op.sk) };
      if (op.row === undefined) {
        await conditional('DeleteItem', table, () =>
          client.send(
            new DeleteItemCommand({
              TableName: table,
              Key: key,
              ConditionExpression: condition,
              ExpressionAttributeValues: { ':g': n(gen) },
            }),
          ),
        );
        return;
      }
      const item: Item = { ...key, gen: n(gen) };
      for (const [name, value] of Object.entries(op.row))
        item[name] = typeof value === 'number' ? n(value) : s(value);
      await conditional('PutItem', table, () =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: item,
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':g': n(gen) },
          }),
        ),
      );
    });
    await conditional('UpdateItem', table, () =>
      client.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { pk: s(pk), sk: s(FENCE_SK) },
          UpdateExpression: 'REMOVE redoGen, redoOps, redoToken, redoChunks',
          ConditionExpression: 'redoGen = :g',
          ExpressionAttributeValues: { ':g': n(gen) },
        }),
      ),
    );
    if (chunks.length > 1) {
      // Best effort: the chunks expire anyway.
      await batchWrite(
        client,
        table,
        chunks.map((_, i) => ({
          DeleteRequest: {
            Key: { pk: s(pk), sk: s(`${REDO_PREFIX}${token}#${String(i).padStart(6, '0')}`) },
          },
        })),
      ).catch(() => undefined);
    }
  }
}
