/**
 * Checking events' `data` against a schema (issue #16) with ajv, a compiled JSON Schema validator: Ajv2020 for
 * 2020-12, Ajv for draft-07, the formats of ajv-formats. Pure computation, no I/O: a schema compiles to a function
 * once, and checking a value is linear in its size for the schemas `normalizeSchema` accepts.
 */
import {
  _,
  Ajv,
  type CodeKeywordDefinition,
  type ErrorObject,
  type KeywordCxt,
  type Options,
  str,
  type ValidateFunction,
} from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import ucs2lengthModule from 'ajv/dist/runtime/ucs2length.js';
import addFormatsModule from 'ajv-formats';
import { JunctionError } from './errors.ts';
import { analyzeRegex, type Dialect, MAX_PATTERN_BUDGET, MAX_PATTERN_INPUT } from './schema.ts';
import { compileTextCheck, type TextCheck, type TextWalk } from './schema-text.ts';

/** One value that failed its schema: where in the event, and which keyword it broke. */
export interface Violation {
  /** JSON pointer into the event, e.g. `/data/total`. */
  readonly pointer: string;
  /** The JSON Schema keyword it broke, e.g. `type`, `required`, `maxLength`. */
  readonly keyword: string;
  readonly message: string;
}

/** Most violations one event reports (the first ones, in the validator's order). */
export const MAX_VIOLATIONS = 20;

/**
 * Checks a value: the violations, none when it is valid. `validText`, for the schemas `compileTextCheck` reads: whether
 * the value's JSON text is certainly valid, without parsing it (`false`: not known — parse it and call the checker).
 */
export interface SchemaChecker {
  (data: unknown): Violation[];
  readonly validText?: TextCheck | undefined;
}

/** What quadratic patterns may still read in the check under way (reset before each one: checks are synchronous). */
let budget = MAX_PATTERN_BUDGET;

/**
 * The regular expressions of `pattern` and `patternProperties`. A linear one (`analyzeRegex` degree 1) runs as it is;
 * a quadratic one runs on strings of at most `MAX_PATTERN_INPUT` characters, and on at most `MAX_PATTERN_BUDGET`
 * characters of one event together: past either, the string fails the pattern unchecked.
 */
function boundedRegExp(
  pattern: string,
  flags: string,
): { test: (s: string) => boolean; toString: () => string } {
  const rx = new RegExp(pattern, flags);
  const linear = analyzeRegex(pattern).degree <= 1;
  return {
    test: linear
      ? (s: string) => rx.test(s)
      : (s: string) => {
          if (s.length > MAX_PATTERN_INPUT || s.length > budget) return false;
          budget -= s.length;
          return rx.test(s);
        },
    // ajv keys its compiled patterns by this text: distinct patterns must have distinct keys.
    toString: () => rx.toString(),
  };
}
boundedRegExp.code = 'boundedRegExp';

const addFormats = addFormatsModule as unknown as (ajv: Ajv, options: { mode: 'fast' | 'full' }) => Ajv;

const OPTIONS: Options = {
  allErrors: true,
  // Annotations such as x-* and OpenAPI's `example` are not errors; unknown formats are refused by normalizeSchema.
  strict: false,
  validateFormats: true,
  code: { regExp: boundedRegExp },
  // Nothing is fetched: a reference outside the schema is refused before compiling.
  loadSchema: undefined,
};

