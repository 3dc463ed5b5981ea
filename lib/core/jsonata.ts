/**
 * JSONata target input (`inputJsonata`): a target shapes the body it receives with a JSONata expression
 * (https://jsonata.org, the `jsonata` library), as EventBridge Pipes and Knative do.
 *
 * The expression is user code on the event path, so it runs bounded (docs/patterns.md, "JSONata"):
 * - time: at most `JSONATA_LIMITS.timeoutMs` of wall time per evaluation (jsonata's own `timeout` guard, checked at
 *   every step), and the evaluation hands the event loop back every `JSONATA_LIMITS.sliceMs` of work, so a long or
 *   endless expression neither blocks the bus nor runs forever;
 * - depth: at most `JSONATA_LIMITS.maxDepth` nested evaluation steps (jsonata's `stack` guard: runaway recursion);
 * - size: sequences of at most `JSONATA_LIMITS.maxSequence` items (jsonata's `sequence` guard), `$pad` widths and the
 *   result's JSON text of at most `JSONATA_LIMITS.maxResultChars` characters;
 * - regular expressions (`/…/`) are refused at validation: JavaScript's regex engine backtracks and one match cannot
 *   be interrupted; `$eval` (an expression parsed at run time) is not available.
 */
import jsonata from 'jsonata';
import { JunctionError } from './errors.ts';

export const JSONATA_LIMITS = Object.freeze({
  /** Longest expression, in characters. */
  maxExpressionLength: 8192,
  /** Wall time of one evaluation. */
  timeoutMs: 1000,
  /** Work between two hand-backs of the event loop. */
  sliceMs: 2,
  /** Nested evaluation steps. */
  maxDepth: 500,
  /** Items in one sequence (array). */
  maxSequence: 100_000,
  /** Characters of the result's JSON text (and of a `$pad` width). */
  maxResultChars: 256 * 1024,
});

/** What an expression may read besides the event: bound as `$junction`. */
export interface JsonataContext {
  readonly ruleName: string;
  readonly targetId: string;
  readonly ingestionTime?: string;
}

/** Evaluates the compiled expression on an event (as JSON); resolves to the body's JSON text. */
export type JsonataTransform = (input: unknown, context: JsonataContext) => Promise<string>;

interface JsonataFailure {
  readonly code?: string;
  readonly message?: string;
  readonly position?: number;
  readonly token?: string;
}

function invalid(path: string, message: string): never {
  throw new JunctionError('InvalidRule', `${path}: ${message}`, { path, field: path });
}

/** Walks the AST: true when it holds a regular expression literal. */
function hasRegex(node: unknown, depth = 0): boolean {
  if (depth > 10_000 || node === null || typeof node !== 'object') return false;
  if ((node as { type?: unknown }).type === 'regex') return true;
  for (const value of Object.values(node)) {
    if (Array.isArray(value)) {
      for (const item of value) if (hasRegex(item, depth + 1)) return true;
    } else if (typeof value === 'object' && hasRegex(value, depth + 1)) return true;
  }
  return false;
}

let sliceStart = Date.now();

/** Called by jsonata at each evaluation step: after `sliceMs` of work, waits for the event loop's next turn. */
function yieldSometimes(): Promise<void> | undefined {
  const now = Date.now();
  if (now - sliceStart < JSONATA_LIMITS.sliceMs) return undefined;
  return new Promise((resolve) =>
    setImmediate(() => {
      sliceStart = Date.now();
      resolve();
    }),
  );
}

/** The JSON text of a value, or undefined when it is longer than `max` characters (found without building it). */
function boundedJson(value: unknown, max: number): string | undefined {
  let budget = max;
  const seen = new Set<unknown>();
  const measure = (v: unknown): boolean => {
    if (typeof v === 'string') budget -= v.length + 2;
    else if (v === null || typeof v !== 'object') budget -= 24;
    else {
      if (seen.has(v)) return false;
      seen.add(v);
      if (Array.isArray(v)) {
        budget -= 2 + v.length;
        for (const item of v) if (budget < 0 || !measure(item)) return false;
      } else {
        for (const [k, item] of Object.entries(v)) {
          budget -= k.length + 4;
          if (budget < 0 || !measure(item)) return false;
        }
      }
      seen.delete(v);
    }
    return budget >= 0;
  };
  if (!measure(value)) return undefined;
  const text = JSON.stringify(value) ?? 'null';
  return text.length > max ? undefined : text;
}

