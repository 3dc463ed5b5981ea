/**
 * Worker-thread pools for user functions: per function a few warm workers (one invocation at a time each),
 * under an overall cap; a timeout terminates the worker, a heap overflow kills it, a throw leaves it warm.
 * A new version of a function gets new workers; the old ones finish what they run and go.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
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

export interface PoolOptions {
  /** The worker entry, from `loadWorkerEntry()`. */
  readonly entry: URL;
  readonly maxWorkersPerFunction: number;
  readonly maxWorkers: number;
  /** An idle worker is stopped after this many ms without a call. */
  readonly idleTimeoutMs: number;
  /** Receives each line a function writes to stdout or stderr. */
  readonly log: (fn: string, line: string) => void;
}

export interface PoolStats {
  /** Workers alive (starting, idle, busy or stopping). */
  readonly workers: number;
  readonly idle: number;
  readonly busy: number;
  readonly starting: number;
  /** Invocations waiting for a worker. */
  readonly queued: number;
  /** Workers started since the pool was created. */
  readonly started: number;
  readonly invocations: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly outOfMemory: number;
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

function functionError(name: string, error: WireError): JunctionError {
  return new JunctionError('FunctionError', `function ${name} failed: ${error.message}`, {
    retriable: true,
    details: {
      error: { name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) },
    },
  });
}

