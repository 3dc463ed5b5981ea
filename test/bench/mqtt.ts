/**
 * The MQTT front door against HTTP single-event ingest, same run, same bus (a child process, SQLite log): events/s
 * accepted durably by 8 connections each sending one event after the other — HTTP `POST /events` (structured, awaited
 * 202) against MQTT 3.1.1 QoS 1 (awaited PUBACK) — and MQTT with 32 publishes in flight per connection (MQTT lets a
 * client pipeline; its PUBACKs come in order). Rounds interleaved, medians and spreads, ratios against HTTP.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { Agent, request } from 'undici';
import { freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { tempDir } from '../helpers/paths.ts';
import type { BenchTable } from './table.ts';

const CONNECTIONS = 8;

const event = (id: string) =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: '/bench/mqtt',
    type: 'bench.reading',
    data: { t: 21.5, id },
  });

async function http(url: string, seconds: number, round: number): Promise<number> {
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1 });
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      for (let n = 0; performance.now() < end; n++) {
        const res = await request(`${url}/events`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/cloudevents+json' },
          body: event(`h${round}-${c}-${n}`),
        });
        await res.body.dump();
        if (res.statusCode !== 202) throw new Error(`HTTP ingest answered ${res.statusCode}`);
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  await agent.close();
  return rate;
}

async function viaMqtt(port: number, seconds: number, round: number, window: number): Promise<number> {
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, c) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
        clientId: `b${round}-${window}-${c}`,
        protocolVersion: 4,
      }),
    ),
  );
  const end = performance.now() + seconds * 1000;
  let done = 0;
  const start = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      let n = 0;
      const lane = async () => {
        while (performance.now() < end) {
          await client.publishAsync('events/bench', event(`m${round}-${window}-${c}-${n++}`), { qos: 1 });
          done++;
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  await Promise.all(clients.map((client) => client.endAsync()));
  return rate;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const spread = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;

export async function benchMqtt(options: { quick: boolean }): Promise<BenchTable> {
  const rounds = options.quick ? 2 : 4;
  const seconds = options.quick ? 2 : 5;
  const dir = tempDir('junction-bench-mqtt-');
  const port = await freePort();
  const mqttPort = await freePort();
  const bus = await startChildBus(join(dir.path, 'data'), port, { JUNCTION_MQTT_PORT: String(mqttPort) });
  const rates = { http: [] as number[], mqtt: [] as number[], pipelined: [] as number[] };
  try {
    for (let r = 0; r < rounds; r++) {
      // Who goes first alternates.
      const order =
        r % 2 === 0 ? (['http', 'mqtt', 'pipelined'] as const) : (['pipelined', 'mqtt', 'http'] as const);
      for (const kind of order) {
        const rate =
          kind === 'http'
            ? await http(bus.url, seconds, r)
            : await viaMqtt(mqttPort, seconds, r, kind === 'mqtt' ? 1 : 32);
        rates[kind].push(rate);
      }
    }
  } finally {
    await stopGracefully(bus);
    dir.remove();
  }
  const base = median(rates.http);
  const row = (name: string, xs: number[]) => [
    name,
    Math.round(median(xs)),
    spread(xs),
    (median(xs) / base).toFixed(2),
  ];
  return {
    title: `MQTT front door vs HTTP single-event ingest, ${CONNECTIONS} connections, ${rounds} rounds of ${seconds} s (events/s accepted durably)`,
    columns: ['publisher', 'events/s (median)', 'spread', 'vs HTTP'],
    rows: [
      row('HTTP POST /events, one at a time per connection (202 awaited)', rates.http),
      row('MQTT 3.1.1 QoS 1, one at a time per connection (PUBACK awaited)', rates.mqtt),
      row('MQTT 3.1.1 QoS 1, 32 in flight per connection', rates.pipelined),
    ],
    notes: [
      'One bus process (SQLite log) serves both doors; the MQTT door hands each PUBLISH to the same HTTP stack in',
      'process, so the difference is the transport: MQTT framing against HTTP/1.1 requests and answers.',
    ],
  };
}
