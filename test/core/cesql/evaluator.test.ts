/** The CESQL evaluator beyond the TCK: the data extension, 32-bit arithmetic, chains and error propagation. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type CesqlEvent, evaluateCesql } from '../../../lib/core/cesql/index.ts';

const event: CesqlEvent = {
  specversion: '1.0',
  id: 'e-1',
  source: 'shop',
  type: 'order.created',
  count: 7,
  big: 5_000_000_000,
  data: {
    total: 120,
    price: 9.99,
    customer: { name: 'Ada', vip: true, note: null },
    items: [{ sku: 'A1' }, { sku: 'B2' }],
    'odd key': 'yes',
  },
};

const run = (expression: string, on: CesqlEvent = event) => {
  const { value, errors } = evaluateCesql(expression, on, { maxBytes: 65536 });
  return { value, errors: errors.map((e) => e.kind) };
};

test('reads the JSON payload through data paths', () => {
  assert.deepEqual(run('data.total > 100'), { value: true, errors: [] });
  assert.deepEqual(run("data.customer.name = 'Ada'"), { value: true, errors: [] });
  assert.deepEqual(run('data.customer.vip'), { value: true, errors: [] });
  assert.deepEqual(run("data.items.1.sku LIKE 'B%'"), { value: true, errors: [] });
  assert.deepEqual(run("data.'odd key'"), { value: 'yes', errors: [] });
});

test('treats a missing data path, a null and a path into a scalar as a missing attribute', () => {
  for (const expression of [
    'data.nope = 1',
    'data.customer.note = 1',
    'data.total.x = 1',
    'data.items.9.sku = 1',
  ]) {
    assert.deepEqual(run(expression), { value: false, errors: ['missingAttribute'] }, expression);
  }
  assert.deepEqual(run('EXISTS data.customer.note'), { value: false, errors: [] });
  assert.deepEqual(run('EXISTS data.customer'), { value: true, errors: [] });
  const binary = { ...event, data: undefined, data_base64: 'AAEC' };
  assert.deepEqual(run('data.total = 1', binary), { value: false, errors: ['missingAttribute'] });
  assert.deepEqual(run('data.length = 1', { ...event, data: 'text' }), {
    value: false,
    errors: ['missingAttribute'],
  });
});

test('gives non-32-bit numbers as their decimal text and objects as JSON text', () => {
  assert.deepEqual(run('data.price'), { value: '9.99', errors: [] });
  assert.deepEqual(run('big'), { value: '5000000000', errors: [] });
  assert.deepEqual(run('data.customer.name'), { value: 'Ada', errors: [] });
  assert.deepEqual(run('data.items.0'), { value: '{"sku":"A1"}', errors: [] });
  assert.deepEqual(run('data.price > 5'), { value: false, errors: ['cast'] });
});

test('reads attribute names with digits, and bare data as the payload text', () => {
  assert.deepEqual(run('ext2 = 5', { ...event, ext2: '5' }), { value: true, errors: [] });
  assert.deepEqual(run('data', { ...event, data: { a: 1 } }), { value: '{"a":1}', errors: [] });
  assert.deepEqual(run('-0'), { value: 0, errors: [] });
  assert.equal(Object.is(run('-0').value, -0), false);
});

test('does not read inherited properties as attributes', () => {
  assert.deepEqual(run('constructor = 1'), { value: false, errors: ['missingAttribute'] });
  assert.deepEqual(run('EXISTS tostring'), { value: false, errors: [] });
  assert.deepEqual(run('data.constructor = 1'), { value: false, errors: ['missingAttribute'] });
});

test('wraps 32-bit overflow and reports it as a math error', () => {
  assert.deepEqual(run('2147483647 + 1'), { value: -2147483648, errors: ['math'] });
  assert.deepEqual(run('-2147483648 - 1'), { value: 2147483647, errors: ['math'] });
  assert.deepEqual(run('65536 * 65536'), { value: 0, errors: ['math'] });
  assert.deepEqual(run('-2147483648 / -1'), { value: -2147483648, errors: ['math'] });
  assert.deepEqual(run('-(-2147483648)'), { value: -2147483648, errors: ['math'] });
  assert.deepEqual(run('-7 / 2'), { value: -3, errors: [] });
  assert.deepEqual(run('-7 % 2'), { value: -1, errors: [] });
  assert.deepEqual(run('count * 3'), { value: 21, errors: [] });
});

test('groups AND, OR and XOR to the right at one precedence level, as the spec grammar does', () => {
  assert.deepEqual(run('FALSE AND FALSE OR TRUE'), { value: false, errors: [] });
  assert.deepEqual(run('TRUE OR FALSE AND FALSE'), { value: true, errors: [] });
  assert.deepEqual(run('TRUE XOR TRUE AND FALSE'), { value: true, errors: [] });
  assert.deepEqual(run('TRUE XOR FALSE AND missing'), { value: true, errors: [] });
  assert.deepEqual(run('TRUE XOR TRUE XOR TRUE'), { value: true, errors: [] });
});

test('continues after an operator’s own cast error but not after an operand’s error', () => {
  assert.deepEqual(run('10 OR TRUE'), { value: true, errors: ['cast'] });
  assert.deepEqual(run('TRUE AND (10 OR TRUE)'), { value: false, errors: ['cast'] });
  assert.deepEqual(run("'abc' + 1"), { value: 1, errors: ['cast'] });
  assert.deepEqual(run("('abc' + 1) * 2"), { value: 0, errors: ['cast'] });
  assert.deepEqual(run("'abc' + 1 + 1"), { value: 0, errors: ['cast'] });
  assert.deepEqual(run("5 IN ('x', 5)"), { value: true, errors: ['cast'] });
  assert.deepEqual(run('1 IN (missing, 1)'), { value: false, errors: ['missingAttribute'] });
});

test('evaluates a chain of thousands of operators without deep recursion', () => {
  const ors = `${Array.from({ length: 400 }, (_, i) => `count = ${i + 100}`).join(' OR ')} OR count = 7`;
  assert.deepEqual(run(ors), { value: true, errors: [] });
  const sum = Array.from({ length: 1000 }, () => '1').join(' + ');
  assert.deepEqual(run(sum), { value: 1000, errors: [] });
});

/** Leaves with every kind of outcome: plain values, missing attributes, math errors and cast errors. */
const leaf = fc.constantFrom('TRUE', 'FALSE', 'missing', '(1 / 0 = 0)', '10', "'true'", "'x'", '0', 'count');
const logicOp = fc.constantFrom('AND', 'OR', 'XOR');

