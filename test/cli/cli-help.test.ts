/** The CLI's help (top, per group, per command), --version, the time forms, and docs/api.md covering every flag. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cliCommands, EXIT, parseCliTime } from '../../lib/cli/cli.ts';
import { cli } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/paths.ts';

describe('junction help', () => {
  test('lists every command, from help, --help and -h, on stdout with exit 0', async () => {
    for (const args of [['help'], ['--help'], ['-h']]) {
      const run = await cli(args);
      assert.equal(run.code, EXIT.ok);
      assert.equal(run.err, '');
      for (const { name } of cliCommands()) assert.match(run.out, new RegExp(`\\n  ${name}\\b`), name);
      assert.match(run.out, /Exit codes: 0 ok, 1 the bus answered with an error, 2 usage error/);
      assert.match(run.out, /npm run -s junction -- <command>/);
    }
    const bare = await cli([]);
    assert.equal(bare.code, EXIT.usage, 'no command is a usage error');
    assert.match(bare.out, /^junction — an open event bus/);
  });

  test('shows each command its usage and every one of its flags', async () => {
    for (const { name, flags } of cliCommands()) {
      const words = name.split(' ');
      const run = await cli([...words, '--help']);
      assert.equal(run.code, EXIT.ok, `${name}: ${run.err}`);
      assert.match(run.out, new RegExp(`^Usage: junction ${name}\\b`));
      for (const flag of flags) assert.match(run.out, new RegExp(`\\n  ${flag}\\b`), `${name} ${flag}`);
      if (name !== 'dev') assert.match(run.out, /--url URL/);
      assert.equal((await cli(['help', ...words])).out, run.out, `junction help ${name}`);
    }
  });

  test('shows a group its subcommands', async () => {
    const run = await cli(['deliveries', '--help']);
    assert.equal(run.code, EXIT.ok);
    assert.match(run.out, /junction deliveries list \[--state pending\|in-flight\]/);
    assert.match(run.out, /junction deliveries retry \(--all \| --rule R \[--target T\]\)/);
    assert.match((await cli(['help', 'replay'])).out, /junction replay status NAME/);
  });

  test('prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    const run = await cli(['--version']);
    assert.equal(run.code, EXIT.ok);
    assert.equal(run.out, `junction ${version}\n`);
    assert.deepEqual(JSON.parse((await cli(['--version', '--json'])).out), { version });
  });

  test('docs/api.md documents every command and flag', () => {
    const docs = readFileSync(join(repoRoot, 'docs', 'api.md'), 'utf8');
    const cliSection = docs.slice(docs.indexOf('## CLI'));
    for (const { name, flags } of cliCommands()) {
      assert.ok(cliSection.includes(`junction ${name}`), `junction ${name}`);
      for (const flag of flags) assert.ok(cliSection.includes(flag), `${name} ${flag}`);
    }
    for (const flag of ['--url', '--json', '--help', '--version']) assert.ok(cliSection.includes(flag), flag);
  });
});

describe('times for --from and --to', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  const cases: Array<[string, number]> = [
    ['now', now],
    ['-1h', now - 3_600_000],
    ['-30m', now - 1_800_000],
    ['-45s', now - 45_000],
    ['-2d', now - 2 * 86_400_000],
    ['-1w', now - 7 * 86_400_000],
    ['-250ms', now - 250],
    ['1700000000000', 1_700_000_000_000],
    ['2026-05-01T10:00:00Z', Date.parse('2026-05-01T10:00:00Z')],
    ['2026-05-01T10:00:00.5+02:00', Date.parse('2026-05-01T08:00:00.5Z')],
    ['2026-05-01', Date.parse('2026-05-01T00:00:00Z')],
  ];
  for (const [text, expected] of cases) {
    test(`reads ${text}`, () => assert.equal(parseCliTime(text, '--from', now), expected));
  }
  for (const bad of ['yesterday', '1h', '-1y', '2026-05-01T10:00:00', '2026-13-01', '', '-h']) {
    test(`refuses "${bad}", naming the flag`, () =>
      assert.throws(
        () => parseCliTime(bad, '--to', now),
        /^Error: --to must be now, a relative time like -1h/,
      ));
  }
});
