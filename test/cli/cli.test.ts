/** The CLI against a running bus: readable output, --json, exit codes, and errors that say what to do next. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli, deadUrl } from '../helpers/cli.ts';
import { UUID_V7, uuidv7Millis, waitFor } from '../helpers/events.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';

describe('the junction CLI', () => {
  let bus: TestBus;
  const dir = tempDir('junction-cli-');
  let url: string[];

  before(async () => {
    bus = await startTestBus();
    url = ['--url', bus.url];
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  test('deploys a function, puts a rule, publishes and traces an event', async () => {
    const deploy = await cli([
      'functions',
      'deploy',
      'echo',
      join(repoRoot, 'test/fixtures/functions/echo.ts'),
      ...url,
    ]);
    assert.equal(deploy.code, EXIT.ok, deploy.err);
    assert.match(deploy.out, /^deployed echo: \d+ bytes bundled, sha256 [0-9a-f]{12}/);

    const ruleFile = join(dir.path, 'rule.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.test'] },
        targets: [{ id: 'fn', type: 'function', function: 'echo' }],
      }),
    );
    const put = await cli(['rules', 'put', 'cli-rule', ruleFile, ...url]);
    assert.equal(put.code, EXIT.ok, put.err);
    assert.equal(put.out.trim(), 'rule cli-rule saved with 1 target(s)');

    const list = await cli(['rules', 'list', ...url]);
    assert.match(list.out, /^NAME\s+ENABLED\s+TARGETS/);
    assert.match(list.out, /cli-rule\s+true\s+fn\(function\)/);

    const sent = await cli([
      'put',
      '--type',
      'cli.test',
      '--source',
      '/cli',
      '--id',
      'cli-1',
      '--data',
      '{"x": 1}',
      ...url,
    ]);
    assert.equal(sent.code, EXIT.ok, sent.err);
    assert.equal(sent.out.trim(), 'accepted: /cli cli-1');
    const again = await cli(['put', '--type', 'cli.test', '--source', '/cli', '--id', 'cli-1', ...url]);
    assert.equal(again.out.trim(), 'duplicate (already accepted): /cli cli-1');
    // Without --id the CLI mints a time-ordered id (UUID v7), which the dedup index takes at one end.
    const minted = await cli(['put', '--type', 'cli.minted', '--source', '/cli', ...url]);
    assert.equal(minted.code, EXIT.ok, minted.err);
    const id = /^accepted: \/cli (\S+)$/.exec(minted.out.trim())?.[1] ?? '';
    assert.match(id, UUID_V7);
    const millis = uuidv7Millis(id);
    assert.ok(Math.abs(millis - Date.now()) < 10 * 60_000, `the id's time ${millis} is now`);

    await waitFor(
      async () => (await cli(['trace', 'cli-1', ...url])).out.includes('delivered'),
      'the delivery in the trace',
    );
    const trace = await cli(['trace', 'cli-1', ...url]);
    assert.match(trace.out, /^\/cli cli-1\n/);
    assert.match(trace.out, /received\s+partition \d+ offset \d+/);
    assert.match(trace.out, /attempt\s+cli-rule\/fn #1 delivered/);

    const json = await cli(['trace', 'cli-1', '--json', ...url]);
    const parsed = JSON.parse(json.out);
    assert.equal(parsed.id, 'cli-1');
    assert.ok(parsed.entries.some((e: { kind: string }) => e.kind === 'emitted'));
  });

  test('explains why a pattern does not match, and exits 1', async () => {
    const result = await cli([
      'rules',
      'test',
      '--pattern',
      '{"data": {"total": [{"numeric": [">", 100]}]}}',
      '--event',
      '{"data": {"total": 90}}',
      ...url,
    ]);
    assert.equal(result.code, EXIT.apiError);
    assert.match(result.out, /^does not match:\n {2}data\.total: /);
    const yes = await cli(['rules', 'test', '--pattern', '{"a": ["b"]}', '--event', '{"a": "b"}', ...url]);
    assert.equal(yes.code, EXIT.ok);
    assert.equal(yes.out.trim(), 'matches');
  });

  test('reports API errors with the code and the field, usage errors with 2, an unreachable bus with 3', async () => {
    const bad = await cli(['rules', 'get', 'nope', ...url]);
    assert.equal(bad.code, EXIT.apiError);
    assert.match(bad.err, /^NotFound: rule "nope" does not exist/);

    const ruleFile = join(dir.path, 'bad.json');
    writeFileSync(ruleFile, JSON.stringify({ pattern: { a: 'not-an-array' }, targets: [] }));
    const invalid = await cli(['rules', 'put', 'bad', ruleFile, ...url]);
    assert.equal(invalid.code, EXIT.apiError);
    assert.match(invalid.err, /^InvalidPattern at pattern\.a: /);

    const usage = await cli(['rules', 'put', ...url]);
    assert.equal(usage.code, EXIT.usage);
    assert.match(usage.err, /usage: junction rules put NAME FILE/);

    const unknown = await cli(['frobnicate', ...url]);
    assert.equal(unknown.code, EXIT.usage);

    const down = await cli(['rules', 'list', '--url', 'http://127.0.0.1:9']);
    assert.equal(down.code, EXIT.unreachable);
    assert.match(down.err, /cannot reach the bus at http:\/\/127\.0\.0\.1:9/);
    assert.match(down.err, /npm start/);
  });

  test('lists and redrives dead letters', async () => {
    const ruleFile = join(dir.path, 'dl.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.dl'] },
        targets: [{ id: 'nowhere', type: 'http', url: 'http://127.0.0.1:9/', retry: { maxAttempts: 1 } }],
      }),
    );
    assert.equal((await cli(['rules', 'put', 'cli-dl', ruleFile, ...url])).code, EXIT.ok);
    await cli(['put', '--type', 'cli.dl', '--source', '/cli', '--id', 'dl-1', ...url]);
    await waitFor(
      async () => (await cli(['dead-letters', 'list', '--rule', 'cli-dl', ...url])).out.includes('dl-1'),
      'the dead letter',
    );
    const list = await cli(['dead-letters', 'list', '--rule', 'cli-dl', ...url]);
    assert.match(list.out, /cli-dl\/nowhere\s+\/cli dl-1\s+1/);
    // The dead letter is written before its delivery is closed; a redrive waits for that (else it is skipped).
    await waitFor(
      async () =>
        (await cli(['deliveries', 'list', '--rule', 'cli-dl', ...url])).out === 'no pending deliveries\n',
      'the dead-lettered delivery closed',
    );
    const redrive = await cli(['dead-letters', 'redrive', '--rule', 'cli-dl', ...url]);
    assert.equal(redrive.code, EXIT.ok, redrive.err);
    assert.equal(redrive.out.trim(), 'redriven 1');
    const nothing = await cli(['dead-letters', 'redrive', ...url]);
    assert.equal(nothing.code, EXIT.usage);
  });
});

describe('the junction CLI, on a bus that redrives a few letters per call', () => {
  let bus: TestBus;
  let url: string[];
  before(async () => {
    bus = await startTestBus({ redriveLimit: 2 });
    url = ['--url', bus.url];
  });
  after(() => bus.stop());

  test('follows the redrive cursor until every letter is redriven', async () => {
    const put = await request(bus.url, 'PUT', '/rules/cli-capped', {
      pattern: { type: ['cli.capped'] },
      targets: [{ id: 'nowhere', type: 'http', url: 'http://127.0.0.1:9/', retry: { maxAttempts: 1 } }],
    });
    assert.equal(put.status, 201);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      await cli(['put', '--type', 'cli.capped', '--source', '/cli', '--id', id, ...url]);
    }
    await waitFor(
      async () => (await bus.junction.listDeadLetters({ rule: 'cli-capped' })).deadLetters.length === 5,
      'five dead letters',
    );
    await waitFor(
      async () =>
        (await cli(['deliveries', 'list', '--rule', 'cli-capped', ...url])).out === 'no pending deliveries\n',
      'the dead-lettered deliveries closed',
    );
    // Two letters a call: the CLI calls three times, continuing from each answer's nextCursor. The redriven
    // deliveries fail again meanwhile; their new letters are newer than the cursor and are not taken up.
    const rest = await cli(['dead-letters', 'redrive', '--rule', 'cli-capped', ...url]);
    assert.equal(rest.code, EXIT.ok, rest.err);
    assert.equal(rest.out.trim(), 'redriven 5');
  });
});

describe('the junction CLI, for scripts', () => {
  let bus: TestBus;
  const dir = tempDir('junction-cli-scripts-');
  let url: string[];

  before(async () => {
    bus = await startTestBus();
    url = ['--url', bus.url];
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  test('reads - from standard input: a batch, a rule file, --data', async () => {
    const batch = [
      { specversion: '1.0', id: 'in-1', source: '/stdin', type: 'cli.stdin' },
      { specversion: '1.0', id: 'in-2', source: '/stdin', type: 'cli.stdin' },
    ];
    const put = await cli(['put', '--file', '-', ...url], { stdin: JSON.stringify(batch) });
    assert.equal(put.code, EXIT.ok, put.err);
    assert.match(put.out, /^accepted 2, failed 0/);

    const rule = { pattern: { type: ['cli.stdin'] }, enabled: false, targets: [] };
    const saved = await cli(['rules', 'put', 'from-stdin', '-', ...url], { stdin: JSON.stringify(rule) });
    assert.equal(saved.code, EXIT.ok, saved.err);
    assert.deepEqual((await request(bus.url, 'GET', '/rules/from-stdin')).body.pattern, rule.pattern);

    const data = await cli(
      ['put', '--type', 'cli.stdin', '--source', '/stdin', '--id', 'in-3', '--data', '-', ...url],
      {
        stdin: '{"from": "stdin"}',
      },
    );
    assert.equal(data.code, EXIT.ok, data.err);
    const text = await cli(['put', '--type', 'cli.stdin', '--source', '/stdin', '--data', '"hello"', ...url]);
    assert.equal(text.code, EXIT.ok, text.err);
  });

  test("prints the bus's JSON unchanged under --json, and nothing else on stdout", async () => {
    writeFileSync(
      join(dir.path, 'r.json'),
      JSON.stringify({ pattern: { type: ['cli.json'] }, enabled: false, targets: [] }),
    );
    assert.equal((await cli(['rules', 'put', 'json-rule', join(dir.path, 'r.json'), ...url])).code, EXIT.ok);
    for (const [args, path] of [
      [['rules', 'list'], '/rules'],
      [['rules', 'get', 'json-rule'], '/rules/json-rule'],
      [['functions', 'list'], '/functions'],
      [['dead-letters', 'list'], '/dead-letters'],
    ] as const) {
      const run = await cli([...args, '--json', ...url]);
      assert.equal(run.code, EXIT.ok, run.err);
      assert.equal(run.err, '');
      assert.deepEqual(JSON.parse(run.out), (await request(bus.url, 'GET', path)).body, args.join(' '));
    }
  });

  test('takes relative times and RFC 3339 for --from and --to', async () => {
    for (const range of [
      ['--from', '-1h', '--to', 'now'],
      ['--from=-30m', '--to=now'],
      ['--from', '2020-01-01T00:00:00Z', '--to', String(Date.now() + 60_000)],
      ['--from', '-2d', '--to', '-1s'],
    ]) {
      const run = await cli(['replay', ...range, '--json', ...url]);
      assert.equal(run.code, EXIT.ok, `${range.join(' ')}: ${run.err}`);
      const body = JSON.parse(run.out);
      assert.ok(Date.parse(body.from) < Date.parse(body.to), run.out);
    }
    const simulate = await cli(['rules', 'simulate', 'json-rule', '--from', '-1h', '--to', 'now', ...url]);
    assert.equal(simulate.code, EXIT.ok, simulate.err);
    assert.match(simulate.out, /^json-rule: \d+ of \d+ retained events would match/);
  });

  test('names the CLI flag when the bus refuses a request field', async () => {
    const fn = join(repoRoot, 'test/fixtures/functions/noop.ts');
    const slow = await cli(['functions', 'deploy', 'noop', fn, '--timeout-ms', '99999999', ...url]);
    assert.equal(slow.code, EXIT.apiError);
    assert.match(slow.err, /^InvalidFunction: --timeout-ms must be/);
    assert.doesNotMatch(slow.err, /timeoutMs/);

    const name = await cli(['replay', '--from', '-1h', '--to', 'now', '--name', 'Not_OK', ...url]);
    assert.equal(name.code, EXIT.apiError);
    assert.match(name.err, /^InvalidRequest: --name must be 1-64 lower-case letters/);
    const json = await cli(['replay', '--from', '-1h', '--to', 'now', '--name', 'Not_OK', '--json', ...url]);
    assert.deepEqual(JSON.parse(json.err).error.flag, '--name');
    assert.equal(JSON.parse(json.err).error.field, 'name', 'the bus error itself is kept');
  });
});

describe('the junction CLI, operations on a running bus', () => {
  let bus: TestBus;
  const dir = tempDir('junction-cli-ops-');
  let url: string[];
  let down: string;

  before(async () => {
    bus = await startTestBus();
    url = ['--url', bus.url];
    down = await deadUrl();
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  test('lists a pending delivery, pages with --cursor, and retries it', async () => {
    const ruleFile = join(dir.path, 'slow.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.slow'] },
        targets: [
          {
            id: 'down',
            type: 'http',
            url: `${down}/hook`,
            retry: { maxAttempts: 5, backoff: { kind: 'fixed', initialMs: 3_600_000, maxMs: 3_600_000 } },
          },
        ],
      }),
    );
    assert.equal((await cli(['rules', 'put', 'cli-slow', ruleFile, ...url])).code, EXIT.ok);
    for (const id of ['slow-1', 'slow-2']) {
      assert.equal(
        (await cli(['put', '--type', 'cli.slow', '--source', '/cli', '--id', id, ...url])).code,
        EXIT.ok,
      );
    }
    const attempted = async () => {
      const run = await cli(['deliveries', 'list', '--rule', 'cli-slow', '--json', ...url]);
      const body = JSON.parse(run.out) as { deliveries: Array<{ attempts: number }> };
      return body.deliveries.length === 2 && body.deliveries.every((d) => d.attempts === 1);
    };
    await waitFor(attempted, 'both deliveries attempted once');

    const list = await cli(['deliveries', 'list', '--rule', 'cli-slow', '--state', 'pending', ...url]);
    assert.equal(list.code, EXIT.ok, list.err);
    assert.match(list.out, /^RULE\/TARGET\s+EVENT\s+STATE\s+ATTEMPTS\s+DUE\s+LAST ATTEMPT\n/);
    assert.match(list.out, /cli-slow\/down\s+\/cli slow-\d\s+pending\s+1\s+\S+\s+failed/);

    const first = await cli(['deliveries', 'list', '--rule', 'cli-slow', '--limit', '1', ...url]);
    const more = /\nmore: (junction deliveries list .* --cursor (\S+))\n$/.exec(first.out);
    assert.ok(more, first.out);
    const second = await cli([
      'deliveries',
      'list',
      '--rule',
      'cli-slow',
      '--limit',
      '1',
      '--cursor',
      more[2]!,
      ...url,
    ]);
    assert.equal(second.code, EXIT.ok, second.err);
    assert.equal(second.out.trimEnd().split('\n').length, 2, 'the second and last page holds one delivery');
    assert.notEqual(first.out.split('\n')[1], second.out.split('\n')[1]);

    const retry = await cli(['deliveries', 'retry', '--rule', 'cli-slow', '--target', 'down', ...url]);
    assert.equal(retry.code, EXIT.ok, retry.err);
    assert.equal(retry.out, 'retried 2\n');
    await waitFor(async () => {
      const run = await cli(['deliveries', 'list', '--rule', 'cli-slow', '--json', ...url]);
      return (JSON.parse(run.out) as { deliveries: Array<{ attempts: number }> }).deliveries.every(
        (d) => d.attempts === 2,
      );
    }, 'the retried deliveries attempted again');
  });

  test('disables and enables a rule', async () => {
    const ruleFile = join(dir.path, 'toggle.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.toggle'] },
        targets: [{ id: 'h', type: 'http', url: `${down}/` }],
      }),
    );
    assert.equal((await cli(['rules', 'put', 'cli-toggle', ruleFile, ...url])).code, EXIT.ok);
    const off = await cli(['rules', 'disable', 'cli-toggle', ...url]);
    assert.equal(off.code, EXIT.ok, off.err);
    assert.equal(off.out, 'rule cli-toggle disabled\n');
    assert.match((await cli(['rules', 'list', ...url])).out, /cli-toggle\s+false/);
    const on = await cli(['rules', 'enable', 'cli-toggle', '--json', ...url]);
    assert.equal(JSON.parse(on.out).enabled, true);
  });

  test('starts, lists and shows a replay; a used name is refused with exit 1', async () => {
    const start = await cli(['replay', '--from', '-1h', '--to', 'now', '--name', 'cli-replay', ...url]);
    assert.equal(start.code, EXIT.ok, start.err);
    assert.match(start.out, /^replay cli-replay/);
    const list = await cli(['replay', 'list', ...url]);
    assert.equal(list.code, EXIT.ok, list.err);
    assert.match(list.out, /^NAME\s+STATE\s+FROM/);
    assert.match(list.out, /\ncli-replay\s+\S+\s+\d{4}-/);
    const status = await cli(['replay', 'status', 'cli-replay', ...url]);
    assert.equal(status.code, EXIT.ok, status.err);
    assert.match(status.out, /^name\s+cli-replay\nstate\s+\S+/);
    const again = await cli([
      'replay',
      'start',
      '--from',
      '-1h',
      '--to',
      'now',
      '--name',
      'cli-replay',
      ...url,
    ]);
    assert.equal(again.code, EXIT.apiError);
    assert.match(again.err, /^ReplayExists.* — that replay name is taken: pick another --name/);
  });

  test('pages dead letters with --limit and --cursor', async () => {
    const ruleFile = join(dir.path, 'dead.json');
    writeFileSync(
      ruleFile,
      JSON.stringify({
        pattern: { type: ['cli.dead'] },
        targets: [{ id: 'nowhere', type: 'http', url: `${down}/`, retry: { maxAttempts: 1 } }],
      }),
    );
    assert.equal((await cli(['rules', 'put', 'cli-dead', ruleFile, ...url])).code, EXIT.ok);
    for (const id of ['dead-1', 'dead-2']) {
      await cli(['put', '--type', 'cli.dead', '--source', '/cli', '--id', id, ...url]);
    }
    await waitFor(async () => {
      const run = await cli(['dead-letters', 'list', '--rule', 'cli-dead', '--json', ...url]);
      return (JSON.parse(run.out) as { deadLetters: unknown[] }).deadLetters.length === 2;
    }, 'two dead letters');
    const first = await cli(['dead-letters', 'list', '--rule', 'cli-dead', '--limit', '1', ...url]);
    const cursor = /\nmore: junction dead-letters list --rule "cli-dead" --limit "1" --cursor (\S+)\n$/.exec(
      first.out,
    );
    assert.ok(cursor, first.out);
    const second = await cli([
      'dead-letters',
      'list',
      '--rule',
      'cli-dead',
      '--limit',
      '1',
      '--cursor',
      cursor[1]!,
      ...url,
    ]);
    assert.equal(second.code, EXIT.ok, second.err);
    assert.doesNotMatch(second.out, /more:/);
    assert.notEqual(first.out.split('\n')[1], second.out.split('\n')[1]);
  });
});
