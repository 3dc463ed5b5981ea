/**
 * What both function hosts (the worker thread and the sandboxed child process) do around a user's handler: pick
 * it from the module, freeze the event, shape and check what it returned, and describe what it threw.
 * Imports only types and Node builtins: the hosts are bundled from it with esbuild.
 */
import type { FunctionContext, WireError, WorkerMessage } from './protocol.ts';

export type Handler = (event: unknown, context: FunctionContext) => unknown;

const STACK_LINES = 8;

export function toWireError(value: unknown): WireError {
  if (value instanceof Error) {
    const stack = value.stack?.split('\n').slice(0, STACK_LINES).join('\n');
    return stack === undefined
      ? { name: value.name, message: value.message }
      : { name: value.name, message: value.message, stack };
  }
  return { name: 'Error', message: `non-error thrown: ${describeValue(value)}` };
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 100))}`;
  if (typeof value === 'object' || typeof value === 'function') return `a ${typeof value}`;
  return `${typeof value} ${String(value)}`;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** A handler may answer nothing, one event object, or an array of event objects. */
export function shapeReturned(value: unknown): { returned: unknown[] } | { problem: string } {
  if (value === undefined || value === null) return { returned: [] };
  if (Array.isArray(value)) {
    const index = value.findIndex((item) => typeof item !== 'object' || item === null || Array.isArray(item));
    if (index === -1) return { returned: value };
    return { problem: `handler returned an array whose item ${index} is ${describeValue(value[index])}` };
  }
  if (typeof value === 'object') return { returned: [value] };
  return { problem: `handler returned ${describeValue(value)}` };
}

export const EXPECTED = '; expected nothing, an event object or an array of event objects';

export function pickHandler(module: Record<string, unknown>): Handler | undefined {
  if (typeof module.handler === 'function') return module.handler as Handler;
  const fallback = module.default as { handler?: unknown } | undefined;
  if (typeof fallback === 'object' && fallback !== null && typeof fallback.handler === 'function') {
    return fallback.handler.bind(fallback) as Handler;
  }
  return undefined;
}

/** The load error of a module that exports no handler. */
export function noHandlerMessage(module: Record<string, unknown>): string {
  const exported = Object.keys(module);
  return `the module exports no function "handler" (exports: ${exported.length === 0 ? 'none' : exported.join(', ')})`;
}

/**
 * Sends what the function writes to stdout/stderr (console included) as messages on the channel results use, so
 * the runner logs a call's output before the call settles and keeps it when it kills the host.
 */
export function forwardOutput(post: (message: WorkerMessage) => void): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const target = process[stream];
    target.write = ((chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      post({ kind: 'log', stream, text });
      const done = typeof encoding === 'function' ? encoding : callback;
      if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
      return true;
    }) as typeof target.write;
  }
}
