/** Delivery guarantees through the real server: retries, Retry-After, dead letters and redrive, isolation, dedup. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { keyString } from '../../lib/engine/dispatcher.ts';
import {
  fixtureFunction,
  publishBinary,
  request,
  startTestBus,
  type TestBus,
  traceOf,
} from '../helpers/bus.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';

const fixed = (ms: number, maxAttempts: number) => ({
  maxAttempts,
  maxAgeSeconds: 600,
  backoff: { kind: 'fixed', initialMs: ms, maxMs: ms, jitter: false },
});

describe('delivery guarantees', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
  });
  after(async () => {
    await bus.stop();
  });

  test('retries a failing target with backoff, traces each attempt with its delay, and delivers once', async () => {
    const target = await startHttpTarget((_r, i) =>
      i < 3 ? { status: 500, body: 'not yet' } : { status: 204 },
    );
    try {
      const rule = await request(bus.url, 'PUT', '/rules/flaky', {
        pattern: { type: ['flaky'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: target.url,
            retry: {
              maxAttempts: 10,
              maxAgeSeconds: 600,
              backoff: { kind: 'exponential', initialMs: 100, maxMs: 1000, jitter: false },
            },
          },
        ],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      assert.equal((await publishBinary(bus, { id: 'f-1', source: '/retry', type: 'flaky' })).status, 202);
      await waitFor(
        async () => (await traceOf(bus, 'f-1', '/retry')).some((e) => e.kind === 'delivered'),
        'delivery',
      );
      const trace = await traceOf(bus, 'f-1', '/retry');
      const attempts = trace.filter((e) => e.kind === 'attempt');
      assert.deepEqual(
        attempts.map((a) => [a.detail.number, a.detail.outcome, a.detail.status]),
        [
          [1, 'failed', 500],
          [2, 'failed', 500],
          [3, 'failed', 500],
          [4, 'delivered', 204],
        ],
      );
      const delays = trace.filter((e) => e.kind === 'retry-scheduled').map((e) => e.detail.delayMs);
      assert.deepEqual(delays, [100, 200, 400]);
      assert.equal(target.received.length, 4);
      for (let i = 1; i < 4; i++) {
        const gap = target.received[i]!.at - target.received[i - 1]!.at;
        assert.ok(
          gap >= (delays[i - 1] as number) - 5,
          `attempt ${i + 1} came ${gap} ms after the previous one`,
        );
      }
      // Every attempt carries the same idempotency key.
      assert.deepEqual(
        new Set(target.received.map((r) => r.headers['idempotency-key'])),
        new Set(['/retry#f-1']),
      );
    } finally {
      await target.close();
    }
  });

  test('dead-letters with the full payload once the policy is exhausted, then redrives to a fixed target once', async () => {
    let fixedUp = false;
    const target = await startHttpTarget(() => (fixedUp ? { status: 200 } : { status: 500, body: 'broken' }));
    try {
      await request(bus.url, 'PUT', '/rules/doomed', {
        pattern: { type: ['doomed'] },
        targets: [{ id: 'web', type: 'http', url: target.url, retry: fixed(30, 3) }],
      });
      const data = JSON.stringify({ order: 42, lines: ['a', 'b'], note: 'ünïcode' });
      assert.equal(
        (await publishBinary(bus, { id: 'd-1', source: '/dl', type: 'doomed' }, data, 'application/json'))
          .status,
        202,
      );
      await waitFor(
        async () =>
          (await request(bus.url, 'GET', '/dead-letters?rule=doomed')).body.deadLetters.length === 1,
        'a dead letter',
      );
      const [letter] = (await request(bus.url, 'GET', '/dead-letters?rule=doomed')).body.deadLetters;
      assert.equal(letter.rule, 'doomed');
      assert.equal(letter.target, 'web');
      assert.equal(letter.event.id, 'd-1');
      assert.deepEqual(letter.event.data, JSON.parse(data));
      assert.equal(letter.attempts.length, 3);
      assert.ok(
        letter.attempts.every(
          (a: { status: number; outcome: string }) => a.status === 500 && a.outcome === 'failed',
        ),
      );
      assert.match(letter.reason, /retries exhausted after 3 attempts/);
      assert.equal(target.received.length, 3);

      // The letter is written before the ledger closes the delivery; the trace comes last.
      await waitFor(
        async () => (await traceOf(bus, 'd-1', '/dl')).some((e) => e.kind === 'dead-lettered'),
        'dead-lettered trace',
      );
      fixedUp = true;
      const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { rule: 'doomed' });
      assert.deepEqual(redrive.body, { redriven: 1, skipped: 0 });
      await waitFor(() => target.received.length === 4, 'the redriven delivery');
      await waitFor(
        async () => (await traceOf(bus, 'd-1', '/dl')).some((e) => e.kind === 'delivered'),
        'delivered trace',
      );
      const last = target.received[3]!;
      assert.equal(last.headers['idempotency-key'], '/dl#d-1');
      assert.equal(last.body.toString('utf8'), data);
      assert.equal((await request(bus.url, 'GET', '/dead-letters?rule=doomed')).body.deadLetters.length, 0);
      const kinds = (await traceOf(bus, 'd-1', '/dl')).map((e) => e.kind);
      assert.ok(kinds.indexOf('dead-lettered') < kinds.indexOf('redriven'));
      assert.ok(kinds.indexOf('redriven') < kinds.indexOf('delivered'));
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(target.received.length, 4, 'delivered once after the redrive');
    } finally {
      await target.close();
    }
  });

  test('keeps a dead letter whose delivery is still live and skips it, rather than dropping it', async () => {
    await request(bus.url, 'PUT', '/rules/live', {
      pattern: { type: ['never-published'] },
      targets: [{ id: 'web', type: 'http', url: 'http://127.0.0.1:9/' }],
    });
    // A second connection to the bus's database: a delivery that is still pending, and a letter for it (the state
    // between the dispatcher writing the letter and closing the delivery).
    const stores = openSqliteStores({ dataDir: bus.dataDir });
    try {
      const event = makeEvent({ source: '/live', id: 'live-1', type: 'never-published' });
      const now = Date.now();
      const key = { source: '/live', id: 'live-1', rule: 'live', target: 'web' };
      await stores.ledger.enqueue([{ ...key, event, createdAt: now, dueAt: now + 600_000, attempts: [] }]);
      await stores.deadLetters.add({
        ...key,
        dlId: 'dl-live-1',
        event,
        reason: 'test',
        attempts: [],
        at: now,
      });
    } finally {
      await stores.close();
    }
    const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { ids: ['dl-live-1'] });
    assert.deepEqual(redrive.body, { redriven: 0, skipped: 1 });
    const listed = (await request(bus.url, 'GET', '/dead-letters?rule=live')).body.deadLetters;
    assert.deepEqual(
      listed.map((l: { dlId: string }) => l.dlId),
      ['dl-live-1'],
      'the letter is still there',
    );
  });

  test('dead-letters a 4xx answer at once, without retrying', async () => {
    const target = await startHttpTarget(() => ({ status: 400, body: 'bad payload' }));
    try {
      await request(bus.url, 'PUT', '/rules/rejecting', {
        pattern: { type: ['rejected'] },
        targets: [{ id: 'web', type: 'http', url: target.url, retry: fixed(10, 5) }],
      });
      await publishBinary(bus, { id: 'r-1', source: '/4xx', type: 'rejected' });
      await waitFor(
        async () =>
          (await request(bus.url, 'GET', '/dead-letters?rule=rejecting')).body.deadLetters.length === 1,
        '4xx dead letter',
      );
      assert.equal(target.received.length, 1);
      const [letter] = (await request(bus.url, 'GET', '/dead-letters?rule=rejecting')).body.deadLetters;
      assert.match(letter.reason, /not retriable.*400/);
    } finally {
      await target.close();
    }
  });

  test('honours Retry-After: a 429 with Retry-After: 2 is retried no earlier than 2 s later', async () => {
    const target = await startHttpTarget((_r, i) =>
      i === 0 ? { status: 429, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    try {
      await request(bus.url, 'PUT', '/rules/throttled', {
        pattern: { type: ['throttled'] },
        targets: [{ id: 'web', type: 'http', url: target.url, retry: fixed(10, 5) }],
      });
      await publishBinary(bus, { id: 't-1', source: '/429', type: 'throttled' });
      await waitFor(() => target.received.length === 2, 'the retry after 429', 10_000);
      const gap = target.received[1]!.at - target.received[0]!.at;
      assert.ok(gap >= 2000, `retried after ${gap} ms`);
      const scheduled = (await traceOf(bus, 't-1', '/429')).find((e) => e.kind === 'retry-scheduled');
      assert.ok(scheduled && scheduled.detail.delayMs >= 2000);
    } finally {
      await target.close();
    }
  });

  test('keeps a healthy target on time while a sibling target on the same events fails and retries', async () => {
    const failing = await startHttpTarget(() => ({ status: 503, delayMs: 100 }));
    const healthy = await startHttpTarget();
    try {
      await request(bus.url, 'PUT', '/rules/sick', {
        pattern: { type: ['shared'] },
        targets: [{ id: 'sick', type: 'http', url: failing.url, concurrency: 1, retry: fixed(50, 50) }],
      });
      await request(bus.url, 'PUT', '/rules/well', {
        pattern: { type: ['shared'] },
        targets: [{ id: 'well', type: 'http', url: healthy.url }],
      });
      const batch = Array.from({ length: 30 }, (_, i) => ({
        specversion: '1.0',
        id: `s-${i}`,
        source: '/iso',
        type: 'shared',
      }));
      const res = await request(bus.url, 'POST', '/events', JSON.stringify(batch), {
        'content-type': 'application/cloudevents-batch+json',
      });
      assert.equal(res.body.accepted, 30);
      await waitFor(() => healthy.received.length === 30, 'all healthy deliveries');
      const lastHealthy = Math.max(...healthy.received.map((r) => r.at));
      // The failing lane takes one request at a time, 100 ms each: by the time the healthy target had all 30,
      // the failing one had seen only a handful.
      const failingBefore = failing.received.filter((r) => r.at <= lastHealthy).length;
      assert.ok(
        failingBefore < 10,
        `the failing target had ${failingBefore} requests before the healthy one finished`,
      );
    } finally {
      await request(bus.url, 'DELETE', '/rules/sick');
      await failing.close();
      await healthy.close();
    }
  });

  test('sends opted-in targets batches of at most maxSize events within the window', async () => {
    const target = await startHttpTarget((_r, i) => (i === 0 ? { status: 503 } : { status: 200 }));
    try {
      const rule = await request(bus.url, 'PUT', '/rules/batched', {
        pattern: { type: ['batched'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: target.url,
            batch: { maxSize: 10, windowMs: 200 },
            retry: fixed(50, 5),
          },
        ],
      });
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      const events = Array.from({ length: 25 }, (_, i) => ({
        specversion: '1.0',
        id: `bt-${i}`,
        source: '/batch',
        type: 'batched',
      }));
      const res = await request(bus.url, 'POST', '/events', JSON.stringify(events), {
        'content-type': 'application/cloudevents-batch+json',
      });
      assert.equal(res.body.accepted, 25);
      const deliveredIds = () =>
        new Set(
          target.received
            .filter((_r, i) => i > 0)
            .flatMap((r) => JSON.parse(r.body.toString()).map((e: { id: string }) => e.id)),
        );
      await waitFor(() => deliveredIds().size === 25, 'all 25 events in batches');
      for (const r of target.received) {
        assert.match(String(r.headers['content-type']), /^application\/cloudevents-batch\+json/);
        const body = JSON.parse(r.body.toString());
        assert.ok(Array.isArray(body) && body.length >= 1 && body.length <= 10, `a batch of ${body.length}`);
      }
      // The first batch was refused (503): its events were retried, in a later batch, and delivered.
      const refused = JSON.parse(target.received[0]!.body.toString()).map((e: { id: string }) => e.id);
      const trace = await traceOf(bus, refused[0], '/batch');
      assert.deepEqual(
        trace.filter((e) => e.kind === 'attempt').map((e) => e.detail.outcome),
        ['failed', 'delivered'],
      );
      assert.ok(target.received.length <= 6, `${target.received.length} requests for 25 events`);
    } finally {
      await target.close();
    }
  });

  test('answers a re-published (source, id) as a duplicate and delivers it once', async () => {
    const target = await startHttpTarget();
    try {
      await request(bus.url, 'PUT', '/rules/once', {
        pattern: { type: ['dedup'] },
        targets: [{ id: 'web', type: 'http', url: target.url }],
      });
      const first = await publishBinary(bus, { id: 'u-1', source: '/dedup', type: 'dedup' });
      assert.deepEqual(first.body, { id: 'u-1', duplicate: false });
      const again = await publishBinary(bus, { id: 'u-1', source: '/dedup', type: 'dedup' });
      assert.equal(again.status, 202);
      assert.deepEqual(again.body, { id: 'u-1', duplicate: true });
      const batch = await request(
        bus.url,
        'POST',
        '/events',
        JSON.stringify([
          { specversion: '1.0', id: 'u-1', source: '/dedup', type: 'dedup' },
          { specversion: '1.0', id: 'u-2', source: '/dedup', type: 'dedup' },
          { specversion: '1.0', id: 'u-2', source: '/dedup', type: 'dedup' },
        ]),
        { 'content-type': 'application/cloudevents-batch+json' },
      );
      assert.deepEqual(batch.body.results, [
        { id: 'u-1', duplicate: true },
        { id: 'u-2' },
        { id: 'u-2', duplicate: true },
      ]);
      await waitFor(() => target.received.length === 2, 'two deliveries');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(target.received.map((r) => r.headers['ce-id']).sort(), ['u-1', 'u-2']);
    } finally {
      await target.close();
    }
  });

  test('does not execute an exactly-once delivery again once it completed', async () => {
    const dir = bus.dataDir;
    const file = `${dir}/exactly-once.txt`;
    assert.equal(
      (await request(bus.url, 'PUT', '/functions/append-line', fixtureFunction('append-line'))).status,
      200,
    );
    await request(bus.url, 'PUT', '/rules/eo', {
      pattern: { type: ['eo'] },
      targets: [{ id: 'fn', type: 'function', function: 'append-line', delivery: 'exactly-once' }],
    });
    await publishBinary(
      bus,
      { id: 'e-1', source: '/eo', type: 'eo' },
      JSON.stringify({ file }),
      'application/json',
    );
    await waitFor(
      async () => (await traceOf(bus, 'e-1', '/eo')).some((e) => e.kind === 'delivered'),
      'first execution',
    );
    // The trace says `delivered` as soon as it commits; the dispatcher still holds the delivery until the ledger's
    // `complete` is durable (its fsync), and a delivery it holds is not taken twice. On a busy machine that fsync
    // is slow, so wait until the dispatcher let go, as after a crash it would have.
    await bus.junction.dispatcher.idle();
    // The log hands the same delivery over again (as after a crash before the position was committed).
    const { readFileSync } = await import('node:fs');
    const delivery = {
      source: '/eo',
      id: 'e-1',
      rule: 'eo',
      target: 'fn',
      event: Object.freeze({
        specversion: '1.0' as const,
        id: 'e-1',
        source: '/eo',
        type: 'eo',
        data: { file },
      }),
      createdAt: Date.now(),
      dueAt: Date.now(),
      attempts: [],
    };
    assert.ok(keyString(delivery).includes('e-1'));
    bus.junction.dispatcher.submit([delivery]);
    await bus.junction.dispatcher.idle();
    await waitFor(
      async () => (await traceOf(bus, 'e-1', '/eo')).some((e) => e.kind === 'skipped'),
      'the skip',
    );
    assert.equal(readFileSync(file, 'utf8'), '/eo e-1\n');
  });
});
