/** The SQLite EventLog against the shared suite, plus SQLite specifics: group commit, failures, retention. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import type { SqliteEventLog } from '../../../lib/adapters/sqlite/event-log.ts';
import { openSqliteStores } from '../../../lib/adapters/sqlite/index.ts';
import { murmur2 } from '../../../lib/adapters/sqlite/partitioner.ts';
import type { AppendResult, Position } from '../../../lib/ports.ts';
import { makeEvent, makeEvents, waitFor } from '../../helpers/events.ts';
import { eventLogSuite, readAll } from '../../ports/event-log.suite.ts';
import { openHarness } from './harness.ts';

eventLogSuite(
  'SqliteEventLog',
  async () => {
    const h = openHarness();
    return {
      log: h.stores.log,
      reopen: async () => h.reopen().log,
      advanceClock: (ms) => h.clock.advance(ms),
      cleanup: h.cleanup,
    };
  },
  { groupMembers: false, denseOffsets: true },
);

test('merges appends made in one tick into one commit', async () => {
  const h = openHarness();
  try {
    const before = h.stores.database.stats.commits;
    const results = await Promise.all(
      makeEvents(50, (i) => ({ source: `urn:group:${i % 5}` })).map((e) => h.stores.log.append([e])),
    );
    assert.equal(results.length, 50);
    assert.equal(h.stores.database.stats.commits - before, 1);
  } finally {
    await h.cleanup();
  }
});

test('runs the appends of one tick as one write and answers each caller for its own events', async () => {
  const h = openHarness();
  try {
    const log = h.stores.log;
    const before = h.stores.database.stats.writes;
    const calls = [
      makeEvents(3, () => ({ source: 'urn:tick:a' })),
      makeEvents(1, () => ({ source: 'urn:tick:b' })),
      makeEvents(2, () => ({ source: 'urn:tick:a' })),
    ];
    const repeated = calls[0]![1]!;
    const answers = await Promise.all([
      ...calls.map((events) => log.append(events, { dedupWindowMs: 60_000 })),
      log.append([repeated], { dedupWindowMs: 60_000 }),
    ]);
    assert.equal(h.stores.database.stats.writes - before, 1);
    assert.deepEqual(
      answers.map((results) => results.map((r) => r.duplicate)),
      [[false, false, false], [false], [false, false], [true]],
    );
    assert.deepEqual(answers[3]![0]!.position, answers[0]![1]!.position);
    const records = await readAll(log);
    assert.equal(records.length, 6);
    for (const [i, events] of calls.entries()) {
      for (const [j, event] of events.entries()) {
        const { partition, offset } = answers[i]![j]!.position!;
        const record = records.find((r) => r.partition === partition && r.offset === offset);
        assert.equal(record?.event.id, event.id);
      }
    }
  } finally {
    await h.cleanup();
  }
});

test('rejects every caller of a failed flush with a retriable BufferUnavailable and commits none of it', async () => {
  const h = openHarness();
  try {
    const kept = makeEvent({ source: 'urn:kept' });
    await h.stores.log.append([kept]);
    const other = new SqliteDatabase({ dataDir: h.dataDir });
    other.run('ALTER TABLE log_records RENAME TO log_records_away');
    const results = await Promise.allSettled([
      h.stores.log.append([makeEvent({ source: 'urn:lost' })]),
      h.stores.traces.record([{ source: 's', id: 'lost', at: 1, kind: 'received' }]),
    ]);
    other.run('ALTER TABLE log_records_away RENAME TO log_records');
    other.close();
    for (const result of results) {
      assert.equal(result.status, 'rejected');
      const reason = (result as PromiseRejectedResult).reason;
      assert.equal(reason.code, 'BufferUnavailable');
      assert.equal(reason.retriable, true);
    }
    assert.deepEqual(await h.stores.traces.get('s', 'lost'), []);
    // Nothing of the failed append stays in memory: the next event takes its offset and is read as itself.
    const retry = makeEvent({ source: 'urn:lost' });
    const [again] = await h.stores.log.append([retry]);
    assert.equal(again?.position?.offset, 0, 'the failed append left its partition empty');
    const [read] = await h.stores.log.read(again.position.partition, again.position.offset, 1);
    assert.equal(read?.event, retry);
    const after = h.reopen();
    assert.equal((await readAll(after.log)).length, 2);
    const [next] = await after.log.append([makeEvent({ source: 'urn:kept' })]);
    assert.equal(next?.position?.offset, 1, 'offsets stay dense after the failed flush');
  } finally {
    await h.cleanup();
  }
});

test('reads events it appended moments ago as the validated objects, and older ones from their stored text', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const { log } = h.stores;
    const first = makeEvent({ data: { n: 1 } });
    await log.append([first]);
    const [fresh] = await log.read(0, 0, 1);
    assert.equal(fresh?.event, first, 'no second scan of what this log just wrote');
    // Past the in-memory window (8,192 events) the record is read from its text, and is the same event.
    for (let i = 0; i < 9; i++) await log.append(makeEvents(1000));
    const [old] = await log.read(0, 0, 1);
    assert.notEqual(old?.event, first);
    assert.deepEqual({ ...old?.event, data: old?.event.data }, { ...first, data: first.data });
    const [recent] = await log.read(0, 9000, 1);
    assert.equal(recent?.offset, 9000);
  } finally {
    await h.cleanup();
  }
});

test('rejects bad arguments with InvalidRequest naming the field and the value', async () => {
  const h = openHarness({ partitions: 3 });
  try {
    const { log } = h.stores;
    await assert.rejects(log.read(3, 0, 1), { code: 'InvalidRequest', field: 'partition', message: /got 3/ });
    await assert.rejects(log.read(0, -1, 1), { code: 'InvalidRequest', field: 'fromOffset' });
    await assert.rejects(log.read(0, 0, 1.5), { code: 'InvalidRequest', field: 'limit' });
    await assert.rejects(log.append([makeEvent()], { dedupWindowMs: -1 }), {
      code: 'InvalidRequest',
      field: 'dedupWindowMs',
    });
    await assert.rejects(log.subscribe({ group: '', handler: async () => {} }), { field: 'group' });
  } finally {
    await h.cleanup();
  }
});

test('keeps the partition count of an existing file and refuses a different one', async () => {
  const h = openHarness({ partitions: 3 });
  try {
    assert.equal(h.stores.log.partitions, 3);
    const dir = h.dataDir;
    const again = openSqliteStores({ dataDir: dir });
    assert.equal(again.log.partitions, 3);
    await again.close();
    assert.throws(() => openSqliteStores({ dataDir: dir, partitions: 5 }), {
      code: 'InvalidRequest',
      field: 'partitions',
      message: /has 3 partitions.*got 5/,
    });
  } finally {
    await h.cleanup();
  }
});

test('places keys as Kafka default partitioner does (murmur2)', async () => {
  const h = openHarness({ partitions: 4 });
  try {
    const [a] = await h.stores.log.append([makeEvent({ partitionkey: 'foobar' })]);
    assert.equal(a?.position?.partition, (murmur2(new TextEncoder().encode('foobar')) & 0x7fffffff) % 4);
    assert.equal(murmur2(new TextEncoder().encode('foobar')), -790332482);
    assert.equal(murmur2(new TextEncoder().encode('a-little-bit-long-string')), -985981536);
    assert.equal(murmur2(new TextEncoder().encode('21')), -973932308);
  } finally {
    await h.cleanup();
  }
});

test('keeps record timestamps from going backwards within a partition when the clock does', async () => {
  const h = openHarness();
  try {
    const [first] = await h.stores.log.append([makeEvent({ source: 'urn:clock' })]);
    h.clock.advance(-10_000);
    await h.stores.log.append([makeEvent({ source: 'urn:clock' })]);
    const records = await h.stores.log.read(first!.position!.partition, 0, 10);
    assert.equal(records[1]!.timestamp, records[0]!.timestamp);
  } finally {
    await h.cleanup();
  }
});

test('prunes old records but never past a group committed offset', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const log = h.stores.log as SqliteEventLog;
    await log.append(makeEvents(10, () => ({ source: 'urn:prune' })));
    await log.commit('slow-group', 0, 4);
    h.clock.advance(1_000);
    assert.equal(await log.pruneBefore(h.clock.now()), 4);
    assert.deepEqual(
      (await log.read(0, 0, 100)).map((r) => r.offset),
      [4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(await log.endOffsets(), [{ partition: 0, offset: 10 }]);
    assert.deepEqual(await log.offsetsForTime(0), [{ partition: 0, offset: 4 }]);
    await log.commit('slow-group', 0, 10);
    assert.equal(await log.pruneBefore(h.clock.now()), 6);
    const [next] = await log.append([makeEvent({ source: 'urn:prune' })]);
    assert.deepEqual(next?.position, { partition: 0, offset: 10 });
  } finally {
    await h.cleanup();
  }
});

test("finds duplicates among many ids of several sources, each answered with the accepted copy's position", async () => {
  const h = openHarness();
  try {
    const log = h.stores.log;
    // More ids per source than one lookup takes, so earlier copies sit in several chunks (the last one padded).
    const first = makeEvents(75, (i) => ({ source: `urn:chunks:${i % 2}` }));
    const accepted = await log.append(first, { dedupWindowMs: 60_000 });
    const fresh = makeEvents(40, (i) => ({ source: `urn:chunks:${i % 3}` }));
    const again = [...first.filter((_, i) => i % 3 === 0), ...fresh, fresh[5]!, first[74]!];
    const results = await log.append(again, { dedupWindowMs: 60_000 });
    const expected = again.map((event, i) => {
      const earlier = first.indexOf(event);
      if (earlier !== -1) return { duplicate: true, position: accepted[earlier]!.position };
      if (i === again.length - 2)
        return { duplicate: true, position: results[again.indexOf(event)]!.position };
      return { duplicate: false };
    });
    assert.deepEqual(
      results.map((r, i) => (expected[i]!.duplicate ? r : { duplicate: r.duplicate })),
      expected,
    );
    assert.equal((await readAll(log)).length, 75 + 40);
  } finally {
    await h.cleanup();
  }
});

test('finds offsets for a time and prunes by time without an index on time (timestamps never decrease)', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const log = h.stores.log as SqliteEventLog;
    const t0 = h.clock.now();
    for (let i = 0; i < 100; i++) {
      await log.append([makeEvent({ source: 'urn:time' })]);
      h.clock.advance(i % 3 === 0 ? 0 : 1 + (i % 7)); // runs of equal times, uneven steps
    }
    const records = await log.read(0, 0, 1000);
    /** What an index on time would answer: the first record at or after `at`, else the end. */
    const expected = (at: number, from = 0) =>
      records.find((r) => r.offset >= from && r.timestamp >= at)?.offset ?? 100;
    const times = [
      t0 - 1,
      ...records.map((r) => r.timestamp),
      ...records.map((r) => r.timestamp + 0.5),
      t0 + 10_000,
    ];
    for (const at of times)
      assert.deepEqual(await log.offsetsForTime(at), [{ partition: 0, offset: expected(at) }]);
    const cut = records[30]!.timestamp;
    assert.equal(await log.pruneBefore(cut), expected(cut));
    for (const at of times) {
      assert.deepEqual(await log.offsetsForTime(at), [{ partition: 0, offset: expected(at, expected(cut)) }]);
    }
    assert.equal(
      h.stores.database.get("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'log_records_time'")?.n,
      0,
    );
  } finally {
    await h.cleanup();
  }
});

