/**
 * The worker-thread entry: imports one bundled user function and runs its `handler` for each message.
 * The runner loads it bundled (with handler-call.ts) from a `data:` URL: it may import only Node builtins and
 * builtin-only modules of this folder.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import {
  deepFreeze,
  EXPECTED,
  forwardOutput,
  type Handler,
  noHandlerMessage,
  pickHandler,
  shapeReturned,
  toWireError,
} from './handler-call.ts';
import type { FunctionContext, InvokeMessage, WorkerInit, WorkerMessage } from './protocol.ts';

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
      const message = noHandlerMessage(module);
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
