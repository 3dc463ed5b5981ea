/**
 * A local stand-in for the MSK event source mapping: consumes a real Kafka topic in a consumer group and calls a
 * handler (the `router` Lambda handler) with events in the exact shape Lambda sends, retrying a failed batch
 * until it succeeds and committing offsets only after it did — so the code that runs in Lambda runs here too.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { randomUUID } from 'node:crypto';
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import { JunctionError } from '../../core/errors.ts';
import { buildMskEvent, type MskEvent } from '../aws/msk-event.ts';
import { subscribedRoundRobin } from './assigner.ts';

/** The part of the Lambda context the poller provides to the handler. */
export interface PollerContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  getRemainingTimeInMillis(): number;
}

export interface MskPollerOptions {
  /** Brokers, `host:port` each. */
  readonly bootstrap: readonly string[];
  readonly topic: string;
  /** The handler the mapping invokes; a rejection retries the same batch. */
  readonly handler: (event: MskEvent, context: PollerContext) => Promise<unknown>;
  /** The consumer group (the mapping's `ConsumerGroupId`). @default 'junction-router' */
  readonly group?: string;
  /** @default 'arn:aws:kafka:local:000000000000:cluster/junction-local/local' */
  readonly eventSourceArn?: string;
  /** Most records per invocation (the mapping's `BatchSize`). @default 100 */
  readonly batchSize?: number;
  /** How long records are gathered before an invocation (`MaximumBatchingWindowInSeconds`). @default 500 */
  readonly batchWindowMs?: number;
  /** The time budget `getRemainingTimeInMillis` counts down from (the function's timeout). @default 60000 */
  readonly invocationTimeoutMs?: number;
  /** Wait before retrying a failed batch. @default 1000 */
  readonly retryDelayMs?: number;
  /** @default 'junction-msk-poller' */
  readonly clientId?: string;
  /** @default 'router' */
  readonly functionName?: string;
  /** Handler failures and client errors. @default ignored */
  readonly onError?: (error: unknown) => void;
}

export interface MskPoller {
  /** Invocations that resolved. */
  readonly invocations: number;
  /** Invocations that rejected (and were retried). */
  readonly failures: number;
  /** Stops after the running invocation (and its commit); resolves once the consumer left the group. */
  close(): Promise<void>;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new JunctionError(
      'InvalidRequest',
      `MSK poller option ${name} must be an integer ≥ 1; received ${JSON.stringify(value)}`,
      {
        field: name,
      },
    );
  }
  return value;
}

/** Starts polling; resolves once the consumer is set up (the group join continues in the background). */
export async function startMskPoller(options: MskPollerOptions): Promise<MskPoller> {
  if (!Array.isArray(options.bootstrap) || options.bootstrap.length === 0) {
    throw new JunctionError(
      'InvalidRequest',
      `MSK poller option bootstrap must list host:port; received ${JSON.stringify(options.bootstrap)}`,
      {
        field: 'bootstrap',
      },
    );
  }
  if (typeof options.handler !== 'function') {
    throw new JunctionError('InvalidRequest', 'MSK poller option handler must be a function', {
      field: 'handler',
    });
  }
  const batchSize = positive('batchSize', options.batchSize, 100);
  const batchWindowMs = positive('batchWindowMs', options.batchWindowMs, 500);
  const timeoutMs = positive('invocationTimeoutMs', options.invocationTimeoutMs, 60_000);
  const retryDelayMs = positive('retryDelayMs', options.retryDelayMs, 1000);
  const eventSourceArn =
    options.eventSourceArn ?? 'arn:aws:kafka:local:000000000000:cluster/junction-local/local';
  const onError = options.onError ?? (() => undefined);
  const consumer = new Consumer({
    clientId: options.clientId ?? 'junction-msk-poller',
    bootstrapBrokers: [...options.bootstrap],
    groupId: options.group ?? 'junction-router',
    autocommit: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    retries: 3,
    retryDelay: 250,
    // As MSK's mapping, it hands a topic's partitions only to members reading that topic (see assigner.ts).
    partitionAssigner: subscribedRoundRobin,
  });
  consumer.on('error', onError);

  let closed = false;
  let invocations = 0;
  let failures = 0;
  const buffer: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function invoke(batch: readonly Message<Buffer, Buffer, Buffer, Buffer>[]): Promise<void> {
    const event = buildMskEvent({
      eventSourceArn,
      bootstrapServers: options.bootstrap,
      records: batch.map((m) => ({
        topic: m.topic,
        partition: m.partition,
        offset: Number(m.offset),
        timestamp: Number(m.timestamp),
        key: m.key ?? null,
        value: m.value ?? null,
        headers: m.headerEntries,
      })),
    });
    // As the mapping does: the same batch again until the handler succeeds (or the poller closes).
    for (;;) {
      const deadline = Date.now() + timeoutMs;
      const context: PollerContext = {
        awsRequestId: randomUUID(),
        functionName: options.functionName ?? 'router',
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      try {
        await options.handler(event, context);
        invocations++;
        break;
      } catch (error) {
        failures++;
        onError(error);
        if (closed) return;
        await waitFor(retryDelayMs);
        if (closed) return;
      }
    }
    const last = new Map<string, Message<Buffer, Buffer, Buffer, Buffer>>();
    for (const m of batch) {
      const key = `${m.topic}\u0000${m.partition}`;
      const seen = last.get(key);
      if (seen === undefined || seen.offset < m.offset) last.set(key, m);
    }
    await Promise.all([...last.values()].map((m) => m.commit()));
  }

  async function drain(stream: MessagesStream<Buffer, Buffer, Buffer, Buffer>): Promise<void> {
    let failed: unknown;
    stream.on('data', (message: Message<Buffer, Buffer, Buffer, Buffer>) => {
      buffer.push(message);
      if (buffer.length >= batchSize) stream.pause();
      notify();
    });
    stream.on('error', (error: unknown) => {
      failed = error;
      notify();
    });
    while (!closed && failed === undefined) {
      if (buffer.length === 0) {
        await waitFor(1000);
        continue;
      }
      // The batching window starts with the first record; a full batch goes at once.
      const until = Date.now() + batchWindowMs;
      while (!closed && failed === undefined && buffer.length < batchSize && Date.now() < until) {
        await waitFor(until - Date.now());
      }
      if (closed || failed !== undefined) break;
      stream.pause();
      const batch = buffer.splice(0, batchSize);
      await invoke(batch);
      if (!closed) stream.resume();
    }
    if (failed !== undefined) throw failed;
  }

  async function run(): Promise<void> {
    while (!closed) {
      let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
      try {
        stream = await consumer.consume({
          topics: [options.topic],
          mode: 'committed',
          fallbackMode: 'earliest',
          autocommit: false,
          maxWaitTime: Math.min(batchWindowMs, 1000),
        });
        await drain(stream);
      } catch (error) {
        if (!closed) onError(error);
        // Anything buffered is fetched again from the committed offsets.
        buffer.length = 0;
        if (!closed) await waitFor(retryDelayMs);
      } finally {
        await stream?.close().catch(() => undefined);
      }
    }
  }

  const loop = run();
  return {
    get invocations() {
      return invocations;
    },
    get failures() {
      return failures;
    },
    async close() {
      if (closed) return;
      closed = true;
      notify();
      await loop;
      await consumer.close().catch(() => undefined);
    },
  };
}
