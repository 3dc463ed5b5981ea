/** Per-source ingest quotas: a flooding source gets 429 with Retry-After; other sources are still accepted. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';

describe('per-source ingest quotas', () => {
  let bus: TestBus;
  before(async () => {
    // One token per 100 s after the burst: however slowly a loaded machine sends the requests, none refills in time.
    bus = await startTestBus({ quota: { eventsPerSecond: 0.01, burst: 5 } });
  });
  after(async () => {
    await bus.stop();
  });

  test('answers 429 with Retry-After once a source spends its burst, and keeps accepting other sources', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof publishBinary>> | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await publishBinary(bus, { id: `q-${i}`, source: '/noisy', type: 't' });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    assert.deepEqual(statuses.slice(0, 5), [202, 202, 202, 202, 202]);
    assert.ok(
      statuses.slice(5).every((s) => s === 429),
      statuses.join(','),
    );
    assert.equal(limited?.body.error.code, 'RateLimited');
    assert.equal(limited?.body.error.field, 'source');
    assert.ok(Number(limited?.headers.get('retry-after')) >= 1);
    assert.equal((await publishBinary(bus, { id: 'calm-1', source: '/calm', type: 't' })).status, 202);
  });

  test('refuses only the over-quota entries of a batch', async () => {
    const batch = [
      ...Array.from({ length: 6 }, (_, i) => ({
        specversion: '1.0',
        id: `b-${i}`,
        source: '/batchy',
        type: 't',
      })),
      { specversion: '1.0', id: 'other-1', source: '/other', type: 't' },
    ];
    const res = await request(bus.url, 'POST', '/events', JSON.stringify(batch), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.accepted, 6);
    assert.equal(res.body.failed, 1);
    assert.equal(res.body.results[5].id, 'b-5');
    assert.equal(res.body.results[5].error.code, 'RateLimited');
    assert.deepEqual(res.body.results[6], { id: 'other-1' });
  });
});
