/**
 * The MQTT front door (issue #18): devices publish CloudEvents over MQTT 3.1.1 or 5 (plain TCP, or TLS when the bus
 * has a certificate) per the CloudEvents MQTT binding — structured (the event as JSON, either version) or binary
 * (MQTT 5: the attributes as user properties, `datacontenttype` as the content type, the payload as data).
 *
 * Each PUBLISH becomes the HTTP request the binding maps it to and goes through the bus's whole HTTP stack (the
 * Host/cross-site guards, authentication, scopes and source prefixes, quotas, schemas, idempotent durable ingest):
 * one path for every front door, so nothing is checked twice or forgotten. QoS 1 is acknowledged (PUBACK) and QoS 2
 * received (PUBREC) only after the bus answered 202, i.e. after the durable append; in the order received.
 *
 * Protocol work is `mqtt-packet` (the codec MQTT.js and the Aedes broker use). Not a broker: this door takes
 * publishes only (SUBSCRIBE is refused), so the session state is the in-flight window. Aedes itself does not speak
 * MQTT 5, whose user properties carry the binary mode.
 *
 * Topics: `events/<anything>` publishes on the default bus, `buses/<name>/events/<anything>` on the bus `name`.
 * Credentials: the CONNECT password is an API key (the username is not read) when the bus requires credentials.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import mqtt, { type IConnectPacket, type IPublishPacket, type Packet, type Parser } from 'mqtt-packet';
import type { ApiResponse, App } from './app.ts';

export interface MqttFrontDoorOptions {
  /** The bus's HTTP stack (with its auth layer): each PUBLISH is handed to it as a request. */
  readonly app: App;
  readonly port: number;
  readonly host: string;
  /** Serve MQTT over TLS (mqtts) with this certificate. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** The `Host` header of the requests a PUBLISH becomes: a name the bus's Host guard accepts (loopback:port). */
  readonly httpHost: () => string;
  /** Whether a CONNECT needs a password (an API key): when the bus requires credentials. */
  readonly credentialsRequired: () => Promise<boolean>;
  /** The largest MQTT packet taken; a larger one closes the connection. @default 1 MiB + 64 KiB */
  readonly maxPacketBytes?: number;
  /** @default 1000 */
  readonly maxConnections?: number;
  /** QoS 1 and 2 publishes a client may have unacknowledged at once (MQTT 5 `receiveMaximum`). @default 64 */
  readonly receiveMaximum?: number;
  /** A CONNECT must arrive within this time of the TCP connection. @default 10000 */
  readonly connectTimeoutMs?: number;
  readonly onWarning?: (message: string, error?: unknown) => void;
}

