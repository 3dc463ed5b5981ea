/**
 * Tests of the one-pass event reader: every body gets the same outcome as the parse-then-validate path
 * it replaced (same event, or the same error code, field and message), on both scanners.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MAX_DATA_DEPTH, validateEvent } from '../../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { type BatchEntry, type HttpHeaders, parseHttpRequest } from '../../../lib/core/codec/http.ts';
import { parseJson } from '../../../lib/core/codec/json.ts';
import { rawDataText } from '../../../lib/core/codec/raw-data.ts';
import { JunctionError, toJunctionError } from '../../../lib/core/errors.ts';

const enc = new TextEncoder();
const STRUCTURED: HttpHeaders = { 'content-type': 'application/cloudevents+json' };
const BATCH: HttpHeaders = { 'content-type': 'application/cloudevents-batch+json' };
const BOM = [0xef, 0xbb, 0xbf];

type Outcome = { event: unknown } | { error: { code: string; field?: string; message: string } };

function outcome(run: () => CloudEvent): Outcome {
  try {
    const event = run();
    // Compare values, not accessors: a plain clone of the event.
    return { event: JSON.parse(JSON.stringify(event)) };
  } catch (error) {
    const e = toJunctionError(error);
    return { error: { code: e.code, field: e.field, message: e.message } };
  }
}

/** What the codec answered before the scanner: JSON.parse, then validateEvent. */
function reference(text: string): Outcome {
  return outcome(() => {
    const raw = parseJson(text, 'body');
    if (Array.isArray(raw)) throw new JunctionError('InvalidEvent', 'array');
    return validateEvent(raw);
  });
}

function structured(bytes: Uint8Array): Outcome {
  return outcome(() => {
    const parsed = parseHttpRequest(STRUCTURED, bytes);
    if (parsed.mode === 'batch') throw new Error('not one event');
    return parsed.event;
  });
}

const withBom = (text: string): Uint8Array => new Uint8Array([...BOM, ...enc.encode(text)]);

const KEYS = [
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'partitionkey',
  'ext1',
  '1',
  'Bad',
  '__proto__',
  'a_b',
  'spéc',
];
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const VALUES = fc.oneof(
  fc.constantFrom(
    '"1.0"',
    '"0.3"',
    '""',
    '"/s"',
    '"https://example.com/a?b#c"',
    '"a b:c"',
    '"2026-11-27T17:31:00Z"',
    '"2026-02-30T00:00:00Z"',
    '"application/json"',
    '"text/plain"',
    '"not a type"',
    '"AQID"',
    '"AQI"',
    '"\\u0001x"',
    '"\\ud800"',
    '"tab\\tok"',
    '"\\u00e9t\\u00e9"',
    '"été"',
    '"del\u007f"',
    '"x\u0085"',
    'null',
    'true',
    '0',
    '-12',
    '2147483648',
    '1.5',
    '1e400',
    '-1e999',
    '123456789012345678901234567890',
    '{"a":[1,{"b":null}]}',
    '[1e400]',
    '{"a":1e400}',
    deep(MAX_DATA_DEPTH),
    deep(MAX_DATA_DEPTH + 1),
    `{"x":${deep(MAX_DATA_DEPTH)}}`,
  ),
  fc.json({ stringUnit: 'binary' }),
  fc.string({ unit: 'binary' }).map((s) => JSON.stringify(s)),
);
const REQUIRED = '"specversion":"1.0","id":"e-1","source":"/src","type":"t"';
const eventText = fc
  .tuple(
    fc.boolean(),
    fc.array(fc.tuple(fc.constantFrom(...KEYS), VALUES), { maxLength: 6 }),
    fc.constantFrom('', ' ', '\n\t'),
  )
  .map(([required, members, space]) => {
    const parts = members.map(([key, value]) => `${JSON.stringify(key)}${space}:${space}${value}`);
    if (required) parts.unshift(REQUIRED);
    return `${space}{${parts.join(`,${space}`)}}${space}`;
  });

test('reads every event body as the parse-then-validate path did (WebAssembly and JS scanners)', () => {
  fc.assert(
    fc.property(eventText, (text) => {
      const expected = reference(text);
      assert.deepStrictEqual(structured(enc.encode(text)), expected, text);
      assert.deepStrictEqual(structured(withBom(text)), expected, `with a BOM: ${text}`);
    }),
    { numRuns: 2000 },
  );
});

