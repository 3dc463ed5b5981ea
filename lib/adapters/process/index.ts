/**
 * The process sandbox for user functions: each function runs in warm child processes of its own, under Node's
 * permission model, with an empty environment, a memory limit that covers off-heap memory, an unprivileged user
 * when the bus runs as root, and SIGKILL on timeout. See docs/security.md ("Functions").
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compileEntry, type FunctionVersion } from '../workers/function-worker.ts';
import type { StartWorker } from '../workers/pool.ts';
import { ProcessWorker } from './process-worker.ts';
import { Sandbox, type SandboxOptions } from './sandbox.ts';

export { crashedError, ProcessWorker } from './process-worker.ts';
export { Sandbox, type SandboxDescription, type SandboxOptions } from './sandbox.ts';

let childEntry: Promise<string> | undefined;

/** The child host (child.ts) bundled once per process; it is handed to `node -e`. */
export function loadChildEntry(): Promise<string> {
  childEntry ??= compileEntry(new URL('./child.ts', import.meta.url));
  return childEntry;
}

/** How a pool starts sandboxed processes, and what the sandbox enforces. */
export async function createProcessHosts(
  options: SandboxOptions = {},
): Promise<{ start: StartWorker; sandbox: Sandbox }> {
  const sandbox = new Sandbox(options);
  const entryCode = await loadChildEntry();
  const host = {
    sandbox,
    entryCode,
    code: (fn: FunctionVersion) => readFile(fileURLToPath(fn.url), 'utf8'),
  };
  return { sandbox, start: (fn, log, onExit) => new ProcessWorker(fn, host, log, onExit) };
}
