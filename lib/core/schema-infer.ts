/**
 * Schema discovery (issue #16): inferring a JSON Schema from events' `data`, and merging two inferred schemas into one
 * that accepts what either accepts. Pure computation, no I/O. docs/schemas.md#discovery writes the rules down.
 *
 * An inferred schema uses a small subset of JSON Schema 2020-12: `type` (a name, or a list when values of several
 * types were seen), `format` (strings that all had one of `date-time`, `uuid`, `email`, `uri`), `properties` and
 * `required` (the properties present in every object seen), `items` (every array item seen, merged) and `{}` (any
 * value: what was cut off by the bounds). It never holds `enum`, `additionalProperties: false` or bounds, so it only
 * ever widens: merging is commutative, associative and idempotent, and a schema merged with the schema of a value
 * accepts that value. The bounds keep every draft small whatever the events hold.
 */
import { fastFormats } from 'ajv-formats/dist/formats.js';
import { canonicalJson, DIALECT_URIS } from './schema.ts';

/** Deepest level of data inferred; values nested deeper are `{}` (anything). */
export const DISCOVERY_MAX_DEPTH = 8;
/** Most properties one inferred object declares (the first ones by name); others stay undeclared (objects are open). */
export const DISCOVERY_MAX_PROPERTIES = 64;
/** Most subschemas in one inferred schema; past it, properties are undeclared and `items` dropped (see `prune`). */
export const DISCOVERY_MAX_NODES = 500;
/** Longest property name declared; a longer one stays undeclared (objects are open: it is still accepted). */
export const DISCOVERY_MAX_KEY_LENGTH = 64;
/** Longest string whose format is looked for; a longer one is a plain string. */
export const DISCOVERY_MAX_FORMAT_INPUT = 512;

/** An inferred schema (a JSON Schema 2020-12 subset, see above). `{}` accepts anything. */
export interface InferredSchema {
  type?: string | string[];
  format?: string;
  properties?: Record<string, InferredSchema>;
  required?: string[];
  items?: InferredSchema;
}

const TYPE_ORDER = ['null', 'boolean', 'integer', 'number', 'string', 'array', 'object'];

/** The formats discovery tells, tried in this order, with ajv-formats' own (fast mode) checks: what ingest checks. */
const FORMAT_ORDER = ['uuid', 'date-time', 'email', 'uri'] as const;

type FormatCheck = (value: string) => boolean;

function formatCheck(name: string): FormatCheck {
  const definition = (fastFormats as Record<string, unknown>)[name];
  const validate =
    typeof definition === 'object' && definition !== null && !(definition instanceof RegExp)
      ? (definition as { validate: unknown }).validate
      : definition;
  if (validate instanceof RegExp) return (s) => validate.test(s);
  if (typeof validate === 'function') return (s) => (validate as (s: string) => boolean)(s) === true;
  throw new Error(`ajv-formats has no format ${name}`);
}

const FORMAT_CHECKS: ReadonlyArray<readonly [string, FormatCheck]> = FORMAT_ORDER.map((name) => {
  const check = formatCheck(name);
  // ajv-formats' fast `uri` takes any `word:rest` ("note:x"); discovery only names URIs with `//` or `urn:`.
  const strict: FormatCheck =
    name === 'uri' ? (s) => /^(?:[a-z][a-z0-9+.-]*:\/\/[^\s/]|urn:[a-z0-9])/i.test(s) && check(s) : check;
  return [name, strict] as const;
});

/** The format discovery tells for a string, if any. */
export function formatOf(value: string): string | undefined {
  if (value.length === 0 || value.length > DISCOVERY_MAX_FORMAT_INPUT) return undefined;
  for (const [name, check] of FORMAT_CHECKS) if (check(value)) return name;
  return undefined;
}

