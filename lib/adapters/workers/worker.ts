/**
 * The worker-thread entry: imports one bundled user function and runs its `handler` for each message.
 * The runner loads this file type-stripped from a `data:` URL, so it may import only Node builtins (and types).
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type { FunctionContext, InvokeMessage, WireError, WorkerInit, WorkerMessage } from './protocol.ts';

type Handler = (event: unknown, context: FunctionContext) => unknown;

const STACK_LINES = 8;

function toWireError(value: unknown): WireError {
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

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/** A handler may answer nothing, one event object, or an array of event objects. */
function shapeReturned(value: unknown): { returned: unknown[] } | { problem: string } {
  if (value === undefined || value === null) return { returned: [] };
  if (Array.isArray(value)) {
    const index = value.findIndex((item) => typeof item !== 'object' || item === null || Array.isArray(item));
    if (index === -1) return { returned: value };
    return { problem: `handler returned an array whose item ${index} is ${describeValue(value[index])}` };
  }
  if (typeof value === 'object') return { returned: [value] };
  return { problem: `handler returned ${describeValue(value)}` };
}

const EXPECTED = '; expected nothing, an event object or an array of event objects';

function pickHandler(module: Record<string, unknown>): Handler | undefined {
  if (typeof module.handler === 'function') return module.handler as Handler;
  const fallback = module.default as { handler?: unknown } | undefined;
  if (typeof fallback === 'object' && fallback !== null && typeof fallback.handler === 'function') {
    return fallback.handler.bind(fallback) as Handler;
  }
  return undefined;
}

/**
 * Sends what the function writes to stdout/stderr (console included) as messages on the port results use, so
 * the runner logs a call's output before the call settles and keeps it when it kills the thread.
 */
function forwardOutput(post: (message: WorkerMessage) => void): void {
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

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker.ts must run in a worker thread');
  const post = (message: WorkerMessage): void => port.postMessage(message);
  const init = workerData as WorkerInit;

  forwardOutput(post);
  // Bundles of CommonJS packages call require() for builtins; esbuild's shim finds it on globalThis.
  (globalThis as { require?: NodeJS.Require }).require = createRequire(init.url);
  process.on('unhandledRejection', (reason) => {
    console.error(`unhandled rejection: ${toWireError(reason).stack ?? toWireError(reason).message}`);
  });

  let handler: Handler | undefined;
  try {
    const module = (await import(init.url)) as Record<string, unknown>;
    handler = pickHandler(module);
    if (handler === undefined) {
      const exported = Object.keys(module);
      const message = `the module exports no function "handler" (exports: ${exported.length === 0 ? 'none' : exported.join(', ')})`;
      post({ kind: 'load-error', reason: 'no-handler', error: { name: 'Error', message } });
      return;
    }
  } catch (error) {
    post({ kind: 'load-error', reason: 'threw', error: toWireError(error) });
    return;
  }
  const run = handler;

  port.on('message', async (message: InvokeMessage) => {
    const context: FunctionContext = Object.freeze({
      ...message.context,
      log: (...args: unknown[]) => console.log(...args),
    });
    let value: unknown;
    try {
      value = await run(deepFreeze(message.event), context);
    } catch (error) {
      post({ kind: 'result', id: message.id, ok: false, error: toWireError(error) });
      return;
    }
    const shaped = shapeReturned(value);
    if ('problem' in shaped) {
      const error = { name: 'TypeError', message: shaped.problem + EXPECTED };
      post({ kind: 'result', id: message.id, ok: false, error });
      return;
    }
    try {
      post({ kind: 'result', id: message.id, ok: true, returned: shaped.returned });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const problem = `handler returned a value that cannot be cloned back to the bus (${reason})`;
      post({
        kind: 'result',
        id: message.id,
        ok: false,
        error: { name: 'DataCloneError', message: problem },
      });
    }
  });
  post({ kind: 'ready' });
}

await main();
