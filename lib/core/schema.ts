/**
 * Schemas (issue #16): what `PUT /schemas/{name}` takes, the bounds a schema must keep so that checking events
 * against it stays linear, and the compatibility rules between two versions. Pure rules, no I/O; docs/schemas.md
 * writes the rules down.
 */
import { JunctionError } from './errors.ts';
import { isObject, show } from './values.ts';

/** Schema names: as rule names, 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const SCHEMA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Largest schema, as JSON text. */
export const MAX_SCHEMA_BYTES = 256 * 1024;
/** Deepest nesting of a schema's JSON. */
export const MAX_SCHEMA_DEPTH = 32;
/** Most schemas one bus keeps. */
export const MAX_SCHEMAS = 100;
/** Most versions one schema keeps. */
export const MAX_VERSIONS = 100;
/** Most items an array with `uniqueItems` may be declared to hold (`maxItems`): uniqueness is pairwise. */
export const MAX_UNIQUE_ITEMS = 1000;
/**
 * Longest string a quadratic `pattern` (or `patternProperties` key; degree 2 in `analyzeRegex`) is run on; a longer
 * one fails the pattern unchecked. Linear patterns run on strings of any length.
 */
export const MAX_PATTERN_INPUT = 1024;
/** Most characters of one event that quadratic patterns are run on, together; past it they fail unchecked. */
export const MAX_PATTERN_BUDGET = 64 * 1024;
/** Most unbounded quantifiers one regular expression of a schema may hold, counting one for a regex without `^`. */
export const MAX_REGEX_QUANTIFIERS = 2;

export const COMPATIBILITIES = [
  'NONE',
  'BACKWARD',
  'FORWARD',
  'FULL',
  'BACKWARD_TRANSITIVE',
  'FORWARD_TRANSITIVE',
  'FULL_TRANSITIVE',
] as const;
export type Compatibility = (typeof COMPATIBILITIES)[number];

export const ENFORCEMENTS = ['off', 'warn', 'reject'] as const;
export type Enforcement = (typeof ENFORCEMENTS)[number];

/** Which events a schema governs: by `type` (narrowed by a `source` prefix), or by their `dataschema` URI. */
export type SchemaBinding =
  | { readonly type: string; readonly source?: string }
  | { readonly dataschema: string };

/** The JSON Schema dialects a schema is checked with. OpenAPI 3 documents become 2020-12 schemas. */
export type Dialect = '2020-12' | 'draft-07';

export const DIALECT_URIS: Readonly<Record<Dialect, string>> = {
  '2020-12': 'https://json-schema.org/draft/2020-12/schema',
  'draft-07': 'http://json-schema.org/draft-07/schema#',
};

/** A schema as registered, normalized to a JSON Schema that checks an event's `data`. */
export interface NormalizedSchema {
  readonly dialect: Dialect;
  /** The JSON Schema events' `data` is checked against. */
  readonly schema: unknown;
  /** `openapi` when the request held an OpenAPI 3 document (EventBridge's registry export). */
  readonly from: 'json-schema' | 'openapi';
  /** A binding the document itself names (OpenAPI's `x-amazon-events-detail-type` and `-source`). */
  readonly binding?: SchemaBinding;
}

/** What `PUT /schemas/{name}` asks for. */
export interface SchemaRequest extends NormalizedSchema {
  readonly compatibility: Compatibility;
  readonly binding: SchemaBinding;
  readonly enforcement: Enforcement;
}

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidSchema', `${field}: ${message}`, { field });
}

export function validateSchemaName(name: string): string {
  if (name === 'discovered') {
    throw new JunctionError(
      'InvalidSchema',
      'the schema name "discovered" is reserved: /schemas/discovered serves the discovered drafts',
      { field: 'name' },
    );
  }
  if (!SCHEMA_NAME.test(name)) {
    throw new JunctionError(
      'InvalidSchema',
      `the schema name must be 1-64 letters, digits, ".", "_" or "-" starting with a letter or digit, got ${show(name)}`,
      { field: 'name' },
    );
  }
  return name;
}

/** Depth of a JSON value, stopping as soon as it passes `limit` (no recursion: a deep value cannot overflow). */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const item of Array.isArray(v) ? v : Object.values(v)) stack.push([item, depth + 1]);
  }
  return false;
}

