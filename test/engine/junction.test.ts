/** The engine's management operations on SQLite stores: redrive of more dead letters than one page. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openSqliteStores, type SqliteStores } from '../../lib/adapters/sqlite/index.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { validateTarget } from '../../lib/core/rule.ts';
import { Junction } from '../../lib/engine/junction.ts';
import type { DeadLetter, DeadLetterFilter, DeadLetters, TargetDriver } from '../../lib/ports.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { noFunctions } from '../helpers/no-functions.ts';
import { tempDir } from '../helpers/paths.ts';

/**
 * The store, counting `list` and `page` calls and failing past `maxLists`: a redrive that lists the same page forever never
 * yields to a timer (SQLite answers synchronously), so a deadline could not stop it — this bound does.
 */
function boundedLists(store: DeadLetters, maxLists: number): DeadLetters & { lists: number } {
  const bounded = {
    lists: 0,
    add: (letter: DeadLetter) => store.add(letter),
    get: (dlId: string) => store.get(dlId),
    remove: (dlIds: readonly string[]) => store.remove(dlIds),
    count: () => store.count(),
    countByTarget: () => store.countByTarget(),
    list: (filter?: DeadLetterFilter) => {
      count();
      return store.list(filter);
    },
    page: (filter?: DeadLetterFilter) => {
      count();
      return store.page(filter);
    },
  };
  const count = () => {
    bounded.lists += 1;
    if (bounded.lists > maxLists)
      throw new Error(`dead letters listed ${bounded.lists} times: the walk does not end`);
  };
  return bounded;
}

