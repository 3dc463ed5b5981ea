import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uuidv7 } from '../../lib/core/uuid.ts';
import { UUID_V7 as FORMAT, uuidv7Millis } from '../helpers/events.ts';

describe('uuidv7', () => {
  it('answers RFC 9562 version 7 UUIDs whose first 48 bits are the time in ms', () => {
    for (const now of [0, 1, 1_733_212_800_123, 0xffff_ffff_ffff]) {
      const id = uuidv7(now);
      assert.match(id, FORMAT);
      assert.equal(uuidv7Millis(id), now);
    }
  });

  it('draws fresh random bits for every id, past the pool of random bytes', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7(1_733_212_800_000));
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, FORMAT);
    // Every random hex digit position takes many values (the bits are not stuck).
    for (const position of [15, 16, 17, 20, 21, 25, 30, 35]) {
      assert.ok(new Set(ids.map((id) => id[position])).size >= 8, `position ${position}`);
    }
  });

  it('sorts ids of later milliseconds after earlier ones', () => {
    const ids = [5, 1_000, 1_733_212_800_000, 1_733_212_800_001].map((t) => uuidv7(t));
    assert.deepEqual([...ids].sort(), ids);
  });

  it('refuses a time it cannot hold', () => {
    for (const bad of [-1, 1.5, 2 ** 48, Number.NaN]) assert.throws(() => uuidv7(bad), RangeError);
  });
});