test('drops expired dedup entries lazily', async () => {
  const h = openHarness();
  try {
    await h.stores.log.append(makeEvents(5), { dedupWindowMs: 1_000 });
    const count = () => Number(h.stores.database.get('SELECT count(*) AS n FROM log_dedup')?.n);
    assert.equal(count(), 5);
    h.clock.advance(2_000);
    await h.stores.log.append([makeEvent()], { dedupWindowMs: 1_000 });
    assert.equal(count(), 1);
  } finally {
    await h.cleanup();
  }
});

test('runs one member per group and reports handler failures to onError', async () => {
  const errors: unknown[] = [];
  const h = openHarness({ onError: (e) => errors.push(e) });
  try {
    const { log } = h.stores;
    await log.append([makeEvent()]);
    let calls = 0;
    const subscription = await log.subscribe({
      group: 'solo',
      handler: async () => {
        calls += 1;
        if (calls === 1) throw new Error('first call fails');
      },
    });
    await assert.rejects(log.subscribe({ group: 'solo', handler: async () => {} }), {
      code: 'InvalidRequest',
      field: 'group',
    });
    await waitFor(() => calls >= 2, 'the retry');
    await subscription.close();
    assert.equal((errors[0] as Error).message, 'first call fails');
    const again = await log.subscribe({ group: 'solo', handler: async () => {} });
    await again.close();
  } finally {
    await h.cleanup();
  }
});