test('reads every batch as the parse-then-validate path did', () => {
  const entry = fc.oneof(
    { weight: 4, arbitrary: eventText },
    fc.constantFrom('1', '"x"', 'null', '[]', '[{}]'),
  );
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 5 }), (items) => {
      const text = `[${items.join(',')}]`;
      const expected = items.map((item) => {
        const raw = JSON.parse(item) as unknown;
        const result = outcome(() => validateEvent(raw));
        const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
        return 'event' in result ? result : { ...result, id: typeof id === 'string' && id ? id : undefined };
      });
      for (const body of [enc.encode(text), withBom(text)]) {
        const parsed = parseHttpRequest(BATCH, body);
        assert.equal(parsed.mode, 'batch');
        const entries = (parsed as { entries: BatchEntry[] }).entries.map((e) =>
          e.ok
            ? outcome(() => e.event)
            : { error: { code: e.error.code, field: e.error.field, message: e.error.message }, id: e.id },
        );
        assert.deepStrictEqual(entries, expected, text);
      }
    }),
    { numRuns: 1000 },
  );
});

test('reports JSON syntax errors exactly as before: code, position, message', () => {
  const bad = [
    '',
    '   ',
    '{',
    '{"id": }',
    '{"a":1,}',
    '{"a" 1}',
    '{"data":[1,2}',
    '{"data":"\\q"}',
    '{"id":"x"} x',
    '[{"id":"x"},]',
    '{"data":01}',
    '{"a":"\u0001"}',
    '{"é":tru}',
  ];
  for (const text of bad) {
    for (const [headers, body] of [
      [STRUCTURED, enc.encode(text)],
      [STRUCTURED, withBom(text)],
      [BATCH, enc.encode(`[${text}]`)],
    ] as const) {
      const expected = outcome(
        () => parseJson(new TextDecoder().decode(body).replace(/^\uFEFF/, ''), 'body') as never,
      );
      if ('event' in expected) continue; // "[]" and "[   ]" are valid batches
      const error = (() => {
        try {
          parseHttpRequest(headers, body);
          return undefined;
        } catch (e) {
          return e as JunctionError;
        }
      })();
      assert.ok(error instanceof JunctionError, text);
      assert.deepStrictEqual(
        { error: { code: error.code, field: error.field, message: error.message } },
        expected,
      );
      assert.equal(error.code, 'InvalidJson');
    }
  }
});

test('rejects data nested deeper than MAX_DATA_DEPTH in every mode and accepts it at the limit', () => {
  const binary = (body: string): HttpHeaders => ({
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': 'x',
    'ce-source': '/s',
    'ce-type': body,
  });
  for (const unicode of ['', 'é']) {
    const ok = `[${deep(MAX_DATA_DEPTH - 1)},"${unicode}"]`;
    const tooDeep = `[${deep(MAX_DATA_DEPTH)},"${unicode}"]`;
    const eventOf = (data: string) => `{${REQUIRED},"data":${data}}`;
    assert.ok('event' in structured(enc.encode(eventOf(ok))));
    assert.deepStrictEqual(structured(enc.encode(eventOf(tooDeep))), {
      error: {
        code: 'InvalidEvent',
        field: 'data',
        message: `data nests deeper than ${MAX_DATA_DEPTH} levels`,
      },
    });
    const batch = parseHttpRequest(BATCH, enc.encode(`[${eventOf(tooDeep)},${eventOf(ok)}]`));
    const entries = (batch as { entries: BatchEntry[] }).entries;
    assert.deepEqual(
      entries.map((e) => e.ok || e.error.field),
      ['data', true],
    );
    assert.ok(parseHttpRequest(binary('t'), enc.encode(ok)));
    assert.throws(
      () => parseHttpRequest(binary('t'), enc.encode(tooDeep)),
      (e: unknown) => e instanceof JunctionError && e.code === 'InvalidEvent' && e.field === 'data',
    );
  }
});

test('rejects numbers that overflow a double in data, and keeps large finite ones as text', () => {
  for (const data of ['1e400', '[1, -1e999]', '{"a":{"b":1E+309}}', `[${'9'.repeat(400)}]`]) {
    assert.deepStrictEqual(
      structured(enc.encode(`{${REQUIRED},"data":${data}}`)),
      reference(`{${REQUIRED},"data":${data}}`),
    );
    assert.equal(
      (structured(enc.encode(`{${REQUIRED},"data":${data}}`)) as { error: { field: string } }).error.field,
      'data',
    );
  }
  const finite = `{${REQUIRED},"data":[1e308, 2.5E-300, ${'9'.repeat(300)}]}`;
  const parsed = parseHttpRequest(STRUCTURED, enc.encode(finite));
  const event = (parsed as { event: CloudEvent }).event;
  assert.equal(rawDataText(event), `[1e308, 2.5E-300, ${'9'.repeat(300)}]`);
});
