/** compileFilter and evaluateCesql: the public CESQL API, its limits and its errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileFilter, evaluateCesql } from '../../../lib/core/cesql/index.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

const order: CloudEvent = {
  specversion: '1.0',
  id: 'o-1',
  source: 'https://shop.example/orders',
  type: 'com.shop.order.created',
  subject: 'order/1',
  data: { total: 150, currency: 'EUR' },
};

function filterError(run: () => unknown): JunctionError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidFilter');
    return error;
  }
  assert.fail('expected an InvalidFilter error');
}

test('compiles once and matches events on attributes and payload', () => {
  const filter = compileFilter(
    "type LIKE 'com.shop.%' AND data.total > 100 AND data.currency IN ('EUR', 'USD')",
  );
  assert.equal(filter.matches(order), true);
  assert.equal(filter.matches({ ...order, data: { total: 50, currency: 'EUR' } }), false);
  assert.equal(filter.matches({ ...order, type: 'com.other' }), false);
  assert.ok(Object.isFrozen(filter));
  assert.equal(filter.expression.startsWith('type LIKE'), true);
});

test('matches only a Boolean true without errors', () => {
  assert.equal(compileFilter('TRUE').matches(order), true);
  assert.equal(compileFilter('1').matches(order), false);
  assert.equal(compileFilter("'true'").matches(order), false);
  assert.equal(compileFilter('10 OR TRUE').evaluate(order).value, true);
  assert.equal(compileFilter('10 OR TRUE').matches(order), false);
  assert.equal(compileFilter("missing = 'x' OR TRUE").matches(order), false);
});

test('evaluate reports the value and every error met', () => {
  assert.deepEqual(compileFilter("subject = 'order/1'").evaluate(order), { value: true, errors: [] });
  assert.deepEqual(compileFilter('dataschema = 1').evaluate(order), {
    value: false,
    errors: [{ kind: 'missingAttribute', message: 'the attribute dataschema is missing' }],
  });
});

test('throws InvalidFilter with the path and the position of a parse error', () => {
  const error = filterError(() => compileFilter("type = 'a' AND\n  (source", { path: 'rules.big.filter' }));
  assert.equal(error.path, 'rules.big.filter');
  assert.deepEqual(error.details, { position: { offset: 24, line: 2, column: 10 } });
  assert.match(error.message, /^CESQL parse error at line 2, column 10: expected '\)'/);
  assert.equal(filterError(() => compileFilter('(')).path, 'filter');
});

test('rejects an expression over the size limit, which is configurable', () => {
  const long = `subject = '${'x'.repeat(5000)}'`;
  const error = filterError(() => compileFilter(long));
  assert.match(error.message, /longer than the limit of 4096 bytes/);
  assert.deepEqual(error.details, { position: { offset: 4096, line: 1, column: 4097 } });
  assert.match(filterError(() => compileFilter(`'${'é'.repeat(30)}'`, { maxBytes: 50 })).message, /50 bytes/);
  assert.equal(compileFilter(long, { maxBytes: 8192 }).matches(order), false);
});

test('rejects an expression that is not a string, naming what it got', () => {
  const error = filterError(() => compileFilter(42 as unknown as string, { path: 'filter' }));
  assert.equal(error.message, 'filter must be a CESQL expression string, received number');
});

test('evaluateCesql returns a parse error instead of throwing', () => {
  const result = evaluateCesql('a LIKE 1', order);
  assert.equal(result.value, false);
  assert.equal(result.errors[0]?.kind, 'parse');
  assert.match(result.errors[0]?.message ?? '', /column 8/);
});
