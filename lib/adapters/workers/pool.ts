/**
 * Pools of function hosts (sandboxed child processes, or worker threads): per function a few warm workers (one
 * invocation at a time each), under an overall cap; a timeout kills the worker, running out of memory or
 * crashing kills it, a throw leaves it warm. A new version of a function gets new workers; the old ones finish
 * what they run and go.
 */
import { performance } from 'node:perf_hooks';
import { JunctionError } from '../../core/errors.ts';
import { type FunctionVersion, functionError, timeoutError, type WorkerState } from './function-worker.ts';
import type { WireContext } from './protocol.ts';

/** One host of one function version: a worker thread (FunctionWorker) or a child process (ProcessWorker). */
export interface PoolWorker {
  readonly fn: FunctionVersion;
  /** Settles once the function's module loaded (or did not). */
  readonly ready: Promise<void>;
  state: WorkerState;
  lastUsed: number;
  invoke(
    event: unknown,
    context: WireContext,
    remainingMs: number,
    timeoutMs: number,
  ): Promise<readonly unknown[]>;
  stop(reason?: JunctionError): void;
}

/** Starts a host for a version; it calls `onExit` once it is gone. */
export type StartWorker = (
  fn: FunctionVersion,
  log: (fn: string, line: string) => void,
  onExit: (worker: PoolWorker) => void,
) => PoolWorker;

export interface PoolOptions {
  /** Starts one host (a worker thread or a sandboxed process). */
  readonly start: StartWorker;
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
  /** Hosts that died on their own during a call (a sandboxed process that exited or was killed). */
  readonly crashes: number;
  /** The same, per deployed function. */
  readonly byFunction: Readonly<Record<string, FunctionStats>>;
}

/** Counters of one function since the pool first saw it (a redeploy keeps them, a delete drops them). */
export interface FunctionStats {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
  readonly invocations: number;
  readonly failures: number;
  readonly timeouts: number;
  readonly outOfMemory: number;
  readonly crashes: number;
}

interface Counters {
  invocations: number;
  failures: number;
  timeouts: number;
  outOfMemory: number;
  crashes: number;
}

interface Waiter {
  /** When it started waiting (performance.now()). */
  readonly since: number;
  readonly resolve: (worker: PoolWorker) => void;
  readonly reject: (error: JunctionError) => void;
}