/** The names a plain object inherits (`constructor`, `toString`, `__proto__`, …). */
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Whether a schema names, anywhere (a key, or a string such as an entry of `required`), a property plain objects
 * inherit. Event data is parsed JSON, whose objects inherit `toString`, `constructor`…: a schema declaring such a
 * property must read only the data's own properties (ajv's `ownProperties`), or it refuses events that lack it and
 * `required: ["constructor"]` passes `{}` (found by the discovery property test). Other schemas are compiled without:
 * an object parsed from JSON has no other inherited property, so the checks agree, and `ownProperties` costs a
 * `hasOwnProperty` call per property checked (≈ 0.5 µs of a 20-property event's 1.8 µs, measured).
 */
function namesInherited(schema: unknown, depth = 0): boolean {
  if (typeof schema === 'string') return INHERITED.has(schema);
  if (typeof schema !== 'object' || schema === null) return false;
  // Schemas nest at most 32 levels (normalizeSchema): deeper than this, keep to the safe side.
  if (depth > 64) return true;
  if (Array.isArray(schema)) return schema.some((item) => namesInherited(item, depth + 1));
  for (const [key, value] of Object.entries(schema)) {
    if (INHERITED.has(key) || namesInherited(value, depth + 1)) return true;
  }
  return false;
}

/**
 * A string's length in code points, as JSON Schema counts it (a surrogate pair once, a lone surrogate once): ajv's
 * own counter, the one its `maxLength`/`minLength` call (a CommonJS module: its function is the `default` member).
 */
export const codePoints = ucs2lengthModule.default;

/**
 * `maxLength` and `minLength` as ajv's own (same errors, same order), but counting code points only when the UTF-16
 * length leaves the answer open: a string has at most `length` and at least `length / 2` code points. ajv counts every
 * string's code points, a loop over each character: ≈ 0.65 µs of the benchmark's 1.3 µs check (its 400-character
 * note), for strings that are ASCII all but always.
 */
const LIMIT_LENGTH: CodeKeywordDefinition = {
  keyword: ['maxLength', 'minLength'],
  type: 'string',
  schemaType: 'number',
  $data: true,
  before: 'pattern',
  error: {
    message: ({ keyword, schemaCode }) =>
      str`must NOT have ${keyword === 'maxLength' ? 'more' : 'fewer'} than ${schemaCode} characters`,
    params: ({ schemaCode }) => _`{limit: ${schemaCode}}`,
  },
  code(cxt: KeywordCxt) {
    const { keyword, data, schemaCode, gen } = cxt;
    const count = gen.scopeValue('func', { ref: codePoints });
    cxt.fail$data(
      keyword === 'maxLength'
        ? _`${data}.length > ${schemaCode} && ${count}(${data}) > ${schemaCode}`
        : _`${data}.length < ${schemaCode} || (${data}.length < 2 * ${schemaCode} && ${count}(${data}) < ${schemaCode})`,
    );
  },
};

function newAjv(dialect: Dialect, ownProperties: boolean): Ajv {
  const options = { ...OPTIONS, ownProperties };
  const ajv = dialect === '2020-12' ? new Ajv2020(options) : new Ajv(options);
  ajv.removeKeyword('maxLength').removeKeyword('minLength').addKeyword(LIMIT_LENGTH);
  // Fast mode checks a format's shape (a date-time's digits, an email's parts), not whether February 30 exists: the
  // full mode's checks cost more than the rest of a 20-property schema together (measured, test/bench/schemas.ts).
  addFormats(ajv, { mode: 'fast' });
  return ajv;
}

function violationOf(error: ErrorObject): Violation {
  let pointer = `/data${error.instancePath}`;
  if (error.keyword === 'required' && typeof error.params.missingProperty === 'string') {
    pointer = `${pointer}/${error.params.missingProperty.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  } else if (
    error.keyword === 'additionalProperties' &&
    typeof error.params.additionalProperty === 'string'
  ) {
    pointer = `${pointer}/${error.params.additionalProperty.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  }
  return { pointer, keyword: error.keyword, message: error.message ?? error.keyword };
}

/**
 * Compiles a normalized schema (`normalizeSchema`'s) into a checker. Throws `InvalidSchema` when ajv cannot compile
 * it (an unknown `$ref`, a keyword of the wrong shape), with ajv's reason. `walk` chooses the text check's walk (the
 * tests hold both to ajv).
 */
export function compileSchema(
  dialect: Dialect,
  schema: unknown,
  field = 'schema',
  walk: TextWalk = 'module',
): SchemaChecker {
  // A fresh instance per schema: `$id`s of different schemas (or versions) never clash.
  const ajv = newAjv(dialect, namesInherited(schema));
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as object | boolean);
  } catch (error) {
    throw new JunctionError(
      'InvalidSchema',
      `${field}: not a valid JSON Schema: ${(error as Error).message}`,
      {
        field,
      },
    );
  }
  // Never throws: a schema it does not read is left to ajv alone.
  const validText = compileTextCheck(schema, ajv.formats, walk);
  const check = (data: unknown): Violation[] => {
    budget = MAX_PATTERN_BUDGET;
    if (validate(data)) return [];
    return (validate.errors ?? []).slice(0, MAX_VIOLATIONS).map(violationOf);
  };
  return Object.assign(check, { validText });
}
