/**
 * Every CLI command with a bad file, bad JSON, a bad flag, an unknown name and an unreachable bus: one line on
 * stderr (no stack), nothing on stdout, and the documented exit code (1 the bus refused, 2 usage, 3 unreachable).
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT, runCli } from '../../lib/cli/cli.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli, deadUrl } from '../helpers/cli.ts';
import { tempDir } from '../helpers/paths.ts';

interface Case {
  readonly args: readonly string[];
  readonly exit: number;
  /** What the one line on stderr says. */
  readonly err: RegExp;
  /** Where --url points: the running test bus (default), a port where nothing listens, or as in `args`. */
  readonly bus?: 'up' | 'down' | 'as given';
  readonly stdin?: string;
}

const dir = tempDir('junction-cli-errors-');
const f = (name: string) => join(dir.path, name);
writeFileSync(f('bad.json'), '{"pattern": {');
writeFileSync(f('object.json'), '{"type": "not a batch"}');
writeFileSync(f('rule.json'), JSON.stringify({ pattern: { type: ['x'] }, targets: [] }));
writeFileSync(f('fn.ts'), 'export async function handler() {}\n');
mkdirSync(f('folder'));
const missing = f('nofile.json');
const range = ['--from', '-1h', '--to', 'now'];
const event = ['--event', '{"type": "x"}'];

/** The bad local inputs: a missing file, a folder, a file that is not JSON, JSON where a file was meant. */
const badFiles: Case[] = [
  {
    args: ['put', '--file', missing],
    exit: EXIT.usage,
    err: /--file: cannot read .*nofile\.json: no such file/,
  },
  {
    args: ['put', '--file', f('folder')],
    exit: EXIT.usage,
    err: /--file: cannot read .*folder: it is a folder/,
  },
  {
    args: ['put', '--type', 't', '--source', 's', '--data-file', missing],
    exit: EXIT.usage,
    err: /--data-file: cannot read .*nofile\.json: no such file/,
  },
  {
    args: ['rules', 'put', 'x', '/nonexistent.json'],
    exit: EXIT.usage,
    err: /FILE: cannot read \/nonexistent\.json/,
  },
  {
    args: ['rules', 'test', '--pattern', 'missing.json', ...event],
    exit: EXIT.usage,
    err: /--pattern: cannot read missing\.json: no such file/,
  },
  {
    args: ['rules', 'test', '--pattern', '{"type": ["x"]}', '--event', missing],
    exit: EXIT.usage,
    err: /--event: cannot read .*nofile\.json/,
  },
  {
    args: ['rules', 'simulate', 'x', ...range, '--pattern', missing],
    exit: EXIT.usage,
    err: /--pattern: cannot read .*nofile\.json/,
  },
  { args: ['functions', 'deploy', 'fn', missing], exit: EXIT.usage, err: /FILE: cannot read .*nofile\.json/ },
  { args: ['functions', 'deploy', 'fn', missing, '--aws'], exit: EXIT.usage, err: /nofile\.json/ },
];

const badJson: Case[] = [
  {
    args: ['put', '--type', 't', '--source', 's', '--data', 'hello'],
    exit: EXIT.usage,
    err: /--data is not valid JSON.*--data-file hello/,
  },
  {
    args: ['put', '--type', 't', '--source', 's', '--data', '{"a":'],
    exit: EXIT.usage,
    err: /--data is not valid JSON/,
  },
  { args: ['put', '--file', f('bad.json')], exit: EXIT.usage, err: /--file .*bad\.json is not valid JSON/ },
  { args: ['put', '--file', f('object.json')], exit: EXIT.usage, err: /--file must hold a JSON array/ },
  {
    args: ['put', '--type', 't', '--source', 's', '--data-file', f('bad.json')],
    exit: EXIT.usage,
    err: /--data-file .*bad\.json is not valid JSON/,
  },
  { args: ['rules', 'put', 'x', f('bad.json')], exit: EXIT.usage, err: /FILE .*bad\.json is not valid JSON/ },
  {
    args: ['rules', 'test', '--pattern', '{bad', ...event],
    exit: EXIT.usage,
    err: /--pattern is not valid JSON/,
  },
  {
    args: ['rules', 'test', '--pattern', '{"type": ["x"]}', '--event', f('bad.json')],
    exit: EXIT.usage,
    err: /--event .*bad\.json is not valid JSON/,
  },
  {
    args: ['rules', 'simulate', 'x', ...range, '--pattern', '[1,'],
    exit: EXIT.usage,
    err: /--pattern is not valid JSON/,
  },
  {
    args: ['rules', 'put', 'x', '-'],
    stdin: 'nope',
    exit: EXIT.usage,
    err: /FILE \(standard input\) is not valid JSON/,
  },
];

