/**
 * JSON `data` kept as the producer's text: a frozen event's `data` is an enumerable accessor that parses
 * the text on first read (then deep-frozen and memoized), and the codecs write the text back unchanged.
 */

/**
 * JSON text whose syntax a scanner has checked (so parsing it later cannot fail), with what validation
 * must look at on the parsed value: `SCAN_TOO_DEEP` (nesting beyond `MAX_DATA_DEPTH`), `SCAN_NON_FINITE`
 * (a number that does, or may, overflow a double). With no flag, the text is valid data as it is.
 */
export class JsonText {
  readonly text: string;
  readonly flags: number;
  /** The parsed, deep-frozen value, once an event's lazy `data` has been read. */
  value: unknown = undefined;
  parsed = false;
  constructor(text: string, flags: number) {
    this.text = text;
    this.flags = flags;
  }
}

/** The hidden state of one event's lazy `data`: its text, and its value once read. */
type RawData = JsonText;

/**
 * Where an event keeps its `JsonText`: a non-enumerable symbol-keyed property. `Object.keys`, spread,
 * `Object.entries`, `JSON.stringify`, `structuredClone`/`postMessage` and `assert.deepStrictEqual` skip
 * it (they see own enumerable properties, and clones drop symbols). A private field stamped on the
 * object would hide it from `Reflect.ownKeys` too, but costs V8 more per event (measured 0.24 µs against
 * 0.15 µs here), and a WeakMap entry more still.
 */
const RAW_DATA: unique symbol = Symbol('junction.rawData');

/** The shared getter (one function for every event, so that events keep one hidden class). */
function readData(this: { [RAW_DATA]?: RawData }): unknown {
  const raw = this[RAW_DATA];
  if (raw === undefined) return undefined;
  if (!raw.parsed) {
    raw.value = deepFreeze(JSON.parse(raw.text));
    raw.parsed = true;
  }
  return raw.value;
}

interface LegacyAccessors {
  __defineGetter__(name: string, getter: () => unknown): void;
}

/**
 * Defines `data` on `target` (not yet frozen) as the lazily parsed value of `data.text`, which must be
 * valid JSON (a scanner checked it; `data` then holds the value once read). The property is enumerable
 * and read-only, like every other member.
 */
export function defineRawData(target: Record<string, unknown>, data: JsonText): void {
  // __defineGetter__ (enumerable, configurable until the event is frozen) is the fastest way V8 has.
  (target as unknown as LegacyAccessors).__defineGetter__('data', readData);
  Object.defineProperty(target, RAW_DATA, { value: data });
}

/** An event's lazy `data` (to define on a copy of the event with `defineRawData`), or `undefined`. */
export function rawDataOf(event: object): JsonText | undefined {
  return (event as { [RAW_DATA]?: RawData })[RAW_DATA];
}

/** The JSON text an event's `data` came from, or `undefined` when its data is a plain value (or absent). */
export function rawDataText(event: object): string | undefined {
  return (event as { [RAW_DATA]?: RawData })[RAW_DATA]?.text;
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    if (Array.isArray(value)) for (const item of value) deepFreeze(item);
    else for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
    Object.freeze(value);
  }
  return value;
}
