/** Tests of the WebAssembly JSON scanner: it accepts exactly what JSON.parse accepts, and its tape. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkWithWasm,
  FLAG_BIG_NUMBER,
  FLAG_ESCAPED,
  FLAG_NOT_PLAIN,
  RECORD_WORDS,
  scanWithWasm,
  TAPE_ELEMENT,
  TAPE_MEMBER,
  tape,
} from '../../../lib/core/codec/json-wasm.ts';
import { INVALID_JSON, mutatedJson, parses, VALID_JSON } from '../../helpers/json-texts.ts';

const enc = new TextEncoder();

/** JSON texts and near-JSON texts: valid documents, then with one character inserted, removed or replaced. */
const ALPHABET = ' \t\n\r{}[]":,.-+eE0123456789truefalsn\\/u\u0001\u007fabc';
const mutated = mutatedJson(fc.json(), ALPHABET);
const asciiJson = fc.json().filter((text) => Array.from(text).every((c) => c.charCodeAt(0) < 0x80));
const jsonish = fc.stringMatching(/^[ \t\n{}[\]":,.\-+eE0-9tfnrulsa\\/]{0,24}$/);

function wasmAccepts(text: string): boolean | undefined {
  const result = checkWithWasm(enc.encode(text));
  return result === undefined ? undefined : result !== null;
}

test('accepts exactly what JSON.parse accepts', () => {
  fc.assert(
    fc.property(fc.oneof(asciiJson, mutated, jsonish), (text) => {
      const accepts = wasmAccepts(text);
      if (accepts === undefined) return; // not ASCII: the JS scanner's case
      assert.equal(accepts, parses(text), JSON.stringify(text));
    }),
    { numRuns: 3000 },
  );
});

test('accepts and rejects the edge cases of RFC 8259', () => {
  const valid = VALID_JSON;
  const invalid = INVALID_JSON;
  for (const text of valid) assert.equal(wasmAccepts(text), true, text);
  for (const text of invalid) assert.equal(wasmAccepts(text), false, text);
});

test('reports depth, escapes, non-plain strings and numbers that may overflow', () => {
  assert.deepEqual(checkWithWasm(enc.encode('[[[]]]')), { flags: 0, depth: 3 });
  assert.deepEqual(checkWithWasm(enc.encode('{"a":[1e5]}')), { flags: FLAG_BIG_NUMBER, depth: 2 });
  assert.deepEqual(checkWithWasm(enc.encode(`[${'9'.repeat(309)}]`)), { flags: FLAG_BIG_NUMBER, depth: 1 });
  assert.deepEqual(checkWithWasm(enc.encode(`[${'9'.repeat(308)}]`)), { flags: 0, depth: 1 });
  assert.deepEqual(checkWithWasm(enc.encode('"\\n"')), { flags: FLAG_ESCAPED | FLAG_NOT_PLAIN, depth: 0 });
  assert.deepEqual(checkWithWasm(enc.encode('"\u007f"')), { flags: FLAG_NOT_PLAIN, depth: 0 });
});

test('leaves non-ASCII bodies and very deep nesting to the JS scanner', () => {
  assert.equal(checkWithWasm(enc.encode('"é"')), undefined);
  assert.equal(checkWithWasm(enc.encode(`${'['.repeat(5000)}${']'.repeat(5000)}`)), undefined);
});

test('records the members of the envelope objects and the elements of a batch', () => {
  const text = '[{"id":"1","data":{"a":[1]}}, 5 ,{"x\\u0041":"v\\n"}]';
  const count = scanWithWasm(enc.encode(text), 2);
  assert.equal(count, 6);
  const records = Array.from({ length: count }, (_, r) =>
    Array.from(tape.subarray(r * RECORD_WORDS, (r + 1) * RECORD_WORDS)),
  );
  const spans = records.map(([kind, a, b, c, d]) =>
    kind === TAPE_MEMBER ? [text.slice(a, b), text.slice(c, d)] : [text.slice(a, b), c],
  );
  assert.deepEqual(spans, [
    ['"id"', '"1"'],
    ['"data"', '{"a":[1]}'],
    ['{"id":"1","data":{"a":[1]}}', 1],
    ['5', 0],
    ['"x\\u0041"', '"v\\n"'],
    ['{"x\\u0041":"v\\n"}', 1],
  ]);
  assert.deepEqual(
    records.map((record) => record[0]),
    [TAPE_MEMBER, TAPE_MEMBER, TAPE_ELEMENT, TAPE_ELEMENT, TAPE_MEMBER, TAPE_ELEMENT],
  );
  assert.equal((records[1]?.[5] ?? 0) >> 8, 2, 'data nests 2 deep');
  assert.equal(records[4]?.[5], ((FLAG_ESCAPED | FLAG_NOT_PLAIN) << 4) | FLAG_ESCAPED | FLAG_NOT_PLAIN);
});

test('answers -1 for a body that is not JSON', () => {
  assert.equal(scanWithWasm(enc.encode('[{"id":1},'), 2), -1);
  assert.equal(scanWithWasm(enc.encode('{"id":1} x'), 1), -1);
});

test('has room on the tape for the densest batches', () => {
  for (const element of ['1', '{}', '{"":0}', '[]']) {
    const text = `[${Array(50_000).fill(element).join(',')}]`;
    const count = scanWithWasm(enc.encode(text), 2);
    assert.equal(count, element === '{"":0}' ? 100_000 : 50_000, element);
  }
});
