/** The embedded bus as `junction dev` runs it: one bus per data dir, owner-only files, SSRF at PUT, redaction. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openOfflineKeys } from '../../lib/cli/keys.ts';
import { LOCK_FILE } from '../../lib/server/data-dir-lock.ts';
import { startEmbedded } from '../../lib/server/embedded.ts';
import { request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';

const quiet = { port: 0, pollMs: 50, onError: () => {}, functionLog: () => {} };

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

describe('one bus per data directory', () => {
  it('refuses a second bus on the same data dir with a clear message, and starts once the first stopped', async () => {
    const dir = tempDir();
    const first = await startEmbedded({ ...quiet, dataDir: dir.path });
    try {
      await assert.rejects(
        startEmbedded({ ...quiet, dataDir: dir.path }),
        (error: Error & { field?: string }) => {
          assert.equal(error.field, 'dataDir');
          assert.match(
            error.message,
            new RegExp(`another bus \\(pid ${process.pid}, this process\\) is using the data directory`),
          );
          return true;
        },
      );
      assert.equal((await request(first.url, 'GET', '/healthz')).status, 200);
    } finally {
      await first.close();
    }
    const second = await startEmbedded({ ...quiet, dataDir: dir.path });
    await second.close();
    dir.remove();
  });

  it('takes over the lock of a bus that died', async () => {
    const dir = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid as number;
    writeFileSync(join(dir.path, LOCK_FILE), `${dead}\n`);
    const bus = await startEmbedded({ ...quiet, dataDir: dir.path });
    assert.equal(statSync(join(dir.path, LOCK_FILE)).isFile(), true);
    await bus.close();
    assert.equal(readdirSync(dir.path).includes(LOCK_FILE), false, 'the lock is removed on close');
    dir.remove();
  });

  it('releases the lock when it cannot start (port in use)', async () => {
    const dir = tempDir();
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    await assert.rejects(startEmbedded({ ...quiet, port, dataDir: dir.path }), {
      message: `port ${port} is in use — stop the other process or pass --port N`,
    });
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const bus = await startEmbedded({ ...quiet, dataDir: dir.path });
    await bus.close();
    dir.remove();
  });
});

describe('the data directory is the owner’s only', () => {
  it('creates the dir 0700 and the database, WAL, SHM and function bundles 0600', async () => {
    const parent = tempDir();
    const dataDir = join(parent.path, 'data');
    const bus = await startEmbedded({ ...quiet, dataDir });
    try {
      const deployed = await request(bus.url, 'PUT', '/functions/noop', 'export async function handler() {}');
      assert.equal(deployed.status, 200);
      assert.equal(mode(dataDir), '700');
      const files = readdirSync(dataDir);
      for (const name of ['junction.db', 'junction.db-wal', 'junction.db-shm']) {
        assert.ok(files.includes(name), name);
        assert.equal(mode(join(dataDir, name)), '600', name);
      }
      assert.equal(mode(join(dataDir, 'functions')), '700');
      const bundles = readdirSync(join(dataDir, 'functions'));
      assert.ok(bundles.length >= 2);
      for (const name of bundles) assert.equal(mode(join(dataDir, 'functions', name)), '600', name);
    } finally {
      await bus.close();
      parent.remove();
    }
  });
});

describe('HTTP targets on the embedded bus', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
  });
  after(() => bus.stop());

  it('refuses a rule whose target is a literal refused address, naming the field', async () => {
    for (const url of [
      'http://169.254.169.254/latest',
      'http://10.0.0.1/x',
      'http://[::]/x',
      'http://0xa000001/',
    ]) {
      const res = await request(bus.url, 'PUT', '/rules/ssrf', {
        pattern: { type: ['x'] },
        targets: [{ id: 't', type: 'http', url }],
      });
      assert.equal(res.status, 400, url);
      assert.equal(res.body.error.code, 'InvalidRule');
      assert.equal(res.body.error.field, 'targets[0].url');
      assert.match(res.body.error.message, /address, which HTTP targets may not reach/);
    }
    const loopback = await request(bus.url, 'PUT', '/rules/ssrf', {
      pattern: { type: ['x'] },
      targets: [{ id: 't', type: 'http', url: 'http://127.0.0.1:9/x' }],
    });
    assert.equal(loopback.status, 201, 'loopback is allowed: the bus listens on loopback');
  });

  it('refuses loopback targets when the bus listens beyond loopback', async () => {
    // A bus beyond loopback needs a credential (docs/security.md): create one offline in its data dir first.
    const dir = tempDir('junction-exposed-');
    const keys = await openOfflineKeys(dir.path);
    const { key } = await keys.create({ name: 'admin', scope: 'manage' });
    await keys.close();
    const open = await startTestBus({ host: '0.0.0.0', dataDir: dir.path });
    try {
      const url = open.url.replace('0.0.0.0', '127.0.0.1');
      const res = await request(
        url,
        'PUT',
        '/rules/local',
        { pattern: { type: ['x'] }, targets: [{ id: 't', type: 'http', url: 'http://127.0.0.1:9/x' }] },
        { authorization: `Bearer ${key}` },
      );
      assert.equal(res.status, 400);
      assert.match(res.body.error.message, /127\.0\.0\.1 is a loopback address/);
    } finally {
      await open.stop();
      dir.remove();
    }
  });

  it('allows what httpTargets.allow lists', async () => {
    const other = await startTestBus({ httpTargets: { allow: ['10.0.0.0/8'] } });
    try {
      const res = await request(other.url, 'PUT', '/rules/intranet', {
        pattern: { type: ['x'] },
        targets: [{ id: 't', type: 'http', url: 'http://10.1.2.3/x' }],
      });
      assert.equal(res.status, 201);
    } finally {
      await other.stop();
    }
  });

  it('shows configured header values as *** on every read, delivers the real ones, and keeps them on a PUT of ***', async () => {
    const target = await startHttpTarget();
    try {
      const rule = {
        pattern: { type: ['secret.test'] },
        targets: [
          {
            id: 'hook',
            type: 'http',
            url: `${target.url}/hook`,
            headers: { Authorization: 'Bearer s3cret' },
          },
        ],
      };
      const put = await request(bus.url, 'PUT', '/rules/secret', rule);
      assert.equal(put.status, 201);
      assert.deepEqual(put.body.targets[0].headers, { Authorization: '***' });
      const one = await request(bus.url, 'GET', '/rules/secret');
      assert.deepEqual(one.body.targets[0].headers, { Authorization: '***' });
      const all = await request(bus.url, 'GET', '/rules');
      const listed = all.body.rules.find((r: { name: string }) => r.name === 'secret');
      assert.deepEqual(listed.targets[0].headers, { Authorization: '***' });
      assert.equal(JSON.stringify(all.body).includes('s3cret'), false);

      // The rule read back (with ***) and PUT again keeps the stored secret.
      const { createdAt: _c, updatedAt: _u, name: _n, ...readBack } = one.body;
      assert.equal((await request(bus.url, 'PUT', '/rules/secret', readBack)).status, 200);
      await request(bus.url, 'POST', '/events', '{}', {
        'ce-specversion': '1.0',
        'ce-id': 'sec-1',
        'ce-source': '/s',
        'ce-type': 'secret.test',
        'content-type': 'application/json',
      });
      await waitFor(() => target.received.length === 1, 'the delivery');
      assert.equal(target.received[0]?.headers.authorization, 'Bearer s3cret');
      const trace = await traceOf(bus, 'sec-1', '/s');
      assert.equal(JSON.stringify(trace).includes('s3cret'), false);

      // *** where nothing is stored is refused: it would be sent as is.
      const bad = await request(bus.url, 'PUT', '/rules/secret', {
        ...rule,
        targets: [{ ...rule.targets[0], headers: { 'X-Api-Key': '***' } }],
      });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, 'targets[0].headers.X-Api-Key');
    } finally {
      await target.close();
    }
  });

  it('keeps the error page in the trace (capped) but not in the dead letter, unless the target asks', async () => {
    const page = `<html><body>${'<p>Error code 501: Unsupported method</p>'.repeat(100)}</body></html>`;
    const target = await startHttpTarget(() => ({
      status: 501,
      headers: { 'content-type': 'text/html' },
      body: page,
    }));
    try {
      const retry = {
        maxAttempts: 2,
        maxAgeSeconds: 60,
        backoff: { initialMs: 10, maxMs: 10, jitter: false },
      };
      await request(bus.url, 'PUT', '/rules/page', {
        pattern: { type: ['page.test'] },
        targets: [
          { id: 'plain', type: 'http', url: `${target.url}/a`, retry },
          { id: 'keeps', type: 'http', url: `${target.url}/b`, retry, keepResponseBody: true },
        ],
      });
      await request(bus.url, 'POST', '/events', '{}', {
        'ce-specversion': '1.0',
        'ce-id': 'page-1',
        'ce-source': '/s',
        'ce-type': 'page.test',
        'content-type': 'application/json',
      });
      let letters: Array<{
        target: string;
        attempts: Array<{
          status: number;
          error: string;
          response?: { headers: Record<string, string>; body?: string };
        }>;
      }> = [];
      await waitFor(async () => {
        letters = (await request(bus.url, 'GET', '/dead-letters?rule=page')).body.deadLetters ?? [];
        return letters.length === 2;
      }, 'two dead letters');
      const plain = letters.find((l) => l.target === 'plain');
      const keeps = letters.find((l) => l.target === 'keeps');
      assert.equal(plain?.attempts.length, 2);
      for (const attempt of plain?.attempts ?? []) {
        assert.equal(attempt.status, 501);
        assert.equal(attempt.response?.headers['content-type'], 'text/html');
        assert.equal(attempt.response?.body, undefined);
        assert.equal(attempt.error.includes('<html>'), false);
      }
      assert.equal(keeps?.attempts[0]?.response?.body, page.slice(0, 256));
      const trace = await traceOf(bus, 'page-1', '/s');
      const attempts = trace.filter((e) => e.kind === 'attempt');
      assert.equal(attempts.length, 4);
      for (const entry of attempts) {
        assert.equal(entry.detail.response.body.length, 256);
        assert.equal(entry.detail.response.bodyTruncated, true);
      }
    } finally {
      await target.close();
    }
  });
});
