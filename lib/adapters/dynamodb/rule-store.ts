/** RuleStore on DynamoDB: rule items, a gapless change log written with conditional puts, and watch by polling it. */
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { Rule } from '../../core/rule-types.ts';
import { type Clock, type RuleChange, type RuleStore, systemClock } from '../../ports.ts';
import { guard, type Item, isConditionFailed, queryAll, storeError } from './client.ts';
import { decodeDocument, encodeDocument, n, num, pad, requireStr, s, str } from './codec.ts';

export interface DynamoRuleStoreOptions {
  readonly client: DynamoDBClient;
  /** The rules table (see TABLES.rules). */
  readonly table: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How often a watching store polls the change log, in ms. @default 1000 */
  readonly pollMs?: number;
  /** How long change-log items and delete tombstones stay before DynamoDB TTL removes them, in ms. @default 86400000 */
  readonly changeRetentionMs?: number;
  /** Called when a poll of the change log fails (the next poll retries). @default console.warn */
  readonly onWatchError?: (error: unknown) => void;
}

const RULE_PK = 'rule';
const CHANGE_PK = 'change';
const HEAD = { pk: s('head'), sk: s('rev') };
const APPEND_ATTEMPTS = 50;

type Listener = (change: RuleChange) => void;

interface ChangeRecord {
  readonly rev: number;
  readonly change: RuleChange;
}

/**
 * Every put and delete first appends a change item at revision `latest + 1` with `attribute_not_exists` (so the
 * log has no gaps and one writer wins each revision), then writes the rule item only if its stored revision is
 * older (so the table ends in the state of the highest revision). Deletes leave a tombstone until TTL removes it,
 * so that a slower, older put cannot resurrect a deleted rule. Watchers poll the log for revisions past theirs.
 */
export class DynamoRuleStore implements RuleStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #retentionMs: number;
  readonly #onWatchError: (error: unknown) => void;
  readonly #listeners = new Set<Listener>();
  #poller: Poller | undefined;

  constructor(options: DynamoRuleStoreOptions) {
    this.#client = options.client;
    this.#table = options.table;
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = positive(options.pollMs ?? 1000, 'pollMs');
    this.#retentionMs = positive(options.changeRetentionMs ?? 86_400_000, 'changeRetentionMs');
    this.#onWatchError =
      options.onWatchError ?? ((error) => console.warn('junction: rule watch poll failed:', error));
  }

  async put(rule: Rule): Promise<{ created: boolean }> {
    const name = ruleName(rule?.name);
    await this.#poller?.ready;
    const doc = await encodeDocument('body', rule, 'rule');
    const rev = await this.#append({ kind: s('put'), name: s(name), ...doc });
    try {
      const out = await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { pk: s(RULE_PK), sk: s(name), rev: n(rev), ...doc },
          ConditionExpression: 'attribute_not_exists(pk) OR rev < :rev',
          ExpressionAttributeValues: { ':rev': n(rev) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const old = out.Attributes;
      return { created: old === undefined || old.deleted?.BOOL === true };
    } catch (error) {
      if (isConditionFailed(error)) return { created: false };
      throw storeError('PutItem', this.#table, error);
    }
  }

  async get(name: string): Promise<Rule | undefined> {
    const out = await guard('GetItem', this.#table, () =>
      this.#client.send(
        new GetItemCommand({
          TableName: this.#table,
          Key: { pk: s(RULE_PK), sk: s(name) },
          ConsistentRead: true,
        }),
      ),
    );
    if (out.Item === undefined || out.Item.deleted?.BOOL === true) return undefined;
    return (await decodeDocument(out.Item, 'body')) as Rule;
  }

  async list(): Promise<Rule[]> {
    const items = await this.#ruleItems();
    const rules = await Promise.all(items.map(async (item) => (await decodeDocument(item, 'body')) as Rule));
    return rules.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(name: string): Promise<boolean> {
    await this.#poller?.ready;
    if ((await this.get(name)) === undefined) return false;
    const rev = await this.#append({ kind: s('delete'), name: s(name) });
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: s(RULE_PK), sk: s(name) },
          UpdateExpression: 'SET deleted = :true, rev = :rev, #ttl = :ttl REMOVE body, bodyGz',
          ConditionExpression: 'attribute_not_exists(pk) OR rev < :rev',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':true': { BOOL: true }, ':rev': n(rev), ':ttl': n(this.#ttl()) },
        }),
      );
    } catch (error) {
      // A newer put or delete already won: this delete is superseded (and is in the log before it).
      if (!isConditionFailed(error)) throw storeError('UpdateItem', this.#table, error);
    }
    return true;
  }

  watch(listener: (change: RuleChange) => void): () => void {
    this.#listeners.add(listener);
    if (this.#poller === undefined) {
      this.#poller = new Poller(this, this.#pollMs, (change) => this.#emit(change), this.#onWatchError);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopPolling();
    };
  }

  /** Stops polling; later put/get/list/delete still work. */
  async close(): Promise<void> {
    this.#listeners.clear();
    this.#stopPolling();
  }

  #stopPolling(): void {
    this.#poller?.stop();
    this.#poller = undefined;
  }

  #emit(change: RuleChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.#onWatchError(error);
      }
    }
  }

  #ttl(): number {
    return Math.ceil((this.#clock.now() + this.#retentionMs) / 1000);
  }

  /** Appends a change at the next revision, retrying when another writer took it; answers the revision. */
  async #append(fields: Item): Promise<number> {
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      const rev = (await this.latestRevision()) + 1;
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              pk: s(CHANGE_PK),
              sk: s(pad(rev)),
              at: n(this.#clock.now()),
              ttl: n(this.#ttl()),
              ...fields,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        if (isConditionFailed(error)) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
          continue;
        }
        throw storeError('PutItem', this.#table, error);
      }
      await this.#advanceHead(rev);
      return rev;
    }
    throw new JunctionError(
      'Internal',
      `rule change log of table ${this.#table} is contended: gave up after ${APPEND_ATTEMPTS} tries`,
      {
        retriable: true,
      },
    );
  }

  async #advanceHead(rev: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: HEAD,
          UpdateExpression: 'SET rev = :rev',
          ConditionExpression: 'attribute_not_exists(rev) OR rev < :rev',
          ExpressionAttributeValues: { ':rev': n(rev) },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw storeError('UpdateItem', this.#table, error);
    }
  }

  /** The highest revision written: the newest change item or the head (which outlives expired changes). */
  async latestRevision(): Promise<number> {
    const [head, newest] = await Promise.all([
      guard('GetItem', this.#table, () =>
        this.#client.send(new GetItemCommand({ TableName: this.#table, Key: HEAD, ConsistentRead: true })),
      ),
      guard('Query', this.#table, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': s(CHANGE_PK) },
            ScanIndexForward: false,
            Limit: 1,
            ConsistentRead: true,
          }),
        ),
      ),
    ]);
    const fromHead = head.Item !== undefined ? (num(head.Item, 'rev') ?? 0) : 0;
    const newestItem = newest.Items?.[0];
    const fromLog = newestItem !== undefined ? Number(requireStr(newestItem, 'sk', this.#table)) : 0;
    return Math.max(fromHead, fromLog);
  }

  /** Changes after `rev`, oldest first. */
  async changesAfter(rev: number): Promise<ChangeRecord[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND sk > :after',
      ExpressionAttributeValues: { ':pk': s(CHANGE_PK), ':after': s(pad(rev)) },
      ConsistentRead: true,
    });
    return Promise.all(
      items.map(async (item): Promise<ChangeRecord> => {
        const changeRev = Number(requireStr(item, 'sk', this.#table));
        const name = requireStr(item, 'name', this.#table);
        if (str(item, 'kind') === 'delete') return { rev: changeRev, change: { kind: 'delete', name } };
        return {
          rev: changeRev,
          change: { kind: 'put', rule: (await decodeDocument(item, 'body')) as Rule },
        };
      }),
    );
  }

  /** The current rules with their revisions (tombstones left out). */
  async revisions(): Promise<Map<string, { rev: number; item: Item }>> {
    const map = new Map<string, { rev: number; item: Item }>();
    for (const item of await this.#ruleItems()) {
      map.set(requireStr(item, 'sk', this.#table), { rev: num(item, 'rev') ?? 0, item });
    }
    return map;
  }

  async #ruleItems(): Promise<Item[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': s(RULE_PK) },
      ConsistentRead: true,
    });
    return items.filter((item) => item.deleted?.BOOL !== true);
  }
}