function checkSize(schema: unknown, field: string): void {
  const text = JSON.stringify(schema);
  if (text === undefined) throw invalid('must be a JSON Schema (an object or a boolean)', field);
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > MAX_SCHEMA_BYTES) {
    throw new JunctionError(
      'PayloadTooLarge',
      `${field}: the schema is ${bytes} bytes, more than the limit of ${MAX_SCHEMA_BYTES}`,
      { field, details: { size: bytes, limit: MAX_SCHEMA_BYTES } },
    );
  }
  if (deeperThan(schema, MAX_SCHEMA_DEPTH)) {
    throw invalid(`the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`, field);
  }
}

/**
 * An OpenAPI 3 document as EventBridge's schema registry exports it: `components.schemas.AWSEvent` is the envelope,
 * and the event's payload is the schema its `detail` property refers to (the `data` of the CloudEvent PutEvents
 * makes). A document without `AWSEvent` must hold exactly one schema, which is the payload's. Every schema of
 * `components.schemas` goes along as `$defs` (their `#/components/schemas/X` references become `#/$defs/X`), and
 * OpenAPI 3.0's `nullable: true` becomes a `"null"` type.
 */
function fromOpenApi(document: Record<string, unknown>, field: string): NormalizedSchema {
  const components = document.components;
  const schemas = isObject(components) ? components.schemas : undefined;
  if (!isObject(schemas) || Object.keys(schemas).length === 0) {
    throw invalid('an OpenAPI document must hold its schemas in components.schemas', `${field}.components`);
  }
  const envelope = schemas.AWSEvent;
  let root: unknown;
  let binding: SchemaBinding | undefined;
  if (isObject(envelope)) {
    const properties = envelope.properties;
    const detail = isObject(properties) ? properties.detail : undefined;
    if (!isObject(detail)) {
      throw invalid(
        'components.schemas.AWSEvent has no detail property (the schema of the event payload)',
        `${field}.components.schemas.AWSEvent`,
      );
    }
    root = detail;
    const type = envelope['x-amazon-events-detail-type'];
    const source = envelope['x-amazon-events-source'];
    if (typeof type === 'string' && type.length > 0) {
      binding = typeof source === 'string' && source.length > 0 ? { type, source } : { type };
    }
  } else {
    const names = Object.keys(schemas);
    if (names.length !== 1) {
      throw invalid(
        `an OpenAPI document without components.schemas.AWSEvent must hold one schema, it holds ${names.length}`,
        `${field}.components.schemas`,
      );
    }
    root = { $ref: `#/components/schemas/${names[0]}` };
  }
  const convert = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(convert);
    if (!isObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === 'nullable' || key.startsWith('x-')) continue;
      if (key === '$ref' && typeof item === 'string' && item.startsWith('#/components/schemas/')) {
        out.$ref = `#/$defs/${item.slice('#/components/schemas/'.length)}`;
      } else out[key] = convert(item);
    }
    if (value.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
    return out;
  };
  const defs: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(schemas)) if (name !== 'AWSEvent') defs[name] = convert(schema);
  const converted = convert(root) as Record<string, unknown>;
  const schema = { $schema: DIALECT_URIS['2020-12'], ...converted, $defs: defs };
  return { dialect: '2020-12', schema, from: 'openapi', ...(binding === undefined ? {} : { binding }) };
}

/**
 * A schema as the request holds it, normalized: JSON Schema 2020-12 (the default) or draft-07 by its `$schema`, or
 * an OpenAPI 3 document (by its `openapi` member). Refuses other dialects and anything past the bounds.
 */
export function normalizeSchema(raw: unknown, field = 'schema'): NormalizedSchema {
  if (raw === undefined) throw invalid('is required: a JSON Schema or an OpenAPI 3 document', field);
  if (typeof raw === 'boolean') return { dialect: '2020-12', schema: raw, from: 'json-schema' };
  if (!isObject(raw))
    throw invalid(`must be a JSON Schema (an object or a boolean), got ${show(raw)}`, field);
  checkSize(raw, field);
  let normalized: NormalizedSchema;
  if (raw.openapi !== undefined) {
    if (typeof raw.openapi !== 'string' || !/^3\.\d+\.\d+$/.test(raw.openapi)) {
      throw invalid(
        `only OpenAPI 3 documents are accepted, got openapi ${show(raw.openapi)}`,
        `${field}.openapi`,
      );
    }
    normalized = fromOpenApi(raw, field);
  } else {
    const declared = raw.$schema;
    let dialect: Dialect;
    if (
      declared === undefined ||
      declared === DIALECT_URIS['2020-12'] ||
      declared === `${DIALECT_URIS['2020-12']}#`
    )
      dialect = '2020-12';
    else if (declared === DIALECT_URIS['draft-07'] || declared === 'http://json-schema.org/draft-07/schema')
      dialect = 'draft-07';
    else {
      throw invalid(
        `names a dialect this bus does not check (${show(declared)}); use ${DIALECT_URIS['2020-12']} (the default) or ${DIALECT_URIS['draft-07']}`,
        `${field}.$schema`,
      );
    }
    normalized = { dialect, schema: raw, from: 'json-schema' };
  }
  checkSafety(normalized.schema, field);
  return normalized;
}

