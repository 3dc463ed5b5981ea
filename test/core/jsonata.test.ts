/** JSONata target input: compile-time validation (syntax with position, regexes refused) and bounded evaluation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import { compileJsonata, JSONATA_LIMITS } from '../../lib/core/jsonata.ts';
import { validateRule } from '../../lib/core/rule.ts';

const context = { ruleName: 'orders', targetId: 'web', ingestionTime: '2026-01-02T03:04:05.000Z' };
const event = {
  specversion: '1.0',
  id: 'e-1',
  source: 'shop',
  type: 'order.created',
  data: {
    id: 'o-1',
    lines: [
      { sku: 'A', qty: 2, price: 5 },
      { sku: 'B', qty: 1, price: 7 },
    ],
  },
};

function errorOf(run: () => unknown): JunctionError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof JunctionError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

async function rejection(run: () => Promise<unknown>): Promise<JunctionError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof JunctionError, String(error));
    return error;
  }
  assert.fail('expected a rejection');
}

describe('compileJsonata', () => {
  it('shapes the event into JSON text and reads $junction', async () => {
    const run = compileJsonata(
      '{"order": data.id, "total": $sum(data.lines.(qty * price)), "rule": $junction.ruleName, "skus": data.lines.sku}',
    );
    assert.deepEqual(JSON.parse(await run(event, context)), {
      order: 'o-1',
      total: 17,
      rule: 'orders',
      skus: ['A', 'B'],
    });
  });

  it('writes no match as null and a string as a JSON string', async () => {
    assert.equal(await compileJsonata('data.missing')(event, context), 'null');
    assert.equal(await compileJsonata('type & "!"')(event, context), '"order.created!"');
  });

  it('refuses a syntax error with its position, naming the field', () => {
    const error = errorOf(() => compileJsonata('{"a": }', 'targets[0].inputJsonata'));
    assert.equal(error.code, 'InvalidRule');
    assert.equal(error.field, 'targets[0].inputJsonata');
    assert.match(error.message, /^targets\[0\]\.inputJsonata: JSONata syntax error at position \d+: S0211/);
  });

  it('refuses regular expressions, empty and overlong expressions', () => {
    assert.match(errorOf(() => compileJsonata('$match(type, /(a+)+b/)')).message, /regular expressions/);
    assert.match(errorOf(() => compileJsonata('  ')).message, /non-empty string/);
    assert.match(errorOf(() => compileJsonata(42)).message, /non-empty string/);
    const long = `"${'x'.repeat(JSONATA_LIMITS.maxExpressionLength)}"`;
    assert.match(errorOf(() => compileJsonata(long)).message, /longer than 8192/);
  });

  it('fails an endless loop at the deadline without blocking the event loop', async () => {
    const run = compileJsonata('($f := function($n) { $f($n + 1) + 1 }; $f(0))');
    const endless = compileJsonata('$sum([1..1000].($sum([1..1000].($sum([1..1000].($ * 2))))))');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const deep = await rejection(() => run(event, context));
      assert.equal(deep.code, 'DeliveryFailed');
      assert.match(deep.message, /inputJsonata failed.*D1011/);
      const before = ticks;
      const long = await rejection(() => endless(event, context));
      assert.match(long.message, /inputJsonata failed.*D1012 Evaluation timeout after 1000 milliseconds/);
      // Timers ran while the expression did: it handed the event loop back.
      assert.ok(ticks > before, 'no timer ran during the evaluation');
    } finally {
      clearInterval(timer);
    }
  });

  it('caps sequences, $pad and the result size', async () => {
    const range = await rejection(() => compileJsonata('[1..5000000]')(event, context));
    assert.match(range.message, /D2015|sequence/);
    const pad = await rejection(() => compileJsonata('$pad("x", 100000000)')(event, context));
    assert.match(pad.message, /\$pad width/);
    const big = await rejection(() =>
      compileJsonata('{"a": $pad("x", 200000), "b": [$pad("y", 200000)]}')(event, context),
    );
    assert.match(big.message, /longer than 262144 characters/);
    assert.equal(await compileJsonata('$pad("ab", -4, "#")')(event, context), '"##ab"');
  });

  it('has no $eval: a regular expression cannot come in at run time', async () => {
    const error = await rejection(() =>
      compileJsonata('$eval("$match(\\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\\", /(a+)+b/)")')(
        event,
        context,
      ),
    );
    assert.match(error.message, /\$eval is not available/);
  });

  it('reports an evaluation error with its code', async () => {
    const error = await rejection(() => compileJsonata('$number("not a number")')(event, context));
    assert.equal(error.code, 'DeliveryFailed');
    assert.match(error.message, /inputJsonata failed/);
  });
});

describe('rule validation of inputJsonata', () => {
  const target = { id: 'web', type: 'http', url: 'http://127.0.0.1:1/' };
  it('keeps the expression on the target', () => {
    const rule = validateRule(
      'r',
      { pattern: { type: ['x'] }, targets: [{ ...target, inputJsonata: '{"id": id}' }] },
      0,
    );
    assert.equal(rule.targets[0]?.inputJsonata, '{"id": id}');
  });

  it('refuses inputJsonata with input, naming the field', () => {
    const error = errorOf(() =>
      validateRule(
        'r',
        {
          pattern: { type: ['x'] },
          targets: [{ ...target, input: { path: '$.data' }, inputJsonata: 'data' }],
        },
        0,
      ),
    );
    assert.equal(error.code, 'InvalidRule');
    assert.equal(error.field, 'targets[0].inputJsonata');
    assert.match(error.message, /cannot be combined with targets\[0\]\.input/);
  });

  it('refuses a syntax error at PUT time', () => {
    const error = errorOf(() =>
      validateRule('r', { pattern: { type: ['x'] }, targets: [{ ...target, inputJsonata: 'data.(' }] }, 0),
    );
    assert.equal(error.field, 'targets[0].inputJsonata');
    assert.match(error.message, /syntax error at position/);
  });
});
