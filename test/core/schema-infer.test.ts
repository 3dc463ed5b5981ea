/**
 * Schema discovery's inference and merge (issue #16): types and their unions, `required` as what every object held,
 * the formats it tells, arrays and nesting, the bounds; and the property the issue asks for — over random streams of
 * events of a few shapes, the draft validates every event it read (checked by the bus's own ajv checker, after the
 * registry's own checks on a schema) and stops changing once the shapes repeat.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson, normalizeSchema } from '../../lib/core/schema.ts';
import { compileSchema } from '../../lib/core/schema-check.ts';
import {
  covers,
  DISCOVERY_MAX_DEPTH,
  DISCOVERY_MAX_NODES,
  DISCOVERY_MAX_PROPERTIES,
  draftDocument,
  formatOf,
  type InferredSchema,
  inferSchema,
  mergeSchemas,
  prune,
  shapeFingerprint,
} from '../../lib/core/schema-infer.ts';

/** The bus's own checks: the registry's (`normalizeSchema`) on the draft, then ajv's on each value. */
function checker(schema: InferredSchema): (value: unknown) => string[] {
  const normalized = normalizeSchema(draftDocument(schema));
  const check = compileSchema(normalized.dialect, normalized.schema);
  return (value) => check(value).map((v) => `${v.pointer} ${v.keyword}`);
}

function accepts(schema: InferredSchema, value: unknown): string[] {
  return checker(schema)(value);
}

/** What the engine does with a stream: merge each new shape into the draft, a version each time it changes. */
function discover(values: readonly unknown[]): { schema: InferredSchema; versions: number[] } {
  let schema: InferredSchema | undefined;
  const versions: number[] = [];
  values.forEach((value, i) => {
    const shape = inferSchema(value);
    const next = schema === undefined ? prune(shape) : mergeSchemas(schema, shape);
    if (schema === undefined || canonicalJson(next) !== canonicalJson(schema)) versions.push(i);
    schema = next;
  });
  return { schema: schema ?? {}, versions };
}

