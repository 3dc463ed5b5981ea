/**
 * One worker thread running one version of one user function: loads it, runs one call at a time, enforces the
 * call's timeout (terminate) and maps its deaths (heap limit, exit) to the runner's errors.
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { transform } from 'esbuild';
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
}

let workerEntry: Promise<URL> | undefined;

/**
 * The worker entry (worker.ts) compiled to JavaScript once per process and served from a `data:` URL, so no
 * worker loads Node's TypeScript stripper (it costs each cold start ~25 ms).
 */
export function loadWorkerEntry(): Promise<URL> {
  workerEntry ??= (async () => {
    const source = await readFile(new URL('./worker.ts', import.meta.url), 'utf8');
    const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node22' });
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

function outOfMemoryError(name: string, memoryMb: number): JunctionError {
  return new JunctionError(
    'FunctionOutOfMemory',
    `function ${name} ran out of memory (limit ${memoryMb} MB)`,
    {
      retriable: true,
      details: { memoryMb },
    },
  );
}

interface Call {
  readonly id: number;
  readonly resolve: (returned: readonly unknown[]) => void;
  readonly reject: (error: JunctionError) => void;
  readonly timer: NodeJS.Timeout;
}

export type WorkerState = 'starting' | 'idle' | 'busy' | 'stopping';

/** Splits a worker's output stream into lines for the logger. */
function pipeLines(stream: NodeJS.ReadableStream, emit: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) emit(line);
  });
  stream.on('end', () => {
    if (pending !== '') emit(pending);
    pending = '';
  });
}

/** One worker thread running one version of one function. */
export class FunctionWorker {
  readonly fn: FunctionVersion;
  readonly ready: Promise<void>;
  state: WorkerState = 'starting';
  lastUsed = 0;
  readonly #worker: Worker;
  readonly #onExit: (worker: FunctionWorker) => void;
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
    const init: WorkerInit = { name: fn.name, url: fn.url };
    this.#worker = new Worker(entry, {
      workerData: init,
      stdout: true,
      stderr: true,
      resourceLimits: {
        maxOldGenerationSizeMb: fn.memoryMb,
        maxYoungGenerationSizeMb: youngGenerationMb(fn.memoryMb),
      },
      name: `fn:${fn.name}`,
    });
    this.#worker.unref();
    const emit = (line: string): void => {
      try {
        log(fn.name, line);
      } catch {
        // A failing logger must not take the runner down.
      }
    };
    pipeLines(this.#worker.stdout, emit);
    pipeLines(this.#worker.stderr, emit);
    this.ready = this.#startup();
    this.ready.catch(() => {});
  }

  #startup(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(timeoutError(this.fn.name, this.fn.timeoutMs, 'load'));
        this.stop();
      }, this.fn.timeoutMs);
      const onMessage = (message: WorkerMessage): void => {
        clearTimeout(timer);
        this.#worker.off('exit', onEarlyExit);
        if (message.kind === 'ready') {
          this.#worker.on('message', (next: WorkerMessage) => this.#settle(next));
          resolve();
          return;
        }
        const error =
          message.kind === 'load-error' && message.reason === 'no-handler'
            ? new JunctionError('InvalidFunction', `function ${this.fn.name}: ${message.error.message}`, {
                field: 'source',
              })
            : functionError(
                this.fn.name,
                message.kind === 'load-error' ? message.error : { name: 'Error', message: 'bad start' },
              );
        reject(error);
        this.stop();
      };
      const onEarlyExit = (): void => {
        clearTimeout(timer);
        reject(
          this.#death ??
            functionError(this.fn.name, { name: 'Error', message: 'the worker exited while loading' }),
        );
      };
      this.#worker.once('message', onMessage);
      this.#worker.once('exit', onEarlyExit);
      this.#worker.on('error', (error: Error & { code?: string }) => {
        this.#death =
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? outOfMemoryError(this.fn.name, this.fn.memoryMb)
            : functionError(this.fn.name, {
                name: error.name,
                message: error.message,
                ...(error.stack ? { stack: error.stack } : {}),
              });
      });
      this.#worker.on('exit', (code) => {
        this.state = 'stopping';
        const call = this.#call;
        this.#call = undefined;
        if (call !== undefined) {
          clearTimeout(call.timer);
          call.reject(
            this.#death ??
              functionError(this.fn.name, { name: 'Error', message: `the worker exited with code ${code}` }),
          );
        }
        this.#onExit(this);
      });
    });
  }

  /** Runs the handler once; the worker must be idle and ready. */
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
        reject(
          new JunctionError(
            'FunctionError',
            `the event cannot be sent to function ${this.fn.name}: ${reason}`,
          ),
        );
      }
    });
  }

  #settle(message: WorkerMessage): void {
    const call = this.#call;
    if (message.kind !== 'result' || call === undefined || call.id !== message.id) return;
    this.#call = undefined;
    clearTimeout(call.timer);
    if (message.ok) call.resolve(message.returned);
    else call.reject(functionError(this.fn.name, message.error));
  }

  /** Terminates the thread; a busy call is rejected (through the exit handler) with `reason` when given. */
  stop(reason?: JunctionError): void {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    this.#death ??= reason;
    this.#worker.terminate().catch(() => {});
  }
}
