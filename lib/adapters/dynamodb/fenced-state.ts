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
 * 3. The changes are applied to the items, each on the condition that the item's generation is not newer than the
 *    redo's (a late, repeated application never undoes a later commit), then the redo is cleared. A delete is a put
 *    of a TOMBSTONE (`{pk, sk, gen, tomb: <ms written>, ttl}`) under the same condition, not a DeleteItem: were the
 *    item simply gone, a late applier of an older redo that puts it (writer A stalled while applying generation 5;
 *    B finished that redo, then committed generation 6 deleting the item) would pass `attribute_not_exists(gen)` and
 *    bring the item back with stale state. The tombstone keeps generation 6, so A's put fails its condition.
 *
 * Tombstones are state nobody reads: `load` and `keysUnder` skip them (`maxItems` counts live items only). They are
 * kept TOMBSTONE_MS (20 minutes), longer than any applier may still write: an applier stops, with a retriable error,
 * once it has run APPLY_DEADLINE_MS (10 minutes) since it began (before its commit write, or before the fence read
 * that found the pending redo, so before any later commit could delete an item), leaving the redo pending for the
 * next load; and the only writers on AWS are Lambda invocations, which live at most 15 minutes. The margin covers
 * clock skew and a write in flight. Each `load` then deletes at most CLEAN_MAX of the older tombstones it read (on
 * the condition that the item is still that tombstone, so an item put again meanwhile is never removed; best effort),
 * and the `ttl` attribute lets DynamoDB expire those of partitions no longer loaded. So a load reads the live items
 * plus the tombstones of about the last 20 minutes.
 *
 * Reads are consistent and paginated, and refuse a partition holding more than `maxItems` live items.
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
import { n, num, requireNum, requireStr, s, str } from './codec.ts';

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
  /** Item writes in flight while applying a redo (and deletes of old tombstones while loading). @default 16 */
  readonly concurrency?: number;
  /** The clock, in ms since the epoch (tests age tombstones and appliers with it). @default Date.now */
  readonly now?: () => number;
}

/** What the two stores on a fenced state (aggregation, correlation) are given: the state's options but its kind. */
export type FencedStoreOptions = Pick<
  FencedStateOptions,
  'client' | 'table' | 'chunkBytes' | 'maxItems' | 'now'
>;

/** A rule's own row (`t` = `r`), as both stores keep it. */
export function ruleRow(item: Item, table: string): { rule: string; version: number; state: string } {
  return {
    rule: requireStr(item, 'rule', table),
    version: requireNum(item, 'version', table),
    state: requireStr(item, 'state', table),
  };
}

/** The largest state text of one item (DynamoDB items hold 400 KB, with the keys and other attributes). */
export const MAX_STATE_BYTES = 350 * 1024;
/** Redo chunk items expire (DynamoDB TTL) this long after they were written; a committed redo is applied before. */
const CHUNK_TTL_SECONDS = 7 * 24 * 3600;
/** A tombstone older than this is deleted by the next load: longer than an applier may still write (see above). */
export const TOMBSTONE_MS = 20 * 60 * 1000;
/** An applier stops (retriable; the redo stays pending for the next load) once it has run this long. */
export const APPLY_DEADLINE_MS = 10 * 60 * 1000;
/** At most this many old tombstones are deleted per load. */
export const CLEAN_MAX = 500;
/** Tombstones expire (DynamoDB TTL, the backstop of the cleaning by loads) this long after they were written. */
const TOMBSTONE_TTL_SECONDS = 24 * 3600;