describe('Junction.redrive', () => {
  let dir: ReturnType<typeof tempDir>;
  let stores: SqliteStores;
  let deadLetters: ReturnType<typeof boundedLists>;
  let junction: Junction;
  const delivered: string[] = [];

  before(async () => {
    dir = tempDir('junction-engine-');
    stores = openSqliteStores({ dataDir: dir.path });
    deadLetters = boundedLists(stores.deadLetters, 20);
    const driver: TargetDriver = {
      async deliver(request) {
        delivered.push(request.event.id);
        return { ok: true, status: 204 };
      },
    };
    junction = await Junction.open({
      ...stores,
      deadLetters,
      functions: noFunctions,
      drivers: { http: driver },
      pollMs: 20,
    });
    await junction.start();
  });

  after(async () => {
    await junction.stop();
    await stores.close();
    dir.remove();
  });

  test('redrives every dead letter when there are more than one page (1,000) of them', async () => {
    await junction.putRule('many', {
      pattern: { type: ['many'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/hook' }],
    });
    const count = 2_345;
    const base = Date.now() - 60_000;
    for (let i = 0; i < count; i++) {
      const event = makeEvent({ source: '/many', id: `m-${i}`, type: 'many' });
      await stores.deadLetters.add({
        dlId: `dl-${i}`,
        source: event.source,
        id: event.id,
        rule: 'many',
        target: 'hook',
        event,
        reason: 'failed',
        attempts: [{ at: base, outcome: 'failed', status: 503, latencyMs: 1 }],
        // Several letters share each millisecond, so that page boundaries fall inside one instant.
        at: base + Math.floor(i / 7),
      });
    }
    assert.deepEqual(await junction.redrive({ all: true }), { redriven: count, skipped: 0 });
    assert.equal(await stores.deadLetters.count(), 0);
    await waitFor(() => new Set(delivered).size === count, 'every redriven delivery');
  });
});

describe('Junction.redrive of thousands of letters', () => {
  let dir: ReturnType<typeof tempDir>;
  let stores: SqliteStores;
  let junction: Junction;
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started = 0;

  before(async () => {
    dir = tempDir('junction-engine-');
    stores = openSqliteStores({ dataDir: dir.path });
    // Deliveries wait until the end of the test: the dispatcher's own writes stay few while the redrive's are counted.
    const driver: TargetDriver = {
      async deliver() {
        started++;
        await held;
        return { ok: true, status: 204 };
      },
    };
    junction = await Junction.open({
      ...stores,
      functions: noFunctions,
      drivers: { http: driver },
      pollMs: 20,
    });
    await junction.start();
  });

  after(async () => {
    release();
    await junction.stop();
    await stores.close();
    dir.remove();
  });

  test('commits a few durable writes per page of letters, not several per letter', async () => {
    await junction.putRule('bulk', {
      pattern: { type: ['bulk'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/hook' }],
    });
    const count = 3_000;
    const at = Date.now() - 60_000;
    const letters: DeadLetter[] = [];
    for (let i = 0; i < count; i++) {
      const event = makeEvent({ source: '/bulk', id: `b-${i}`, type: 'bulk' });
      const letter: DeadLetter = {
        dlId: `dl-b-${i}`,
        ...{ source: event.source, id: event.id, rule: 'bulk', target: 'hook' },
        event,
        reason: 'failed',
        attempts: [{ at, outcome: 'failed', status: 503, latencyMs: 1 }],
        at: at + i,
      };
      letters.push(letter);
    }
    await Promise.all(letters.map((letter) => stores.deadLetters.add(letter)));
    const before = stores.database.stats.commits;
    assert.deepEqual(await junction.redrive({ all: true }), { redriven: count, skipped: 0 });
    const commits = stores.database.stats.commits - before;
    // 6 pages of 500: a reopen, a remove and a trace write each, plus what the dispatcher wrote meanwhile.
    assert.ok(commits < 100, `the redrive of ${count} letters took ${commits} commits`);
    assert.equal(await stores.deadLetters.count(), 0);
    await waitFor(() => started > 0, 'a redriven delivery under way');
  });
});

describe('Junction.redrive with a redriveLimit', () => {
  let dir: ReturnType<typeof tempDir>;
  let stores: SqliteStores;
  let junction: Junction;

  before(async () => {
    dir = tempDir('junction-engine-');
    stores = openSqliteStores({ dataDir: dir.path });
    const driver: TargetDriver = { deliver: async () => ({ ok: true, status: 204 }) };
    junction = await Junction.open({
      ...stores,
      functions: noFunctions,
      drivers: { http: driver },
      pollMs: 20,
      redriveLimit: 300,
    });
    await junction.start();
    await junction.putRule('capped', {
      pattern: { type: ['capped'] },
      targets: [{ id: 'hook', type: 'http', url: 'https://example.com/hook' }],
    });
  });

  after(async () => {
    await junction.stop();
    await stores.close();
    dir.remove();
  });

  function letter(i: number, at: number): DeadLetter {
    const event = makeEvent({ source: '/capped', id: `c-${i}`, type: 'capped' });
    return {
      dlId: `dl-c-${i}`,
      ...{ source: event.source, id: event.id, rule: 'capped', target: 'hook' },
      event,
      reason: 'failed',
      attempts: [{ at, outcome: 'failed', status: 503, latencyMs: 1 }],
      at,
    };
  }

  test('takes up at most redriveLimit letters per call and continues from its nextCursor', async () => {
    const base = Date.now() - 60_000;
    for (let i = 0; i < 1_000; i++) await stores.deadLetters.add(letter(i, base + i));
    const first = await junction.redrive({ rule: 'capped' });
    assert.equal(first.redriven, 300);
    assert.equal(typeof first.nextCursor, 'string');
    // A letter dead-lettered meanwhile is newer than the cursor: the calls that continue do not take it up.
    await stores.deadLetters.add(letter(1_000, Date.now()));
    let total = first.redriven;
    let calls = 1;
    let cursor = first.nextCursor;
    while (cursor !== undefined) {
      const next = await junction.redrive({ rule: 'capped', cursor });
      total += next.redriven;
      calls++;
      cursor = next.nextCursor;
      assert.ok(calls <= 10, 'the calls end');
    }
    assert.equal(total, 1_000);
    assert.equal(calls, 4);
    assert.deepEqual(
      (await stores.deadLetters.list({})).map((l) => l.dlId),
      ['dl-c-1000'],
    );
  });

  test('refuses a cursor that is not a string, or not a cursor, naming the field', async () => {
    await assert.rejects(junction.redrive({ all: true, cursor: 7 as unknown as string }), {
      code: 'InvalidRequest',
      field: 'cursor',
    });
    await assert.rejects(junction.redrive({ all: true, cursor: 'not-a-cursor' }), {
      code: 'InvalidRequest',
      field: 'cursor',
    });
  });
});

describe('Junction rules without targets, and checkTarget', () => {
  let dir: ReturnType<typeof tempDir>;
  let stores: SqliteStores;
  let junction: Junction;

  before(async () => {
    dir = tempDir('junction-engine-');
    stores = openSqliteStores({ dataDir: dir.path });
    junction = await Junction.open({
      ...stores,
      functions: noFunctions,
      drivers: { http: { deliver: async () => ({ ok: true, status: 204 }) } },
      checkTarget: (target, path) => {
        if (target.type === 'http' && target.url.includes('forbidden')) {
          throw new JunctionError('InvalidRule', 'refused address', { field: `${path}.url` });
        }
      },
    });
  });

  after(async () => {
    await stores.close();
    dir.remove();
  });

  test('refuses an enabled rule without targets unless allowNoTargets is set', async () => {
    await assert.rejects(junction.putRule('bare', { pattern: { source: ['a'] }, targets: [] }), {
      code: 'InvalidRule',
      field: 'targets',
    });
    const { rule } = await junction.putRule(
      'bare',
      { pattern: { source: ['a'] }, targets: [] },
      { allowNoTargets: true },
    );
    assert.equal(rule.enabled, true);
    await junction.setRuleEnabled('bare', false);
    await assert.rejects(junction.setRuleEnabled('bare', true), { code: 'InvalidRule', field: 'targets' });
    assert.equal((await junction.setRuleEnabled('bare', true, { allowNoTargets: true })).enabled, true);
  });

  test('counts enabled and disabled rules apart in its health', async () => {
    await junction.putRule('draft', { pattern: { source: ['d'] }, targets: [], enabled: false });
    await junction.putRule('live', { pattern: { source: ['l'] }, targets: [] }, { allowNoTargets: true });
    const before = await junction.health();
    await junction.setRuleEnabled('live', false);
    const after = await junction.health();
    assert.equal(after.rules, (before.rules as number) - 1);
    assert.equal(after.rulesDisabled, (before.rulesDisabled as number) + 1);
    assert.ok((after.rulesDisabled as number) >= 2, 'the draft and the disabled rule');
  });

  test('checks one target: the address policy, the function and the driver', async () => {
    await junction.checkTarget(validateTarget({ id: 't', type: 'http', url: 'http://ok' }, 0), 'targets[0]');
    await assert.rejects(
      junction.checkTarget(
        validateTarget({ id: 't', type: 'http', url: 'http://forbidden' }, 0),
        'targets[4]',
      ),
      { code: 'InvalidRule', field: 'targets[4].url' },
    );
    await assert.rejects(
      junction.checkTarget(validateTarget({ id: 't', type: 'function', function: 'nope' }, 0), 'targets[1]'),
      { code: 'InvalidRule', field: 'targets[1].function' },
    );
    await assert.rejects(
      junction.checkTarget(validateTarget({ id: 't', type: 'kafka', topic: 'x' }, 0), 'targets[2]'),
      { code: 'InvalidRule', field: 'targets[2].type' },
    );
  });
});

describe('the router and dispatcher on the SQLite log and ledger of one database', () => {
  for (const positionsInLedgerStore of [true, false]) {
    test(`ask the ledger for durable writes only where needed (positionsInLedgerStore: ${positionsInLedgerStore})`, async () => {
      const dir = tempDir('junction-engine-');
      const stores = openSqliteStores({ dataDir: dir.path });
      const asked: Array<{ call: string; durable: boolean | undefined }> = [];
      const ledger = new Proxy(stores.ledger, {
        get(target, name, receiver) {
          const value = Reflect.get(target, name, receiver);
          if (name !== 'enqueue' && name !== 'complete')
            return typeof value === 'function' ? value.bind(target) : value;
          return (...args: unknown[]) => {
            const options = args[name === 'enqueue' ? 1 : 3] as { durable?: boolean } | undefined;
            const which = name === 'complete' ? `:${(args[0] as { target: string }).target}` : '';
            asked.push({ call: `${name}${which}`, durable: options?.durable });
            return value.apply(target, args);
          };
        },
      });
      const delivered: string[] = [];
      const errors: unknown[] = [];
      const junction = await Junction.open({
        ...stores,
        ledger,
        functions: noFunctions,
        drivers: {
          http: {
            async deliver(request) {
              delivered.push(request.event.id);
              return { ok: true, status: 204 };
            },
          },
        },
        pollMs: 20,
        positionsInLedgerStore,
        onError: (error) => errors.push(error),
      });
      try {
        await junction.start();
        await junction.putRule('hook', {
          pattern: { type: ['hook'] },
          targets: [
            { id: 'hook', type: 'http', url: 'https://example.com/hook' },
            { id: 'once', type: 'http', url: 'https://example.com/once', delivery: 'exactly-once' },
          ],
        });
        await junction.publish([makeEvent({ source: '/durable', id: 'd-1', type: 'hook' })]);
        await waitFor(
          () => asked.filter((a) => a.call.startsWith('complete')).length === 2,
          'both deliveries completed',
        );
        // The enqueue precedes the position in the same WAL; an at-least-once completion may be lost (made again),
        // an exactly-once one is what keeps it from running twice.
        assert.deepEqual(
          asked.sort((a, b) => a.call.localeCompare(b.call)),
          [
            { call: 'complete:hook', durable: false },
            { call: 'complete:once', durable: true },
            { call: 'enqueue', durable: !positionsInLedgerStore },
          ],
        );
        assert.equal(delivered.length, 2);
        assert.deepEqual(errors, []);
      } finally {
        await junction.stop();
        await stores.close();
        dir.remove();
      }
    });
  }
});

describe('the router under a slow WAL fsync', () => {
  test('routes a burst of 1,500 appended events while one fsync is still under way', async () => {
    // Reproduces the lag seen under saturating batch ingest: the router's trace rows and position are not durable
    // writes, so they wait behind the fsync under way, and the router routed one batch (then 500 records) per fsync
    // — 257k events behind after 8 s of batch ingest. Here the fsync never returns until the end: every event of
    // the burst must be routed before it does.
    const dir = tempDir('junction-engine-');
    const held: Array<() => void> = [];
    const stores = openSqliteStores({
      dataDir: dir.path,
      fdatasync: (_fd, done) => held.push(() => done(null)),
    });
    const junction = await Junction.open({ ...stores, functions: noFunctions, drivers: {}, pollMs: 20 });
    try {
      await junction.start();
      const count = 1_500;
      const events = Array.from({ length: count }, (_, i) => makeEvent({ source: '/burst', id: `b-${i}` }));
      const accepted = junction.publish(events);
      await waitFor(() => held.length > 0, 'the append to wait for its fsync');
      await waitFor(
        () => junction.metrics.value('junction_events_routed_total') === count,
        'every event of the burst routed while the fsync is held',
      );
      assert.equal(held.length, 1, 'one fsync, still under way');
      for (const release of held.splice(0)) release();
      assert.equal((await accepted).length, count);
    } finally {
      for (const release of held.splice(0)) release();
      await junction.stop();
      await stores.close();
      dir.remove();
    }
  });
});