function timeoutError(name: string, timeoutMs: number, phase: 'run' | 'load' | 'queue'): JunctionError {
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

type WorkerState = 'starting' | 'idle' | 'busy' | 'stopping';

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

interface Waiter {
  readonly resolve: (worker: FunctionWorker) => void;
  readonly reject: (error: JunctionError) => void;
}

interface Group {
  fn: FunctionVersion;
  readonly workers: Set<FunctionWorker>;
  readonly waiters: Waiter[];
}

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #groups = new Map<string, Group>();
  #total = 0;
  #started = 0;
  #invocations = 0;
  #failures = 0;
  #timeouts = 0;
  #outOfMemory = 0;
  #closed = false;
  readonly #sweeper: NodeJS.Timeout;

  constructor(options: PoolOptions) {
    this.#options = options;
    const every = Math.max(50, Math.min(options.idleTimeoutMs / 2, 30_000));
    this.#sweeper = setInterval(() => this.#reapIdle(), every);
    this.#sweeper.unref();
  }

  /** Installs (or replaces) the version new invocations of a function use; idle workers of older versions go. */
  setVersion(fn: FunctionVersion): void {
    const group = this.#groups.get(fn.name);
    if (group === undefined) {
      this.#groups.set(fn.name, { fn, workers: new Set(), waiters: [] });
      return;
    }
    group.fn = fn;
    for (const worker of group.workers) if (worker.state === 'idle') worker.stop();
    this.#pump();
  }

  /** Stops a function's workers and rejects its waiting invocations. */
  remove(name: string, why: 'deleted' | 'stopped' = 'deleted'): void {
    const group = this.#groups.get(name);
    if (group === undefined) return;
    this.#groups.delete(name);
    for (const waiter of group.waiters.splice(0))
      waiter.reject(new JunctionError('NotFound', `function ${name} does not exist`));
    const reason = new JunctionError('FunctionError', `function ${name} was ${why} while it ran`, {
      retriable: true,
    });
    for (const worker of group.workers) worker.stop(reason);
  }

  /** Runs a function once in one of its workers. */
  async invoke(
    name: string,
    event: unknown,
    context: WireContext,
    timeoutMs?: number,
  ): Promise<readonly unknown[]> {
    this.#invocations++;
    const limit = timeoutMs ?? this.#groups.get(name)?.fn.timeoutMs ?? 0;
    const deadline = performance.now() + limit;
    let worker: FunctionWorker | undefined;
    try {
      worker = await this.#acquire(name, limit);
      return await worker.invoke(event, context, Math.max(1, deadline - performance.now()), limit);
    } catch (error) {
      this.#count(error);
      throw error;
    } finally {
      if (worker !== undefined) this.#release(worker);
    }
  }

  /** Starts a worker for a version outside the pool, waits until it loaded, and stops it (deploy validation). */
  async probe(fn: FunctionVersion): Promise<void> {
    const worker = new FunctionWorker(fn, this.#options.entry, this.#options.log, () => {});
    try {
      await worker.ready;
    } finally {
      worker.stop();
    }
  }

  stats(): PoolStats {
    let idle = 0;
    let busy = 0;
    let starting = 0;
    let queued = 0;
    for (const group of this.#groups.values()) {
      queued += group.waiters.length;
      for (const worker of group.workers) {
        if (worker.state === 'idle') idle++;
        else if (worker.state === 'busy') busy++;
        else if (worker.state === 'starting') starting++;
      }
    }
    return {
      workers: this.#total,
      idle,
      busy,
      starting,
      queued,
      started: this.#started,
      invocations: this.#invocations,
      failures: this.#failures,
      timeouts: this.#timeouts,
      outOfMemory: this.#outOfMemory,
    };
  }

  /** Terminates every worker and rejects waiting invocations. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const name of [...this.#groups.keys()]) {
      const group = this.#groups.get(name);
      for (const waiter of group?.waiters.splice(0) ?? []) {
        waiter.reject(new JunctionError('FunctionError', 'the function runner closed', { retriable: true }));
      }
      this.remove(name, 'stopped');
    }
    while (this.#total > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #count(error: unknown): void {
    const code = error instanceof JunctionError ? error.code : undefined;
    if (code === 'NotFound') return;
    if (code === 'FunctionTimeout') this.#timeouts++;
    else if (code === 'FunctionOutOfMemory') this.#outOfMemory++;
    else this.#failures++;
  }

  /** Waits for a ready worker of the function's current version, at most `timeoutMs`. */
  #acquire(name: string, timeoutMs: number): Promise<FunctionWorker> {
    const group = this.#groups.get(name);
    if (group === undefined || this.#closed) {
      return Promise.reject(new JunctionError('NotFound', `function ${name} does not exist`));
    }
    return new Promise<FunctionWorker>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = group.waiters.indexOf(waiter);
        if (index === -1) return;
        group.waiters.splice(index, 1);
        reject(timeoutError(name, timeoutMs, 'queue'));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: (worker) => {
          clearTimeout(timer);
          resolve(worker);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      group.waiters.push(waiter);
      this.#pump();
    });
  }

  #release(worker: FunctionWorker): void {
    if (worker.state !== 'busy') return;
    const group = this.#groups.get(worker.fn.name);
    if (group === undefined || group.fn.version !== worker.fn.version) {
      worker.stop();
      return;
    }
    worker.state = 'idle';
    worker.lastUsed = performance.now();
    this.#pump();
  }

  /** Hands idle workers to waiting invocations and starts workers where the caps allow. */
  #pump(): void {
    for (const group of this.#groups.values()) {
      while (group.waiters.length > 0) {
        const idle = this.#idleWorker(group);
        if (idle !== undefined) {
          idle.state = 'busy';
          group.waiters.shift()?.resolve(idle);
          continue;
        }
        const { starting, alive } = this.#census(group);
        if (starting >= group.waiters.length || alive >= this.#options.maxWorkersPerFunction) break;
        if (this.#total >= this.#options.maxWorkers) {
          this.#evictIdle();
          break;
        }
        this.#spawn(group);
      }
    }
  }

  #census(group: Group): { starting: number; alive: number } {
    let starting = 0;
    let alive = 0;
    for (const worker of group.workers) {
      if (worker.state === 'starting') starting++;
      if (worker.state !== 'stopping') alive++;
    }
    return { starting, alive };
  }

  #reapIdle(): void {
    const before = performance.now() - this.#options.idleTimeoutMs;
    for (const group of this.#groups.values()) {
      for (const worker of group.workers)
        if (worker.state === 'idle' && worker.lastUsed < before) worker.stop();
    }
  }

  #idleWorker(group: Group): FunctionWorker | undefined {
    for (const worker of group.workers) {
      if (worker.state === 'idle' && worker.fn.version === group.fn.version) return worker;
    }
    return undefined;
  }

  /** Stops the least recently used idle worker of any function, making room under the overall cap. */
  #evictIdle(): void {
    let oldest: FunctionWorker | undefined;
    for (const group of this.#groups.values()) {
      for (const worker of group.workers) {
        if (worker.state === 'idle' && (oldest === undefined || worker.lastUsed < oldest.lastUsed))
          oldest = worker;
      }
    }
    oldest?.stop();
  }

  #spawn(group: Group): void {
    const worker = new FunctionWorker(group.fn, this.#options.entry, this.#options.log, (gone) => {
      group.workers.delete(gone);
      this.#total--;
      this.#pump();
    });
    group.workers.add(worker);
    this.#total++;
    this.#started++;
    worker.ready.then(
      () => {
        if (worker.state !== 'starting') return;
        worker.state = 'idle';
        worker.lastUsed = performance.now();
        if (this.#groups.get(group.fn.name) !== group || group.fn.version !== worker.fn.version)
          worker.stop();
        this.#pump();
      },
      (error: unknown) => {
        const waiter = group.waiters.shift();
        waiter?.reject(
          error instanceof JunctionError
            ? error
            : functionError(group.fn.name, { name: 'Error', message: String(error) }),
        );
      },
    );
  }
}
