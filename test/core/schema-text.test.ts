import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileSchema, type SchemaChecker } from '../../lib/core/schema-check.ts';
import type { TextCheck, TextWalk } from '../../lib/core/schema-text.ts';
import { WIDE_SCHEMA } from '../bench/schemas.ts';
import { wideData as wide } from '../bench/support/wide-data.ts';

/** The checker of a schema with its text check (walked by `walk`), which the schema must have. */
function compiled(
  schema: unknown,
  dialect: '2020-12' | 'draft-07' = '2020-12',
  walk: TextWalk = 'module',
): SchemaChecker & { validText: TextCheck } {
  const checker = compileSchema(dialect, schema, 'schema', walk);
  const { validText } = checker;
  assert.ok(validText !== undefined, `no text check for ${JSON.stringify(schema)}`);
  return Object.assign(checker, { validText });
}

/** The two walks of the text check: the module's over a schema program, JS's over the module's member walk. */
const WALKS: readonly TextWalk[] = ['module', 'js'];

function ajvValid(checker: SchemaChecker, text: string): boolean {
  return checker(JSON.parse(text)).length === 0;
}

describe('the schema check on JSON text', () => {
  test("the benchmark's 20-property events pass from their text, and each broken rule makes it ask ajv", () => {
    const checker = compiled(WIDE_SCHEMA);
    for (let n = 0; n < 200; n++) {
      const text = JSON.stringify(wide(n));
      assert.equal(checker.validText(text), true, text);
      assert.equal(ajvValid(checker, text), true);
    }
    const broken: Array<[string, Record<string, unknown>]> = [
      ['pattern', { orderId: 'order-1' }],
      ['format uuid', { customerId: 'not-a-uuid' }],
      ['format email', { email: 'nobody' }],
      ['format date-time', { createdAt: '2026-12-07 10:00' }],
      ['enum', { status: 'lost' }],
      ['minimum', { total: -0.5 }],
      ['maxLength', { currency: 'EURO' }],
      ['minLength', { currency: 'EU' }],
      ['integer', { quantity: 1.5 }],
      ['type', { express: 'yes' }],
      ['type of an item', { items: [{ sku: 'a', qty: 1, price: '1' }] }],
      ['required of an item', { items: [{ sku: 'a', qty: 1 }] }],
      ['maxItems', { tags: Array.from({ length: 21 }, () => 'x') }],
      ['items', { tags: ['web', 7] }],
      ['additionalProperties', { extra: 1 }],
      ['type of a nested member', { channel: { name: 7 } }],
    ];
    for (const [rule, change] of broken) {
      const text = JSON.stringify({ ...wide(1), ...change });
      assert.equal(checker.validText(text), false, rule);
      assert.equal(ajvValid(checker, text), false, rule);
    }
    const { n: _n, ...withoutN } = wide(1);
    assert.equal(checker.validText(JSON.stringify(withoutN)), false, 'required');
  });

  test('texts it does not read alone answer "not known": a backslash, a character past ASCII, a duplicate key', () => {
    const checker = compiled({
      type: 'object',
      properties: { a: { type: 'string' }, b: { type: 'integer' } },
    });
    assert.equal(checker.validText('{"a":"x","b":1}'), true);
    assert.equal(checker.validText('{"a":"x\\n","b":1}'), false); // valid, but ajv decides
    assert.equal(checker.validText('{"a":"é","b":1}'), false);
    // JSON.parse keeps the last of a repeated key: ajv refuses the first text and accepts the second.
    assert.equal(checker.validText('{"b":1,"b":"x"}'), false);
    assert.equal(ajvValid(checker, '{"b":1,"b":"x"}'), false);
    assert.equal(checker.validText('{"b":"x","b":1}'), false);
    assert.equal(ajvValid(checker, '{"b":"x","b":1}'), true);
    // A number past a double: ajv decides.
    assert.equal(checker.validText('{"b":1e400}'), false);
  });

  test('keys in any order, with whitespace, dots and more members than one walk records', () => {
    const checker = compiled({
      type: 'object',
      additionalProperties: false,
      required: ['a', 'c', 'x.y'],
      properties: {
        a: { type: 'integer' },
        b: { type: 'string' },
        c: { type: 'boolean' },
        'x.y': { type: 'null' },
      },
    });
    assert.equal(checker.validText('{"c":true,"b":"s","a":1,"x.y":null}'), true);
    assert.equal(checker.validText('{ "x.y" : null ,\n "c" : false , "a" : 2 }'), true);
    assert.equal(checker.validText('{"c":true,"a":1}'), false); // x.y missing
    assert.equal(checker.validText('{"c":true,"a":1,"x.y":null,"d":0}'), false); // d: not allowed
    assert.equal(checker.validText('{"d":0,"c":true,"a":1,"x.y":null}'), false);
    const open = compiled({ type: 'object', required: ['z'], properties: { z: { type: 'integer' } } });
    const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]));
    assert.equal(open.validText(JSON.stringify({ ...many, z: 1 })), true);
    assert.equal(open.validText(JSON.stringify({ ...many, z: 'one' })), false);
    assert.equal(open.validText(JSON.stringify(many)), false);
    const closed = compileSchema('2020-12', {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.keys(many).map((k) => [k, { type: 'integer' }])),
    });
    assert.equal(closed.validText, undefined, 'a names table past 256 bytes is left to ajv');
    // More named members than one walk records (256): the walk resumes where it stopped.
    const repeated = compiled({
      type: 'object',
      additionalProperties: false,
      required: ['a'],
      properties: { a: { type: 'integer' }, b: { type: 'object' } },
    });
    const members = Array.from({ length: 300 }, (_, i) => (i % 100 === 50 ? '"b":{"x":[1]}' : '"a":1'));
    assert.equal(repeated.validText(`{${members.join(',')}}`), true);
    assert.equal(ajvValid(repeated, `{${members.join(',')}}`), true);
    assert.equal(repeated.validText(`{${[...members, '"a":"x"'].join(',')}}`), false);
    assert.equal(
      repeated.validText(`{${[...members.slice(0, 280), '"c":1', ...members.slice(280)].join(',')}}`),
      false,
    );
  });

  test('a schema whose names tables pass the block (4,096 bytes): the later ones are copied a call, same answers', () => {
    // 40 objects of 10 names of 10 bytes: ≈ 4,600 bytes of tables, so the last objects' tables are not in the block.
    const names = (o: number) =>
      Array.from({ length: 10 }, (_, k) => `o${String(o).padStart(2, '0')}name_${k}_`);
    const schema = {
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: 40 }, (_, o) => [
          `o${o}`,
          {
            type: 'object',
            additionalProperties: false,
            required: names(o).slice(0, 3),
            properties: Object.fromEntries(
              names(o).map((n, k) => [n, { type: k % 2 === 0 ? 'integer' : 'string' }]),
            ),
          },
        ]),
      ),
    };
    const checker = compiled(schema);
    const value = (o: number) => Object.fromEntries(names(o).map((n, k) => [n, k % 2 === 0 ? k : `v${k}`]));
    const data: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: 40 }, (_, o) => [`o${o}`, value(o)]),
    );
    assert.equal(checker.validText(JSON.stringify(data)), true);
    assert.equal(ajvValid(checker, JSON.stringify(data)), true);
    for (const o of [0, 30, 39]) {
      const first = names(o)[0] as string;
      const wrongType = { ...data, [`o${o}`]: { ...value(o), [first]: 'x' } };
      const missing = { ...data, [`o${o}`]: Object.fromEntries(Object.entries(value(o)).slice(1)) };
      const extra = { ...data, [`o${o}`]: { ...value(o), other: 1 } };
      for (const bad of [wrongType, missing, extra]) {
        assert.equal(checker.validText(JSON.stringify(bad)), false, `o${o}`);
        assert.equal(ajvValid(checker, JSON.stringify(bad)), false);
      }
    }
  });

  test("the module's walk: past its records, or an object of more than 32 names, JS walks; answers as ajv", () => {
    // 600 patterned strings: more records than the module keeps (MAX_CHECK_RECORDS), so JS walks the text.
    const patterned = compiled({ type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } });
    const words = Array.from({ length: 600 }, (_, i) => 'abcdefghij'.slice(i % 10));
    assert.equal(patterned.validText(JSON.stringify(words)), true);
    assert.equal(patterned.validText(JSON.stringify([...words, 'x1'])), false);
    assert.equal(patterned.validText(JSON.stringify(['x1', ...words])), false);
    assert.equal(ajvValid(patterned, JSON.stringify([...words, 'x1'])), false);
    // 40 names: `required` does not fit the module's 32-bit mask, so JS walks this object.
    const names = Array.from({ length: 40 }, (_, i) => `p${i}`);
    const wide40 = compiled({
      type: 'object',
      additionalProperties: false,
      required: names,
      properties: Object.fromEntries(names.map((n) => [n, { type: 'integer', minimum: 0 }])),
    });
    const all = Object.fromEntries(names.map((n, i) => [n, i]));
    assert.equal(wide40.validText(JSON.stringify(all)), true);
    for (const bad of [
      { ...all, p39: -1 },
      { ...all, q: 1 },
      Object.fromEntries(Object.entries(all).slice(1)),
    ]) {
      assert.equal(wide40.validText(JSON.stringify(bad)), false, JSON.stringify(bad).slice(0, 40));
      assert.equal(ajvValid(wide40, JSON.stringify(bad)), false);
    }
    // 32 names, the last one required: the mask's top bit.
    const names32 = names.slice(0, 32);
    const wide32 = compiled({
      type: 'object',
      required: ['p31'],
      properties: Object.fromEntries(names32.map((n) => [n, { type: 'integer' }])),
    });
    const all32 = Object.fromEntries(names32.map((n, i) => [n, i]));
    assert.equal(wide32.validText(JSON.stringify(all32)), true);
    const { p31: _p31, ...without31 } = all32;
    assert.equal(wide32.validText(JSON.stringify(without31)), false);
    assert.equal(ajvValid(wide32, JSON.stringify(without31)), false);
  });

  test('each bound at its limit and one step past it, as ajv answers', () => {
    const cases: Array<[object, string, boolean]> = [
      [{ minimum: 5 }, '5', true],
      [{ minimum: 5 }, '4.99', false],
      [{ maximum: 5 }, '5', true],
      [{ maximum: 5 }, '5.01', false],
      [{ exclusiveMinimum: 5 }, '5', false],
      [{ exclusiveMinimum: 5 }, '5.01', true],
      [{ exclusiveMaximum: 5 }, '5', false],
      [{ exclusiveMaximum: 5 }, '4.99', true],
      [{ minimum: -2.5 }, '-2.5', true],
      [{ minimum: -2.5 }, '-2.51', false],
      [{ maximum: 0 }, '-0', true],
      [{ type: 'integer' }, '2', true],
      [{ type: 'integer' }, '2.5', false],
      [{ type: 'integer' }, '1e2', true],
      [{ type: 'integer', maximum: 123456789012345 }, '123456789012345', true],
      [{ type: 'integer', maximum: 123456789012345 }, '123456789012346', false],
      // 16 digits, an exponent: read by JS (the module reads up to 15 digits without one).
      [{ type: 'integer', maximum: 1234567890123456 }, '1234567890123456', true],
      [{ type: 'integer', maximum: 1234567890123456 }, '1234567890123457', false],
      // 16 digits past 2^53: read as an integer first, they would round twice (to 1e15, past the maximum).
      [{ maximum: 999999999999999.9 }, '999999999999999.9', true],
      [{ minimum: 15 }, '1.5e1', true],
      [{ minimum: 15 }, '1.4e1', false],
      [{ type: 'integer' }, '10.0', true],
      [{ type: 'integer' }, '-0.0', true],
      [{ type: 'integer' }, '-1.25', false],
      [{ exclusiveMinimum: 0 }, '-0.0', false],
      [{ enum: ['a', 'bb', 'ccc'] }, '"bb"', true],
      [{ enum: ['a', 'bb', 'ccc'] }, '"b"', false],
      [{ enum: [1, 2] }, '"1"', false],
      [{ const: true }, 'true', true],
      [{ const: true }, 'false', false],
      [{ enum: [null] }, 'null', true],
      [{ enum: [false] }, 'null', false],
      [{ enum: ['a'] }, '{}', false],
      [{ enum: ['a'] }, '[]', false],
      [{ minLength: 2 }, '"ab"', true],
      [{ minLength: 2 }, '"a"', false],
      [{ maxLength: 2 }, '"ab"', true],
      [{ maxLength: 2 }, '"abc"', false],
      [{ minItems: 2 }, '[1,2]', true],
      [{ minItems: 2 }, '[1]', false],
      [{ maxItems: 2 }, '[1, 2]', true],
      [{ maxItems: 2 }, '[1,2,3]', false],
      [{ enum: ['a', 1, true, null] }, '"a"', true],
      [{ enum: ['a', 1, true, null] }, '1.0', true],
      [{ enum: ['a', 1, true, null] }, 'false', false],
      [{ enum: ['a', 1, true, null] }, '"ab"', false],
      [{ const: 0 }, '-0', true],
    ];
    for (const [schema, text, valid] of cases) {
      for (const walk of WALKS) {
        const checker = compiled(schema, '2020-12', walk);
        const label = `${text} against ${JSON.stringify(schema)} (${walk})`;
        assert.equal(ajvValid(checker, text), valid, `ajv: ${label}`);
        assert.equal(checker.validText(text), valid, label);
      }
    }
  });

  test('schemas with keywords it does not read have no text check', () => {
    for (const schema of [
      { $ref: '#/$defs/a', $defs: { a: { type: 'string' } } },
      { oneOf: [{ type: 'string' }, { type: 'integer' }] },
      { type: 'object', patternProperties: { '^a': { type: 'string' } } },
      { type: 'array', uniqueItems: true },
      { type: 'number', multipleOf: 0.01 },
      { type: 'object', additionalProperties: { type: 'string' } },
      { type: 'string', pattern: 'a+b+' }, // quadratic: ajv runs it under a budget
      { type: 'object', properties: { a: false } },
      { enum: [{ a: 1 }] },
      { type: 'string', nullable: true },
    ]) {
      assert.equal(compileSchema('2020-12', schema).validText, undefined, JSON.stringify(schema));
    }
    // A tuple (draft-07's array form of `items`).
    assert.equal(
      compileSchema('draft-07', { type: 'array', items: [{ type: 'string' }] }).validText,
      undefined,
    );
  });

  // The property that matters: on texts it reads (ASCII, no backslash), its answer is ajv's, both ways.
  const KEYS = ['a', 'b', 'c', 'd.e'];
  const PATTERNS = ['^[0-9]{2}$', '^x', 'y$', '^[a-z]+$'];
  const FORMATS = ['uuid', 'email', 'date-time', 'date', 'time', 'ipv4', 'uri', 'hostname'];
  const scalars = fc.oneof(
    fc.constantFrom(
      0,
      -0,
      1,
      -1,
      2,
      5,
      7,
      1.5,
      -2.25,
      -10,
      10,
      99.99,
      100,
      1e3,
      1e6,
      123456789012345,
      1e21,
      0.1,
      1e-7,
    ),
    fc.integer({ min: -1000, max: 1000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    fc.constantFrom('', 'x', 'xy', '12', 'abc', 'y', 'xyz', 'ABC'),
    fc.constantFrom(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      'URN:UUID:0F8FAD5B-D9CB-469F-A165-70867728950E',
      'someone@shop.example',
      '2026-12-07T10:00:00Z',
      '2026-12-07T10:00:00.123+01:00',
      '2026-12-07',
      '10:00:00Z',
      '192.168.0.1',
      'https://shop.example/a',
      'shop.example',
    ),
    fc.string({ unit: fc.constantFrom('a', 'b', '0', '1', '-', ' ', ':', '.'), maxLength: 12 }),
    fc.boolean(),
    fc.constant(null),
  );
  const values = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalars,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.constantFrom(...KEYS, 'z'), tie('value'), { maxKeys: 5 }),
    ),
  })).value;
  const scalarSchema = fc.oneof(
    fc.record(
      {
        type: fc.constantFrom('string', ['string', 'null']),
        minLength: fc.nat(4),
        maxLength: fc.nat(12),
        pattern: fc.constantFrom(...PATTERNS),
        format: fc.constantFrom(...FORMATS),
      },
      { requiredKeys: ['type'] },
    ),
    fc.record(
      {
        type: fc.constantFrom('integer', 'number', ['integer', 'string'], ['number', 'boolean']),
        minimum: fc.integer({ min: -10, max: 10 }),
        maximum: fc.constantFrom(0, 5, 100, 1e6),
        exclusiveMinimum: fc.constantFrom(-1, 0, 1.5),
        exclusiveMaximum: fc.constantFrom(10, 99.99, 1e21),
      },
      { requiredKeys: ['type'] },
    ),
    fc.record({
      enum: fc.uniqueArray(scalars, { minLength: 1, maxLength: 4, selector: (v) => JSON.stringify(v) }),
    }),
    fc.record({ const: scalars }),
    fc.constantFrom({ type: 'boolean' }, { type: 'null' }, {}, true, { title: 'anything', 'x-note': 1 }),
  );
  const schemas = fc.letrec<{ schema: unknown }>((tie) => ({
    schema: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalarSchema,
      fc.record(
        {
          type: fc.constant('object'),
          properties: fc.dictionary(fc.constantFrom(...KEYS), tie('schema'), { maxKeys: 4 }),
          required: fc.uniqueArray(fc.constantFrom(...KEYS, 'z'), { maxLength: 3 }),
          additionalProperties: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      fc.record(
        { type: fc.constant('array'), items: tie('schema'), minItems: fc.nat(2), maxItems: fc.nat(4) },
        { requiredKeys: [] },
      ),
    ),
  })).schema;

  test('property: on ASCII texts without a backslash it answers as ajv does, in both dialects', () => {
    let agreedValid = 0;
    let agreedInvalid = 0;
    fc.assert(
      // Ten values per schema: compiling a schema costs ajv far more than checking a value.
      fc.property(
        schemas,
        fc.array(values, { minLength: 10, maxLength: 10 }),
        fc.constantFrom(undefined, 1, '\t'),
        fc.constantFrom('2020-12', 'draft-07'),
        (schema, list, indent, dialect) => {
          const checker = compileSchema(dialect as '2020-12' | 'draft-07', schema);
          if (checker.validText === undefined) return;
          const js = compileSchema(dialect as '2020-12' | 'draft-07', schema, 'schema', 'js').validText;
          for (const value of list) {
            const text = JSON.stringify(value, null, indent);
            const valid = checker(JSON.parse(text)).length === 0;
            assert.equal(checker.validText(text), valid, `${text} against ${JSON.stringify(schema)}`);
            assert.equal(js?.(text), valid, `${text} against ${JSON.stringify(schema)} (js)`);
            if (valid) agreedValid++;
            else agreedInvalid++;
          }
        },
      ),
      { numRuns: 500 },
    );
    // Both answers are reached often enough for the property to mean something.
    assert.ok(agreedValid > 400 && agreedInvalid > 400, `${agreedValid} valid, ${agreedInvalid} invalid`);
  });

  test("property: format uuid read from the bytes answers as ajv-formats' regular expression", () => {
    const checker = compiled({ type: 'string', format: 'uuid' });
    const js = compiled({ type: 'string', format: 'uuid' }, '2020-12', 'js');
    const digits = [...'0123456789abcdefABCDEF'];
    // Mostly groups of the right length and digits, now and then one off by a character or in length.
    const group = (n: number) =>
      fc
        .oneof(
          { weight: 6, arbitrary: fc.array(fc.constantFrom(...digits), { minLength: n, maxLength: n }) },
          {
            weight: 1,
            arbitrary: fc.array(fc.constantFrom(...digits, 'g', 'G', '-'), {
              minLength: n - 1,
              maxLength: n + 1,
            }),
          },
        )
        .map((cs) => cs.join(''));
    const uuids = fc
      .tuple(
        fc.constantFrom(
          '',
          '',
          '',
          'urn:uuid:',
          'URN:UUID:',
          'Urn:Uuid:',
          'urn:uuid',
          'urn;uuid:',
          'urm:uuid:',
          'xurn:uuid:',
        ),
        group(8),
        group(4),
        group(4),
        group(4),
        group(12),
        fc.constantFrom('-', '-', '-', '-', '-', '_', ''),
      )
      .map(([prefix, a, b, c, d, e, dash]) => `${prefix}${a}-${b}${dash}${c}-${d}-${e}`);
    const strings = fc.oneof(
      uuids,
      fc.string({ unit: fc.constantFrom('a', 'F', '0', '-', ':', 'u'), maxLength: 46 }),
    );
    let valid = 0;
    fc.assert(
      fc.property(strings, (value) => {
        const text = JSON.stringify(value);
        const expected = ajvValid(checker, text);
        if (expected) valid++;
        assert.equal(checker.validText(text), expected, value);
        assert.equal(js.validText(text), expected, `${value} (js)`);
      }),
      { numRuns: 5000 },
    );
    assert.ok(valid > 500, `${valid} valid`);
  });

  test('property: whatever the text, "valid" is never said of what ajv refuses', () => {
    const texts = fc.oneof(
      values.map((v) => JSON.stringify(v)),
      // Escapes, characters past ASCII and repeated keys.
      fc
        .tuple(fc.constantFrom(...KEYS), scalars, scalars)
        .map(([k, x, y]) => `{"${k}":${JSON.stringify(x)},"${k}":${JSON.stringify(y)}}`),
      fc
        .string({ unit: fc.constantFrom('a', 'é', '"', '\\', '\n', '€', '😀'), maxLength: 6 })
        .map((s) => JSON.stringify({ a: s, b: [s] })),
    );
    fc.assert(
      fc.property(schemas, fc.array(texts, { minLength: 10, maxLength: 10 }), (schema, list) => {
        const checker = compileSchema('2020-12', schema);
        const js = compileSchema('2020-12', schema, 'schema', 'js').validText;
        for (const text of list) {
          for (const validText of [checker.validText, js]) {
            if (validText?.(text) === true) {
              assert.equal(checker(JSON.parse(text)).length, 0, `${text} against ${JSON.stringify(schema)}`);
            }
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
