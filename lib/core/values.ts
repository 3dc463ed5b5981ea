/**
 * Two helpers of validation code, shared so that every refusal reads the same: whether a parsed JSON value is an
 * object (not an array, not null), and a short rendering of a received value for an error message.
 */

/** Whether a value is a JSON object: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A received value as JSON for an error message, cut at 80 characters (`...`). A long string is cut before it is
 * quoted: a message never copies a whole body. A value JSON cannot write (`undefined`, a function) reads as
 * `String(value)`; one it refuses (a cycle, a BigInt: only from a caller in code, never from a request body) as its
 * `Object.prototype.toString` tag.
 */
export function show(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(typeof value === 'string' && value.length > 80 ? value.slice(0, 80) : value);
  } catch {
    return Object.prototype.toString.call(value);
  }
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
