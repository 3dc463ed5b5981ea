/** Events in ledger and dead-letter items: JSON inline, gzip inline, or gzip split over chunk items when one item cannot hold it. */
import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { JunctionError } from '../../core/errors.ts';
import { batchGet, batchWrite, type Item } from './client.ts';
import { COMPRESS_ABOVE_BYTES, decodeDocument, MAX_STORED_DOCUMENT_BYTES, n, num, s, str } from './codec.ts';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bytes of compressed payload per chunk item (an item holds 400 KB with its key and attribute names). */
export const CHUNK_BYTES = 350 * 1024;

/** At most this many chunks per payload: 5.6 MB compressed, far above the 1 MiB event limit. */
export const MAX_PAYLOAD_CHUNKS = 16;

export interface EncodedPayload {
  /** Attributes of the owning item: the document, or where its chunks are. */
  readonly attributes: Item;
  /** Chunk items to write before the owning item. */
  readonly chunks: readonly Item[];
}

/**
 * Stores JSON documents of any size up to MAX_PAYLOAD_CHUNKS × CHUNK_BYTES compressed. Up to 16 KiB of JSON is
 * kept as text (`<name>`), up to 380 KB gzip'd as binary (`<name>Gz`); beyond that the gzip'd bytes are split over
 * chunk items in the same table, keyed `chunk:<chunkId>:<index>:<owner key>`, and the owner holds `<name>Chunks`,
 * `<name>ChunkId` and `<name>Sha` (SHA-256 of the compressed bytes, checked on read). Every write uses a fresh
 * chunk id, so a conditional write of the owner that fails never disturbs the chunks of the item that is there.
 */
export class PayloadStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #keyName: string;

  /** `keyName`: the table's partition key attribute (chunk items use the same key, with another value). */
  constructor(client: DynamoDBClient, table: string, keyName: string) {
    this.#client = client;
    this.#table = table;
    this.#keyName = keyName;
  }

  async encode(owner: string, name: string, value: unknown, field = name): Promise<EncodedPayload> {
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json);
    if (bytes <= COMPRESS_ABOVE_BYTES) return { attributes: { [name]: s(json) }, chunks: [] };
    const packed = await gzipAsync(json);
    if (packed.byteLength <= MAX_STORED_DOCUMENT_BYTES) {
      return { attributes: { [`${name}Gz`]: { B: new Uint8Array(packed) } }, chunks: [] };
    }
    const count = Math.ceil(packed.byteLength / CHUNK_BYTES);
    if (count > MAX_PAYLOAD_CHUNKS) {
      const limit = MAX_PAYLOAD_CHUNKS * CHUNK_BYTES;
      throw new JunctionError(
        'PayloadTooLarge',
        `${field} is ${bytes} bytes of JSON, ${packed.byteLength} bytes gzip'd; at most ${limit} bytes compressed are stored`,
        { field, details: { bytes, compressedBytes: packed.byteLength, limit } },
      );
    }
    const chunkId = randomBytes(8).toString('hex');
    const chunks: Item[] = [];
    for (let i = 0; i < count; i++) {
      const slice = packed.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
      chunks.push({ ...this.#chunkKey(chunkId, i, owner), data: { B: new Uint8Array(slice) } });
    }
    const sha = createHash('sha256').update(packed).digest('hex');
    return {
      attributes: { [`${name}Chunks`]: n(count), [`${name}ChunkId`]: s(chunkId), [`${name}Sha`]: s(sha) },
      chunks,
    };
  }

  /** Writes the chunk items of an encoded payload (none for an inline one). */
  async write(encoded: EncodedPayload): Promise<void> {
    if (encoded.chunks.length === 0) return;
    await batchWrite(
      this.#client,
      this.#table,
      encoded.chunks.map((item) => ({ PutRequest: { Item: item } })),
    );
  }

  /** The document of attribute `name` of an owning item, reading its chunks when it has some. */
  async decode(owner: string, item: Item, name: string): Promise<unknown> {
    const location = chunksOf(item, name);
    if (location === undefined) return decodeDocument(item, name);
    const keys = Array.from({ length: location.count }, (_, i) => this.#chunkKey(location.chunkId, i, owner));
    const found = new Map(
      (await batchGet(this.#client, this.#table, keys)).map((chunk) => [str(chunk, this.#keyName), chunk]),
    );
    const parts = keys.map((key) => {
      const data = found.get(key[this.#keyName]?.S)?.data;
      if (data === undefined || !('B' in data) || data.B === undefined) {
        throw new JunctionError(
          'Internal',
          `a chunk of ${name} of ${owner} is missing in table ${this.#table}`,
          {
            field: name,
          },
        );
      }
      return data.B;
    });
    const packed = Buffer.concat(parts);
    if (createHash('sha256').update(packed).digest('hex') !== location.sha) {
      throw new JunctionError(
        'Internal',
        `the chunks of ${name} of ${owner} in table ${this.#table} do not match`,
        {
          field: name,
        },
      );
    }
    return JSON.parse((await gunzipAsync(packed)).toString('utf8'));
  }

  /** Deletes the chunk items an owning item (as it was) referred to; nothing when it had none. */
  async discard(owner: string, item: Item | undefined, name: string): Promise<void> {
    const location = item === undefined ? undefined : chunksOf(item, name);
    if (location === undefined) return;
    await batchWrite(
      this.#client,
      this.#table,
      Array.from({ length: location.count }, (_, i) => ({
        DeleteRequest: { Key: this.#chunkKey(location.chunkId, i, owner) },
      })),
    );
  }

  /** The attributes a payload may occupy on its owner, for REMOVE clauses. */
  static attributes(name: string): string[] {
    return [name, `${name}Gz`, `${name}Chunks`, `${name}ChunkId`, `${name}Sha`];
  }

  #chunkKey(chunkId: string, index: number, owner: string): Item {
    return { [this.#keyName]: s(`chunk:${chunkId}:${index}:${owner}`) };
  }
}

function chunksOf(item: Item, name: string): { count: number; chunkId: string; sha: string } | undefined {
  const count = num(item, `${name}Chunks`);
  const chunkId = str(item, `${name}ChunkId`);
  const sha = str(item, `${name}Sha`);
  if (count === undefined || chunkId === undefined || sha === undefined) return undefined;
  return { count, chunkId, sha };
}
