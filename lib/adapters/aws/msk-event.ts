/**
 * The event an Amazon MSK event source mapping hands to Lambda (`eventSource: 'aws:kafka'`): decoding it into log
 * records per partition, and building it from raw Kafka records (the local poller).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { decodeBase64, encodeBase64, isBase64 } from '../../core/codec/base64.ts';
import { fromKafkaRecord } from '../../core/codec/kafka.ts';
import { decodeUtf8 } from '../../core/codec/utf8.ts';
import type { SourceRecord } from '../../core/connector.ts';
import { JunctionError } from '../../core/errors.ts';
import { isObject } from '../../core/values.ts';
import type { InvalidSourceRecord, LogRecord } from '../../ports.ts';

/** One header as the mapping sends it: a single-key object whose value is the bytes as signed Java bytes. */
export type MskHeader = Readonly<Record<string, readonly number[]>>;

export interface MskRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** ms since the epoch. */
  readonly timestamp: number;
  readonly timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** base64; absent or null when the record has no key. */
  readonly key?: string | null;
  /** base64; absent or null for a tombstone. */
  readonly value?: string | null;
  readonly headers: readonly MskHeader[];
}

export interface MskEvent {
  readonly eventSource: 'aws:kafka' | 'SelfManagedKafka' | 'aws:SelfManagedKafka';
  /** The cluster's ARN (absent for self-managed Kafka). */
  readonly eventSourceArn?: string;
  /** `host:port,host:port`. */
  readonly bootstrapServers: string;
  /** Keyed `<topic>-<partition>`; each list in offset order. */
  readonly records: Readonly<Record<string, readonly MskRecord[]>>;
}

/** A record that does not decode as a CloudEvent, with its raw bytes (base64) and why. */
export interface UndecodableRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly error: JunctionError;
}

/** The records of one topic partition in offset order: those that decoded, and those that did not. */
export interface MskPartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly LogRecord[];
  readonly undecodable: readonly UndecodableRecord[];
}

function shapeError(message: string, field: string, value: unknown): JunctionError {
  let shown: string;
  try {
    shown = JSON.stringify(value)?.slice(0, 120) ?? String(value);
  } catch {
    shown = String(value);
  }
  return new JunctionError('InvalidRequest', `MSK event: ${field} ${message}; received ${shown}`, { field });
}

/** Signed Java bytes (-128…127; unsigned 0…255 also accepted) to bytes. */
export function headerBytes(values: readonly number[], field = 'headers'): Uint8Array {
  if (!Array.isArray(values)) throw shapeError('must be an array of bytes', field, values);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = values[i];
    if (typeof b !== 'number' || !Number.isInteger(b) || b < -128 || b > 255) {
      throw shapeError('must hold integers in -128..255', `${field}[${i}]`, b);
    }
    out[i] = b & 0xff;
  }
  return out;
}

/** Bytes as signed Java bytes, as the mapping sends header values. */
export function signedBytes(bytes: Uint8Array): number[] {
  const out = new Array<number>(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i]! << 24) >> 24;
  return out;
}

function base64Field(value: unknown, field: string): Uint8Array | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !isBase64(value)) throw shapeError('must be base64', field, value);
  return decodeBase64(value);
}

function decodeRecord(
  raw: unknown,
  field: string,
): { record: MskRecord; headers: Array<[string, Uint8Array]> } {
  if (!isObject(raw)) throw shapeError('must be an object', field, raw);
  const { topic, partition, offset, timestamp } = raw;
  if (typeof topic !== 'string' || topic === '')
    throw shapeError('must be a topic name', `${field}.topic`, topic);
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
    throw shapeError('must be a partition number', `${field}.partition`, partition);
  }
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw shapeError('must be an offset', `${field}.offset`, offset);
  }
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    throw shapeError('must be ms since the epoch', `${field}.timestamp`, timestamp);
  }
  const headers: Array<[string, Uint8Array]> = [];
  const rawHeaders = raw.headers ?? [];
  if (!Array.isArray(rawHeaders)) throw shapeError('must be an array', `${field}.headers`, rawHeaders);
  rawHeaders.forEach((header: unknown, i: number) => {
    if (!isObject(header)) throw shapeError('must be {name: bytes}', `${field}.headers[${i}]`, header);
    for (const [name, value] of Object.entries(header)) {
      headers.push([name, headerBytes(value as number[], `${field}.headers[${i}].${name}`)]);
    }
  });
  return { record: raw as unknown as MskRecord, headers };
}