const child = join(dirname(fileURLToPath(import.meta.url)), 'append-child.ts');

test('sees appends made by another process through polling', async () => {
  const h = openHarness();
  try {
    const seen = new Set<string>();
    const subscription = await h.stores.log.subscribe({
      group: 'watcher',
      handler: async (records) => {
        for (const r of records) seen.add(r.event.id);
      },
    });
    const proc = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', child, h.dataDir, 'count', '25', 'other'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(code, 0);
    await waitFor(() => seen.size === 25, 'the appends of the other process');
    await subscription.close();
  } finally {
    await h.cleanup();
  }
});

test('keeps every append a killed process reported as done exactly once, with dense offsets', async () => {
  const h = openHarness();
  try {
    const reported = new Map<string, Position>();
    const enqueued = new Set<string>();
    const replayedDuplicates: boolean[] = [];
    for (let run = 0; run < 5; run += 1) {
      const proc = spawn(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', child, h.dataDir, 'run', String(run)],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const lines = createInterface({ input: proc.stdout! });
      let appendedLines = 0;
      const killAt = 100 + run * 37;
      const exited = once(proc, 'exit');
      for await (const line of lines) {
        const message = JSON.parse(line) as { kind: string; ids: string[]; results?: AppendResult[] };
        if (message.kind === 'enqueued') for (const id of message.ids) enqueued.add(id);
        else if (message.kind === 'replayed') {
          for (const [i, id] of message.ids.entries()) {
            if (reported.has(id)) replayedDuplicates.push(message.results![i]!.duplicate);
          }
        } else {
          for (const [i, id] of message.ids.entries()) {
            const result = message.results![i]!;
            assert.equal(result.duplicate, false);
            reported.set(id, result.position!);
          }
          appendedLines += 1;
          if (appendedLines === killAt) proc.kill('SIGKILL');
        }
      }
      const [, signal] = (await exited) as [number | null, string | null];
      assert.equal(signal, 'SIGKILL');
    }
    const stores = h.reopen();
    const records = await readAll(stores.log);
    const counts = new Map<string, number>();
    for (const r of records) counts.set(r.event.id, (counts.get(r.event.id) ?? 0) + 1);
    for (const [id, position] of reported) {
      assert.equal(counts.get(id), 1, `${id} is in the log exactly once`);
      const record = records.find((r) => r.event.id === id)!;
      assert.deepEqual({ partition: record.partition, offset: record.offset }, position);
    }
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      'no event is in the log twice',
    );
    for (const { partition, offset } of await stores.log.endOffsets()) {
      const offsets = records.filter((r) => r.partition === partition).map((r) => r.offset);
      assert.deepEqual(
        offsets,
        Array.from({ length: offset }, (_, i) => i),
        `partition ${partition} is dense`,
      );
    }
    for (const id of enqueued) {
      const source = records.find((r) => r.event.id === id)!.event.source;
      const got = await stores.ledger.get({ source, id, rule: 'r', target: 't' });
      assert.equal(got?.entry.state, 'pending', `delivery of ${id} survived`);
    }
    assert.ok(reported.size >= 300);
    assert.ok(replayedDuplicates.length > 0 && replayedDuplicates.every(Boolean), 'replays are duplicates');
  } finally {
    await h.cleanup();
  }
});

test('rejects an event without source or id before it reaches the group commit', async () => {
  const h = openHarness();
  try {
    const [ok, failed] = await Promise.allSettled([
      h.stores.log.append([makeEvent()]),
      h.stores.log.append([{ ...makeEvent(), id: '' }]),
    ]);
    assert.equal(ok.status, 'fulfilled');
    assert.equal((failed as PromiseRejectedResult).reason.code, 'InvalidEvent');
    assert.equal((failed as PromiseRejectedResult).reason.field, 'id');
  } finally {
    await h.cleanup();
  }
});