describe('inferSchema', () => {
  test('types, formats, required, arrays and nesting of one value', () => {
    const schema = inferSchema({
      id: '0b9d5a4e-3f63-4a4b-9c55-2f9c3f1e7b11',
      at: '2026-12-04T03:00:00Z',
      email: 'ana@example.com',
      link: 'https://shop.example/orders/1',
      note: 'hello: world',
      total: 12,
      ratio: 0.5,
      paid: true,
      coupon: null,
      lines: [{ sku: 'A', qty: 1 }],
      empty: [],
      customer: { name: 'Ana', address: { city: 'Lisbon' } },
    });
    assert.deepEqual(schema, {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        at: { type: 'string', format: 'date-time' },
        email: { type: 'string', format: 'email' },
        link: { type: 'string', format: 'uri' },
        note: { type: 'string' },
        total: { type: 'integer' },
        ratio: { type: 'number' },
        paid: { type: 'boolean' },
        coupon: { type: 'null' },
        lines: {
          type: 'array',
          items: {
            type: 'object',
            properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
            required: ['qty', 'sku'],
          },
        },
        empty: { type: 'array' },
        customer: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
          required: ['address', 'name'],
        },
      },
      required: [
        'at',
        'coupon',
        'customer',
        'email',
        'empty',
        'id',
        'lines',
        'link',
        'note',
        'paid',
        'ratio',
        'total',
      ],
    });
  });

  test('formats: only what ingest checks the same way; a colon alone is not a URI', () => {
    assert.equal(formatOf('urn:isbn:0451450523'), 'uri');
    assert.equal(formatOf('note:x'), undefined);
    assert.equal(formatOf('2026-12-04'), undefined);
    assert.equal(formatOf(''), undefined);
    assert.equal(formatOf(`${'a'.repeat(600)}@example.com`), undefined, 'long strings are not looked at');
  });

  test('array items of several shapes merge: union types, required only when in every item', () => {
    const schema = inferSchema([{ a: 1, b: 'x' }, { a: 2.5 }, 'text']);
    assert.deepEqual(schema, {
      type: 'array',
      items: {
        type: ['string', 'object'],
        properties: { a: { type: 'number' }, b: { type: 'string' } },
        required: ['a'],
      },
    });
  });

  test('bounds: depth, properties per object and subschemas are cut to {} (anything), never refused', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const deepSchema = inferSchema(deep);
    let node: InferredSchema | undefined = deepSchema;
    let depth = 0;
    while (node?.properties?.next !== undefined) {
      node = node.properties.next;
      depth++;
    }
    assert.equal(depth, DISCOVERY_MAX_DEPTH);
    assert.deepEqual(node, {});
    assert.deepEqual(accepts(deepSchema, deep), []);

    const long = inferSchema({ [`k${'x'.repeat(100)}`]: 1, short: 2 });
    assert.deepEqual(long, {
      type: 'object',
      properties: { short: { type: 'integer' } },
      required: ['short'],
    });
    assert.deepEqual(accepts(long, { [`k${'x'.repeat(100)}`]: 1, short: 2 }), []);

    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`p${i}`, i]));
    const wideSchema = inferSchema(wide);
    assert.equal(Object.keys(wideSchema.properties ?? {}).length, DISCOVERY_MAX_PROPERTIES);
    assert.deepEqual(accepts(wideSchema, wide), []);

    const big = Object.fromEntries(
      Array.from({ length: 60 }, (_, i) => [
        `o${i}`,
        Object.fromEntries(Array.from({ length: 60 }, (_, j) => [`q${j}`, { v: j }])),
      ]),
    );
    const bigSchema = mergeSchemas(inferSchema(big), inferSchema(big));
    const count = (s: InferredSchema): number =>
      1 +
      Object.values(s.properties ?? {}).reduce((n, p) => n + count(p), 0) +
      (s.items === undefined ? 0 : count(s.items));
    assert.ok(count(bigSchema) <= DISCOVERY_MAX_NODES, `${count(bigSchema)} nodes`);
    assert.deepEqual(accepts(bigSchema, big), []);
    assert.ok(JSON.stringify(draftDocument(bigSchema)).length < 256 * 1024);
  });

  test('the fingerprint tells shapes apart and ignores values', () => {
    const a = shapeFingerprint(inferSchema({ total: 1, id: 'x' }));
    assert.equal(a, shapeFingerprint(inferSchema({ id: 'y', total: 99 })));
    assert.notEqual(a, shapeFingerprint(inferSchema({ total: 1.5, id: 'x' })));
    assert.notEqual(a, shapeFingerprint(inferSchema({ total: 1 })));
  });
});

describe('mergeSchemas', () => {
  test('a property missing from one object is optional; a type seen as integer and number is number', () => {
    const { schema, versions } = discover([
      { total: 1, coupon: 'X' },
      { total: 2.5 },
      { total: 3, coupon: null },
    ]);
    assert.deepEqual(schema, {
      type: 'object',
      properties: { total: { type: 'number' }, coupon: { type: ['null', 'string'] } },
      required: ['total'],
    });
    assert.deepEqual(versions, [0, 1, 2]);
  });

  test('a format holds only while every string had it', () => {
    const { schema } = discover([{ at: '2026-12-04T03:00:00Z' }, { at: 'yesterday' }]);
    assert.deepEqual(schema.properties?.at, { type: 'string' });
    const { schema: kept } = discover([
      { at: '2026-12-04T03:00:00Z' },
      { at: null },
      { at: '2026-12-05T00:00:00Z' },
    ]);
    assert.deepEqual(kept.properties?.at, { type: ['null', 'string'], format: 'date-time' });
  });

  test('{} (cut by a bound) absorbs whatever it merges with', () => {
    assert.deepEqual(mergeSchemas({}, { type: 'string' }), {});
    assert.deepEqual(mergeSchemas({ type: 'object', properties: { a: {} } }, { type: 'object' }), {
      type: 'object',
      properties: { a: {} },
    });
  });
});

// ---- the property ---------------------------------------------------------------------------------------------

