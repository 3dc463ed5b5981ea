/**
 * One worker thread running one version of one user function: loads it, runs one call at a time, enforces the
 * call's timeout (terminate) and maps its deaths (heap limit, exit) to the runner's errors.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { build } from 'esbuild';
import { JunctionError } from '../../core/errors.ts';
import type { InvokeMessage, WireContext, WireError, WorkerInit, WorkerMessage } from './protocol.ts';

/** One deployed version of a function, as the pool runs it. */
export interface FunctionVersion {
  readonly name: string;
  /** `file:` URL of the bundle. */
  readonly url: string;
  /** Changes on every deploy (the bundle's sha256 and time). */
  readonly version: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  /** How long loading the module (a cold start) may take; apart from the call's timeout, as Lambda's init. */
  readonly loadTimeoutMs: number;
}

let workerEntry: Promise<URL> | undefined;

/**
 * A host entry (a TypeScript module importing only builtins and builtin-only neighbours) bundled into one
 * JavaScript text, so that no host loads Node's TypeScript stripper (it costs each cold start ~25 ms).
 */
export async function compileEntry(entry: URL): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    write: false,
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined)
    throw new JunctionError('Internal', `esbuild produced no output for ${entry.href}`);
  return output.text;
}

/** The worker entry (worker.ts) compiled once per process and served from a `data:` URL. */
export function loadWorkerEntry(): Promise<URL> {
  workerEntry ??= (async () => {
    const code = await compileEntry(new URL('./worker.ts', import.meta.url));
    return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
  })();
  return workerEntry;
}

/** The young generation gets a slice of the function's memory (V8 sizes semi-spaces from it). */
function youngGenerationMb(memoryMb: number): number {
  return Math.max(2, Math.min(32, Math.floor(memoryMb / 8)));
}

export function functionError(name: string, error: WireError): JunctionError {
  return new JunctionError('FunctionError', `function ${name} failed: ${error.message}`, {
    retriable: true,
    details: {
      error: { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) },
    },
  });
}

export function timeoutError(
  name: string,
  timeoutMs: number,
  phase: 'run' | 'load' | 'queue',
): JunctionError {
  const what =
    phase === 'run'
      ? 'did not finish'
      : phase === 'load'
        ? 'did not load'
        : 'did not start (every worker of the function stayed busy)';
  return new JunctionError('FunctionTimeout', `function ${name} ${what} within ${timeoutMs} ms`, {
    retriable: true,
    details: { timeoutMs },
  });
}

export function outOfMemoryError(name: string, memoryMb: number): JunctionError {
  return new JunctionError(
    'FunctionOutOfMemory',
    `function ${name} ran out of memory (limit ${memoryMb} MB)`,
    {
      retriable: true,
      details: { memoryMb },
    },
  );
}

export interface Call {
  readonly id: number;
  readonly resolve: (returned: readonly unknown[]) => void;
  readonly reject: (error: JunctionError) => void;
  readonly timer: NodeJS.Timeout;
}

export type WorkerState = 'starting' | 'idle' | 'busy' | 'stopping';

/** Cuts text arriving in chunks into lines; `flush` hands over a last unterminated line. */
export class LineSplitter {
  readonly #emit: (line: string) => void;
  #pending = '';

  constructor(emit: (line: string) => void) {
    this.#emit = emit;
  }

