/** The SQLite EventLog against the shared suite, plus SQLite specifics: group commit, failures, retention. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { idlePause, SqliteEventLog } from '../../../lib/adapters/sqlite/event-log.ts';
import { openSqliteStores } from '../../../lib/adapters/sqlite/index.ts';
import { murmur2 } from '../../../lib/adapters/sqlite/partitioner.ts';
import { parseEventJson, serializeEvent, storedEvent } from '../../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../../lib/core/codec/raw-data.ts';
import { withTraceContext } from '../../../lib/core/trace-context.ts';
import type { AppendResult, Position } from '../../../lib/ports.ts';
import { makeEvent, makeEvents, waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { eventLogSuite, readAll } from '../../ports/event-log.suite.ts';
import { dedupRows, openHarness, pruneBesideAWrite } from './harness.ts';

const HOUR = 3_600_000;
const MINUTE = 60_000;

// Dedup keys of short windows (the suite's) in memory, the default; all in log_dedup; and a bound of 2 keys in
// memory, past which keys go to log_dedup: lookups then take both.
for (const [name, dedupMemoryKeys] of [
  ['SqliteEventLog', undefined],
  ['SqliteEventLog, dedup keys in the table', 0],
  ['SqliteEventLog, 2 dedup keys in memory', 2],
] as const) {
  eventLogSuite(
    name,
    async () => {
      const h = openHarness(dedupMemoryKeys === undefined ? {} : { dedupMemoryKeys });
      return {
        log: h.stores.log,
        reopen: async () => h.reopen().log,
        advanceClock: (ms) => h.clock.advance(ms),
        cleanup: h.cleanup,
      };
    },
    { groupMembers: false, denseOffsets: true, storedText: true },
  );
}

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

for (const dedupWindowMs of [0, 86_400_000, 120_000]) {
  test(`keeps record timestamps from going backwards within a partition when the clock does (window ${dedupWindowMs} ms)`, async () => {
    const h = openHarness();
    try {
      const [first] = await h.stores.log.append([makeEvent({ source: 'urn:clock' })], { dedupWindowMs });
      h.clock.advance(-10_000);
      await h.stores.log.append([makeEvent({ source: 'urn:clock' })], { dedupWindowMs });
      const records = await h.stores.log.read(first!.position!.partition, 0, 10);
      assert.equal(records.length, 2);
      assert.equal(records[1]!.timestamp, records[0]!.timestamp);
    } finally {
      await h.cleanup();
    }
  });
}

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

test('prunes in writes of at most 5,000 rows, records then dedup keys, the loop free between them', async () => {
  const h = openHarness();
  try {
    const { log, database } = h.stores;
    for (let i = 0; i < 12; i++) await log.append(makeEvents(1_000), { dedupWindowMs: HOUR });
    h.clock.advance(2 * HOUR);
    const commits = database.stats.commits;
    const { result, writeFirst } = await pruneBesideAWrite(h.stores, () => log.pruneBefore(h.clock.now()));
    assert.equal(result, 12_000);
    assert.ok(writeFirst, 'a write queued after the prune started commits before it ends');
    // 12,000 records and 12,000 keys: five writes of at most 5,000 rows.
    assert.ok(database.stats.commits - commits >= 5, `${database.stats.commits - commits} commits`);
    assert.equal(Number(database.get('SELECT count(*) AS n FROM log_records')?.n), 0);
    assert.equal(dedupRows(database), 0, 'the expired keys went too');
    assert.equal(await log.pruneBefore(h.clock.now()), 0);
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
    // A window longer than memory holds (10 minutes) keeps its keys in the table.
    await h.stores.log.append(makeEvents(5), { dedupWindowMs: HOUR });
    const count = () => dedupRows(h.stores.database);
    assert.equal(count(), 5);
    h.clock.advance(2 * HOUR);
    await h.stores.log.append([makeEvent()], { dedupWindowMs: HOUR });
    assert.equal(count(), 1);
  } finally {
    await h.cleanup();
  }
});

test('keeps no index on dedup time: rows are in the order of acceptance, and prunes find the expired ones by rowid', async () => {
  const h = openHarness();
  try {
    const { log, database } = h.stores;
    const indexes = database.all(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log_dedup'",
    );
    assert.deepEqual(
      indexes.map((r) => r.name),
      ['sqlite_autoindex_log_dedup_1'],
      'the primary key only',
    );
    const times = () =>
      database.all('SELECT accepted_at AS at FROM log_dedup ORDER BY rowid').map((r) => Number(r.at));
    const taken = makeEvent();
    await log.append([taken], { dedupWindowMs: 2 * HOUR });
    const first = makeEvents(6_000);
    await log.append(first, { dedupWindowMs: 2 * HOUR });
    h.clock.advance(90 * MINUTE);
    // An hour's window does not see the key of 90 minutes ago: the append takes it over, as a new row.
    const [over] = await log.append([taken], { dedupWindowMs: HOUR });
    assert.equal(over?.duplicate, false);
    const second = makeEvents(4_000);
    await log.append(second, { dedupWindowMs: 2 * HOUR });
    const order = times();
    assert.deepEqual(
      order,
      [...order].sort((a, b) => a - b),
      'acceptance times never decrease by rowid',
    );
    assert.equal(order.length, 10_001);
    // Past two hours from the first keys: they are expired, the taken-over key and the second keys are not. The
    // lazy prune takes at most 5,000 rows a second.
    h.clock.advance(30 * MINUTE + 1);
    await log.append([makeEvent()], { dedupWindowMs: 2 * HOUR });
    assert.equal(dedupRows(database), 10_002 - 5_000);
    h.clock.advance(1_000);
    await log.append([makeEvent()], { dedupWindowMs: 2 * HOUR });
    assert.equal(dedupRows(database), 4_001 + 2, 'the taken-over key, the second keys and the two since');
    const again = await log.append([taken, second[0]!, first[0]!], { dedupWindowMs: 2 * HOUR });
    assert.deepEqual(
      again.map((r) => r.duplicate),
      [true, true, false],
    );
  } finally {
    await h.cleanup();
  }
});

test('a dedup row out of time order (the clock stepped) blocks no prune, and answers nothing past its window', async () => {
  const h = openHarness({ dedupMemoryKeys: 0 });
  try {
    const { log, database } = h.stores;
    h.clock.advance(3 * HOUR);
    const ahead = makeEvent();
    await log.append([ahead], { dedupWindowMs: HOUR });
    h.clock.advance(-3 * HOUR); // back: the next rows have earlier times than the first
    await log.append(makeEvents(20), { dedupWindowMs: HOUR });
    h.clock.advance(90 * MINUTE);
    assert.equal(await log.pruneBefore(0), 0);
    assert.equal(dedupRows(database), 1, 'the twenty expired rows went; the row ahead of them stays');
    assert.equal((await log.append([ahead], { dedupWindowMs: HOUR }))[0]?.duplicate, true);
    h.clock.advance(3 * HOUR);
    await log.append([makeEvent()], { dedupWindowMs: HOUR });
    assert.equal(dedupRows(database), 1, 'the row ahead went once its window passed');
  } finally {
    await h.cleanup();
  }
});

test('a log made with an index on dedup time drops it, and keeps what its newest key says', async () => {
  const h = openHarness();
  try {
    const kept = makeEvents(3);
    await h.stores.log.append(kept, { dedupWindowMs: HOUR });
    const db = new SqliteDatabase({ dataDir: h.dataDir });
    db.run('CREATE INDEX log_dedup_time ON log_dedup (accepted_at)');
    db.run("DELETE FROM log_meta WHERE name = 'dedup_newest'");
    db.close();
    const reopened = h.reopen();
    const index = reopened.database.get("SELECT name FROM sqlite_master WHERE name = 'log_dedup_time'");
    assert.equal(index, undefined);
    const newest = reopened.database.get("SELECT value FROM log_meta WHERE name = 'dedup_newest'");
    assert.equal(Number(newest?.value), h.clock.now());
    // A 2-minute window keeps its keys in memory, and still finds those the table holds from within it.
    h.clock.advance(MINUTE);
    const [again] = await reopened.log.append([kept[1]!], { dedupWindowMs: 2 * MINUTE });
    assert.equal(again?.duplicate, true);
  } finally {
    await h.cleanup();
  }
});

test('keeps the dedup keys of a short window in memory and those of a long one in log_dedup', async () => {
  const h = openHarness();
  try {
    const { log, database } = h.stores;
    const rows = () => dedupRows(database);
    const short = makeEvents(3);
    const accepted = await log.append(short, { dedupWindowMs: 2 * MINUTE });
    assert.equal(rows(), 0, 'a 2-minute window writes no row');
    const again = await log.append(short, { dedupWindowMs: 2 * MINUTE });
    assert.deepEqual(
      again,
      accepted.map((r) => ({ duplicate: true, position: r.position })),
    );
    const long = makeEvents(2);
    await log.append(long, { dedupWindowMs: HOUR });
    assert.equal(rows(), 2, 'an hour is longer than memory keeps keys (10 minutes)');
    // Each window finds the keys the other kept: the long one looks in memory, the short one in the table (it
    // holds a key newer than the window).
    const crossed = await log.append([short[0]!, long[0]!], { dedupWindowMs: HOUR });
    assert.deepEqual(
      crossed.map((r) => r.duplicate),
      [true, true],
    );
    const crossedBack = await log.append([long[1]!], { dedupWindowMs: 2 * MINUTE });
    assert.equal(crossedBack[0]?.duplicate, true);
    // Past the window, a key still in memory is not a duplicate: its record is too old.
    h.clock.advance(2 * MINUTE + 1);
    const [later] = await log.append([short[1]!], { dedupWindowMs: 2 * MINUTE });
    assert.equal(later?.duplicate, false);
    assert.equal(rows(), 2);
  } finally {
    await h.cleanup();
  }
});

test('finds the keys another log on the file appended, and rebuilds its keys from the log at a start', async () => {
  const h = openHarness();
  try {
    const window = { dedupWindowMs: 5 * MINUTE };
    const first = h.stores.log;
    const second = h.reopen().log;
    const a = makeEvents(40, (i) => ({ source: `urn:two:${i % 3}` }));
    const b = makeEvents(40, (i) => ({ source: `urn:two:${i % 3}` }));
    const fromFirst = await first.append(a, window);
    await second.append([makeEvent()], window);
    const fromSecond = await second.append(b, window);
    // Each log sees the other's appends, made since it last wrote, as duplicates.
    assert.deepEqual(
      await second.append(a, window),
      fromFirst.map((r) => ({ duplicate: true, position: r.position })),
    );
    assert.deepEqual(
      await first.append(b, window),
      fromSecond.map((r) => ({ duplicate: true, position: r.position })),
    );
    assert.equal(dedupRows(h.stores.database), 0);
    // An append without a window, after another log's, does not skip the other's keys.
    const c = makeEvent({ source: 'urn:two:0' });
    const [fromOther] = await second.append([c], window);
    await first.append([makeEvent({ source: 'urn:two:0' })], { dedupWindowMs: 0 });
    assert.deepEqual(await first.append([c], window), [{ duplicate: true, position: fromOther!.position }]);
    // A third log opened later builds its keys from the records of the window.
    h.clock.advance(MINUTE);
    const third = h.reopen().log;
    const results = await third.append([...a, ...b, makeEvent()], window);
    assert.deepEqual(
      results.map((r) => r.duplicate),
      [...a.map(() => true), ...b.map(() => true), false],
    );
    // …and none of a window that has passed.
    h.clock.advance(5 * MINUTE);
    const fourth = h.reopen().log;
    const late = await fourth.append([a[0]!, b[0]!], window);
    assert.deepEqual(
      late.map((r) => r.duplicate),
      [false, false],
    );
  } finally {
    await h.cleanup();
  }
});

test('builds its dedup keys from the log a chunk an event-loop turn, the windowed appends waiting for it', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const window = { dedupWindowMs: 10 * MINUTE };
    const events = makeEvents(40_000, (i) => ({ source: `urn:build:${i % 4}` }));
    for (let i = 0; i < events.length; i += 1000)
      await h.stores.log.append(events.slice(i, i + 1000), window);
    const stores = h.reopen();
    // The turn of the event loop each read of records ran in.
    let turn = 0;
    let counting = true;
    const count = () => {
      turn += 1;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const turns: number[] = [];
    const all = stores.database.all.bind(stores.database);
    stores.database.all = (sql, ...params) => {
      if (sql.includes('FROM log_records')) turns.push(turn);
      return all(sql, ...params);
    };
    const results = await stores.log.append([events[0]!, events[39_999]!, makeEvent()], window);
    counting = false;
    assert.deepEqual(
      results.map((r) => r.duplicate),
      [true, true, false],
    );
    // 40,000 records are 10 chunks of 4,096, each read in a turn of its own.
    assert.equal(turns.length, 10);
    assert.equal(new Set(turns).size, 10, `the chunks were read in turns ${turns.join(', ')}`);
  } finally {
    await h.cleanup();
  }
});

test('a dedup key kept in memory by a write that rolled back refuses nothing', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const window = { dedupWindowMs: MINUTE };
    // A first append builds the keys in memory: the one that fails then fails at its insert, its key set.
    await h.stores.log.append([makeEvent({ source: 'urn:rolled-back' })], window);
    const lost = makeEvent({ source: 'urn:rolled-back' });
    const other = new SqliteDatabase({ dataDir: h.dataDir });
    other.run('ALTER TABLE log_records RENAME TO log_records_away');
    await assert.rejects(h.stores.log.append([lost], window), { code: 'BufferUnavailable' });
    other.run('ALTER TABLE log_records_away RENAME TO log_records');
    other.close();
    // Another event takes the position the rolled-back key names; the lost event is then new, not its duplicate.
    const taker = makeEvent({ source: 'urn:rolled-back' });
    const [took] = await h.stores.log.append([taker], window);
    assert.deepEqual(took, { duplicate: false, position: { partition: 0, offset: 1 } });
    const [retried] = await h.stores.log.append([lost], window);
    assert.deepEqual(retried, { duplicate: false, position: { partition: 0, offset: 2 } });
    const [repeated] = await h.stores.log.append([lost], window);
    assert.deepEqual(repeated, { duplicate: true, position: { partition: 0, offset: 2 } });
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

/** When the database was asked for rows of the log's records table (`performance.now()` of each read). */
function readsOfRecords(db: SqliteDatabase): number[] {
  const reads: number[] = [];
  const all = db.all.bind(db);
  db.all = (sql, ...params) => {
    if (sql.includes('FROM log_records')) reads.push(performance.now());
    return all(sql, ...params);
  };
  return reads;
}

