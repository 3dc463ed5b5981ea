/**
 * MQTT crash safety (issue #18): the bus runs as a child process with its MQTT front door while MQTT.js clients
 * (3.1.1 and 5) publish with QoS 1, each publish sent again (same id) until it is acknowledged, across reconnects; the
 * bus is killed with SIGKILL at random moments (5 times) and restarted on the same data dir. Afterwards every
 * acknowledged publish is in the log, and no event is in it twice: a PUBACK is sent only after the durable append,
 * and a publish sent again after a crash is dropped by the idempotent publish.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { tempDir } from '../helpers/paths.ts';
import { type ChildBus, freePort, kill9, startChildBus, stopGracefully } from './support/child-bus.ts';
import { idCountsInLog } from './support/log-ids.ts';

const KILLS = 5;
const CLIENTS = 4;
const MAX_PER_CLIENT = 20_000;

test('MQTT publishes acknowledged across SIGKILLs are in the log exactly once', {
  timeout: 300_000,
}, async () => {
  const dir = tempDir('junction-mqtt-crash-');
  const port = await freePort();
  const mqttPort = await freePort();
  const env = { JUNCTION_MQTT_PORT: String(mqttPort) };
  let bus: ChildBus = await startChildBus(join(dir.path, 'data'), port, env);
  const acked = new Set<string>();
  let running = true;
  const clients: MqttClient[] = [];

  /** One device: publishes its events one after the other, each until it is acknowledged. */
  async function device(k: number): Promise<void> {
    const client = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, {
      protocolVersion: k % 2 === 0 ? 5 : 4,
      clientId: `device-${k}`,
      reconnectPeriod: 100,
      connectTimeout: 10_000,
    });
    client.on('error', () => undefined);
    clients.push(client);
    for (let n = 0; running && n < MAX_PER_CLIENT; n++) {
      const id = `d${k}-${n}`;
      const payload = JSON.stringify({
        specversion: '1.0',
        id,
        source: `/devices/${k}`,
        type: 'reading',
        data: { n },
      });
      for (;;) {
        if (!running) return;
        if (!client.connected) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 200);
            client.once('connect', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          continue;
        }
        const ok = await new Promise<boolean>((resolve) => {
          const onClose = () => resolve(false);
          client.once('close', onClose);
          client.publish('events', payload, { qos: 1 }, (error) => {
            client.off('close', onClose);
            resolve(!error);
          });
        });
        if (ok) {
          acked.add(`/devices/${k}|${id}`);
          break;
        }
      }
    }
  }

  try {
    const devices = Array.from({ length: CLIENTS }, (_, k) => device(k));
    for (let kill = 0; kill < KILLS; kill++) {
      // Kill at a random moment, once this incarnation has acknowledged some publishes.
      const from = acked.size;
      const deadline = Date.now() + 120_000;
      while (acked.size < from + 200) {
        if (Date.now() > deadline)
          assert.fail(`no publish acknowledged in incarnation ${kill}: ${bus.stderr.join('')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
      await kill9(bus);
      bus = await startChildBus(join(dir.path, 'data'), port, env);
    }
    // A last stretch on the last incarnation, then the devices stop (their in-flight publish is not counted).
    const last = acked.size;
    const deadline = Date.now() + 120_000;
    while (acked.size < last + 200) {
      if (Date.now() > deadline) assert.fail('no publish acknowledged after the last restart');
      await new Promise((r) => setTimeout(r, 20));
    }
    running = false;
    for (const client of clients) client.end(true);
    await Promise.all(devices);
    await stopGracefully(bus);

    const stores = openSqliteStores({ dataDir: join(dir.path, 'data') });
    try {
      const inLog = await idCountsInLog(stores.log);
      const missing = [...acked].map((key) => key.split('|')[1] as string).filter((id) => !inLog.has(id));
      assert.deepEqual(
        missing.slice(0, 10),
        [],
        `${missing.length} acknowledged publishes are not in the log`,
      );
      const twice = [...inLog].filter(([, n]) => n > 1);
      assert.deepEqual(twice.slice(0, 10), [], `${twice.length} events are in the log more than once`);
      assert.ok(acked.size >= KILLS * 200, `${acked.size} acknowledged`);
    } finally {
      stores.close();
    }
  } finally {
    running = false;
    for (const client of clients) client.end(true);
    await kill9(bus);
    dir.remove();
  }
});