// ---- bounds on checking -------------------------------------------------------------------------------------

/** Members of a schema object whose values are schemas, maps of schemas or arrays of schemas. */
const SCHEMA_VALUED = new Set([
  'additionalItems',
  'additionalProperties',
  'contains',
  'else',
  'if',
  'items',
  'not',
  'propertyNames',
  'then',
  'unevaluatedItems',
  'unevaluatedProperties',
]);
const SCHEMA_MAPS = new Set(['$defs', 'definitions', 'dependentSchemas', 'patternProperties', 'properties']);
const SCHEMA_ARRAYS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);

/** Each subschema of a schema with its JSON pointer (the schema itself first). Iterative, bounded by the schema. */
function* subschemas(schema: unknown, base = ''): Generator<[Record<string, unknown>, string]> {
  const stack: Array<[unknown, string]> = [[schema, base]];
  while (stack.length > 0) {
    const [node, pointer] = stack.pop() as [unknown, string];
    if (!isObject(node)) continue;
    yield [node, pointer];
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${escapePointer(key)}`;
      if (SCHEMA_VALUED.has(key)) {
        if (Array.isArray(value)) for (const [i, item] of value.entries()) stack.push([item, `${at}/${i}`]);
        else stack.push([value, at]);
      } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
        for (const [name, item] of Object.entries(value)) stack.push([item, `${at}/${escapePointer(name)}`]);
      } else if (SCHEMA_ARRAYS.has(key) && Array.isArray(value)) {
        for (const [i, item] of value.entries()) stack.push([item, `${at}/${i}`]);
      } else if (key === 'dependencies' && isObject(value)) {
        for (const [name, item] of Object.entries(value))
          if (isObject(item)) stack.push([item, `${at}/${escapePointer(name)}`]);
      }
    }
  }
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** What `analyzeRegex` finds: why a regex is refused, or its worst-case degree (1: linear in its input). */
export interface RegexAnalysis {
  readonly hazard?: string;
  /** Unbounded quantifiers, plus one for a regex not anchored with `^` (it is tried at every position). */
  readonly degree: number;
}

/**
 * How long a regular expression can take. Backtracking makes the worst case exponential when a repeated group can
 * match the same text in several ways, and polynomial of degree k with k unbounded quantifiers (an unanchored regex
 * is tried at every position: one more). Refused (`hazard`): a backreference; a quantifier on a group that holds an
 * alternation or a repetition, past a small bound (`(a+)+`, `(a|ab)*`, `(a*){2,9}`, `(\d{1,16}){16}` — while
 * `(\d{1,3}\.){3}` is fine); a degree over `MAX_REGEX_QUANTIFIERS`. Unbounded: `*`, `+`, `{n,}`, `{n,m}` with m over 16.
 */
export function analyzeRegex(source: string): RegexAnalysis {
  if (/\\[1-9]|\\k</.test(source)) return { hazard: 'it uses a backreference', degree: 0 };
  interface Group {
    /** The most repetitions of one atom inside (nested counts multiply). */
    inner: number;
    alternation: boolean;
  }
  const groups: Group[] = [];
  let unbounded = 0;
  let inClass = false;
  let topLevelAlternation = false;
  let lastGroup: Group | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      lastGroup = undefined;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    let max: number | undefined;
    if (c === '[') {
      inClass = true;
      lastGroup = undefined;
    } else if (c === '(') {
      groups.push({ inner: 1, alternation: false });
      lastGroup = undefined;
    } else if (c === ')') {
      lastGroup = groups.pop();
      const parent = groups[groups.length - 1];
      if (lastGroup !== undefined && parent !== undefined) {
        parent.inner = Math.max(parent.inner, lastGroup.inner);
        parent.alternation ||= lastGroup.alternation;
      }
      continue;
    } else if (c === '|') {
      const top = groups[groups.length - 1];
      if (top !== undefined) top.alternation = true;
      else topLevelAlternation = true;
      lastGroup = undefined;
    } else if (c === '*' || c === '+') {
      max = Number.POSITIVE_INFINITY;
    } else if (c === '?') {
      // `?` after `(` is a group modifier, after a quantifier a lazy marker: neither repeats.
      if (source[i - 1] !== '(' && !/[*+?}]/.test(source[i - 1] ?? '')) max = 1;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (m !== null) {
        max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
        i += m[0].length - 1;
      }
    } else lastGroup = undefined;
    if (max === undefined) continue;
    if (max > 16) unbounded++;
    let repeats = max;
    if (lastGroup !== undefined) {
      if (max > 16 && lastGroup.alternation) {
        return { hazard: 'it repeats a group that holds an alternation', degree: 0 };
      }
      repeats = max * lastGroup.inner;
      if (lastGroup.inner > 1 && max > 1 && (repeats > 64 || !Number.isFinite(repeats))) {
        return { hazard: 'it repeats a group that holds a repetition (nested quantifiers)', degree: 0 };
      }
    }
    const top = groups[groups.length - 1];
    if (top !== undefined) top.inner = Math.max(top.inner, repeats);
    lastGroup = undefined;
  }
  const anchored = source.startsWith('^') && !topLevelAlternation;
  const degree = unbounded + (anchored ? 0 : 1);
  if (degree > MAX_REGEX_QUANTIFIERS) {
    return {
      hazard: `it holds ${unbounded} unbounded quantifiers${anchored ? '' : ' and is not anchored with ^ (which counts as one more)'}, more than ${MAX_REGEX_QUANTIFIERS}`,
      degree,
    };
  }
  return { degree };
}

/** Why a regular expression is refused (`analyzeRegex`), or undefined. */
export function regexHazard(source: string): string | undefined {
  return analyzeRegex(source).hazard;
}

/** The formats checked at ingest (ajv-formats); others would be ignored silently, so they are refused. */
export const FORMATS: ReadonlySet<string> = new Set([
  'date',
  'time',
  'date-time',
  'duration',
  'uri',
  'uri-reference',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
  'byte',
  'int32',
  'int64',
  'float',
  'double',
]);

/**
 * Refuses what would make checking an event more than linear in its size, or depend on anything but the schema:
 * regular expressions `regexHazard` refuses (in `pattern` and `patternProperties`), the `regex` format, `uniqueItems`
 * on arrays without a `maxItems` of at most `MAX_UNIQUE_ITEMS`, formats the bus does not check, and references
 * outside the schema (`$ref` that is not `#…`: nothing is fetched).
 */
function checkSafety(schema: unknown, field: string): void {
  for (const [node, pointer] of subschemas(schema)) {
    const at = (key: string) =>
      `${field}${pointer}/${escapePointer(key)}`.replace(/\//g, '.').replace(/^\./, '');
    if (typeof node.pattern === 'string') {
      const hazard = regexHazard(node.pattern);
      if (hazard !== undefined)
        throw invalid(
          `the pattern ${show(node.pattern)} could take more than linear time: ${hazard}`,
          at('pattern'),
        );
      checkRegex(node.pattern, at('pattern'));
    }
    if (isObject(node.patternProperties)) {
      for (const key of Object.keys(node.patternProperties)) {
        const hazard = regexHazard(key);
        if (hazard !== undefined)
          throw invalid(
            `the pattern ${show(key)} could take more than linear time: ${hazard}`,
            at('patternProperties'),
          );
        checkRegex(key, at('patternProperties'));
      }
    }
    if (node.format !== undefined && (typeof node.format !== 'string' || !FORMATS.has(node.format))) {
      throw invalid(
        `the format ${show(node.format)} is not one this bus checks (${[...FORMATS].join(', ')})`,
        at('format'),
      );
    }
    if (node.uniqueItems === true) {
      const max = node.maxItems;
      if (typeof max !== 'number' || max > MAX_UNIQUE_ITEMS) {
        throw invalid(
          `uniqueItems compares items pairwise: give the array a maxItems of at most ${MAX_UNIQUE_ITEMS}`,
          at('uniqueItems'),
        );
      }
    }
    for (const key of ['$ref', '$dynamicRef'] as const) {
      const ref = node[key];
      if (ref !== undefined && (typeof ref !== 'string' || !ref.startsWith('#'))) {
        throw invalid(`only references inside the schema (#...) are resolved, got ${show(ref)}`, at(key));
      }
    }
  }
}

function checkRegex(source: string, field: string): void {
  try {
    new RegExp(source, 'u');
  } catch (error) {
    throw invalid(`is not a valid regular expression: ${(error as Error).message}`, field);
  }
}

// ---- the request --------------------------------------------------------------------------------------------

function binding(raw: unknown, fallback: SchemaBinding | undefined): SchemaBinding {
  if (raw === undefined) {
    if (fallback !== undefined) return fallback;
    throw invalid('is required: {"type": "...", "source": "prefix"} or {"dataschema": "uri"}', 'binding');
  }
  if (!isObject(raw)) throw invalid(`must be an object, got ${show(raw)}`, 'binding');
  for (const key of Object.keys(raw)) {
    if (!['type', 'source', 'dataschema'].includes(key))
      throw invalid(`unknown member ${show(key)}; use type and source, or dataschema`, `binding.${key}`);
  }
  const text = (key: string, max: number): string | undefined => {
    const value = raw[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0 || value.length > max)
      throw invalid(`must be a string of 1 to ${max} characters, got ${show(value)}`, `binding.${key}`);
    return value;
  };
  const type = text('type', 256);
  const source = text('source', 1024);
  const dataschema = text('dataschema', 1024);
  if (dataschema !== undefined) {
    if (type !== undefined || source !== undefined)
      throw invalid('binds by dataschema or by type (and source), not both', 'binding');
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(dataschema))
      throw invalid(`must be an absolute URI, got ${show(dataschema)}`, 'binding.dataschema');
    return { dataschema };
  }
  if (type === undefined) throw invalid('needs a type (or a dataschema)', 'binding.type');
  return source === undefined ? { type } : { type, source };
}

function oneOf<T extends string>(raw: unknown, values: readonly T[], fallback: T, field: string): T {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw))
    throw invalid(`must be one of ${values.join(', ')}, got ${show(raw)}`, field);
  return raw as T;
}

/**
 * Validates a `PUT /schemas/{name}` body: `{"schema", "compatibility", "binding", "enforcement"}`. Defaults:
 * `BACKWARD`, `reject`; the binding an OpenAPI document names when the body has none.
 */
export function validateSchemaRequest(raw: unknown): SchemaRequest {
  if (!isObject(raw)) throw invalid(`the body must be an object, got ${show(raw)}`, 'body');
  for (const key of Object.keys(raw)) {
    if (!['schema', 'compatibility', 'binding', 'enforcement'].includes(key))
      throw invalid(`unknown member; use schema, compatibility, binding and enforcement`, key);
  }
  const normalized = normalizeSchema(raw.schema);
  return {
    ...normalized,
    compatibility: oneOf(raw.compatibility, COMPATIBILITIES, 'BACKWARD', 'compatibility'),
    binding: binding(raw.binding, normalized.binding),
    enforcement: oneOf(raw.enforcement, ENFORCEMENTS, 'reject', 'enforcement'),
  };
}

/** JSON with sorted keys: two schemas that differ only in key order are the same version. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Two bindings that govern the same events (the same type and source prefix, or the same URI). */
export function sameBinding(a: SchemaBinding, b: SchemaBinding): boolean {
  if ('dataschema' in a || 'dataschema' in b)
    return 'dataschema' in a && 'dataschema' in b && a.dataschema === b.dataschema;
  return a.type === b.type && (a.source ?? '') === (b.source ?? '');
}

// ---- compatibility ------------------------------------------------------------------------------------------

/** One way a new version breaks the compatibility a schema asks for. */
export interface BreakingChange {
  /** JSON pointer into the schema where the change is (in the newer version, or the older when removed). */
  readonly pointer: string;
  /** What changed (docs/schemas.md lists them). */
  readonly change: string;
  /** The rule it broke: BACKWARD (new readers must read old data) or FORWARD (old readers must read new data). */
  readonly rule: 'BACKWARD' | 'FORWARD';
  /** The version it was compared with. */
  readonly against: number;
  readonly message: string;
}

type Restriction = Omit<BreakingChange, 'rule' | 'against'>;

const TYPES = ['null', 'boolean', 'object', 'array', 'number', 'integer', 'string'];

function typesOf(schema: Record<string, unknown>): Set<string> | undefined {
  const t = schema.type;
  if (typeof t === 'string') return new Set([t]);
  if (Array.isArray(t)) return new Set(t.filter((x): x is string => typeof x === 'string'));
  return undefined;
}

function enumOf(schema: Record<string, unknown>): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  return Array.isArray(schema.enum) ? schema.enum : undefined;
}

