/** The node:http binding: requests that never reach the app (malformed HTTP) still get a JSON error body (the fuzzer found these). */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, serve } from '../../lib/server/node-server.ts';

/** Sends raw bytes and answers everything the server wrote before it closed the connection. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(text, 'latin1')));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function parse(response: string): { status: number; headers: string; body: unknown } {
  const [head = '', body = ''] = response.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return { status, headers: head.toLowerCase(), body: JSON.parse(body) };
}

describe('node-server', () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({
      app: async () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{}' }),
      port: 0,
    });
  });
  after(() => server.close());

  it('answers a request with an unknown method 400 InvalidRequest in JSON', async () => {
    const res = parse(await raw(server.port, 'FOO / HTTP/1.1\r\nhost: x\r\n\r\n'));
    assert.equal(res.status, 400);
    assert.match(res.headers, /content-type: application\/json/);
    assert.deepEqual((res.body as { error: { code: string } }).error.code, 'InvalidRequest');
  });

  it('answers a path with non-ASCII bytes 400 InvalidRequest in JSON', async () => {
    const res = parse(await raw(server.port, 'GET /\u00ff HTTP/1.1\r\nhost: x\r\n\r\n'));
    assert.equal(res.status, 400);
    assert.equal((res.body as { error: { code: string } }).error.code, 'InvalidRequest');
  });

  it('answers headers over the limit 431 PayloadTooLarge in JSON, naming the headers', async () => {
    const res = parse(
      await raw(server.port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'h'.repeat(20_000)}\r\n\r\n`),
    );
    assert.equal(res.status, 431);
    assert.deepEqual(
      {
        code: (res.body as { error: { code: string } }).error.code,
        field: (res.body as { error: { field: string } }).error.field,
      },
      { code: 'PayloadTooLarge', field: 'headers' },
    );
  });

  it('still serves well-formed requests', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
  });
});