/** Strips jsonata's internal markers (sequences are arrays with flags; functions have no JSON). */
function plain(value: unknown): unknown {
  return value === undefined ? null : value;
}

/**
 * Validates an `inputJsonata` expression once (at rule creation: a syntax error is `InvalidRule` with its position)
 * and returns its bounded evaluator. Errors name `path` (e.g. `targets[0].inputJsonata`).
 */
export function compileJsonata(expression: unknown, path = 'inputJsonata'): JsonataTransform {
  if (typeof expression !== 'string' || expression.trim().length === 0) {
    invalid(path, `a JSONata expression must be a non-empty string, received ${typeof expression}`);
  }
  if (expression.length > JSONATA_LIMITS.maxExpressionLength) {
    invalid(path, `the expression is longer than ${JSONATA_LIMITS.maxExpressionLength} characters`);
  }
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(expression, {
      timeout: JSONATA_LIMITS.timeoutMs,
      stack: JSONATA_LIMITS.maxDepth,
      sequence: JSONATA_LIMITS.maxSequence,
    });
  } catch (error) {
    const e = error as JsonataFailure;
    const at = typeof e.position === 'number' ? ` at position ${e.position}` : '';
    return invalid(path, `JSONata syntax error${at}: ${e.code ?? ''} ${e.message ?? String(error)}`.trim());
  }
  if (hasRegex(compiled.ast())) {
    invalid(
      path,
      'regular expressions (/…/) are not allowed in inputJsonata: a backtracking match cannot be bounded in time',
    );
  }
  compiled.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, yieldSometimes);
  // `$eval` parses an expression at run time: it could hold what validation refuses (a regular expression).
  compiled.registerFunction('eval', () => {
    throw { code: 'J0002', message: '$eval is not available in inputJsonata' };
  });
  compiled.registerFunction(
    'pad',
    (text: string | undefined, width: number, char?: string) => {
      if (text === undefined) return undefined;
      if (Math.abs(width) > JSONATA_LIMITS.maxResultChars) {
        throw { code: 'J0001', message: `$pad width above ${JSONATA_LIMITS.maxResultChars}` };
      }
      const fill = char === undefined || char.length === 0 ? ' ' : char;
      const missing = Math.abs(width) - [...text].length;
      if (missing <= 0) return text;
      const padding = fill.repeat(Math.ceil(missing / fill.length)).slice(0, missing);
      return width < 0 ? padding + text : text + padding;
    },
    '<s-ns?:s>',
  );
  return async (input, context) => {
    let result: unknown;
    try {
      result = await compiled.evaluate(input, { junction: { ...context } });
    } catch (error) {
      const e = error as JsonataFailure;
      const at = typeof e.position === 'number' ? ` at position ${e.position}` : '';
      const what = e.message ?? (error instanceof Error ? error.message : String(error));
      throw new JunctionError(
        'DeliveryFailed',
        `inputJsonata failed${at}: ${e.code === undefined ? '' : `${e.code} `}${what}`.slice(0, 500),
      );
    }
    if (typeof result === 'function') {
      throw new JunctionError('DeliveryFailed', 'inputJsonata returned a function, which has no JSON');
    }
    const text = boundedJson(plain(result), JSONATA_LIMITS.maxResultChars);
    if (text === undefined) {
      throw new JunctionError(
        'DeliveryFailed',
        `inputJsonata's result is longer than ${JSONATA_LIMITS.maxResultChars} characters of JSON`,
      );
    }
    return text;
  };
}
