/** The in-process metrics registry: series keyed by their labels, frozen or not, with a registry's constant labels. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metrics } from '../../lib/engine/metrics.ts';

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
