/**
 * Benchmark on one real broker, same run: a raw @platformatic/kafka producer → consumer pair (the baseline) vs.
 * the Junction Kafka EventLog append → subscribe handler. Events/s and latencies (append ack, end to end).
 * Standalone: `npx node --disable-warning=ExperimentalWarning test/bench/kafka.ts [--quick] [--bootstrap=host:port]`.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { createKafkaEventLog } from '../../lib/adapters/kafka/index.ts';
import { makeEvent } from '../helpers/events.ts';
import { type BenchTable, printTable } from './table.ts';

const PARTITIONS = 6;
/** Events per append / produce call, and calls in flight at once. */
const BATCH = 50;
const CONCURRENCY = 4;
const PAYLOAD = {
  order: 'o-1',
  total: 123.45,
  lines: [
    { sku: 'a', qty: 2 },
    { sku: 'b', qty: 1 },
  ],
};

interface Measured {
  readonly events: number;
  readonly seconds: number;
  readonly append: number[];
  readonly endToEnd: number[];
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs `total / BATCH` calls of `send`, CONCURRENCY at a time, timing each. */
async function drive(
  total: number,
  send: (first: number, count: number) => Promise<void>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const caller = async () => {
    while (next < total) {
      const first = next;
      const count = Math.min(BATCH, total - first);
      next += count;
      const t0 = performance.now();
      await send(first, count);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  return latencies;
}

/** Baseline: the client library alone, idempotent acks=all producer and a consumer-group stream. */
async function raw(bootstrap: string, total: number): Promise<Measured> {
  const topic = `bench-raw-${randomUUID()}`;
  const producer = new Producer({
    clientId: 'bench-raw-producer',
    bootstrapBrokers: [bootstrap],
    serializers: stringSerializers,
    idempotent: true,
    acks: -1,
  });
  const consumer = new Consumer({
    clientId: 'bench-raw-consumer',
    groupId: `bench-raw-${randomUUID()}`,
    bootstrapBrokers: [bootstrap],
    deserializers: stringDeserializers,
  });
  try {
    // The topic exists before the consumer subscribes, as for the EventLog.
    const admin = new Admin({ clientId: 'bench-raw-admin', bootstrapBrokers: [bootstrap] });
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
    await admin.close();
    const endToEnd: number[] = [];
    let received = 0;
    let done!: () => void;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: true,
      maxWaitTime: 500,
    });
    // Produce only once the consumer has its partitions, as `subscribe` resolves only then.
    for (let i = 0; i < 200 && (consumer.assignments?.length ?? 0) === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stream.on('data', (message) => {
      const sentAt = Number(message.headers.get('sent-at'));
      endToEnd.push(performance.now() - sentAt);
      received += 1;
      if (received === total) done();
    });
    const started = performance.now();
    const append = await drive(total, async (first, count) => {
      const sentAt = String(performance.now());
      await producer.send({
        messages: Array.from({ length: count }, (_, i) => {
          const event = makeEvent({ source: `urn:bench:${(first + i) % 16}`, data: PAYLOAD });
          return {
            topic,
            key: event.source,
            value: JSON.stringify(event),
            headers: { 'content-type': 'application/cloudevents+json', 'sent-at': sentAt },
          };
        }),
      });
    });
    await timeout(all, 120_000, 'the raw consumer');
    const seconds = (performance.now() - started) / 1000;
    await stream.close();
    return { events: total, seconds, append, endToEnd };
  } finally {
    await producer.close();
    await consumer.close(true);
  }
}

/** Junction: the Kafka EventLog's append (with dedup) and a subscription's handler. */
async function junction(bootstrap: string, total: number): Promise<Measured> {
  const log = await createKafkaEventLog({
    bootstrap: [bootstrap],
    topic: `bench-junction-${randomUUID()}`,
    partitions: PARTITIONS,
  });
  const sentAt = new Map<string, number>();
  const endToEnd: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const subscription = await log.subscribe({
    group: 'bench',
    handler: async (records) => {
      const now = performance.now();
      for (const record of records) endToEnd.push(now - (sentAt.get(record.event.id) ?? now));
      if (endToEnd.length >= total) done();
    },
  });
  try {
    const started = performance.now();
    const append = await drive(total, async (first, count) => {
      const events = Array.from({ length: count }, (_, i) =>
        makeEvent({ source: `urn:bench:${(first + i) % 16}`, data: PAYLOAD }),
      );
      const at = performance.now();
      for (const event of events) sentAt.set(event.id, at);
      await log.append(events, { dedupWindowMs: 300_000 });
    });
    await timeout(all, 120_000, 'the Junction subscriber');
    const seconds = (performance.now() - started) / 1000;
    return { events: total, seconds, append, endToEnd };
  } finally {
    await subscription.close();
    await log.close();
  }
}

function row(name: string, m: Measured): (string | number)[] {
  return [
    name,
    m.events,
    Math.round(m.events / m.seconds),
    percentile(m.append, 50),
    percentile(m.append, 99),
    percentile(m.endToEnd, 50),
    percentile(m.endToEnd, 99),
  ];
}

/** Raw client pair vs. the Junction Kafka EventLog on the broker at `bootstrap`, same run. */
export async function benchKafkaRaw(options: { quick: boolean; bootstrap: string }): Promise<BenchTable> {
  const total = options.quick ? 2_000 : 20_000;
  // A short warm-up of both paths (JIT, connections, broker), not measured.
  await raw(options.bootstrap, 200);
  await junction(options.bootstrap, 200);
  const baseline = await raw(options.bootstrap, total);
  const ours = await junction(options.bootstrap, total);
  const ratio = ours.events / ours.seconds / (baseline.events / baseline.seconds);
  return {
    title: `Kafka: raw @platformatic/kafka producer→consumer vs. Junction EventLog append→subscribe (${total} events)`,
    columns: ['pipeline', 'events', 'events/s', 'append p50 ms', 'append p99 ms', 'e2e p50 ms', 'e2e p99 ms'],
    rows: [
      row('raw client (baseline)', baseline),
      row('Junction Kafka EventLog', ours),
      ['Junction / raw', '', ratio, '', '', '', ''],
    ],
    notes: [
      `${PARTITIONS} partitions, single local broker (KRaft), ${BATCH} events per append, ${CONCURRENCY} appends in flight.`,
      'Both producers idempotent with acks=all. Raw: consumer-group stream, autocommit. Junction: structured',
      'CloudEvents binding, dedup lookup per append, handler per partition batch, commit after each batch.',
      'append = time to the broker acknowledgement of one call; e2e = from that call to the consumer/handler.',
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const given = process.argv.find((a) => a.startsWith('--bootstrap='))?.slice('--bootstrap='.length);
  const { startBroker } = await import('../kafka/broker.ts');
  const broker = given === undefined ? await startBroker() : undefined;
  try {
    printTable(await benchKafkaRaw({ quick, bootstrap: given ?? broker!.bootstrap }));
  } finally {
    await broker?.remove();
  }
}
