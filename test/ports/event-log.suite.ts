/** The shared test suite every EventLog implementation passes (SQLite, Kafka): call `eventLogSuite` from a test. */
import assert from 'node:assert/strict';
import { describe, test as nodeTest, type TestOptions } from 'node:test';
import { parseEventJson, storedEvent } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { partitionKeyOf } from '../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import type { EventLog, LogRecord, Position } from '../../lib/ports.ts';
import { deferred, makeEvent, makeEvents, waitFor as waitUntil } from '../helpers/events.ts';

/** What the factory hands the suite: a fresh, empty log. */
export interface EventLogHarness {
  readonly log: EventLog;
  /** Opens another log on the same backing data (the suite closes the previous one first). Omit if impossible. */
  readonly reopen?: () => Promise<EventLog>;
  /** Moves the log's clock forward by `ms`. Omit when the log runs on real time (window-expiry tests skip). */
  readonly advanceClock?: (ms: number) => void;
  /** Removes the backing data. The suite has closed every log by then (close must be idempotent). */
  readonly cleanup: () => Promise<void>;
}

/** Optional capabilities of an implementation; tests that need one are skipped without it. */
export interface EventLogCapabilities {
  /** Several members of one consumer group share the partitions (Kafka). @default false */
  readonly groupMembers?: boolean;
  /** Offsets within a partition start at 0 in a fresh log and have no gaps. @default true */
  readonly denseOffsets?: boolean;
  /**
   * Records the log wrote from events with JSON data text, read back by another log on the same data, offer their
   * stored text (`LogRecord.stored`). @default false (a log may never offer it)
   */
  readonly storedText?: boolean;
  /**
   * Each test's own deadline (ms). A test stuck on a broker then fails by name, and the file goes on, instead of the
   * whole file being cancelled at the runner's per-file timeout with no word of which test hung. @default none
   */
  readonly testTimeoutMs?: number;
}

const WINDOW = 60_000;

/**
 * The suite's waits: generous, for a consumer group's first join on a fresh broker on a busy machine. A wait that
 * passes is not slowed by it; only a failing one reports later.
 */
function waitFor(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  return waitUntil(predicate, what, 60_000);
}

type Run = (harness: EventLogHarness, track: (log: EventLog) => EventLog) => Promise<void>;

