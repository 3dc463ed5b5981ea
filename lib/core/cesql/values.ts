/**
 * CESQL values, errors and casts: Boolean, 32-bit Integer and String, with the spec's implicit and explicit casts.
 * @see https://github.com/cloudevents/spec/blob/cesql%40v1.0.0/cesql/spec.md#37-type-casting
 */

export type CesqlValue = boolean | number | string;

export type CesqlType = 'Boolean' | 'Integer' | 'String';

/** The error kinds of the spec (section 3.8), named as the TCK names them. */
export type CesqlErrorKind =
  | 'parse'
  | 'math'
  | 'cast'
  | 'missingAttribute'
  | 'missingFunction'
  | 'functionEvaluation';

export interface CesqlError {
  readonly kind: CesqlErrorKind;
  readonly message: string;
}

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function zeroOf(type: CesqlType): CesqlValue {
  if (type === 'Integer') return 0;
  if (type === 'String') return '';
  return false;
}

export function typeOf(value: CesqlValue): CesqlType {
  if (typeof value === 'boolean') return 'Boolean';
  if (typeof value === 'number') return 'Integer';
  return 'String';
}

export function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
}

function show(value: CesqlValue): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function castError(value: CesqlValue, target: CesqlType, errors: CesqlError[]): CesqlValue {
  errors.push({ kind: 'cast', message: `cannot cast ${typeOf(value)} ${show(value)} to ${target}` });
  return zeroOf(target);
}

const DECIMAL = /^[+-]?[0-9]+$/;

function stringToInteger(value: string, errors: CesqlError[]): number {
  if (!DECIMAL.test(value)) return castError(value, 'Integer', errors) as number;
  const parsed = Number(value);
  if (!isInt32(parsed)) {
    errors.push({
      kind: 'cast',
      message: `cannot cast String ${show(value)} to Integer: outside the 32-bit range`,
    });
    return 0;
  }
  return parsed;
}

function stringToBoolean(value: string, errors: CesqlError[]): boolean {
  const lower = value.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  return castError(value, 'Boolean', errors) as boolean;
}

/**
 * The implicit cast operators apply to their operands. Integer to Boolean is not an implicit cast (the TCK's
 * `NOT 10` is a cast error); it is allowed through `BOOL()` only, see {@link castExplicit}.
 * A failed cast records a `cast` error and yields the zero value of `target`.
 */
export function castImplicit(value: CesqlValue, target: CesqlType, errors: CesqlError[]): CesqlValue {
  if (typeOf(value) === target) return value;
  switch (target) {
    case 'String':
      return String(value);
    case 'Integer':
      return typeof value === 'boolean' ? (value ? 1 : 0) : stringToInteger(value as string, errors);
    case 'Boolean':
      return typeof value === 'string' ? stringToBoolean(value, errors) : castError(value, target, errors);
  }
}

/** The casting functions `INT()`, `BOOL()`, `STRING()`: as the implicit casts, plus Integer to Boolean (0 is false). */
export function castExplicit(value: CesqlValue, target: CesqlType, errors: CesqlError[]): CesqlValue {
  if (target === 'Boolean' && typeof value === 'number') return value !== 0;
  return castImplicit(value, target, errors);
}

/**
 * An exact result as a 32-bit Integer. When it does not fit, records a `math` error and returns the result
 * wrapped to 32 bits (two's complement), as `wrapped` when the caller computed it exactly (`Math.imul`).
 */
export function toInt32(exact: number, operation: string, errors: CesqlError[], wrapped = exact | 0): number {
  if (isInt32(exact)) return exact === 0 ? 0 : exact;
  errors.push({
    kind: 'math',
    message: `integer overflow in ${operation}: the result is outside the 32-bit range`,
  });
  return wrapped;
}
