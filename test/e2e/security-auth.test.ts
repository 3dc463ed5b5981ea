/** Issue #12 end to end: authentication, DNS rebinding (Host), cross-site requests (Origin, content type), TLS. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { EXIT, runCli } from '../../lib/cli/cli.ts';
import { runDev } from '../../lib/cli/dev.ts';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';
import { selfSignedCert } from '../helpers/tls.ts';

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
    env,
    dev: runDev,
  });
  return { code, out, err };
}

/** Creates a key offline on the data dir (the bootstrap path) and answers it. */
async function createKey(dataDir: string, name: string, ...flags: string[]): Promise<string> {
  const r = await cli(['keys', 'create', name, '--data-dir', dataDir, '--json', ...flags]);
  assert.equal(r.code, EXIT.ok, r.err);
  return JSON.parse(r.out).key as string;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

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

describe('API keys and scopes on a running bus', () => {
  let bus: TestBus;
  let admin: string;
  let reader: string;
  let publisher: string;

  before(async () => {
    bus = await startTestBus();
    assert.equal(await bus.authRequired(), false, 'open on loopback with no keys (the tour)');
    admin = await createKey(bus.dataDir, 'admin', '--scope', 'manage');
    reader = await createKey(bus.dataDir, 'reader', '--scope', 'read');
    publisher = await createKey(bus.dataDir, 'shop', '--scope', 'publish', '--source-prefix', 'com.shop.');
  });
  after(() => bus.stop());

  test('requires a credential once the first key exists, and never stores or lists the key', async () => {
    assert.equal(await bus.authRequired(), true);
    assert.match(admin, /^jk_[A-Za-z0-9_-]{43}$/);
    assert.equal((await request(bus.url, 'GET', '/rules')).status, 401);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer('jk_wrong'))).status, 401);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(admin))).status, 200);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, { 'x-api-key': reader })).status, 200);
    assert.equal((await request(bus.url, 'GET', '/healthz')).status, 200, 'health stays public');
    const db = readFileSync(join(bus.dataDir, 'junction.db'));
    assert.equal(db.includes(admin), false, 'the database does not hold the key');
    const listed = await cli(['keys', 'list', '--url', bus.url], { JUNCTION_API_KEY: admin });
    assert.equal(listed.code, EXIT.ok, listed.err);
    assert.match(listed.out, /admin\s+key\s+manage/);
    assert.match(listed.out, /shop\s+key\s+publish\s+default\s+com\.shop\./);
    assert.equal(listed.out.includes(admin) || listed.out.includes(publisher), false);
  });

  test('lets each scope do its part only', async () => {
    const rule = { pattern: { source: ['com.shop.orders'] }, targets: [], enabled: false };
    assert.equal((await request(bus.url, 'PUT', '/rules/r1', rule, bearer(reader))).status, 403);
    assert.equal((await request(bus.url, 'PUT', '/rules/r1', rule, bearer(publisher))).status, 403);
    assert.equal((await request(bus.url, 'PUT', '/rules/r1', rule, bearer(admin))).status, 201);
    assert.equal((await request(bus.url, 'GET', '/rules/r1', undefined, bearer(publisher))).status, 403);
    assert.equal((await request(bus.url, 'GET', '/metrics', undefined, bearer(reader))).status, 200);
    assert.equal((await request(bus.url, 'GET', '/keys', undefined, bearer(reader))).status, 403);
    const event = { id: 'e1', source: 'com.shop.orders', type: 't' };
    const byAdmin = await publishBinary({ url: bus.url }, { ...event, ...bearer(admin) } as never);
    assert.equal(byAdmin.status, 401, 'ce-authorization is not a credential');
    const published = await request(bus.url, 'POST', '/events', '{}', {
      ...bearer(publisher),
      'ce-specversion': '1.0',
      'ce-id': 'e1',
      'ce-source': 'com.shop.orders',
      'ce-type': 't',
      'content-type': 'application/json',
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    const manager = await request(bus.url, 'POST', '/events', '{}', {
      ...bearer(admin),
      'ce-specversion': '1.0',
      'ce-id': 'e2',
      'ce-source': 'com.shop.orders',
      'ce-type': 't',
    });
    assert.equal(manager.status, 403, 'manage does not imply publish');
  });

  test('refuses events whose source is outside the key prefix: per event and per batch entry', async () => {
    const outside = await request(bus.url, 'POST', '/events', '{}', {
      ...bearer(publisher),
      'ce-specversion': '1.0',
      'ce-id': 'x1',
      'ce-source': 'com.bank.transfers',
      'ce-type': 't',
    });
    assert.equal(outside.status, 403);
    assert.equal(outside.body.error.code, 'Forbidden');
    assert.equal(outside.body.error.field, 'source');
    const batch = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify([
        { specversion: '1.0', id: 'b1', source: 'com.shop.cart', type: 't' },
        { specversion: '1.0', id: 'b2', source: 'com.bank.x', type: 't' },
      ]),
      { ...bearer(publisher), 'content-type': 'application/cloudevents-batch+json' },
    );
    assert.equal(batch.status, 200);
    assert.equal(batch.body.accepted, 1);
    assert.deepEqual(batch.body.results[0], { id: 'b1' });
    assert.equal(batch.body.results[1].error.code, 'Forbidden');
    const trace = await request(
      bus.url,
      'GET',
      '/events/b2/trace?source=com.bank.x',
      undefined,
      bearer(admin),
    );
    assert.deepEqual(trace.body.entries ?? [], [], 'the refused entry was not appended');
  });

  test('answers a mixed batch entry by entry, in order: accepted, outside the prefix, malformed, refused by a schema', async () => {
    const schema = await request(
      bus.url,
      'PUT',
      '/schemas/mixed-batch',
      {
        schema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        binding: { type: 'com.shop.mixed' },
        enforcement: 'reject',
      },
      bearer(admin),
    );
    assert.equal(schema.status, 201, JSON.stringify(schema.body));
    try {
      const batch = await request(
        bus.url,
        'POST',
        '/events',
        JSON.stringify([
          { specversion: '1.0', id: 'm1', source: 'com.shop.a', type: 'com.shop.mixed', data: { n: 1 } },
          { specversion: '1.0', id: 'm2', source: 'com.bank.a', type: 'com.shop.mixed', data: { n: 2 } },
          { specversion: '1.0', id: 'm3', source: 'com.shop.a' },
          { specversion: '1.0', id: 'm4', source: 'com.shop.a', type: 'com.shop.mixed', data: { n: 'four' } },
          { specversion: '1.0', id: 'm5', source: 'com.shop.b', type: 'com.shop.mixed', data: { n: 5 } },
        ]),
        { ...bearer(publisher), 'content-type': 'application/cloudevents-batch+json' },
      );
      assert.equal(batch.status, 200, JSON.stringify(batch.body));
      assert.equal(batch.body.accepted, 2);
      assert.equal(batch.body.failed, 3);
      const results = batch.body.results as Array<{ id?: string; error?: { code: string; field?: string } }>;
      assert.deepEqual(
        results.map((r) => [r.id, r.error?.code]),
        [
          ['m1', undefined],
          ['m2', 'Forbidden'],
          ['m3', 'InvalidEvent'],
          ['m4', 'SchemaViolation'],
          ['m5', undefined],
        ],
      );
      assert.equal(results[3]?.error?.field, 'data.n');
    } finally {
      await request(bus.url, 'DELETE', '/schemas/mixed-batch', undefined, bearer(admin));
    }
  });

  test('deploys a function from the CLI with a manage key (PUT /functions with source code)', async () => {
    const file = join(repoRoot, 'test/fixtures/functions/echo.ts');
    const denied = await cli(['functions', 'deploy', 'echo', file, '--url', bus.url]);
    assert.equal(denied.code, EXIT.apiError);
    assert.match(denied.err, /Unauthorized/);
    const deployed = await cli(['functions', 'deploy', 'echo', file, '--url', bus.url], {
      JUNCTION_API_KEY: admin,
    });
    assert.equal(deployed.code, EXIT.ok, deployed.err);
  });

  test('revokes a key through the API and offline, effective on the next request', async () => {
    const temp = await cli(['keys', 'create', 'temp', '--scope', 'read', '--url', bus.url, '--json'], {
      JUNCTION_API_KEY: admin,
    });
    assert.equal(temp.code, EXIT.ok, temp.err);
    const key = JSON.parse(temp.out).key as string;
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(key))).status, 200);
    const revoked = await cli(['keys', 'revoke', 'temp', '--url', bus.url], { JUNCTION_API_KEY: admin });
    assert.equal(revoked.code, EXIT.ok, revoked.err);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(key))).status, 401);

    const other = await createKey(bus.dataDir, 'other', '--scope', 'read');
    assert.equal(
      (await request(bus.url, 'GET', '/rules', undefined, bearer(other))).status,
      200,
      'cached now',
    );
    const offline = await cli(['keys', 'revoke', 'other', '--data-dir', bus.dataDir]);
    assert.equal(offline.code, EXIT.ok, offline.err);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(other))).status, 401);
    const again = await cli(['keys', 'revoke', 'other', '--data-dir', bus.dataDir]);
    assert.equal(again.code, EXIT.apiError);
  });

  test('refuses bad key requests with a code and the field', async () => {
    const bad = await request(bus.url, 'POST', '/keys', { name: 'x', scope: 'root' }, bearer(admin));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'scope');
    const taken = await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'read' }, bearer(admin));
    assert.equal(taken.status, 409);
    const usage = await cli(['keys', 'create', 'y', '--data-dir', bus.dataDir]);
    assert.equal(usage.code, EXIT.usage);
  });

  test('writes management calls to the audit log: who, what, when, result', async () => {
    await request(
      bus.url,
      'PUT',
      '/rules/audited',
      { pattern: { source: ['a'] }, targets: [], enabled: false },
      bearer(admin),
    );
    await request(bus.url, 'DELETE', '/rules/audited', undefined, bearer(reader));
    await request(bus.url, 'POST', '/dead-letters/redrive', { all: true });
    const refused = await request(bus.url, 'POST', '/dead-letters/delete', { all: true }, bearer(reader));
    assert.deepEqual([refused.status, refused.body.error.code], [403, 'Forbidden']);
    const deleted = await request(bus.url, 'POST', '/dead-letters/delete', { all: true }, bearer(admin));
    assert.deepEqual([deleted.status, deleted.body], [200, { deleted: 0 }]);
    const audit = await request(bus.url, 'GET', '/audit?limit=50', undefined, bearer(reader));
    assert.equal(audit.status, 200);
    const entries = audit.body.entries as Array<Record<string, unknown>>;
    const find = (method: string, path: string, who: string) =>
      entries.find((e) => e.method === method && e.path === path && e.who === who);
    assert.deepEqual(
      { ...find('PUT', '/rules/audited', 'admin'), at: 0, seq: 0 },
      { at: 0, seq: 0, who: 'admin', method: 'PUT', path: '/rules/audited', status: 201, result: 'ok' },
    );
    assert.equal(find('DELETE', '/rules/audited', 'reader')?.result, 'Forbidden');
    assert.equal(find('POST', '/dead-letters/redrive', 'unauthenticated')?.result, 'Unauthorized');
    assert.equal(find('POST', '/dead-letters/delete', 'reader')?.result, 'Forbidden');
    assert.equal(find('POST', '/dead-letters/delete', 'admin')?.result, 'ok');
    assert.ok(find('POST', '/keys', 'cli --data-dir'), 'offline key creation is audited too');
    assert.equal(
      entries.some((e) => e.path === '/events'),
      false,
      'ingest is not a management call',
    );
    assert.equal((await request(bus.url, 'GET', '/audit', undefined, bearer(publisher))).status, 403);
  });
});

