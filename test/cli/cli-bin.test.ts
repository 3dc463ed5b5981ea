/** bin/junction.ts as a process, run through its shebang: clean stdout for pipes, one line on stderr, exit codes. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { deadUrl } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';

/** Runs bin/junction.ts as an executable, with the project's node (node_modules/.bin) first on the PATH. */
function junction(args: string[], stdin = ''): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot, 'bin', 'junction.ts'), args, {
      env: {
        ...process.env,
        PATH: [join(repoRoot, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin);
  });
}

describe('bin/junction.ts', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(() => bus.stop());

  test('runs through its shebang, with nothing but the answer on stdout and nothing on stderr', async () => {
    const run = await junction(['--version']);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.match(run.out, /^junction \d+\.\d+\.\d+\n$/);
    assert.equal(run.err, '', 'no warnings (type stripping) on stderr');
  });

  test('reads - from its standard input and prints --json that parses', async () => {
    const events = [{ specversion: '1.0', id: 'bin-1', source: '/bin', type: 'bin.test' }];
    const put = await junction(['put', '--file', '-', '--json', '--url', bus.url], JSON.stringify(events));
    assert.equal(put.code, EXIT.ok, put.err);
    assert.equal(JSON.parse(put.out).accepted, 1);
    const rules = await junction(['rules', 'list', '--json', '--url', bus.url]);
    assert.deepEqual(JSON.parse(rules.out), { rules: [] });
  });

  test('ends a missing file, a usage error and an unreachable bus with one line and the exit code', async () => {
    const down = await deadUrl();
    for (const [args, code] of [
      [['rules', 'put', 'x', '/nonexistent.json', '--url', bus.url], EXIT.usage],
      [['dead-letters', 'list', '--limit', 'x', '--url', bus.url], EXIT.usage],
      [['rules', 'get', 'nope', '--url', bus.url], EXIT.apiError],
      [['rules', 'list', '--url', down], EXIT.unreachable],
    ] as const) {
      const run = await junction([...args]);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.err}`);
      assert.equal(run.out, '');
      assert.equal(run.err.split('\n').length, 2, `one line: ${run.err}`);
      assert.doesNotMatch(run.err, /\n\s+at /);
    }
  });
});
