/** Attribute-value helpers and the JSON-or-gzip encoding of large documents (events, rules) in items. */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import type { Item } from './client.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Documents longer than this (UTF-8 bytes of their JSON) are stored gzip-compressed as a binary attribute. */
export const COMPRESS_ABOVE_BYTES = 16 * 1024;

/**
 * The largest stored document, compressed or not: DynamoDB's item limit is 400 KB including attribute names and
 * the other attributes of the item, so this leaves room for them.
 */
export const MAX_STORED_DOCUMENT_BYTES = 380 * 1024;

export const s = (value: string): AttributeValue => ({ S: value });
export const n = (value: number): AttributeValue => ({ N: String(value) });

export function str(item: Item, name: string): string | undefined {
  const value = item[name];
  return value !== undefined && 'S' in value ? value.S : undefined;
}

export function num(item: Item, name: string): number | undefined {
  const value = item[name];
  return value !== undefined && 'N' in value && value.N !== undefined ? Number(value.N) : undefined;
}

export function requireStr(item: Item, name: string, table: string): string {
  const value = str(item, name);
  if (value === undefined) throw corrupt(table, name);
  return value;
}

export function requireNum(item: Item, name: string, table: string): number {
  const value = num(item, name);
  if (value === undefined || !Number.isFinite(value)) throw corrupt(table, name);
  return value;
}

function corrupt(table: string, name: string): JunctionError {
  return new JunctionError('Internal', `DynamoDB item in table ${table} lacks attribute ${name}`, {
    field: name,
  });
}

/**
 * Encodes a JSON document for attribute `name`: as text in `name`, or gzip'd in `<name>Gz` when it is large.
 * Rejects with PayloadTooLarge when even the compressed form does not fit in an item.
 */
export async function encodeDocument(name: string, value: unknown, field = name): Promise<Item> {
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json);
  if (bytes <= COMPRESS_ABOVE_BYTES) return { [name]: s(json) };
  const packed = await gzipAsync(json);
  if (packed.byteLength > MAX_STORED_DOCUMENT_BYTES) {
    throw new JunctionError(
      'PayloadTooLarge',
      `${field} is ${bytes} bytes of JSON, ${packed.byteLength} bytes gzip'd; DynamoDB items hold at most ` +
        `${MAX_STORED_DOCUMENT_BYTES} bytes of it compressed`,
      { field, details: { bytes, compressedBytes: packed.byteLength, limit: MAX_STORED_DOCUMENT_BYTES } },
    );
  }
  return { [`${name}Gz`]: { B: new Uint8Array(packed) } };
}

/** Decodes what encodeDocument wrote, or undefined when the item has neither attribute. */
export async function decodeDocument(item: Item, name: string): Promise<unknown> {
  const text = str(item, name);
  if (text !== undefined) return JSON.parse(text);
  const packed = item[`${name}Gz`];
  if (packed !== undefined && 'B' in packed && packed.B !== undefined) {
    return JSON.parse((await gunzipAsync(packed.B)).toString('utf8'));
  }
  return undefined;
}

/** Both attribute names a document may occupy, for REMOVE clauses. */
export function documentAttributes(name: string): [string, string] {
  return [name, `${name}Gz`];
}

/** A number as a fixed-width decimal string, so that string order is numeric order (non-negative integers). */
export function pad(value: number, width = 16): string {
  return String(Math.max(0, Math.floor(value))).padStart(width, '0');
}

/** The index shard of a key: a stable hash into `shards` buckets. */
export function shardOf(key: string, shards: number): number {
  let hash = 2166136261;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % shards;
}

/** Freezes a decoded JSON value and everything in it (events are frozen values in Junction). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Key strings longer than this (UTF-8 bytes) are stored as their SHA-256 (partition keys hold 2048 bytes). */
export const MAX_PLAIN_KEY_BYTES = 1024;

/** A key value that fits a DynamoDB key attribute: the string itself, or `sha256:<hex>` of it when it is long. */
export function boundedKey(value: string): string {
  if (Buffer.byteLength(value) <= MAX_PLAIN_KEY_BYTES) return value;
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}
