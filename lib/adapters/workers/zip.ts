/** A minimal zip reader (stored and deflated entries, no zip64, no encryption) for function uploads. */
import { inflateRawSync } from 'node:zlib';
import { JunctionError } from '../../core/errors.ts';

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_HEADER = 0x02014b50;
const LOCAL_HEADER = 0x04034b50;
const STORED = 0;
const DEFLATED = 8;

export interface ZipLimits {
  /** Largest total of uncompressed bytes. @default 52428800 (50 MiB) */
  readonly maxUncompressedBytes?: number;
  /** Most entries. @default 1000 */
  readonly maxEntries?: number;
}

/** Whether the bytes start with a zip signature. */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

function invalidZip(message: string): JunctionError {
  return new JunctionError('InvalidFunction', `invalid zip: ${message}`, { field: 'source' });
}

function findEndOfCentralDirectory(view: DataView): number {
  const last = view.byteLength - 22;
  const first = Math.max(0, last - 0xffff);
  for (let at = last; at >= first; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY) return at;
  }
  throw invalidZip('no end-of-central-directory record');
}

function safeName(name: string): string {
  const normalized = name.replaceAll('\\', '/');
  const parts = normalized.split('/');
  if (normalized.startsWith('/') || parts.includes('..') || /^[A-Za-z]:/.test(normalized)) {
    throw invalidZip(`entry name ${JSON.stringify(name)} leaves the archive root`);
  }
  return parts.filter((part) => part !== '' && part !== '.').join('/');
}

/**
 * Reads every file entry of a zip into memory, keyed by its path inside the archive (`/`-separated, no leading
 * `./`). Directories are skipped. Rejects with `InvalidFunction` (field `source`) on anything it cannot read.
 */
export function readZip(bytes: Uint8Array, limits: ZipLimits = {}): Map<string, Uint8Array> {
  const maxTotal = limits.maxUncompressedBytes ?? 50 * 1024 * 1024;
  const maxEntries = limits.maxEntries ?? 1000;
  if (bytes.length < 22) throw invalidZip(`${bytes.length} bytes is too short for a zip`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = findEndOfCentralDirectory(view);
  const count = view.getUint16(end + 10, true);
  const directoryOffset = view.getUint32(end + 16, true);
  if (count === 0xffff || directoryOffset === 0xffffffff)
    throw invalidZip('zip64 archives are not supported');
  if (count > maxEntries) throw invalidZip(`${count} entries; at most ${maxEntries} are allowed`);

  const files = new Map<string, Uint8Array>();
  const decoder = new TextDecoder();
  let total = 0;
  let at = directoryOffset;
  for (let index = 0; index < count; index++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== CENTRAL_HEADER) {
      throw invalidZip(`central directory entry ${index} is damaged`);
    }
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const compressedSize = view.getUint32(at + 20, true);
    const size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const localOffset = view.getUint32(at + 42, true);
    const rawName = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    at += 46 + nameLength + extraLength + commentLength;

    if (rawName.endsWith('/')) continue;
    const name = safeName(rawName);
    if ((flags & 1) !== 0) throw invalidZip(`entry ${JSON.stringify(rawName)} is encrypted`);
    if (method !== STORED && method !== DEFLATED) {
      throw invalidZip(
        `entry ${JSON.stringify(rawName)} uses compression method ${method}; only stored and deflate work`,
      );
    }
    total += size;
    if (total > maxTotal) throw invalidZip(`more than ${maxTotal} bytes uncompressed`);
    if (localOffset + 30 > bytes.length || view.getUint32(localOffset, true) !== LOCAL_HEADER) {
      throw invalidZip(`local header of ${JSON.stringify(rawName)} is damaged`);
    }
    const dataStart =
      localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
    if (dataStart + compressedSize > bytes.length)
      throw invalidZip(`entry ${JSON.stringify(rawName)} is truncated`);
    const data = bytes.subarray(dataStart, dataStart + compressedSize);
    files.set(name, method === STORED ? data : inflate(data, size, rawName));
  }
  return files;
}

function inflate(data: Uint8Array, size: number, name: string): Uint8Array {
  try {
    const out = inflateRawSync(data, { maxOutputLength: Math.max(size, 1) });
    if (out.length !== size) throw new Error(`${out.length} bytes instead of ${size}`);
    return out;
  } catch (error) {
    throw invalidZip(`entry ${JSON.stringify(name)} does not inflate: ${(error as Error).message}`);
  }
}
