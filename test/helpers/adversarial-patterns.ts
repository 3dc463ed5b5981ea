/** Adversarial patterns and events for the matchers: every path spelled both nested and dotted (issue #12). */

/**
 * A rule with `fields` fields under `data.order` and an event that spells each path both nested (`order.kN`
 * inside `order`) and dotted (`"order.kN"` beside it). With `miss`, the last field matches neither spelling, so
 * the pattern does not match and a matcher that searches the spellings tries them all.
 */
export function dottedAndNested(fields: number, miss = true): { pattern: unknown; event: unknown } {
  const order: Record<string, unknown> = {};
  const data: Record<string, unknown> = { order };
  const wanted: Record<string, unknown> = {};
  for (let i = 0; i < fields; i++) {
    order[`k${i}`] = 'nested';
    data[`order.k${i}`] = 'dotted';
    wanted[`k${i}`] = [i === fields - 1 && miss ? 'neither' : i % 2 === 0 ? 'nested' : 'dotted'];
  }
  return { pattern: { data: { order: wanted } }, event: { type: 'order.placed', data } };
}

/** A JSON value `depth` levels deep: `{"a":{"a":…}}` (or arrays), built without recursion. */
export function deepJson(depth: number, kind: 'object' | 'array' = 'object'): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === 'object' ? { a: value } : [value];
  return value;
}
