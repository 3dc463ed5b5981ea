/**
 * A schema check that reads an event's `data` as JSON text instead of as a parsed value (issue #16): the
 * WebAssembly member walk of `codec/json-wasm.ts` steps through each object, comparing keys with the schema's
 * property names and stepping over what the schema does not describe, and only the strings and numbers a keyword
 * reads are made. `JSON.parse` of a 1 KB event's data cost more than ajv's whole check of it; this check builds no
 * value.
 *
 * It answers only "certainly valid" (`true`) or "not known" (`false`): a caller that gets `false` parses the data and
 * asks ajv, which decides every refusal and words its errors. So it may say `false` of valid data (a text with a
 * backslash or a non-ASCII character, a key with a dot, a number that overflows), never `true` of invalid data. It
 * is made only for schemas whose every keyword it knows, with ajv's meaning (`compileTextCheck` answers `undefined`
 * for the others): `type`, `enum` and `const` of JSON scalars, `properties`, `required`, `additionalProperties` as a
 * boolean, `items` as one schema, `minItems`/`maxItems`, `minLength`/`maxLength`, `pattern` (linear ones),
 * `format` (the bus's ajv formats, on strings), `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` as numbers,
 * and annotations. test/core/schema-text.test.ts holds it to ajv's answers.
 */
import {
  asciiMemory,
  CHECK_FLAG,
  CHECK_NODE,
  CHECK_WORDS,
  checkAt,
  checkInMemory,
  checkTape,
  KIND,
  LITERAL,
  loadAscii,
  MAX_PROGRAM_BYTES,
  MEMBER_WORDS,
  membersAt,
  membersInMemory,
  membersTape,
  NamesBlock,
  namesTable,
  skipInMemory,
} from './codec/json-wasm.ts';
import { analyzeRegex } from './schema.ts';

/** Whether a JSON text is certainly valid against the schema (`false`: not known; ask ajv). */
export type TextCheck = (text: string) => boolean;

const { STRING, NUMBER, INTEGER, BOOLEAN, NULL, OBJECT, ARRAY } = KIND;
const ANY = STRING | NUMBER | INTEGER | BOOLEAN | NULL | OBJECT | ARRAY;
const KINDS: Readonly<Record<string, number>> = {
  string: STRING,
  number: NUMBER,
  integer: INTEGER,
  boolean: BOOLEAN,
  null: NULL,
  object: OBJECT,
  array: ARRAY,
};

/** Keywords that never make a value invalid (ajv's `strict: false` ignores unknown ones; these are known to be inert). */
const ANNOTATIONS = new Set([
  '$schema',
  '$id',
  '$comment',
  '$defs',
  'definitions',
  'title',
  'description',
  'default',
  'examples',
  'example',
  'deprecated',
  'readOnly',
  'writeOnly',
  'contentMediaType',
  'contentEncoding',
]);

/** One schema, compiled for the walk. */
interface Node {
  /** The kinds `type` allows (`ANY` without `type`); `INTEGER` alone: numbers with no fraction. */
  readonly kinds: number;
  readonly minLength: number;
  readonly maxLength: number;
  readonly pattern: RegExp | undefined;
  /** `format`: ajv's regular expression for it, or its function. */
  readonly formatRegExp: RegExp | undefined;
  readonly formatFunction: ((value: string) => boolean) | undefined;
  /** `format: uuid`: read from the bytes (`uuidAt`), not by ajv-formats' regular expression. */
  readonly uuid: boolean;
  readonly minimum: number;
  readonly maximum: number;
  readonly exclusiveMinimum: number;
  readonly exclusiveMaximum: number;
  /** `enum` (and `const`): the values allowed, all JSON scalars; `undefined` without either. */
  readonly allowed: ReadonlySet<unknown> | undefined;
  /** The strings of `allowed` (compared in place, no string made); `undefined` without `enum` or `const`. */
  readonly strings: readonly string[] | undefined;
  /** Whether a string value must be made (`pattern` or `format` reads it). */
  readonly makesString: boolean;
  /** Whether a string is read past its type and length (`format`, `pattern`, `enum`/`const`). */
  readonly readsString: boolean;
  /** Whether a number's value must be read (bounds, `enum`, or `integer` without `number`). */
  readonly readsNumbers: boolean;
  /** Property names, then the names `required` adds that `properties` lacks. */
  readonly names: readonly string[];
  /** How many of `names` are properties (with a node each in `nodes`). */
  readonly properties: number;
  readonly nodes: readonly Node[];
  /** `names` as the module compares them; `undefined` without names (the object is stepped over). */
  readonly table: Uint8Array | undefined;
  /** `table`'s offset in the schema's names block (copied once a text), or -1: it is copied a call. */
  readonly tableAt: number;
  /** Indices into `names` of the required ones. */
  readonly required: readonly number[];
  /** The required ones as bits (`1 << index`) when `names` are at most 31, else 0 (then `required` is read). */
  readonly requiredBits: number;
  /** `additionalProperties: false`: no member but the properties. */
  readonly closed: boolean;
  /** Arrays: whether any array keyword is present (else an array is stepped over). */
  readonly arrays: boolean;
  readonly items: Node | undefined;
  readonly minItems: number;
  readonly maxItems: number;
}