/** A subscription of group `g` that collects the ids of the records it is handed. */
async function collect(log: SqliteEventLog) {
  const seen: string[] = [];
  const subscription = await log.subscribe({
    group: 'g',
    handler: async (records) => {
      for (const r of records) seen.push(r.event.id);
    },
  });
  return { seen, subscription };
}

test('a subscription that has read what this process appended waits for the next append instead of reading no rows', async () => {
  const dir = tempDir('junction-sqlite-');
  const db = new SqliteDatabase({ dataDir: dir.path });
  const otherDb = new SqliteDatabase({ dataDir: dir.path });
  // No polling within the test: every record below must reach the handler by an append's wake-up.
  const log = new SqliteEventLog(db, { partitions: 1, pollIntervalMs: 600_000 });
  const other = new SqliteEventLog(otherDb, { partitions: 1, pollIntervalMs: 600_000 });
  const rowReads = readsOfRecords(db);
  const { seen, subscription } = await collect(log);
  try {
    const events = makeEvents(33);
    for (const [i, event] of events.slice(0, 30).entries()) {
      await log.append([event]);
      // Once its position is committed the loop has gone on: to wait (now) or to read rows (before).
      await waitFor(() => seen.length === i + 1 && log.committedNow('g')[0] === i + 1, `event ${i}`);
    }
    // The first read (an empty log) reads rows; the thirty records come from memory, and after each no rows are read.
    assert.ok(rowReads.length <= 2, `read rows ${rowReads.length} times for 30 appends`);
    // Another log of this process on the same file appends between two of this one's: a hole in what this log
    // remembers, which the next read fills from the rows.
    await log.append([events[30]!]);
    await other.append([events[31]!]);
    await log.append([events[32]!]);
    await waitFor(() => seen.length === 33, "the records around the other log's append");
    assert.deepEqual(
      seen,
      events.map((e) => e.id),
    );
    // A read stops only at the partition's end, not at the hole in what this log remembers.
    assert.deepEqual(
      (await log.read(0, 30, 10)).map((r) => r.event.id),
      events.slice(30).map((e) => e.id),
    );
  } finally {
    await subscription.close();
    await log.close();
    await other.close();
    db.close();
    otherDb.close();
    dir.remove();
  }
});

