/** The `junction dev` terminal: failures rate-limited per target, dead letters, a summary only when busy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDevReporter } from '../../lib/cli/dev-reporter.ts';
import type { TraceEntry } from '../../lib/ports.ts';

function harness() {
  let now = 1_000_000;
  const lines: string[] = [];
  let tick: () => void = () => {};
  let stopped = false;
  const reporter = createDevReporter({
    write: (line) => lines.push(line),
    clock: { now: () => now },
    summaryMs: 30_000,
    lineEveryMs: 10_000,
    every: (_ms, fn) => {
      tick = fn;
      return () => {
        stopped = true;
      };
    },
  });
  return {
    reporter,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
    tick: () => tick(),
    stopped: () => stopped,
  };
}

const base = { source: '/shop', id: 'o-1', at: 0, rule: 'enriched', target: 'hook' };

function failed(
  error = 'POST http://127.0.0.1:9000/hook failed: ECONNREFUSED: connect ECONNREFUSED',
): TraceEntry[] {
  return [
    { ...base, kind: 'attempt', detail: { outcome: 'failed', error } },
    { ...base, kind: 'retry-scheduled', detail: { delayMs: 1000 } },
  ];
}

describe('dev reporter', () => {
  it('prints nothing when idle', () => {
    const h = harness();
    for (let i = 0; i < 5; i++) {
      h.advance(30_000);
      h.tick();
    }
    assert.deepEqual(h.lines, []);
  });

  it('prints one failure line per target per interval, not one per attempt', () => {
    const h = harness();
    for (let i = 0; i < 50; i++) {
      h.reporter.observe(failed());
      h.advance(100);
    }
    assert.equal(h.lines.length, 1);
    assert.equal(
      h.lines[0],
      'delivery failing: enriched/hook: POST http://127.0.0.1:9000/hook failed: ECONNREFUSED: connect ECONNREFUSED',
    );
    h.advance(10_000);
    h.reporter.observe(failed('POST http://127.0.0.1:9000/hook answered 501'));
    assert.equal(h.lines.length, 2);
    assert.equal(
      h.lines[1],
      'delivery failing: enriched/hook: POST http://127.0.0.1:9000/hook answered 501 (+49 more failures since the last line)',
    );
    // Another target has its own line.
    h.reporter.observe(failed().map((e) => ({ ...e, target: 'other' })));
    assert.equal(h.lines.length, 3);
    assert.match(h.lines[2] ?? '', /^delivery failing: enriched\/other: /);
  });

  it('says when a delivery is dead-lettered', () => {
    const h = harness();
    h.reporter.observe([
      {
        ...base,
        kind: 'dead-lettered',
        detail: { dlId: 'x', reason: 'gave up after 5 attempts', attempts: 5 },
      },
    ]);
    assert.deepEqual(h.lines, [
      'dead letter: enriched/hook: event /shop o-1: gave up after 5 attempts — `junction dead-letters list`',
    ]);
  });

  it('summarizes the interval when something happened, then goes quiet again', () => {
    const h = harness();
    h.reporter.observe([
      { ...base, kind: 'received' },
      { ...base, id: 'o-2', kind: 'received' },
      { ...base, kind: 'delivered' },
    ]);
    h.reporter.observe(failed());
    h.reporter.observe([{ ...base, id: 'o-2', kind: 'dead-lettered', detail: { reason: 'r' } }]);
    const before = h.lines.length;
    h.advance(30_000);
    h.tick();
    assert.equal(h.lines.length, before + 1);
    assert.equal(h.lines.at(-1), 'last 30 s: 2 accepted, 1 delivered, 1 retrying, 1 dead-lettered');
    h.advance(30_000);
    h.tick();
    assert.equal(h.lines.length, before + 1);
  });

  it('cuts long errors to one short line', () => {
    const h = harness();
    h.reporter.observe(failed(`answered 501: ${'<p>\n</p>'.repeat(200)}`));
    assert.equal(h.lines.length, 1);
    assert.ok((h.lines[0] ?? '').length < 220);
    assert.equal((h.lines[0] ?? '').includes('\n'), false);
  });

  it('stops its timer and prints what is pending on close', () => {
    const h = harness();
    h.reporter.observe([{ ...base, kind: 'received' }]);
    h.advance(5_000);
    h.reporter.close();
    assert.equal(h.stopped(), true);
    assert.deepEqual(h.lines, ['last 5 s: 1 accepted, 0 delivered, 0 retrying, 0 dead-lettered']);
  });

  it('writes one JSON object per notable event with format json, each with its source and id', () => {
    const lines: string[] = [];
    const reporter = createDevReporter({
      write: (line) => lines.push(line),
      format: 'json',
      clock: { now: () => 1_000_000 },
      every: () => () => {},
    });
    const received = Array.from(
      { length: 12 },
      (_, i): TraceEntry => ({
        source: '/shop',
        id: `o-${i}`,
        at: 0,
        kind: 'received',
      }),
    );
    reporter.observe(received, 'orders');
    reporter.observe([
      ...failed(),
      ...failed(),
      ...failed('FunctionTimeout: function f did not finish within 10 ms'),
    ]);
    reporter.observe([
      { ...base, kind: 'dead-lettered', detail: { dlId: 'dl-1', reason: 'retries exhausted', attempts: 3 } },
    ]);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      parsed.map((l) => l.event),
      ['accepted', 'delivery-failed', 'delivery-failed', 'function-error', 'dead-lettered'],
      'every failure, no rate limit, no text lines',
    );
    assert.deepEqual(parsed[0], {
      time: new Date(1_000_000).toISOString(),
      level: 'info',
      event: 'accepted',
      bus: 'orders',
      count: 12,
      events: received.slice(0, 10).map((e) => ({ source: e.source, id: e.id })),
      more: 2,
    });
    assert.equal(parsed[3]?.code, 'FunctionTimeout');
    assert.equal(parsed[3]?.level, 'error');
    assert.deepEqual(
      { ...parsed[4], time: undefined },
      {
        time: undefined,
        level: 'error',
        event: 'dead-lettered',
        source: '/shop',
        id: 'o-1',
        rule: 'enriched',
        target: 'hook',
        dlId: 'dl-1',
        attempts: 3,
        reason: 'retries exhausted',
      },
    );
    reporter.close();
    const summary = JSON.parse(lines.at(-1) as string) as Record<string, unknown>;
    assert.equal(summary.event, 'summary');
    assert.equal(summary.accepted, 12);
    assert.equal(summary.deadLettered, 1);
  });
});