test('evaluates a flat right-grouped chain exactly as its fully parenthesized form', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(logicOp, leaf), { minLength: 1, maxLength: 8 }),
      leaf,
      (pairs, lastLeaf) => {
        const flat = `${pairs.map(([op, x]) => `${x} ${op}`).join(' ')} ${lastLeaf}`;
        const nested = pairs.reduceRight<string>((inner, [op, x]) => `(${x} ${op} ${inner})`, lastLeaf);
        assert.deepEqual(run(flat), run(nested), `${flat} vs ${nested}`);
      },
    ),
    { numRuns: 2000 },
  );
});

test('evaluates a flat left-grouped chain exactly as its fully parenthesized form', () => {
  const operand = fc.constantFrom('1', '0', '7', 'missing', "'x'", "'3'", 'TRUE', 'count', '2147483647');
  for (const symbols of [
    ['+', '-'],
    ['*', '/', '%'],
    ['=', '<', '<>', '>='],
  ]) {
    const operator = fc.constantFrom(...symbols);
    fc.assert(
      fc.property(
        operand,
        fc.array(fc.tuple(operator, operand), { minLength: 1, maxLength: 6 }),
        (first, rest) => {
          const flat = `${first} ${rest.map(([op, x]) => `${op} ${x}`).join(' ')}`;
          const nested = rest.reduce<string>((inner, [op, x]) => `(${inner} ${op} ${x})`, first);
          assert.deepEqual(run(flat), run(nested), `${flat} vs ${nested}`);
        },
      ),
      { numRuns: 1000 },
    );
  }
});
