/** Events to Kafka messages and fetched record batches back to log records; the Java client's key partitioner. */
import { murmur2, type RecordsBatch } from '@platformatic/kafka';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { fromKafkaRecord, toKafkaRecord } from '../../core/codec/kafka.ts';
import type { LogRecord } from '../../ports.ts';

/** A message as the producer (Buffer serializers) takes it. */
export interface OutgoingMessage {
  topic: string;
  partition: number;
  key: Buffer;
  value: Buffer;
  headers: Map<Buffer, Buffer>;
  timestamp: bigint;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The partition of a key, as Apache Kafka's Java client computes it (murmur2, positive, modulo the count),
 * so that other clients writing the same topic agree.
 */
export function partitionOf(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** The event in the CloudEvents Kafka binding (structured), keyed by `partitionkey` else `source`. */
export function toMessage(
  event: CloudEvent,
  topic: string,
  partitions: number,
  timestamp: number,
): OutgoingMessage {
  const record = toKafkaRecord(event);
  const key = Buffer.from(record.key, 'utf8');
  const headers = new Map<Buffer, Buffer>();
  for (const [name, value] of record.headers) headers.set(Buffer.from(name, 'utf8'), toBuffer(value));
  return {
    topic,
    partition: partitionOf(key, partitions),
    key,
    value: toBuffer(record.value),
    headers,
    timestamp: BigInt(timestamp),
  };
}

/**
 * The log records of fetched batches from `fromOffset` on (a batch can start before it). A record that does not
 * decode as a CloudEvent is passed to `onSkip` and left out.
 */
export function recordsFromBatches(
  batches: readonly RecordsBatch[],
  partition: number,
  fromOffset: number,
  onSkip: (offset: number, error: unknown) => void,
): LogRecord[] {
  const out: LogRecord[] = [];
  for (const batch of batches) {
    for (const record of batch.records) {
      const offset = Number(batch.firstOffset) + record.offsetDelta;
      if (offset < fromOffset) continue;
      const headers: Array<[string, Uint8Array]> = [];
      for (const [name, value] of record.headers) {
        if (name !== null) headers.push([name.toString('utf8'), value ?? new Uint8Array(0)]);
      }
      try {
        const event = fromKafkaRecord({ key: record.key, value: record.value, headers });
        out.push({
          partition,
          offset,
          key: record.key === null ? event.source : record.key.toString('utf8'),
          timestamp: Number(batch.firstTimestamp + record.timestampDelta),
          event,
        });
      } catch (error) {
        onSkip(offset, error);
      }
    }
  }
  return out;
}