/** Flags and arguments the CLI refuses before asking the bus; the error names the CLI flag. */
const badUsage: Case[] = [
  { args: ['frobnicate'], exit: EXIT.usage, err: /unknown command "frobnicate"/ },
  {
    args: ['dev', '--otlp-endpoint', 'collector:4318'],
    exit: EXIT.usage,
    err: /--otlp-endpoint must be an http\(s\) URL such as http:\/\/localhost:4318, got "collector:4318"/,
  },
  {
    args: ['dev', '--otlp-protocol', 'thrift'],
    exit: EXIT.usage,
    err: /--otlp-protocol must be http\/json, http\/protobuf or grpc, got "thrift"/,
  },
  {
    args: ['dev', '--dedup-memory-keys', '-1'],
    exit: EXIT.usage,
    err: /--dedup-memory-keys must be a whole number from 0 to 100000000, got "-1"/,
  },
  {
    args: ['dev', '--dedup-memory-keys', '200000000'],
    exit: EXIT.usage,
    err: /--dedup-memory-keys must be a whole number from 0 to 100000000, got "200000000"/,
  },
  { args: ['rules', 'frob'], exit: EXIT.usage, err: /unknown command "rules frob"/ },
  { args: ['rules'], exit: EXIT.usage, err: /rules needs a subcommand: list, get/ },
  { args: ['rules', 'put'], exit: EXIT.usage, err: /missing NAME FILE; usage: junction rules put NAME FILE/ },
  { args: ['rules', 'get', 'a', 'b'], exit: EXIT.usage, err: /unexpected argument "b"/ },
  { args: ['rules', 'list', '--bogus'], exit: EXIT.usage, err: /unknown option '--bogus'/ },
  {
    args: ['put', '--limit', '3', '--type', 't', '--source', 's'],
    exit: EXIT.usage,
    err: /--limit is not an option of `junction put`/,
  },
  { args: ['put', '--source', 's'], exit: EXIT.usage, err: /put needs --type and --source/ },
  {
    args: ['put', '--type', 't', '--source', 's', '--data', '1', '--data-file', 'x'],
    exit: EXIT.usage,
    err: /either --data or --data-file/,
  },
  {
    args: ['put', '--type', 't', '--source', 's', '--ext', 'novalue'],
    exit: EXIT.usage,
    err: /--ext takes name=value/,
  },
  {
    args: ['dead-letters', 'list', '--limit', 'ten'],
    exit: EXIT.usage,
    err: /--limit must be a whole number from 1 to 1000, got "ten"/,
  },
  { args: ['dead-letters', 'list', '--limit', '0'], exit: EXIT.usage, err: /--limit must be a whole number/ },
  {
    args: ['dead-letters', 'list', '--from', 'yesterday'],
    exit: EXIT.usage,
    err: /--from must be now, a relative time like -1h/,
  },
  {
    args: ['dead-letters', 'redrive'],
    exit: EXIT.usage,
    err: /say what to redrive: --all, --rule R or --id ID/,
  },
  { args: ['deliveries', 'list', '--limit', '-5'], exit: EXIT.usage, err: /--limit must be a whole number/ },
  {
    args: ['deliveries', 'list', '--state', 'stuck'],
    exit: EXIT.usage,
    err: /--state must be pending or in-flight, got "stuck"/,
  },
  { args: ['deliveries', 'retry'], exit: EXIT.usage, err: /say what to retry: --all or --rule R/ },
  {
    args: ['deliveries', 'retry', '--all', '--rule', 'r'],
    exit: EXIT.usage,
    err: /--all cannot be combined with --rule/,
  },
  { args: ['deliveries', 'retry', '--target', 't'], exit: EXIT.usage, err: /--target needs --rule/ },
  {
    args: ['replay', '--from', '-1h'],
    exit: EXIT.usage,
    err: /junction replay start: --from and --to are both required/,
  },
  { args: ['replay', '--from', 'now', '--to', '-1h'], exit: EXIT.usage, err: /--to must be after --from/ },
  { args: ['replay', '--from', '2026-13-45', '--to', 'now'], exit: EXIT.usage, err: /--from must be now/ },
  {
    args: ['rules', 'simulate', 'x', '--from', '-1h'],
    exit: EXIT.usage,
    err: /junction rules simulate: --from and --to are both required/,
  },
  {
    args: ['functions', 'deploy', 'fn', f('fn.ts'), '--timeout-ms', '1.5'],
    exit: EXIT.usage,
    err: /--timeout-ms must be a whole number/,
  },
  {
    args: ['functions', 'deploy', 'fn', f('fn.ts'), '--memory-mb', 'lots'],
    exit: EXIT.usage,
    err: /--memory-mb must be a whole number/,
  },
  {
    args: ['rules', 'test', '--pattern', '-', '--event', '-'],
    stdin: '{}',
    exit: EXIT.usage,
    err: /only one of --pattern and --event can read standard input/,
  },
  {
    args: ['rules', 'list', '--url', 'not a url'],
    bus: 'as given',
    exit: EXIT.usage,
    err: /--url must be an http:\/\/ or https:\/\/ URL, got "not a url"/,
  },
  {
    args: ['dev', '--port', '99999'],
    exit: EXIT.usage,
    err: /--port must be a whole number from 0 to 65535/,
  },
  { args: ['help', 'frobnicate'], exit: EXIT.usage, err: /unknown command "frobnicate"/ },
];

