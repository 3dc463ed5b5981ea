/** Attribute helpers and document encoding: text, gzip above the threshold, limits, keys, freezing. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  boundedKey,
  COMPRESS_ABOVE_BYTES,
  decodeDocument,
  deepFreeze,
  encodeDocument,
  MAX_PLAIN_KEY_BYTES,
  pad,
  requireNum,
  shardOf,
} from '../../../lib/adapters/dynamodb/codec.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

describe('codec', () => {
  test('keeps a small document as JSON text and gives it back', async () => {
    const doc = { a: 1, b: ['x', null], c: { d: true } };
    const item = await encodeDocument('body', doc);
    assert.deepEqual(Object.keys(item), ['body']);
    assert.deepEqual(await decodeDocument(item, 'body'), doc);
  });

  test('compresses a document above the threshold into a binary attribute', async () => {
    const doc = { text: 'y'.repeat(COMPRESS_ABOVE_BYTES + 1) };
    const item = await encodeDocument('body', doc);
    assert.deepEqual(Object.keys(item), ['bodyGz']);
    assert.ok((item.bodyGz?.B?.byteLength ?? Infinity) < 1_000);
    assert.deepEqual(await decodeDocument(item, 'body'), doc);
  });

  test('answers undefined for an item without the document', async () => {
    assert.equal(await decodeDocument({}, 'body'), undefined);
  });

  test('rejects a document that does not fit an item even compressed, naming the field', async () => {
    const doc = { data: randomBytes(500_000).toString('base64') };
    await assert.rejects(encodeDocument('body', doc, 'rule'), (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'PayloadTooLarge');
      assert.equal(error.field, 'rule');
      assert.match(error.message, /rule is \d+ bytes of JSON/);
      return true;
    });
  });

  test('pads numbers so that string order is numeric order', () => {
    const values = [0, 5, 42, 1_700_000_000_000, 9_999_999_999_999];
    const padded = values.map((v) => pad(v));
    assert.deepEqual([...padded].sort(), padded);
    assert.equal(pad(7, 4), '0007');
  });

  test('spreads keys over every shard, stably', () => {
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8_000; i++) counts[shardOf(`key-${i}`, 8)]++;
    for (const count of counts) assert.ok(count > 800 && count < 1_200, `shard holds ${count} of 8000`);
    assert.equal(shardOf('same', 8), shardOf('same', 8));
  });

  test('keeps short keys and hashes long ones', () => {
    assert.equal(boundedKey('short'), 'short');
    const long = 'é'.repeat(MAX_PLAIN_KEY_BYTES);
    assert.match(boundedKey(long), /^sha256:[0-9a-f]{64}$/);
    assert.equal(boundedKey(long), boundedKey(long));
    assert.notEqual(boundedKey(long), boundedKey(`${long}x`));
  });

  test('freezes a decoded value deeply', () => {
    const value = deepFreeze({ a: { b: [1, { c: 2 }] } });
    assert.ok(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.a.b[1]));
  });

  test('names the missing attribute of a corrupt item', () => {
    assert.throws(() => requireNum({}, 'dueAt', 'tbl'), { code: 'Internal', field: 'dueAt' });
  });
});
