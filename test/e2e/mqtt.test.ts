/**
 * Issue 18, the MQTT front door (`mqttPort`): real clients — MQTT.js (3.1.1 and 5) and Debian's `mosquitto_pub` —
 * publish CloudEvents in the MQTT binding (structured; binary with MQTT 5 user properties) with QoS 0, 1 and 2; the
 * events reach a rule's HTTP target; a refused event gets its reason in an MQTT 5 PUBACK and is not taken; topics
 * other than `events/…` are refused; subscriptions are refused; with credentials required, the CONNECT password is
 * an API key, checked with its scope and source prefix; MQTT over TLS.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import mqtt, { type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';
import { selfSignedCert } from '../helpers/tls.ts';

const run = promisify(execFile);
const mosquitto = spawnSync('mosquitto_pub', ['--help']).error === undefined;
if (!mosquitto && process.env.CI === 'true')
  throw new Error(
    'CI=true but mosquitto_pub is missing (Debian package mosquitto-clients; .ci/run installs it)',
  );

async function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 30_000, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/**
 * Publishes and answers the error the client reports for a negative acknowledgement (with the server's reason string
 * as `reason`), or undefined when the publish was taken.
 */
function publish(
  client: MqttClient,
  topic: string,
  payload: string,
  options: IClientPublishOptions,
): Promise<(Error & { code?: number; reason?: string }) | undefined> {
  return new Promise((resolve) => {
    client.publish(topic, payload, options, (error, packet) => {
      if (!error) return resolve(undefined);
      const reason = (packet as { properties?: { reasonString?: string } } | undefined)?.properties
        ?.reasonString;
      resolve(Object.assign(error, { reason }));
    });
  });
}

const structured = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    specversion: '1.0',
    id,
    source: '/devices/d1',
    type: 'device.reading',
    data: { t: 21.5 },
    ...extra,
  });

