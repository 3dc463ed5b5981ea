/**
 * A bus in a process of its own (issue #13, `"isolation": "process"`): the deployment starts a bus process for it,
 * hands it the bus's requests (the live tail streamed), reaches it from other buses' `bus` targets and it them,
 * merges its series into `/metrics`, starts it again when it dies, stops it on close and on delete, and opens it
 * again on the next start; moving a bus in and out of its process keeps its data.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { statField } from '../../lib/server/proc-stat.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { freePort } from '../helpers/net.ts';
import { openSse } from '../helpers/sse.ts';
import { alive } from '../kafka/broker.ts';

const CE = { 'content-type': 'application/cloudevents+json' };

/** Field `n` (1-based, as proc(5) numbers them) of the /proc stat file at `path`. */
function statFieldOf(path: string, n: number): number {
  return statField(readFileSync(path, 'utf8'), n);
}

/** Asserts that every thread of process `pid` has `value` in stat field `n` (Linux's priority is per thread). */
function assertEveryThread(pid: number, n: number, value: number): void {
  const threads = readdirSync(`/proc/${pid}/task`);
  assert.ok(threads.length > 1, 'node runs several threads');
  for (const tid of threads)
    assert.equal(statFieldOf(`/proc/${pid}/task/${tid}/stat`, n), value, `thread ${tid}`);
}

function event(id: string, type = 'order.placed') {
  return { specversion: '1.0', id, source: '/shop', type, datacontenttype: 'application/json', data: { id } };
}