/** Registers the EventLog suite under `describe(name)`; `open` must answer a fresh, empty log each call. */
export function eventLogSuite(
  name: string,
  open: () => Promise<EventLogHarness>,
  capabilities: EventLogCapabilities = {},
): void {
  const dense = capabilities.denseOffsets ?? true;
  const timeout = capabilities.testTimeoutMs;
  function test(name: string, ...rest: [() => Promise<void>] | [TestOptions, () => Promise<void>]): void {
    const [options, fn] = rest.length === 1 ? [{}, rest[0]] : rest;
    nodeTest(name, timeout === undefined ? options : { timeout, ...options }, fn);
  }

  async function withLog(run: Run): Promise<void> {
    const harness = await open();
    const logs: EventLog[] = [harness.log];
    try {
      await run(harness, (log) => {
        logs.push(log);
        return log;
      });
    } finally {
      for (const log of logs) await log.close();
      await harness.cleanup();
    }
  }

  describe(name, () => {
    test('appends events and answers their positions in the order given', () =>
      withLog(async ({ log }) => {
        const events = makeEvents(10, (i) => ({ source: `urn:test:append:${i}` }));
        const results = await log.append(events);
        assert.equal(results.length, events.length);
        for (const [i, result] of results.entries()) {
          assert.equal(result.duplicate, false);
          const position = result.position!;
          assert.ok(position.partition >= 0 && position.partition < log.partitions, 'partition in range');
          const [record] = await log.read(position.partition, position.offset, 1);
          assert.ok(record, `record at ${position.partition}:${position.offset}`);
          assert.deepEqual(record.event, events[i]);
          assert.equal(record.key, partitionKeyOf(events[i]!));
          assert.equal(record.partition, position.partition);
          assert.equal(record.offset, position.offset);
          assert.equal(typeof record.timestamp, 'number');
          assert.ok(Object.isFrozen(record.event), 'the event read back is frozen');
        }
      }));

    test('answers an empty list for an empty append', () =>
      withLog(async ({ log }) => {
        assert.deepEqual(await log.append([]), []);
      }));

    test('keeps the order of events with the same partition key', () =>
      withLog(async ({ log }) => {
        const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'];
        const batch = makeEvents(24, (i) => ({ partitionkey: keys[i % keys.length], data: { seq: i } }));
        await log.append(batch);
        for (let i = 24; i < 36; i += 1) {
          await log.append([makeEvent({ partitionkey: keys[i % keys.length], data: { seq: i } })]);
        }
        const records = await readAll(log);
        assert.equal(records.length, 36);
        for (const key of keys) {
          const ofKey = records.filter((r) => r.key === key);
          assert.equal(new Set(ofKey.map((r) => r.partition)).size, 1, `key ${key} stays in one partition`);
          const seqs = ofKey
            .sort((a, b) => a.offset - b.offset)
            .map((r) => (r.event.data as { seq: number }).seq);
          assert.deepEqual(
            seqs,
            [...seqs].sort((a, b) => a - b),
            `key ${key} in append order`,
          );
        }
      }));

    test('partitions by the partitionkey extension, else by source', () =>
      withLog(async ({ log }) => {
        const keyed = makeEvents(8, (i) => ({ source: `urn:test:many:${i}`, partitionkey: 'one-key' }));
        const bySource = makeEvents(8, (i) => ({ source: 'urn:test:one-source', data: { i } }));
        const results = await log.append([...keyed, ...bySource]);
        const partitionsOf = (from: number, to: number) =>
          new Set(results.slice(from, to).map((r) => r.position?.partition));
        assert.equal(partitionsOf(0, 8).size, 1);
        assert.equal(partitionsOf(8, 16).size, 1);
        const records = await readAll(log);
        assert.ok(records.filter((r) => r.key === 'one-key').length === 8);
        assert.ok(records.filter((r) => r.key === 'urn:test:one-source').length === 8);
      }));

    test('spreads different keys over more than one partition', () =>
      withLog(async ({ log }) => {
        if (log.partitions < 2) return;
        const results = await log.append(makeEvents(64, (i) => ({ source: `urn:test:spread:${i}` })));
        assert.ok(new Set(results.map((r) => r.position?.partition)).size > 1);
      }));

    test('answers one position per partition, in partition order', () =>
      withLog(async ({ log }) => {
        const expected = Array.from({ length: log.partitions }, (_, partition) => partition);
        assert.deepEqual(
          (await log.endOffsets()).map((p) => p.partition),
          expected,
        );
        assert.deepEqual(
          (await log.committed('g')).map((p) => p.partition),
          expected,
        );
        assert.deepEqual(
          (await log.offsetsForTime(0)).map((p) => p.partition),
          expected,
        );
      }));

    test('starts a fresh log and a fresh group at offset 0', () =>
      withLog(async ({ log }) => {
        if (!dense) return;
        assert.ok((await log.endOffsets()).every((p) => p.offset === 0));
        assert.ok((await log.committed('fresh-group')).every((p) => p.offset === 0));
      }));

    test('gives dense offsets and end offsets that count the appends', { skip: !dense }, () =>
      withLog(async ({ log }) => {
        await log.append(makeEvents(30, (i) => ({ source: `urn:test:dense:${i % 7}` })));
        await Promise.all(
          makeEvents(10, (i) => ({ source: `urn:test:dense:${i % 3}` })).map((e) => log.append([e])),
        );
        const ends = await log.endOffsets();
        let total = 0;
        for (const { partition, offset } of ends) {
          const records = await log.read(partition, 0, 1000);
          assert.deepEqual(
            records.map((r) => r.offset),
            Array.from({ length: offset }, (_, i) => i),
          );
          total += offset;
        }
        assert.equal(total, 40);
      }),
    );

    test('reads a range from an offset and answers fewer records at the end', () =>
      withLog(async ({ log }) => {
        const results = await log.append(makeEvents(10, () => ({ source: 'urn:test:range' })));
        const partition = results[0]!.position!.partition;
        const offsets = results.map((r) => r.position!.offset);
        const base = offsets[0]!;
        assert.deepEqual(
          (await log.read(partition, offsets[3]!, 4)).map((r) => r.offset),
          offsets.slice(3, 7),
        );
        assert.deepEqual(
          (await log.read(partition, offsets[8]!, 5)).map((r) => r.offset),
          offsets.slice(8),
        );
        const end = (await log.endOffsets())[partition]!.offset;
        assert.deepEqual(await log.read(partition, end, 5), []);
        assert.deepEqual(
          (await log.read(partition, base, 1)).map((r) => r.offset),
          [base],
        );
      }));

    test('answers the first offset at or after a time', () =>
      withLog(async ({ log, advanceClock }) => {
        const first = await log.append(makeEvents(5, () => ({ source: 'urn:test:time' })));
        if (advanceClock) advanceClock(1_000);
        else await sleep(20);
        const second = await log.append(makeEvents(5, () => ({ source: 'urn:test:time' })));
        const partition = first[0]!.position!.partition;
        const records = await log.read(partition, 0, 100);
        for (const record of records) {
          const answer = (await log.offsetsForTime(record.timestamp))[partition]!.offset;
          assert.ok(answer <= record.offset, 'at or before the record');
          for (const earlier of records.filter((r) => r.offset < answer)) {
            assert.ok(earlier.timestamp < record.timestamp, 'only earlier records come before the answer');
          }
        }
        if (advanceClock) {
          const at = records.find((r) => r.offset === second[0]!.position!.offset)!.timestamp;
          assert.equal((await log.offsetsForTime(at))[partition]!.offset, second[0]!.position!.offset);
        }
        const latest = Math.max(...records.map((r) => r.timestamp));
        assert.deepEqual(await log.offsetsForTime(latest + 60_000), await log.endOffsets());
        assert.equal((await log.offsetsForTime(0))[partition]!.offset, records[0]!.offset);
      }));

    test('accepts a (source, id) once within the dedup window', () =>
      withLog(async ({ log }) => {
        const event = makeEvent({ source: 'urn:test:dedup' });
        const [first] = await log.append([event], { dedupWindowMs: WINDOW });
        assert.equal(first?.duplicate, false);
        const copy = makeEvent({ source: event.source, id: event.id, data: 'different payload' });
        const [second] = await log.append([copy], { dedupWindowMs: WINDOW });
        assert.equal(second?.duplicate, true);
        if (second?.position) assert.deepEqual(second.position, first?.position);
        const records = await readAll(log);
        assert.equal(records.filter((r) => r.event.id === event.id).length, 1);
      }));

    test('treats the second copy within one batch as a duplicate', () =>
      withLog(async ({ log }) => {
        const event = makeEvent({ source: 'urn:test:dedup-batch' });
        const other = makeEvent({ source: 'urn:test:dedup-batch' });
        const results = await log.append([event, other, event], { dedupWindowMs: WINDOW });
        assert.deepEqual(
          results.map((r) => r.duplicate),
          [false, false, true],
        );
        assert.equal((await readAll(log)).length, 2);
      }));

    test('deduplicates concurrent appends of the same event', () =>
      withLog(async ({ log }) => {
        const event = makeEvent({ source: 'urn:test:dedup-concurrent' });
        const results = await Promise.all(
          [1, 2, 3, 4].map(() => log.append([event], { dedupWindowMs: WINDOW })),
        );
        assert.equal(results.flat().filter((r) => !r.duplicate).length, 1);
        assert.equal((await readAll(log)).length, 1);
      }));

    test('identifies events by source and id together', () =>
      withLog(async ({ log }) => {
        const a = makeEvent({ source: 'urn:test:a', id: 'same-id' });
        const b = makeEvent({ source: 'urn:test:b', id: 'same-id' });
        const results = await log.append([a, b], { dedupWindowMs: WINDOW });
        assert.deepEqual(
          results.map((r) => r.duplicate),
          [false, false],
        );
      }));

    test('appends a repeated event again when deduplication is off', () =>
      withLog(async ({ log }) => {
        const event = makeEvent({ source: 'urn:test:nodedup' });
        await log.append([event]);
        const [again] = await log.append([event], { dedupWindowMs: 0 });
        assert.equal(again?.duplicate, false);
        assert.equal((await readAll(log)).length, 2);
      }));

    test('accepts an event again once the dedup window has passed', () =>
      withLog(async ({ log, advanceClock }) => {
        if (!advanceClock) return;
        const event = makeEvent({ source: 'urn:test:window' });
        await log.append([event], { dedupWindowMs: 1_000 });
        advanceClock(1_001);
        const [again] = await log.append([event], { dedupWindowMs: 1_000 });
        assert.equal(again?.duplicate, false);
      }));

    test("a record's stored text, when the log offers it, is its event's: attributes and data text", () =>
      withLog(async ({ log, reopen }, track) => {
        const texts = [
          '{"specversion":"1.0","id":"st-1","source":"urn:test:stored","type":"t","data":{"n":1.50,"s":"\\u00e9\\""}}',
          '{"specversion":"1.0","id":"st-2","source":"urn:test:stored","type":"t","subject":"a \\"b\\"","ext":7,"flag":true,"data":[1,{"data":2}]}',
          '{"specversion":"1.0","id":"st-3","source":"urn:test:stored","type":"t","data":"text"}',
          '{"specversion":"1.0","id":"st-4","source":"urn:test:stored","type":"t","data_base64":"AAE="}',
          '{"specversion":"1.0","id":"st-5","source":"urn:test:stored","type":"t"}',
        ];
        const events = texts.map((text) => parseEventJson(text));
        const results = await log.append(events);
        // Another log on the same data reads what this one wrote (none of it in its memory).
        let reader = log;
        if (reopen !== undefined) {
          await log.close();
          reader = track(await reopen());
        }
        let offered = 0;
        for (const [i, result] of results.entries()) {
          const position = result.position!;
          const [record] = await reader.read(position.partition, position.offset, 1);
          assert.ok(record, `record ${i}`);
          // The stored attributes are read before the event is made (which may make them into it: StoredEvent).
          const stored = record.stored;
          if (stored !== undefined) {
            const { data: _data, ...attributes } = events[i]!;
            assert.deepEqual({ ...stored.attributes }, attributes);
          }
          assert.deepEqual(record.event, events[i]);
          if (stored === undefined) continue;
          offered++;
          assert.equal(
            rawDataText(events[i]!) !== undefined,
            true,
            `record ${i}: stored text only for JSON data text`,
          );
          assert.deepEqual(storedEvent(stored), record.event, `record ${i}: the stored event is the event`);
          assert.equal(stored.text.slice(stored.dataAt, stored.dataEnd), rawDataText(record.event));
        }
        if (capabilities.storedText && reopen !== undefined) {
          assert.equal(offered, 2, 'the records with JSON object or array data text offer their stored text');
        }
      }));

    test('keeps appended events across a reopen and continues their offsets', () =>
      withLog(async ({ log, reopen }, track) => {
        if (!reopen) return;
        const events = makeEvents(20, (i) => ({ source: `urn:test:reopen:${i % 4}` }));
        await log.append(events);
        const endsBefore = await log.endOffsets();
        await log.close();
        const again = track(await reopen());
        assert.deepEqual(await again.endOffsets(), endsBefore);
        const records = await readAll(again);
        assert.deepEqual(sortById(records.map((r) => r.event)), sortById(events));
        const [next] = await again.append([makeEvent({ source: 'urn:test:reopen:0' })]);
        const partition = next!.position!.partition;
        assert.equal(next!.position!.offset, endsBefore[partition]!.offset);
      }));

    test('remembers accepted (source, id) pairs across a reopen', () =>
      withLog(async ({ log, reopen }, track) => {
        if (!reopen) return;
        const event = makeEvent({ source: 'urn:test:dedup-reopen' });
        await log.append([event], { dedupWindowMs: WINDOW });
        await log.close();
        const again = track(await reopen());
        const [result] = await again.append([event], { dedupWindowMs: WINDOW });
        assert.equal(result?.duplicate, true);
      }));

    test('delivers every record to a subscriber in offset order and commits past it', () =>
      withLog(async ({ log }) => {
        await log.append(makeEvents(30, (i) => ({ source: `urn:test:sub:${i % 5}` })));
        const seen = new Map<number, number[]>();
        const subscription = await log.subscribe({
          group: 'g1',
          handler: async (records) => {
            assertOnePartitionInOrder(records);
            for (const r of records) seen.set(r.partition, [...(seen.get(r.partition) ?? []), r.offset]);
          },
        });
        await log.append(makeEvents(10, (i) => ({ source: `urn:test:sub:${i % 5}` })));
        const ends = await log.endOffsets();
        await waitFor(async () => sameOffsets(await log.committed('g1'), ends), 'commits to reach the end');
        await subscription.close();
        for (const { partition, offset } of ends) {
          const expected = (await log.read(partition, 0, 1000)).map((r) => r.offset);
          if (expected.length > 0) assert.equal(expected.at(-1)! + 1, offset);
          assert.deepEqual(seen.get(partition) ?? [], expected, `partition ${partition} seen once, in order`);
        }
      }));

    test('commits a batch only after the handler resolves', () =>
      withLog(async ({ log }) => {
        const [first] = await log.append(makeEvents(3, () => ({ source: 'urn:test:gate' })));
        const partition = first!.position!.partition;
        const gate = deferred();
        let calls = 0;
        const subscription = await log.subscribe({
          group: 'g-gate',
          handler: async () => {
            calls += 1;
            await gate.promise;
          },
        });
        try {
          await waitFor(() => calls > 0, 'the handler to be called');
          await sleep(300);
          const start = first!.position!.offset;
          assert.equal((await log.committed('g-gate'))[partition]!.offset, start, 'nothing committed yet');
        } finally {
          // Closing the log waits for the running handler: a failure above must not leave it waiting for ever.
          gate.resolve();
        }
        const end = (await log.endOffsets())[partition]!.offset;
        await waitFor(async () => (await log.committed('g-gate'))[partition]!.offset === end, 'the commit');
        await subscription.close();
      }));

    test('retries a rejected batch from the committed position without advancing past it', () =>
      withLog(async ({ log }) => {
        const appended = await log.append(makeEvents(5, () => ({ source: 'urn:test:retry' })));
        const partition = appended[0]!.position!.partition;
        const start = appended[0]!.position!.offset;
        const firstOffsets: number[] = [];
        const committedDuringFailures: number[] = [];
        let failures = 0;
        const subscription = await log.subscribe({
          group: 'g-retry',
          handler: async (records) => {
            firstOffsets.push(records[0]!.offset);
            if (failures < 2) {
              failures += 1;
              committedDuringFailures.push((await log.committed('g-retry'))[partition]!.offset);
              throw new Error('handler fails on purpose');
            }
          },
        });
        const end = (await log.endOffsets())[partition]!.offset;
        await waitFor(async () => (await log.committed('g-retry'))[partition]!.offset === end, 'the commit');
        await subscription.close();
        assert.equal(failures, 2);
        assert.deepEqual(firstOffsets.slice(0, 3), [start, start, start], 'the failed batch comes again');
        assert.deepEqual(committedDuringFailures, [start, start]);
      }));

    test('never runs two handler calls for one partition at a time and respects maxBatch', () =>
      withLog(async ({ log }) => {
        await log.append(makeEvents(60, (i) => ({ source: `urn:test:conc:${i % 6}` })));
        const active = new Map<number, number>();
        let overlap = false;
        let oversized = false;
        let count = 0;
        const subscription = await log.subscribe({
          group: 'g-conc',
          maxBatch: 4,
          handler: async (records) => {
            const partition = records[0]!.partition;
            if ((active.get(partition) ?? 0) > 0) overlap = true;
            if (records.length > 4) oversized = true;
            active.set(partition, (active.get(partition) ?? 0) + 1);
            await sleep(2);
            count += records.length;
            active.set(partition, (active.get(partition) ?? 0) - 1);
          },
        });
        await waitFor(() => count >= 60, 'all records');
        await subscription.close();
        assert.equal(overlap, false);
        assert.equal(oversized, false);
        assert.equal(count, 60);
      }));

    test('waits for a running handler when the subscription closes', () =>
      withLog(async ({ log }) => {
        await log.append([makeEvent({ source: 'urn:test:close' })]);
        const gate = deferred();
        let called = false;
        let finished = false;
        const subscription = await log.subscribe({
          group: 'g-close',
          handler: async () => {
            called = true;
            await gate.promise;
            finished = true;
          },
        });
        let closed = false;
        try {
          await waitFor(() => called, 'the handler to be called');
          const closing = subscription.close().then(() => {
            closed = true;
          });
          await sleep(100);
          assert.equal(closed, false, 'close waits for the handler');
          gate.resolve();
          await closing;
        } finally {
          gate.resolve(); // a failure above must not leave the handler, and so the log's close, waiting for ever
        }
        assert.equal(finished, true);
      }));

    test('resumes a group from its committed position and starts a new group at the beginning', () =>
      withLog(async ({ log }) => {
        await log.append(makeEvents(6, (i) => ({ source: `urn:test:resume:${i % 3}` })));
        const firstRun: string[] = [];
        const one = await log.subscribe({
          group: 'g-resume',
          handler: async (records) => {
            for (const r of records) firstRun.push(r.event.id);
          },
        });
        await waitFor(() => firstRun.length >= 6, 'first run');
        let ends = await log.endOffsets();
        await waitFor(async () => sameOffsets(await log.committed('g-resume'), ends), 'first commit');
        await one.close();

        const later = makeEvents(4, (i) => ({ source: `urn:test:resume:${i % 3}` }));
        await log.append(later);
        const secondRun: string[] = [];
        const two = await log.subscribe({
          group: 'g-resume',
          handler: async (records) => {
            for (const r of records) secondRun.push(r.event.id);
          },
        });
        ends = await log.endOffsets();
        await waitFor(async () => sameOffsets(await log.committed('g-resume'), ends), 'second commit');
        await two.close();
        assert.deepEqual([...secondRun].sort(), later.map((e) => e.id).sort());

        const fresh: string[] = [];
        const three = await log.subscribe({
          group: 'g-other',
          handler: async (records) => {
            for (const r of records) fresh.push(r.event.id);
          },
        });
        await waitFor(() => fresh.length >= 10, 'a new group to read everything');
        await three.close();
        assert.equal(fresh.length, 10);
      }));

    test('keeps committed positions across a reopen', () =>
      withLog(async ({ log, reopen }, track) => {
        if (!reopen) return;
        await log.append(makeEvents(8, (i) => ({ source: `urn:test:commit-reopen:${i % 4}` })));
        let count = 0;
        const subscription = await log.subscribe({
          group: 'g-durable',
          handler: async (records) => {
            count += records.length;
          },
        });
        const ends = await log.endOffsets();
        await waitFor(async () => sameOffsets(await log.committed('g-durable'), ends), 'the commit');
        await subscription.close();
        await log.close();
        const again = track(await reopen());
        assert.deepEqual(await again.committed('g-durable'), ends);
        assert.equal(count, 8);
      }));

    test(
      'shares partitions between members of one group without processing a record twice',
      {
        skip: capabilities.groupMembers ? false : 'the implementation has one member per group',
      },
      () =>
        withLog(async ({ log }) => {
          const seen = new Map<string, number>();
          const handler = async (records: readonly LogRecord[]) => {
            for (const r of records) seen.set(r.event.id, (seen.get(r.event.id) ?? 0) + 1);
          };
          const a = await log.subscribe({ group: 'g-members', handler });
          const b = await log.subscribe({ group: 'g-members', handler });
          await log.append(makeEvents(40, (i) => ({ source: `urn:test:members:${i % 8}` })));
          await waitFor(() => seen.size >= 40, 'all records');
          await a.close();
          await b.close();
          assert.ok(
            [...seen.values()].every((n) => n === 1),
            'each record processed once',
          );
        }),
    );
  });
}

/** Every record of every partition, partition by partition. */
export async function readAll(log: EventLog): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  for (const { partition, offset: end } of await log.endOffsets()) {
    const starts = await log.offsetsForTime(0);
    let from = starts[partition]!.offset;
    while (from < end) {
      const batch = await log.read(partition, from, 500);
      if (batch.length === 0) break;
      all.push(...batch);
      from = batch.at(-1)!.offset + 1;
    }
  }
  return all;
}

function assertOnePartitionInOrder(records: readonly LogRecord[]): void {
  assert.ok(records.length > 0, 'a handler call has records');
  const partition = records[0]!.partition;
  for (const [i, r] of records.entries()) {
    assert.equal(r.partition, partition);
    if (i > 0) assert.ok(r.offset > records[i - 1]!.offset);
  }
}

function sameOffsets(a: readonly Position[], b: readonly Position[]): boolean {
  return (
    a.length === b.length && a.every((p, i) => p.partition === b[i]!.partition && p.offset === b[i]!.offset)
  );
}

function sortById(events: readonly CloudEvent[]): CloudEvent[] {
  return [...events].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