/** Names the bus does not know: it answers 404, the CLI exits 1 and says where to look. */
const unknownNames: Case[] = [
  {
    args: ['dead-letters', 'list', '--cursor', 'nope'],
    exit: EXIT.apiError,
    err: /^InvalidRequest: --cursor is not a cursor/,
  },
  {
    args: ['deliveries', 'list', '--cursor', 'nope'],
    exit: EXIT.apiError,
    err: /^InvalidRequest: --cursor is not a cursor/,
  },
  {
    args: ['rules', 'get', 'nope'],
    exit: EXIT.apiError,
    err: /^NotFound: rule "nope" does not exist — list them with `junction rules list`$/,
  },
  { args: ['rules', 'delete', 'nope'], exit: EXIT.apiError, err: /^NotFound: rule "nope" does not exist/ },
  {
    args: ['rules', 'simulate', 'nope', ...range],
    exit: EXIT.apiError,
    err: /^NotFound: rule "nope" .*does not exist — list them with `junction rules list`$/,
  },
  { args: ['rules', 'enable', 'nope'], exit: EXIT.apiError, err: /^NotFound: / },
  { args: ['rules', 'disable', 'nope'], exit: EXIT.apiError, err: /^NotFound: / },
  { args: ['rules', 'put', 'x', f('object.json')], exit: EXIT.apiError, err: /^InvalidRule/ },
  {
    args: ['functions', 'delete', 'nope'],
    exit: EXIT.apiError,
    err: /^NotFound: function "?nope"? does not exist — list them with `junction functions list`$/,
  },
  { args: ['trace', 'nope'], exit: EXIT.apiError, err: /^NotFound: .*nope/ },
  { args: ['replay', 'status', 'nope'], exit: EXIT.apiError, err: /^NotFound: / },
  {
    args: ['replay', '--rule', 'nope', ...range],
    exit: EXIT.apiError,
    err: /^NotFound: rule "nope" does not exist/,
  },
];