/**
 * Polls the change log for one store. It starts at the latest revision; when the log has a hole before the next
 * revision (its items expired while this poller was not running, e.g. a frozen Lambda), it resynchronizes by
 * diffing the rules table against what it has reported and reports the difference.
 */
class Poller {
  readonly ready: Promise<void>;
  readonly #store: DynamoRuleStore;
  readonly #pollMs: number;
  readonly #emit: (change: RuleChange) => void;
  readonly #onError: (error: unknown) => void;
  #cursor = 0;
  #known = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    store: DynamoRuleStore,
    pollMs: number,
    emit: (change: RuleChange) => void,
    onError: (error: unknown) => void,
  ) {
    this.#store = store;
    this.#pollMs = pollMs;
    this.#emit = emit;
    this.#onError = onError;
    this.ready = this.#start();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  async #start(): Promise<void> {
    try {
      await this.#snapshot();
    } catch (error) {
      this.#onError(error);
    }
    this.#schedule();
  }

  async #snapshot(): Promise<void> {
    this.#cursor = await this.#store.latestRevision();
    const revisions = await this.#store.revisions();
    this.#known = new Map([...revisions].map(([name, { rev }]) => [name, rev]));
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#pollMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      await this.#poll();
    } catch (error) {
      this.#onError(error);
    }
    this.#schedule();
  }

  async #poll(): Promise<void> {
    const changes = await this.#store.changesAfter(this.#cursor);
    for (const { rev, change } of changes) {
      if (this.#stopped) return;
      if (rev !== this.#cursor + 1) {
        await this.#resync();
        return;
      }
      this.#cursor = rev;
      if (change.kind === 'put') this.#known.set(change.rule.name, rev);
      else this.#known.delete(change.name);
      this.#emit(change);
    }
  }

  async #resync(): Promise<void> {
    const cursor = await this.#store.latestRevision();
    const current = await this.#store.revisions();
    for (const [name, { rev, item }] of current) {
      if (this.#known.get(name) === rev) continue;
      this.#known.set(name, rev);
      if (!this.#stopped) this.#emit({ kind: 'put', rule: (await decodeDocument(item, 'body')) as Rule });
    }
    for (const name of [...this.#known.keys()]) {
      if (current.has(name)) continue;
      this.#known.delete(name);
      if (!this.#stopped) this.#emit({ kind: 'delete', name });
    }
    this.#cursor = cursor;
  }
}

function ruleName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || Buffer.byteLength(value) > 1024) {
    throw new JunctionError(
      'InvalidRule',
      `rule name must be a non-empty string of at most 1024 bytes, got ${JSON.stringify(value)}`,
      {
        field: 'name',
      },
    );
  }
  return value;
}

function positive(value: number, field: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} must be a positive number of ms, got ${String(value)}`,
      { field },
    );
  }
  return value;
}
