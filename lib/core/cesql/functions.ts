/**
 * The built-in CESQL functions (string, integer and casting), resolved by name and arity.
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md#36-built-in-functions
 */
import {
  type CesqlError,
  type CesqlType,
  type CesqlValue,
  castExplicit,
  INT32_MAX,
  INT32_MIN,
} from './values.ts';

/** `Any` parameters take the argument as it is (the casting functions). */
export type ParameterType = CesqlType | 'Any';

export interface CesqlFunction {
  readonly name: string;
  /** Fixed parameters; with `variadic` the last type repeats zero or more times after them. */
  readonly parameters: readonly ParameterType[];
  readonly variadic?: ParameterType;
  readonly returns: CesqlType;
  /** Arguments arrive cast to the parameter types. Records errors in `errors` and still returns a value. */
  readonly call: (args: readonly CesqlValue[], errors: CesqlError[]) => CesqlValue;
}

function functionError(errors: CesqlError[], name: string, message: string): void {
  errors.push({ kind: 'functionEvaluation', message: `${name}: ${message}` });
}

const codePoints = (value: CesqlValue): string[] => Array.from(value as string);

function left(args: readonly CesqlValue[], errors: CesqlError[]): CesqlValue {
  const [text, length] = args as [string, number];
  if (length < 0) {
    functionError(errors, 'LEFT', `the length must not be negative, received ${length}`);
    return text;
  }
  return codePoints(text).slice(0, length).join('');
}

function right(args: readonly CesqlValue[], errors: CesqlError[]): CesqlValue {
  const [text, length] = args as [string, number];
  if (length < 0) {
    functionError(errors, 'RIGHT', `the length must not be negative, received ${length}`);
    return text;
  }
  const chars = codePoints(text);
  return chars.slice(Math.max(0, chars.length - length)).join('');
}

/** MySQL-style SUBSTRING: 1-based, a negative position counts from the end, position 0 gives "". */
function substring(args: readonly CesqlValue[], errors: CesqlError[]): CesqlValue {
  const [text, position, length] = args as [string, number, number | undefined];
  const chars = codePoints(text);
  if (position === 0) return '';
  if (position > chars.length || -position > chars.length) {
    functionError(
      errors,
      'SUBSTRING',
      `the position ${position} is outside the string of length ${chars.length}`,
    );
    return '';
  }
  if (length !== undefined && length < 0) {
    functionError(errors, 'SUBSTRING', `the length must not be negative, received ${length}`);
    return '';
  }
  const start = position > 0 ? position - 1 : chars.length + position;
  return chars.slice(start, length === undefined ? undefined : start + length).join('');
}

function abs(args: readonly CesqlValue[], errors: CesqlError[]): CesqlValue {
  const value = args[0] as number;
  if (value === INT32_MIN) {
    errors.push({ kind: 'math', message: `ABS(${INT32_MIN}) is outside the 32-bit range` });
    return INT32_MAX;
  }
  return Math.abs(value);
}

const BUILT_INS: readonly CesqlFunction[] = [
  { name: 'LENGTH', parameters: ['String'], returns: 'Integer', call: ([text]) => codePoints(text!).length },
  { name: 'CONCAT', parameters: [], variadic: 'String', returns: 'String', call: (args) => args.join('') },
  {
    name: 'CONCAT_WS',
    parameters: ['String'],
    variadic: 'String',
    returns: 'String',
    call: ([separator, ...rest]) => rest.join(separator as string),
  },
  {
    name: 'LOWER',
    parameters: ['String'],
    returns: 'String',
    call: ([text]) => (text as string).toLowerCase(),
  },
  {
    name: 'UPPER',
    parameters: ['String'],
    returns: 'String',
    call: ([text]) => (text as string).toUpperCase(),
  },
  { name: 'TRIM', parameters: ['String'], returns: 'String', call: ([text]) => (text as string).trim() },
  { name: 'LEFT', parameters: ['String', 'Integer'], returns: 'String', call: left },
  { name: 'RIGHT', parameters: ['String', 'Integer'], returns: 'String', call: right },
  { name: 'SUBSTRING', parameters: ['String', 'Integer'], returns: 'String', call: substring },
  { name: 'SUBSTRING', parameters: ['String', 'Integer', 'Integer'], returns: 'String', call: substring },
  { name: 'ABS', parameters: ['Integer'], returns: 'Integer', call: abs },
  {
    name: 'INT',
    parameters: ['Any'],
    returns: 'Integer',
    call: ([v], errors) => castExplicit(v!, 'Integer', errors),
  },
  {
    name: 'BOOL',
    parameters: ['Any'],
    returns: 'Boolean',
    call: ([v], errors) => castExplicit(v!, 'Boolean', errors),
  },
  {
    name: 'STRING',
    parameters: ['Any'],
    returns: 'String',
    call: ([v], errors) => castExplicit(v!, 'String', errors),
  },
];

/** Built-in functions by upper-case name. */
export const builtInFunctions: ReadonlyMap<string, readonly CesqlFunction[]> = (() => {
  const map = new Map<string, CesqlFunction[]>();
  for (const fn of BUILT_INS) map.set(fn.name, [...(map.get(fn.name) ?? []), fn]);
  return map;
})();

/** The overload of `name` that takes `arity` arguments: an exact fixed arity first, else a variadic one. */
export function resolveFunction(
  functions: ReadonlyMap<string, readonly CesqlFunction[]>,
  name: string,
  arity: number,
): CesqlFunction | undefined {
  const overloads = functions.get(name);
  if (overloads === undefined) return undefined;
  return (
    overloads.find((fn) => fn.variadic === undefined && fn.parameters.length === arity) ??
    overloads.find((fn) => fn.variadic !== undefined && fn.parameters.length <= arity)
  );
}

/** The type expected for argument `index` of `fn`. */
export function parameterType(fn: CesqlFunction, index: number): ParameterType {
  return fn.parameters[index] ?? fn.variadic ?? 'Any';
}
