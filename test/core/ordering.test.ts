/** Ordering keys (a JSON path or `partitionkey`) and the validation of a target's `ordering`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventJson } from '../../lib/core/cloudevent.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { compileOrderingKey } from '../../lib/core/ordering.ts';
import { validateRule } from '../../lib/core/rule.ts';

const base = { specversion: '1.0' as const, id: 'e', source: 's', type: 't' };

describe('compileOrderingKey', () => {
  it('reads a path into the data, as written by the producer', () => {
    const event = parseEventJson(
      JSON.stringify({ ...base, datacontenttype: 'application/json', data: { order: { id: 'o-7' } } }),
    );
    assert.equal(compileOrderingKey('$.data.order.id')(event), 'o-7');
    assert.equal(compileOrderingKey('$.data.order')(event), '{"id":"o-7"}');
    assert.equal(compileOrderingKey('$.data.missing')(event), '');
    assert.equal(compileOrderingKey('$.source')(event), 's');
  });

  it('reads partitionkey; events without one share the key ""', () => {
    assert.equal(compileOrderingKey('partitionkey')({ ...base, partitionkey: 'p-1' }), 'p-1');
    assert.equal(compileOrderingKey('partitionkey')(base), '');
  });
});

describe('target ordering validation', () => {
  const target = { id: 'web', type: 'http', url: 'http://127.0.0.1:1/' };
  const put = (t: Record<string, unknown>) =>
    validateRule('r', { pattern: { type: ['x'] }, targets: [t] }, 0);
  function errorOf(run: () => unknown): JunctionError {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof JunctionError);
      return error;
    }
    assert.fail('expected an error');
  }

  it('keeps the ordering with its default onFailure', () => {
    assert.deepEqual(put({ ...target, ordering: { key: '$.data.orderId' } }).targets[0]?.ordering, {
      key: '$.data.orderId',
      onFailure: 'continue',
    });
    assert.equal(
      put({ ...target, ordering: { key: 'partitionkey' } }).targets[0]?.ordering?.key,
      'partitionkey',
    );
    assert.equal(
      put({ ...target, ordering: { key: '$.id', onFailure: 'hold' } }).targets[0]?.ordering?.onFailure,
      'hold',
    );
  });

  it('refuses bad keys, unknown settings and batching, naming the field', () => {
    assert.equal(
      errorOf(() => put({ ...target, ordering: { key: 'data.id' } })).field,
      'targets[0].ordering.key',
    );
    assert.equal(errorOf(() => put({ ...target, ordering: {} })).field, 'targets[0].ordering.key');
    assert.equal(errorOf(() => put({ ...target, ordering: 'x' })).field, 'targets[0].ordering');
    assert.equal(
      errorOf(() => put({ ...target, ordering: { key: '$.id', onFailure: 'skip' } })).field,
      'targets[0].ordering.onFailure',
    );
    assert.equal(
      errorOf(() => put({ ...target, ordering: { key: '$.id', extra: 1 } })).field,
      'targets[0].ordering.extra',
    );
    const batch = errorOf(() =>
      put({ ...target, ordering: { key: '$.id' }, batch: { maxSize: 10, windowMs: 10 } }),
    );
    assert.equal(batch.field, 'targets[0].ordering');
    assert.match(batch.message, /cannot be combined with targets\[0\]\.batch/);
  });
});
