/**
 * Ordered delivery per key through the real server: a target answering 500 at random still sees every key's events
 * in log order (the first successful receipt of each); a held key does not hold the others; a restart keeps order.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const fixed = (ms: number, maxAttempts: number) => ({
  maxAttempts,
  maxAgeSeconds: 3600,
  backoff: { kind: 'fixed', initialMs: ms, maxMs: ms, jitter: false },
});

/** A small seeded PRNG (mulberry32): the failures are random but the same on every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Receipt {
  readonly key: string;
  readonly seq: number;
  readonly ok: boolean;
}

/** A target that fails each request with probability `failRate`, recording what it answered in arrival order. */
async function flakyTarget(
  failRate: number,
  seed: number,
  fails: (key: string) => boolean = () => false,
): Promise<{ target: HttpTarget; receipts: Receipt[] }> {
  const random = prng(seed);
  const receipts: Receipt[] = [];
  const target = await startHttpTarget((req) => {
    const { key, seq } = JSON.parse(req.body.toString('utf8')) as { key: string; seq: number };
    const ok = !fails(key) && random() >= failRate;
    receipts.push({ key, seq, ok });
    return ok ? { status: 200 } : { status: 500, body: 'random failure' };
  });
  return { target, receipts };
}

/** Per key, the sequence numbers of each event's first successful receipt, in arrival order. */
function firstSuccesses(receipts: readonly Receipt[]): Map<string, number[]> {
  const seen = new Set<string>();
  const byKey = new Map<string, number[]>();
  for (const r of receipts) {
    if (!r.ok || seen.has(`${r.key}/${r.seq}`)) continue;
    seen.add(`${r.key}/${r.seq}`);
    byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.seq]);
  }
  return byKey;
}

function assertLogOrder(receipts: readonly Receipt[], keys: number, perKey: number): void {
  const byKey = firstSuccesses(receipts);
  assert.equal(byKey.size, keys);
  for (const [key, seqs] of byKey) {
    assert.deepEqual(
      seqs,
      Array.from({ length: perKey }, (_, i) => i),
      `key ${key}: the target saw ${seqs.join(',')}`,
    );
  }
}

