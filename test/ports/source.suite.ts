/**
 * The shared test suite every connector's Source passes (docs/connectors.md): call `sourceSuite` with a harness that
 * can write records into the source's system. What it holds a source to: events with ids from where they were read;
 * a position committed only after the bus took a batch (a refused batch comes again, with the same ids); a new
 * source on the same position goes on after what was committed; a record that cannot become an event is handed over
 * as invalid and never holds back the ones after it; status tells the position and what is left.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import type { InvalidSourceRecord, Source, SourceBatch } from '../../lib/ports.ts';
import { waitFor } from '../helpers/events.ts';

/** One place in the source system (a topic and group, a table and slot…), fresh for each test. */
export interface SourceFixture {
  /** A source reading this place from its committed position (the same position across calls). */
  readonly open: () => Source;
  /** Writes records that become events whose `data` is `{n}`, in order (one ordered stream: one partition). */
  readonly write: (ns: readonly number[]) => Promise<void>;
  /** Writes one record that cannot become an event. */
  readonly writeInvalid: () => Promise<void>;
  readonly cleanup: () => Promise<void>;
}

export interface SourceHarness {
  readonly fixture: () => Promise<SourceFixture>;
}

/** Reads batches into arrays; `refuse` makes the next calls reject. */
function collector() {
  const events: CloudEvent[] = [];
  const invalid: InvalidSourceRecord[] = [];
  const refused: CloudEvent[][] = [];
  const state = { refuse: 0, calls: 0 };
  return {
    events,
    invalid,
    refused,
    state,
    context: {
      handle: async (batch: SourceBatch) => {
        state.calls += 1;
        if (state.refuse > 0) {
          state.refuse -= 1;
          refused.push([...batch.events]);
          throw new Error('the bus refused this batch');
        }
        events.push(...batch.events);
        invalid.push(...batch.invalid);
      },
      onWarning: () => {},
    },
  };
}

const ns = (events: readonly CloudEvent[]) => events.map((e) => (e.data as { n: number }).n);

export function sourceSuite(name: string, harness: SourceHarness): void {
  describe(name, () => {
    test('hands over what was written as events, in order, with ids from where they were read', async () => {
      const fixture = await harness.fixture();
      const source = fixture.open();
      try {
        const seen = collector();
        await fixture.write([1, 2, 3]);
        await source.start(seen.context);
        await waitFor(() => seen.events.length >= 3, 'seen.events.length >= 3', 60_000);
        assert.deepEqual(ns(seen.events), [1, 2, 3]);
        assert.equal(new Set(seen.events.map((e) => e.id)).size, 3);
      } finally {
        await source.close();
        await fixture.cleanup();
      }
    });

    test('commits only after the bus took a batch: a refused batch comes again with the same ids', async () => {
      const fixture = await harness.fixture();
      try {
        const seen = collector();
        seen.state.refuse = 2;
        const first = fixture.open();
        await fixture.write([1, 2]);
        await first.start(seen.context);
        await waitFor(() => seen.events.length >= 2, 'seen.events.length >= 2', 60_000);
        await first.close();
        assert.ok(seen.state.calls >= 3, `two refusals, then the batch again (${seen.state.calls} calls)`);
        assert.deepEqual(ns(seen.events), [1, 2]);
        assert.deepEqual(
          seen.refused[0]?.map((e) => e.id),
          seen.events.slice(0, seen.refused[0]?.length).map((e) => e.id),
          'the batch read again has the ids it had when it was refused',
        );
        // Taken, so committed: a new source on the same position reads none of it again.
        await fixture.write([3]);
        const next = collector();
        const second = fixture.open();
        await second.start(next.context);
        await waitFor(() => next.events.length >= 1, 'next.events.length >= 1', 60_000);
        await second.close();
        assert.deepEqual(ns(next.events), [3]);
      } finally {
        await fixture.cleanup();
      }
    });

    test('a source closed while it starts lets go: it reads nothing, and the next source on its place reads all', async () => {
      // A connector paused or deleted right after it was (re)started: its source is closed during `start`.
      const fixture = await harness.fixture();
      try {
        const early = collector();
        const first = fixture.open();
        const starting = first.start(early.context).then(
          () => 'started',
          () => 'refused',
        );
        await first.close();
        await starting;
        await fixture.write([1, 2, 3]);
        const late = collector();
        const second = fixture.open();
        await second.start(late.context);
        await waitFor(() => late.events.length >= 3, 'late.events.length >= 3', 60_000);
        await second.close();
        assert.deepEqual(ns(late.events), [1, 2, 3]);
        assert.deepEqual(early.events, [], 'the closed source read nothing');
      } finally {
        await fixture.cleanup();
      }
    });

    test('a new source goes on after the committed position, and reads the same record to the same id', async () => {
      const fixture = await harness.fixture();
      try {
        const one = collector();
        const first = fixture.open();
        await fixture.write([1, 2]);
        await first.start(one.context);
        await waitFor(() => one.events.length >= 2, 'one.events.length >= 2', 60_000);
        await first.close();
        await fixture.write([3]);
        const two = collector();
        const second = fixture.open();
        await second.start(two.context);
        await waitFor(() => two.events.length >= 1, 'two.events.length >= 1', 60_000);
        await second.close();
        assert.deepEqual(ns(two.events), [3], 'nothing taken before is read again');
        const ids = new Set([...one.events, ...two.events].map((e) => e.id));
        assert.equal(ids.size, 3);
      } finally {
        await fixture.cleanup();
      }
    });

    test('a record that cannot become an event is handed over as invalid and holds nothing back', async () => {
      const fixture = await harness.fixture();
      const source = fixture.open();
      try {
        const seen = collector();
        await fixture.write([1]);
        await fixture.writeInvalid();
        await fixture.write([2]);
        await source.start(seen.context);
        await waitFor(
          () => seen.events.length >= 2 && seen.invalid.length >= 1,
          'seen.events.length >= 2 && seen.invalid.length >= 1',
          60_000,
        );
        assert.deepEqual(ns(seen.events), [1, 2]);
        assert.equal(seen.invalid.length, 1);
        assert.ok((seen.invalid[0] as InvalidSourceRecord).reason.length > 0);
        assert.ok((seen.invalid[0] as InvalidSourceRecord).position.length > 0);
      } finally {
        await source.close();
        await fixture.cleanup();
      }
    });

    test('status tells the position and what is left to read', async () => {
      const fixture = await harness.fixture();
      const source = fixture.open();
      try {
        const seen = collector();
        await fixture.write([1, 2, 3]);
        await source.start(seen.context);
        await waitFor(() => seen.events.length >= 3, 'seen.events.length >= 3', 60_000);
        await waitFor(
          async () => (await source.status()).lag === 0,
          '(await source.status()).lag === 0',
          60_000,
        );
        const status = await source.status();
        assert.ok(Object.keys(status.position).length > 0);
        assert.ok(
          Object.values(status.position).some((offset) => offset >= 3),
          JSON.stringify(status),
        );
        await source.close();
        await fixture.write([4, 5]);
        const later = fixture.open();
        const rest = collector();
        rest.state.refuse = 1_000_000;
        await later.start(rest.context);
        await waitFor(
          async () => (await later.status()).lag === 2,
          '(await later.status()).lag === 2',
          60_000,
        );
        await later.close();
      } finally {
        await source.close();
        await fixture.cleanup();
      }
    });
  });
}
