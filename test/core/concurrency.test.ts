import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AimdLimit } from '../../lib/core/concurrency.ts';

/** Feeds `n` fast successes, each started after the previous finished. */
function fast(limit: AimdLimit, n: number, at: { t: number }, latency = 2): void {
  for (let i = 0; i < n; i++) {
    limit.record('ok', at.t, at.t + latency);
    at.t += latency;
  }
}

describe('AimdLimit', () => {
  it('starts at the initial limit, clamped to 1…max', () => {
    assert.equal(new AimdLimit({ max: 64, initial: 16 }).limit, 16);
    assert.equal(new AimdLimit({ max: 8, initial: 16 }).limit, 8);
    assert.equal(new AimdLimit({ max: 8, initial: 0 }).limit, 1);
  });

  it('grows by one per round of limit fast successes, up to max and never past it', () => {
    const limit = new AimdLimit({ max: 6, initial: 4 });
    const at = { t: 0 };
    fast(limit, 3, at);
    assert.equal(limit.limit, 4);
    fast(limit, 1, at);
    assert.equal(limit.limit, 5);
    fast(limit, 5, at);
    assert.equal(limit.limit, 6);
    fast(limit, 1000, at);
    assert.equal(limit.limit, 6);
  });

  it('does not grow while the lane has room to spare', () => {
    const limit = new AimdLimit({ max: 64, initial: 4 });
    for (let i = 0; i < 100; i++) limit.record('ok', i, i + 1, false);
    assert.equal(limit.limit, 4);
  });

  it('halves on overload, never below 1', () => {
    const limit = new AimdLimit({ max: 64, initial: 32 });
    let t = 0;
    const expected = [16, 8, 4, 2, 1, 1];
    for (const value of expected) {
      t += 10;
      assert.equal(limit.record('overload', t, t + 1), value);
    }
  });

  it('cuts once for a burst of failures sent under the old limit', () => {
    const limit = new AimdLimit({ max: 64, initial: 32 });
    // 32 attempts started at 0…31 all fail around t = 100: one cut, not five.
    for (let i = 0; i < 32; i++) limit.record('overload', i, 100 + i);
    assert.equal(limit.limit, 16);
    // One started after the cut fails: a second cut.
    limit.record('overload', 140, 150);
    assert.equal(limit.limit, 8);
  });

  it('treats a success far slower than the baseline as overload', () => {
    const limit = new AimdLimit({ max: 64, initial: 16, latencyFactor: 4, latencySlackMs: 50 });
    const at = { t: 0 };
    fast(limit, 10, at, 5); // baseline 5 ms: the threshold is 5 × 4 + 50 = 70 ms
    const before = limit.limit;
    limit.record('ok', at.t, at.t + 60);
    assert.equal(limit.limit, before, '60 ms is under the threshold');
    limit.record('ok', at.t + 100, at.t + 300);
    assert.equal(limit.limit, Math.floor(before / 2));
  });

  it('recovers after the overload ends', () => {
    const limit = new AimdLimit({ max: 16, initial: 16 });
    let t = 0;
    for (let i = 0; i < 10; i++) {
      t += 10;
      limit.record('overload', t, t + 1);
    }
    assert.equal(limit.limit, 1);
    const at = { t: t + 10 };
    fast(limit, 200, at);
    assert.equal(limit.limit, 16);
  });

  it('re-learns the baseline of a target that became slower for good', () => {
    const limit = new AimdLimit({ max: 64, initial: 8, latencyFactor: 2, latencySlackMs: 0 });
    const at = { t: 0 };
    fast(limit, 20, at, 10); // baseline 10 ms, threshold 20 ms
    let t = at.t;
    // Now every answer takes 30 ms: a few cuts, then the baseline drifts up and the limit grows again.
    for (let i = 0; i < 2000; i++) {
      limit.record('ok', t, t + 30);
      t += 30;
    }
    assert.ok(limit.threshold >= 30, `threshold ${limit.threshold}`);
    assert.ok(limit.limit > 1, `limit ${limit.limit}`);
  });
});
