/** The HTTP edge on raw sockets: body limits answered, pipelined garbage, slow clients, connection caps, ports. */
import assert from 'node:assert/strict';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiRequest, App } from '../../lib/server/app.ts';
import { type NodeServerOptions, type RunningServer, serve } from '../../lib/server/node-server.ts';

/** An app that stores every body it is given and answers 202. */
function recordingApp(): { app: App; stored: ApiRequest[] } {
  const stored: ApiRequest[] = [];
  return {
    stored,
    app: async (request) => {
      stored.push(request);
      return { status: 202, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
    },
  };
}

/** A raw connection that collects everything the server sends until it closes. */
function rawClient(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', () => undefined); // a reset shows as a missing answer, asserted on below
    socket.once('connect', () =>
      resolve({ socket, text: () => Buffer.concat(chunks).toString('latin1'), closed }),
    );
    socket.once('error', reject);
  });
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function writeAll(socket: Socket, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let offset = 0;
    const step = 256 * 1024;
    const pump = () => {
      while (offset < data.length && !socket.destroyed) {
        const ok = socket.write(data.subarray(offset, offset + step));
        offset += step;
        if (!ok) return void socket.once('drain', pump);
      }
      resolve();
    };
    socket.once('close', resolve);
    pump();
  });
}

const EVENT_HEAD =
  'POST /events HTTP/1.1\r\nhost: x\r\nce-specversion: 1.0\r\nce-id: 1\r\nce-source: /s\r\nce-type: t\r\n' +
  'content-type: application/json\r\n';