function undecodable(
  raw: unknown,
  fallback: { topic: string; partition: number },
  error: unknown,
): UndecodableRecord {
  const r = isObject(raw) ? raw : {};
  const headers: Array<{ name: string; value: string }> = [];
  if (Array.isArray(r.headers)) {
    for (const header of r.headers as unknown[]) {
      if (!isObject(header)) continue;
      for (const [name, value] of Object.entries(header)) {
        try {
          headers.push({ name, value: encodeBase64(headerBytes(value as number[])) });
        } catch {
          headers.push({ name, value: '' });
        }
      }
    }
  }
  const asString = (v: unknown) => (typeof v === 'string' ? v : null);
  const asInt = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) ? v : d);
  const e =
    error instanceof JunctionError
      ? error
      : new JunctionError('InvalidEvent', error instanceof Error ? error.message : String(error));
  return {
    topic: typeof r.topic === 'string' ? r.topic : fallback.topic,
    partition: asInt(r.partition, fallback.partition),
    offset: asInt(r.offset, -1),
    timestamp: typeof r.timestamp === 'number' ? r.timestamp : 0,
    key: asString(r.key),
    value: asString(r.value),
    headers,
    error: e,
  };
}

/** Where a `records` key says the records are from (used only when a record lacks its own fields). */
function keyFallback(key: string): { topic: string; partition: number } {
  const dash = key.lastIndexOf('-');
  const partition = Number(key.slice(dash + 1));
  return dash > 0 && Number.isInteger(partition)
    ? { topic: key.slice(0, dash), partition }
    : { topic: key, partition: -1 };
}

/**
 * Decodes an MSK event into one batch per topic partition, each in offset order. Records are grouped by their
 * own `topic` and `partition` (a topic may contain `-`, so the `records` key is never split for that). A record
 * that is not a CloudEvent in the Kafka binding goes to `undecodable` with its raw bytes; only an event that is
 * not MSK-shaped at all throws (`InvalidRequest`, naming the field).
 */
export function decodeMskEvent(event: unknown): MskPartitionBatch[] {
  const batches = partitionBatches((topic, partition) => ({
    topic,
    partition,
    records: [] as LogRecord[],
    undecodable: [] as UndecodableRecord[],
  }));
  const batchOf = batches.of;
  forEachRawRecord(event, (raw, field, key) => {
    let decoded: ReturnType<typeof decodeRecord>;
    try {
      decoded = decodeRecord(raw, field);
    } catch (error) {
      const bad = undecodable(raw, keyFallback(key), error);
      batchOf(bad.topic, bad.partition).undecodable.push(bad);
      return;
    }
    const { record, headers } = decoded;
    try {
      const keyBytes = base64Field(record.key, `${field}.key`);
      const value = base64Field(record.value, `${field}.value`);
      const cloudEvent = fromKafkaRecord({ key: keyBytes, value, headers });
      const keyText = keyBytes === null ? undefined : decodeUtf8(keyBytes);
      batchOf(record.topic, record.partition).records.push({
        partition: record.partition,
        offset: record.offset,
        key: keyText ?? cloudEvent.source,
        timestamp: record.timestamp,
        event: cloudEvent,
      });
    } catch (error) {
      batchOf(record.topic, record.partition).undecodable.push(undecodable(raw, record, error));
    }
  });
  const out = batches.sorted();
  for (const batch of out) {
    batch.records.sort((a, b) => a.offset - b.offset);
    batch.undecodable.sort((a, b) => a.offset - b.offset);
  }
  return out;
}

/** The records of one topic partition of an MSK event as a source connector reads them (not decoded to events). */
export interface MskSourceBatch {
  readonly topic: string;
  readonly partition: number;
  /** In offset order. */
  readonly records: readonly SourceRecord[];
  /** Records the mapping sent in a shape that is not a record (bad base64, a missing offset), with the reason. */
  readonly malformed: readonly InvalidSourceRecord[];
}

/** Batches per topic partition, made on first use; `sorted()` answers them by topic, then partition. */
function partitionBatches<B extends { readonly topic: string; readonly partition: number }>(
  make: (topic: string, partition: number) => B,
): { of(topic: string, partition: number): B; sorted(): B[] } {
  const batches = new Map<string, B>();
  return {
    of(topic, partition) {
      const id = `${partition}\u0000${topic}`;
      let batch = batches.get(id);
      if (batch === undefined) {
        batch = make(topic, partition);
        batches.set(id, batch);
      }
      return batch;
    },
    sorted: () =>
      [...batches.values()].sort((a, b) =>
        a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
      ),
  };
}

