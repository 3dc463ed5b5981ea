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
import type { WireContext } from '../../../lib/adapters/workers/protocol.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { tempDir } from '../../helpers/paths.ts';

const dir = tempDir('junction-fw-');
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

before(async () => {
  entry = await loadWorkerEntry();
});
after(() => dir.remove());

function version(name: string, code: string, timeoutMs = 1000): FunctionVersion {
  const path = join(dir.path, `${name}.mjs`);
  writeFileSync(path, code);
  return {
    name,
    url: pathToFileURL(path).href,
    version: '1',
    timeoutMs,
    memoryMb: 32,
    loadTimeoutMs: timeoutMs,
  };
}

function start(fn: FunctionVersion, lines: string[] = []): { worker: FunctionWorker; exited: Promise<void> } {
  let onExit!: () => void;
  const exited = new Promise<void>((resolve) => {
    onExit = resolve;
  });
  const worker = new FunctionWorker(fn, entry, (_name, line) => lines.push(line), onExit);
  return { worker, exited };
}

test('loads a module, runs calls one after another and stays warm after a throw', async () => {
  const fn = version(
    'ok',
    'export function handler(e) { if (e.fail) throw new Error("no"); return [{ n: e.n }]; }\n',
  );
  const { worker, exited } = start(fn);
  await worker.ready;
  assert.deepEqual(await worker.invoke({ n: 1 }, CONTEXT, 1000, 1000), [{ n: 1 }]);
  await assert.rejects(worker.invoke({ fail: true }, CONTEXT, 1000, 1000), /function ok failed: no/);
  assert.deepEqual(await worker.invoke({ n: 2 }, CONTEXT, 1000, 1000), [{ n: 2 }]);
  worker.stop();
  await exited;
  assert.equal(worker.state, 'stopping');
});

test('rejects ready with InvalidFunction when the module has no handler', async () => {
  const { worker, exited } = start(version('none', 'export const other = 1;\n'));
  await assert.rejects(worker.ready, (error: unknown) => {
    return (
      error instanceof JunctionError &&
      error.code === 'InvalidFunction' &&
      /exports: other/.test(error.message)
    );
  });
  await exited;
});

test('rejects ready with FunctionTimeout when the module does not load in time', async () => {
  const { worker, exited } = start(
    version('spin', 'while (true) {}\nexport const handler = () => {};\n', 150),
  );
  await assert.rejects(worker.ready, (error: unknown) => {
    return (
      error instanceof JunctionError &&
      error.code === 'FunctionTimeout' &&
      /did not load within 150 ms/.test(error.message)
    );
  });
  await exited;
});

test('terminates the thread when a call runs out of time and names the limit', async () => {
  const { worker, exited } = start(version('hang', 'export const handler = () => new Promise(() => {});\n'));
  await worker.ready;
  await assert.rejects(worker.invoke({}, CONTEXT, 100, 2500), (error: unknown) => {
    return (
      error instanceof JunctionError &&
      error.code === 'FunctionTimeout' &&
      /within 2500 ms/.test(error.message)
    );
  });
  await exited;
});

test('forwards what the module prints, line by line', async () => {
  const lines: string[] = [];
  const { worker, exited } = start(
    version('print', 'export function handler() { process.stdout.write("a\\nb"); console.log("c"); }\n'),
    lines,
  );
  await worker.ready;
  await worker.invoke({}, CONTEXT, 1000, 1000);
  worker.stop();
  await exited;
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(lines, ['a', 'bc']);
});