describe('the EventBridge endpoint with AWS Signature V4', () => {
  let bus: TestBus;
  let admin: string;
  let pair: { accessKeyId: string; secretAccessKey: string };
  const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
    new EventBridgeClient({ endpoint: bus.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  const entry = (Source: string) => ({ Source, DetailType: 'order', Detail: '{"n":1}' });

  before(async () => {
    bus = await startTestBus();
    admin = await createKey(bus.dataDir, 'admin', '--scope', 'manage');
    const created = await request(
      bus.url,
      'POST',
      '/keys',
      { name: 'sdk', scope: 'publish', aws: true, sourcePrefix: 'com.shop.' },
      bearer(admin),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    pair = created.body;
    assert.match(pair.accessKeyId, /^AKJ[A-Z2-7]{17}$/);
    assert.equal(pair.secretAccessKey.length, 40);
  });
  after(() => bus.stop());

  test('accepts PutEvents signed by the SDK, per entry within the source prefix', async () => {
    const out = await client(pair).send(
      new PutEventsCommand({ Entries: [entry('com.shop.orders'), entry('com.bank.x')] }),
    );
    assert.equal(out.FailedEntryCount, 1);
    assert.ok(out.Entries?.[0]?.EventId);
    assert.equal(out.Entries?.[1]?.ErrorCode, 'AccessDeniedException');
  });

  test('answers a wrong secret with InvalidSignatureException and an unknown key with UnrecognizedClientException', async () => {
    await assert.rejects(
      client({ ...pair, secretAccessKey: `${pair.secretAccessKey.slice(1)}x` }).send(
        new PutEventsCommand({ Entries: [entry('com.shop.orders')] }),
      ),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) =>
        e.name === 'InvalidSignatureException' && e.$metadata?.httpStatusCode === 403,
    );
    await assert.rejects(
      client({ accessKeyId: 'AKJUNKNOWNUNKNOWN123', secretAccessKey: pair.secretAccessKey }).send(
        new PutEventsCommand({ Entries: [entry('com.shop.orders')] }),
      ),
      (e: Error) => e.name === 'UnrecognizedClientException',
    );
    const unsigned = await request(bus.url, 'POST', '/', '{"Entries":[]}', {
      'x-amz-target': 'AWSEvents.PutEvents',
      'content-type': 'application/x-amz-json-1.1',
    });
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.body.__type, 'MissingAuthenticationTokenException');
  });

  test('keeps the AWS secret sealed in the database (key file credentials.key, mode 0600)', () => {
    const db = readFileSync(join(bus.dataDir, 'junction.db'));
    assert.equal(db.includes(pair.secretAccessKey), false);
    const mode = execFileSync('stat', ['-c', '%a', join(bus.dataDir, 'credentials.key')])
      .toString()
      .trim();
    assert.equal(mode, '600');
  });
});

describe('JWTs verified against a JWKS', () => {
  let bus: TestBus;
  let jwks: Server;
  let sign: (claims: Record<string, unknown>, expires?: string) => Promise<string>;
  let foreign: (claims: Record<string, unknown>) => Promise<string>;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const build = (claims: Record<string, unknown>, expires: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://idp.test')
        .setAudience('junction')
        .setSubject('ci-bot')
        .setIssuedAt()
        .setExpirationTime(expires);
    sign = (claims, expires = '5m') => build(claims, expires).sign(privateKey);
    foreign = (claims) => build(claims, '5m').sign(other.privateKey);
    bus = await startTestBus({
      auth: { jwt: { jwksUrl: url, issuer: 'https://idp.test', audience: 'junction' } },
    });
  });
  after(async () => {
    await bus.stop();
    await new Promise<void>((r) => jwks.close(() => r()));
  });

  test('maps claims to scopes for managers and publishers (with a source prefix)', async () => {
    const manager = await sign({ scope: 'openid junction:manage' });
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(manager))).status, 200);
    const publisher = await sign({ scope: ['junction:publish'], 'junction:source_prefix': 'ci.' });
    const headers = (source: string) => ({
      ...bearer(publisher),
      'ce-specversion': '1.0',
      'ce-id': `j-${source}`,
      'ce-source': source,
      'ce-type': 't',
    });
    assert.equal((await request(bus.url, 'POST', '/events', '', headers('ci.build'))).status, 202);
    assert.equal((await request(bus.url, 'POST', '/events', '', headers('prod.x'))).status, 403);
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(publisher))).status, 403);
    const audit = await request(
      bus.url,
      'PUT',
      '/rules/j',
      { pattern: { source: ['a'] }, targets: [], enabled: false },
      bearer(manager),
    );
    assert.equal(audit.status, 201);
  });

  test('refuses a token signed by another key, an expired one, or one with no junction scope', async () => {
    assert.equal(
      (
        await request(
          bus.url,
          'GET',
          '/rules',
          undefined,
          bearer(await foreign({ scope: 'junction:manage' })),
        )
      ).status,
      401,
    );
    const expired = await sign({ scope: 'junction:manage' }, '-1m');
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(expired))).status, 401);
    const none = await sign({ scope: 'openid' });
    assert.equal((await request(bus.url, 'GET', '/rules', undefined, bearer(none))).status, 403);
    assert.equal((await request(bus.url, 'GET', '/rules')).status, 401, 'jwt configured: auth is on');
  });
});

