/**
 * The dispatcher's ordered delivery per key on real SQLite stores, where the bus's HTTP API cannot reach: more
 * deliveries than `maxHeld` (most left to the ledger and taken by the poller), failing at random.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSqliteStores, type SqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { validateRule } from '../../lib/core/rule.ts';
import { Dispatcher } from '../../lib/engine/dispatcher.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import type { DeliveryRequest, PendingDelivery } from '../../lib/ports.ts';
import { systemClock } from '../../lib/ports.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';

describe('Dispatcher: ordered delivery per key', () => {
  const dir = tempDir('junction-ordering-');
  let stores: SqliteStores;
  before(() => {
    stores = openSqliteStores({ dataDir: dir.path });
  });
  after(async () => {
    await stores.close();
    dir.remove();
  });

  test('keeps log order per key with deliveries past maxHeld left to the ledger and random failures', async () => {
    const rule = validateRule(
      'ordered',
      {
        pattern: { type: ['x'] },
        targets: [
          {
            id: 'web',
            type: 'http',
            url: 'http://127.0.0.1:1/',
            concurrency: 4,
            ordering: { key: '$.data.k' },
            retry: { maxAttempts: 1000, backoff: { kind: 'fixed', initialMs: 5, maxMs: 5, jitter: false } },
          },
        ],
      },
      Date.now(),
    );
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const receipts: Array<{ k: string; seq: number; ok: boolean }> = [];
    const dispatcher = new Dispatcher({
      ledger: stores.ledger,
      deadLetters: stores.deadLetters,
      traces: stores.traces,
      clock: systemClock,
      metrics: new Metrics(),
      lookup: (name) => (name === rule.name ? rule : undefined),
      drivers: {
        http: {
          async deliver(request: DeliveryRequest) {
            const { k, seq } = request.event.data as { k: string; seq: number };
            await new Promise((r) => setImmediate(r));
            const ok = random() >= 0.3;
            receipts.push({ k, seq, ok });
            return ok
              ? { ok: true, status: 200 }
              : { ok: false, retriable: true, status: 500, error: 'HTTP 500' };
          },
        },
      },
      transform: (event) => event,
      onEmitted: async () => [],
      maxHeld: 4,
      leaseMs: 100,
      pollMs: 10,
    });
    const now = Date.now();
    const keys = ['a', 'b', 'c'];
    const perKey = 20;
    const deliveries: PendingDelivery[] = [];
    for (let seq = 0; seq < perKey; seq++) {
      for (const k of keys) {
        const id = `${k}-${seq}`;
        deliveries.push({
          source: '/ordered',
          id,
          rule: rule.name,
          target: 'web',
          event: makeEvent({ source: '/ordered', id, data: { k, seq } }),
          position: { partition: 0, offset: deliveries.length },
          createdAt: now,
          dueAt: now + 100,
          attempts: [],
        });
      }
    }
    await stores.ledger.enqueue(deliveries);
    dispatcher.start();
    try {
      dispatcher.submit(deliveries);
      await waitFor(
        async () =>
          (await Promise.all(deliveries.map((d) => stores.ledger.get(d)))).every(
            (e) => e?.entry.state === 'delivered',
          ),
        'every delivery',
        60_000,
      );
    } finally {
      await dispatcher.stop();
    }
    assert.ok(
      receipts.some((r) => !r.ok),
      'some attempts failed',
    );
    for (const k of keys) {
      const next = { value: 0 };
      for (const r of receipts.filter((x) => x.k === k)) {
        assert.ok(r.seq <= next.value, `key ${k}: ${r.seq} was sent before ${next.value} was delivered`);
        if (r.ok && r.seq === next.value) next.value++;
      }
      assert.equal(next.value, perKey, `key ${k} delivered in order`);
    }
  });
});
