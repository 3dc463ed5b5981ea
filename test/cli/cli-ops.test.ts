/**
 * The CLI's operations commands (deliveries, rules enable/disable, replays, trace --follow, paging) against a
 * server on 127.0.0.1 that answers with the HTTP contract's shapes: what the CLI asks, and how it prints the answers.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { cli } from '../helpers/cli.ts';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** Answers by "METHOD /path" (query ignored); records every request. */
type Route = { status?: number; body: unknown };

describe('the operations commands of the CLI', () => {
  let server: Server;
  let url: string[];
  const seen: Seen[] = [];
  const routes = new Map<string, Route>();

  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => {
        text += c;
      });
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body: text === '' ? undefined : JSON.parse(text) });
        const route = routes.get(`${req.method} ${req.url!.replace(/\?.*$/, '')}`);
        const status = route?.status ?? (route ? 200 : 404);
        const body = route?.body ?? {
          error: { code: 'NotFound', message: `no route for ${req.method} ${req.url}` },
        };
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = ['--url', `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
  });
  after(() => server.close());
  beforeEach(() => {
    seen.length = 0;
    routes.clear();
  });

  const delivery = {
    source: '/shop',
    id: 'o-1',
    rule: 'big-orders',
    target: 'hook',
    state: 'pending',
    createdAt: Date.parse('2026-05-01T10:00:00Z'),
    dueAt: Date.parse('2026-05-01T10:05:00Z'),
    attempts: 2,
    lastAttempt: { at: Date.parse('2026-05-01T10:01:00Z'), outcome: 'failed', status: 503, latencyMs: 12 },
  };

  test('deliveries list asks with every filter and prints a table, then the next page', async () => {
    routes.set('GET /deliveries', { body: { deliveries: [delivery], nextCursor: 'abc' } });
    const run = await cli([
      'deliveries',
      'list',
      '--state',
      'pending',
      '--rule',
      'big-orders',
      '--target',
      'hook',
      '--limit',
      '1',
      ...url,
    ]);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.equal(seen[0]!.url, '/deliveries?state=pending&rule=big-orders&target=hook&limit=1');
    const lines = run.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^RULE\/TARGET\s+EVENT\s+STATE\s+ATTEMPTS\s+DUE\s+LAST ATTEMPT$/);
    assert.match(
      lines[1]!,
      /^big-orders\/hook\s+\/shop o-1\s+pending\s+2\s+2026-05-01T10:05:00\.000Z\s+failed 503 at 2026-05-01T10:01:00\.000Z$/,
    );
    assert.equal(
      lines[2],
      'more: junction deliveries list --rule "big-orders" --target "hook" --state "pending" --limit "1" --cursor abc',
    );

    const next = await cli(['deliveries', 'list', '--cursor', 'abc', ...url]);
    assert.equal(next.code, EXIT.ok, next.err);
    assert.equal(seen[1]!.url, '/deliveries?cursor=abc');

    const json = await cli(['deliveries', 'list', '--json', ...url]);
    assert.deepEqual(JSON.parse(json.out), { deliveries: [delivery], nextCursor: 'abc' });
  });

  test('deliveries retry sends {"all": true} or {"rule", "target"?}', async () => {
    routes.set('POST /deliveries/retry', { body: { retried: 3 } });
    const all = await cli(['deliveries', 'retry', '--all', ...url]);
    assert.equal(all.code, EXIT.ok, all.err);
    assert.equal(all.out, 'retried 3\n');
    await cli(['deliveries', 'retry', '--rule', 'big-orders', ...url]);
    await cli(['deliveries', 'retry', '--rule', 'big-orders', '--target', 'hook', ...url]);
    assert.deepEqual(
      seen.map((s) => s.body),
      [{ all: true }, { rule: 'big-orders' }, { rule: 'big-orders', target: 'hook' }],
    );
  });

  test('rules enable and disable post to the rule and print its state', async () => {
    routes.set('POST /rules/big-orders/disable', {
      body: { name: 'big-orders', enabled: false, targets: [] },
    });
    routes.set('POST /rules/big-orders/enable', { body: { name: 'big-orders', enabled: true, targets: [] } });
    assert.equal((await cli(['rules', 'disable', 'big-orders', ...url])).out, 'rule big-orders disabled\n');
    assert.equal((await cli(['rules', 'enable', 'big-orders', ...url])).out, 'rule big-orders enabled\n');
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['POST /rules/big-orders/disable', 'POST /rules/big-orders/enable'],
    );
  });

  const replay = {
    name: 'fix-1',
    state: 'running',
    from: '2026-05-01T08:00:00.000Z',
    to: '2026-05-01T09:00:00.000Z',
    rule: 'big-orders',
    startedAt: '2026-05-01T10:00:00.000Z',
    progress: { read: 40, total: 100 },
    counts: { events: 7, deliveries: 9 },
  };

  test('replay list and replay status print the replays', async () => {
    routes.set('GET /replays', { body: { replays: [replay] } });
    routes.set('GET /replays/fix-1', {
      body: { ...replay, state: 'done', endedAt: '2026-05-01T10:02:00.000Z' },
    });
    const list = await cli(['replay', 'list', ...url]);
    assert.equal(list.code, EXIT.ok, list.err);
    assert.match(list.out, /^NAME\s+STATE\s+FROM\s+TO\s+RULE\s+PROGRESS\s+EVENTS\s+DELIVERIES\s+STARTED\n/);
    assert.match(
      list.out,
      /fix-1\s+running\s+2026-05-01T08:00:00\.000Z\s+2026-05-01T09:00:00\.000Z\s+big-orders\s+40\/100\s+7\s+9\s+/,
    );
    const status = await cli(['replay', 'status', 'fix-1', ...url]);
    assert.equal(status.code, EXIT.ok, status.err);
    assert.match(status.out, /^name\s+fix-1\nstate\s+done\n/);
    assert.match(status.out, /progress\s+40 of 100 events read/);
    assert.match(status.out, /ended\s+2026-05-01T10:02:00\.000Z/);
  });

  test('replay start sends the range as epoch ms and a used name ends in exit 1 with a hint', async () => {
    routes.set('POST /replays', { status: 202, body: { ...replay, state: 'running' } });
    const start = await cli(['replay', 'start', '--from', '-1h', '--to', 'now', '--name', 'fix-1', ...url]);
    assert.equal(start.code, EXIT.ok, start.err);
    assert.match(
      start.out,
      /^replay fix-1 running: 7 events, 9 deliveries so far — follow it with: junction replay status fix-1/,
    );
    const body = seen[0]!.body as { from: number; to: number; name: string };
    assert.equal(body.to - body.from, 3_600_000);
    assert.equal(body.name, 'fix-1');

    routes.set('POST /replays', {
      status: 409,
      body: { error: { code: 'Conflict', message: 'replay "fix-1" exists', field: 'name' } },
    });
    const taken = await cli(['replay', '--from', '-1h', '--to', 'now', '--name', 'fix-1', ...url]);
    assert.equal(taken.code, EXIT.apiError);
    assert.equal(
      taken.err,
      'Conflict (--name): replay "fix-1" exists — that replay name is taken: pick another --name (see `junction replay list`)\n',
    );
  });

  test('trace --follow prints the emitted events journeys indented under their parent', async () => {
    const entry = (kind: string, detail: Record<string, unknown> = {}) => ({ at: 0, kind, detail });
    routes.set('GET /events/o-1/trace', {
      body: {
        source: '/shop',
        id: 'o-1',
        entries: [entry('received', { partition: 0, offset: 1 })],
        emitted: [
          {
            source: '/functions/enrich',
            id: 'e-1',
            entries: [entry('received', { partition: 1, offset: 2 })],
            emitted: [{ source: '/functions/notify', id: 'n-1', entries: [] }],
          },
        ],
      },
    });
    const run = await cli(['trace', 'o-1', '--source', '/shop', '--follow', ...url]);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.equal(seen[0]!.url, '/events/o-1/trace?source=%2Fshop&follow=true');
    assert.deepEqual(run.out.trimEnd().split('\n'), [
      '/shop o-1',
      '  1970-01-01T00:00:00.000Z  received        partition 0 offset 1',
      '  ↳ emitted',
      '    /functions/enrich e-1',
      '      1970-01-01T00:00:00.000Z  received        partition 1 offset 2',
      '      ↳ emitted',
      '        /functions/notify n-1',
    ]);
  });

  test('dead-letters list passes --cursor and shows the next page', async () => {
    routes.set('GET /dead-letters', { body: { deadLetters: [], nextCursor: 'p2' } });
    const run = await cli(['dead-letters', 'list', '--rule', 'r', '--cursor', 'p1', ...url]);
    assert.equal(run.code, EXIT.ok, run.err);
    assert.equal(seen[0]!.url, '/dead-letters?rule=r&cursor=p1');
    assert.equal(run.out, 'no dead letters\nmore: junction dead-letters list --rule "r" --cursor p2\n');
  });

  test('a bus without these endpoints says so', async () => {
    const run = await cli(['deliveries', 'list', ...url]);
    assert.equal(run.code, EXIT.apiError);
    assert.equal(run.err, 'NotFound: no route for GET /deliveries — is the bus older than this CLI?\n');
  });
});
