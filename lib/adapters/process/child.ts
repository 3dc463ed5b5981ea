/**
 * The sandboxed child process entry: receives one bundled user function over its IPC channel (it reads no file),
 * then runs its `handler` for each message. Bundled with ../workers/handler-call.ts and passed to `node -e`.
 */
import { createRequire } from 'node:module';
import {
  deepFreeze,
  EXPECTED,
  forwardOutput,
  type Handler,
  noHandlerMessage,
  pickHandler,
  shapeReturned,
  toWireError,
} from '../workers/handler-call.ts';
import type { ChildInit, FunctionContext, InvokeMessage, WorkerMessage } from '../workers/protocol.ts';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('child.ts must run with an IPC channel');
const post = (message: WorkerMessage): void => {
  send(message);
};

// Nothing of the bus's environment (spawn adds the IPC channel's variables): only the function's own.
for (const key of Object.keys(process.env)) delete process.env[key];
// The bus went away (or closed the channel): nothing is left to do.
process.on('disconnect', () => process.exit(0));
// Signals reach this process only: another function's sandbox (same user) or the bus cannot be signalled from JS.
// process.kill calls process._kill, which answers an errno: -1 is EPERM.
const ownPid = process.pid;
const internals = process as unknown as { _kill: (pid: number, signal: number) => number };
const rawKill = internals._kill.bind(process);
internals._kill = (pid, signal) => (pid === ownPid ? rawKill(pid, signal) : -1);

forwardOutput(post);
process.on('unhandledRejection', (reason) => {
  console.error(`unhandled rejection: ${toWireError(reason).stack ?? toWireError(reason).message}`);
});

/** An allocation the process's memory limit refused (off-heap: Buffers, typed arrays). */
function isOutOfMemory(error: unknown): boolean {
  return error instanceof RangeError && /allocation failed/i.test(error.message);
}

let handler: Handler | undefined;

async function load(init: ChildInit): Promise<void> {
  for (const [key, value] of Object.entries(init.env)) process.env[key] = value;
  // Bundles of CommonJS packages call require() for builtins; esbuild's shim finds it on globalThis.
  (globalThis as { require?: NodeJS.Require }).require = createRequire(`file:///functions/${init.name}.mjs`);
  try {
    const text = `${init.code}\n//# sourceURL=${init.name}.mjs\n`;
    const module = (await import(
      `data:text/javascript;base64,${Buffer.from(text).toString('base64')}`
    )) as Record<string, unknown>;
    handler = pickHandler(module);
    if (handler === undefined) {
      post({
        kind: 'load-error',
        reason: 'no-handler',
        error: { name: 'Error', message: noHandlerMessage(module) },
      });
      return;
    }
  } catch (error) {
    post({ kind: 'load-error', reason: 'threw', error: toWireError(error) });
    return;
  }
  post({ kind: 'ready' });
}

async function run(run: Handler, message: InvokeMessage): Promise<void> {
  const context: FunctionContext = Object.freeze({
    ...message.context,
    log: (...args: unknown[]) => console.log(...args),
  });
  let value: unknown;
  try {
    value = await run(deepFreeze(message.event), context);
  } catch (error) {
    const oom = isOutOfMemory(error);
    post({ kind: 'result', id: message.id, ok: false, error: toWireError(error), ...(oom ? { oom } : {}) });
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
    post({ kind: 'result', id: message.id, ok: false, error: { name: 'DataCloneError', message: problem } });
  }
}

process.on('message', (message: ChildInit | InvokeMessage) => {
  if ('kind' in message) {
    void load(message);
    return;
  }
  if (handler !== undefined) void run(handler, message);
});
