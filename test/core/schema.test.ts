import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { JunctionError } from '../../lib/core/errors.ts';
import {
  type Compatibility,
  checkCompatibility,
  MAX_SCHEMA_BYTES,
  MAX_SCHEMA_DEPTH,
  normalizeSchema,
  regexHazard,
  validateSchemaName,
  validateSchemaRequest,
} from '../../lib/core/schema.ts';
import { codePoints, compileSchema, type SchemaChecker } from '../../lib/core/schema-check.ts';

function refused(fn: () => unknown, code: string, field?: string | RegExp): JunctionError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof JunctionError, String(error));
    assert.equal(error.code, code, error.message);
    if (typeof field === 'string') assert.equal(error.field, field, error.message);
    if (field instanceof RegExp) assert.match(error.message, field);
    return error;
  }
  assert.fail('expected a refusal');
}

const order = {
  type: 'object',
  required: ['id', 'total'],
  properties: { id: { type: 'string' }, total: { type: 'number' } },
};

describe('schema requests', () => {
  test('defaults: 2020-12, BACKWARD, reject; the binding is required', () => {
    const request = validateSchemaRequest({ schema: order, binding: { type: 'com.shop.order.created' } });
    assert.equal(request.dialect, '2020-12');
    assert.equal(request.compatibility, 'BACKWARD');
    assert.equal(request.enforcement, 'reject');
    assert.deepEqual(request.binding, { type: 'com.shop.order.created' });
    refused(() => validateSchemaRequest({ schema: order }), 'InvalidSchema', 'binding');
  });

  test('takes draft-07 by its $schema and refuses other dialects', () => {
    const draft7 = normalizeSchema({ $schema: 'http://json-schema.org/draft-07/schema#', ...order });
    assert.equal(draft7.dialect, 'draft-07');
    refused(
      () => normalizeSchema({ $schema: 'http://json-schema.org/draft-04/schema#' }),
      'InvalidSchema',
      'schema.$schema',
    );
  });

  test('refuses bad members naming the field', () => {
    refused(
      () => validateSchemaRequest({ schema: order, binding: { type: 'x' }, compatibility: 'SOME' }),
      'InvalidSchema',
      'compatibility',
    );
    refused(
      () => validateSchemaRequest({ schema: order, binding: { type: 'x' }, enforcement: 'loud' }),
      'InvalidSchema',
      'enforcement',
    );
    refused(
      () => validateSchemaRequest({ schema: order, binding: { type: 'x', dataschema: 'urn:x' } }),
      'InvalidSchema',
      'binding',
    );
    refused(
      () => validateSchemaRequest({ schema: order, binding: { dataschema: 'not a uri' } }),
      'InvalidSchema',
      'binding.dataschema',
    );
    refused(() => validateSchemaRequest({ schema: 42, binding: { type: 'x' } }), 'InvalidSchema', 'schema');
    refused(
      () => validateSchemaRequest({ schema: order, binding: { type: 'x' }, extra: 1 }),
      'InvalidSchema',
      'extra',
    );
    refused(() => validateSchemaName('bad name'), 'InvalidSchema', 'name');
  });

  test('bounds the size and depth of a schema', () => {
    const big = { type: 'object', description: 'x'.repeat(MAX_SCHEMA_BYTES) };
    refused(() => normalizeSchema(big), 'PayloadTooLarge', 'schema');
    let deep: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < MAX_SCHEMA_DEPTH; i++) deep = { type: 'object', properties: { a: deep } };
    refused(() => normalizeSchema(deep), 'InvalidSchema', /deeper than/);
  });

  test('refuses what would make checking more than linear, saying which feature', () => {
    refused(
      () => normalizeSchema({ type: 'string', pattern: '^(a+)+$' }),
      'InvalidSchema',
      /nested quantifiers/,
    );
    refused(
      () => normalizeSchema({ patternProperties: { '^(a|aa)*$': {} } }),
      'InvalidSchema',
      /alternation/,
    );
    refused(() => normalizeSchema({ type: 'string', pattern: '(a)\\1' }), 'InvalidSchema', /backreference/);
    refused(() => normalizeSchema({ type: 'string', pattern: '^a*b*c*d' }), 'InvalidSchema', /3 unbounded/);
    refused(() => normalizeSchema({ type: 'string', pattern: '.*a.*b' }), 'InvalidSchema', /not anchored/);
    refused(
      () => normalizeSchema({ type: 'string', pattern: '^(\\d{1,16}){16}$' }),
      'InvalidSchema',
      /nested/,
    );
    assert.equal(regexHazard('^(\\d{1,3}\\.){3}\\d{1,3}$'), undefined);
    refused(() => normalizeSchema({ type: 'array', uniqueItems: true }), 'InvalidSchema', /maxItems/);
    refused(() => normalizeSchema({ type: 'string', format: 'regex' }), 'InvalidSchema', /format/);
    refused(
      () => normalizeSchema({ $ref: 'https://example.com/s.json' }),
      'InvalidSchema',
      /references inside/,
    );
    // Bounded repetitions and a pattern with two quantifiers are fine.
    assert.equal(regexHazard('^\\d{4}-\\d{2}-\\d{2}$'), undefined);
    assert.equal(regexHazard('^[a-z]+-[0-9]+$'), undefined);
    normalizeSchema({ type: 'array', uniqueItems: true, maxItems: 10 });
  });

  test("takes an OpenAPI 3 document as EventBridge's registry exports it: the detail's schema, and its binding", () => {
    const request = validateSchemaRequest({
      schema: {
        openapi: '3.0.0',
        info: { version: '1.0.0', title: 'OrderCreated' },
        paths: {},
        components: {
          schemas: {
            AWSEvent: {
              type: 'object',
              required: ['detail-type', 'detail', 'source'],
              'x-amazon-events-detail-type': 'OrderCreated',
              'x-amazon-events-source': 'com.shop',
              properties: {
                detail: { $ref: '#/components/schemas/OrderCreated' },
                'detail-type': { type: 'string' },
                source: { type: 'string' },
              },
            },
            OrderCreated: {
              type: 'object',
              required: ['total'],
              properties: { total: { type: 'number' }, note: { type: 'string', nullable: true } },
            },
          },
        },
      },
    });
    assert.equal(request.from, 'openapi');
    assert.deepEqual(request.binding, { type: 'OrderCreated', source: 'com.shop' });
    const check = compileSchema(request.dialect, request.schema);
    assert.deepEqual(check({ total: 5, note: null }), []);
    assert.deepEqual(
      check({ note: 3 }).map((v) => [v.pointer, v.keyword]),
      [
        ['/data/total', 'required'],
        ['/data/note', 'type'],
      ],
    );
  });
});

