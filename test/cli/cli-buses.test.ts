/**
 * The CLI and named buses (issue #13) against a running bus: `junction buses list|get|put|delete`, the global `--bus`
 * flag (and $JUNCTION_BUS) sending a bus's commands to `/buses/NAME/…`, `keys create --bus`, and the example of
 * docs/security.md ("Buses in scopes") run line by line.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { fences } from '../helpers/doc-examples.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { freePort } from '../helpers/net.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';

describe('junction buses and --bus', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  const dir = tempDir('junction-cli-buses-');
  let url: string[];

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    sink = await startHttpTarget();
    url = ['--url', bus.url];
  });
  after(async () => {
    await bus.stop();
    await sink.close();
    dir.remove();
  });

  test('buses put creates a bus, then replaces its settings', async () => {
    const created = await cli([
      'buses',
      'put',
      'orders',
      '--quota',
      '500',
      '--quota-burst',
      '1000',
      '--retention',
      '3d',
      '--description',
      'shop orders',
      ...url,
    ]);
    assert.equal(created.code, EXIT.ok, created.err);
    assert.match(created.out, /^created bus orders — use it with --bus orders/);
    assert.match(created.out, /\n\s*quota\s+500\/s \(burst 1000\)\n/);
    assert.match(created.out, /\n\s*retention\s+3d\n/);
    assert.match(created.out, /\n\s*description\s+shop orders\n/);
    assert.equal((await request(bus.url, 'GET', '/buses/orders')).body.retentionMs, 3 * 86_400_000);

    const updated = await cli(['buses', 'put', 'orders', '--dedup-window', '2h', '--json', ...url]);
    assert.equal(updated.code, EXIT.ok, updated.err);
    const body = JSON.parse(updated.out);
    assert.equal(body.name, 'orders');
    assert.equal(body.dedupWindowMs, 7_200_000);
    assert.equal(body.quota, undefined, 'put replaces the settings: the quota not given is gone');
    const again = await cli(['buses', 'put', 'orders', '--quota', '50', ...url]);
    assert.match(again.out, /^updated bus orders/);
    assert.match(again.out, /\n\s*isolation\s+shared \(in the deployment's process\)\n/);
  });

  test('buses put --isolation process moves a bus into a process of its own, and back', async () => {
    const port = await freePort();
    const isolated = await cli([
      'buses',
      'put',
      'solo',
      '--isolation',
      'process',
      '--endpoint-port',
      String(port),
      ...url,
    ]);
    assert.equal(isolated.code, EXIT.ok, isolated.err);
    assert.match(
      isolated.out,
      new RegExp(
        `\\n\\s*isolation\\s+process \\(running, pid \\d+\\), endpoint http://127\\.0\\.0\\.1:${port}\\n`,
      ),
    );
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const listed = await cli(['buses', 'list', ...url]);
    assert.match(listed.out, /\nsolo\s+process\s/);
    const niced = await cli(['buses', 'put', 'solo', '--isolation', 'process', '--nice', '5', ...url]);
    assert.equal(niced.code, EXIT.ok, niced.err);
    assert.match(niced.out, /\n\s*nice\s+5\n/);
    const idle = await cli(['buses', 'put', 'solo', '--isolation', 'process', '--nice', 'idle', ...url]);
    assert.equal(idle.code, EXIT.ok, idle.err);
    assert.match(idle.out, /\n\s*nice\s+idle\n/);
    const back = await cli(['buses', 'put', 'solo', '--isolation', 'shared', '--json', ...url]);
    assert.equal(JSON.parse(back.out).process, undefined);
    assert.equal((await cli(['buses', 'delete', 'solo', ...url])).code, EXIT.ok);
  });

  test("buses list and get are readable, and --json is the bus's answer", async () => {
    const listed = await cli(['buses', 'list', ...url]);
    assert.equal(listed.code, EXIT.ok, listed.err);
    const lines = listed.out.trim().split('\n');
    assert.match(
      lines[0] ?? '',
      /^NAME\s+ISOLATION\s+QUOTA\s+PER SOURCE\s+RETENTION\s+DEDUP\s+ACCEPTS FROM\s+DESCRIPTION$/,
    );
    assert.match(lines[1] ?? '', /^default\s+shared\s/);
    assert.match(lines[2] ?? '', /^orders\s+shared\s+50\/s\s/);
    const json = JSON.parse((await cli(['buses', 'list', '--json', ...url])).out);
    assert.deepEqual(
      json.buses.map((b: { name: string }) => b.name),
      ['default', 'orders'],
    );
    const got = await cli(['buses', 'get', 'orders', ...url]);
    assert.equal(got.code, EXIT.ok, got.err);
    assert.match(got.out, /arn\s+arn:aws:events:us-east-1:000000000000:event-bus\/orders/);
    assert.match(got.out, /accepts from\s+none/);
    const missing = await cli(['buses', 'get', 'nope', ...url]);
    assert.equal(missing.code, EXIT.apiError);
    assert.match(
      missing.err,
      /^NotFound: there is no bus named "nope" — list the buses with `junction buses list`/,
    );
  });

  test("--bus and $JUNCTION_BUS send a bus's commands to /buses/NAME/…; the flag wins", async () => {
    const ruleFile = join(dir.path, 'rule.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.bus'] },
        targets: [{ id: 'sink', type: 'http', url: `${sink.url}/orders` }],
      }),
    );
    const put = await cli(['rules', 'put', 'on-orders', ruleFile, '--bus', 'orders', ...url]);
    assert.equal(put.code, EXIT.ok, put.err);
    assert.match(
      (await cli(['rules', 'list', '--bus', 'orders', ...url])).out,
      /on-orders\s+true\s+sink\(http\)/,
    );
    assert.match((await cli(['rules', 'list', ...url])).out, /^no rules yet/, 'the default bus has none');
    const env = { JUNCTION_BUS: 'orders' };
    assert.match((await cli(['rules', 'list', ...url], { env })).out, /on-orders/);
    assert.match((await cli(['rules', 'list', '--bus', 'default', ...url], { env })).out, /^no rules yet/);

    const sent = await cli(['put', '--type', 'cli.bus', '--source', '/cli', '--id', 'b-1', ...url], { env });
    assert.equal(sent.code, EXIT.ok, sent.err);
    await waitFor(() => sink.received.some((r) => r.url === '/orders'), 'the orders bus delivering', 60_000);
    assert.equal(sink.received.find((r) => r.url === '/orders')?.headers['ce-id'], 'b-1');
    const trace = await cli(['trace', 'b-1', '--bus', 'orders', ...url]);
    assert.equal(trace.code, EXIT.ok, trace.err);
    assert.equal((await cli(['trace', 'b-1', ...url])).code, EXIT.apiError, 'not on the default bus');
  });

  test('a bus that does not exist, a bad bus name, and --bus where it does not apply', async () => {
    const missing = await cli(['rules', 'list', '--bus', 'nope', ...url]);
    assert.equal(missing.code, EXIT.apiError);
    assert.match(
      missing.err,
      /^NotFound: there is no bus named "nope" — list the buses with `junction buses list`, or create it with `junction buses put NAME`/,
    );
    const bad = await cli(['rules', 'list', '--bus', 'no/such', ...url]);
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.err, /--bus must be a bus name/);
    const badEnv = await cli(['rules', 'list', ...url], { env: { JUNCTION_BUS: '-x' } });
    assert.equal(badEnv.code, EXIT.usage);
    assert.match(badEnv.err, /\$JUNCTION_BUS must be a bus name/);
    for (const words of [
      ['buses', 'list'],
      ['keys', 'list'],
    ]) {
      const run = await cli([...words, '--bus', 'orders', ...url]);
      assert.equal(run.code, EXIT.usage, words.join(' '));
      assert.match(run.err, new RegExp(`--bus is not an option of \`junction ${words.join(' ')}\``));
    }
    assert.equal(
      (await cli(['buses', 'list', ...url], { env: { JUNCTION_BUS: 'orders' } })).code,
      EXIT.ok,
      '$JUNCTION_BUS does not bother the deployment commands',
    );
    assert.doesNotMatch((await cli(['buses', 'list', '--help'])).out, /--bus/);
    assert.match((await cli(['rules', 'list', '--help'])).out, /\n {2}--bus NAME\s+the named bus to act on/);
    assert.match((await cli(['--help'])).out, /\n {2}--bus NAME/);
  });

  test('buses put refuses bad settings naming the flag', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--quota-burst', '5'], /--quota-burst needs --quota/],
      [['--retention', '1s'], /--retention must be a duration like 90m, 12h or 7d .*from 1m to 3650d/],
      [['--quota', '0'], /--quota must be a whole number from 1 to 1000000/],
      [['--dedup-window', 'forever'], /--dedup-window must be a duration/],
      [['--isolation', 'thread'], /--isolation must be shared or process, got "thread"/],
      [['--nice', '20'], /--nice must be a whole number from 0 to 19 or idle, got "20"/],
      [['--nice', 'lazy'], /--nice must be a whole number from 0 to 19 or idle, got "lazy"/],
    ];
    for (const [flags, message] of cases) {
      const run = await cli(['buses', 'put', 'orders', ...flags, ...url]);
      assert.equal(run.code, EXIT.usage, flags.join(' '));
      assert.match(run.err, message);
    }
    const unknown = await cli(['buses', 'put', 'orders', '--accept-from', 'no/such', ...url]);
    assert.equal(unknown.code, EXIT.apiError);
    assert.match(unknown.err, /^InvalidBus/);
  });

  test('buses delete needs --force while the bus has rules', async () => {
    const refused = await cli(['buses', 'delete', 'orders', ...url]);
    assert.equal(refused.code, EXIT.apiError);
    assert.match(
      refused.err,
      /^Conflict.*the bus orders has 1 rule.* — delete its rules first .*or pass --force/,
    );
    const deleted = await cli(['buses', 'delete', 'orders', '--force', '--json', ...url]);
    assert.equal(deleted.code, EXIT.ok, deleted.err);
    assert.deepEqual(JSON.parse(deleted.out), { deleted: 'orders' });
    assert.equal((await request(bus.url, 'GET', '/buses/orders')).status, 404);
    const again = await cli(['buses', 'delete', 'orders', ...url]);
    assert.equal(again.code, EXIT.apiError);
    assert.match(again.err, /list the buses with `junction buses list`/);
  });
});

/**
 * The ```sh example under "Buses in scopes" in docs/security.md, run line by line: `export NAME=value` sets the
 * environment (`jk_…` is the key the last `keys create` printed), and each `junction …` line ends with a comment
 * `# exit N` or `# exit N: text` that its exit code and output must fit.
 */