/**
 * Calls `each` with every raw record of an MSK-shaped event, its field path (`records["t-0"][3]`) and its
 * `records` key; throws `InvalidRequest` naming the field when the event is not MSK-shaped.
 */
function forEachRawRecord(event: unknown, each: (raw: unknown, field: string, key: string) => void): void {
  for (const [key, list] of Object.entries(checkMskShape(event))) {
    if (!Array.isArray(list)) throw shapeError('must be an array of records', `records["${key}"]`, list);
    for (const [i, raw] of (list as unknown[]).entries()) each(raw, `records["${key}"][${i}]`, key);
  }
}

function checkMskShape(event: unknown): Record<string, unknown> {
  if (!isObject(event)) throw shapeError('must be an object', 'event', event);
  const source = event.eventSource;
  if (source !== 'aws:kafka' && source !== 'SelfManagedKafka' && source !== 'aws:SelfManagedKafka') {
    throw shapeError('must be "aws:kafka" or "SelfManagedKafka"', 'eventSource', source);
  }
  if (!isObject(event.records))
    throw shapeError('must be an object keyed "<topic>-<partition>"', 'records', event.records);
  return event.records;
}

/**
 * An MSK (or self-managed Kafka) event as source records, one batch per topic partition in offset order: the
 * records of a topic that is not Junction's log, for a connector to map (`decodeSourceRecord`). A record whose shape
 * is wrong is `malformed`, with the reason; only an event that is not MSK-shaped at all throws (`InvalidRequest`).
 */
export function mskSourceRecords(event: unknown): MskSourceBatch[] {
  const batches = partitionBatches((topic, partition) => ({
    topic,
    partition,
    records: [] as SourceRecord[],
    malformed: [] as InvalidSourceRecord[],
  }));
  const batchOf = batches.of;
  forEachRawRecord(event, (raw, field, key) => {
    try {
      const { record, headers } = decodeRecord(raw, field);
      batchOf(record.topic, record.partition).records.push({
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: base64Field(record.key, `${field}.key`),
        value: base64Field(record.value, `${field}.value`),
        headers,
      });
    } catch (error) {
      const bad = undecodable(raw, keyFallback(key), error);
      batchOf(bad.topic, bad.partition).malformed.push({
        position: `${bad.topic}/${bad.partition}/${bad.offset}`,
        reason: bad.error.message,
        record: {
          topic: bad.topic,
          partition: bad.partition,
          offset: bad.offset,
          timestamp: bad.timestamp,
          key: bad.key,
          value: bad.value,
          headers: Object.fromEntries(bad.headers.map((h) => [h.name, h.value])),
        },
      });
    }
  });
  const out = batches.sorted();
  for (const batch of out) batch.records.sort((a, b) => a.offset - b.offset);
  return out;
}

/** A raw Kafka record, as a consumer fetched it. */
export interface RawKafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** In wire order; names may repeat. */
  readonly headers: ReadonlyArray<readonly [Uint8Array | string, Uint8Array | null]>;
}

/** A fetched record in the mapping's shape: base64 key and value, headers as signed bytes. */
export function toMskRecord(record: RawKafkaRecord): MskRecord {
  const headers: MskHeader[] = record.headers.map(([name, value]) => ({
    [typeof name === 'string' ? name : (decodeUtf8(name) ?? encodeBase64(name))]: signedBytes(
      value ?? new Uint8Array(0),
    ),
  }));
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: 'CREATE_TIME',
    ...(record.key === null ? {} : { key: encodeBase64(record.key) }),
    ...(record.value === null ? {} : { value: encodeBase64(record.value) }),
    headers,
  };
}

export interface BuildMskEventOptions {
  readonly eventSourceArn: string;
  readonly bootstrapServers: readonly string[];
  readonly records: readonly RawKafkaRecord[];
}

/** The event an MSK mapping would send for these records: grouped by `<topic>-<partition>`, offset order kept. */
export function buildMskEvent(options: BuildMskEventOptions): MskEvent {
  const records: Record<string, MskRecord[]> = {};
  const sorted = [...options.records].sort((a, b) => a.offset - b.offset);
  for (const record of sorted) {
    const key = `${record.topic}-${record.partition}`;
    let list = records[key];
    if (!list) {
      list = [];
      records[key] = list;
    }
    list.push(toMskRecord(record));
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: options.eventSourceArn,
    bootstrapServers: options.bootstrapServers.join(','),
    records,
  };
}
