/** The messages between the runner and its worker threads, and the context a user function receives. */

/** What a worker is started with (its `workerData`). */
export interface WorkerInit {
  /** The function's name, for messages. */
  readonly name: string;
  /** `file:` URL of the bundled module to import. */
  readonly url: string;
}

/** The invocation context as it crosses the thread boundary (the worker adds `log`). */
export interface WireContext {
  readonly functionName: string;
  readonly rule: string;
  readonly target: string;
  readonly idempotencyKey: string;
  readonly attempt: number;
  /** True when an earlier attempt may have completed without its outcome being recorded (after a crash). */
  readonly possibleDuplicate: boolean;
  /** When the runner stops the call, ms since the epoch (the runner's clock). */
  readonly deadline: number;
  /** The W3C `traceparent` of the delivery's span when tracing is on (start child spans from it). */
  readonly traceparent?: string;
  /** The trace's W3C `tracestate`, when it has one. */
  readonly tracestate?: string;
}

/** The second argument of a user function's `handler(event, context)`. */
export interface FunctionContext extends WireContext {
  /** Writes a line to the function's log (as `console.log` does). */
  log(...args: unknown[]): void;
}

/** Runner → sandboxed child process: the first message, the function to load (it reads no file). */
export interface ChildInit {
  readonly kind: 'init';
  readonly name: string;
  /** The bundled module's text. */
  readonly code: string;
  /** The environment the function is configured with (nothing of the bus's). */
  readonly env: Readonly<Record<string, string>>;
}

/** Runner → worker: run the handler once. */
export interface InvokeMessage {
  readonly id: number;
  readonly event: unknown;
  readonly context: WireContext;
}

/** What a failed handler left: message, error name and the first lines of its stack. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

/** Worker → runner. */
export type WorkerMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'log'; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | { readonly kind: 'load-error'; readonly reason: 'no-handler' | 'threw'; readonly error: WireError }
  | { readonly kind: 'result'; readonly id: number; readonly ok: true; readonly returned: readonly unknown[] }
  | {
      readonly kind: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: WireError;
      /** The handler failed for want of memory (an allocation the memory limit refused): the host is recycled. */
      readonly oom?: boolean;
    };