async function publish(bus: TestBus, key: string, seq: number, type = 'ordered'): Promise<void> {
  const res = await publishBinary(
    bus,
    { id: `${key}-${seq}`, source: '/ordering', type },
    JSON.stringify({ key, seq }),
    'application/json',
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
}

async function putRule(bus: TestBus, name: string, url: string, retry: unknown, type = 'ordered') {
  const res = await request(bus.url, 'PUT', `/rules/${name}`, {
    pattern: { type: [type] },
    targets: [{ id: 'web', type: 'http', url, concurrency: 8, retry, ordering: { key: '$.data.key' } }],
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

describe('ordered delivery per key', () => {
  test('a target failing at random sees every key in log order', async () => {
    const bus = await startTestBus({ pollMs: 20 });
    const { target, receipts } = await flakyTarget(0.3, 19);
    try {
      await putRule(bus, 'ordered', target.url, fixed(10, 1000));
      const keys = 8;
      const perKey = 25;
      // Interleaved: k0-0, k1-0, …, k7-0, k0-1, …
      for (let seq = 0; seq < perKey; seq++) for (let k = 0; k < keys; k++) await publish(bus, `k${k}`, seq);
      await waitFor(
        () =>
          firstSuccesses(receipts).size === keys &&
          [...firstSuccesses(receipts).values()].every((s) => s.length === perKey),
        'every event delivered',
        120_000,
      );
      assert.ok(
        receipts.some((r) => !r.ok),
        'the target failed some attempts',
      );
      assertLogOrder(receipts, keys, perKey);
      // Nothing of a key was sent while an earlier event of it was still undelivered.
      const done = new Map<string, number>();
      for (const r of receipts) {
        const next = done.get(r.key) ?? 0;
        assert.ok(r.seq <= next, `key ${r.key}: event ${r.seq} was sent before ${next} was delivered`);
        if (r.ok && r.seq === next) done.set(r.key, next + 1);
      }
    } finally {
      await target.close();
      await bus.stop();
    }
  });

  test('a held key holds back only itself', async () => {
    const bus = await startTestBus({ pollMs: 20 });
    let stuck = true;
    const { target, receipts } = await flakyTarget(0, 1, (key) => stuck && key === 'stuck');
    try {
      await putRule(bus, 'held', target.url, fixed(50, 10_000));
      for (let seq = 0; seq < 5; seq++) {
        await publish(bus, 'stuck', seq);
        await publish(bus, 'a', seq);
        await publish(bus, 'b', seq);
      }
      await waitFor(
        () =>
          (firstSuccesses(receipts).get('a')?.length ?? 0) === 5 &&
          (firstSuccesses(receipts).get('b')?.length ?? 0) === 5,
        'the other keys delivered',
        60_000,
      );
      await waitFor(
        () => receipts.filter((r) => r.key === 'stuck').length >= 3,
        'the held key retried',
        60_000,
      );
      const held = receipts.filter((r) => r.key === 'stuck');
      assert.ok(
        held.every((r) => r.seq === 0 && !r.ok),
        "only the held key's first event was tried",
      );
      stuck = false;
      await waitFor(
        () => (firstSuccesses(receipts).get('stuck')?.length ?? 0) === 5,
        'the held key delivered once the target recovers',
        60_000,
      );
      assertLogOrder(receipts, 3, 5);
    } finally {
      await target.close();
      await bus.stop();
    }
  });

  test('onFailure "hold": a dead-lettered event holds its key, across a restart, until it is redriven', async () => {
    let bus = await startTestBus({ pollMs: 20 });
    let broken = true;
    const { target, receipts } = await flakyTarget(0, 3, (key) => broken && key === 'x');
    try {
      const res = await request(bus.url, 'PUT', '/rules/hold', {
        pattern: { type: ['ordered'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: target.url,
            retry: fixed(10, 2),
            ordering: { key: '$.data.key', onFailure: 'hold' },
          },
        ],
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      for (let seq = 0; seq < 4; seq++) {
        await publish(bus, 'x', seq);
        await publish(bus, 'y', seq);
      }
      await waitFor(
        async () => (await request(bus.url, 'GET', '/dead-letters?rule=hold')).body.deadLetters.length === 1,
        'the dead letter of x-0',
        60_000,
      );
      await waitFor(() => (firstSuccesses(receipts).get('y')?.length ?? 0) === 4, 'the other key', 60_000);
      // The held key survives a restart: its later events are still not sent.
      await bus.stop({ keepData: true });
      bus = await bus.restart({ pollMs: 20 });
      for (let seq = 4; seq < 6; seq++) await publish(bus, 'y', seq);
      await waitFor(
        () => (firstSuccesses(receipts).get('y')?.length ?? 0) === 6,
        'the other key after the restart',
        60_000,
      );
      assert.deepEqual(
        receipts.filter((r) => r.key === 'x').map((r) => r.seq),
        [0, 0],
        'only x-0 was tried (twice), before and after the restart',
      );
      broken = false;
      const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { rule: 'hold' });
      assert.equal(redrive.status, 200, JSON.stringify(redrive.body));
      await waitFor(
        () => (firstSuccesses(receipts).get('x')?.length ?? 0) === 4,
        'the held key after the redrive',
        60_000,
      );
      assert.deepEqual(firstSuccesses(receipts).get('x'), [0, 1, 2, 3]);
      assert.deepEqual(firstSuccesses(receipts).get('y'), [0, 1, 2, 3, 4, 5]);
    } finally {
      await target.close();
      await bus.stop();
    }
  });

  test('a restart mid-stream keeps every key in log order', async () => {
    let bus = await startTestBus({ pollMs: 20 });
    const { target, receipts } = await flakyTarget(0.4, 7);
    try {
      // Retries come late enough that a restart finds some pending behind a later event's due time.
      await putRule(bus, 'restart', target.url, fixed(300, 1000));
      const keys = 5;
      const perKey = 12;
      for (let seq = 0; seq < perKey / 2; seq++)
        for (let k = 0; k < keys; k++) await publish(bus, `k${k}`, seq);
      await waitFor(() => receipts.some((r) => !r.ok), 'a failed attempt before the restart', 60_000);
      await bus.stop({ keepData: true });
      bus = await bus.restart({ pollMs: 20 });
      for (let seq = perKey / 2; seq < perKey; seq++)
        for (let k = 0; k < keys; k++) await publish(bus, `k${k}`, seq);
      await waitFor(
        () => [...firstSuccesses(receipts).values()].reduce((n, s) => n + s.length, 0) === keys * perKey,
        'every event delivered',
        120_000,
      );
      assertLogOrder(receipts, keys, perKey);
    } finally {
      await target.close();
      await bus.stop();
    }
  });
});