  push(chunk: string): void {
    const lines = (this.#pending + chunk).split('\n');
    this.#pending = lines.pop() ?? '';
    for (const line of lines) this.#emit(line);
  }

  flush(): void {
    if (this.#pending !== '') this.#emit(this.#pending);
    this.#pending = '';
  }
}

export interface Startup {
  readonly resolve: () => void;
  readonly reject: (error: JunctionError) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One worker thread running one version of one function. Its console output comes as messages on the same port
 * as results, so every line a call printed is logged before the call settles, even when the thread is killed.
 */
export class FunctionWorker {
  readonly fn: FunctionVersion;
  readonly ready: Promise<void>;
  state: WorkerState = 'starting';
  lastUsed = 0;
  readonly #worker: Worker;
  readonly #onExit: (worker: FunctionWorker) => void;
  readonly #out: LineSplitter;
  readonly #err: LineSplitter;
  #startup: Startup | undefined;
  #call: Call | undefined;
  #nextId = 1;
  #death: JunctionError | undefined;

  constructor(
    fn: FunctionVersion,
    entry: URL,
    log: (fn: string, line: string) => void,
    onExit: (worker: FunctionWorker) => void,
  ) {
    this.fn = fn;
    this.#onExit = onExit;
    const emit = (line: string): void => {
      try {
        log(fn.name, line);
      } catch {
        // A failing logger must not take the runner down.
      }
    };
    this.#out = new LineSplitter(emit);
    this.#err = new LineSplitter(emit);
    const init: WorkerInit = { name: fn.name, url: fn.url };
    this.#worker = new Worker(entry, {
      workerData: init,
      // Output that bypasses process.stdout/stderr.write still reaches the logger, not the host's stdio.
      stdout: true,
      stderr: true,
      resourceLimits: {
        maxOldGenerationSizeMb: fn.memoryMb,
        maxYoungGenerationSizeMb: youngGenerationMb(fn.memoryMb),
      },
      name: `fn:${fn.name}`,
    });
    this.#worker.unref();
    this.#worker.stdout.setEncoding('utf8').on('data', (chunk: string) => this.#out.push(chunk));
    this.#worker.stderr.setEncoding('utf8').on('data', (chunk: string) => this.#err.push(chunk));
    this.#worker.on('message', (message: WorkerMessage) => this.#onMessage(message));
    this.#worker.on('error', (error: Error & { code?: string }) => this.#onError(error));
    this.#worker.on('exit', (code: number) => this.#onExitEvent(code));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#startup = undefined;
        reject(timeoutError(fn.name, fn.loadTimeoutMs, 'load'));
        this.stop();
      }, fn.loadTimeoutMs);
      this.#startup = { resolve, reject, timer };
    });
    this.ready.catch(() => {});
  }

  /** Runs the handler once (the worker must be idle and ready); `timeoutMs` names the limit in the error. */
  invoke(
    event: unknown,
    context: WireContext,
    remainingMs: number,
    timeoutMs: number,
  ): Promise<readonly unknown[]> {
    this.state = 'busy';
    const id = this.#nextId++;
    return new Promise<readonly unknown[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#call?.id !== id) return;
        this.#call = undefined;
        reject(timeoutError(this.fn.name, timeoutMs, 'run'));
        this.stop();
      }, remainingMs);
      this.#call = { id, resolve, reject, timer };
      const message: InvokeMessage = { id, event, context };
      try {
        this.#worker.postMessage(message);
      } catch (error) {
        this.#call = undefined;
        clearTimeout(timer);
        this.state = 'idle';
        const reason = error instanceof Error ? error.message : String(error);
        const text = `the event cannot be sent to function ${this.fn.name}: ${reason}`;
        reject(new JunctionError('FunctionError', text));
      }
    });
  }

  /** Terminates the thread; a busy call is rejected (through the exit handler) with `reason` when given. */
  stop(reason?: JunctionError): void {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    this.#death ??= reason;
    this.#worker.terminate().catch(() => {});
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.kind) {
      case 'log':
        (message.stream === 'stderr' ? this.#err : this.#out).push(message.text);
        return;
      case 'ready':
        this.#settleStartup();
        return;
      case 'load-error':
        this.#settleStartup(
          message.reason === 'no-handler'
            ? new JunctionError('InvalidFunction', `function ${this.fn.name}: ${message.error.message}`, {
                field: 'source',
              })
            : functionError(this.fn.name, message.error),
        );
        this.stop();
        return;
      case 'result': {
        const call = this.#call;
        if (call === undefined || call.id !== message.id) return;
        this.#call = undefined;
        clearTimeout(call.timer);
        if (message.ok) call.resolve(message.returned);
        else call.reject(functionError(this.fn.name, message.error));
        return;
      }
    }
  }

  #settleStartup(error?: JunctionError): void {
    const startup = this.#startup;
    if (startup === undefined) return;
    this.#startup = undefined;
    clearTimeout(startup.timer);
    if (error === undefined) startup.resolve();
    else startup.reject(error);
  }

  #onError(error: Error & { code?: string }): void {
    this.#death =
      error.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? outOfMemoryError(this.fn.name, this.fn.memoryMb)
        : functionError(this.fn.name, {
            name: error.name,
            message: error.message,
            ...(error.stack ? { stack: error.stack } : {}),
          });
  }

  #onExitEvent(code: number): void {
    this.state = 'stopping';
    this.#out.flush();
    this.#err.flush();
    const death =
      this.#death ??
      functionError(this.fn.name, { name: 'Error', message: `the worker exited with code ${code}` });
    this.#settleStartup(death);
    const call = this.#call;
    this.#call = undefined;
    if (call !== undefined) {
      clearTimeout(call.timer);
      call.reject(death);
    }
    this.#onExit(this);
  }
}
