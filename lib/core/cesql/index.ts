/**
 * CloudEvents SQL (CESQL v1.0.0): compile a filter expression once, evaluate it against events many times.
 * Beyond the spec, `data.key.key` reads the JSON payload (a missing path behaves as a missing attribute).
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md
 */
import { JunctionError } from '../errors.ts';
import type { Node } from './ast.ts';
import { type CesqlEvent, evaluateNode } from './evaluator.ts';
import { builtInFunctions } from './functions.ts';
import { DEFAULT_MAX_DEPTH, parseCesql } from './parser.ts';
import { parseError } from './position.ts';
import type { CesqlError, CesqlValue } from './values.ts';

export type { CesqlEvent } from './evaluator.ts';
export type { SourcePosition } from './position.ts';
export type { CesqlError, CesqlErrorKind, CesqlType, CesqlValue } from './values.ts';

export interface CompileFilterOptions {
  /** Where the filter sits in the rule, for the error's `path`. @default 'filter' */
  readonly path?: string;
  /** The longest expression accepted, in UTF-8 bytes. @default 4096 */
  readonly maxBytes?: number;
  /** The deepest nesting accepted (parentheses, calls, unary and postfix operators). @default 64 */
  readonly maxDepth?: number;
}

export interface CesqlResult {
  /** The value; the zero value of the expression's type (`false`, `0`, `""`) where an error cut it short. */
  readonly value: CesqlValue;
  readonly errors: CesqlError[];
}

export interface CompiledFilter {
  readonly expression: string;
  /** The value of the expression for `event` (a CloudEvent in the JSON format's shape) and the errors met. */
  evaluate(event: CesqlEvent): CesqlResult;
  /** True iff the value is Boolean `true` and there was no error (the spec's rule for filters). */
  matches(event: CesqlEvent): boolean;
}

export const DEFAULT_MAX_FILTER_BYTES = 4096;

/** The offset of the first character that takes the UTF-8 length past `limit`, or -1 when it fits. */
function overflowOffset(text: string, limit: number): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    const isPair = code >= 0xd800 && code <= 0xdbff && i + 1 < text.length;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : isPair ? 4 : 3;
    if (bytes > limit) return i;
    if (isPair) i += 1;
  }
  return -1;
}

function compileNode(expression: unknown, options: CompileFilterOptions): Node {
  const path = options.path ?? 'filter';
  if (typeof expression !== 'string') {
    const received =
      expression === null ? 'null' : Array.isArray(expression) ? 'an array' : typeof expression;
    throw new JunctionError(
      'InvalidFilter',
      `${path} must be a CESQL expression string, received ${received}`,
      {
        path,
      },
    );
  }
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILTER_BYTES;
  const tooLongAt = overflowOffset(expression, maxBytes);
  if (tooLongAt >= 0) {
    throw parseError(
      expression,
      tooLongAt,
      `the expression is longer than the limit of ${maxBytes} bytes`,
      path,
    );
  }
  try {
    return parseCesql(expression, { maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH });
  } catch (error) {
    if (error instanceof JunctionError && path !== 'filter') {
      throw new JunctionError(error.code, error.message, { path, details: error.details });
    }
    throw error;
  }
}

/**
 * Parses a CESQL expression into a reusable filter.
 * @throws JunctionError `InvalidFilter` with `details.position` (`offset`, `line`, `column`) on a parse error,
 *   an expression over `maxBytes`, or nesting over `maxDepth`.
 */
export function compileFilter(expression: string, options: CompileFilterOptions = {}): CompiledFilter {
  const root = compileNode(expression, options);
  const evaluate = (event: CesqlEvent): CesqlResult => {
    const errors: CesqlError[] = [];
    const value = evaluateNode(root, { event, functions: builtInFunctions }, errors);
    return { value, errors };
  };
  return Object.freeze({
    expression,
    evaluate,
    matches: (event: CesqlEvent) => {
      const result = evaluate(event);
      return result.value === true && result.errors.length === 0;
    },
  });
}

/**
 * Evaluates an expression once, the way the TCK states results: a parse error is not thrown but returned as a
 * `parse` error with the value `false`.
 */
export function evaluateCesql(
  expression: string,
  event: CesqlEvent,
  options: CompileFilterOptions = {},
): CesqlResult {
  let filter: CompiledFilter;
  try {
    filter = compileFilter(expression, options);
  } catch (error) {
    if (error instanceof JunctionError && error.code === 'InvalidFilter') {
      return { value: false, errors: [{ kind: 'parse', message: error.message }] };
    }
    throw error;
  }
  return filter.evaluate(event);
}
