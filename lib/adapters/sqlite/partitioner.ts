/** Kafka's default partitioner (murmur2 of the UTF-8 key, made positive, modulo the partition count). */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * MurmurHash2 exactly as Kafka's `Utils.murmur2` of the first `length` bytes of `data`, as a signed 32-bit integer,
 * so a key lands in the same partition number here as in a Kafka topic with the same partition count.
 * @see https://github.com/apache/kafka/blob/trunk/clients/src/main/java/org/apache/kafka/common/utils/Utils.java
 */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const rest = length & 3;
  const whole = length - rest;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) {
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const encoder = new TextEncoder();
/** Keys longer than this are encoded into an array of their own (`scratch` stays small). */
const SCRATCH_MAX_CHARS = 1024;
/** Where `partitionFor` encodes a key (UTF-8 takes at most 3 bytes a UTF-16 code unit). */
const scratch = new Uint8Array(SCRATCH_MAX_CHARS * 3);

/**
 * The partition of a key: `(murmur2(utf8(key)) & 0x7fffffff) % partitions`, as Kafka's default partitioner. The key
 * is encoded into a reused array: `TextEncoder.encode`, which allocates one each time, was 5% of the log's append.
 */
export function partitionFor(key: string, partitions: number): number {
  if (key.length > SCRATCH_MAX_CHARS) return (murmur2(encoder.encode(key)) & 0x7fffffff) % partitions;
  const { written } = encoder.encodeInto(key, scratch);
  return (murmur2(scratch, written) & 0x7fffffff) % partitions;
}
