/**
 * Issue #12, at the runner: what a function must not be able to do in the process sandbox (the default). Each
 * test fails with `isolation: 'thread'` (the old runner): run this file with JUNCTION_TEST_ISOLATION=thread to see.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createWorkerRunner, type WorkerRunner } from '../../../lib/adapters/workers/index.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import type { InvocationContext } from '../../../lib/ports.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';

const isolation = process.env.JUNCTION_TEST_ISOLATION === 'thread' ? 'thread' : 'process';
const root = process.getuid?.() === 0;
const text = (source: string): Uint8Array => new TextEncoder().encode(source);
let sequence = 0;

function ping(data: unknown = {}): CloudEvent {
  sequence += 1;
  return Object.freeze({
    specversion: '1.0',
    id: `s-${sequence}`,
    source: 'urn:test',
    type: 'ping',
    data,
  }) as CloudEvent;
}

function context(functionName: string): InvocationContext {
  return { functionName, rule: 'r', target: 't', idempotencyKey: 'k', attempt: 1 };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return error instanceof JunctionError ? error.code : `not a JunctionError: ${String(error)}`;
  }
}

/** A handler that tries `body` and answers `{ outcome: 'allowed' | <error code> }`. */
function attempt(body: string): Uint8Array {
  return text(
    `export async function handler(e) {\n  try {\n    ${body}\n    return { outcome: 'allowed' };\n  } catch (error) {\n    return { outcome: error.code ?? error.name, message: String(error.message).slice(0, 200) };\n  }\n}\n`,
  );
}

