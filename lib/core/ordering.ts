/**
 * Ordered delivery per key (a target's `ordering`): the key of an event, read from a JSON path into the CloudEvent
 * (`$.data.orderId`, `$.subject`) or its `partitionkey` extension. Deliveries to the target with the same key go one
 * at a time in log order (lib/engine/dispatcher.ts, docs/delivery.md).
 */
import type { CloudEvent } from './cloudevent-types.ts';
import { rawDataText } from './codec/raw-data.ts';
import { parseJsonPath, resolvePath } from './transform.ts';

/** The key of an event; events without a value at the path (or without `partitionkey`) share the key `""`. */
export type OrderingKeyOf = (event: CloudEvent) => string;

/** Longest key kept: a longer value is cut (keys only group events, they are never delivered). */
const MAX_KEY_CHARS = 1024;

function keyText(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  return text.length > MAX_KEY_CHARS ? text.slice(0, MAX_KEY_CHARS) : text;
}

/** Compiles an ordering key (`partitionkey` or a JSON path); throws the parser's message for a bad path. */
export function compileOrderingKey(key: string): OrderingKeyOf {
  if (key === 'partitionkey') return (event) => keyText(event.partitionkey);
  const steps = parseJsonPath(key);
  if (steps[0] === 'data') {
    const below = steps.slice(1);
    return (event) => {
      const raw = rawDataText(event);
      if (raw === undefined) return keyText(resolvePath(event, steps));
      try {
        return keyText(resolvePath(JSON.parse(raw), below));
      } catch {
        return '';
      }
    };
  }
  return (event) => keyText(resolvePath(event, steps));
}
