/**
 * Issue 11, pending deliveries: `GET /deliveries` shows what waits for a target that is down (state, attempts, the
 * last attempt), filtered and paged; `POST /deliveries/retry` makes them due now instead of at their backoff.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

/** A minute between attempts: anything delivered within the test's deadlines was retried by hand. */
const SLOW_RETRY = { backoff: { kind: 'fixed', initialMs: 60_000, maxMs: 60_000, jitter: false } };

// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
type Listed = any;

async function publish(bus: TestBus, events: unknown[]): Promise<void> {
  const res = await request(bus.url, 'POST', '/events', JSON.stringify(events), {
    'content-type': 'application/cloudevents-batch+json',
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.failed, 0);
}

async function pending(bus: TestBus, query = ''): Promise<Listed[]> {
  const res = await request(bus.url, 'GET', `/deliveries?state=pending${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.deliveries;
}

/** Every live delivery, pending or in flight: one being sent is in flight, so "none pending" is not "all done". */
async function live(bus: TestBus, query = ''): Promise<Listed[]> {
  const res = await request(bus.url, 'GET', `/deliveries?limit=1000${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.deliveries;
}

describe('pending deliveries', () => {
  let bus: TestBus;
  let web: HttpTarget;
  let up = false;
  before(async () => {
    web = await startHttpTarget(() => ({ status: up ? 200 : 503 }));
    bus = await startTestBus();
    for (const name of ['a', 'b']) {
      const put = await request(bus.url, 'PUT', `/rules/${name}`, {
        pattern: { type: [`type.${name}`] },
        targets: [{ id: 'web', type: 'http', url: web.url, retry: SLOW_RETRY }],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
    }
    await publish(bus, [
      ...Array.from({ length: 3 }, (_, i) => makeEvent({ source: '/d', id: `a-${i}`, type: 'type.a' })),
      ...Array.from({ length: 2 }, (_, i) => makeEvent({ source: '/d', id: `b-${i}`, type: 'type.b' })),
    ]);
    await waitFor(
      async () => (await pending(bus)).filter((d) => d.attempts === 1).length === 5,
      'five deliveries that failed once',
    );
  });
  after(async () => {
    await bus.stop();
    await web.close();
  });

  test('lists pending deliveries with their attempts and the last attempt', async () => {
    const all = await pending(bus);
    assert.equal(all.length, 5);
    const first = all.find((d) => d.id === 'a-0');
    assert.equal(first.source, '/d');
    assert.equal(first.rule, 'a');
    assert.equal(first.target, 'web');
    assert.equal(first.state, 'pending');
    assert.equal(first.attempts, 1);
    assert.equal(first.lastAttempt.outcome, 'failed');
    assert.equal(first.lastAttempt.status, 503);
    assert.equal(typeof first.lastAttempt.at, 'number');
    assert.equal(typeof first.lastAttempt.latencyMs, 'number');
    assert.ok(first.dueAt > first.lastAttempt.at, 'due at its backoff');
    assert.equal(typeof first.createdAt, 'number');
    const ids = (list: Listed[]) => list.map((d) => d.id).sort();
    assert.deepEqual(ids(await pending(bus, '&rule=b')), ['b-0', 'b-1']);
    assert.deepEqual(ids(await pending(bus, '&rule=b&target=web')), ['b-0', 'b-1']);
    assert.deepEqual(ids(await pending(bus, '&target=nope')), []);
    const inFlight = await request(bus.url, 'GET', '/deliveries?state=in-flight');
    assert.deepEqual(inFlight.body, { deliveries: [] });
  });

  test('pages with nextCursor and caps the limit at 1,000', async () => {
    const seen: string[] = [];
    let path = '/deliveries?limit=2';
    for (let pages = 0; pages < 10; pages++) {
      const res = await request(bus.url, 'GET', path);
      assert.equal(res.status, 200);
      assert.ok(res.body.deliveries.length <= 2);
      seen.push(...res.body.deliveries.map((d: Listed) => `${d.rule}/${d.id}`));
      if (res.body.nextCursor === undefined) break;
      path = `/deliveries?limit=2&cursor=${encodeURIComponent(res.body.nextCursor)}`;
    }
    assert.deepEqual(seen.sort(), ['a/a-0', 'a/a-1', 'a/a-2', 'b/b-0', 'b/b-1']);
    for (const [query, field] of [
      ['limit=1001', 'limit'],
      ['limit=0', 'limit'],
      ['limit=x', 'limit'],
      ['state=done', 'state'],
      ['cursor=nonsense', 'cursor'],
    ]) {
      const res = await request(bus.url, 'GET', `/deliveries?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, 'InvalidRequest');
      assert.equal(res.body.error.field, field);
    }
    assert.equal((await request(bus.url, 'GET', '/deliveries?limit=1000')).status, 200);
  });

  test('refuses a retry that does not say what to retry', async () => {
    for (const [body, field] of [
      [{}, 'all'],
      [{ all: false }, 'all'],
      [{ all: true, rule: 'a' }, 'all'],
      [{ keys: [] }, 'keys'],
      [{ keys: [{ source: '/d', id: 'a-0', rule: 'a' }] }, 'keys[0].target'],
      [{ rule: 7 }, 'rule'],
    ] as const) {
      const res = await request(bus.url, 'POST', '/deliveries/retry', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'InvalidRequest');
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
    const empty = await request(bus.url, 'POST', '/deliveries/retry', '[]', {
      'content-type': 'application/json',
    });
    assert.equal(empty.status, 400);
  });

  test('retries a rule, then one key, then all, long before their backoff', async () => {
    up = true;
    const delivered = () => new Set(web.received.filter((r) => r.at > 0).map((r) => r.headers['ce-id']));
    const before = web.received.length;
    const rule = await request(bus.url, 'POST', '/deliveries/retry', { rule: 'a' });
    assert.deepEqual(rule.body, { retried: 3 });
    await waitFor(async () => (await live(bus, '&rule=a')).length === 0, 'rule a delivered', 15_000);
    assert.equal((await pending(bus, '&rule=b')).length, 2, 'rule b still waits');
    const [key] = await pending(bus, '&rule=b');
    const one = await request(bus.url, 'POST', '/deliveries/retry', {
      keys: [{ source: key.source, id: key.id, rule: key.rule, target: key.target }],
    });
    assert.deepEqual(one.body, { retried: 1 });
    await waitFor(async () => (await live(bus, '&rule=b')).length === 1, 'one of rule b delivered', 15_000);
    const all = await request(bus.url, 'POST', '/deliveries/retry', { all: true });
    assert.deepEqual(all.body, { retried: 1 });
    await waitFor(async () => (await live(bus)).length === 0, 'everything delivered', 15_000);
    assert.equal(web.received.length - before, 5);
    assert.ok(['a-0', 'a-1', 'a-2', 'b-0', 'b-1'].every((id) => delivered().has(id)));
    assert.deepEqual((await request(bus.url, 'POST', '/deliveries/retry', { all: true })).body, {
      retried: 0,
    });
  });
});

test('lists an exactly-once delivery that is being delivered as in flight', async () => {
  const slow = await startHttpTarget(() => ({ status: 200, delayMs: 1500 }));
  const bus = await startTestBus();
  try {
    await request(bus.url, 'PUT', '/rules/slow', {
      pattern: { type: ['slow'] },
      targets: [{ id: 'web', type: 'http', url: slow.url, delivery: 'exactly-once' }],
    });
    await publish(bus, [makeEvent({ source: '/d', id: 'slow-1', type: 'slow' })]);
    let seen: Listed;
    await waitFor(async () => {
      const res = await request(bus.url, 'GET', '/deliveries?state=in-flight');
      seen = res.body.deliveries[0];
      return seen !== undefined;
    }, 'the delivery in flight');
    assert.equal(seen.id, 'slow-1');
    assert.equal(seen.state, 'in-flight');
    assert.equal(seen.attempts, 0);
    assert.equal(seen.lastAttempt, undefined);
    assert.equal(typeof seen.leaseUntil, 'number');
    await waitFor(
      async () => (await request(bus.url, 'GET', '/deliveries')).body.deliveries.length === 0,
      'done',
    );
  } finally {
    await bus.stop();
    await slow.close();
  }
});