interface Group {
  fn: FunctionVersion;
  readonly workers: Set<PoolWorker>;
  readonly waiters: Waiter[];
  readonly counts: Counters;
}

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #groups = new Map<string, Group>();
  #total = 0;
  #started = 0;
  readonly #totals: Counters = { invocations: 0, failures: 0, timeouts: 0, outOfMemory: 0, crashes: 0 };
  #closed = false;
  /** A function that gets the next free slot (a worker of another function stopped to make room for it). */
  #yieldTo: Group | undefined;
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
      const counts = { invocations: 0, failures: 0, timeouts: 0, outOfMemory: 0, crashes: 0 };
      this.#groups.set(fn.name, { fn, workers: new Set(), waiters: [], counts });
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
    const group = this.#groups.get(name);
    this.#totals.invocations++;
    if (group !== undefined) group.counts.invocations++;
    const limit = timeoutMs ?? group?.fn.timeoutMs ?? 0;
    let worker: PoolWorker | undefined;
    try {
      // The timeout counts the function's own run, as Lambda's does: starting a host (a sandboxed process takes a
      // few hundred ms on a busy machine) has the load timeout on top, so a cold start is not a timeout.
      worker = await this.#acquire(name, limit + (group?.fn.loadTimeoutMs ?? 0));
      return await worker.invoke(event, context, limit, limit);
    } catch (error) {
      this.#count(error, this.#totals);
      if (group !== undefined) this.#count(error, group.counts);
      throw error;
    } finally {
      if (worker !== undefined) this.#release(worker);
    }
  }

  /** Starts a worker for a version outside the pool, waits until it loaded, and stops it (deploy validation). */
  async probe(fn: FunctionVersion): Promise<void> {
    const worker = this.#options.start(fn, this.#options.log, () => {});
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
    const byFunction: Record<string, FunctionStats> = {};
    for (const [name, group] of this.#groups) {
      queued += group.waiters.length;
      let groupBusy = 0;
      for (const worker of group.workers) {
        if (worker.state === 'idle') idle++;
        else if (worker.state === 'busy') groupBusy++;
        else if (worker.state === 'starting') starting++;
      }
      busy += groupBusy;
      const workers = group.workers.size;
      byFunction[name] = { workers, busy: groupBusy, queued: group.waiters.length, ...group.counts };
    }
    return {
      workers: this.#total,
      idle,
      busy,
      starting,
      queued,
      started: this.#started,
      ...this.#totals,
      byFunction,
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

  #count(error: unknown, counts: Counters): void {
    const code = error instanceof JunctionError ? error.code : undefined;
    if (code === 'NotFound') return;
    if (code === 'FunctionTimeout') counts.timeouts++;
    else if (code === 'FunctionOutOfMemory') counts.outOfMemory++;
    else if (code === 'FunctionCrashed') counts.crashes++;
    else counts.failures++;
  }

  /** Waits for a ready worker of the function's current version, at most `timeoutMs`. */
  #acquire(name: string, timeoutMs: number): Promise<PoolWorker> {
    const group = this.#groups.get(name);
    if (group === undefined || this.#closed) {
      return Promise.reject(new JunctionError('NotFound', `function ${name} does not exist`));
    }
    return new Promise<PoolWorker>((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = group.waiters.indexOf(waiter);
        if (index === -1) return;
        group.waiters.splice(index, 1);
        reject(timeoutError(name, timeoutMs, 'queue'));
      }, timeoutMs);
      const waiter: Waiter = {
        since: performance.now(),
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

  #release(worker: PoolWorker): void {
    if (worker.state !== 'busy') return;
    const group = this.#groups.get(worker.fn.name);
    if (group === undefined || group.fn.version !== worker.fn.version) {
      worker.stop();
      return;
    }
    // At the overall cap, a function waiting with no worker at all gets this one's slot: no starvation.
    if (this.#total >= this.#options.maxWorkers) {
      const starved = this.#starved(group);
      if (starved !== undefined) {
        this.#yieldTo = starved;
        worker.stop();
        return;
      }
    }
    worker.state = 'idle';
    worker.lastUsed = performance.now();
    this.#pump();
  }

  /** The function other than `except` with calls waiting and no worker that has waited longest. */
  #starved(except: Group): Group | undefined {
    let found: Group | undefined;
    for (const group of this.#groups.values()) {
      const first = group.waiters[0];
      if (group === except || first === undefined || this.#census(group).alive > 0) continue;
      if (found === undefined || first.since < (found.waiters[0]?.since ?? 0)) found = group;
    }
    return found;
  }

  /** Hands idle workers to waiting invocations and starts workers where the caps allow. */
  #pump(): void {
    const first = this.#yieldTo;
    if (first !== undefined) {
      // The slot a worker gave up for a starved function goes to that function, once the worker is gone.
      if (this.#groups.get(first.fn.name) === first) this.#serve(first);
      if (
        this.#groups.get(first.fn.name) !== first ||
        first.waiters.length === 0 ||
        this.#census(first).alive > 0
      ) {
        this.#yieldTo = undefined;
      }
    }
    for (const group of this.#groups.values()) if (group.waiters.length > 0) this.#serve(group);
  }

  #serve(group: Group): void {
    while (group.waiters.length > 0) {
      const idle = this.#idleWorker(group);
      if (idle !== undefined) {
        idle.state = 'busy';
        group.waiters.shift()?.resolve(idle);
        continue;
      }
      const { starting, alive } = this.#census(group);
      if (starting >= group.waiters.length || alive >= this.#options.maxWorkersPerFunction) return;
      if (this.#total >= this.#options.maxWorkers) {
        this.#evictIdle();
        return;
      }
      this.#spawn(group);
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

  #idleWorker(group: Group): PoolWorker | undefined {
    for (const worker of group.workers) {
      if (worker.state === 'idle' && worker.fn.version === group.fn.version) return worker;
    }
    return undefined;
  }

  /** Stops the least recently used idle worker of a function nobody waits for, making room under the cap. */
  #evictIdle(): void {
    let oldest: PoolWorker | undefined;
    for (const group of this.#groups.values()) {
      if (group.waiters.length > 0) continue;
      for (const worker of group.workers) {
        if (worker.state === 'idle' && (oldest === undefined || worker.lastUsed < oldest.lastUsed))
          oldest = worker;
      }
    }
    oldest?.stop();
  }

  /** Starts a worker for the group; when the thread cannot even be created, the first waiting call fails. */
  #spawn(group: Group): void {
    let worker: PoolWorker;
    try {
      worker = this.#options.start(group.fn, this.#options.log, (gone) => {
        group.workers.delete(gone);
        this.#total--;
        this.#pump();
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new JunctionError(
        'FunctionError',
        `cannot start a worker for ${group.fn.name}: ${reason}`,
        {
          retriable: true,
        },
      );
      group.waiters.shift()?.reject(failure);
      return;
    }
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
