/** The auth layer around an App: CORS for allowed origins, the key cache and its invalidation, 401 headers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteCredentialStore } from '../../lib/adapters/sqlite/credential-store.ts';
import type { CredentialStore } from '../../lib/ports.ts';
import type { ApiRequest } from '../../lib/server/app.ts';
import { createAuthLayer } from '../../lib/server/auth.ts';
import { createCredential, SecretBox } from '../../lib/server/auth-keys.ts';
import { openHarness } from '../adapters/sqlite/harness.ts';

function req(method: string, path: string, headers: Record<string, string> = {}): ApiRequest {
  return {
    method,
    path,
    query: new URLSearchParams(),
    headers: { host: '127.0.0.1:8080', ...headers },
    body: new Uint8Array(),
  };
}

async function withLayer(
  run: (h: {
    store: CredentialStore;
    other: CredentialStore;
    finds: () => number;
    versions: () => number;
    layer: ReturnType<typeof createAuthLayer>;
  }) => Promise<void>,
  allowedOrigins: string[] = [],
): Promise<void> {
  const h = openHarness();
  try {
    const real = new SqliteCredentialStore(h.stores.database);
    let finds = 0;
    let versions = 0;
    const store: CredentialStore = {
      create: (c) => real.create(c),
      find: (lookup) => {
        finds++;
        return real.find(lookup);
      },
      list: (limit) => real.list(limit),
      revoke: (name) => real.revoke(name),
      count: () => real.count(),
      version: () => {
        versions++;
        return real.version();
      },
      appendAudit: (entry) => real.appendAudit(entry),
      listAudit: (options) => real.listAudit(options),
    };
    const layer = createAuthLayer({
      app: async () => ({ status: 200, headers: {}, body: 'ok' }),
      store,
      secrets: () => SecretBox.open(h.dataDir),
      host: '127.0.0.1',
      port: () => 8080,
      allowedOrigins,
    });
    await run({
      store,
      other: new SqliteCredentialStore(h.reopen().database),
      finds: () => finds,
      versions: () => versions,
      layer,
    });
  } finally {
    await h.cleanup();
  }
}

test('answers preflights and CORS headers for allowed origins only', () =>
  withLayer(
    async ({ layer }) => {
      const pre = await layer.app(req('OPTIONS', '/rules', { origin: 'https://console.example' }));
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://console.example');
      assert.match(pre.headers['access-control-allow-headers'] ?? '', /authorization/);
      const get = await layer.app(req('GET', '/rules', { origin: 'https://console.example' }));
      assert.equal(get.headers['access-control-allow-origin'], 'https://console.example');
      const other = await layer.app(req('OPTIONS', '/rules', { origin: 'https://attacker.example' }));
      assert.equal(other.status, 403);
      assert.equal(other.headers['access-control-allow-origin'], undefined);
    },
    ['https://console.example'],
  ));

test('looks a key up once, then from memory, until any process creates or revokes a credential', () =>
  withLayer(async ({ store, other, finds, layer }) => {
    const { key } = await createCredential(store, () => assert.fail(), { name: 'r', scope: 'read' }, 1);
    const auth = { authorization: `Bearer ${key}` };
    assert.equal((await layer.app(req('GET', '/rules', auth))).status, 200);
    assert.equal((await layer.app(req('GET', '/rules', auth))).status, 200);
    assert.equal(finds(), 1, 'the second request is served from the cache');
    assert.equal(await other.revoke('r'), true, 'revoked through another connection');
    const refused = await layer.app(req('GET', '/rules', auth));
    assert.equal(refused.status, 401);
    assert.match(refused.headers['www-authenticate'] ?? '', /^Bearer/);
    assert.equal(await layer.required(), true, 'revoking the last key does not reopen the bus');
  }));

test('reads the credential version once per event-loop turn, and again after a revoke through the API', () =>
  withLayer(async ({ store, other, versions, layer }) => {
    const { key } = await createCredential(store, () => assert.fail(), { name: 'm', scope: 'manage' }, 1);
    const auth = { authorization: `Bearer ${key}` };
    const first = await Promise.all(Array.from({ length: 5 }, () => layer.app(req('GET', '/rules'))));
    assert.deepEqual(
      first.map((a) => a.status),
      [401, 401, 401, 401, 401],
      'requests that arrive while the first version read is under way wait for it',
    );
    await new Promise((resolve) => setImmediate(resolve));
    const before = versions();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => layer.app(req('GET', '/rules', auth))),
    );
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
    assert.equal(versions() - before, 1, 'twenty requests in one turn read the version once');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await layer.app(req('GET', '/rules', auth))).status, 200);
    assert.equal(versions() - before, 2, 'a later turn reads it again');
    await createCredential(other, () => assert.fail(), { name: 'x', scope: 'read' }, 2);
    const { key: temp } = await createCredential(store, () => assert.fail(), { name: 't', scope: 'read' }, 3);
    await new Promise((resolve) => setImmediate(resolve));
    const tempAuth = { authorization: `Bearer ${temp}` };
    assert.equal((await layer.app(req('GET', '/rules', tempAuth))).status, 200);
    const revoked = await layer.app(req('DELETE', '/keys/t', auth));
    assert.equal(revoked.status, 204);
    assert.equal(
      (await layer.app(req('GET', '/rules', tempAuth))).status,
      401,
      'refused on the next request',
    );
  }));

test('runs open on loopback while no credential exists', () =>
  withLayer(async ({ layer }) => {
    assert.equal(await layer.required(), false);
    assert.equal(
      (await layer.app(req('PUT', '/rules/x', { 'content-type': 'application/json' }))).status,
      200,
    );
  }));