describe('MQTT front door', () => {
  let bus: TestBus;
  let target: HttpTarget;
  let url: string;

  before(async () => {
    target = await startHttpTarget();
    bus = await startTestBus({ mqttPort: 0 });
    url = bus.mqtt?.url as string;
    assert.match(url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const put = await request(bus.url, 'PUT', '/rules/readings', {
      pattern: { type: ['device.reading'] },
      targets: [{ id: 'sink', type: 'http', url: `${target.url}/in`, mode: 'structured' }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  const delivered = (id: string) =>
    target.received.filter((r) => JSON.parse(r.body.toString('utf8')).id === id);
  const waitDelivered = (id: string) => waitFor(() => delivered(id).length === 1, `${id} delivered`, 60_000);

  test('MQTT 5, binary mode: user properties are the attributes, the payload the data; QoS 1 acknowledged', async () => {
    const client = await connect(url, { protocolVersion: 5 });
    try {
      const error = await publish(client, 'events/devices/d1', '{"t": 22}', {
        qos: 1,
        properties: {
          contentType: 'application/json',
          userProperties: {
            specversion: '1.0',
            id: 'b-1',
            source: '/devices/d1',
            type: 'device.reading',
            room: 'k',
          },
        },
      });
      assert.equal(error, undefined, String(error));
      await waitDelivered('b-1');
      const event = JSON.parse(delivered('b-1')[0]?.body.toString('utf8') ?? '{}');
      assert.deepEqual(event.data, { t: 22 });
      assert.equal(event.room, 'k', 'an extension attribute from a user property');
      assert.equal(event.datacontenttype, 'application/json');
    } finally {
      await client.endAsync();
    }
  });

  test('MQTT 3.1.1 and 5, structured mode, QoS 0, 1 and 2; the same id twice is one event', async () => {
    for (const protocolVersion of [4, 5] as const) {
      const client = await connect(url, { protocolVersion });
      try {
        for (const qos of [0, 1, 2] as const) {
          const id = `s-${protocolVersion}-${qos}`;
          assert.equal(await publish(client, 'events', structured(id), { qos }), undefined);
          await waitDelivered(id);
        }
        assert.equal(
          await publish(client, 'events/x', structured(`s-${protocolVersion}-1`), { qos: 1 }),
          undefined,
        );
      } finally {
        await client.endAsync();
      }
    }
    // MQTT 5 with the batch content type: a JSON array of events, one publish.
    const client = await connect(url, { protocolVersion: 5 });
    try {
      const batch = `[${structured('batch-1')},${structured('batch-2')}]`;
      const error = await publish(client, 'events', batch, {
        qos: 1,
        properties: { contentType: 'application/cloudevents-batch+json' },
      });
      assert.equal(error, undefined, String(error));
      await waitDelivered('batch-1');
      await waitDelivered('batch-2');
    } finally {
      await client.endAsync();
    }
    // The duplicate was acknowledged (taken once already) and not delivered again.
    await waitDelivered('s-4-2');
    assert.equal(delivered('s-4-1').length, 1);
    assert.equal(delivered('s-5-1').length, 1);
  });

  test('MQTT 5: a refused event gets its reason in the PUBACK and is not taken; a bad topic too', async () => {
    const client = await connect(url, { protocolVersion: 5 });
    try {
      const invalid = await publish(client, 'events', JSON.stringify({ specversion: '1.0', id: 'x' }), {
        qos: 1,
      });
      assert.ok(invalid, 'refused');
      assert.equal(invalid.code, 0x99, 'payload format invalid');
      assert.match(invalid.reason ?? '', /^InvalidEvent: .*(source|type)/);
      const topic = await publish(client, 'telemetry/d1', structured('t-1'), { qos: 1 });
      assert.equal(topic?.code, 0x90, 'topic name invalid');
      const noBus = await publish(client, 'buses/nope/events', structured('t-2'), { qos: 1 });
      assert.equal(noBus?.code, 0x99);
      assert.match(noBus?.reason ?? '', /^NotFound/);
      // The connection goes on after refusals.
      assert.equal(await publish(client, 'events', structured('after-refusals'), { qos: 1 }), undefined);
      await waitDelivered('after-refusals');
      const refused = await client.subscribeAsync('events/#', { qos: 1 }).then(
        () => undefined,
        (error: Error & { packet?: { granted?: number[] } }) => error,
      );
      assert.deepEqual(refused?.packet?.granted, [0x87], 'subscriptions are refused (not authorized)');
    } finally {
      await client.endAsync();
    }
  });

  test('MQTT 3.1.1: a refused event closes the connection unacknowledged (3.1.1 has no negative PUBACK)', async () => {
    const client = await connect(url, { protocolVersion: 4 });
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('events', JSON.stringify({ specversion: '1.0', id: 'y' }), { qos: 1 });
    await closed;
    await client.endAsync(true);
  });

  test('mosquitto_pub publishes with QoS 1 in both versions and both modes', {
    skip: !mosquitto && 'mosquitto_pub is missing',
  }, async () => {
    const port = String(new URL(url).port);
    const base = ['-h', '127.0.0.1', '-p', port, '-q', '1', '-t', 'events/cli'];
    await run('mosquitto_pub', [...base, '-V', 'mqttv311', '-m', structured('m-311')]);
    await run('mosquitto_pub', [
      ...base,
      '-V',
      'mqttv5',
      '-D',
      'publish',
      'content-type',
      'application/json',
      ...['specversion', '1.0', 'id', 'm-5', 'source', '/devices/m', 'type', 'device.reading'].flatMap(
        (v, i, a) => (i % 2 === 0 ? ['-D', 'publish', 'user-property', v, a[i + 1] as string] : []),
      ),
      '-m',
      '{"t": 5}',
    ]);
    await waitDelivered('m-311');
    await waitDelivered('m-5');
    assert.deepEqual(JSON.parse(delivered('m-5')[0]?.body.toString('utf8') ?? '{}').data, { t: 5 });
  });
});

describe('MQTT front door with credentials and TLS', () => {
  const dir = tempDir('junction-mqtt-tls-');
  let bus: TestBus;
  let ca: Buffer;
  let publisher: string;

  before(async () => {
    const tls = selfSignedCert(dir.path);
    ca = tls.cert;
    // The key is made offline (the bootstrap) in the data dir, before the bus starts on it.
    const dataDir = join(dir.path, 'data');
    const made = await cli([
      'keys',
      'create',
      'devices',
      '--scope',
      'publish',
      '--source-prefix',
      '/devices/',
      '--data-dir',
      dataDir,
      '--json',
    ]);
    assert.equal(made.code, 0, made.err);
    publisher = JSON.parse(made.out).key;
    bus = await startTestBus({ dataDir, mqttPort: 0, tls });
  });
  after(async () => {
    await bus?.stop();
    dir.remove();
  });

  test('mqtts: no password is refused at CONNECT; a publish key is checked with its source prefix', async () => {
    const url = bus.mqtt?.url as string;
    assert.match(url, /^mqtts:\/\//);
    const tls = { ca, servername: 'localhost' };
    const refused = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...tls });
    const error = await new Promise<Error & { code?: number }>((resolve) => refused.once('error', resolve));
    assert.equal(error.code, 0x86, 'bad user name or password');
    refused.end(true);

    const client = await connect(url, { protocolVersion: 5, username: 'any', password: publisher, ...tls });
    try {
      assert.equal(await publish(client, 'events', structured('k-1'), { qos: 1 }), undefined);
      const outside = await publish(
        client,
        'events',
        JSON.stringify({ specversion: '1.0', id: 'k-2', source: '/billing', type: 'x' }),
        { qos: 1 },
      );
      assert.equal(outside?.code, 0x87, 'not authorized: the key publishes /devices/ only');
      assert.match(outside?.reason ?? '', /^Forbidden/);
    } finally {
      await client.endAsync();
    }
    // An unknown key passes CONNECT (keys are checked per publish, with their scope) and each publish is refused.
    const wrong = await connect(url, { protocolVersion: 5, username: 'any', password: 'jk_wrong', ...tls });
    const bad = await publish(wrong, 'events', structured('k-3'), { qos: 1 });
    assert.equal(bad?.code, 0x87);
    await wrong.endAsync();
  });
});
