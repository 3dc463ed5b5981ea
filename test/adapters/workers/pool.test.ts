import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  type FunctionVersion,
  FunctionWorker,
  loadWorkerEntry,
} from '../../../lib/adapters/workers/function-worker.ts';
import { type StartWorker, WorkerPool } from '../../../lib/adapters/workers/pool.ts';
import type { WireContext } from '../../../lib/adapters/workers/protocol.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';

const dir = tempDir('junction-pool-');
let entry: URL;
const CONTEXT: WireContext = {
  functionName: 'f',
  rule: 'r',
  target: 't',
  idempotencyKey: 'k',
  attempt: 1,
  possibleDuplicate: false,
  deadline: 0,
};
const TAGGED = (tag: string): string =>
  `export async function handler(e) { await new Promise((r) => setTimeout(r, e.ms ?? 0)); return { tag: "${tag}" }; }\n`;

before(async () => {
  entry = await loadWorkerEntry();
});
after(() => dir.remove());

function version(name: string, tag: string): FunctionVersion {
  const path = join(dir.path, `${name}-${tag}.mjs`);
  writeFileSync(path, TAGGED(tag));
  return {
    name,
    url: pathToFileURL(path).href,
    version: tag,
    timeoutMs: 2000,
    memoryMb: 32,
    loadTimeoutMs: 10_000,
  };
}

function pool(maxWorkersPerFunction = 2, maxWorkers = 8): WorkerPool {
  const start: StartWorker = (fn, log, onExit) => new FunctionWorker(fn, entry, log, onExit);
  return new WorkerPool({ start, maxWorkersPerFunction, maxWorkers, idleTimeoutMs: 60_000, log: () => {} });
}

test('answers NotFound for a function it does not know', async () => {
  const workers = pool();
  await assert.rejects(workers.invoke('nope', {}, CONTEXT), (error: unknown) => {
    return error instanceof JunctionError && error.code === 'NotFound';
  });
  await workers.close();
});

test('queues calls beyond the per-function cap and runs them all', async () => {
  const workers = pool(1);
  workers.setVersion(version('f', 'v1'));
  const calls = Array.from({ length: 5 }, () => workers.invoke('f', { ms: 10 }, CONTEXT));
  await waitFor(() => workers.stats().queued === 4, 'four queued calls', 5000);
  assert.deepEqual(
    await Promise.all(calls),
    Array.from({ length: 5 }, () => [{ tag: 'v1' }]),
  );
  assert.equal(workers.stats().started, 1);
  await workers.close();
});

test('stops idle workers of an old version when a new one is set', async () => {
  const workers = pool();
  workers.setVersion(version('f', 'v1'));
  assert.deepEqual(await workers.invoke('f', {}, CONTEXT), [{ tag: 'v1' }]);
  workers.setVersion(version('f', 'v2'));
  assert.deepEqual(await workers.invoke('f', {}, CONTEXT), [{ tag: 'v2' }]);
  await waitFor(() => workers.stats().workers === 1, 'the v1 worker to go', 5000);
  await workers.close();
});

test('rejects queued calls of a removed function with NotFound', async () => {
  const workers = pool(1);
  workers.setVersion(version('f', 'v1'));
  const running = workers.invoke('f', { ms: 5000 }, CONTEXT).catch((error: unknown) => error);
  const queued = workers.invoke('f', {}, CONTEXT).catch((error: unknown) => error);
  await waitFor(() => workers.stats().queued === 1, 'a queued call', 5000);
  workers.remove('f');
  assert.equal(((await queued) as JunctionError).code, 'NotFound');
  assert.match(((await running) as JunctionError).message, /was deleted while it ran/);
  await workers.close();
});

test('probes a version without adding a worker to the pool', async () => {
  const workers = pool();
  await workers.probe(version('p', 'v1'));
  assert.equal(workers.stats().workers, 0);
  assert.equal(workers.stats().started, 0);
  await workers.close();
});
