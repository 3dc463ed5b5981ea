/**
 * The Kafka topic source (issue #18): a consumer group on an existing topic. CloudEvents in the Kafka binding (binary
 * or structured) are taken as they are; other records become events through the connector's mapping, with ids from
 * their position (`{topic}-{partition}-{offset}` by default). A record that is neither is handed over as invalid (the
 * host dead-letters it) and never holds its partition back. Offsets are committed only after the bus took a batch.
 */
import type { RecordsBatch } from '@platformatic/kafka';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
import { encodeBase64 } from '../../core/codec/base64.ts';
import {
  eventOfRecord,
  type KafkaConnectorSpec,
  type RecordMapping,
  type SourceRecord,
} from '../../core/connector.ts';
import type { InvalidSourceRecord, Source, SourceContext, SourceStatus } from '../../ports.ts';
import { type KafkaEventLogOptions, resolveKafkaOptions } from './config.ts';
import { GroupMember } from './group-member.ts';

/** A decoded record: an event, or why it could not be one. */
interface Decoded {
  readonly offset: number;
  readonly event?: CloudEvent;
  readonly invalid?: InvalidSourceRecord;
}

export interface KafkaSourceOptions {
  readonly spec: KafkaConnectorSpec;
  /** The bus's own Kafka connection (brokers, TLS, SASL), used when the spec names no brokers. */
  readonly connection?: Pick<KafkaEventLogOptions, 'bootstrap' | 'tls' | 'sasl'>;
  /** Client id prefix. @default `junction-connector` */
  readonly clientId?: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Bytes as text when they are UTF-8, else as `{base64}`. */
function show(bytes: Uint8Array | null): unknown {
  if (bytes === null) return null;
  try {
    return decoder.decode(bytes);
  } catch {
    return { base64: encodeBase64(bytes) };
  }
}

/**
 * One record as an event, or as an invalid record with the reason (the host dead-letters it): a CloudEvent in the
 * Kafka binding as it is, any other record through the mapping. Shared by the embedded source and the AWS connector
 * function (an event source mapping's records), so both give a record the same event and the same id.
 */
export function decodeSourceRecord(
  record: SourceRecord,
  mapping: RecordMapping,
): { readonly event: CloudEvent } | { readonly invalid: InvalidSourceRecord } {
  try {
    return { event: eventOfRecord(record, mapping) };
  } catch (error) {
    return { invalid: invalidRecord(record, error instanceof Error ? error.message : String(error)) };
  }
}

/** A record that could not become an event, as its dead letter shows it (text where UTF-8, else base64). */
export function invalidRecord(record: SourceRecord, reason: string): InvalidSourceRecord {
  return {
    position: `${record.topic}/${record.partition}/${record.offset}`,
    reason,
    record: {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: record.timestamp,
      key: show(record.key),
      headers: Object.fromEntries(record.headers.map(([n, v]) => [n, show(v)])),
      value: show(record.value),
    },
  };
}

/** Fetched batches as source records, each decoded to an event or marked invalid with the reason. */
function recordDecoder(spec: KafkaConnectorSpec) {
  return (batches: readonly RecordsBatch[], partition: number, fromOffset: number): Decoded[] => {
    const out: Decoded[] = [];
    for (const batch of batches) {
      for (const raw of batch.records) {
        const offset = Number(batch.firstOffset) + raw.offsetDelta;
        if (offset < fromOffset) continue;
        const headers: Array<[string, Uint8Array]> = [];
        for (const [name, value] of raw.headers) {
          if (name !== null) headers.push([name.toString('utf8'), value ?? new Uint8Array(0)]);
        }
        const record: SourceRecord = {
          topic: spec.topic,
          partition,
          offset,
          key: raw.key,
          value: raw.value,
          headers,
          timestamp: Number(batch.firstTimestamp + raw.timestampDelta),
        };
        out.push({ offset, ...decodeSourceRecord(record, spec.mapping) });
      }
    }
    return out;
  };
}

/** A Kafka topic source for one connector. */
export class KafkaSource implements Source {
  readonly #options: KafkaSourceOptions;
  #member: GroupMember<Decoded> | undefined;
  #closed = false;

  constructor(options: KafkaSourceOptions) {
    this.#options = options;
  }

  async start(context: SourceContext): Promise<void> {
    if (this.#closed) throw new Error('the connector is closed');
    const { spec, connection } = this.#options;
    const bootstrap = spec.brokers ?? connection?.bootstrap;
    if (bootstrap === undefined)
      throw new Error('this connector names no brokers and the bus has no Kafka of its own');
    const resolved = resolveKafkaOptions({
      bootstrap,
      topic: spec.topic,
      clientId: this.#options.clientId ?? 'junction-connector',
      ...(spec.brokers === undefined && connection?.tls !== undefined ? { tls: connection.tls } : {}),
      ...(spec.brokers === undefined && connection?.sasl !== undefined ? { sasl: connection.sasl } : {}),
      retryBaseMs: 250,
      retryMaxMs: 30_000,
      onWarning: context.onWarning,
    });
    const member = new GroupMember<Decoded>(resolved, {
      group: spec.group,
      maxBatch: spec.maxBatch,
      startAt: spec.startFrom,
      decode: recordDecoder(spec),
      handler: async (records) => {
        const events: CloudEvent[] = [];
        const invalid: InvalidSourceRecord[] = [];
        for (const record of records) {
          if (record.event !== undefined) events.push(record.event);
          else if (record.invalid !== undefined) invalid.push(record.invalid);
        }
        await context.handle({ events, invalid });
      },
    });
    // Kept before it has joined, so that a close during the join closes it (else it would go on consuming).
    this.#member = member;
    try {
      await member.start();
    } catch (error) {
      if (this.#member === member) this.#member = undefined;
      await member.close().catch(() => undefined);
      throw error;
    }
  }

  async status(): Promise<SourceStatus> {
    const member = this.#member;
    if (member === undefined) return { position: {} };
    const positions = member.positions();
    const position: Record<string, number> = {};
    for (const [partition, offset] of [...positions].sort((a, b) => a[0] - b[0]))
      position[String(partition)] = offset;
    try {
      const ends = await member.endOffsets();
      let lag = 0;
      for (const [partition, offset] of positions)
        lag += Math.max(0, (ends.get(partition) ?? offset) - offset);
      return { position, lag };
    } catch {
      return { position };
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const member = this.#member;
    this.#member = undefined;
    await member?.close();
  }
}
