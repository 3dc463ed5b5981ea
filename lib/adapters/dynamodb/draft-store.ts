/**
 * DraftStore on DynamoDB (issue #16), in the rules table beside the schemas: one item per (source, type) (pk `draft`,
 * sk both, hashed when long, as trace keys are), holding the draft as a document (gzip'd when large). A put replaces
 * the item as a whole.
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { SchemaDraft } from '../../core/schema-infer.ts';
import type { DraftStore } from '../../ports.ts';
import { conditional, guard, type Item, queryAll } from './client.ts';
import { boundedKey, decodeDocument, encodeDocument, requireStr, s } from './codec.ts';

export interface DynamoDraftStoreOptions {
  readonly client: DynamoDBClient;
  /** The rules table (see TABLES.rules), which holds the drafts beside the rules and schemas. */
  readonly table: string;
}

/** Most drafts a list reads (discovery keeps far fewer pairs). */
const MAX_DRAFTS = 10_000;

const DRAFT_PK = 'draft';

/** The key of a pair: type and source joined by a character neither holds (CloudEvents attributes are printable). */
const keyOf = (source: string, type: string): Item => ({
  pk: s(DRAFT_PK),
  sk: s(boundedKey(`${type}\u0000${source}`)),
});

export class DynamoDraftStore implements DraftStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: DynamoDraftStoreOptions) {
    this.#client = options.client;
    this.#table = options.table;
  }

  async put(draft: SchemaDraft): Promise<void> {
    const { source, type } = draft;
    if (typeof source !== 'string' || typeof type !== 'string') {
      throw new JunctionError('InvalidRequest', 'a draft needs a string source and type', {
        field: typeof source !== 'string' ? 'source' : 'type',
      });
    }
    const doc = await encodeDocument(
      'draft',
      {
        source,
        type,
        versions: draft.versions,
        events: draft.events,
        firstSeen: draft.firstSeen,
        lastSeen: draft.lastSeen,
      },
      'draft',
    );
    await guard('PutItem', this.#table, () =>
      this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...keyOf(source, type), source: s(source), type: s(type), ...doc },
        }),
      ),
    );
  }

  async get(source: string, type: string): Promise<SchemaDraft | undefined> {
    const out = await guard('GetItem', this.#table, () =>
      this.#client.send(
        new GetItemCommand({ TableName: this.#table, Key: keyOf(source, type), ConsistentRead: true }),
      ),
    );
    // A hashed key could in theory be shared: the item's own pair must match.
    if (out.Item === undefined || out.Item.source?.S !== source || out.Item.type?.S !== type)
      return undefined;
    return this.#draft(out.Item);
  }

  async list(): Promise<SchemaDraft[]> {
    const items = await queryAll(
      this.#client,
      {
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': s(DRAFT_PK) },
        ConsistentRead: true,
      },
      MAX_DRAFTS,
    );
    const drafts = await Promise.all(items.map((item) => this.#draft(item)));
    return drafts.sort((a, b) =>
      a.type !== b.type ? (a.type < b.type ? -1 : 1) : a.source < b.source ? -1 : a.source > b.source ? 1 : 0,
    );
  }

  async delete(source: string, type: string): Promise<boolean> {
    // Conditional on the pair, as a hashed key could in theory be shared; a failed condition: nothing deleted.
    const out = await conditional('DeleteItem', this.#table, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: keyOf(source, type),
          ConditionExpression: '#source = :source AND #type = :type',
          ExpressionAttributeNames: { '#source': 'source', '#type': 'type' },
          ExpressionAttributeValues: { ':source': s(source), ':type': s(type) },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return out?.Attributes !== undefined;
  }

  async #draft(item: Item): Promise<SchemaDraft> {
    const draft = (await decodeDocument(item, 'draft')) as SchemaDraft | undefined;
    if (draft === undefined) requireStr(item, 'draft', this.#table);
    return draft as SchemaDraft;
  }
}