/** A few shapes of an order, each a generator of values; streams mix them at random. */
const word = fc.string({ minLength: 0, maxLength: 12 });
const shapes = [
  fc.record({ id: fc.uuid(), total: fc.integer(), lines: fc.array(fc.record({ sku: word, qty: fc.nat() })) }),
  fc.record({
    id: fc.uuid(),
    total: fc.double({ noNaN: true, noDefaultInfinity: true }),
    at: fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
    customer: fc.record({ email: fc.constantFrom('ana@example.com', 'bo@shop.example'), vip: fc.boolean() }),
  }),
  fc.record(
    {
      id: word,
      total: fc.constant(null),
      note: fc.option(word),
      tags: fc.array(fc.oneof(word, fc.integer())),
    },
    { requiredKeys: ['id'] },
  ),
  fc.jsonValue({ maxDepth: 4 }),
];

describe('discovery over random streams (property)', () => {
  test('covers(a, b) only when merging b into a changes nothing', () => {
    fc.assert(
      fc.property(fc.oneof(...shapes), fc.oneof(...shapes), fc.oneof(...shapes), (x, y, z) => {
        const [a, b, c] = [x, y, z].map((v) => inferSchema(JSON.parse(JSON.stringify(v)) as unknown));
        const ab = mergeSchemas(a as InferredSchema, b as InferredSchema);
        for (const [into, what] of [
          [ab, c],
          [ab, a],
          [a, b],
        ] as Array<[InferredSchema, InferredSchema]>) {
          if (covers(into, what))
            assert.equal(canonicalJson(mergeSchemas(into, what)), canonicalJson(prune(into)));
        }
        assert.ok(
          covers(ab, a as InferredSchema) && covers(ab, b as InferredSchema),
          'a merge covers its parts',
        );
      }),
      { numRuns: 500 },
    );
  });

  test('the draft validates every event it read, and stops changing once the shapes repeat', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(...shapes), { minLength: 1, maxLength: 40, size: 'max' }),
        fc.integer({ min: 1, max: 3 }),
        (stream, repeats) => {
          const values = JSON.parse(JSON.stringify(stream)) as unknown[];
          const first = discover(values);
          const check = checker(first.schema);
          for (const value of values) assert.deepEqual(check(value), [], JSON.stringify(value));
          // The same events again, in another order and several times: no new version.
          const again = [...values].reverse();
          const replayed = discover([...values, ...Array.from({ length: repeats }, () => again).flat()]);
          assert.equal(canonicalJson(replayed.schema), canonicalJson(first.schema));
          assert.deepEqual(replayed.versions, first.versions);
          // Merging is order-independent: the reversed stream ends on the same schema (past 64 properties too: see
          // 'an object past 64 properties' below).
          assert.equal(canonicalJson(discover(again).schema), canonicalJson(first.schema));
        },
      ),
      // The counterexample a CI run found (a property named like an inherited one): kept as a fixed case.
      // 100 runs: with size 'max' a stream is ~20 events (it was ~6, at most 12) and each run discovers it three times.
      { numRuns: 100, examples: [[[{ id: '' }, { toString: false }, null], 1]] },
    );
  });

  test('an object past 64 properties: the reversed stream ends on the same draft, the first 64 names declared', () => {
    // Found by the property above when its shapes included objects of 50-80 keys (too slow to keep), reduced by hand:
    // an object declared the first 64 properties met, so the draft depended on the order of the events.
    const wide = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`k${i}`, 0]));
    const stream = [wide, { id: 'a' }, { customer: 1 }];
    const forward = discover(stream).schema;
    assert.equal(canonicalJson(discover([...stream].reverse()).schema), canonicalJson(forward));
    const names = Object.keys(forward.properties ?? {});
    assert.equal(names.length, 64);
    assert.ok(names.includes('customer') && !names.includes('k9'), 'the first 64 by name: k9 sorts last');
    // One object of 80 properties declares the same 64 whatever order its keys come in.
    const keys = Array.from({ length: 80 }, (_, i) => `p${String(i).padStart(2, '0')}`);
    const one = discover([Object.fromEntries(keys.map((k) => [k, 1]))]).schema;
    const other = discover([Object.fromEntries([...keys].reverse().map((k) => [k, 1]))]).schema;
    assert.equal(canonicalJson(one), canonicalJson(other));
    assert.deepEqual(Object.keys(one.properties ?? {}).sort(), keys.slice(0, 64));
  });
});
