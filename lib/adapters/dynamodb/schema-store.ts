/**
 * SchemaStore on DynamoDB (issue #16), in the rules table (the bus's configuration; no table of its own, as a
 * stack of ten buses is near CloudFormation's 500 resources): one settings item per schema (pk `schema`, sk its
 * name) and one item per immutable version (pk `schema#<name>`, sk the zero-padded version). Versions are written
 * with `attribute_not_exists`, so a stored version never changes — by a later put or another instance racing this
 * one — and before the settings item, so a reader that sees a schema sees its versions.
 */
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { SchemaDefinition, SchemaVersion } from '../../core/schema.ts';
import type { SchemaStore } from '../../ports.ts';
import { batchWrite, guard, type Item, isConditionFailed, mapLimit, queryAll, storeError } from './client.ts';
import { decodeDocument, encodeDocument, n, pad, requireNum, requireStr, s } from './codec.ts';

export interface DynamoSchemaStoreOptions {
  readonly client: DynamoDBClient;
  /** The rules table (see TABLES.rules), which holds the schemas beside the rules. */
  readonly table: string;
}

const SETTINGS_PK = 'schema';
const versionsPk = (name: string): string => `schema#${name}`;
/** Most schemas a list reads, and versions a schema holds: far above MAX_SCHEMAS and MAX_VERSIONS. */
const MAX_ITEMS = 10_000;
/** Items read or written at once by one call. */
const CONCURRENCY = 8;

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
    const stored = new Set(
      (await this.#versionItems(name, true)).map((item) => requireStr(item, 'sk', this.#table)),
    );
    const missing = definition.versions.filter((v) => !stored.has(pad(v.version)));
    await mapLimit(missing, CONCURRENCY, async (v) => {
      const doc = await encodeDocument('schema', v.schema, 'schema');
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              pk: s(versionsPk(name)),
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
          Key: { pk: s(SETTINGS_PK), sk: s(name) },
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
    const out = await guard('GetItem', this.#table, () =>
      this.#client.send(
        new GetItemCommand({
          TableName: this.#table,
          Key: { pk: s(SETTINGS_PK), sk: s(name) },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item === undefined ? undefined : this.#definition(out.Item);
  }

  async list(): Promise<SchemaDefinition[]> {
    const settings = await queryAll(
      this.#client,
      {
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': s(SETTINGS_PK) },
        ConsistentRead: true,
      },
      MAX_ITEMS,
    );
    // Sort keys are the names: the query answers them in order.
    return mapLimit(settings, CONCURRENCY, (item) => this.#definition(item));
  }

  async delete(name: string): Promise<boolean> {
    if (!validName(name)) return false;
    // Settings first: from then on readers see no schema, so a half-deleted one is never shown.
    const out = await guard('DeleteItem', this.#table, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: { pk: s(SETTINGS_PK), sk: s(name) },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    const versions = await this.#versionItems(name, true);
    await batchWrite(
      this.#client,
      this.#table,
      versions.map((item) => ({
        DeleteRequest: { Key: { pk: s(versionsPk(name)), sk: s(requireStr(item, 'sk', this.#table)) } },
      })),
    );
    return out.Attributes !== undefined;
  }

  /** The version items of a schema, oldest first (consistent reads), or only their keys. */
  #versionItems(name: string, keysOnly: boolean): Promise<Item[]> {
    return queryAll(
      this.#client,
      {
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': s(versionsPk(name)) },
        ConsistentRead: true,
        ...(keysOnly ? { ProjectionExpression: 'pk, sk' } : {}),
      },
      MAX_ITEMS,
    );
  }

  /** The definition of a settings item, with its versions. */
  async #definition(item: Item): Promise<SchemaDefinition> {
    const name = requireStr(item, 'sk', this.#table);
    const settings = JSON.parse(requireStr(item, 'settings', this.#table)) as Settings;
    const versions = await Promise.all(
      (await this.#versionItems(name, false)).map(
        async (v): Promise<SchemaVersion> =>
          Object.freeze({
            version: requireNum(v, 'version', this.#table),
            dialect: requireStr(v, 'dialect', this.#table) as SchemaVersion['dialect'],
            schema: await decodeDocument(v, 'schema'),
            fingerprint: requireStr(v, 'fingerprint', this.#table),
            createdAt: requireNum(v, 'createdAt', this.#table),
          }),
      ),
    );
    return Object.freeze({
      name,
      compatibility: settings.compatibility,
      binding: settings.binding,
      enforcement: settings.enforcement,
      versions: Object.freeze(versions),
      createdAt: requireNum(item, 'createdAt', this.#table),
      updatedAt: requireNum(item, 'updatedAt', this.#table),
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