/** Thrown while compiling: the schema uses what this check does not read (ajv checks alone). */
class Unsupported extends Error {}

type Formats = Readonly<Record<string, unknown>>;

/**
 * Who walks the text: `module`, the WebAssembly module's `check` over a schema program (JS reads only the patterns and
 * formats), for schemas whose program fits (`programOf`), else JS; `js`, JS over the module's member walk.
 */
export type TextWalk = 'module' | 'js';

/**
 * The text check of a schema (as `normalizeSchema` gives it), with `formats` the table of the ajv instance that checks
 * it (`ajv.formats`), or `undefined` when the schema has a keyword (or a form of one) this check does not read.
 */
export function compileTextCheck(
  schema: unknown,
  formats: Formats,
  walk: TextWalk = 'module',
): TextCheck | undefined {
  let root: Node;
  const block = new NamesBlock();
  try {
    root = compile(schema, formats, 0, block);
  } catch {
    // Unsupported, or anything else: the text check is a shortcut, and ajv, which compiled the schema, checks alone.
    return undefined;
  }
  const tables = block.bytes();
  const program = walk === 'module' ? programOf(root) : undefined;
  if (program !== undefined) {
    // More strings and numbers for JS than the module records (an array of hundreds of patterned strings): JS walks.
    return (text) =>
      readText(text, program.bytes, walkInModule, program) ?? readText(text, tables, walkInJs, root) === true;
  }
  return (text) => readText(text, tables, walkInJs, root) === true;
}

/** A schema as the module's `check` reads it (`CHECK_NODE`), and its nodes by index (for the records JS checks). */
interface Program {
  readonly bytes: Uint8Array;
  readonly nodes: readonly Node[];
}

/** Most names of an object the module's `check` takes (`required` is a 32-bit mask). */
const MAX_PROGRAM_NAMES = 32;

/**
 * The program of the schema whose root is `root`: its nodes (`CHECK_NODE.BYTES` each, the root first), then each
 * one's children and tables; `undefined` when an object has more than 32 names or the program passes the room the
 * module keeps for it (then `walkInJs` walks it).
 */
