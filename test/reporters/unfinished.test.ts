/**
 * test/reporters/unfinished.ts, the reporter `npm test` adds beside `spec`, run by Node's runner on fixture files: it
 * names a test that keeps running, and the test a file was in when its process died. The stuck test waits for the
 * reporter's "still running" line (this test answers it with a marker file), so nothing here depends on speed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';

const REPORTER = fileURLToPath(new URL('./unfinished.ts', import.meta.url));
const dir = tempDir('junction-reporter-');
after(() => dir.remove());

/** Node's runner on `file` with `spec` (stdout) and the reporter (stderr); answers the process and its output so far. */
function runTests(
  file: string,
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: { stdout: string; stderr: string }; exit: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [
      '--test',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${REPORTER}`,
      '--test-reporter-destination=stderr',
      // A deadline for a broken reporter (the stuck test would wait for ever): the file fails instead.
      '--test-timeout=120000',
      file,
    ],
    { cwd: dir.path, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk: Buffer) => {
    output.stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output.stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, output, exit };
}

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.JUNCTION_TEST_SLOW_REPORT_MS;
  delete env.NODE_TEST_CONTEXT;
  return env;
}

test('names a test that keeps running, then the test its file was in when the file died', async () => {
  const marker = join(dir.path, 'reported');
  const file = join(dir.path, 'stuck.test.mjs');
  writeFileSync(
    file,
    `import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
describe('outer', () => {
  test('quick', () => {});
  test('stuck', async () => {
    await new Promise((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(${JSON.stringify(marker)})) { clearInterval(poll); resolve(); }
      }, 20);
    });
    process.exit(7);
  });
});
`,
  );
  const run = runTests(file, { ...baseEnv(), JUNCTION_TEST_SLOW_REPORT_MS: '300' });
  try {
    await waitFor(
      () => run.output.stderr.includes('test: still running after'),
      'the reporter to say a test is still running',
      60_000,
    );
    writeFileSync(marker, '');
    const code = await run.exit;
    assert.equal(code, 1, run.output.stdout + run.output.stderr);
  } finally {
    run.child.kill();
  }
  const lines = run.output.stderr.split('\n');
  const slow = lines.filter((line) => line.startsWith('test: still running after'));
  assert.ok(slow.length > 0, run.output.stderr);
  for (const line of slow) assert.match(line, /: stuck\.test\.mjs › outer › stuck$/);
  const ended = lines.findIndex((line) => line.startsWith('test: stuck.test.mjs ended while'));
  assert.ok(ended >= 0, run.output.stderr);
  assert.match(lines[ended] as string, /ended while a test was still running/);
  assert.match(
    lines[ended + 1] as string,
    /^ {2}stuck\.test\.mjs › outer › stuck \(running for [\d.]+ (s|min)\)$/,
  );
  assert.doesNotMatch(run.output.stderr, /quick/, 'a test that ended is never named');
});

test('says nothing about a file whose tests all end', async () => {
  const file = join(dir.path, 'fine.test.mjs');
  writeFileSync(
    file,
    `import { describe, test } from 'node:test';
describe('outer', () => {
  test('one', () => {});
  test('two', async () => { await new Promise((resolve) => setTimeout(resolve, 50)); });
});
test('three', () => {});
`,
  );
  const run = runTests(file, baseEnv());
  const code = await run.exit;
  assert.equal(code, 0, run.output.stdout + run.output.stderr);
  assert.match(run.output.stdout, /✔ three/);
  assert.doesNotMatch(run.output.stderr, /^test:/m, run.output.stderr);
});
