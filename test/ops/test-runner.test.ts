/** `npm test` itself (test/run.ts): a file that never exits fails, named, instead of holding the run for ever. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

test('a test file whose process never exits fails by name after the per-file timeout', async () => {
  // NODE_TEST_CONTEXT tells a runner it runs inside a test file, where it refuses to run files.
  const { NODE_TEST_CONTEXT: _inside, ...env } = process.env;
  const child = spawn(process.execPath, ['test/run.ts', 'test/fixtures/runner/passes-then-hangs.ts'], {
    env: { ...env, JUNCTION_TEST_FILE_TIMEOUT_MS: '5000', CI: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  // Without the timeout the child would never exit: this test's deadline is what fails it then.
  const deadline = setTimeout(() => child.kill('SIGKILL'), 180_000);
  const code = await new Promise<number | null>((resolve) =>
    child.on('exit', (exitCode) => resolve(exitCode)),
  );
  clearTimeout(deadline);
  assert.notEqual(code, null, `test/run.ts did not exit within 180 s (killed):\n${output}`);
  assert.notEqual(code, 0, `a file that never exits must fail the run:\n${output}`);
  assert.match(output, /passes-then-hangs\.ts/);
  assert.match(output, /timed out after 5000ms/);
});
