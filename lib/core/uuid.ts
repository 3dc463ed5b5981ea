/**
 * UUID version 7 (RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then 74 random bits. Ids made in time order
 * sort in time order, so the indexes keyed by them (the log's dedup keys, the traces) grow at one end instead of
 * taking a write on a random page for each new id, as version 4's do.
 */

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Random bytes are drawn this many ids at a time. */
const POOL_IDS = 256;
const pool = new Uint8Array(16 * POOL_IDS);
let next = POOL_IDS;

/** A new UUID version 7 for the time `now` (epoch milliseconds, 0 … 2^48 − 1), e.g. `0193f1c2-7a4e-7c3d-9f1e-…`. */
export function uuidv7(now: number = Date.now()): string {
  if (!Number.isInteger(now) || now < 0 || now > 0xffff_ffff_ffff) {
    throw new RangeError(`uuidv7: now must be whole milliseconds from 0 to 2^48 - 1, got ${now}`);
  }
  if (next === POOL_IDS) {
    globalThis.crypto.getRandomValues(pool);
    next = 0;
  }
  const r = next++ * 16;
  const high = Math.floor(now / 0x1_0000_0000);
  const low = now >>> 0;
  const h = HEX;
  return (
    h[(high >>> 8) & 0xff]! +
    h[high & 0xff]! +
    h[low >>> 24]! +
    h[(low >>> 16) & 0xff]! +
    '-' +
    h[(low >>> 8) & 0xff]! +
    h[low & 0xff]! +
    '-' +
    h[0x70 | (pool[r + 6]! & 0x0f)]! +
    h[pool[r + 7]!]! +
    '-' +
    h[0x80 | (pool[r + 8]! & 0x3f)]! +
    h[pool[r + 9]!]! +
    '-' +
    h[pool[r + 10]!]! +
    h[pool[r + 11]!]! +
    h[pool[r + 12]!]! +
    h[pool[r + 13]!]! +
    h[pool[r + 14]!]! +
    h[pool[r + 15]!]!
  );
}