describe(`function sandbox (${isolation})`, () => {
  const dir = tempDir('junction-sec-');
  let runner: WorkerRunner;

  before(async () => {
    process.env.JUNCTION_SECRET_FOR_TEST = 'the-bus-secret';
    writeFileSync(join(dir.path, 'bus.sqlite'), 'the bus data');
    runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {}, isolation });
  });

  after(async () => {
    delete process.env.JUNCTION_SECRET_FOR_TEST;
    await runner.close();
    dir.remove();
  });

  async function outcome(name: string, body: string): Promise<{ outcome: string; message?: string }> {
    await runner.deploy(name, attempt(body));
    const result = await runner.invoke(name, ping(), context(name));
    return result.returned[0] as { outcome: string; message?: string };
  }

  test('denies reading /etc/passwd and the bus data files', async () => {
    assert.equal(
      (await outcome('passwd', 'await import("node:fs").then((fs) => fs.readFileSync("/etc/passwd"));'))
        .outcome,
      'ERR_ACCESS_DENIED',
    );
    const bus = JSON.stringify(join(dir.path, 'bus.sqlite'));
    assert.equal(
      (await outcome('bus-data', `(await import("node:fs")).readFileSync(${bus});`)).outcome,
      'ERR_ACCESS_DENIED',
    );
    assert.equal(
      (await outcome('write', '(await import("node:fs")).writeFileSync("/tmp/junction-sec-x", "x");'))
        .outcome,
      'ERR_ACCESS_DENIED',
    );
  });

  test('hands the function an empty environment', async () => {
    await runner.deploy('env', text('export const handler = () => ({ keys: Object.keys(process.env) });\n'));
    const result = await runner.invoke('env', ping(), context('env'));
    assert.deepEqual(result.returned, [{ keys: [] }]);
  });

  test('denies child processes, workers and native addons', async () => {
    assert.equal(
      (await outcome('exec', '(await import("node:child_process")).execSync("id");')).outcome,
      'ERR_ACCESS_DENIED',
    );
    assert.equal(
      (await outcome('worker', 'new (await import("node:worker_threads")).Worker("0", { eval: true });'))
        .outcome,
      'ERR_ACCESS_DENIED',
    );
    const addon = await outcome(
      'addon',
      'process.dlopen({ exports: {} }, "/usr/lib/x86_64-linux-gnu/libc.so.6");',
    );
    assert.ok(['ERR_DLOPEN_DISABLED', 'ERR_ACCESS_DENIED'].includes(addon.outcome), JSON.stringify(addon));
  });

  test('runs functions as nobody when the bus runs as root', {
    skip: !root && 'the bus is not root',
  }, async () => {
    await runner.deploy(
      'whoami',
      text('export const handler = () => ({ uid: process.getuid(), gid: process.getgid() });\n'),
    );
    assert.deepEqual((await runner.invoke('whoami', ping(), context('whoami'))).returned, [
      { uid: 65534, gid: 65534 },
    ]);
  });

  test('cannot signal the bus', async () => {
    const result = await outcome('kill-bus', `process.kill(${process.pid}, 0);`);
    assert.equal(result.outcome, 'EPERM');
  });

  test('a function that kills its own process fails with FunctionCrashed; the bus lives and serves the next call', async () => {
    const source =
      'export function handler(e) { if (e.data.die) process.kill(process.pid, "SIGKILL"); return { id: e.id }; }\n';
    await runner.deploy('suicide', text(source));
    assert.equal(
      await codeOf(runner.invoke('suicide', ping({ die: true }), context('suicide'))),
      'FunctionCrashed',
    );
    const input = ping({ die: false });
    assert.deepEqual((await runner.invoke('suicide', input, context('suicide'))).returned, [
      { id: input.id },
    ]);
    assert.equal(runner.stats().crashes, 1);
  });

  test('bounds off-heap memory: a 1 GiB Buffer in a 16 MB function fails with FunctionOutOfMemory', async () => {
    await runner.deploy(
      'big-buffer',
      text('export const handler = () => { Buffer.alloc(1024 ** 3, 1); return {}; };\n'),
      {
        memoryMb: 16,
      },
    );
    assert.equal(
      await codeOf(runner.invoke('big-buffer', ping(), context('big-buffer'))),
      'FunctionOutOfMemory',
    );
    const hoard =
      'const kept = [];\nexport const handler = () => { for (;;) kept.push(Buffer.alloc(16 * 1024 * 1024, 1)); };\n';
    await runner.deploy('buffer-hoard', text(hoard), { memoryMb: 16, timeoutMs: 20_000 });
    assert.equal(
      await codeOf(runner.invoke('buffer-hoard', ping(), context('buffer-hoard'))),
      'FunctionOutOfMemory',
    );
  });

  test('kills a call stuck in native code at its timeout and frees its slot', async () => {
    const stuck =
      'import { pbkdf2Sync } from "node:crypto";\nexport const handler = () => { pbkdf2Sync("x", "y", 2 ** 31 - 1, 64, "sha512"); return {}; };\n';
    await runner.deploy('native-stuck', text(stuck), { timeoutMs: 300 });
    for (let i = 0; i < 3; i++) {
      assert.equal(
        await codeOf(runner.invoke('native-stuck', ping(), context('native-stuck'))),
        'FunctionTimeout',
      );
    }
    await waitFor(
      () => (runner.stats().byFunction['native-stuck']?.workers ?? 1) === 0,
      'the stuck hosts to be gone',
    );
  });

  test('close() is not held up by a call stuck in native code', async () => {
    const other = tempDir('junction-sec-close-');
    const second = await createWorkerRunner({ dataDir: other.path, logger: () => {}, isolation });
    try {
      const stuck =
        'import { pbkdf2Sync } from "node:crypto";\nexport const handler = () => { pbkdf2Sync("x", "y", 2 ** 31 - 1, 64, "sha512"); return {}; };\n';
      await second.deploy('stuck', text(stuck), { timeoutMs: 900_000 });
      const call = codeOf(second.invoke('stuck', ping(), context('stuck')));
      await waitFor(() => second.stats().busy === 1, 'the call to run');
      await second.close();
      assert.notEqual(await call, 'resolved');
      assert.equal(second.stats().workers, 0);
    } finally {
      other.remove();
    }
  });

  test('reaches the network: Node 22 permissions do not restrict it (documented; network: false cuts it)', async () => {
    const server = createServer((_request, response) => response.end('the bus API'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const body = `const r = await fetch("http://127.0.0.1:${port}/"); if ((await r.text()) !== "the bus API") throw new Error("no");`;
      assert.equal((await outcome('net', body)).outcome, 'allowed');
    } finally {
      server.close();
    }
  });
});

describe('function sandbox without network', {
  skip: (!root || isolation === 'thread') && 'needs root (unshare --net)',
}, () => {
  test('cannot reach the bus on 127.0.0.1 with network: false', async () => {
    const server = createServer((_request, response) => response.end('the bus API'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = tempDir('junction-sec-net-');
    const runner = await createWorkerRunner({
      dataDir: dir.path,
      logger: () => {},
      sandbox: { network: false },
    });
    try {
      await runner.deploy('net', attempt(`await fetch("http://127.0.0.1:${port}/");`));
      const result = (await runner.invoke('net', ping(), context('net'))).returned[0] as { outcome: string };
      assert.notEqual(result.outcome, 'allowed');
    } finally {
      await runner.close();
      dir.remove();
      server.close();
    }
  });
});
