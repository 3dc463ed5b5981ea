/**
 * The CESQL evaluator. CESQL is total: every expression yields a value plus a list of errors. An operator whose
 * operand yielded an error returns its zero value at once (so `true AND 1 / 0 = 0` is false), while an operator's
 * own failure (a cast, a division by zero, a function error) is recorded and evaluation goes on with the zero
 * value the failure produced (so `NOT 10` is true with a cast error), as the TCK expects.
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md#4-implementation-suggestions
 */
import type { AttributeNode, BinaryNode, CallNode, InNode, LogicNode, Node } from './ast.ts';
import { type CesqlFunction, parameterType, resolveFunction } from './functions.ts';
import { matchLike } from './like.ts';
import {
  type CesqlError,
  type CesqlValue,
  castImplicit,
  isInt32,
  toInt32,
  typeOf,
  zeroOf,
} from './values.ts';

/** An event in the JSON format's shape: context attributes at the top level, the payload in `data`. */
export type CesqlEvent = Readonly<Record<string, unknown>>;

export interface EvaluationContext {
  readonly event: CesqlEvent;
  readonly functions: ReadonlyMap<string, readonly CesqlFunction[]>;
}

function readPath(event: CesqlEvent, node: AttributeNode): unknown {
  if (!Object.hasOwn(event, node.name)) return undefined;
  let value: unknown = event[node.name];
  for (const key of node.path ?? []) {
    if (Array.isArray(value)) {
      const index = /^[0-9]+$/.test(key) ? Number(key) : -1;
      value = index >= 0 && index < value.length ? value[index] : undefined;
    } else if (typeof value === 'object' && value !== null && Object.hasOwn(value, key)) {
      value = (value as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return value;
}

/**
 * An attribute or payload value as CESQL sees it: strings, booleans and 32-bit integers as they are; other numbers
 * as their decimal text; objects and arrays as their JSON text; `null` and absent values as missing.
 */
function toCesqlValue(value: unknown): CesqlValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return isInt32(value) ? value : String(value);
    case 'bigint':
      return String(value);
    case 'object':
      return value === null ? undefined : JSON.stringify(value);
    default:
      return undefined;
  }
}

function describeAttribute(node: AttributeNode): string {
  return node.path === undefined ? node.name : ['data', ...node.path].join('.');
}

function attribute(node: AttributeNode, context: EvaluationContext, errors: CesqlError[]): CesqlValue {
  const value = toCesqlValue(readPath(context.event, node));
  if (value !== undefined) return value;
  errors.push({ kind: 'missingAttribute', message: `the attribute ${describeAttribute(node)} is missing` });
  return false;
}

function exists(node: AttributeNode, context: EvaluationContext): boolean {
  const value = readPath(context.event, node);
  return value !== undefined && value !== null;
}

function arithmetic(operator: string, left: CesqlValue, right: CesqlValue, errors: CesqlError[]): number {
  const a = castImplicit(left, 'Integer', errors) as number;
  const b = castImplicit(right, 'Integer', errors) as number;
  switch (operator) {
    case '+':
      return toInt32(a + b, 'addition', errors);
    case '-':
      return toInt32(a - b, 'subtraction', errors);
    case '*':
      return toInt32(a * b, 'multiplication', errors, Math.imul(a, b));
    default: {
      if (b === 0) {
        errors.push({ kind: 'math', message: `${operator === '/' ? 'division' : 'modulo'} by zero` });
        return 0;
      }
      return operator === '/' ? toInt32(Math.trunc(a / b), 'division', errors) : (a % b) + 0;
    }
  }
}

function compare(operator: string, left: CesqlValue, right: CesqlValue, errors: CesqlError[]): boolean {
  if (operator === '=' || operator === '!=' || operator === '<>') {
    const equal = castImplicit(left, typeOf(right), errors) === right;
    return operator === '=' ? equal : !equal;
  }
  const a = castImplicit(left, 'Integer', errors) as number;
  const b = castImplicit(right, 'Integer', errors) as number;
  if (operator === '<') return a < b;
  if (operator === '<=') return a <= b;
  if (operator === '>') return a > b;
  return a >= b;
}

/** A left-associative chain: each link is a binary node whose left operand is the previous link. */
function binary(node: BinaryNode, context: EvaluationContext, errors: CesqlError[]): CesqlValue {
  const zero = node.level === 'comparison' ? false : 0;
  const start = errors.length;
  let accumulated = evaluateNode(node.operands[0]!, context, errors);
  if (errors.length > start) return zero;
  const last = node.operators.length - 1;
  for (let k = 0; k <= last; k += 1) {
    const before = errors.length;
    const right = evaluateNode(node.operands[k + 1]!, context, errors);
    if (errors.length > before) return zero;
    const operator = node.operators[k]!;
    accumulated =
      node.level === 'comparison'
        ? compare(operator, accumulated, right, errors)
        : arithmetic(operator, accumulated, right, errors);
    // An inner link that failed makes every enclosing link return its zero value.
    if (errors.length > before && k < last) return zero;
  }
  return accumulated;
}

/**
 * A right-associative chain `x0 op0 (x1 op1 (… xn))`, walked left to right without recursion. AND and OR
 * short-circuit; `negate` carries the XORs of the enclosing links whose left operand was true. When an inner link
 * fails its own cast, that link still runs to the end (collecting its errors) but the chain then yields false,
 * as the enclosing links would.
 */
function logic(node: LogicNode, context: EvaluationContext, errors: CesqlError[]): boolean {
  let negate = false;
  let doomed = false;
  const last = node.operators.length - 1;
  for (let i = 0; i <= last; i += 1) {
    const operator = node.operators[i]!;
    const left = operand(node.operands[i]!, context, errors);
    if (left === undefined) return false;
    if (left.castFailed && i > 0) doomed = true;
    if (operator === 'AND' && !left.value) return doomed ? false : negate;
    if (operator === 'OR' && left.value) return doomed ? false : !negate;
    if (i < last) {
      if (operator === 'XOR' && left.value) negate = !negate;
      continue;
    }
    const right = operand(node.operands[i + 1]!, context, errors);
    if (right === undefined || doomed || (right.castFailed && i > 0)) return false;
    const a = left.value;
    const b = right.value;
    const value = operator === 'AND' ? a && b : operator === 'OR' ? a || b : a !== b;
    return value !== negate;
  }
  return false;
}

/** A logic operand cast to Boolean, or `undefined` when evaluating it failed (the chain then yields false). */
function operand(
  node: Node,
  context: EvaluationContext,
  errors: CesqlError[],
): { value: boolean; castFailed: boolean } | undefined {
  const before = errors.length;
  const value = evaluateNode(node, context, errors);
  if (errors.length > before) return undefined;
  const boolean = castImplicit(value, 'Boolean', errors) as boolean;
  return { value: boolean, castFailed: errors.length > before };
}

function membership(node: InNode, context: EvaluationContext, errors: CesqlError[]): boolean {
  const before = errors.length;
  const value = evaluateNode(node.operand, context, errors);
  if (errors.length > before) return false;
  const type = typeOf(value);
  let found = false;
  for (const element of node.set) {
    const start = errors.length;
    const candidate = evaluateNode(element, context, errors);
    if (errors.length > start) return false;
    if (castImplicit(candidate, type, errors) === value) {
      found = true;
      break;
    }
  }
  return node.negated ? !found : found;
}

function call(node: CallNode, context: EvaluationContext, errors: CesqlError[]): CesqlValue {
  const fn = resolveFunction(context.functions, node.name, node.args.length);
  if (fn === undefined) {
    errors.push({
      kind: 'missingFunction',
      message: `no function ${node.name} takes ${node.args.length} argument(s)`,
    });
    return false;
  }
  const before = errors.length;
  const values: CesqlValue[] = [];
  for (const arg of node.args) {
    values.push(evaluateNode(arg, context, errors));
    if (errors.length > before) return zeroOf(fn.returns);
  }
  const args = values.map((value, index) => {
    const type = parameterType(fn, index);
    return type === 'Any' ? value : castImplicit(value, type, errors);
  });
  return fn.call(args, errors);
}

/** Evaluates one node, appending any errors to `errors`. Recursion is bounded by the parser's depth limit. */
export function evaluateNode(node: Node, context: EvaluationContext, errors: CesqlError[]): CesqlValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'attribute':
      return attribute(node, context, errors);
    case 'exists':
      return exists(node.attribute, context);
    case 'not': {
      const before = errors.length;
      const value = evaluateNode(node.operand, context, errors);
      if (errors.length > before) return false;
      return !castImplicit(value, 'Boolean', errors);
    }
    case 'negate': {
      const before = errors.length;
      const value = evaluateNode(node.operand, context, errors);
      if (errors.length > before) return 0;
      return toInt32(-(castImplicit(value, 'Integer', errors) as number), 'negation', errors);
    }
    case 'like': {
      const before = errors.length;
      const value = evaluateNode(node.operand, context, errors);
      if (errors.length > before) return false;
      const matched = matchLike(castImplicit(value, 'String', errors) as string, node.pattern);
      return node.negated ? !matched : matched;
    }
    case 'in':
      return membership(node, context, errors);
    case 'call':
      return call(node, context, errors);
    case 'logic':
      return logic(node, context, errors);
    case 'binary':
      return binary(node, context, errors);
  }
}
