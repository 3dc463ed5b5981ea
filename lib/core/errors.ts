/** The one error hierarchy of Junction: stable string codes, the offending field, and whether a retry can help. */

/** Every code an error of Junction can carry. Codes are public: API responses and the CLI show them. */
export type ErrorCode =
  | 'InvalidEvent'
  | 'InvalidBatch'
  | 'InvalidJson'
  | 'InvalidPattern'
  | 'InvalidFilter'
  | 'InvalidRule'
  | 'InvalidFunction'
  | 'InvalidBus'
  | 'InvalidSchema'
  | 'SchemaViolation'
  | 'InvalidRequest'
  | 'NotFound'
  | 'Unauthorized'
  | 'Forbidden'
  | 'MisdirectedRequest'
  | 'Conflict'
  | 'ReplayExists'
  | 'IncompatibleSchema'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'MethodNotAllowed'
  | 'RateLimited'
  | 'BufferUnavailable'
  | 'FunctionError'
  | 'FunctionTimeout'
  | 'FunctionOutOfMemory'
  | 'FunctionCrashed'
  | 'DeliveryFailed'
  | 'Internal';

const STATUS: Record<ErrorCode, number> = {
  InvalidEvent: 400,
  InvalidBatch: 400,
  InvalidJson: 400,
  InvalidPattern: 400,
  InvalidFilter: 400,
  InvalidRule: 400,
  InvalidFunction: 400,
  InvalidBus: 400,
  InvalidSchema: 400,
  SchemaViolation: 400,
  InvalidRequest: 400,
  NotFound: 404,
  Unauthorized: 401,
  Forbidden: 403,
  MisdirectedRequest: 421,
  Conflict: 409,
  ReplayExists: 409,
  IncompatibleSchema: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  MethodNotAllowed: 405,
  RateLimited: 429,
  BufferUnavailable: 503,
  FunctionError: 500,
  FunctionTimeout: 504,
  FunctionOutOfMemory: 500,
  FunctionCrashed: 500,
  DeliveryFailed: 502,
  Internal: 500,
};

/** Every error code, in declaration order (docs/api.md documents each; test/docs/api.test.ts checks it). */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.keys(STATUS) as ErrorCode[]);

/** The HTTP status of an error code. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code];
}

export interface JunctionErrorOptions {
  /** The attribute or request field at fault, e.g. `source` or `data.total`. */
  readonly field?: string;
  /** A JSON path into a pattern or rule, e.g. `pattern.data.total[0]`. */
  readonly path?: string;
  /** Whether trying the same thing again may succeed. @default false */
  readonly retriable?: boolean;
  /** Extra machine-readable detail, serialized into API errors. */
  readonly details?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
  /**
   * Whether to capture where the error was made. An expected refusal made at a flood's rate (a quota's 429) says
   * `false`: its stack is never shown (API errors carry none) and capturing it was a tenth of a 429's cost. @default true
   */
  readonly stack?: boolean;
}

/** The base of every error Junction raises on purpose. */
export class JunctionError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly path: string | undefined;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: JunctionErrorOptions = {}) {
    const limit = Error.stackTraceLimit;
    if (options.stack === false) Error.stackTraceLimit = 0;
    try {
      super(message, options.cause === undefined ? undefined : { cause: options.cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'JunctionError';
    this.code = code;
    this.field = options.field;
    this.path = options.path;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return STATUS[this.code];
  }

  /** The `{"error": {...}}` body of the HTTP API. */
  toJSON(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.field !== undefined) error.field = this.field;
    if (this.path !== undefined) error.path = this.path;
    // Details add fields; they never replace the code, message, field or path.
    for (const [key, value] of Object.entries(this.details ?? {})) if (!(key in error)) error[key] = value;
    return { error };
  }
}

export function isJunctionError(value: unknown): value is JunctionError {
  return value instanceof JunctionError;
}

/** Wraps anything thrown into a JunctionError, keeping JunctionErrors as they are. */
export function toJunctionError(value: unknown): JunctionError {
  if (value instanceof JunctionError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new JunctionError('Internal', message, { cause: value });
}

export function invalidEvent(message: string, field?: string): JunctionError {
  return new JunctionError('InvalidEvent', message, field === undefined ? {} : { field });
}

export function invalidRequest(message: string, field?: string): JunctionError {
  return new JunctionError('InvalidRequest', message, field === undefined ? {} : { field });
}

export function notFound(what: string): JunctionError {
  return new JunctionError('NotFound', `${what} does not exist`);
}