function requiredOf(schema: Record<string, unknown>): Set<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((x) => typeof x === 'string') : []);
}

/** Keywords whose change is compared structurally: any difference counts as breaking both ways. */
const OPAQUE = [
  '$ref',
  '$dynamicRef',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'dependentSchemas',
  'dependentRequired',
  'dependencies',
  'patternProperties',
  'propertyNames',
  'contains',
  'prefixItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  '$defs',
  'definitions',
];

/** Lower bounds (a larger one in the newer schema refuses more) and upper bounds (a smaller one refuses more). */
const LOWER = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties', 'minContains'];
const UPPER = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties', 'maxContains'];

/**
 * The ways `to` refuses data `from` accepts, each at its JSON pointer. An undeclared property of an open object
 * counts as absent (docs/schemas.md says why): adding an optional property restricts nothing.
 */
export function restrictions(from: unknown, to: unknown, pointer = ''): Restriction[] {
  const out: Restriction[] = [];
  const stack: Array<[unknown, unknown, string]> = [[from, to, pointer]];
  while (stack.length > 0 && out.length < 100) {
    const [a, b, at] = stack.pop() as [unknown, unknown, string];
    if (a === false || b === true || (isObject(b) && Object.keys(b).every((k) => !isConstraint(k)))) continue;
    if (b === false) {
      out.push({
        pointer: at,
        change: 'schema-refuses-all',
        message: `${at || '/'} now refuses every value`,
      });
      continue;
    }
    if (!isObject(b)) continue;
    const A = isObject(a) ? a : {};
    const ta = typesOf(A);
    const tb = typesOf(b);
    if (tb !== undefined) {
      const before = ta ?? new Set(TYPES);
      const lost = [...before].filter((t) => !tb.has(t) && !(t === 'integer' && tb.has('number')));
      if (lost.length > 0) {
        out.push({
          pointer: `${at}/type`,
          change: 'type-narrowed',
          message: `the type at ${at || '/'} no longer accepts ${lost.join(', ')}`,
        });
      }
    }
    const eb = enumOf(b);
    if (eb !== undefined) {
      const ea = enumOf(A);
      const allowed = new Set(eb.map(canonicalJson));
      if (ea === undefined) {
        out.push({
          pointer: `${at}/enum`,
          change: 'enum-added',
          message: `${at || '/'} is now limited to ${show(eb)}`,
        });
      } else {
        const lost = ea.filter((v) => !allowed.has(canonicalJson(v)));
        if (lost.length > 0) {
          out.push({
            pointer: `${at}/enum`,
            change: 'enum-value-removed',
            message: `${at || '/'} no longer accepts ${show(lost)}`,
          });
        }
      }
    }
    const ra = requiredOf(A);
    const pa = isObject(A.properties) ? A.properties : {};
    const pb = isObject(b.properties) ? b.properties : {};
    for (const name of requiredOf(b)) {
      if (ra.has(name)) continue;
      out.push({
        pointer: `${at}/required`,
        change: name in pa || A.additionalProperties !== false ? 'required-added' : 'required-property-added',
        message: `${at || '/'} now requires the property ${show(name)}`,
      });
    }
    for (const [name, schema] of Object.entries(pb)) {
      const key = `${at}/properties/${escapePointer(name)}`;
      if (name in pa) stack.push([pa[name], schema, key]);
      else if (isObject(A.additionalProperties) || A.additionalProperties === false) {
        if (A.additionalProperties !== false) stack.push([A.additionalProperties, schema, key]);
      }
      // Else an optional property added to an open object: an undeclared property counts as absent.
    }
    for (const [name, schema] of Object.entries(pa)) {
      if (name in pb) continue;
      const key = `${at}/properties/${escapePointer(name)}`;
      if (b.additionalProperties === false) {
        out.push({
          pointer: key,
          change: 'property-removed-from-closed-object',
          message: `the property ${show(name)} was removed and ${at || '/'} refuses additional properties`,
        });
      } else if (isObject(b.additionalProperties)) stack.push([schema, b.additionalProperties, key]);
    }
    const xa = A.additionalProperties;
    const xb = b.additionalProperties;
    if (xb === false && xa !== false) {
      out.push({
        pointer: `${at}/additionalProperties`,
        change: 'additional-properties-closed',
        message: `${at || '/'} no longer accepts additional properties`,
      });
    } else if (isObject(xb)) stack.push([xa ?? true, xb, `${at}/additionalProperties`]);
    if (isObject(b.items) || b.items === false) stack.push([A.items ?? true, b.items, `${at}/items`]);
    for (const key of LOWER) {
      const vb = b[key];
      const va = A[key];
      if (typeof vb === 'number' && !(typeof va === 'number' && va >= vb)) {
        out.push({
          pointer: `${at}/${key}`,
          change: 'bound-narrowed',
          message: `${key} at ${at || '/'} rose to ${vb}`,
        });
      }
    }
    for (const key of UPPER) {
      const vb = b[key];
      const va = A[key];
      if (typeof vb === 'number' && !(typeof va === 'number' && va <= vb)) {
        out.push({
          pointer: `${at}/${key}`,
          change: 'bound-narrowed',
          message: `${key} at ${at || '/'} fell to ${vb}`,
        });
      }
    }
    for (const key of ['pattern', 'format', 'multipleOf', 'uniqueItems']) {
      if (b[key] !== undefined && b[key] !== false && canonicalJson(b[key]) !== canonicalJson(A[key])) {
        out.push({
          pointer: `${at}/${key}`,
          change: `${key === 'uniqueItems' ? 'unique-items' : key === 'multipleOf' ? 'multiple-of' : key}-changed`,
          message: `${key} at ${at || '/'} changed to ${show(b[key])}`,
        });
      }
    }
    for (const key of OPAQUE) {
      if (b[key] !== undefined && canonicalJson(b[key]) !== canonicalJson(A[key])) {
        out.push({
          pointer: `${at}/${key}`,
          change: 'composition-changed',
          message: `${key} at ${at || '/'} changed; such changes are not analyzed and count as breaking`,
        });
      }
    }
  }
  return out;
}

