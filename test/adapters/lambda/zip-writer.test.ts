/** The zip writer: what it writes reads back (our reader and Info-ZIP's unzip), byte for byte and deterministically. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { writeZip } from '../../../lib/adapters/lambda/zip-writer.ts';
import { readZip } from '../../../lib/adapters/workers/zip.ts';
import { tempDir } from '../../helpers/paths.ts';

const text = (s: string) => new TextEncoder().encode(s);

describe('writeZip', () => {
  it('writes entries that read back with the same bytes', () => {
    const binary = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
    const zip = writeZip([
      { name: 'index.mjs', data: text('export const handler = () => 1;\n') },
      { name: 'lib/data.bin', data: binary },
      { name: 'empty.txt', data: new Uint8Array(0) },
    ]);
    const files = readZip(zip);
    assert.deepEqual([...files.keys()], ['index.mjs', 'lib/data.bin', 'empty.txt']);
    assert.equal(new TextDecoder().decode(files.get('index.mjs')), 'export const handler = () => 1;\n');
    assert.deepEqual(new Uint8Array(files.get('lib/data.bin') ?? []), binary);
    assert.equal(files.get('empty.txt')?.length, 0);
  });

  it('writes the same bytes for the same files', () => {
    const entries = [{ name: 'a.mjs', data: text('a') }];
    assert.deepEqual(writeZip(entries), writeZip(entries));
  });

  it('stores the CRC-32 of each entry in its headers', () => {
    const data = text('héllo wörld');
    const zip = Buffer.from(writeZip([{ name: 'x.txt', data }]));
    assert.equal(zip.readUInt32LE(14), crc32(data));
    assert.equal(zip.readUInt32LE(22), data.byteLength);
  });

  it('passes unzip -t when Info-ZIP is installed', (t) => {
    if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status !== 0) {
      t.skip('unzip is not installed');
      return;
    }
    const dir = tempDir('junction-zip-');
    try {
      const file = join(dir.path, 'package.zip');
      writeFileSync(
        file,
        writeZip([
          { name: 'index.mjs', data: text('x'.repeat(5000)) },
          { name: 'ü/ß.txt', data: text('ok') },
        ]),
      );
      const result = spawnSync('unzip', ['-t', file], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      assert.match(result.stdout, /No errors detected/);
    } finally {
      dir.remove();
    }
  });

  it('rejects a name that leaves the root, is absolute, or repeats', () => {
    for (const name of ['../x', '/etc/passwd', '']) {
      assert.throws(() => writeZip([{ name, data: text('x') }]), { code: 'InvalidFunction' });
    }
    assert.throws(
      () =>
        writeZip([
          { name: 'a', data: text('1') },
          { name: 'a', data: text('2') },
        ]),
      {
        code: 'InvalidFunction',
      },
    );
  });
});
