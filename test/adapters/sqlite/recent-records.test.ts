/** The records a log appended last, kept for its readers: which it holds, in what order they go, what bounds them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RecentRecord, RecentRecords } from '../../../lib/adapters/sqlite/recent-records.ts';

const record = (partition: number, offset: number, chars = 10): RecentRecord<string> => ({
  event: `${partition}/${offset}`,
  key: `k${partition}`,
  timestamp: offset,
  chars,
});

/**
 * What the records must be: every record added, oldest first, less those a restarted run dropped, less the oldest
 * until the bounds hold.
 */
class Model {
  held: { partition: number; offset: number; chars: number }[] = [];
  readonly maxRecords: number;
  readonly maxChars: number;
  constructor(maxRecords: number, maxChars: number) {
    this.maxRecords = maxRecords;
    this.maxChars = maxChars;
  }
  add(partition: number, offset: number, chars: number): void {
    const last = this.held.filter((r) => r.partition === partition).at(-1);
    if (last !== undefined && last.offset + 1 !== offset)
      this.held = this.held.filter((r) => r.partition !== partition);
    this.held.push({ partition, offset, chars });
    const total = () => this.held.reduce((n, r) => n + r.chars, 0);
    while (this.held.length > this.maxRecords || total() > this.maxChars) this.held.shift();
  }
}

/** Asserts the records hold exactly the model's, each the record added at its position, and nothing else. */
function assertHolds(
  records: RecentRecords<string>,
  model: Model,
  partitions: number,
  maxOffset: number,
): void {
  const expected = new Set(model.held.map((r) => `${r.partition}/${r.offset}`));
  for (let p = 0; p < partitions; p++) {
    for (let o = 0; o <= maxOffset; o++) {
      const got = records.get(p, o);
      assert.equal(got?.event, expected.has(`${p}/${o}`) ? `${p}/${o}` : undefined, `${p}/${o}`);
      assert.equal(records.has(p, o), expected.has(`${p}/${o}`));
    }
  }
  assert.equal(records.size, model.held.length);
  assert.equal(
    records.chars,
    model.held.reduce((n, r) => n + r.chars, 0),
  );
}

test('holds the newest records within its bounds, and drops the oldest first across partitions', () => {
  const records = new RecentRecords<string>(5, 1_000);
  const model = new Model(5, 1_000);
  const next = [0, 0, 0];
  for (const partition of [0, 1, 0, 2, 2, 1, 0, 0, 1, 2, 2]) {
    const offset = next[partition]!++;
    records.add(partition, offset, record(partition, offset));
    model.add(partition, offset, 10);
    assertHolds(records, model, 3, 6);
  }
  assert.deepEqual(
    model.held.map((r) => `${r.partition}/${r.offset}`),
    ['0/2', '0/3', '1/2', '2/2', '2/3'],
  );
  assert.equal(records.get(0, 3)?.timestamp, 3);
});

test('bounds the characters of stored text too', () => {
  const records = new RecentRecords<string>(100, 100);
  records.add(0, 0, record(0, 0, 60));
  records.add(1, 0, record(1, 0, 30));
  records.add(0, 1, record(0, 1, 20)); // 110 > 100: the oldest (0/0) goes
  assert.deepEqual([records.has(0, 0), records.has(1, 0), records.has(0, 1)], [false, true, true]);
  assert.deepEqual([records.size, records.chars], [2, 50]);
  records.add(2, 7, record(2, 7, 100)); // alone at the bound: the rest go
  assert.deepEqual([records.size, records.chars, records.get(2, 7)?.event], [1, 100, '2/7']);
});

test('a position that does not follow its partition starts that partition again, and leaves the others', () => {
  const records = new RecentRecords<string>(100, 10_000);
  for (let o = 0; o < 3; o++) records.add(0, o, record(0, o));
  for (let o = 0; o < 3; o++) records.add(1, o, record(1, o));
  records.add(0, 5, record(0, 5)); // another process appended offsets 3 and 4
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((o) => records.has(0, o)),
    [false, false, false, false, false, true],
  );
  assert.deepEqual(
    [0, 1, 2].map((o) => records.get(1, o)?.event),
    ['1/0', '1/1', '1/2'],
  );
  assert.deepEqual([records.size, records.chars], [4, 40]);
  records.add(0, 2, record(0, 2, 7)); // behind the run (records deleted and appended again): starts again too
  assert.deepEqual([records.has(0, 5), records.get(0, 2)?.chars, records.size], [false, 7, 4]);
  records.clear();
  assert.deepEqual([records.size, records.chars, records.has(1, 0)], [0, 0, false]);
  records.add(1, 3, record(1, 3));
  assert.equal(records.get(1, 3)?.event, '1/3');
});

test('answers as the model does for random appends with gaps, and stays bounded when runs restart over and over', () => {
  for (const [maxRecords, maxChars] of [
    [64, 1_000_000],
    [1_000, 5_000],
    [3, 1_000_000],
  ] as const) {
    const records = new RecentRecords<string>(maxRecords, maxChars);
    const model = new Model(maxRecords, maxChars);
    const next = [0, 0, 0, 0];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 3_000; i++) {
      const partition = Math.floor(random() * 4);
      if (random() < 0.05) next[partition]! += 1 + Math.floor(random() * 3); // another process's appends
      const offset = next[partition]!++;
      const chars = 1 + Math.floor(random() * 40);
      records.add(partition, offset, record(partition, offset, chars));
      model.add(partition, offset, chars);
      if (i % 97 === 0) assertHolds(records, model, 4, Math.max(...next));
    }
    assertHolds(records, model, 4, Math.max(...next));
  }
  // Every record restarts its partition's run, and the bounds are never reached: the names of dropped records are
  // forgotten all the same.
  const records = new RecentRecords<string>(10_000, 10_000_000);
  for (let i = 0; i < 100_000; i++) records.add(i % 2, i * 2, record(i % 2, i * 2));
  assert.equal(records.size, 2);
  assert.ok(records.names <= 2 * records.size + 1_025, `${records.names} names for ${records.size} records`);
  assert.deepEqual(
    [records.get(0, 199_996)?.event, records.get(1, 199_998)?.event],
    ['0/199996', '1/199998'],
  );
});
