/** Bounds on the JSON that reaches the matchers' recursive walks, checked without recursion. */
import { JunctionError } from '../errors.ts';
import { JsonNumber, OrderedObject, RepeatedKey } from './json-number.ts';

/**
 * How deep an event given to the matchers may nest: levels of objects and arrays below its top-level object. The
 * same as ingest allows `data` (which sits one level below the top), so every ingested event is within it.
 */
export const MAX_EVENT_DEPTH = 64;

/**
 * Whether `value` holds objects or arrays nested more than `max` levels below it (`value` itself is level 0).
 * Iterative, stops at the first container past `max`: safe on any input, linear in the part it walks.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: unknown[] = [value];
  const depths: number[] = [0];
  while (stack.length > 0) {
    const v = stack.pop();
    const depth = depths.pop() as number;
    if (typeof v !== 'object' || v === null || v instanceof JsonNumber) continue;
    if (v instanceof RepeatedKey) {
      // The values of a key written several times sit at the key's own level.
      for (const item of v.values) {
        stack.push(item);
        depths.push(depth);
      }
      continue;
    }
    if (depth > max) return true;
    if (v instanceof OrderedObject) {
      for (const [, item] of v.entries) {
        stack.push(item);
        depths.push(depth + 1);
      }
    } else if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'object' && item !== null) {
          stack.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in v) {
        const item = (v as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) {
          stack.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

/**
 * Throws `JunctionError('InvalidRequest', …, { field })` (400) when the event nests deeper than `max` levels below
 * its top-level object, before any recursive walk can overflow the stack on it.
 */
export function checkEventDepth(event: unknown, field = 'event', max = MAX_EVENT_DEPTH): void {
  if (nestsDeeperThan(event, max)) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} nests deeper than ${max} levels of objects and arrays (the limit for events)`,
      { field, details: { limit: max } },
    );
  }
}

/**
 * Most segments in a path: a pattern field's dotted path, and the path of an event value counting every segment
 * of its dotted keys. Longer pattern paths are invalid; event values at longer paths cannot be named by any pattern
 * and are not matched.
 */
export const MAX_PATH_SEGMENTS = 256;
