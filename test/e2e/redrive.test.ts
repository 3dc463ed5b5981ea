/**
 * Issue 12: a redrive of more than 1,000 dead letters re-read its first page forever (the bus stopped answering and
 * ignored SIGTERM). The bus runs as a child process over 2,500 seeded dead letters; the redrive must finish, every
 * letter be redriven and delivered, the bus answer, and SIGTERM stop it. Also: list limits are capped and
 * `GET /dead-letters` pages with `nextCursor`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { validateRule } from '../../lib/core/rule.ts';
import type { DeadLetter } from '../../lib/ports.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';
import { freePort, kill9, startChildBus } from './support/child-bus.ts';

const LETTERS = 2_500;

function letter(i: number, rule: string, target: string, at: number): DeadLetter {
  const event = makeEvent({ source: '/redrive', id: `dl-${i}` });
  return {
    dlId: `letter-${String(i).padStart(5, '0')}`,
    source: event.source,
    id: event.id,
    rule,
    target,
    event,
    reason: 'HTTP 400',
    attempts: [{ at, outcome: 'failed', status: 400, error: 'HTTP 400', latencyMs: 1 }],
    // Several letters share each millisecond, as after a burst of failures.
    at: at + Math.floor(i / 7),
  };
}

test('redrives 2,500 dead letters to the end; the bus answers meanwhile and SIGTERM still stops it', {
  timeout: 180_000,
}, async () => {
  const dir = tempDir('junction-redrive-');
  const web = await startHttpTarget();
  const dataDir = join(dir.path, 'data');
  const stores = openSqliteStores({ dataDir });
  const now = Date.now();
  await stores.rules.put(
    validateRule(
      'orders',
      { pattern: { source: ['/redrive'] }, targets: [{ id: 'web', type: 'http', url: web.url }] },
      now,
    ),
  );
  for (let i = 0; i < LETTERS; i += 250) {
    await Promise.all(
      Array.from({ length: 250 }, (_, j) =>
        stores.deadLetters.add(letter(i + j, 'orders', 'web', now - 60_000)),
      ),
    );
  }
  assert.equal(await stores.deadLetters.count(), LETTERS);
  await stores.close();
  const bus = await startChildBus(dataDir, await freePort());
  try {
    const redrive = request(bus.url, 'POST', '/dead-letters/redrive', { all: true });
    // The bus keeps answering while the redrive runs.
    const health = await request(bus.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    const result = await Promise.race([
      redrive,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the redrive did not answer in 90 s')), 90_000).unref(),
      ),
    ]);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    assert.deepEqual(result.body, { redriven: LETTERS, skipped: 0 });
    const left = await request(bus.url, 'GET', '/dead-letters?limit=10');
    assert.deepEqual(left.body.deadLetters, []);
    await waitFor(
      () => new Set(web.received.map((r) => r.headers['ce-id'])).size === LETTERS,
      'every redriven letter delivered',
      60_000,
    );
    assert.equal((await request(bus.url, 'GET', '/healthz')).status, 200);
    const exited = new Promise<number | null>((resolve) => bus.child.once('exit', (code) => resolve(code)));
    bus.child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000).unref()),
    ]);
    assert.equal(code, 0, 'SIGTERM stops the bus');
  } finally {
    await kill9(bus);
    await web.close();
    dir.remove();
  }
});

let bus: TestBus;
let failing: HttpTarget;
before(async () => {
  failing = await startHttpTarget(() => ({ status: 400 }));
  bus = await startTestBus();
  const put = await request(bus.url, 'PUT', '/rules/fails', {
    pattern: { source: ['/fails'] },
    targets: [{ id: 'web', type: 'http', url: failing.url }],
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const events = Array.from({ length: 7 }, (_, i) => makeEvent({ source: '/fails', id: `f-${i}` }));
  const sent = await request(bus.url, 'POST', '/events', JSON.stringify(events), {
    'content-type': 'application/cloudevents-batch+json',
  });
  assert.equal(sent.status, 200);
  await waitFor(async () => {
    const list = await request(bus.url, 'GET', '/dead-letters?limit=100');
    return list.body.deadLetters.length === 7;
  }, '7 dead letters');
});
after(async () => {
  await bus.stop();
  await failing.close();
});

test('pages GET /dead-letters with nextCursor, newest first, each letter once', async () => {
  const seen: string[] = [];
  let path = '/dead-letters?limit=3';
  for (let pages = 0; pages < 10; pages++) {
    const res = await request(bus.url, 'GET', path);
    assert.equal(res.status, 200);
    assert.ok(res.body.deadLetters.length <= 3);
    seen.push(...res.body.deadLetters.map((l: { dlId: string }) => l.dlId));
    if (res.body.nextCursor === undefined) break;
    path = `/dead-letters?limit=3&cursor=${encodeURIComponent(res.body.nextCursor)}`;
  }
  assert.equal(seen.length, 7);
  assert.equal(new Set(seen).size, 7);
  const all = await request(bus.url, 'GET', '/dead-letters');
  assert.equal(all.body.nextCursor, undefined, 'no cursor when everything fits');
});

test('refuses a dead-letter limit over 1,000 and a cursor it did not make', async () => {
  const big = await request(bus.url, 'GET', '/dead-letters?limit=1001');
  assert.equal(big.status, 400);
  assert.equal(big.body.error.code, 'InvalidRequest');
  assert.equal(big.body.error.field, 'limit');
  assert.equal((await request(bus.url, 'GET', '/dead-letters?limit=1000')).status, 200);
  const bad = await request(bus.url, 'GET', '/dead-letters?cursor=zzz');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.field, 'cursor');
});