describe('checking data', () => {
  test('reports the pointer and keyword of each failing value', () => {
    const check = compileSchema('2020-12', {
      ...order,
      additionalProperties: false,
      properties: {
        ...order.properties,
        email: { type: 'string', format: 'email' },
        tags: { type: 'array', items: { enum: ['a', 'b'] } },
      },
    });
    assert.deepEqual(check({ id: 'o1', total: 3, email: 'x@example.com', tags: ['a'] }), []);
    assert.deepEqual(
      check({ id: 1, email: 'nope', tags: ['a', 'c'], extra: true })
        .map((v) => `${v.pointer} ${v.keyword}`)
        .sort(),
      [
        '/data/email format',
        '/data/extra additionalProperties',
        '/data/id type',
        '/data/tags/1 enum',
        '/data/total required',
      ],
    );
  });

  test('linear patterns check strings of any length; quadratic ones at most 1,024 characters, 64 KiB an event', () => {
    const linear = compileSchema('2020-12', { type: 'string', pattern: '^a+$' });
    assert.deepEqual(linear('a'.repeat(100_000)), []);
    const quadratic = compileSchema('2020-12', {
      type: 'array',
      items: { type: 'string', pattern: '^.*a.*b$' },
    });
    assert.deepEqual(quadratic(['xaxb', `${'a'.repeat(1000)}b`]), []);
    assert.deepEqual(
      quadratic([`${'a'.repeat(1024)}b`]).map((v) => `${v.pointer} ${v.keyword}`),
      ['/data/0 pattern'],
    );
    // 66 strings of 1,000 characters: the first 65 fit the budget of 65,536 characters, the 66th is not checked.
    const many = Array.from({ length: 66 }, () => `${'a'.repeat(999)}b`);
    assert.deepEqual(
      quadratic(many).map((v) => v.pointer),
      ['/data/65'],
    );
    // The budget is per event.
    assert.deepEqual(quadratic(many.slice(0, 65)), []);
  });

  test("only the data's own properties count, not what parsed JSON objects inherit", () => {
    // Found by the discovery property test: {"id": ""} was refused by a draft declaring `toString`.
    for (const dialect of ['2020-12', 'draft-07'] as const) {
      const check = compileSchema(dialect, {
        type: 'object',
        properties: { toString: { type: 'boolean' }, constructor: { type: 'string' } },
      });
      assert.deepEqual(check(JSON.parse('{"id": ""}')), [], dialect);
      assert.equal(check(JSON.parse('{"toString": 1}')).length, 1, dialect);
      const required = compileSchema(dialect, { type: 'object', required: ['constructor'] });
      assert.equal(
        required(JSON.parse('{}')).length,
        1,
        `${dialect}: an inherited constructor is not present`,
      );
    }
  });

  test('a schema naming no inherited property checks parsed JSON the same (compiled without ownProperties)', () => {
    // Only schemas that name `constructor`, `toString`, `__proto__`… read own properties (it costs a hasOwnProperty
    // per property); on any other schema, data with such keys (own, from JSON) must be checked the same way.
    const plain = compileSchema('2020-12', {
      type: 'object',
      additionalProperties: false,
      required: ['n'],
      properties: { n: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
    });
    assert.deepEqual(plain(JSON.parse('{"n": 1, "tags": ["a"]}')), []);
    assert.deepEqual(
      plain(JSON.parse('{"n": 1, "constructor": 1, "__proto__": {"n": 2}}')).map((v) => v.pointer),
      ['/data/constructor', '/data/__proto__'],
      'own keys named like inherited ones are additional properties',
    );
    assert.deepEqual(
      plain(JSON.parse('{"__proto__": {"n": 2}}')).map((v) => `${v.pointer} ${v.keyword}`),
      ['/data/n required', '/data/__proto__ additionalProperties'],
      'a "__proto__" key is not a prototype',
    );
    // Named anywhere (here only in a nested `required`), the schema reads own properties.
    const nested = compileSchema('2020-12', {
      type: 'object',
      properties: { inner: { type: 'object', required: ['valueOf'] } },
    });
    assert.equal(nested(JSON.parse('{"inner": {}}')).length, 1, 'an inherited valueOf is not present');
  });

  test('minLength and maxLength count code points exactly as ajv does, with the same errors', () => {
    // The check counts code points only when the UTF-16 length leaves the answer open; ajv's own keyword counts every
    // string. Compared with ajv (its default keyword, 2020-12 and draft-07) on strings of ASCII, other BMP
    // characters, surrogate pairs and lone surrogates around the limits.
    const pieces = ['a', 'é', '\u{1F600}', '\uD800', '\uDC00', '\uDBFF\uDFFF'];
    const text = fc.array(fc.constantFrom(...pieces), { maxLength: 12 }).map((parts) => parts.join(''));
    for (const dialect of ['2020-12', 'draft-07'] as const) {
      const Reference = dialect === '2020-12' ? Ajv2020 : Ajv;
      const compiled = new Map<string, { reference: ValidateFunction; check: SchemaChecker }>();
      fc.assert(
        fc.property(text, fc.nat(8), fc.nat(8), (value, min, max) => {
          const key = `${min}/${max}`;
          let pair = compiled.get(key);
          if (pair === undefined) {
            const schema = { type: 'string', minLength: min, maxLength: max };
            pair = {
              reference: new Reference({ allErrors: true, strict: false }).compile(schema),
              check: compileSchema(dialect, schema),
            };
            compiled.set(key, pair);
          }
          const { reference, check } = pair;
          const expected = reference(value)
            ? []
            : (reference.errors ?? []).map((e) => `${e.keyword} ${e.message}`);
          const actual = check(value).map((v) => `${v.keyword} ${v.message}`);
          assert.deepEqual(actual, expected, JSON.stringify({ value, min, max }));
        }),
        { numRuns: 500 },
      );
    }
    assert.equal(codePoints('a\u{1F600}é'), 3);
    assert.equal(codePoints('\uDC00\uD800é\uD800'), 4, 'lone surrogates count one each');
  });

  test('draft-07 schemas are checked as draft-07', () => {
    const check = compileSchema('draft-07', {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'array',
      items: [{ type: 'string' }, { type: 'number' }],
    });
    assert.deepEqual(check(['a', 1]), []);
    assert.equal(check(['a', 'b'])[0]?.pointer, '/data/1');
  });

  test('a schema ajv cannot compile is InvalidSchema', () => {
    refused(
      () => compileSchema('2020-12', { $ref: '#/$defs/missing' }),
      'InvalidSchema',
      /not a valid JSON Schema/,
    );
  });
});

describe('compatibility', () => {
  const v1 = {
    type: 'object',
    required: ['id', 'total'],
    properties: { id: { type: 'string' }, total: { type: 'integer' }, state: { enum: ['new', 'paid'] } },
  };
  const versions: Array<{ version: number; schema: unknown }> = [{ version: 1, schema: v1 }];
  const changes = (
    next: unknown,
    mode: Compatibility,
    earlier: Array<{ version: number; schema: unknown }> = versions,
  ) => checkCompatibility(earlier, next, mode).map((c) => `${c.rule} ${c.change} ${c.pointer}`);

  const addedOptional = { ...v1, properties: { ...v1.properties, note: { type: 'string' } } };
  const removedRequired = { ...v1, required: ['id'] };
  const widened = { ...v1, properties: { ...v1.properties, total: { type: 'number' } } };
  const narrowed = { ...v1, properties: { ...v1.properties, total: { type: 'string' } } };
  const enumRemoved = { ...v1, properties: { ...v1.properties, state: { enum: ['new'] } } };
  const enumAdded = { ...v1, properties: { ...v1.properties, state: { enum: ['new', 'paid', 'sent'] } } };
  const requiredAdded = { ...addedOptional, required: ['id', 'total', 'note'] };
  const closed = { ...v1, additionalProperties: false };

  test('NONE accepts anything', () => {
    assert.deepEqual(changes(narrowed, 'NONE'), []);
  });

  test('BACKWARD: new readers read old data', () => {
    assert.deepEqual(changes(addedOptional, 'BACKWARD'), []);
    assert.deepEqual(changes(removedRequired, 'BACKWARD'), []);
    assert.deepEqual(changes(widened, 'BACKWARD'), []);
    assert.deepEqual(changes(enumAdded, 'BACKWARD'), []);
    assert.deepEqual(changes(narrowed, 'BACKWARD'), ['BACKWARD type-narrowed /properties/total/type']);
    assert.deepEqual(changes(enumRemoved, 'BACKWARD'), [
      'BACKWARD enum-value-removed /properties/state/enum',
    ]);
    assert.deepEqual(changes(requiredAdded, 'BACKWARD'), ['BACKWARD required-added /required']);
    assert.deepEqual(changes(closed, 'BACKWARD'), [
      'BACKWARD additional-properties-closed /additionalProperties',
    ]);
  });

  test('FORWARD: old readers read new data', () => {
    assert.deepEqual(changes(addedOptional, 'FORWARD'), []);
    assert.deepEqual(changes(enumRemoved, 'FORWARD'), []);
    assert.deepEqual(changes(closed, 'FORWARD'), []);
    assert.deepEqual(changes(removedRequired, 'FORWARD'), ['FORWARD required-added /required']);
    assert.deepEqual(changes(widened, 'FORWARD'), ['FORWARD type-narrowed /properties/total/type']);
    assert.deepEqual(changes(enumAdded, 'FORWARD'), ['FORWARD enum-value-removed /properties/state/enum']);
  });

  test('FULL: both ways', () => {
    assert.deepEqual(changes(addedOptional, 'FULL'), []);
    assert.deepEqual(changes(widened, 'FULL'), ['FORWARD type-narrowed /properties/total/type']);
    assert.deepEqual(changes(enumRemoved, 'FULL'), ['BACKWARD enum-value-removed /properties/state/enum']);
  });

  test('a property removed from a closed object breaks BACKWARD', () => {
    const before = [{ version: 1, schema: closed }];
    const { state: _state, ...rest } = v1.properties;
    assert.deepEqual(changes({ ...closed, properties: rest }, 'BACKWARD', before), [
      'BACKWARD property-removed-from-closed-object /properties/state',
    ]);
  });

  test('the transitive modes compare with every earlier version, the others with the latest only', () => {
    // v1 integer, v2 number (widened), v3 integer again: BACKWARD against v2 breaks; against v1 it does not.
    const earlier = [
      { version: 1, schema: { type: 'object', properties: { n: { type: 'number' } } } },
      { version: 2, schema: { type: 'object', properties: { n: { type: 'integer' } } } },
    ];
    const next = { type: 'object', properties: { n: { type: 'integer' } } };
    assert.deepEqual(changes(next, 'BACKWARD', earlier), []);
    const transitive = checkCompatibility(earlier, next, 'BACKWARD_TRANSITIVE');
    assert.deepEqual(
      transitive.map((c) => [c.rule, c.change, c.against]),
      [['BACKWARD', 'type-narrowed', 1]],
    );
    assert.equal(checkCompatibility(earlier, next, 'FORWARD_TRANSITIVE').length, 0);
    assert.equal(
      checkCompatibility(
        earlier,
        { type: 'object', properties: { n: { type: 'number' } } },
        'FULL_TRANSITIVE',
      ).length,
      1,
    );
  });

  test('numeric and length bounds, patterns and compositions', () => {
    const base = [{ version: 1, schema: { type: 'string', maxLength: 10 } }];
    assert.deepEqual(changes({ type: 'string', maxLength: 5 }, 'BACKWARD', base), [
      'BACKWARD bound-narrowed /maxLength',
    ]);
    assert.deepEqual(changes({ type: 'string', maxLength: 20 }, 'BACKWARD', base), []);
    assert.deepEqual(changes({ type: 'string', maxLength: 10, pattern: '^a' }, 'BACKWARD', base), [
      'BACKWARD pattern-changed /pattern',
    ]);
    assert.deepEqual(changes({ anyOf: [{ type: 'string' }] }, 'BACKWARD', base), [
      'BACKWARD composition-changed /anyOf',
    ]);
    // Annotations never break anything.
    assert.deepEqual(changes({ type: 'string', maxLength: 10, description: 'a note' }, 'FULL', base), []);
  });
});
