/** The metrics registry's label keys: cached for speed, never merging two different label sets. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics, mergeExpositions } from '../../lib/engine/metrics.ts';

describe('Metrics label keys', () => {
  test('one series per label set, whatever the order of the labels, with the constant labels', async () => {
    const m = new Metrics({ bus: 'orders' });
    m.inc('x_total', { rule: 'a', target: 't' });
    m.inc('x_total', { target: 't', rule: 'a' });
    m.inc('x_total', { rule: 'a', target: 'u' });
    const text = await m.render();
    assert.match(text, /^x_total\{bus="orders",rule="a",target="t"\} 2$/m);
    assert.match(text, /^x_total\{bus="orders",rule="a",target="u"\} 1$/m);
  });

  test('label values holding the cache separator do not collide with other label sets', async () => {
    const m = new Metrics();
    m.inc('y_total', { a: 'x', b: 'y' });
    m.inc('y_total', { a: 'x\u0000b\u0000y' });
    m.inc('y_total', { a: 'x', b: 'y' });
    assert.equal(m.value('y_total', { a: 'x', b: 'y' }), 2);
    assert.equal(m.value('y_total', { a: 'x\u0000b\u0000y' }), 1);
  });

  test('clear drops the series of a metric and keeps it listed', async () => {
    const m = new Metrics();
    m.set('g', 3, { rule: 'gone' });
    m.clear('g');
    m.set('g', 1, { rule: 'kept' });
    const text = await m.render();
    assert.doesNotMatch(text, /gone/);
    assert.match(text, /^# TYPE g gauge$/m);
    assert.match(text, /^g\{rule="kept"\} 1$/m);
  });

  test('counts a series the same whether its labels come frozen (keyed once) or fresh each time', async () => {
    const metrics = new Metrics({ bus: 'orders' });
    const frozen = Object.freeze({ target: 't"1', rule: 'r\\1' });
    for (let i = 0; i < 3; i++) metrics.inc('hits', frozen);
    metrics.inc('hits', { rule: 'r\\1', target: 't"1' }, 2);
    metrics.observe('latency', 0.002, frozen);
    metrics.observe('latency', 0.002, { rule: 'r\\1', target: 't"1' });
    metrics.inc('hits');
    assert.equal(metrics.value('hits', frozen), 5);
    assert.equal(metrics.value('hits', { target: 't"1', rule: 'r\\1' }), 5);
    const text = await metrics.render();
    assert.match(text, /^hits\{bus="orders",rule="r\\\\1",target="t\\"1"\} 5$/m);
    assert.match(text, /^hits\{bus="orders"\} 1$/m);
    assert.match(text, /^latency_count\{bus="orders",rule="r\\\\1",target="t\\"1"\} 2$/m);
  });
});

describe('mergeExpositions', () => {
  test("one exposition with each family once, every registry's series under it, as renderAll gives", async () => {
    const a = new Metrics({ bus: 'default' });
    const b = new Metrics({ bus: 'iso' });
    for (const m of [a, b]) {
      m.declare('events_total', 'counter', 'Events.');
      m.declare('wait_seconds', 'histogram', 'Waits.');
    }
    a.inc('events_total', { rule: 'r' }, 2);
    b.inc('events_total', { rule: 'r' }, 3);
    a.observe('wait_seconds', 0.01, undefined);
    b.observe('wait_seconds', 0.02, undefined);
    b.inc('only_iso_total', undefined, 1);
    const merged = mergeExpositions([await a.render(), await b.render()]);
    assert.equal(merged, await Metrics.renderAll([a, b]));
    const lines = merged.split('\n');
    assert.equal(lines.filter((l) => l === '# TYPE events_total counter').length, 1);
    assert.ok(
      lines.indexOf('events_total{bus="iso",rule="r"} 3') > lines.indexOf('# TYPE events_total counter'),
    );
    assert.ok(lines.includes('wait_seconds_count{bus="iso"} 1'));
  });

  test('series before any HELP or TYPE line keep a family of their own name', () => {
    assert.equal(
      mergeExpositions(['x 1\n', '# TYPE x counter\nx{a="b"} 2\n']),
      '# TYPE x counter\nx 1\nx{a="b"} 2\n',
    );
  });
});
