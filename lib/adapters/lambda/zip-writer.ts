/** A minimal zip writer (deflated entries, no zip64) for Lambda deployment packages; deterministic output. */
import { crc32, deflateRawSync } from 'node:zlib';
import { JunctionError } from '../../core/errors.ts';

export interface ZipEntry {
  /** A relative path with `/` separators. */
  readonly name: string;
  readonly data: Uint8Array;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const DEFLATED = 8;
/** 1980-01-01 00:00 in MS-DOS time: a fixed timestamp keeps the package (and its sha256) a function of the files. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;
/** "made by" Unix (3), version 2.0; entries are regular files, mode 0644. */
const MADE_BY = (3 << 8) | 20;
const UNIX_FILE_0644 = (0o100644 << 16) >>> 0;
const LIMIT = 0xffff_ffff;

/** Writes a zip of the entries, in the order given. Throws `InvalidFunction` for a bad name or a too-large entry. */
export function writeZip(entries: readonly ZipEntry[]): Uint8Array {
  if (entries.length > 0xffff) {
    throw new JunctionError('InvalidFunction', `a zip holds at most 65535 entries, got ${entries.length}`);
  }
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    if (
      entry.name === '' ||
      entry.name.startsWith('/') ||
      entry.name.split('/').includes('..') ||
      seen.has(entry.name)
    ) {
      throw new JunctionError(
        'InvalidFunction',
        `zip entry name ${JSON.stringify(entry.name)} is empty, absolute, leaves the root or repeats`,
        {
          field: 'name',
        },
      );
    }
    seen.add(entry.name);
    if (entry.data.byteLength >= LIMIT) {
      throw new JunctionError(
        'InvalidFunction',
        `zip entry ${entry.name} is ${entry.data.byteLength} bytes; at most 4 GiB`,
      );
    }
    const compressed = deflateRawSync(entry.data, { level: 9 });
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(DEFLATED, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.byteLength, 18);
    local.writeUInt32LE(entry.data.byteLength, 22);
    local.writeUInt16LE(name.byteLength, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(CENTRAL_HEADER, 0);
    central.writeUInt16LE(MADE_BY, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(DEFLATED, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.byteLength, 20);
    central.writeUInt32LE(entry.data.byteLength, 24);
    central.writeUInt16LE(name.byteLength, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE(UNIX_FILE_0644, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.byteLength + name.byteLength + compressed.byteLength;
    if (offset >= LIMIT)
      throw new JunctionError('InvalidFunction', 'the zip would pass 4 GiB; zip64 is not supported');
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.byteLength, 12);
  end.writeUInt32LE(offset, 16);
  const out = Buffer.concat([...locals, directory, end]);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