function typesOf(schema: InferredSchema): string[] {
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

function isAny(schema: InferredSchema): boolean {
  return schema.type === undefined;
}

/** `integer` is within `number`: a list holding both is `number`. Sorted, a single type as a string. */
function typeValue(types: Iterable<string>): string | string[] {
  const set = new Set(types);
  if (set.has('number')) set.delete('integer');
  const list = TYPE_ORDER.filter((t) => set.has(t));
  return list.length === 1 ? (list[0] as string) : list;
}

/** Counts subschemas as they are made; past `DISCOVERY_MAX_NODES`, the rest are `{}`. */
interface Budget {
  nodes: number;
}

/** The schema of one JSON value (as `JSON.parse` makes it), within the bounds. */
export function inferSchema(value: unknown): InferredSchema {
  return prune(infer(value, 1, { nodes: 0 }));
}

function infer(value: unknown, depth: number, budget: Budget): InferredSchema {
  if (depth > DISCOVERY_MAX_DEPTH || budget.nodes >= DISCOVERY_MAX_NODES) return {};
  budget.nodes++;
  if (value === null) return { type: 'null' };
  switch (typeof value) {
    case 'boolean':
      return { type: 'boolean' };
    case 'number':
      return { type: Number.isInteger(value) ? 'integer' : 'number' };
    case 'string': {
      const format = formatOf(value);
      return format === undefined ? { type: 'string' } : { type: 'string', format };
    }
    case 'object':
      break;
    default:
      return {};
  }
  if (Array.isArray(value)) {
    // Items merge into one schema: each starts from the budget left here (what they use overlaps), and the merged
    // schema is cut to the bound by `prune`.
    let items: InferredSchema | undefined;
    let used = budget.nodes;
    for (const item of value) {
      const own = { nodes: budget.nodes };
      const schema = infer(item, depth + 1, own);
      used = Math.max(used, own.nodes);
      if (items === undefined) items = schema;
      else if (!covers(items, schema)) items = merge(items, schema, budget);
      if (isAny(items)) break;
    }
    budget.nodes = used;
    return items === undefined ? { type: 'array' } : { type: 'array', items };
  }
  const properties: Record<string, InferredSchema> = {};
  const required: string[] = [];
  const entries = Object.entries(value as Record<string, unknown>).filter(
    ([key]) => key.length <= DISCOVERY_MAX_KEY_LENGTH,
  );
  const kept = declared(entries.map(([key]) => key));
  for (const [key, item] of entries) {
    if (kept !== undefined && !kept.has(key)) continue;
    properties[key] = infer(item, depth + 1, budget);
    required.push(key);
  }
  return objectSchema(properties, required);
}

/**
 * The properties an object declares when it has more than `DISCOVERY_MAX_PROPERTIES` (undefined: all of them): the
 * first ones by name, not the first ones met, so that what a draft declares does not depend on the order the events
 * came in (the smallest names of a union are the smallest of the smallest of its parts: merging stays commutative and
 * associative). The sort is bounded: discovery reads no event whose data passes 64 KiB of JSON text.
 */
function declared(keys: readonly string[]): Set<string> | undefined {
  if (keys.length <= DISCOVERY_MAX_PROPERTIES) return undefined;
  return new Set([...keys].sort(byName).slice(0, DISCOVERY_MAX_PROPERTIES));
}

/** Names in UTF-16 code unit order (the same everywhere, unlike localeCompare). */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function objectSchema(properties: Record<string, InferredSchema>, required: string[]): InferredSchema {
  const out: InferredSchema = { type: 'object' };
  if (Object.keys(properties).length > 0) out.properties = properties;
  if (required.length > 0) out.required = [...required].sort();
  return out;
}

/**
 * Whether merging `b` into `a` would leave `a` as it is (so the merge can be skipped): `a` already has `b`'s types,
 * formats, properties (recursively) and items, and requires nothing `b` lacks. Allocates nothing.
 */
export function covers(a: InferredSchema, b: InferredSchema): boolean {
  if (isAny(a)) return true;
  if (isAny(b)) return false;
  const ta = typesOf(a);
  const tb = typesOf(b);
  for (const t of tb) if (!ta.includes(t) && !(t === 'integer' && ta.includes('number'))) return false;
  if (tb.includes('number') && ta.includes('integer') && !ta.includes('number')) return false;
  if (tb.includes('string') && a.format !== undefined && a.format !== b.format) return false;
  if (tb.includes('array') && b.items !== undefined && (a.items === undefined || !covers(a.items, b.items)))
    return false;
  if (tb.includes('object')) {
    const pa = a.properties ?? {};
    const pb = b.properties ?? {};
    const declaredA = Object.keys(pa);
    // A property of b that a lacks is added, unless a declares the most and all its names come first.
    let last: string | undefined;
    if (declaredA.length >= DISCOVERY_MAX_PROPERTIES)
      for (const key of declaredA) if (last === undefined || key > last) last = key;
    for (const key of Object.keys(pb)) {
      if (Object.hasOwn(pa, key)) {
        if (!covers(pa[key] as InferredSchema, pb[key] as InferredSchema)) return false;
      } else if (last === undefined || key < last) return false;
    }
    const rb = b.required ?? [];
    for (const key of a.required ?? []) if (!rb.includes(key)) return false;
  }
  return true;
}

/** A schema that accepts every value `a` or `b` accepts (and a little more: see the module's comment). */
export function mergeSchemas(a: InferredSchema, b: InferredSchema): InferredSchema {
  return prune(merge(a, b, { nodes: 0 }));
}

function merge(a: InferredSchema, b: InferredSchema, budget: Budget): InferredSchema {
  if (isAny(a) || isAny(b)) return {};
  const ta = typesOf(a);
  const tb = typesOf(b);
  const out: InferredSchema = { type: typeValue([...ta, ...tb]) };
  // A keyword of one type (format of strings, properties of objects, items of arrays) is the merge of the sides that
  // saw values of that type; a side that saw none leaves the other's as it is.
  const hasString = (t: string[]) => t.includes('string');
  if (hasString(ta) && hasString(tb)) {
    if (a.format !== undefined && a.format === b.format) out.format = a.format;
  } else {
    const format = hasString(ta) ? a.format : hasString(tb) ? b.format : undefined;
    if (format !== undefined) out.format = format;
  }
  const hasArray = (t: string[]) => t.includes('array');
  if (hasArray(ta) && hasArray(tb)) {
    if (a.items !== undefined && b.items !== undefined) out.items = merge(a.items, b.items, budget);
    else if (a.items !== undefined || b.items !== undefined)
      out.items = (a.items ?? b.items) as InferredSchema;
  } else {
    const items = hasArray(ta) ? a.items : hasArray(tb) ? b.items : undefined;
    if (items !== undefined) out.items = items;
  }
  const hasObject = (t: string[]) => t.includes('object');
  if (hasObject(ta) && hasObject(tb)) {
    const pa = a.properties ?? {};
    const pb = b.properties ?? {};
    const properties: Record<string, InferredSchema> = {};
    const kept = declared([...Object.keys(pa), ...Object.keys(pb).filter((key) => !Object.hasOwn(pa, key))]);
    for (const key of Object.keys(pa)) {
      if (kept !== undefined && !kept.has(key)) continue;
      const sa = pa[key] as InferredSchema;
      properties[key] = Object.hasOwn(pb, key) ? merge(sa, pb[key] as InferredSchema, budget) : sa;
    }
    for (const key of Object.keys(pb)) {
      if (Object.hasOwn(properties, key) || (kept !== undefined && !kept.has(key))) continue;
      properties[key] = pb[key] as InferredSchema;
    }
    const rb = new Set(b.required ?? []);
    const required = (a.required ?? []).filter((key) => rb.has(key) && Object.hasOwn(properties, key));
    if (Object.keys(properties).length > 0) out.properties = properties;
    if (required.length > 0) out.required = required.sort();
  } else {
    const side = hasObject(ta) ? a : hasObject(tb) ? b : undefined;
    if (side?.properties !== undefined) out.properties = side.properties;
    if (side?.required !== undefined) out.required = side.required;
  }
  return out;
}

/**
 * Cuts a schema down to `DISCOVERY_MAX_NODES` subschemas (breadth first: the shallow ones stay) and
 * `DISCOVERY_MAX_DEPTH` levels. Past the depth a subschema becomes `{}` (anything); past the node budget a property
 * is no longer declared (objects are open: it is still accepted) and leaves `required`, and `items` is dropped (any
 * item). Either way the schema only accepts more.
 */
export function prune(schema: InferredSchema): InferredSchema {
  let created = 1;
  const root: InferredSchema = { ...schema };
  const queue: Array<[InferredSchema, number]> = [[root, 1]];
  for (let next = 0; next < queue.length; next++) {
    const [node, depth] = queue[next] as [InferredSchema, number];
    if (node.items !== undefined) {
      if (created >= DISCOVERY_MAX_NODES) delete node.items;
      else {
        created++;
        node.items = depth >= DISCOVERY_MAX_DEPTH ? {} : { ...node.items };
        queue.push([node.items, depth + 1]);
      }
    }
    if (node.properties !== undefined) {
      const properties: Record<string, InferredSchema> = {};
      for (const [key, value] of Object.entries(node.properties)) {
        if (created >= DISCOVERY_MAX_NODES) break;
        created++;
        const copy = depth >= DISCOVERY_MAX_DEPTH ? {} : { ...value };
        properties[key] = copy;
        queue.push([copy, depth + 1]);
      }
      if (Object.keys(properties).length > 0) node.properties = properties;
      else delete node.properties;
      const required = node.required?.filter((key) => Object.hasOwn(properties, key));
      if (required !== undefined && required.length > 0) node.required = required;
      else delete node.required;
    }
  }
  return root;
}

/** The JSON Schema document of a draft: the inferred schema with its dialect. */
export function draftDocument(schema: InferredSchema): Record<string, unknown> {
  return { $schema: DIALECT_URIS['2020-12'], ...schema };
}

/** The inferred schema of a draft's document (its `$schema` removed). */
export function inferredOf(document: unknown): InferredSchema {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return {};
  const { $schema: _dialect, ...schema } = document as Record<string, unknown>;
  return schema as InferredSchema;
}

/**
 * A short fingerprint of a shape (an inferred schema): two values with the same fingerprint have the same inferred
 * schema (up to a 53-bit hash collision). FNV-1a over the schema's canonical JSON.
 */
export function shapeFingerprint(schema: InferredSchema): string {
  const text = canonicalJson(schema);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return `${h1.toString(16).padStart(8, '0')}${(h2 & 0x1fffff).toString(16).padStart(6, '0')}`;
}

/** One version of a draft: immutable, numbered from 1. */
export interface DraftVersion {
  readonly version: number;
  /** The JSON Schema document (`draftDocument`). */
  readonly schema: unknown;
  readonly createdAt: number;
}

/** What discovery inferred for one (source, type): its versions (the latest last) and how many events it read. */
export interface SchemaDraft {
  readonly source: string;
  readonly type: string;
  /** The most recent versions, oldest first (older ones are dropped past a bound). */
  readonly versions: readonly DraftVersion[];
  /** Events read into the draft. */
  readonly events: number;
  readonly firstSeen: number;
  readonly lastSeen: number;
}