/** Annotations and identifiers: they never restrict. */
function isConstraint(key: string): boolean {
  return ![
    '$schema',
    '$id',
    '$anchor',
    '$comment',
    'title',
    'description',
    'default',
    'examples',
    'deprecated',
    'readOnly',
    'writeOnly',
  ].includes(key);
}

/**
 * The breaking changes of registering `next` under `mode`, given the earlier versions (oldest first): BACKWARD
 * compares with the latest (every value it accepted must stay valid), FORWARD the other way round, FULL both; the
 * transitive modes compare with every earlier version. Empty: compatible.
 */
export function checkCompatibility(
  earlier: ReadonlyArray<{ readonly version: number; readonly schema: unknown }>,
  next: unknown,
  mode: Compatibility,
): BreakingChange[] {
  if (mode === 'NONE' || earlier.length === 0) return [];
  const against = mode.endsWith('_TRANSITIVE') ? earlier : earlier.slice(-1);
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const out: BreakingChange[] = [];
  for (const old of [...against].reverse()) {
    if (backward) {
      for (const r of restrictions(old.schema, next))
        out.push({ ...r, rule: 'BACKWARD', against: old.version });
    }
    if (forward) {
      for (const r of restrictions(next, old.schema))
        out.push({ ...r, rule: 'FORWARD', against: old.version });
    }
  }
  return out;
}

// ---- stored schemas -----------------------------------------------------------------------------------------

/** One immutable version of a schema. */
export interface SchemaVersion {
  readonly version: number;
  readonly dialect: Dialect;
  /** The JSON Schema that events' `data` is checked against (an OpenAPI document's, converted). */
  readonly schema: unknown;
  /** `canonicalJson` of `schema`: the same schema registered again is this version. */
  readonly fingerprint: string;
  readonly createdAt: number;
}

/** A schema as stored and as `GET /schemas/{name}` shows it: its settings and its versions, oldest first. */
export interface SchemaDefinition {
  readonly name: string;
  readonly compatibility: Compatibility;
  readonly binding: SchemaBinding;
  readonly enforcement: Enforcement;
  readonly versions: readonly SchemaVersion[];
  readonly createdAt: number;
  readonly updatedAt: number;
}