test('an append made while a slow fsync of the WAL runs is committed without waiting for it: the subscriber has it before that fsync returns, its producer after the next', async () => {
  const dir = tempDir('junction-sqlite-');
  const held: Array<() => void> = [];
  const db = new SqliteDatabase({ dataDir: dir.path, fdatasync: (_fd, done) => held.push(() => done(null)) });
  const log = new SqliteEventLog(db, { partitions: 1, pollIntervalMs: 600_000 });
  const { seen, subscription } = await collect(log);
  try {
    const [first, second] = makeEvents(2) as [CloudEvent, CloudEvent];
    const answered: string[] = [];
    const one = log.append([first]).then(() => answered.push(first.id));
    await waitFor(
      () => held.length === 1 && seen.length === 1,
      'the first append to be routed, its fsync held',
    );
    const two = log.append([second]).then(() => answered.push(second.id));
    // Before, the second append waited for the first fsync to return before it was committed at all.
    await waitFor(
      () => seen.length === 2,
      'the second append to reach the subscriber with the first fsync held',
    );
    assert.deepEqual(seen, [first.id, second.id]);
    assert.equal(held.length, 1, 'the first fsync is still the only one');
    assert.deepEqual(answered, [], 'no producer is answered before an fsync returns');
    held.shift()?.();
    await one;
    // The first fsync started before the second append's commit: its producer waits for the next one.
    await waitFor(() => held.length === 1, 'an fsync for the second append');
    assert.deepEqual(answered, [first.id]);
    held.shift()?.();
    await two;
    assert.deepEqual(answered, [first.id, second.id]);
  } finally {
    for (const release of held.splice(0)) release();
    await subscription.close();
    await log.close();
    for (const release of held.splice(0)) release();
    db.close();
    dir.remove();
  }
});

