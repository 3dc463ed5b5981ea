/** Pattern validation: where (a JSON path into the pattern) and why, and the limits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isJunctionError, JunctionError } from '../../../lib/core/errors.ts';
import {
  compilePattern,
  compilePatternText,
  DEFAULT_PATTERN_LIMITS,
  parseJsonPreservingNumbers,
  validatePattern,
} from '../../../lib/core/pattern/index.ts';
import { describeMatcher } from '../../../lib/core/pattern/leaf.ts';
import { deepJson } from '../../helpers/adversarial-patterns.ts';

function errorOf(pattern: unknown, limits = {}): JunctionError {
  try {
    validatePattern(pattern, limits);
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidPattern');
    assert.equal(error.status, 400);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(pattern)} to be rejected`);
}

describe('validatePattern', () => {
  it('accepts every operator of the language', () => {
    validatePattern({
      source: ['shop', 5, null, true],
      type: [
        { prefix: 'com.' },
        { suffix: { 'equals-ignore-case': '.CREATED' } },
        { 'equals-ignore-case': 'X' },
      ],
      data: {
        name: [{ wildcard: 'a*b\\*c' }, { exactly: 'n' }],
        state: [{ 'anything-but': ['stopped', 'failed'] }, { exists: false }],
        code: [{ 'anything-but': { prefix: ['x', 'y'] } }, { 'anything-but': { suffix: 'z' } }],
        kind: [{ 'anything-but': { 'equals-ignore-case': 'A' } }, { 'anything-but': { wildcard: ['*q*'] } }],
        total: [{ numeric: ['>', 0, '<=', 100] }, { numeric: ['=', 3.5] }],
        ip: [{ cidr: '10.0.0.0/8' }, { cidr: '2001:db8::/32' }],
      },
      $or: [{ subject: [{ exists: true }] }, { data: { $or: [{ a: ['1'] }, { b: ['2'] }] } }],
    });
  });

  it('names the path and shows the bad value of a numeric operand', () => {
    const error = errorOf({ data: { total: [{ numeric: ['>', '100'] }] } });
    assert.equal(error.path, 'pattern.data.total[0].numeric[1]');
    assert.match(error.message, /Value of > must be numeric, received "100"/);
  });

  it('quotes keys that are not plain names in the path', () => {
    const error = errorOf({ 'detail-type': { 'a b': [{ prefix: 3 }] } });
    assert.equal(error.path, 'pattern.detail-type["a b"][0].prefix');
    assert.match(error.message, /prefix match pattern must be a string, received 3/);
  });

  it('rejects a pattern that is not an object, empty objects and empty lists', () => {
    assert.equal(errorOf([1, 2, 3]).path, 'pattern');
    assert.match(errorOf({}).message, /Empty objects are not allowed/);
    assert.equal(errorOf({ a: [] }).path, 'pattern.a');
  });

  it('rejects a field that holds a plain value instead of a list', () => {
    const error = errorOf({ source: 'shop' });
    assert.equal(error.path, 'pattern.source');
    assert.match(error.message, /object or an array of match values, received "shop"/);
  });

  it('rejects empty operator objects', () => {
    assert.equal(errorOf({ a: [{ prefix: {} }] }).path, 'pattern.a[0].prefix');
    assert.equal(errorOf({ a: [{ 'anything-but': {} }] }).path, 'pattern.a[0].anything-but');
    assert.match(errorOf({ a: [{}] }).message, /Empty objects are not allowed/);
  });

  it('rejects unknown operators and operator objects with several keys', () => {
    assert.match(errorOf({ a: [{ foo: 'x' }] }).message, /Unrecognized match type foo/);
    assert.match(errorOf({ a: [{ prefix: 'x', suffix: 'y' }] }).message, /Only one key allowed/);
  });

  it('rejects malformed numeric ranges', () => {
    assert.match(errorOf({ x: [{ numeric: ['>', 30, '<', 1] }] }).message, /Bottom must be less than top/);
    assert.match(errorOf({ x: [{ numeric: ['<', 1, '>', 0] }] }).message, /Too many elements/);
    assert.match(errorOf({ x: [{ numeric: ['>', 0, '>', 1] }] }).message, /Bad numeric range operator: >/);
    assert.match(errorOf({ x: [{ numeric: ['<>', 1] }] }).message, /Unrecognized numeric range operator/);
  });

  it('rejects numbers that no double holds exactly', () => {
    const huge = parseJsonPreservingNumbers('{"x": [{"numeric": ["<", 9007199254740993]}]}');
    const error = errorOf(huge);
    assert.equal(error.path, 'pattern.x[0].numeric[1]');
    assert.match(error.message, /Cannot compare number : 9007199254740993/);
    assert.match(
      errorOf({ x: [{ numeric: ['=', Number.POSITIVE_INFINITY] }] }).message,
      /Cannot compare number/,
    );
  });

  it('rejects bad wildcards, CIDR blocks and anything-but lists', () => {
    assert.match(errorOf({ a: [{ wildcard: 'a**b' }] }).message, /Consecutive wildcard characters at pos 2/);
    assert.match(errorOf({ a: [{ wildcard: 'a\\b' }] }).message, /Invalid escape/);
    assert.match(errorOf({ a: [{ cidr: '10.0.0.0/32' }] }).message, /IPv4 mask bits must be < 32/);
    assert.match(errorOf({ a: [{ cidr: 'foo' }] }).message, /one '\/' required/);
    assert.match(errorOf({ a: [{ 'anything-but': ['x', 1] }] }).message, /mixed type/);
    assert.match(errorOf({ a: [{ 'anything-but': { prefix: '' } }] }).message, /must not be empty/);
  });

  it('rejects $or that is not a list of at least two objects, and reserved names as fields at any depth in $or', () => {
    assert.match(errorOf({ $or: [{ a: ['1'] }] }).message, /at least 2/);
    assert.equal(errorOf({ $or: { a: ['1'] } }).path, 'pattern.$or');
    assert.equal(errorOf({ d: { $or: [{ a: ['1'] }, [{ b: ['2'] }]] } }).path, 'pattern.d.$or[1]');
    assert.match(errorOf({ $or: [{ numeric: ['>', 1] }, { a: ['1'] }] }).message, /reserved name/);
    // event-ruler reserves more names than the operators, and checks them at every depth below $or.
    assert.equal(errorOf({ $or: [{ regex: [''] }, { b: [2] }] }).path, 'pattern.$or[0].regex');
    assert.equal(errorOf({ $or: [{ q: { '<=': [1] } }, { b: [2] }] }).path, 'pattern.$or[0].q["<="]');
    validatePattern({ regex: [''], q: { prefix: ['x'] } });
  });

  it('rejects an anything-but number it cannot compare', () => {
    const huge = parseJsonPreservingNumbers('{"b": [{"anything-but": [1, 9007199254740993]}]}');
    assert.equal(errorOf(huge).path, 'pattern.b[0].anything-but[1]');
    assert.match(errorOf(huge).message, /Cannot compare number : 9007199254740993/);
  });

  it('enforces the size, depth, wildcard and combination limits', () => {
    assert.match(errorOf({ a: ['x'.repeat(70_000)] }).message, /more than the limit of 65536/);
    let deep: Record<string, unknown> = { leaf: ['x'] };
    for (let i = 0; i < 70; i++) deep = { n: deep };
    assert.match(errorOf(deep).message, /nested deeper than 64/);
    assert.match(errorOf({ a: [{ wildcard: '*a'.repeat(40) }] }).message, /at most 32 '\*'/);
    const branches = (n: number) => Array.from({ length: n }, (_, i) => ({ [`k${i}`]: ['v'] }));
    const wide = { $or: branches(20), x: { $or: branches(20) } };
    assert.match(errorOf(wide).message, /more than 256 combinations/);
    validatePattern(wide, { maxCombinations: 400 });
    assert.equal(DEFAULT_PATTERN_LIMITS.maxBytes, 65536);
  });
});

describe('compilePattern', () => {
  it('expands $or into sub-patterns; of a path given twice in one combination the last one written wins', () => {
    const values = (pattern: unknown) =>
      compilePattern(pattern).subPatterns.map((s) =>
        s.fields.map((f) => [f.path, f.matchers.map(describeMatcher)]),
      );
    assert.deepEqual(values({ a: ['x'], $or: [{ a: ['y'] }, { b: ['z'] }] }), [
      [['a', ['"y"']]],
      [
        ['a', ['"x"']],
        ['b', ['"z"']],
      ],
    ]);
    assert.deepEqual(values({ $or: [{ a: ['y'] }, { b: ['z'] }], a: ['x'] }), [
      [['a', ['"x"']]],
      [
        ['b', ['"z"']],
        ['a', ['"x"']],
      ],
    ]);
    assert.deepEqual(values({ 'a.b': ['x'], a: { b: ['y'] } }), [[['a.b', ['"y"']]]]);
  });

  it('reads pattern text as written: repeated keys merge objects, repeat a field (last wins) or an operator (invalid)', () => {
    const paths = (text: string) => compilePatternText(text).subPatterns[0]?.fields.map((f) => f.path);
    assert.deepEqual(paths('{"a": {"b": [1]}, "a": {"c": [2]}}'), ['a.b', 'a.c']);
    assert.deepEqual(compilePatternText('{"a": ["x"], "a": ["y"]}').subPatterns[0]?.fields[0]?.matchers, [
      { kind: 'string', value: 'y' },
    ]);
    assert.throws(
      () => compilePatternText('{"a": [{"prefix": "x", "prefix": "y"}]}'),
      /Only one key allowed/,
    );
    assert.throws(
      () => compilePatternText('{"a": [1'),
      (e: JunctionError) => e.code === 'InvalidPattern',
    );
    assert.throws(
      () => compilePatternText(`{"a": ["${'x'.repeat(70_000)}"]}`),
      /more than the limit of 65536/,
    );
    let deep = '{"leaf": ["x"]}';
    for (let i = 0; i < 70; i++) deep = `{"n": ${deep}}`;
    assert.throws(() => compilePatternText(deep), /nested deeper than 64|not valid JSON/);
  });

  it('names a path with empty keys by all its segments', () => {
    assert.deepEqual(compilePattern({ '': { d: { a: ['x'] } } }).subPatterns[0]?.fields[0]?.segments, [
      '',
      'd',
      'a',
    ]);
    assert.deepEqual(compilePattern({ '.a': ['x'] }).subPatterns[0]?.fields[0]?.segments, ['', 'a']);
  });

  it('splits a field with exists:false and other values into an absent and a present variant', () => {
    const compiled = compilePattern({ a: [{ exists: false }, 'x'] });
    assert.deepEqual(
      compiled.subPatterns.map((s) => s.fields.map((f) => f.mode)),
      [['present'], ['absent']],
    );
  });

  it('treats dotted keys as nesting', () => {
    const compiled = compilePattern({ 'detail.state': ['on'], detail: { kind: ['k'] } });
    assert.deepEqual(
      compiled.subPatterns[0]?.fields.map((f) => f.segments),
      [
        ['detail', 'state'],
        ['detail', 'kind'],
      ],
    );
  });
  it('refuses a pattern nested 20,000 deep with InvalidPattern, not a stack overflow', () => {
    for (const kind of ['object', 'array'] as const) {
      const pattern = { a: deepJson(20_000, kind) };
      assert.throws(
        () => compilePattern(pattern),
        (e: unknown) =>
          isJunctionError(e) && e.code === 'InvalidPattern' && /nested deeper than 64 levels/.test(e.message),
      );
    }
  });
});