const isTombstone = (item: Item): boolean => item.tomb !== undefined;

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
    this.#o = { maxItems: 1_000_000, chunkBytes: 300 * 1024, concurrency: 16, now: Date.now, ...options };
  }

  #pk(partition: number): string {
    return `${this.#o.kind}#${partition}`;
  }

  /**
   * The fence and every live state item of a partition (a pending redo applied first). Deletes up to CLEAN_MAX of the
   * tombstones older than TOMBSTONE_MS that it reads.
   */
  async load(partition: number): Promise<{ fence: number; items: Item[] }> {
    const f = await this.#settled(partition);
    const { table, client, maxItems, now } = this.#o;
    const cutoff = now() - TOMBSTONE_MS;
    const old: { sk: string; gen: number }[] = [];
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
        if (sk === FENCE_SK || sk.startsWith(REDO_PREFIX)) return false;
        if (!isTombstone(item)) return true;
        const gen = num(item, 'gen');
        if (old.length < CLEAN_MAX && (num(item, 'tomb') ?? 0) < cutoff && gen !== undefined)
          old.push({ sk, gen });
        return false;
      },
    );
    await this.#clean(partition, old);
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
        ProjectionExpression: 'sk, tomb',
        ConsistentRead: true,
      },
      maxItems,
      (item) => !isTombstone(item),
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
    const { client, table, now } = this.#o;
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
      const expires = Math.ceil(now() / 1000) + CHUNK_TTL_SECONDS;
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
    // The applier of this redo begins before the redo can be committed (see APPLY_DEADLINE_MS).
    const started = now();
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
      await this.#apply(partition, { exists: true, fence, gen, redoGen: gen }, chunks, token, started);
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
    // Begins before the read that finds the redo pending, so before any later commit (see APPLY_DEADLINE_MS).
    const started = this.#o.now();
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
    await this.#apply(partition, f, chunks, token, started);
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

  /**
   * Applies a committed redo to the items (deletes as tombstones), then clears it. Refuses to write once
   * APPLY_DEADLINE_MS have passed since `started`: the redo stays pending and the next load finishes it.
   */
  async #apply(
    partition: number,
    f: Fence,
    chunks: readonly Uint8Array[],
    token: string,
    started: number,
  ): Promise<void> {
    const { client, table, concurrency, now } = this.#o;
    const gen = f.redoGen as number;
    const pk = this.#pk(partition);
    const ops: StateOp[] = [];
    for (const chunk of chunks) {
      ops.push(...(JSON.parse((await gunzipAsync(chunk)).toString('utf8')) as StateOp[]));
    }
    const condition = 'attribute_not_exists(gen) OR gen <= :g';
    await mapLimit(ops, concurrency, async (op) => {
      const at = now();
      if (at - started > APPLY_DEADLINE_MS) {
        throw new JunctionError(
          'Internal',
          `applying the ${this.#o.what} redo of partition ${partition} took over ${APPLY_DEADLINE_MS / 1000} s; ` +
            'it stays pending and the next load finishes it',
          { field: 'partition', retriable: true },
        );
      }
      const key = { pk: s(pk), sk: s(op.sk) };
      const item: Item = { ...key, gen: n(gen) };
      if (op.row === undefined) {
        item.tomb = n(at);
        item.ttl = n(Math.ceil(at / 1000) + TOMBSTONE_TTL_SECONDS);
      } else {
        for (const [name, value] of Object.entries(op.row))
          item[name] = typeof value === 'number' ? n(value) : s(value);
      }
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

  /** Deletes old tombstones, each only while it is still that tombstone (best effort: failures are ignored). */
  async #clean(partition: number, old: readonly { sk: string; gen: number }[]): Promise<void> {
    const { client, table, concurrency } = this.#o;
    const pk = this.#pk(partition);
    await mapLimit(old, concurrency, async ({ sk, gen }) => {
      await conditional('DeleteItem', table, () =>
        client.send(
          new DeleteItemCommand({
            TableName: table,
            Key: { pk: s(pk), sk: s(sk) },
            ConditionExpression: 'gen = :g AND attribute_exists(tomb)',
            ExpressionAttributeValues: { ':g': n(gen) },
          }),
        ),
      ).catch(() => undefined);
    });
  }
}