function programOf(root: Node): Program | undefined {
  const nodes: Node[] = [];
  const visit = (node: Node) => {
    nodes.push(node);
    for (const child of node.nodes) visit(child);
    if (node.items !== undefined) visit(node.items);
  };
  visit(root);
  if (nodes.some((node) => node.names.length > MAX_PROGRAM_NAMES)) return undefined;
  const index = new Map(nodes.map((node, i) => [node, i]));
  // The tail after the nodes: a node's children (a word each), its names table and its enum's strings table.
  const tail: number[] = [];
  let end = nodes.length * CHECK_NODE.BYTES;
  const place = (bytes: ArrayLike<number>): number => {
    while ((end + tail.length) % 4 !== 0) tail.push(0);
    const at = end + tail.length;
    for (let i = 0; i < bytes.length; i++) tail.push(bytes[i] as number);
    return at;
  };
  const nodeAt = (node: Node) => (index.get(node) as number) * CHECK_NODE.BYTES;
  const laid = nodes.map((node) => {
    const children = new Uint8Array(new Int32Array(node.nodes.map(nodeAt)).buffer);
    const strings = node.strings ?? [];
    const enumTable = strings.length === 0 ? undefined : namesTable(strings);
    return {
      children: node.nodes.length === 0 ? -1 : place(children),
      names: node.table === undefined ? -1 : place(node.table),
      // -1: no string is allowed; -2: JS compares them (a table cannot hold them).
      enumAt: strings.length === 0 ? -1 : enumTable === undefined ? -2 : place(enumTable),
    };
  });
  end += tail.length;
  if (end > MAX_PROGRAM_BYTES) return undefined;
  const bytes = new Uint8Array(end);
  bytes.set(tail, nodes.length * CHECK_NODE.BYTES);
  const view = new DataView(bytes.buffer);
  const word = (at: number, value: number) => view.setInt32(at, Math.min(value, 0x7fffffff) | 0, true);
  nodes.forEach((node, i) => {
    const at = i * CHECK_NODE.BYTES;
    const { allowed } = node;
    const { children, names, enumAt } = laid[i] as (typeof laid)[number];
    const bounded =
      node.minimum !== Number.NEGATIVE_INFINITY ||
      node.maximum !== Number.POSITIVE_INFINITY ||
      node.exclusiveMinimum !== Number.NEGATIVE_INFINITY ||
      node.exclusiveMaximum !== Number.POSITIVE_INFINITY;
    const flags =
      (node.makesString || enumAt === -2 ? CHECK_FLAG.JS_STRING : 0) |
      (node.uuid ? CHECK_FLAG.UUID : 0) |
      (allowed !== undefined ? CHECK_FLAG.ENUM : 0) |
      (node.closed ? CHECK_FLAG.CLOSED : 0) |
      (node.arrays ? CHECK_FLAG.ARRAYS : 0) |
      (bounded ? CHECK_FLAG.BOUNDS : 0);
    const literals =
      allowed === undefined
        ? 0
        : (allowed.has(true) ? LITERAL.TRUE : 0) |
          (allowed.has(false) ? LITERAL.FALSE : 0) |
          (allowed.has(null) ? LITERAL.NULL : 0);
    word(at + CHECK_NODE.KINDS, node.kinds);
    word(at + CHECK_NODE.FLAGS, flags);
    word(at + CHECK_NODE.MIN_LENGTH, node.minLength);
    word(at + CHECK_NODE.MAX_LENGTH, node.maxLength);
    word(at + CHECK_NODE.NAMES, names);
    view.setUint32(
      at + CHECK_NODE.REQUIRED,
      node.required.reduce((bits, i) => (bits | (1 << i)) >>> 0, 0),
      true,
    );
    word(at + CHECK_NODE.PROPERTIES, node.properties);
    word(at + CHECK_NODE.CHILDREN, children);
    word(at + CHECK_NODE.ITEMS, node.items === undefined ? -1 : nodeAt(node.items));
    word(at + CHECK_NODE.MIN_ITEMS, node.minItems);
    word(at + CHECK_NODE.MAX_ITEMS, node.maxItems);
    word(at + CHECK_NODE.ENUM, enumAt);
    word(at + CHECK_NODE.LITERALS, literals);
    word(at + CHECK_NODE.INDEX, i);
    view.setFloat64(at + CHECK_NODE.MINIMUM, node.minimum, true);
    view.setFloat64(at + CHECK_NODE.MAXIMUM, node.maximum, true);
    view.setFloat64(at + CHECK_NODE.EXCLUSIVE_MINIMUM, node.exclusiveMinimum, true);
    view.setFloat64(at + CHECK_NODE.EXCLUSIVE_MAXIMUM, node.exclusiveMaximum, true);
  });
  return { bytes, nodes };
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function nonNegativeInteger(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Unsupported();
  return value;
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || isNumber(value);
}

/** ajv-formats' `uuid` (both modes). V8 runs it in ≈ 200 ns on a 36-character string; `uuidAt` reads the bytes. */
const UUID = /^(?:urn:uuid:)?[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

function isUuidRegExp(rx: RegExp): boolean {
  return rx.source === UUID.source && rx.flags === UUID.flags;
}

const URN = 'urn:uuid:';
/** Hexadecimal digits in either case, by byte. */
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

/**
 * `UUID.test` of the ASCII string of `length` bytes at `at` in `bytes`: 36 characters, hexadecimal digits in either case
 * with hyphens at 8, 13, 18 and 23, after an optional `urn:uuid:` in either case. test/core/schema-text.test.ts holds
 * the two together.
 */
function uuidAt(at: number, length: number): boolean {
  if (length === 45) {
    // A letter's code with 0x20 set is its lower case, and only its two cases give it.
    for (let i = 0; i < 9; i++) {
      const wanted = URN.charCodeAt(i);
      const c = bytes[at + i] as number;
      if ((wanted === 0x3a ? c : c | 0x20) !== wanted) return false;
    }
    at += 9;
  } else if (length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = bytes[at + i] as number;
    if (i === 8 || i === 13 || i === 18 || i === 23 ? c !== 0x2d : HEX[c] !== 1) return false;
  }
  return true;
}

function formatOf(name: unknown, formats: Formats): RegExp | ((value: string) => boolean) | undefined {
  if (typeof name !== 'string' || !Object.hasOwn(formats, name)) throw new Unsupported();
  let format = formats[name];
  if (format === true) return undefined;
  if (typeof format === 'object' && format !== null && !(format instanceof RegExp)) {
    const definition = format as { type?: unknown; async?: unknown; validate?: unknown };
    if (definition.async === true || (definition.type !== undefined && definition.type !== 'string')) {
      throw new Unsupported();
    }
    format = definition.validate;
  }
  if (format instanceof RegExp) return format;
  if (typeof format === 'function') return format as (value: string) => boolean;
  throw new Unsupported();
}

function linearPattern(source: unknown): RegExp {
  if (typeof source !== 'string') throw new Unsupported();
  const analysis = analyzeRegex(source);
  if (analysis.hazard !== undefined || analysis.degree > 1) throw new Unsupported();
  try {
    return new RegExp(source, 'u');
  } catch {
    throw new Unsupported();
  }
}

function compile(schema: unknown, formats: Formats, depth: number, block: NamesBlock): Node {
  // normalizeSchema bounds schemas to 32 levels; a deeper one would be refused before this.
  if (depth > 64) throw new Unsupported();
  if (schema === true) schema = {};
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new Unsupported();
  let kinds = ANY;
  let minLength = 0;
  let maxLength = Number.POSITIVE_INFINITY;
  let pattern: RegExp | undefined;
  let format: RegExp | ((value: string) => boolean) | undefined;
  let minimum = Number.NEGATIVE_INFINITY;
  let maximum = Number.POSITIVE_INFINITY;
  let exclusiveMinimum = Number.NEGATIVE_INFINITY;
  let exclusiveMaximum = Number.POSITIVE_INFINITY;
  let allowed: Set<unknown> | undefined;
  let properties: Record<string, unknown> = {};
  let requiredNames: string[] = [];
  let closed = false;
  let arrays = false;
  let items: Node | undefined;
  let minItems = 0;
  let maxItems = Number.POSITIVE_INFINITY;
  const restrict = (values: Set<unknown>) => {
    allowed = allowed === undefined ? values : new Set([...allowed].filter((v) => values.has(v)));
  };
  for (const [keyword, value] of Object.entries(schema)) {
    if (ANNOTATIONS.has(keyword) || keyword.startsWith('x-')) continue;
    switch (keyword) {
      case 'type': {
        const names = Array.isArray(value) ? value : [value];
        kinds = 0;
        for (const name of names) {
          const kind = typeof name === 'string' && Object.hasOwn(KINDS, name) ? KINDS[name] : undefined;
          if (kind === undefined) throw new Unsupported();
          kinds |= kind;
        }
        break;
      }
      case 'enum':
        if (!Array.isArray(value) || !value.every(isScalar)) throw new Unsupported();
        restrict(new Set(value));
        break;
      case 'const':
        if (!isScalar(value)) throw new Unsupported();
        restrict(new Set([value]));
        break;
      case 'minLength':
        minLength = nonNegativeInteger(value);
        break;
      case 'maxLength':
        maxLength = nonNegativeInteger(value);
        break;
      case 'pattern':
        // ajv compiles `pattern` with the `u` flag; a quadratic one runs under a budget (schema-check.ts): not here.
        pattern = linearPattern(value);
        break;
      case 'format':
        format = formatOf(value, formats);
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (!isNumber(value)) throw new Unsupported();
        if (keyword === 'minimum') minimum = value;
        else if (keyword === 'maximum') maximum = value;
        else if (keyword === 'exclusiveMinimum') exclusiveMinimum = value;
        else exclusiveMaximum = value;
        break;
      case 'properties':
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Unsupported();
        properties = value as Record<string, unknown>;
        break;
      case 'required':
        if (!Array.isArray(value) || !value.every((name) => typeof name === 'string'))
          throw new Unsupported();
        requiredNames = value as string[];
        break;
      case 'additionalProperties':
        if (typeof value !== 'boolean') throw new Unsupported();
        closed = !value;
        break;
      case 'items':
        // A tuple (draft-07's array form) or `false` is not read here.
        if (value !== true && (typeof value !== 'object' || value === null || Array.isArray(value))) {
          throw new Unsupported();
        }
        items = compile(value, formats, depth + 1, block);
        arrays = true;
        break;
      case 'minItems':
        minItems = nonNegativeInteger(value);
        arrays = true;
        break;
      case 'maxItems':
        maxItems = nonNegativeInteger(value);
        arrays = true;
        break;
      default:
        throw new Unsupported();
    }
  }
  const names = Object.keys(properties);
  const nodes = names.map((name) => compile(properties[name], formats, depth + 1, block));
  const count = names.length;
  for (const name of requiredNames) if (!names.includes(name)) names.push(name);
  const required = [...new Set(requiredNames)].map((name) => names.indexOf(name));
  const table = names.length > 0 ? namesTable(names) : undefined;
  if (names.length > 0 && table === undefined) throw new Unsupported();
  const tableAt = table === undefined ? -1 : (block.add(table) ?? -1);
  const uuid = format instanceof RegExp && isUuidRegExp(format);
  return {
    kinds,
    minLength,
    maxLength,
    pattern,
    formatRegExp: format instanceof RegExp && !uuid ? format : undefined,
    formatFunction: typeof format === 'function' ? format : undefined,
    uuid,
    minimum,
    maximum,
    exclusiveMinimum,
    exclusiveMaximum,
    allowed,
    strings: allowed === undefined ? undefined : [...allowed].filter((v) => typeof v === 'string'),
    makesString: pattern !== undefined || (format !== undefined && !uuid),
    readsString: pattern !== undefined || format !== undefined || allowed !== undefined,
    readsNumbers:
      allowed !== undefined ||
      (kinds & NUMBER) === 0 ||
      minimum !== Number.NEGATIVE_INFINITY ||
      maximum !== Number.POSITIVE_INFINITY ||
      exclusiveMinimum !== Number.NEGATIVE_INFINITY ||
      exclusiveMaximum !== Number.POSITIVE_INFINITY,
    names,
    properties: count,
    nodes,
    table,
    tableAt,
    required,
    requiredBits: names.length <= 31 ? required.reduce((bits, index) => bits | (1 << index), 0) : 0,
    closed,
    arrays,
    items,
    minItems,
    maxItems,
  };
}

// ---- the walk: over the text `loadAscii` copied into the module's memory -------------------------------------

let src = '';
/** `src` as the module's memory holds it: its characters' codes, read faster than `charCodeAt` reads them. */
let bytes: Uint8Array = new Uint8Array(0);
/** `src.length`, kept beside it: the scanning loops read it on every step (reading the string's length cost ≈ 2%). */
let textEnd = 0;
let pos = 0;

/**
 * `walk(subject, start)` over `text` copied into the module's memory with `block` after it, from its first byte past
 * whitespace; `false` when the module cannot take the text or a format's function throws (ajv decides then).
 */
function readText<S>(
  text: string,
  block: Uint8Array | undefined,
  walk: (subject: S, start: number) => boolean | undefined,
  subject: S,
): boolean | undefined {
  // Without a backslash, a string's text is its value; with ASCII only, its length counts its code points (and the
  // module's byte offsets are the text's offsets).
  if (text.indexOf('\\') !== -1 || !loadAscii(text, block)) return false;
  src = text;
  bytes = asciiMemory();
  textEnd = text.length;
  try {
    return walk(subject, skipWhitespaceFrom(0));
  } catch {
    return false; // a format's function that throws: ajv decides
  } finally {
    src = '';
    bytes = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

/** JS walks the value from `start` over the module's member walk (the schema's names tables are the block). */
function walkInJs(root: Node, start: number): boolean {
  pos = start;
  return checkValue(root);
}

/**
 * The module's `check` walks the whole value (types, lengths, enums, bounds, members, elements); JS reads only the
 * strings and numbers it recorded: a pattern, a format, a number's enum (`checkScalar`). `undefined`: more of them
 * than the module records.
 */
function walkInModule(program: Program, start: number): boolean | undefined {
  const count = checkInMemory(start, textEnd);
  if (count === -2) return undefined;
  if (count < 0) return false;
  const tape = checkTape;
  const { nodes } = program;
  for (let r = 0, at = checkAt; r < count; r++, at += CHECK_WORDS) {
    const node = nodes[tape[at] as number] as Node;
    if (!checkScalar(node, tape[at + 1] as number, tape[at + 2] as number)) return false;
  }
  return true;
}

/** The value at `pos`; `pos` ends after it when it passes. */
function checkValue(node: Node): boolean {
  const c = bytes[pos] as number;
  if (c === 0x7b) return (node.kinds & OBJECT) !== 0 && node.allowed === undefined && checkObject(node);
  if (c === 0x5b) return (node.kinds & ARRAY) !== 0 && node.allowed === undefined && checkArray(node);
  const start = pos;
  pos = scalarEnd(c, start);
  return checkScalar(node, start, pos);
}

/** The offset after the string, number or literal starting with `c` at `start` (no backslash in the text). */
function scalarEnd(c: number, start: number): number {
  if (c === 0x22) return src.indexOf('"', start + 1) + 1;
  let i = start + 1;
  while (i < textEnd) {
    const d = bytes[i] as number;
    if (d === 0x2c || d === 0x7d || d === 0x5d || d <= 0x20) break;
    i++;
  }
  return i;
}

function checkScalar(node: Node, start: number, end: number): boolean {
  // Small enough for V8 to inline where it is called: what most values need (a type, a length) is read here, the
  // rest in the functions it calls.
  const c = bytes[start] as number;
  if (c === 0x22) {
    const length = end - start - 2;
    if ((node.kinds & STRING) === 0 || length < node.minLength || length > node.maxLength) return false;
    return !node.readsString || checkString(node, start, end, length);
  }
  if (c === 0x74 || c === 0x66 || c === 0x6e) return checkLiteral(node, c);
  return node.readsNumbers ? checkNumber(node, start, end) : (node.kinds & NUMBER) !== 0;
}

/** A string's `format`, `pattern` and `enum`, its type and length checked. */
function checkString(node: Node, start: number, end: number, length: number): boolean {
  if (node.uuid && !uuidAt(start + 1, length)) return false;
  if (node.makesString) {
    const value = src.slice(start + 1, end - 1);
    if (node.pattern !== undefined && !node.pattern.test(value)) return false;
    if (node.formatRegExp !== undefined && !node.formatRegExp.test(value)) return false;
    if (node.formatFunction !== undefined && !node.formatFunction(value)) return false;
  }
  return node.strings === undefined || oneOf(node.strings, start + 1, length);
}

/** `true`, `false` or `null` (first byte `c`). */
function checkLiteral(node: Node, c: number): boolean {
  const { allowed } = node;
  if (c === 0x6e) return (node.kinds & NULL) !== 0 && (allowed === undefined || allowed.has(null));
  return (node.kinds & BOOLEAN) !== 0 && (allowed === undefined || allowed.has(c === 0x74));
}

/** A number whose value a keyword reads. */
function checkNumber(node: Node, start: number, end: number): boolean {
  const value = numberAt(start, end);
  if (!Number.isFinite(value)) return false;
  if ((node.kinds & NUMBER) === 0 && ((node.kinds & INTEGER) === 0 || !Number.isInteger(value))) return false;
  if (value < node.minimum || value > node.maximum) return false;
  if (value <= node.exclusiveMinimum || value >= node.exclusiveMaximum) return false;
  const { allowed } = node;
  return allowed === undefined || allowed.has(value);
}

/** Whether the string of `length` characters at `start` is one of `strings`. */
function oneOf(strings: readonly string[], start: number, length: number): boolean {
  for (const string of strings) if (string.length === length && src.startsWith(string, start)) return true;
  return false;
}

/** Powers of ten a double holds exactly. */
const POWERS = Array.from({ length: 16 }, (_, k) => 10 ** k);

/**
 * The number whose lexeme spans `start` to `end`, as `Number` reads it. A lexeme of at most 15 digits without an
 * exponent is read here without making its string: its digits are an exact integer m, and m / 10^k (both exact
 * doubles) is correctly rounded, as `Number`'s reading of the decimal is.
 */
function numberAt(start: number, end: number): number {
  let i = start;
  const negative = (bytes[i] as number) === 0x2d;
  if (negative) i++;
  let m = 0;
  let digits = 0;
  let point = -1;
  for (; i < end; i++) {
    const d = (bytes[i] as number) - 0x30;
    if (d >= 0 && d <= 9) {
      m = m * 10 + d;
      digits++;
    } else if (d === -2 && point < 0) point = i;
    else return Number(src.slice(start, end));
  }
  if (digits > 15) return Number(src.slice(start, end));
  const value = point < 0 ? m : m / (POWERS[end - point - 1] as number);
  return negative ? -value : value;
}

/**
 * The object at `pos`: the module walks its members, compares their keys with the node's names and steps over the
 * values of the others; it records named scalars (checked here) and stops at a named object or array, or a key with a
 * dot, for the value to be read here, then goes on after it.
 */
function checkObject(node: Node): boolean {
  const { table } = node;
  if (table === undefined) {
    // No names: `{}` when closed, else anything (`required` names a member, so it is not empty here).
    return (!node.closed || bytes[skipWhitespaceFrom(pos + 1)] === 0x7d) && skipAfter();
  }
  const { required, requiredBits, closed, nodes, properties, tableAt } = node;
  // The required names seen: as bits up to 31 names (no allocation), else flags.
  const seen = required.length > 0 && node.names.length > 31 ? new Uint8Array(node.names.length) : undefined;
  let seenBits = 0;
  let count = membersInMemory(pos, textEnd, table, false, tableAt);
  for (;;) {
    if (count < 0) return false;
    const tape = membersTape;
    let at = membersAt;
    // A member the module stepped over: its name is no property.
    if (closed && (tape[at - 2] as number) !== 0) return false;
    const end = tape[at - 4] as number;
    let next = tape[at - 3] as number;
    for (let r = 0; r < count; r++, at += MEMBER_WORDS) {
      let index = tape[at] as number;
      if (index < 0) index = node.names.indexOf(src.slice(tape[at + 1] as number, tape[at + 2] as number));
      if (index >= 0) {
        if (seen !== undefined) seen[index] = 1;
        else seenBits |= 1 << index;
      }
      const child = index >= 0 && index < properties ? nodes[index] : undefined;
      if (child === undefined && closed) return false;
      pos = tape[at + 3] as number;
      const valueEnd = tape[at + 4] as number;
      if (valueEnd >= 0) {
        // A named string, number or literal (checking it does not call the module: the tape stays).
        if (child !== undefined && !checkScalar(child, pos, valueEnd)) return false;
        continue;
      }
      // The last record: a value the module left to JS (a named object or array, or a key with a dot).
      if (child !== undefined) {
        if (!checkValue(child)) return false;
      } else if (!skipValue()) return false;
      next = pos;
    }
    if (end >= 0) {
      pos = end;
      break;
    }
    count = membersInMemory(next, textEnd, table, true, tableAt);
  }
  if (seen !== undefined) {
    for (const index of required) if (seen[index] !== 1) return false;
    return true;
  }
  return (seenBits & requiredBits) === requiredBits;
}

function skipWhitespaceFrom(i: number): number {
  while (i < textEnd) {
    const c = bytes[i] as number;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Steps over the object or array at `pos` (the module's skip); `false` when the text breaks first. */
function skipAfter(): boolean {
  const end = skipInMemory(pos, textEnd);
  if (end < 0) return false;
  pos = end;
  return true;
}

/** Steps over the value at `pos`; `false` when the text breaks first. */
function skipValue(): boolean {
  const c = bytes[pos] as number;
  if (c === 0x7b || c === 0x5b) return skipAfter();
  pos = scalarEnd(c, pos);
  return pos > 0;
}

/** The array at `pos`: its length and, with `items`, each element. */
function checkArray(node: Node): boolean {
  if (!node.arrays) return skipAfter();
  const { items, maxItems } = node;
  pos = skipWhitespaceFrom(pos + 1);
  let length = 0;
  if ((bytes[pos] as number) === 0x5d) pos++;
  else {
    for (;;) {
      if (++length > maxItems) return false;
      if (items !== undefined ? !checkValue(items) : !skipValue()) return false;
      pos = skipWhitespaceFrom(pos);
      const c = bytes[pos++] as number;
      if (c === 0x5d) break;
      if (c !== 0x2c) return false;
      pos = skipWhitespaceFrom(pos);
    }
  }
  return length >= node.minItems;
}