describe('docs/security.md: a key scoped to one bus', () => {
  let bus: TestBus;

  before(async () => {
    bus = await startTestBus();
  });
  after(async () => {
    await bus.stop();
  });

  test('runs as documented', async () => {
    const doc = readFileSync(join(repoRoot, 'docs', 'security.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Buses in scopes'));
    const block = fences(section).find((f) => f.info === 'sh');
    assert.ok(block !== undefined, 'the section has a ```sh example');
    const env: Record<string, string> = { JUNCTION_URL: bus.url };
    let lastKey = '';
    let ran = 0;
    for (const raw of block.lines) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const exported = /^export (\w+)=(\S+)/.exec(line);
      if (exported !== null) {
        env[exported[1] as string] = exported[2] === 'jk_…' ? lastKey : (exported[2] as string);
        continue;
      }
      const m = /^junction (.*?)\s+# exit (\d)(?:: (.*))?$/.exec(line);
      assert.ok(m !== null, `a line the test cannot read: ${line}`);
      const args = (m[1] as string).match(/"[^"]*"|\S+/g)?.map((a) => a.replace(/^"|"$/g, '')) ?? [];
      const run = await cli(args, { env });
      assert.equal(run.code, Number(m[2]), `${line}\n${run.out}${run.err}`);
      if (m[3] !== undefined)
        assert.ok(`${run.out}${run.err}`.includes(m[3]), `${line}\n${run.out}${run.err}`);
      const key = /\b(jk_[A-Za-z0-9_-]+)/.exec(run.out);
      if (key !== null) lastKey = key[1] as string;
      ran += 1;
    }
    assert.ok(ran >= 5, `the example runs ${ran} commands`);
  });
});