describe('a bus in a process of its own', () => {
  let bus: TestBus;
  let target: HttpTarget;
  const received = (path: string) =>
    target.received.filter((r) => r.url === path).map((r) => String(r.headers['ce-id']));
  const pidOf = async (name: string): Promise<number> => {
    const got = await request(bus.url, 'GET', `/buses/${name}`);
    assert.equal(got.status, 200, JSON.stringify(got.body));
    return got.body.process?.pid as number;
  };

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    target = await startHttpTarget();
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  test('PUT /buses/{name} with isolation "process" starts a bus process; a bad value names the field', async () => {
    const bad = await request(bus.url, 'PUT', '/buses/iso', { isolation: 'thread' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidBus');
    assert.equal(bad.body.error.field, 'isolation');
    const made = await request(bus.url, 'PUT', '/buses/iso', { isolation: 'process' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.isolation, 'process');
    assert.equal(made.body.process.state, 'running');
    const pid = made.body.process.pid as number;
    assert.ok(
      Number.isInteger(pid) && pid !== process.pid && alive(pid),
      `a live process of its own: ${pid}`,
    );
    const shared = await request(bus.url, 'PUT', '/buses/plain', {});
    assert.equal(shared.body.isolation, 'shared');
    assert.equal(shared.body.process, undefined);
  });

  test('its rules run in its process, and bus targets cross into and out of it', async () => {
    const url = (path: string) => `${target.url}${path}`;
    const put = async (path: string, body: unknown) => {
      const res = await request(bus.url, 'PUT', path, body);
      assert.equal(res.status, 201, JSON.stringify(res.body));
    };
    await put('/buses/iso/rules/out', {
      pattern: { type: ['order.placed'] },
      targets: [
        { id: 'h', type: 'http', url: url('/iso') },
        { id: 'up', type: 'bus', bus: 'default' },
      ],
    });
    await put('/rules/seen', {
      pattern: { type: ['order.placed'] },
      targets: [{ id: 'h', type: 'http', url: url('/default') }],
    });
    await put('/rules/down', {
      pattern: { type: ['order.shipped'] },
      targets: [{ id: 'b', type: 'bus', bus: 'iso' }],
    });
    await put('/buses/iso/rules/shipped', {
      pattern: { type: ['order.shipped'] },
      targets: [{ id: 'h', type: 'http', url: url('/iso-shipped') }],
    });
    // A bus target naming a bus that does not exist is refused by the bus process too.
    const none = await request(bus.url, 'PUT', '/buses/iso/rules/nowhere', {
      pattern: { type: ['x'] },
      targets: [{ id: 'b', type: 'bus', bus: 'nope' }],
    });
    assert.equal(none.status, 400);
    assert.match(none.body.error.message, /no bus named "nope"/);
    // A bus created after the bus process started is known to it at once.
    assert.equal((await request(bus.url, 'PUT', '/buses/later', {})).status, 201);
    await put('/buses/iso/rules/to-later', {
      pattern: { type: ['x'] },
      targets: [{ id: 'b', type: 'bus', bus: 'later' }],
    });

    assert.equal((await request(bus.url, 'POST', '/buses/iso/events', event('p-1'), CE)).status, 202);
    await waitFor(
      () => received('/iso').includes('p-1') && received('/default').includes('p-1'),
      'p-1 at both',
    );
    assert.equal((await request(bus.url, 'POST', '/events', event('s-1', 'order.shipped'), CE)).status, 202);
    await waitFor(() => received('/iso-shipped').includes('s-1'), 's-1 forwarded into the bus process');
    const listed = await request(bus.url, 'GET', '/buses/iso/rules');
    assert.deepEqual(listed.body.rules.map((r: { name: string }) => r.name).sort(), [
      'out',
      'shipped',
      'to-later',
    ]);
    // Nothing of the isolated bus shows on the default bus or on another, and the reverse.
    const defaults = await request(bus.url, 'GET', '/rules');
    assert.deepEqual(defaults.body.rules.map((r: { name: string }) => r.name).sort(), ['down', 'seen']);
    assert.equal((await request(bus.url, 'GET', '/buses/plain/rules')).body.rules.length, 0);
  });

  test('the live tail streams through the front door', async () => {
    const s = await openSse(`${bus.url}/buses/iso/events/tail`);
    try {
      assert.equal(s.status, 200);
      await s.until(() => s.comments.includes('tailing'), 'the tail to start');
      assert.equal((await request(bus.url, 'POST', '/buses/iso/events', event('t-1'), CE)).status, 202);
      await s.until((frames) => frames.some((f) => f.data.includes('"t-1"')), 't-1 on the tail');
    } finally {
      s.close();
    }
  });

  test("/metrics merges the bus process's series, labelled with its bus", async () => {
    const text = String((await request(bus.url, 'GET', '/metrics')).body);
    const lines = text.split('\n');
    assert.ok(
      lines.some((l) => /^junction_\w+\{[^}]*bus="iso"/.test(l)),
      'the engine series of bus iso',
    );
    assert.ok(
      lines.some((l) => /^process_cpu_seconds_total\{bus="iso"\}|^nodejs_\w+\{[^}]*bus="iso"/.test(l)),
      'the bus process series, labelled',
    );
    for (const family of lines.filter((l) => l.startsWith('# TYPE '))) {
      assert.equal(lines.filter((l) => l === family).length, 1, `${family} once in the exposition`);
    }
    const own = String((await request(bus.url, 'GET', '/buses/iso/metrics')).body);
    assert.match(own, /bus="iso"/);
    assert.doesNotMatch(own, /bus="default"/);
  });

  test('nice lowers the CPU priority of every thread of the bus process', async () => {
    const made = await request(bus.url, 'PUT', '/buses/low', { isolation: 'process', nice: 10 });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.nice, 10);
    // The 19th field of stat is the niceness.
    assertEveryThread(made.body.process.pid as number, 19, 10);
    assert.equal(statFieldOf(`/proc/${process.pid}/stat`, 19), 0, 'the deployment is not niced');
    assert.equal((await request(bus.url, 'DELETE', '/buses/low')).status, 204);
  });

  test('nice "idle" runs every thread of the bus process in SCHED_IDLE, and the bus serves as before', async () => {
    const made = await request(bus.url, 'PUT', '/buses/idle', { isolation: 'process', nice: 'idle' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.nice, 'idle');
    // The 41st field of stat is the scheduling policy: 5 is SCHED_IDLE, 0 SCHED_OTHER.
    assertEveryThread(made.body.process.pid as number, 41, 5);
    assert.equal(statFieldOf(`/proc/${process.pid}/stat`, 41), 0, 'the deployment is not idle');
    const sent = await request(bus.url, 'POST', '/buses/idle/events', event('idle-1'), CE);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    // The threads it started since (to append, to answer) inherited the class.
    assertEveryThread(made.body.process.pid as number, 41, 5);
    assert.equal((await request(bus.url, 'DELETE', '/buses/idle')).status, 204);
  });

  test('a bus process that dies is started again, its data intact, and requests meanwhile wait', async () => {
    const pid = await pidOf('iso');
    process.kill(pid, 'SIGKILL');
    // A request sent while it is down waits for the new process rather than failing.
    const during = await request(bus.url, 'POST', '/buses/iso/events', event('k-1'), CE);
    assert.equal(during.status, 202, JSON.stringify(during.body));
    await waitFor(async () => {
      const got = await request(bus.url, 'GET', '/buses/iso');
      return got.body.process?.state === 'running' && got.body.process.pid !== pid;
    }, 'the bus process to run again');
    const got = await request(bus.url, 'GET', '/buses/iso');
    assert.ok(got.body.process.restarts >= 1);
    await waitFor(() => received('/iso').includes('k-1'), 'k-1 delivered by the new process');
    const rules = await request(bus.url, 'GET', '/buses/iso/rules');
    assert.equal(rules.body.rules.length, 3);
  });

  test('moving a bus out of its process and back keeps its rules and events', async () => {
    const before = await pidOf('iso');
    const out = await request(bus.url, 'PUT', '/buses/iso', { isolation: 'shared' });
    assert.equal(out.status, 200, JSON.stringify(out.body));
    assert.equal(out.body.process, undefined);
    await waitFor(() => !alive(before), 'the old bus process to end');
    assert.equal((await request(bus.url, 'GET', '/buses/iso/rules')).body.rules.length, 3);
    assert.equal((await request(bus.url, 'POST', '/buses/iso/events', event('m-1'), CE)).status, 202);
    await waitFor(() => received('/iso').includes('m-1'), 'm-1 delivered in process');
    const back = await request(bus.url, 'PUT', '/buses/iso', { isolation: 'process' });
    assert.equal(back.status, 200);
    assert.equal(back.body.process.state, 'running');
    assert.equal((await request(bus.url, 'GET', '/buses/iso/rules')).body.rules.length, 3);
  });

  test('the next start opens it in a process again; close stops the process; delete removes it', async () => {
    const pid = await pidOf('iso');
    await bus.stop({ keepData: true });
    assert.ok(!alive(pid), 'the bus process ended with the deployment');
    bus = await bus.restart();
    const again = await pidOf('iso');
    assert.ok(alive(again) && again !== pid);
    assert.equal((await request(bus.url, 'GET', '/buses/iso/rules')).body.rules.length, 3);
    assert.equal((await request(bus.url, 'POST', '/buses/iso/events', event('r-1'), CE)).status, 202);
    await waitFor(() => received('/iso').includes('r-1'), 'r-1 after the restart');
    const refused = await request(bus.url, 'DELETE', '/buses/iso');
    assert.equal(refused.status, 409);
    const deleted = await request(bus.url, 'DELETE', '/buses/iso?force=true');
    assert.equal(deleted.status, 204);
    await waitFor(() => !alive(again), 'the deleted bus process to end');
    assert.ok(!existsSync(join(bus.dataDir, 'buses', 'iso')));
    assert.equal((await request(bus.url, 'GET', '/buses/iso')).status, 404);
    assert.equal((await request(bus.url, 'GET', '/buses/plain/rules')).status, 200);
  });
});

describe("an isolated bus's own endpoint (port)", () => {
  let bus: TestBus;
  let target: HttpTarget;
  let admin = '';
  let endpoint = '';
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const key = async (name: string, scope: string, on: string) => {
    const made = await request(bus.url, 'POST', '/keys', { name, scope, bus: on }, bearer(admin));
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return made.body.key as string;
  };

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    target = await startHttpTarget();
    admin = (await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' })).body.key;
  });
  after(async () => {
    await bus?.stop();
    await target?.close();
  });

  test('port needs isolation process, and a port in use is refused with the bus left as it was', async () => {
    const shared = await request(bus.url, 'PUT', '/buses/fast', { port: 1234 }, bearer(admin));
    assert.equal(shared.status, 400);
    assert.equal(shared.body.error.field, 'port');
    const taken = await request(
      bus.url,
      'PUT',
      '/buses/fast',
      { isolation: 'process', port: bus.port },
      bearer(admin),
    );
    assert.equal(taken.status, 400, JSON.stringify(taken.body));
    assert.match(taken.body.error.message, /in use/);
    // Not stored: the next test's PUT creates it (201).
  });

  test('its publishers reach it on its own port, authenticated with the deployment keys', async () => {
    const port = await freePort();
    const made = await request(bus.url, 'PUT', '/buses/fast', { isolation: 'process', port }, bearer(admin));
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.port, port);
    endpoint = made.body.process.endpoint;
    assert.equal(endpoint, `http://127.0.0.1:${port}`);
    assert.equal((await request(bus.url, 'PUT', '/buses/other', {}, bearer(admin))).status, 201);
    const manager = await key('fast-manage', 'manage', 'fast');
    const rule = await request(
      bus.url,
      'PUT',
      '/buses/fast/rules/r',
      {
        pattern: { type: ['order.placed'] },
        targets: [{ id: 'h', type: 'http', url: `${target.url}/fast` }],
      },
      bearer(manager),
    );
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    // Keys made after the bus process started are honoured at once; a key of another bus is not.
    const fastKey = await key('fast-pub', 'publish', 'fast');
    const otherKey = await key('other-pub', 'publish', 'other');
    const none = await request(endpoint, 'POST', '/events', event('e-0'), CE);
    assert.equal(none.status, 401, JSON.stringify(none.body));
    const wrong = await request(endpoint, 'POST', '/events', event('e-1'), { ...CE, ...bearer(otherKey) });
    assert.equal(wrong.status, 403, JSON.stringify(wrong.body));
    const ok = await request(endpoint, 'POST', '/events', event('e-2'), { ...CE, ...bearer(fastKey) });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await waitFor(() => target.received.some((r) => r.headers['ce-id'] === 'e-2'), 'e-2 delivered');
    assert.ok(!target.received.some((r) => ['e-0', 'e-1'].includes(String(r.headers['ce-id']))));
    // The endpoint serves its bus only: no keys, no bus administration, no other bus.
    for (const path of ['/keys', '/buses', '/buses/other/rules']) {
      const res = await request(endpoint, 'GET', path, undefined, bearer(admin));
      assert.ok(res.status === 404 || res.status === 403, `${path}: ${res.status}`);
    }
    assert.equal((await request(endpoint, 'GET', '/healthz')).status, 200);
    assert.equal((await request(endpoint, 'GET', '/rules', undefined, bearer(fastKey))).status, 403);
    const rules = await request(endpoint, 'GET', '/rules', undefined, bearer(manager));
    assert.equal(rules.status, 200, JSON.stringify(rules.body));
    assert.deepEqual(
      rules.body.rules.map((r: { name: string }) => r.name),
      ['r'],
    );
  });

  test('EventBridge PutEvents on the endpoint must name its bus', async () => {
    const fastKey = await key('fast-pub-2', 'publish', 'fast');
    const amz = {
      ...bearer(fastKey),
      'x-amz-target': 'AWSEvents.PutEvents',
      'content-type': 'application/x-amz-json-1.1',
    };
    const entry = { Source: 'shop', DetailType: 'order.placed', Detail: '{"n":1}' };
    const unnamed = await request(endpoint, 'POST', '/', JSON.stringify({ Entries: [entry] }), amz);
    assert.equal(unnamed.status, 400, JSON.stringify(unnamed.body));
    assert.match(unnamed.body.message ?? unnamed.body.Message ?? '', /serves the event bus fast only/);
    const named = await request(
      endpoint,
      'POST',
      '/',
      JSON.stringify({ Entries: [{ ...entry, EventBusName: 'fast' }] }),
      amz,
    );
    assert.equal(named.status, 200, JSON.stringify(named.body));
    assert.equal(named.body.FailedEntryCount, 0);
  });

  test('the endpoint goes with the bus', async () => {
    assert.equal(
      (await request(bus.url, 'DELETE', '/buses/fast?force=true', undefined, bearer(admin))).status,
      204,
    );
    await assert.rejects(fetch(`${endpoint}/healthz`));
  });
});

describe("a bus process's traces and function lines reach the deployment's terminal", () => {
  let bus: TestBus;
  const traced: Array<{ kind: string; id: string; bus: string }> = [];
  const lines: Array<{ fn: string; line: string }> = [];

  before(async () => {
    bus = await startTestBus({
      pollMs: 50,
      onTrace: (entries, name) => {
        for (const e of entries) traced.push({ kind: e.kind, id: e.id, bus: name });
      },
      functionLog: (fn, line) => lines.push({ fn, line }),
    });
  });
  after(async () => {
    await bus?.stop();
  });

  test('with the bus named, as from an in-process bus', async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/iso', { isolation: 'process' })).status, 201);
    // A line, then a burst of them: they cross to the deployment in batches, every one of them and in order.
    const code =
      "export async function handler(event) { console.log('saw', event.id); for (let i = 0; i < 300; i++) console.log('line', i); }\n";
    const deployed = await request(bus.url, 'PUT', '/buses/iso/functions/logger', code, {
      'content-type': 'application/typescript',
    });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const rule = await request(bus.url, 'PUT', '/buses/iso/rules/log', {
      pattern: { type: ['order.placed'] },
      targets: [{ id: 'fn', type: 'function', function: 'logger' }],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    assert.equal((await request(bus.url, 'POST', '/buses/iso/events', event('f-1'), CE)).status, 202);
    await waitFor(
      () => traced.some((t) => t.id === 'f-1' && t.kind === 'delivered' && t.bus === 'iso'),
      'the delivered entry of f-1, named with its bus',
    );
    assert.ok(traced.some((t) => t.id === 'f-1' && t.kind === 'received' && t.bus === 'iso'));
    await waitFor(() => lines.filter((l) => l.fn === 'logger').length >= 301, "the function's 301 lines");
    const logged = lines.filter((l) => l.fn === 'logger').map((l) => l.line);
    assert.match(logged[0] as string, /saw f-1/);
    assert.deepEqual(
      logged.slice(1).map((l) => Number(/line (\d+)/.exec(l)?.[1])),
      Array.from({ length: 300 }, (_, i) => i),
    );
  });
});