export interface MqttFrontDoor {
  readonly port: number;
  /** `mqtt://host:port` or `mqtts://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/** MQTT 5 reason codes used here. */
const REASON = {
  success: 0x00,
  unspecified: 0x80,
  malformed: 0x81,
  protocolError: 0x82,
  notAuthorized: 0x87,
  badCredentials: 0x86,
  serverBusy: 0x89,
  keepAliveTimeout: 0x8d,
  topicInvalid: 0x90,
  receiveMaximumExceeded: 0x93,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  payloadInvalid: 0x99,
  qosNotSupported: 0x9b,
  unsupportedVersion: 0x84,
} as const;

const TOPIC = /^(?:buses\/([A-Za-z0-9._-]{1,64})\/)?events(?:\/.*)?$/;
/** Binary-mode attributes carried as user properties: CloudEvents attribute names (lower-case letters, digits). */
const ATTRIBUTE = /^[a-z0-9]{1,20}$/;
const MAX_USER_PROPERTIES = 64;

interface Pending {
  /** Resolves to the reason code to acknowledge with (0 success), or undefined: close without acknowledging. */
  readonly outcome: Promise<{ code: number; reason?: string } | undefined>;
  readonly packet: IPublishPacket;
}

export async function startMqttFrontDoor(options: MqttFrontDoorOptions): Promise<MqttFrontDoor> {
  const maxPacket = options.maxPacketBytes ?? 1024 * 1024 + 64 * 1024;
  const maxConnections = options.maxConnections ?? 1000;
  const receiveMaximum = options.receiveMaximum ?? 64;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const warn = options.onWarning ?? (() => {});
  const sockets = new Set<Socket>();

  const onConnection = (socket: Socket) => {
    if (sockets.size >= maxConnections) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    serveConnection(socket);
  };

  function serveConnection(socket: Socket): void {
    const parser: Parser = mqtt.parser({});
    let version: 3 | 4 | 5 | undefined;
    let password: string | undefined;
    let keepAliveMs = 0;
    let lastSeen = Date.now();
    let closed = false;
    const queue: Pending[] = [];
    /** QoS 2 publishes received (PUBREC sent), awaiting their PUBREL. */
    const received = new Set<number>();
    let draining = false;

    const connectTimer = setTimeout(() => close(), connectTimeoutMs);
    connectTimer.unref();
    const keepAlive = setInterval(() => {
      if (keepAliveMs > 0 && Date.now() - lastSeen > keepAliveMs * 1.5) close(REASON.keepAliveTimeout);
    }, 1_000);
    keepAlive.unref();

    function send(packet: Packet): void {
      if (closed) return;
      try {
        socket.write(mqtt.generate(packet, { protocolVersion: version ?? 4 }));
      } catch (error) {
        warn('mqtt: could not encode an answer', error);
        close();
      }
    }

    function close(reasonCode?: number, reasonString?: string): void {
      if (closed) return;
      if (reasonCode !== undefined && version === 5) {
        send({
          cmd: 'disconnect',
          reasonCode,
          ...(reasonString === undefined ? {} : { properties: { reasonString: reasonString.slice(0, 200) } }),
        });
      }
      closed = true;
      clearTimeout(connectTimer);
      clearInterval(keepAlive);
      socket.end();
      // A client that does not close its side is cut off.
      setTimeout(() => socket.destroy(), 5_000).unref();
    }

    socket.once('close', () => {
      closed = true;
      clearTimeout(connectTimer);
      clearInterval(keepAlive);
    });

    socket.on('data', (chunk: Buffer) => {
      lastSeen = Date.now();
      parser.parse(chunk);
      // The parser keeps a packet's bytes until it is whole: bound them.
      const buffered = (parser as unknown as { _list?: { length: number } })._list?.length ?? 0;
      if (buffered > maxPacket) close(REASON.packetTooLarge, `packets are limited to ${maxPacket} bytes`);
    });
    parser.on('error', (error: Error) => {
      warn(`mqtt: malformed packet from ${socket.remoteAddress}: ${error.message}`);
      close(REASON.malformed, error.message);
    });
    parser.on('packet', (packet: Packet) => {
      if (closed) return;
      if (version === undefined) {
        if (packet.cmd !== 'connect') return close();
        void onConnect(packet);
        return;
      }
      switch (packet.cmd) {
        case 'publish':
          return onPublish(packet);
        case 'pubrel':
          if (packet.messageId !== undefined && received.delete(packet.messageId)) {
            send({ cmd: 'pubcomp', messageId: packet.messageId });
          } else if (packet.messageId !== undefined) {
            // A PUBREL for a publish this connection did not receive (a resend after a reconnect): complete it.
            send({
              cmd: 'pubcomp',
              messageId: packet.messageId,
              ...(version === 5 ? { reasonCode: 0 } : {}),
            });
          }
          return;
        case 'pingreq':
          return send({ cmd: 'pingresp' });
        case 'subscribe':
          return send({
            cmd: 'suback',
            messageId: packet.messageId,
            // 0x87 not authorized (MQTT 5), 0x80 failure (3.1.1): this door takes publishes only.
            granted: packet.subscriptions.map(() => (version === 5 ? REASON.notAuthorized : 0x80)),
            ...(version === 5
              ? { properties: { reasonString: 'this is the bus front door: it takes publishes only' } }
              : {}),
          });
        case 'unsubscribe':
          // 0x11: no subscription existed (MQTT 5; 3.1.1 ignores the codes).
          return send({
            cmd: 'unsuback',
            messageId: packet.messageId,
            granted: packet.unsubscriptions.map(() => 0x11),
          });
        case 'disconnect':
          closed = true;
          socket.end();
          return;
        case 'connect':
          return close(REASON.protocolError, 'a second CONNECT');
        default:
          return close(REASON.protocolError, `unexpected ${packet.cmd}`);
      }
    });

    async function onConnect(packet: IConnectPacket): Promise<void> {
      clearTimeout(connectTimer);
      const v = packet.protocolVersion ?? 4;
      version = v;
      if (v !== 4 && v !== 5) {
        send({ cmd: 'connack', returnCode: 1, sessionPresent: false });
        return close();
      }
      keepAliveMs = (packet.keepalive ?? 0) * 1000;
      password = packet.password === undefined ? undefined : packet.password.toString('utf8');
      let required = true;
      try {
        required = await options.credentialsRequired();
      } catch (error) {
        warn('mqtt: could not tell whether credentials are required', error);
      }
      if (closed) return;
      if (required && (password === undefined || password === '')) {
        send(
          v === 5
            ? {
                cmd: 'connack',
                reasonCode: REASON.badCredentials,
                sessionPresent: false,
                properties: { reasonString: 'this bus requires an API key as the CONNECT password' },
              }
            : { cmd: 'connack', returnCode: 4, sessionPresent: false },
        );
        return close();
      }
      send(
        v === 5
          ? {
              cmd: 'connack',
              reasonCode: REASON.success,
              sessionPresent: false,
              properties: {
                receiveMaximum,
                maximumPacketSize: maxPacket,
                retainAvailable: false,
                wildcardSubscriptionAvailable: false,
                sharedSubscriptionAvailable: false,
                subscriptionIdentifiersAvailable: false,
                topicAliasMaximum: 0,
              },
            }
          : { cmd: 'connack', returnCode: 0, sessionPresent: false },
      );
    }

    function onPublish(packet: IPublishPacket): void {
      const qos = packet.qos;
      if (qos > 0 && queue.length >= receiveMaximum) {
        close(REASON.receiveMaximumExceeded, `at most ${receiveMaximum} unacknowledged publishes`);
        return;
      }
      if (qos === 2 && packet.messageId !== undefined && received.has(packet.messageId)) {
        // A resent QoS 2 publish this connection has received already: receive it again, not the event.
        send({ cmd: 'pubrec', messageId: packet.messageId });
        return;
      }
      queue.push({ packet, outcome: ingest(packet) });
      void drain();
    }

    /** Acknowledges the queue's head as its ingest ends: acknowledgements go in the order publishes came. */
    async function drain(): Promise<void> {
      if (draining) return;
      draining = true;
      try {
        while (queue.length > 0 && !closed) {
          const head = queue[0] as Pending;
          const outcome = await head.outcome;
          queue.shift();
          if (closed) return;
          const { packet } = head;
          if (outcome === undefined) {
            // Not taken, and nothing to tell the client in this protocol version: it sends the publish again.
            return close(REASON.serverBusy);
          }
          if (packet.qos === 0) continue;
          if (version !== 5 && outcome.code !== REASON.success) {
            // MQTT 3.1.1 has no negative acknowledgement: closing tells the client the publish was not taken.
            warn(
              `mqtt: a publish on ${packet.topic} was refused (${outcome.reason ?? outcome.code}); closing`,
            );
            return close();
          }
          const ack = {
            messageId: packet.messageId as number,
            ...(version === 5 && outcome.code !== REASON.success
              ? {
                  reasonCode: outcome.code,
                  ...(outcome.reason === undefined ? {} : { properties: { reasonString: outcome.reason } }),
                }
              : {}),
          };
          if (packet.qos === 1) send({ cmd: 'puback', ...ack });
          else {
            if (outcome.code === REASON.success) received.add(ack.messageId);
            send({ cmd: 'pubrec', ...ack });
          }
        }
      } finally {
        draining = false;
      }
    }

    async function ingest(packet: IPublishPacket): Promise<{ code: number; reason?: string } | undefined> {
      const topic = TOPIC.exec(packet.topic);
      if (topic === null) {
        return {
          code: REASON.topicInvalid,
          reason: 'publish to events/<anything> (or buses/<name>/events/<anything>)',
        };
      }
      const bus = topic[1];
      const request = requestOf(packet, bus);
      if (typeof request === 'string') return { code: REASON.payloadInvalid, reason: request };
      let response: ApiResponse;
      try {
        response = await options.app(request);
      } catch (error) {
        warn('mqtt: the bus failed a publish', error);
        return undefined;
      }
      return outcomeOf(response);
    }

    function requestOf(packet: IPublishPacket, bus: string | undefined) {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      const properties = packet.properties ?? {};
      const user = properties.userProperties ?? {};
      const headers: Record<string, string> = { host: options.httpHost() };
      if (password !== undefined && password !== '') headers.authorization = `Bearer ${password}`;
      const binary = version === 5 && Object.hasOwn(user, 'specversion');
      if (binary) {
        const names = Object.keys(user);
        if (names.length > MAX_USER_PROPERTIES) return `at most ${MAX_USER_PROPERTIES} user properties`;
        for (const name of names) {
          const value = user[name];
          if (typeof value !== 'string') return `the user property ${name} is given more than once`;
          if (!ATTRIBUTE.test(name)) return `the user property ${name} is not a CloudEvents attribute name`;
          if (name === 'datacontenttype') continue;
          headers[`ce-${name}`] = value;
        }
        const type =
          properties.contentType ??
          (typeof user.datacontenttype === 'string' ? user.datacontenttype : undefined);
        if (type !== undefined) headers['content-type'] = type;
      } else {
        const type = properties.contentType;
        headers['content-type'] =
          type !== undefined && /^application\/cloudevents(-batch)?\+json\b/i.test(type)
            ? type
            : 'application/cloudevents+json';
      }
      return {
        method: 'POST',
        path: bus === undefined ? '/events' : `/buses/${bus}/events`,
        query: new URLSearchParams(),
        headers,
        body: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength),
      };
    }
  }

