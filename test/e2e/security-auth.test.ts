/** Issue #12 end to end: authentication, DNS rebinding (Host), cross-site requests (Origin, content type), TLS. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

/** A raw HTTP/1.1 request (fetch forbids setting Host); answers status and body text. */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('issue #12, reproduced against the open loopback bus', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(() => bus.stop());

  test('refuses a request whose Host is not the bus (DNS rebinding)', async () => {
    const res = await rawRequest(bus.url, 'GET', '/rules', { host: 'attacker.example' });
    assert.equal(res.status, 421, res.body);
    const rebound = await rawRequest(bus.url, 'GET', '/rules', { host: `attacker.example:${bus.port}` });
    assert.equal(rebound.status, 421, rebound.body);
    const own = await rawRequest(bus.url, 'GET', '/rules', { host: `127.0.0.1:${bus.port}` });
    assert.equal(own.status, 200, own.body);
    const local = await rawRequest(bus.url, 'GET', '/rules', { host: `localhost:${bus.port}` });
    assert.equal(local.status, 200, local.body);
  });

  test('refuses POST /replays sent cross-site as text/plain (CSRF)', async () => {
    const body = JSON.stringify({ from: 0, to: Date.now() });
    const res = await rawRequest(
      bus.url,
      'POST',
      '/replays',
      { host: `127.0.0.1:${bus.port}`, 'content-type': 'text/plain' },
      body,
    );
    assert.equal(res.status, 403, res.body);
    assert.equal(JSON.parse(res.body).error.code, 'Forbidden');
  });

  test('refuses POST /dead-letters/redrive sent as a form or with no content type (CSRF)', async () => {
    for (const type of [
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      undefined,
    ]) {
      const res = await rawRequest(
        bus.url,
        'POST',
        '/dead-letters/redrive',
        { host: `127.0.0.1:${bus.port}`, ...(type === undefined ? {} : { 'content-type': type }) },
        '{"all":true}',
      );
      assert.equal(res.status, 403, `${type}: ${res.body}`);
    }
  });

  test('refuses a request from a web page (Origin not allowed)', async () => {
    const res = await request(
      bus.url,
      'POST',
      '/dead-letters/redrive',
      { all: true },
      {
        origin: 'https://attacker.example',
      },
    );
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'Forbidden');
    assert.match(res.body.error.message, /origin/i);
  });

  test('still serves the tour: JSON management and binary-mode events without a key on loopback', async () => {
    const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { all: true });
    assert.equal(redrive.status, 200);
    const plain = await request(bus.url, 'POST', '/events', 'hello', {
      'ce-specversion': '1.0',
      'ce-id': 'tour-1',
      'ce-source': '/tour',
      'ce-type': 't',
      'content-type': 'text/plain',
    });
    assert.equal(plain.status, 202);
  });
});

describe('authentication required', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ auth: { required: true } });
  });
  after(() => bus.stop());

  test('refuses to deploy a function (code execution) without a credential', async () => {
    const res = await request(bus.url, 'PUT', '/functions/evil', 'export default () => {}', {
      'content-type': 'application/javascript',
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, 'Unauthorized');
    const rules = await request(bus.url, 'GET', '/rules');
    assert.equal(rules.status, 401);
    const publish = await request(bus.url, 'POST', '/events', '{}', {
      'ce-specversion': '1.0',
      'ce-id': 'x',
      'ce-source': '/x',
      'ce-type': 't',
      'content-type': 'application/json',
    });
    assert.equal(publish.status, 401);
  });
});