describe('node server', () => {
  let server: RunningServer;
  let stored: ApiRequest[];
  const start = async (options: Partial<NodeServerOptions> = {}) => {
    const recording = recordingApp();
    stored = recording.stored;
    server = await serve({ app: recording.app, port: 0, ...options });
    started.push(server);
  };
  const started: RunningServer[] = [];
  after(async () => {
    for (const s of started) await s.close();
  });

  it('answers a 10 MiB + 1 body sent without Expect: 100-continue with 413, not a reset', async () => {
    await start();
    const size = 10 * 1024 * 1024 + 1;
    const client = await rawClient(server.port);
    const head = Buffer.from(`${EVENT_HEAD}content-length: ${size}\r\n\r\n`);
    // Like most simple clients (and curl), it reads the answer only once it has sent the whole body.
    client.socket.pause();
    await writeAll(client.socket, Buffer.concat([head, Buffer.alloc(size, 'a')]));
    client.socket.resume();
    await within(client.closed, 20_000, 'the connection to close');
    assert.match(client.text(), /^HTTP\/1\.1 413 /);
    assert.match(client.text(), /PayloadTooLarge/);
    assert.equal(stored.length, 0);
    await server.close();
  });

  it('answers a chunked body over the limit with 413 too', async () => {
    await start({ maxBodyBytes: 1000 });
    const client = await rawClient(server.port);
    const chunk = `${(600).toString(16)}\r\n${'b'.repeat(600)}\r\n`;
    client.socket.write(`${EVENT_HEAD}transfer-encoding: chunked\r\n\r\n${chunk}${chunk}0\r\n\r\n`);
    await within(client.closed, 10_000, 'the connection to close');
    assert.match(client.text(), /^HTTP\/1\.1 413 /);
    await server.close();
  });

  it('answers the valid request before garbage on the same connection, then 400 and closes', async () => {
    await start();
    const client = await rawClient(server.port);
    const body = '{"a":1}';
    client.socket.write(
      `${EVENT_HEAD}content-length: ${body.length}\r\n\r\n${body}GARBAGE \x01\x02 NOT HTTP\r\n\r\n`,
    );
    await within(client.closed, 10_000, 'the connection to close');
    const text = client.text();
    assert.equal(stored.length, 1);
    assert.match(text, /^HTTP\/1\.1 202 [\s\S]*\{"ok":true\}HTTP\/1\.1 400 /);
  });

  it('answers 408 to a client that is too slow to send its headers', async () => {
    await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const client = await rawClient(server.port);
    client.socket.write('POST /events HTTP/1.1\r\nhost: x\r\n');
    await within(client.closed, 10_000, 'the connection to close');
    assert.match(client.text(), /^HTTP\/1\.1 408 /);
    await server.close();
  });

  it('answers 408 to a client that is too slow to send its body', async () => {
    await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const client = await rawClient(server.port);
    client.socket.write(`${EVENT_HEAD}content-length: 100\r\n\r\n{"a":`);
    await within(client.closed, 10_000, 'the connection to close');
    assert.match(client.text(), /^HTTP\/1\.1 408 /);
    assert.equal(stored.length, 0);
    await server.close();
  });

  it('closes idle keep-alive connections after idleTimeoutMs', async () => {
    await start({ idleTimeoutMs: 200 });
    const client = await rawClient(server.port);
    client.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
    await within(client.closed, 10_000, 'the idle connection to close');
    assert.match(client.text(), /^HTTP\/1\.1 202 /);
    await server.close();
  });

  it('hands the app every value of a repeated header, and single ones as sent, names in lower case', async () => {
    await start();
    const client = await rawClient(server.port);
    const values = (v: string | string[] | undefined) => (v === undefined ? [] : ([] as string[]).concat(v));
    // Node keeps only the first of a repeated content-type and joins repeated ce-* values with ", ": the codec's
    // refusal of a repeated attribute needs every value.
    client.socket.write(
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ncontent-type: text/plain\r\n' +
        'CE-Type: a\r\nce-type: b, c\r\nX-One: 1\r\ncontent-length: 0\r\n\r\n' +
        'POST /events HTTP/1.1\r\nhost: x\r\nCE-Type: a, b\r\nconnection: close\r\ncontent-length: 0\r\n\r\n',
    );
    await within(client.closed, 10_000, 'the connection to close');
    assert.equal(stored.length, 2);
    const [repeated, single] = stored as [ApiRequest, ApiRequest];
    assert.deepEqual(values(repeated.headers['content-type']), ['application/json', 'text/plain']);
    assert.deepEqual(values(repeated.headers['ce-type']), ['a', 'b, c']);
    assert.deepEqual(values(repeated.headers['x-one']), ['1']);
    assert.deepEqual(values(single.headers['ce-type']), ['a, b']);
    assert.deepEqual(values(single.headers.host), ['x']);
  });

  it('answers a string body with its length in bytes', async () => {
    const body = '{"name":"café ☕"}';
    server = await serve({
      app: async () => ({ status: 200, headers: { 'content-type': 'application/json' }, body }),
      port: 0,
    });
    started.push(server);
    const client = await rawClient(server.port);
    client.socket.write('GET /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    await within(client.closed, 10_000, 'the connection to close');
    const raw = Buffer.from(client.text(), 'latin1');
    const split = raw.indexOf('\r\n\r\n');
    assert.match(
      raw.subarray(0, split).toString('latin1'),
      new RegExp(`content-length: ${Buffer.byteLength(body)}\r\n`, 'i'),
    );
    assert.equal(raw.subarray(split + 4).toString('utf8'), body);
  });

  it('caps the number of connections', async () => {
    await start({ maxConnections: 2 });
    const a = await rawClient(server.port);
    const b = await rawClient(server.port);
    const c = await rawClient(server.port);
    await within(c.closed, 10_000, 'the third connection to be dropped');
    for (const client of [a, b]) {
      client.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      await within(client.closed, 10_000, 'an answer');
      assert.match(client.text(), /^HTTP\/1\.1 202 /);
    }
    assert.equal(c.text(), '');
    await server.close();
  });
});

describe('node server: the port', () => {
  let blocker: ReturnType<typeof createNetServer>;
  let port: number;
  before(async () => {
    blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('refuses a port in use with one clear message', async () => {
    await assert.rejects(serve({ app: recordingApp().app, port }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'InvalidRequest');
      assert.equal((error as { field?: string }).field, 'port');
      assert.equal(error.message, `port ${port} is in use — stop the other process or pass --port N`);
      return true;
    });
  });
});