  const server: Server =
    options.tls === undefined
      ? createTcpServer(onConnection)
      : createTlsServer({ cert: options.tls.cert, key: options.tls.key }, onConnection);
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const hostText = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `${options.tls === undefined ? 'mqtt' : 'mqtts'}://${hostText}:${port}`,
    async close() {
      const closedServer = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closedServer;
    },
  };
}

/** What the bus's answer to a publish means for its acknowledgement. */
function outcomeOf(response: ApiResponse): { code: number; reason?: string } | undefined {
  if (response.status === 200 || response.status === 202) {
    // A batch (structured batch content type) may be partly refused: its answer lists the failed entries.
    const failed = batchFailures(response);
    return failed === undefined ? { code: REASON.success } : { code: REASON.payloadInvalid, reason: failed };
  }
  const reason = messageOf(response);
  if (response.status === 401 || response.status === 403) return { code: REASON.notAuthorized, reason };
  if (response.status === 413) return { code: REASON.packetTooLarge, reason };
  if (response.status === 429) return { code: REASON.quotaExceeded, reason };
  if (response.status >= 400 && response.status < 500) return { code: REASON.payloadInvalid, reason };
  // The bus could not take it now (its log unavailable): not acknowledged, so the client sends it again.
  return undefined;
}

function bodyText(response: ApiResponse): string {
  return typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body);
}

function messageOf(response: ApiResponse): string {
  try {
    const body = JSON.parse(bodyText(response)) as {
      error?: { code?: string; message?: string; field?: string };
    };
    const e = body.error;
    if (e !== undefined) return `${e.code ?? response.status}: ${e.message ?? ''}`.slice(0, 500);
  } catch {
    // not JSON
  }
  return `the bus answered ${response.status}`;
}

function batchFailures(response: ApiResponse): string | undefined {
  if (response.status !== 200) return undefined;
  try {
    const body = JSON.parse(bodyText(response)) as {
      failed?: number;
      results?: Array<{ error?: { message?: string } }>;
    };
    if ((body.failed ?? 0) === 0) return undefined;
    const first = body.results?.find((r) => r.error !== undefined)?.error?.message ?? '';
    return `${body.failed} of the batch's events were refused: ${first}`.slice(0, 500);
  } catch {
    return undefined;
  }
}