describe('TLS: HTTPS with HTTP/2 and HTTP/1.1', () => {
  const dir = tempDir('junction-tls-');
  let bus: TestBus;
  let ca: Buffer;

  before(async () => {
    const tls = selfSignedCert(dir.path);
    ca = tls.cert;
    bus = await startTestBus({ tls });
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  test('serves HTTP/2 over TLS, with the Host check on :authority', async () => {
    assert.match(bus.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const session = connect(bus.url, { ca });
    try {
      const get = (path: string, authority?: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({
            ':path': path,
            ...(authority ? { ':authority': authority } : {}),
          });
          let status = 0;
          let body = '';
          stream.on('response', (h) => {
            status = Number(h[':status']);
          });
          stream.setEncoding('utf8');
          stream.on('data', (c: string) => (body += c));
          stream.on('end', () => resolve({ status, body }));
          stream.on('error', reject);
        });
      const health = await get('/healthz');
      assert.equal(health.status, 200, health.body);
      assert.equal(JSON.parse(health.body).status, 'ok');
      assert.equal((await get('/rules', 'attacker.example')).status, 421);
    } finally {
      session.close();
    }
  });

  test('serves HTTP/1.1 clients over TLS too', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${bus.url}/healthz`, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  });
});

describe('exposing a bus on a non-loopback address', () => {
  test('refuses to listen without a way to authenticate, in one clear line', async () => {
    const dir = tempDir('junction-exposed-');
    try {
      await assert.rejects(startTestBus({ host: '0.0.0.0', dataDir: dir.path }), (e: Error) =>
        /^refusing to listen on 0\.0\.0\.0 without authentication: create a key first/.test(e.message),
      );
      const refused = await cli(['dev', '--host', '0.0.0.0', '--port', '0', '--data-dir', dir.path]);
      assert.equal(refused.code, 2);
      await assert.rejects(startTestBus({ host: '0.0.0.0', dataDir: dir.path, auth: { required: false } }));
    } finally {
      dir.remove();
    }
  });

  test('listens once a key exists, and requires it', async () => {
    const dir = tempDir('junction-exposed-');
    const admin = await createKey(dir.path, 'admin', '--scope', 'manage');
    const bus = await startTestBus({ host: '0.0.0.0', dataDir: dir.path });
    try {
      const url = `http://127.0.0.1:${bus.port}`;
      assert.equal((await request(url, 'GET', '/rules')).status, 401);
      assert.equal((await request(url, 'GET', '/rules', undefined, bearer(admin))).status, 200);
      await cli(['keys', 'revoke', 'admin', '--data-dir', dir.path]);
      assert.equal((await request(url, 'GET', '/rules')).status, 401, 'never open on a public address');
    } finally {
      await bus.stop();
    }
  });
});
