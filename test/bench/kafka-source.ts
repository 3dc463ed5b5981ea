/**
 * The Kafka topic source (issue #18) against the raw consumer, same run, one real broker (test/kafka/broker.ts, as
 * the other Kafka benches): a topic pre-filled with N records is read to its end (a) by a raw @platformatic/kafka
 * consumer (the client the Kafka adapter uses) that only counts the records, in this process, and (b) by a `kafka`
 * connector of a bus (a child process, SQLite log) until the connector took every record into its log. Two kinds of
 * records, a row each: CloudEvents in the Kafka binary binding (`ce_` headers), and plain JSON values wrapped by a
 * mapping. Rounds interleaved (who goes first alternates), each on fresh topics and groups; medians and spreads of
 * records/s and of records per CPU-second of the consuming process (the bench process for the raw consumer, the
 * bus's process for the connector), so that other load on the machine mostly cancels out.
 * Standalone: `npx node --disable-warning=ExperimentalWarning test/bench/kafka-source.ts [--quick]`.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { requiredCpuSeconds } from './support/cpu.ts';
import { type BenchTable, printTable } from './table.ts';

const PARTITIONS = 3;
/** Records per produce call while filling a topic. */
const FILL_BATCH = 500;
/** The connector's `maxBatch` (records handed to the log at a time). */
const MAX_BATCH = 1000;

type Kind = 'binary' | 'mapped';

const MAPPING = { type: 'com.example.{value.kind}', source: '/shop/{key}', subject: '{value.order}' };

function payload(n: number) {
  return { kind: 'order.created', order: `o-${n}`, total: 123.45, lines: [{ sku: 'a', qty: 2 }] };
}

/** Creates a topic and fills it with `count` records of a kind. */
async function fill(bootstrap: string, kind: Kind, count: number): Promise<string> {
  const topic = `bench-source-${kind}-${randomUUID()}`;
  const admin = new Admin({ clientId: 'bench-source-admin', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: [topic], partitions: PARTITIONS, replicas: 1 });
  } finally {
    await admin.close();
  }
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'bench-source-producer',
    bootstrapBrokers: [bootstrap],
    acks: -1,
    idempotent: true,
  });
  try {
    for (let first = 0; first < count; first += FILL_BATCH) {
      const n = Math.min(FILL_BATCH, count - first);
      await producer.send({
        messages: Array.from({ length: n }, (_, i) => {
          const index = first + i;
          const headers = new Map<Buffer, Buffer>();
          if (kind === 'binary') {
            for (const [name, value] of [
              ['ce_specversion', '1.0'],
              ['ce_id', `${topic}-${index}`],
              ['ce_source', '/bench/orders'],
              ['ce_type', 'com.example.order.created'],
              ['content-type', 'application/json'],
            ])
              headers.set(Buffer.from(name as string), Buffer.from(value as string));
          }
          return {
            topic,
            partition: index % PARTITIONS,
            key: Buffer.from(`c-${index % 64}`),
            value: Buffer.from(JSON.stringify(payload(index))),
            headers,
          };
        }),
      });
    }
  } finally {
    await producer.close();
  }
  return topic;
}

interface Measured {
  readonly rate: number;
  readonly perCpuSecond: number;
}

async function until(check: () => Promise<boolean>, what: string, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The raw consumer: a fresh group from the earliest offset, counting records until it saw all. */
async function raw(bootstrap: string, topic: string, count: number): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'bench-source-raw',
    groupId: `bench-raw-${randomUUID()}`,
    bootstrapBrokers: [bootstrap],
  });
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true });
    let seen = 0;
    await new Promise<void>((resolve, reject) => {
      stream.on('data', () => {
        seen += 1;
        if (seen === count) resolve();
      });
      stream.once('error', reject);
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await stream.close();
    return { rate: count / seconds, perCpuSecond: count / ((cpu.user + cpu.system) / 1e6) };
  } finally {
    await consumer.close(true);
  }
}

