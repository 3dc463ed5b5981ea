/** `junction dev` as a developer meets it: a busy port or a taken data dir in one line, and what happens, shown. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEV_START_FAILED, runDev } from '../../lib/cli/dev.ts';
import { fixtureFunction, request } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { metricValue } from '../helpers/metrics.ts';
import { startOtlpCollector } from '../helpers/otlp-collector.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';

function devOptions(dataDir: string, port = 0) {
  return { port, host: '127.0.0.1', dataDir };
}

function collector() {
  let out = '';
  let err = '';
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return {
    io: {
      out: (t: string) => {
        out += t;
      },
      err: (t: string) => {
        err += t;
      },
      stopped,
    },
    out: () => out,
    err: () => err,
    stop: () => stop(),
  };
}

describe('junction dev', () => {
  let blocker: Server;
  let busyPort: number;
  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    busyPort = (blocker.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => blocker.close(() => resolve())));

  it('says in one line that the port is in use and exits 1 (the real executable, no stack)', async () => {
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        join(repoRoot, 'bin', 'junction.ts'),
        'dev',
        '--port',
        String(busyPort),
        '--data-dir',
        dir.path,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    dir.remove();
    assert.equal(stderr, `junction: port ${busyPort} is in use — stop the other process or pass --port N\n`);
    assert.equal(stdout, '');
    assert.equal(code, DEV_START_FAILED);
  });

  it('refuses a second bus on the same data dir in one line', async () => {
    const dir = tempDir();
    const first = collector();
    const running = runDev(devOptions(dir.path), first.io);
    await waitFor(() => first.out().includes('Junction is running'), 'the first bus');
    const second = collector();
    assert.equal(await runDev(devOptions(dir.path), second.io), DEV_START_FAILED);
    assert.match(
      second.err(),
      /^junction: another bus \(pid \d+, this process\) is using the data directory .*\n$/,
    );
    assert.equal(second.err().split('\n').length, 2);
    first.stop();
    assert.equal(await running, 0);
    dir.remove();
  });

  it('takes the SSRF allow-list from JUNCTION_HTTP_TARGETS_ALLOW and refuses a malformed one in one line', async () => {
    const dir = tempDir();
    const bad = collector();
    const code = await runDev(devOptions(dir.path), {
      ...bad.io,
      env: { JUNCTION_HTTP_TARGETS_ALLOW: '10.0.0.0/33' },
    });
    assert.equal(code, DEV_START_FAILED);
    assert.equal(
      bad.err(),
      'junction: httpTargets.allow[0] must be an IP address or a CIDR block such as "10.0.0.0/8", got "10.0.0.0/33"\n',
    );
    const good = collector();
    const running = runDev(devOptions(dir.path), {
      ...good.io,
      env: { JUNCTION_HTTP_TARGETS_ALLOW: ' 10.0.0.0/8 ' },
    });
    await waitFor(() => /running at (\S+)/.test(good.out()), 'the banner');
    const url = (/running at (\S+)/.exec(good.out()) as RegExpExecArray)[1] as string;
    const rule = { pattern: { type: ['t'] }, targets: [{ id: 'h', type: 'http', url: 'http://10.9.9.9/x' }] };
    assert.equal((await request(url, 'PUT', '/rules/intranet', rule)).status, 201);
    const refused = { ...rule, targets: [{ id: 'h', type: 'http', url: 'http://192.168.0.1/x' }] };
    assert.equal((await request(url, 'PUT', '/rules/home', refused)).status, 400);
    good.stop();
    assert.equal(await running, 0);
    dir.remove();
  });

  it('shows failing deliveries once per target and the dead letter while it runs', async () => {
    const dir = tempDir();
    const c = collector();
    const running = runDev(devOptions(dir.path), c.io);
    await waitFor(() => /running at (\S+)/.test(c.out()), 'the banner');
    const url = (/running at (\S+)/.exec(c.out()) as RegExpExecArray)[1] as string;
    // Port 9 (discard): nothing listens there on a developer's machine, so the connection is refused.
    const put = await request(url, 'PUT', '/rules/r', {
      pattern: { type: ['t'] },
      targets: [
        {
          id: 'hook',
          type: 'http',
          url: 'http://127.0.0.1:9/hook',
          retry: { maxAttempts: 4, maxAgeSeconds: 60, backoff: { initialMs: 20, maxMs: 20, jitter: false } },
        },
      ],
    });
    assert.equal(put.status, 201);
    const published = await request(url, 'POST', '/events', '{}', {
      'ce-specversion': '1.0',
      'ce-id': 'dev-1',
      'ce-source': '/s',
      'ce-type': 't',
      'content-type': 'application/json',
    });
    assert.equal(published.status, 202);
    await waitFor(() => c.out().includes('dead letter: r/hook: event /s dev-1'), 'the dead-letter line');
    const failures = c
      .out()
      .split('\n')
      .filter((l) => l.startsWith('delivery failing: r/hook: '));
    assert.equal(failures.length, 1, c.out());
    assert.match(failures[0] ?? '', /POST http:\/\/127\.0\.0\.1:9\/hook failed: ECONNREFUSED/);
    c.stop();
    assert.equal(await running, 0);
    assert.match(c.out(), /last \d+ s: 1 accepted, 0 delivered, 3 retrying, 1 dead-lettered\n/);
    dir.remove();
  });

  it('writes JSON lines with --log-format json: accepted batch, failed attempt, function error, dead letter', async () => {
    const dir = tempDir();
    const c = collector();
    const running = runDev({ ...devOptions(dir.path), logFormat: 'json' }, c.io);
    const lines = () =>
      c
        .out()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => c.out().includes('\n'), 'the started line');
    const started = lines()[0] as Record<string, unknown>;
    assert.equal(started.event, 'started');
    const url = started.url as string;
    const deployed = await request(url, 'PUT', '/functions/throws', fixtureFunction('throws'));
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const once = { maxAttempts: 1, maxAgeSeconds: 60 };
    const put = await request(url, 'PUT', '/rules/r', {
      pattern: { type: ['t'] },
      targets: [
        { id: 'hook', type: 'http', url: 'http://127.0.0.1:9/hook', retry: once },
        { id: 'fn', type: 'function', function: 'throws', retry: once },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const published = await request(url, 'POST', '/events', '{}', {
      'ce-specversion': '1.0',
      'ce-id': 'dev-json-1',
      'ce-source': '/s',
      'ce-type': 't',
      'content-type': 'application/json',
    });
    assert.equal(published.status, 202);
    await waitFor(
      () => lines().filter((l) => l.event === 'dead-lettered').length === 2,
      'two dead-letter lines',
    );
    const all = lines();
    const of = (event: string) => all.filter((l) => l.event === event);
    const accepted = of('accepted');
    assert.equal(accepted.length, 1, c.out());
    assert.equal(accepted[0]?.bus, 'default');
    assert.equal(accepted[0]?.count, 1);
    assert.deepEqual(accepted[0]?.events, [{ source: '/s', id: 'dev-json-1' }]);
    const failed = of('delivery-failed');
    assert.equal(failed.length, 1, c.out());
    assert.equal(failed[0]?.target, 'hook');
    assert.equal(failed[0]?.id, 'dev-json-1');
    assert.match(String(failed[0]?.error), /ECONNREFUSED/);
    const fnError = of('function-error');
    assert.equal(fnError.length, 1, c.out());
    assert.equal(fnError[0]?.target, 'fn');
    assert.equal(fnError[0]?.source, '/s');
    assert.match(String(fnError[0]?.code), /^Function/);
    for (const line of of('dead-lettered')) {
      assert.equal(line.id, 'dev-json-1');
      assert.equal(line.rule, 'r');
      assert.equal(typeof line.dlId, 'string');
      assert.equal(line.level, 'error');
    }
    for (const line of all)
      assert.ok(!Number.isNaN(Date.parse(String(line.time))), `${line.event} has a time`);
    c.stop();
    assert.equal(await running, 0);
    const after = lines();
    assert.ok(after.some((l) => l.event === 'stopping'));
    assert.ok(
      after.some((l) => l.event === 'summary' && l.deadLettered === 2),
      c.out(),
    );
    dir.remove();
  });

  it('exports OpenTelemetry spans with --otlp-endpoint', async () => {
    const dir = tempDir();
    const otlp = await startOtlpCollector();
    const c = collector();
    const running = runDev({ ...devOptions(dir.path), logFormat: 'json', otlpEndpoint: otlp.url }, c.io);
    await waitFor(() => c.out().includes('\n'), 'the started line');
    const url = (JSON.parse(c.out().split('\n')[0] as string) as { url: string }).url;
    const published = await request(url, 'POST', '/events', '{}', {
      'ce-specversion': '1.0',
      'ce-id': 'dev-otel-1',
      'ce-source': '/s',
      'ce-type': 't',
      'content-type': 'application/json',
    });
    assert.equal(published.status, 202);
    await waitFor(
      () =>
        otlp.spans.some((s) => s.name === 'ingest' && s.attributes['cloudevents.event_id'] === 'dev-otel-1'),
      'the ingest span at the collector',
      60_000,
    );
    c.stop();
    assert.equal(await running, 0);
    await otlp.close();
    dir.remove();
  });

  it('holds at most --dedup-memory-keys keys of a short window in memory, in a bus of its process or its own', async () => {
    const dir = tempDir();
    const c = collector();
    const running = runDev({ ...devOptions(dir.path), dedupMemoryKeys: 2 }, c.io);
    await waitFor(() => /running at (\S+)/.exec(c.out()) !== null, 'the banner');
    const url = (/running at (\S+)/.exec(c.out()) as RegExpExecArray)[1] as string;
    try {
      for (const [name, isolation] of [
        ['brief', 'shared'],
        ['apart', 'process'],
      ] as const) {
        const put = await request(url, 'PUT', `/buses/${name}`, { dedupWindowMs: 120_000, isolation });
        assert.equal(put.status, 201, JSON.stringify(put.body));
        const events = Array.from({ length: 3 }, (_, i) => ({
          specversion: '1.0',
          id: `k-${i}`,
          source: '/s',
          type: 't',
        }));
        for (const event of events) {
          const res = await request(url, 'POST', `/buses/${name}/events`, JSON.stringify(event), {
            'content-type': 'application/cloudevents+json',
          });
          assert.equal(res.status, 202, JSON.stringify(res.body));
        }
        const text = await (await fetch(`${url}/buses/${name}/metrics`)).text();
        assert.equal(metricValue(text, 'junction_sqlite_dedup_keys_in_memory', { bus: name }), 2, name);
        assert.equal(metricValue(text, 'junction_sqlite_dedup_keys_spilled_total', { bus: name }), 1, name);
      }
    } finally {
      c.stop();
      assert.equal(await running, 0, c.err());
      dir.remove();
    }
  });

  it('stops by --stop-deadline-ms while a target holds requests, and says how many it cut off', async () => {
    const dir = tempDir();
    const held = new Set<Socket>();
    // Accepts connections and never answers.
    const silent = createServer((socket) => {
      held.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const c = collector();
    const running = runDev({ ...devOptions(dir.path), stopDeadlineMs: 500 }, c.io);
    await waitFor(() => /running at (\S+)/.test(c.out()), 'the banner');
    const url = (/running at (\S+)/.exec(c.out()) as RegExpExecArray)[1] as string;
    const put = await request(url, 'PUT', '/rules/r', {
      pattern: { type: ['t'] },
      targets: [{ id: 'silent', type: 'http', url: `http://127.0.0.1:${silentPort}/`, timeoutMs: 600_000 }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const events = Array.from({ length: 3 }, (_, i) => ({
      specversion: '1.0',
      id: `s-${i}`,
      source: '/s',
      type: 't',
    }));
    const res = await request(url, 'POST', '/events', JSON.stringify(events), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(res.status, 200);
    await waitFor(() => held.size >= 1, 'a held request');
    c.stop();
    assert.equal(await running, 0, c.err());
    assert.match(c.out(), /stopping \(within 0\.5 s\)…\n/);
    assert.match(c.out(), /\d+ deliveries were still running at the deadline: cut off, they stay pending/);
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    dir.remove();
  });
});
