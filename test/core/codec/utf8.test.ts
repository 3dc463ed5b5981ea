/** Tests of strict UTF-8 decoding and byte counting. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeUtf8, encodeUtf8, encodeUtf8Scratch, utf8Length } from '../../../lib/core/codec/utf8.ts';

/**
 * UTF-16 units where the UTF-8 length changes (1/2/3 bytes at U+0080 and U+0800), both ends of both surrogate
 * ranges, and a valid pair: texts of these meet every branch of utf8Length with lone, reversed and split pairs.
 */
const edgeUnit = fc.constantFrom(
  0x41,
  0x7f,
  0x80,
  0x7ff,
  0x800,
  0xd7ff,
  0xd800,
  0xdbff,
  0xdc00,
  0xdfff,
  0xe000,
  0xffff,
);
const pair = fc.constantFrom('\u{10000}', '\u{1f600}', '\u{10ffff}');
const edgyText = fc
  .array(
    fc.oneof(
      edgeUnit.map((u) => String.fromCharCode(u)),
      pair,
    ),
    { maxLength: 40, size: 'max' },
  )
  .map((parts) => parts.join(''));

test('counts UTF-8 bytes like the encoder, lone surrogates included', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 100, size: 'max' }), edgyText), (text) => {
      assert.equal(utf8Length(text), encodeUtf8(text).length);
    }),
    { numRuns: 500 },
  );
});

test('decodes valid UTF-8 and keeps a BOM unless asked to strip it', () => {
  const bytes = Uint8Array.from([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]);
  assert.equal(decodeUtf8(bytes), '\ufeffhé');
  assert.equal(decodeUtf8(bytes, true), 'hé');
});

test('returns undefined for invalid UTF-8, short or long', () => {
  assert.equal(decodeUtf8(Uint8Array.from([0x41, 0xc0, 0xa0])), undefined);
  const long = new Uint8Array(1000).fill(0x41);
  long[999] = 0xff;
  assert.equal(decodeUtf8(long), undefined);
});

test('encodeUtf8Scratch gives the bytes encodeUtf8 gives, small or large, ASCII or not', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200, size: 'max' }), (text) => {
      assert.deepEqual([...encodeUtf8Scratch(text)], [...encodeUtf8(text)]);
    }),
    { numRuns: 500 },
  );
  const large = `é${'x'.repeat(200_000)}€`;
  assert.deepEqual(Buffer.from(encodeUtf8Scratch(large)), Buffer.from(encodeUtf8(large)));
  const huge = 'y'.repeat(2_000_000);
  assert.equal(encodeUtf8Scratch(huge).length, 2_000_000);
});

/** Units of 1 to 4 UTF-8 bytes (a pair is two units), and lone surrogates (3 bytes: U+FFFD). */
const UNITS = ['a', 'é', '€', '😀', '\ud800', '\udc00'];

/** A text of `length` UTF-16 units drawn from UNITS by a xorshift generator seeded with `seed`. */
function textOf(length: number, seed: number): string {
  const parts: string[] = [];
  let units = 0;
  let x = seed | 1;
  while (units < length) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    let unit = UNITS[(x >>> 0) % UNITS.length] as string;
    if (units + unit.length > length) unit = 'a';
    parts.push(unit);
    units += unit.length;
  }
  return parts.join('');
}

test('encodeUtf8Scratch gives the bytes encodeUtf8 gives while its buffer grows, up to its largest', async () => {
  // The buffer (64 KiB at first, grown to at least 3 bytes a unit, at most 4 MiB) is module state, so each run
  // imports a fresh copy of the module and encodes a few texts in turn. Lengths: short, around 65,536 / 3 units
  // (the first growth), up to 300,000 units, and around 4 MiB / 3 (the largest buffer kept). The texts are made
  // from a seed inside the property (not shrunk), so a failure prints [lengths, seed] and shrinks the lengths.
  const length = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 3, arbitrary: fc.integer({ min: 21_800, max: 33_000 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 300_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1_398_000, max: 1_398_200 }) },
  );
  const url = new URL('../../../lib/core/codec/utf8.ts', import.meta.url).href;
  let run = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(length, { minLength: 1, maxLength: 4 }),
      fc.noShrink(fc.integer()),
      async (lengths, seed) => {
        const fresh = (await import(
          `${url}?run=${run++}`
        )) as typeof import('../../../lib/core/codec/utf8.ts');
        for (const [k, n] of lengths.entries()) {
          const text = textOf(n, seed + k);
          const bytes = fresh.encodeUtf8Scratch(text);
          assert.ok(
            Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).equals(encodeUtf8(text)),
            `text ${k}`,
          );
        }
      },
    ),
    { numRuns: 40 },
  );
});