/** A connector of the child bus on the topic, until its log took every record. */
async function connector(
  bus: { url: string; pid: number },
  bootstrap: string,
  topic: string,
  kind: Kind,
  count: number,
): Promise<Measured> {
  const name = `bench-${randomUUID().slice(0, 8)}`;
  const cpu0 = requiredCpuSeconds(bus.pid);
  const started = performance.now();
  const put = await request(bus.url, 'PUT', `/connectors/${name}`, {
    type: 'kafka',
    brokers: [bootstrap],
    topic,
    group: name,
    startFrom: 'earliest',
    maxBatch: MAX_BATCH,
    ...(kind === 'mapped' ? { mapping: MAPPING } : {}),
  });
  if (put.status !== 201)
    throw new Error(`PUT /connectors/${name}: ${put.status} ${JSON.stringify(put.body)}`);
  let status: Record<string, unknown> = {};
  await until(async () => {
    status = (await request(bus.url, 'GET', `/connectors/${name}`)).body as Record<string, unknown>;
    if (status.state === 'failed')
      throw new Error(`the connector failed: ${JSON.stringify(status.lastError)}`);
    return Number(status.events) + Number(status.duplicates) >= count;
  }, `the connector on ${topic}`);
  const seconds = (performance.now() - started) / 1000;
  const cpu = requiredCpuSeconds(bus.pid) - cpu0;
  if (Number(status.events) !== count || Number(status.invalid) !== 0) {
    throw new Error(`the connector took ${JSON.stringify(status)} of ${count} records`);
  }
  // Stops it (and its consumer) before the next round.
  const deleted = await request(bus.url, 'DELETE', `/connectors/${name}`);
  if (deleted.status !== 204) throw new Error(`DELETE /connectors/${name}: ${deleted.status}`);
  return { rate: count / seconds, perCpuSecond: count / cpu };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

export async function benchKafkaSource(options: { quick: boolean; bootstrap: string }): Promise<BenchTable> {
  const count = options.quick ? 5_000 : 20_000;
  const rounds = options.quick ? 2 : 4;
  const { bootstrap } = options;
  const dir = tempDir('junction-bench-kafka-source-');
  const child = await startChildBus(join(dir.path, 'data'), await freePort());
  const bus = { url: child.url, pid: child.child.pid as number };
  const results: Record<`${'raw' | 'bus'}-${Kind}`, Measured[]> = {
    'raw-binary': [],
    'bus-binary': [],
    'raw-mapped': [],
    'bus-mapped': [],
  };
  try {
    // A warm-up of both readers (JIT, connections, the broker), not measured.
    const warm = await fill(bootstrap, 'mapped', 500);
    await raw(bootstrap, warm, 500);
    await connector(bus, bootstrap, warm, 'mapped', 500);
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['binary', 'mapped'] as const) {
        // Each reader reads the same topic in its own group; the bus's log has not seen its ids before.
        const topic = await fill(bootstrap, kind, count);
        const order = r % 2 === 0 ? (['raw', 'bus'] as const) : (['bus', 'raw'] as const);
        for (const reader of order) {
          results[`${reader}-${kind}`].push(
            reader === 'raw'
              ? await raw(bootstrap, topic, count)
              : await connector(bus, bootstrap, topic, kind, count),
          );
        }
      }
    }
  } finally {
    await stopGracefully(child);
    dir.remove();
  }
  const rows: (string | number)[][] = [];
  for (const kind of ['binary', 'mapped'] as const) {
    const base = results[`raw-${kind}`];
    const ours = results[`bus-${kind}`];
    const rate = (xs: Measured[]) => xs.map((m) => m.rate);
    const cpu = (xs: Measured[]) => xs.map((m) => m.perCpuSecond);
    const label = kind === 'binary' ? 'CloudEvents, binary binding' : 'plain JSON, wrapped by a mapping';
    rows.push([
      `${label}: raw consumer (counts)`,
      Math.round(median(rate(base))),
      spread(rate(base)),
      Math.round(median(cpu(base))),
      spread(cpu(base)),
      '1.00',
      '1.00',
    ]);
    rows.push([
      `${label}: kafka connector → bus log (SQLite)`,
      Math.round(median(rate(ours))),
      spread(rate(ours)),
      Math.round(median(cpu(ours))),
      spread(cpu(ours)),
      (median(rate(ours)) / median(rate(base))).toFixed(2),
      (median(cpu(ours)) / median(cpu(base))).toFixed(2),
    ]);
  }
  return {
    title: `Kafka source vs the raw consumer: ${count} records on ${PARTITIONS} partitions, read to the end, ${rounds} rounds`,
    columns: [
      'reader',
      'records/s (median)',
      'spread',
      'per CPU-s (median)',
      'spread',
      'vs raw',
      'per CPU-s vs raw',
    ],
    rows,
    notes: [
      'Time from the consumer made (the connector PUT) to the last record counted (taken into the log): both include',
      'joining the group. CPU: the consuming process only (the bench process for the raw consumer, the bus child',
      `process for the connector). Connector: maxBatch ${MAX_BATCH}, offsets committed after each batch the log took;`,
      'every record becomes an event published idempotently (dedup lookup) into the SQLite log.',
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const quick = process.argv.includes('--quick');
  const { startBroker } = await import('../kafka/broker.ts');
  const broker = await startBroker();
  try {
    printTable(await benchKafkaSource({ quick, bootstrap: broker.bootstrap }));
  } finally {
    await broker.remove();
  }
}