/** Every command that talks to the bus, with a bus that is not there. */
const unreachable: Case[] = [
  ['put', '--type', 't', '--source', 's'],
  ['put', '--file', '-'],
  ['rules', 'list'],
  ['rules', 'get', 'x'],
  ['rules', 'put', 'x', f('rule.json')],
  ['rules', 'delete', 'x'],
  ['rules', 'enable', 'x'],
  ['rules', 'disable', 'x'],
  ['rules', 'test', '--pattern', '{}', ...event],
  ['rules', 'simulate', 'x', ...range],
  ['functions', 'deploy', 'fn', f('fn.ts')],
  ['functions', 'list'],
  ['functions', 'delete', 'x'],
  ['trace', 'x'],
  ['trace', 'x', '--follow'],
  ['dead-letters', 'list'],
  ['dead-letters', 'redrive', '--all'],
  ['deliveries', 'list'],
  ['deliveries', 'retry', '--all'],
  ['replay', ...range],
  ['replay', 'start', ...range],
  ['replay', 'list'],
  ['replay', 'status', 'x'],
].map((args) => ({
  args,
  bus: 'down' as const,
  stdin: '[]',
  exit: EXIT.unreachable,
  err: /^cannot reach the bus at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\) — is it running\? Start it with `npm start`, or pass --url$/,
}));

describe('CLI errors: one line, no stack, the documented exit code', () => {
  let bus: TestBus;
  let down: string;

  before(async () => {
    bus = await startTestBus();
    down = await deadUrl();
  });
  after(async () => {
    await bus.stop();
    dir.remove();
  });

  const groups: Array<[string, Case[]]> = [
    ['a bad file', badFiles],
    ['bad JSON', badJson],
    ['a usage error', badUsage],
    ['an unknown name', unknownNames],
    ['an unreachable bus', unreachable],
  ];
  for (const [what, cases] of groups) {
    for (const c of cases) {
      test(`${what}: junction ${c.args.join(' ')} exits ${c.exit}`, async () => {
        const url = c.bus === 'as given' ? [] : ['--url', c.bus === 'down' ? down : bus.url];
        const run = await cli([...c.args, ...url], c.stdin === undefined ? {} : { stdin: c.stdin });
        assert.equal(run.code, c.exit, `exit code; stderr: ${run.err}`);
        assert.equal(run.out, '', 'nothing on stdout');
        assert.doesNotMatch(run.err, /\n\s+at /, 'no stack trace');
        assert.equal(run.err.trimEnd().split('\n').length, 1, `one line on stderr, got: ${run.err}`);
        assert.match(run.err.trimEnd(), c.err);

        const json = await cli(
          [...c.args, ...url, '--json'],
          c.stdin === undefined ? {} : { stdin: c.stdin },
        );
        assert.equal(json.code, c.exit, `exit code under --json; stderr: ${json.err}`);
        assert.equal(json.out, '', 'nothing on stdout under --json');
        const parsed = JSON.parse(json.err) as { error: { code: string; message: string } };
        assert.equal(typeof parsed.error.code, 'string', json.err);
        assert.equal(typeof parsed.error.message, 'string', json.err);
        if (c.exit === EXIT.usage) assert.equal(parsed.error.code, 'Usage');
        if (c.exit === EXIT.unreachable) assert.equal(parsed.error.code, 'Unreachable');
      });
    }
  }
});

describe('CLI errors that are not the bus refusing', () => {
  /** A server on 127.0.0.1 that answers every request with `handler`. */
  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
  }
  const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  test('a bus that never answers counts as unreachable once the request time is up', async () => {
    const held: ServerResponse[] = [];
    const server = await serve((_req, res) => held.push(res));
    try {
      const run = await cli(['rules', 'list', '--url', urlOf(server)], { requestTimeoutMs: 200 });
      assert.equal(run.code, EXIT.unreachable);
      assert.equal(
        run.err,
        `the bus at ${urlOf(server)} did not answer within 0.2 s — is it running? Start it with \`npm start\`, or pass --url\n`,
      );
    } finally {
      for (const res of held) res.destroy();
      server.close();
    }
  });

  test('an answer that is not the API (an HTML 502, broken JSON) is one line and exit 1', async () => {
    const server = await serve((req, res) => {
      if (req.url === '/rules') {
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>\n<body>Bad gateway</body>\n</html>');
      } else res.writeHead(200, { 'content-type': 'application/json' }).end('{"functions": [');
    });
    try {
      const html = await cli(['rules', 'list', '--url', urlOf(server)]);
      assert.equal(html.code, EXIT.apiError);
      assert.equal(html.err, 'the bus answered 502: <html>; <body>Bad gateway</body>; </html>\n');
      const broken = await cli(['functions', 'list', '--url', urlOf(server)]);
      assert.equal(broken.code, EXIT.apiError);
      assert.equal(broken.err, 'BadAnswer: the bus answered 200 with invalid JSON\n');
      const json = await cli(['functions', 'list', '--json', '--url', urlOf(server)]);
      assert.equal(JSON.parse(json.err).error.code, 'BadAnswer');
    } finally {
      server.close();
    }
  });

  test('an unexpected exception is one line and exit 4', async () => {
    const lines: string[] = [];
    const run = await runCli(['--version'], {
      out: () => {
        throw new TypeError('stdout went away');
      },
      err: (text) => lines.push(text),
      env: {},
    });
    assert.equal(run, EXIT.internal);
    assert.deepEqual(lines, [
      'internal error in the junction CLI (TypeError: stdout went away) — please report it',
    ]);
  });
});

