/**
 * SchemaStore on DynamoDB (issue #16): per schema (partition key its name) one settings item (sort key `~`) and one
 * item per immutable version (sort key the zero-padded version), written with `attribute_not_exists` so that a
 * version, once stored, is never changed — by a later put or by another instance racing this one.
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { SchemaDefinition, SchemaVersion } from '../../core/schema.ts';
import type { SchemaStore } from '../../ports.ts';
import { batchWrite, guard, type Item, isConditionFailed, mapLimit, queryAll, storeError } from './client.ts';
import { decodeDocument, encodeDocument, n, pad, requireNum, requireStr, s } from './codec.ts';

export interface DynamoSchemaStoreOptions {
  readonly client: DynamoDBClient;
  /** The schemas table (see TABLES.schemas). */
  readonly table: string;
}

/** The sort key of a schema's settings item: after every zero-padded version, so a Query reads versions first. */
const SETTINGS = '~';
/** Most items a list reads: MAX_SCHEMAS schemas of MAX_VERSIONS versions each, and their settings, with room. */
const MAX_ITEMS = 20_000;
/** Version items written at once by one put. */
const WRITE_CONCURRENCY = 8;

type Settings = Pick<SchemaDefinition, 'compatibility' | 'binding' | 'enforcement'>;

export class DynamoSchemaStore implements SchemaStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(options: DynamoSchemaStoreOptions) {
    this.#client = options.client;
    this.#table = options.table;
  }

  async put(definition: SchemaDefinition): Promise<void> {
    const name = schemaName(definition?.name);
    const { compatibility, binding, enforcement } = definition;
    // Versions first: a reader that sees the settings item sees every version the put meant to add.
    const stored = new Set(
      (await this.#items(name, true)).map((item) => requireStr(item, 'sk', this.#table)),
    );
    const missing = definition.versions.filter((v) => !stored.has(pad(v.version)));
    await mapLimit(missing, WRITE_CONCURRENCY, async (v) => {
      const doc = await encodeDocument('schema', v.schema, 'schema');
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              pk: s(name),
              sk: s(pad(v.version)),
              version: n(v.version),
              dialect: s(v.dialect),
              fingerprint: s(v.fingerprint),
              createdAt: n(v.createdAt),
              ...doc,
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
      } catch (error) {
        // Another writer stored this version first: versions are immutable, so the stored one stays.
        if (!isConditionFailed(error)) throw storeError('PutItem', this.#table, error);
      }
    });
    await guard('UpdateItem', this.#table, () =>
      this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { pk: s(name), sk: s(SETTINGS) },
          UpdateExpression:
            'SET settings = :settings, updatedAt = :updated, createdAt = if_not_exists(createdAt, :created)',
          ExpressionAttributeValues: {
            ':settings': s(JSON.stringify({ compatibility, binding, enforcement })),
            ':updated': n(definition.updatedAt),
            ':created': n(definition.createdAt),
          },
        }),
      ),
    );
  }

  async get(name: string): Promise<SchemaDefinition | undefined> {
    if (!validName(name)) return undefined;
    return this.#definition(await this.#items(name, false));
  }

  async list(): Promise<SchemaDefinition[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const page = await guard('Scan', this.#table, () =>
        this.#client.send(
          new ScanCommand({
            TableName: this.#table,
            ConsistentRead: true,
            ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      items.push(...(page.Items ?? []));
      if (items.length > MAX_ITEMS) {
        throw new JunctionError(
          'Internal',
          `DynamoDB table ${this.#table} holds more than ${MAX_ITEMS} schema items, more than a registry can`,
        );
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    const byName = new Map<string, Item[]>();
    for (const item of items) {
      const name = requireStr(item, 'pk', this.#table);
      const list = byName.get(name) ?? [];
      list.push(item);
      byName.set(name, list);
    }
    const definitions = await Promise.all([...byName.values()].map((list) => this.#definition(list)));
    return definitions
      .filter((d): d is SchemaDefinition => d !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async delete(name: string): Promise<boolean> {
    if (!validName(name)) return false;
    // Settings first: from then on readers see no schema, so a half-deleted one is never shown.
    const out = await guard('DeleteItem', this.#table, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: { pk: s(name), sk: s(SETTINGS) },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const versions = await this.#items(name, true);
    await batchWrite(
      this.#client,
      this.#table,
      versions.map((item) => ({
        DeleteRequest: { Key: { pk: s(name), sk: s(requireStr(item, 'sk', this.#table)) } },
      })),
    );
    return out.Attributes !== undefined;
  }

  /** Every item of a schema (consistent reads), or only their keys. */
  #items(name: string, keysOnly: boolean): Promise<Item[]> {
    return queryAll(
      this.#client,
      {
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': s(name) },
        ConsistentRead: true,
        ...(keysOnly ? { ProjectionExpression: 'pk, sk' } : {}),
      },
      MAX_ITEMS,
    );
  }

  /** The definition the items of one schema make, or undefined without a settings item (absent or being deleted). */
  async #definition(items: readonly Item[]): Promise<SchemaDefinition | undefined> {
    const settingsItem = items.find((item) => requireStr(item, 'sk', this.#table) === SETTINGS);
    if (settingsItem === undefined) return undefined;
    const settings = JSON.parse(requireStr(settingsItem, 'settings', this.#table)) as Settings;
    const versions = await Promise.all(
      items
        .filter((item) => item !== settingsItem)
        .map(
          async (item): Promise<SchemaVersion> =>
            Object.freeze({
              version: requireNum(item, 'version', this.#table),
              dialect: requireStr(item, 'dialect', this.#table) as SchemaVersion['dialect'],
              schema: await decodeDocument(item, 'schema'),
              fingerprint: requireStr(item, 'fingerprint', this.#table),
              createdAt: requireNum(item, 'createdAt', this.#table),
            }),
        ),
    );
    versions.sort((a, b) => a.version - b.version);
    return Object.freeze({
      name: requireStr(settingsItem, 'pk', this.#table),
      compatibility: settings.compatibility,
      binding: settings.binding,
      enforcement: settings.enforcement,
      versions: Object.freeze(versions),
      createdAt: requireNum(settingsItem, 'createdAt', this.#table),
      updatedAt: requireNum(settingsItem, 'updatedAt', this.#table),
    });
  }
}

function validName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= 1024;
}

function schemaName(value: unknown): string {
  if (!validName(value)) {
    throw new JunctionError(
      'InvalidRequest',
      `schema name must be a non-empty string of at most 1024 bytes, got ${JSON.stringify(value)}`,
      { field: 'name' },
    );
  }
  return value;
}
