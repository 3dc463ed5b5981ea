/**
 * The `kafka` target: produces the event to a topic in the CloudEvents Kafka binding (structured by default, or
 * binary), keyed by `partitionkey` else `source`, with an idempotent `acks=all` producer per broker list.
 */
import { Producer } from '@platformatic/kafka';
import { toKafkaRecord } from '../../core/codec/kafka.ts';
import type { DeliveryRequest, DeliveryResult, TargetDriver } from '../../ports.ts';
import {
  type ClientConnectionOptions,
  clientConnectionOptions,
  type KafkaEventLogOptions,
  resolveKafkaOptions,
} from './config.ts';

export interface KafkaTargetDriverOptions {
  /** The bus's own Kafka (used when a target names no `brokers`), with its TLS and SASL settings. */
  readonly connection?: KafkaEventLogOptions;
  /** @default 'junction-targets' */
  readonly clientId?: string;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function createKafkaTargetDriver(options: KafkaTargetDriverOptions = {}): TargetDriver {
  const producers = new Map<string, Producer<Buffer, Buffer, Buffer, Buffer>>();
  const clientId = options.clientId ?? 'junction-targets';
  const own = options.connection === undefined ? undefined : resolveKafkaOptions(options.connection);

  function producerFor(
    brokers: readonly string[] | undefined,
    timeoutMs: number,
  ): Producer<Buffer, Buffer, Buffer, Buffer> {
    const key = brokers?.join(',') ?? '';
    let producer = producers.get(key);
    if (!producer) {
      let connection: ClientConnectionOptions;
      if (brokers !== undefined) connection = { clientId, bootstrapBrokers: [...brokers] };
      else if (own !== undefined) connection = clientConnectionOptions(own, 'targets');
      else throw new Error('this kafka target names no brokers and the bus has no Kafka of its own');
      producer = new Producer({
        ...connection,
        idempotent: true,
        acks: -1,
        // Ask for a missing topic to be created; the broker's auto.create.topics.enable decides.
        autocreateTopics: true,
        retries: 3,
        retryDelay: 250,
        connectTimeout: Math.min(timeoutMs, 5000),
        requestTimeout: timeoutMs,
      });
      producers.set(key, producer);
    }
    return producer;
  }

  return {
    check(target) {
      if (target.type !== 'kafka' || target.brokers !== undefined || own !== undefined) return undefined;
      return {
        message:
          'this bus has no Kafka of its own (start it with --kafka), so a kafka target must name its "brokers"',
        field: 'brokers',
      };
    },
    async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const { target } = request;
      if (target.type !== 'kafka') throw new TypeError(`kafka driver got a ${target.type} target`);
      const record = toKafkaRecord(request.event, target.mode);
      const headers = new Map<Buffer, Buffer>();
      for (const [name, value] of record.headers) headers.set(Buffer.from(name, 'utf8'), toBuffer(value));
      headers.set(Buffer.from('idempotency-key', 'utf8'), Buffer.from(request.idempotencyKey, 'utf8'));
      let timer: NodeJS.Timeout | undefined;
      try {
        const send = producerFor(target.brokers, request.timeoutMs).send({
          messages: [
            {
              topic: target.topic,
              key: Buffer.from(record.key, 'utf8'),
              value: toBuffer(record.value),
              headers,
            },
          ],
        });
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out after ${request.timeoutMs} ms`)),
            request.timeoutMs,
          );
        });
        await Promise.race([send, timeout]);
        return { ok: true };
      } catch (error) {
        return {
          ok: false,
          retriable: true,
          error: `producing to ${target.topic} failed: ${(error as Error).message}`,
        };
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
    async close() {
      await Promise.all([...producers.values()].map((p) => p.close().catch(() => undefined)));
      producers.clear();
    },
  };
}
