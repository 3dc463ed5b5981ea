import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isZip, readZip } from '../../../lib/adapters/workers/zip.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { makeZip } from './make-zip.ts';

const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

test('reads stored and deflated entries and skips directories', () => {
  const zip = makeZip([
    { name: 'src/', contents: '' },
    { name: 'index.ts', contents: 'export const handler = () => {};\n'.repeat(20) },
    { name: 'src/util.ts', contents: 'export const one = 1;\n', deflate: false },
  ]);
  const files = readZip(zip);
  assert.deepEqual([...files.keys()], ['index.ts', 'src/util.ts']);
  assert.equal(decode(files.get('index.ts')), 'export const handler = () => {};\n'.repeat(20));
  assert.equal(decode(files.get('src/util.ts')), 'export const one = 1;\n');
});

test('recognizes zips by their signature', () => {
  assert.equal(isZip(makeZip([{ name: 'a', contents: 'b' }])), true);
  assert.equal(isZip(new TextEncoder().encode('export const handler = 1;')), false);
  assert.equal(isZip(new Uint8Array([0x50])), false);
});

test('rejects entries that leave the archive root', () => {
  for (const name of ['../evil.ts', '/etc/passwd', 'a/../../b.ts', 'C:/x.ts']) {
    assert.throws(
      () => readZip(makeZip([{ name, contents: 'x' }])),
      (error: unknown) =>
        error instanceof JunctionError && error.code === 'InvalidFunction' && error.field === 'source',
      name,
    );
  }
});

test('rejects truncated or damaged archives with InvalidFunction', () => {
  const zip = makeZip([{ name: 'index.ts', contents: 'export const handler = () => {};' }]);
  for (const bytes of [zip.subarray(0, zip.length - 30), zip.subarray(0, 10), new Uint8Array(40)]) {
    assert.throws(
      () => readZip(bytes),
      (error: unknown) =>
        error instanceof JunctionError &&
        error.code === 'InvalidFunction' &&
        /invalid zip/.test(error.message),
    );
  }
});

test('rejects an archive whose uncompressed size is over the limit', () => {
  const zip = makeZip([{ name: 'big.txt', contents: 'a'.repeat(10_000) }]);
  assert.throws(() => readZip(zip, { maxUncompressedBytes: 1000 }), /more than 1000 bytes/);
});

test('answers files or an InvalidFunction error for any corruption of an archive, never another error', () => {
  const zip = makeZip([
    { name: 'index.ts', contents: 'export const handler = () => {};\n'.repeat(5) },
    { name: 'lib/a.ts', contents: 'export const a = 1;\n', deflate: false },
  ]);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: zip.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
      fc.nat({ max: zip.length }),
      (edits, cut) => {
        const bytes = zip.slice(0, Math.max(cut, 1));
        for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
        try {
          readZip(bytes);
        } catch (error) {
          assert.ok(error instanceof JunctionError && error.code === 'InvalidFunction', String(error));
        }
      },
    ),
    { numRuns: 2000 },
  );
});
