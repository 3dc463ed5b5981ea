/**
 * The load generator of test/bench/support/load.ts's `batch` mode, for NATS JetStream, in a process of its own:
 * `concurrency` connections, each sending batches of `batch` events — the same CloudEvent JSON the bus gets, one
 * JetStream message each, with its id as `Nats-Msg-Id` (JetStream's idempotent publish) — all of a batch in flight
 * at once, and the next batch only once JetStream has acknowledged every message of the last. Published the way
 * JetStream's async publishers do it: plain publishes with a reply subject, the acks collected on one inbox
 * subscription per connection (the client's `js.publish`, a request with a promise and a timer per message, cost
 * the load generator a core at ≈ 16k messages/s: it, not the server, was the limit). Prints the same JSON line as
 * load.ts.
 */
import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';

interface Options {
  url: string;
  seconds: number;
  concurrency: number;
  batch: number;
  prefix: string;
  /** `uuid`: random (version 4) UUIDs as ids, as load.ts's option. @default `${prefix}-${n}` */
  ids?: 'uuid';
}

const o = JSON.parse(process.argv[2] ?? '{}') as Options;
const encoder = new TextEncoder();
let sequence = 0;
let ok = 0;
let failed = 0;
let events = 0;

const connections = await Promise.all(
  Array.from({ length: o.concurrency }, () => connect({ servers: o.url, reconnect: false })),
);
const started = performance.now();
const deadline = started + o.seconds * 1000;

/** One worker per connection: a batch out, every ack (a JSON PubAck, an `error` member when refused) back. */
async function worker(nc: NatsConnection): Promise<void> {
  const inbox = createInbox();
  let waiting = 0;
  let refused = 0;
  let release: (() => void) | undefined;
  nc.subscribe(`${inbox}.*`, {
    callback: (error, msg) => {
      if (error !== null || msg.data.length === 0 || msg.json<{ error?: unknown }>().error !== undefined)
        refused++;
      if (--waiting === 0) release?.();
    },
  });
  while (performance.now() < deadline) {
    const done = new Promise<void>((resolve) => {
      release = resolve;
    });
    waiting = o.batch;
    refused = 0;
    for (let i = 0; i < o.batch; i++) {
      const id = o.ids === 'uuid' ? crypto.randomUUID() : `${o.prefix}-${sequence}`;
      sequence++;
      const event = { specversion: '1.0', id, source: '/bench', type: 'bench.event', data: { n: sequence } };
      const h = headers();
      h.set('Nats-Msg-Id', id);
      nc.publish('bench.events', encoder.encode(JSON.stringify(event)), {
        reply: `${inbox}.${i}`,
        headers: h,
      });
    }
    await done;
    if (refused === 0) {
      ok++;
      events += o.batch;
    } else failed++;
  }
}

await Promise.all(connections.map(worker));
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ ok, failed, events, seconds })}\n`);
await Promise.all(connections.map((nc) => nc.close()));