test('an idle partition is read less and less often: the poll interval doubles up to a second', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 50].map((n) => idlePause(100, n)),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
  assert.deepEqual(
    [1, 2, 6, 7, 8].map((n) => idlePause(20, n)),
    [20, 40, 640, 1000, 1000],
  );
  // A poll interval above a second is kept as it is.
  assert.deepEqual(
    [1, 2, 9].map((n) => idlePause(5000, n)),
    [5000, 5000, 5000],
  );
});

test('an idle subscription backs off its reads of the table, and still takes an append at once', async () => {
  const dir = tempDir('junction-sqlite-');
  const db = new SqliteDatabase({ dataDir: dir.path });
  const log = new SqliteEventLog(db, { partitions: 1, pollIntervalMs: 10 });
  const reads = readsOfRecords(db);
  const { seen, subscription } = await collect(log);
  try {
    // Eight reads of an empty log: at 10 ms apart that took ≈ 70 ms; backing off (10, 20, … 640 ms) at least 1.27 s.
    await waitFor(() => reads.length >= 8, 'eight reads of the idle partition');
    const span = (reads[7] as number) - (reads[0] as number);
    assert.ok(span >= 1_200, `eight idle reads within ${span.toFixed(0)} ms`);
    // Waiting up to a second for the next read, the loop is woken by an append of this process.
    const [event] = makeEvents(1);
    await log.append([event!]);
    await waitFor(() => seen.length === 1, 'the append to reach the idle subscription');
    assert.deepEqual(seen, [event!.id]);
  } finally {
    await subscription.close();
    await log.close();
    db.close();
    dir.remove();
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

test('records the log wrote are marked and read back without the scan; others get the full check', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const text = (id: string, data: string, more = '') =>
      `{"specversion":"1.0","id":"${id}","source":"urn:marked","type":"t"${more},"data":${data}}`;
    const events = [
      parseEventJson(text('a', '{"n":1.50,"nested":{"data":2,"b":"}"}}')),
      withTraceContext(parseEventJson(text('b', '[1,{"data":"x"}]', ',"ext":7')), {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      }),
      parseEventJson(text('c', '"a string"')),
      parseEventJson('{"specversion":"1.0","id":"d","source":"urn:marked","type":"t"}'),
    ];
    await h.stores.log.append(events);
    const rows = h.stores.database.all(
      'SELECT offset, event, data_at, data_end FROM log_records ORDER BY offset',
    );
    assert.deepEqual(
      rows.map((row) => row.data_at !== null),
      [true, true, false, false],
      'only events whose data is JSON text carry a span',
    );
    // A second log on the file has none of them in memory: it reads the rows.
    const other = h.reopen().log;
    const read = await other.read(0, 0, 10);
    assert.equal(read.length, events.length);
    read.forEach((record, i) => {
      const full = parseEventJson(String(rows[i]?.event));
      // A marked row also offers its stored text (what the router matches), the same event's; its attributes are
      // read before the event is made (which makes them into it: StoredEvent).
      const stored = record.stored;
      assert.equal(
        stored !== undefined,
        rows[i]?.data_at !== null,
        `record ${i}: stored text only for a marked row`,
      );
      if (stored !== undefined) {
        const { data: _data, ...attributes } = full;
        assert.deepEqual({ ...stored.attributes }, attributes);
        assert.equal(stored.text.slice(stored.dataAt, stored.dataEnd), rawDataText(full));
      }
      assert.deepEqual(record.event, full);
      assert.deepEqual(Object.keys(record.event), Object.keys(full));
      assert.equal(serializeEvent(record.event), serializeEvent(full));
      assert.deepEqual(record.event, events[i]);
      assert.equal(rawDataText(record.event), rawDataText(full));
      if (stored !== undefined) {
        // The event is made of the attributes object itself, once.
        const made = storedEvent(stored);
        assert.equal(made, record.event);
        assert.ok(Object.isFrozen(made));
        assert.equal(stored.attributes, made);
      }
    });

    // Rows the bus did not mark, or marked wrongly: each must be read with the full check. The data of these is
    // written so that the fast path would give another event (or a text the check refuses).
    const insert = (offset: number, event: string, dataAt: number | null, dataEnd: number | null) =>
      h.stores.database.run(
        'INSERT INTO log_records (partition, offset, key, timestamp, event, data_at, data_end) VALUES (0, ?, ?, 0, ?, ?, ?)',
        offset,
        'k',
        event,
        dataAt,
        dataEnd,
      );
    h.stores.database.run('UPDATE log_partitions SET next_offset = 10 WHERE partition = 0');
    // 4: no mark, and an attribute the check refuses (so it is read with a plain parse: data parsed, not kept as text).
    const refused = text('e', '{"n":1}', ',"time":"yesterday"');
    insert(4, refused, null, null);
    // 5: a forged span on the member named data inside the data.
    const nested = text('f', '{"a":1,"data":2,"b":3}');
    insert(5, nested, nested.indexOf(',"data":2') + 8, nested.indexOf(',"data":2') + 9);
    // 6: a span one character off, and 7: out of range.
    const plain = text('g', '{"a":[1,2]}');
    const at = plain.lastIndexOf(',"data":') + 8;
    insert(6, plain, at + 1, plain.length - 1);
    insert(7, plain, at, plain.length + 5);
    // 8: a span on an event whose attributes the bus would never write (a member that is an object).
    const odd = text('h', '{"a":1}', ',"ext":{"x":1}');
    insert(8, odd, odd.lastIndexOf(',"data":') + 8, odd.length - 1);
    // 9: no mark on a valid event: read as the full check reads it.
    insert(9, plain, null, null);
    const others = await other.read(0, 4, 10);
    assert.equal(others.length, 6);
    assert.deepEqual(
      others.map((r) => r.stored),
      others.map(() => undefined),
      'no stored text for a row without the mark, or whose mark does not fit: the router matches the checked event',
    );
    const [e, f, g, g2, hh, g3] = others.map((r) => r.event);
    assert.equal(
      rawDataText(e as CloudEvent),
      undefined,
      'a record the check refuses is parsed, not trusted',
    );
    assert.deepEqual(e, JSON.parse(refused));
    assert.deepEqual(f, parseEventJson(nested));
    assert.deepEqual((f as CloudEvent).data, { a: 1, data: 2, b: 3 });
    for (const event of [g, g2, g3]) {
      assert.deepEqual(event, parseEventJson(plain));
      assert.equal(rawDataText(event as CloudEvent), '{"a":[1,2]}');
    }
    assert.equal(rawDataText(hh as CloudEvent), undefined, 'an object-valued extension fails the check');
    assert.deepEqual(hh, JSON.parse(odd));
  } finally {
    await h.cleanup();
  }
});

test('a log made before records carried their span gets the columns; its rows are read with the full check', async () => {
  const h = openHarness({ partitions: 1 });
  try {
    const event = parseEventJson(
      '{"specversion":"1.0","id":"old","source":"urn:old","type":"t","data":{"n":1}}',
    );
    await h.stores.log.append([event]);
    const db = new SqliteDatabase({ dataDir: h.dataDir });
    db.run('ALTER TABLE log_records DROP COLUMN data_end');
    db.run('ALTER TABLE log_records DROP COLUMN data_at');
    db.close();
    const reopened = h.reopen().log;
    const columns = h.stores.database.all('PRAGMA table_info(log_records)').map((c) => c.name);
    assert.ok(columns.includes('data_at') && columns.includes('data_end'), `columns: ${columns.join(', ')}`);
    const [record] = await reopened.read(0, 0, 1);
    assert.deepEqual(record?.event, event);
    assert.equal(rawDataText(record?.event as CloudEvent), '{"n":1}');
    const [next] = await reopened.append([
      parseEventJson('{"specversion":"1.0","id":"new","source":"urn:old","type":"t","data":{"n":2}}'),
    ]);
    assert.equal(next?.position?.offset, 1);
    const marked = h.stores.database.get('SELECT data_at FROM log_records WHERE offset = 1');
    assert.equal(typeof marked?.data_at, 'number');
  } finally {
    await h.cleanup();
  }
});
