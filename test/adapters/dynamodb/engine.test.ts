/** The engine on the DynamoDB stores (dynalite) and a SQLite log: deliveries, retries, dead letters, redrive, rules. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDynamoStores, createTables, type DynamoStores } from '../../../lib/adapters/dynamodb/index.ts';
import { openSqliteStores, type SqliteStores } from '../../../lib/adapters/sqlite/index.ts';
import { Junction } from '../../../lib/engine/junction.ts';
import type { DeliveryRequest, DeliveryResult, TargetDriver } from '../../../lib/ports.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../../helpers/dynalite.ts';
import { makeEvent, waitFor } from '../../helpers/events.ts';
import { noFunctions } from '../../helpers/no-functions.ts';
import { tempDir } from '../../helpers/paths.ts';

/** An HTTP-like driver that records deliveries and fails while `failing` is set. */
function recordingDriver(): TargetDriver & { received: DeliveryRequest[]; failing: boolean } {
  const driver = {
    received: [] as DeliveryRequest[],
    failing: false,
    async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      driver.received.push(request);
      return driver.failing
        ? { ok: false, retriable: true, status: 503, error: 'down' }
        : { ok: true, status: 204 };
    },
  };
  return driver;
}

const fixed = (ms: number, maxAttempts: number) => ({
  maxAttempts,
  maxAgeSeconds: 600,
  backoff: { kind: 'fixed', initialMs: ms, maxMs: ms, jitter: false },
});

let db: Dynalite;
before(async () => {
  db = await startDynalite();
});
after(() => db.stop());

describe('Junction on DynamoDB stores', () => {
  let dir: ReturnType<typeof tempDir>;
  let sqlite: SqliteStores;
  let stores: DynamoStores;
  let junction: Junction;
  let driver: ReturnType<typeof recordingDriver>;
  let prefix: string;
  const errors: unknown[] = [];

  before(async () => {
    dir = tempDir('junction-dynamo-engine-');
    sqlite = openSqliteStores({ dataDir: dir.path });
    prefix = uniquePrefix();
    await createTables(db.client, prefix);
    stores = createDynamoStores({ client: db.client, tablePrefix: prefix, rulePollMs: 20, indexShards: 4 });
    driver = recordingDriver();
    junction = await Junction.open({
      log: sqlite.log,
      rules: stores.rules,
      ledger: stores.ledger,
      deadLetters: stores.deadLetters,
      traces: stores.traces,
      functions: noFunctions,
      drivers: { http: driver },
      pollMs: 20,
      leaseMs: 2_000,
      onError: (error) => errors.push(error),
    });
    await junction.start();
  });

  after(async () => {
    await junction.stop();
    await stores.close();
    await sqlite.close();
    dir.remove();
  });

  test('delivers matched events once each and records them delivered in the ledger and traces', async () => {
    await junction.putRule('orders', {
      pattern: { type: ['order.created'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/hook', retry: fixed(10, 3) }],
    });
    const events = [1, 2, 3].map((n) => makeEvent({ source: '/shop', id: `o-${n}`, type: 'order.created' }));
    await junction.publish(events);
    await waitFor(
      () => driver.received.filter((r) => r.rule.name === 'orders').length >= 3,
      'three deliveries',
    );
    for (const event of events) {
      const key = { source: event.source, id: event.id, rule: 'orders', target: 'hook' };
      await waitFor(
        async () => (await stores.ledger.get(key))?.entry.state === 'delivered',
        `${event.id} delivered`,
      );
      const kinds = async () => (await stores.traces.get(event.source, event.id)).map((e) => e.kind);
      await waitFor(async () => (await kinds()).includes('delivered'), `${event.id} traced as delivered`);
      assert.deepEqual((await kinds()).slice(0, 2), ['received', 'matched']);
    }
    assert.equal(await stores.ledger.pendingCount(), 0);
    assert.deepEqual(errors, []);
  });

  test('dead-letters after the last attempt and delivers again on redrive', async () => {
    await junction.putRule('flaky', {
      pattern: { type: ['flaky'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/flaky', retry: fixed(10, 2) }],
    });
    driver.failing = true;
    await junction.publish([makeEvent({ source: '/flaky', id: 'f-1', type: 'flaky' })]);
    await waitFor(async () => (await stores.deadLetters.count()) === 1, 'the dead letter');
    const [letter] = await stores.deadLetters.list({ rule: 'flaky' });
    assert.equal(letter?.attempts.length, 2);
    const key = { source: '/flaky', id: 'f-1', rule: 'flaky', target: 'hook' };
    assert.equal((await stores.ledger.get(key))?.entry.state, 'dead-lettered');
    driver.failing = false;
    assert.deepEqual(await junction.redrive({ rule: 'flaky' }), { redriven: 1, skipped: 0 });
    await waitFor(
      async () => (await stores.ledger.get(key))?.entry.state === 'delivered',
      'the redriven delivery',
    );
    assert.equal(await stores.deadLetters.count(), 0);
  });

  test("deletes dead letters: only those before a time, then a rule's, each traced", async () => {
    await junction.putRule('doomed', {
      pattern: { type: ['doomed'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/doomed', retry: fixed(10, 1) }],
    });
    driver.failing = true;
    await junction.publish([
      makeEvent({ source: '/doomed', id: 'd-1', type: 'doomed' }),
      makeEvent({ source: '/doomed', id: 'd-2', type: 'doomed' }),
    ]);
    await waitFor(
      async () => (await stores.deadLetters.list({ rule: 'doomed' })).length === 2,
      'the dead letters',
    );
    driver.failing = false;
    const letters = await stores.deadLetters.list({ rule: 'doomed' });
    const oldest = Math.min(...letters.map((letter) => letter.at));
    assert.deepEqual(await junction.deleteDeadLetters({ rule: 'doomed', to: oldest }), { deleted: 0 });
    assert.deepEqual(await junction.deleteDeadLetters({ rule: 'doomed', target: 'hook' }), { deleted: 2 });
    assert.deepEqual(await stores.deadLetters.list({ rule: 'doomed' }), []);
    const trace = await stores.traces.get('/doomed', 'd-1');
    assert.equal(trace.at(-1)?.kind, 'dead-letter-deleted');
  });

  test('applies a rule put through another engine instance on the same tables', async () => {
    const other = createDynamoStores({ client: db.client, tablePrefix: prefix });
    await other.rules.put({
      name: 'elsewhere',
      enabled: true,
      pattern: { type: ['remote'] },
      targets: [
        {
          id: 'hook',
          type: 'http',
          url: 'https://example.com/remote',
          method: 'POST',
          mode: 'binary',
          delivery: 'at-least-once',
          concurrency: 4,
          timeoutMs: 1_000,
          retry: {
            maxAttempts: 3,
            maxAgeSeconds: 600,
            backoff: { kind: 'fixed', initialMs: 10, maxMs: 10, jitter: false },
          },
        },
      ],
      createdAt: 1,
      updatedAt: 1,
    });
    await waitFor(async () => (await junction.listRules()).some((r) => r.name === 'elsewhere'), 'the rule');
    // The watch (not a reload) is what makes the running engine match it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    await junction.publish([makeEvent({ source: '/remote', id: 'r-1', type: 'remote' })]);
    await waitFor(
      () => driver.received.some((r) => r.rule.name === 'elsewhere'),
      'the delivery by the remote rule',
    );
    await other.close();
  });
});