describe('junction keys on a data directory (offline)', () => {
  test('creates the first key in a data dir that does not exist yet (0700), and lists it', async () => {
    const base = tempDir('junction-keys-');
    try {
      const dir = join(base.path, 'fresh');
      const created = await cli([
        'keys',
        'create',
        'admin',
        '--scope',
        'manage',
        '--data-dir',
        dir,
        '--json',
      ]);
      assert.equal(created.code, EXIT.ok, created.err);
      assert.match(JSON.parse(created.out).key, /^jk_/);
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const listed = await cli(['keys', 'list', '--data-dir', dir, '--json']);
      assert.equal(listed.code, EXIT.ok, listed.err);
      assert.deepEqual(
        JSON.parse(listed.out).keys.map((k: { name: string }) => k.name),
        ['admin'],
      );
    } finally {
      base.remove();
    }
  });

  test('refuses to list or revoke on a data dir that does not exist, naming --data-dir', async () => {
    for (const args of [
      ['keys', 'list', '--data-dir', '/nonexistent/junction'],
      ['keys', 'revoke', 'admin', '--data-dir', '/nonexistent/junction'],
    ]) {
      const run = await cli(args);
      assert.equal(run.code, EXIT.usage, args.join(' '));
      assert.match(run.err, /--data-dir \/nonexistent\/junction: no such folder/);
      assert.equal(run.err.trim().split('\n').length, 1);
    }
  });
});

describe('junction dev errors', () => {
  test('a port in use is a usage error naming --port; the options reach the bus', async () => {
    const seen: unknown[] = [];
    const lines: string[] = [];
    const code = await runCli(['dev', '--port', '8123', '--partitions', '4'], {
      out: () => {},
      err: (text) => lines.push(text),
      env: {},
      dev: async (options) => {
        seen.push(options);
        throw Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:8123'), {
          code: 'EADDRINUSE',
        });
      },
    });
    assert.equal(code, EXIT.usage);
    assert.deepEqual(seen, [
      { auth: {}, port: 8123, host: '127.0.0.1', dataDir: './.junction', partitions: 4 },
    ]);
    assert.deepEqual(lines, [
      'junction dev: cannot listen on 127.0.0.1:8123: the address is in use (pick another --port) — see `junction dev --help`',
    ]);
  });

  test('--dedup-memory-keys, or JUNCTION_DEDUP_MEMORY_KEYS, reaches the bus', async () => {
    const seen: Array<{ dedupMemoryKeys?: number }> = [];
    const run = (args: string[], env: Record<string, string>) =>
      runCli(['dev', ...args], {
        out: () => {},
        err: () => {},
        env,
        dev: async (options) => {
          seen.push(options);
          return 0;
        },
      });
    await run(['--dedup-memory-keys', '0'], { JUNCTION_DEDUP_MEMORY_KEYS: '5' });
    await run([], { JUNCTION_DEDUP_MEMORY_KEYS: '250000' });
    await run([], {});
    assert.deepEqual(
      seen.map((o) => o.dedupMemoryKeys),
      [0, 250_000, undefined],
    );
  });
});
