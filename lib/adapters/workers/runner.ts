/**
 * The embedded FunctionRunner: user functions bundled with esbuild on deploy, stored durably in the data dir,
 * and run in pools of sandboxed child processes (the default) or worker threads, with a timeout and a memory
 * limit per function.
 */
import { performance } from 'node:perf_hooks';
import { JunctionError, toJunctionError } from '../../core/errors.ts';
import type {
  Clock,
  FunctionConfig,
  FunctionInfo,
  FunctionRunner,
  InvocationContext,
  InvocationResult,
} from '../../ports.ts';
import { systemClock } from '../../ports.ts';
import { createProcessHosts, type SandboxDescription, type SandboxOptions } from '../process/index.ts';
import { bundleFunction } from './bundle.ts';
import { type FunctionVersion, FunctionWorker, loadWorkerEntry } from './function-worker.ts';
import { type PoolStats, type StartWorker, WorkerPool } from './pool.ts';
import type { WireContext } from './protocol.ts';
import { FunctionStore, type StoredFunction, sha256 } from './store.ts';

export interface WorkerRunnerOptions {
  /** Deployed functions live in `<dataDir>/functions`. */
  readonly dataDir: string;
  /**
   * Where functions run. `process`: a sandboxed child process per warm instance (a security boundary, see
   * docs/security.md). `thread`: worker threads of the bus's process — faster to start, but NOT a boundary: a
   * function has every right the bus has. @default 'process'
   */
  readonly isolation?: 'process' | 'thread';
  /** How the process sandbox confines functions (user, network, memory overhead). */
  readonly sandbox?: SandboxOptions;
  /** Warm workers per function (each runs one invocation at a time). @default 2 */
  readonly maxWorkersPerFunction?: number;
  /** Workers across all functions; idle workers of other functions make room when it is reached. @default 16 */
  readonly maxWorkers?: number;
  /** An idle worker is stopped after this many ms without a call (the next call starts a new one). @default 300000 */
  readonly idleTimeoutMs?: number;
  /** How long loading a function's module may take (at deploy and on each cold start). @default 10000 */
  readonly loadTimeoutMs?: number;
  /** A function's timeout when its deploy set none. @default 10000 */
  readonly defaultTimeoutMs?: number;
  /** A function's heap limit (V8 old generation) when its deploy set none. @default 128 */
  readonly defaultMemoryMb?: number;
  /** Receives every line a function writes (console, context.log). @default `[fn:<name>] <line>` to stderr */
  readonly logger?: (fn: string, line: string) => void;
  /** Sets `updatedAt` and the deadline handed to functions. @default the system clock */
  readonly clock?: Clock;
  /** Where bare package imports of functions resolve from. @default the project root (its node_modules) */
  readonly resolveDir?: string;
  /** Largest accepted source (module or zip) in bytes. @default 10485760 (10 MiB) */
  readonly maxSourceBytes?: number;
}

export interface WorkerRunnerStats extends PoolStats {
  /** Deployed functions. */
  readonly functions: number;
  readonly isolation: 'process' | 'thread';
  /** What the process sandbox enforces (absent with `thread`). */
  readonly sandbox?: SandboxDescription;
}

export type WorkerRunner = FunctionRunner & { stats(): WorkerRunnerStats };

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const TIMEOUT_RANGE = { min: 1, max: 900_000 } as const;
const MEMORY_RANGE = { min: 8, max: 10_240 } as const;

function defaultLogger(fn: string, line: string): void {
  process.stderr.write(`[fn:${fn}] ${line}\n`);
}

function checkInteger(
  field: string,
  value: unknown,
  min: number,
  max: number,
  code: 'InvalidFunction' | 'InvalidRequest',
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new JunctionError(
      code,
      `${field} must be an integer from ${min} to ${max}; received ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  return value;
}

/** Checks a function name; answers it, or throws `InvalidFunction` naming the field `name`. */
export function validateFunctionName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new JunctionError(
      'InvalidFunction',
      `name must match ${NAME.source} (letters, digits, "-" and "_", at most 64, starting with a letter or digit); received ${JSON.stringify(name)}`,
      { field: 'name' },
    );
  }
  return name;
}

function versionOf(stored: StoredFunction, loadTimeoutMs: number): FunctionVersion {
  const { info } = stored;
  return {
    name: info.name,
    url: stored.url,
    version: `${info.sha256}@${info.updatedAt}`,
    timeoutMs: info.timeoutMs,
    memoryMb: info.memoryMb,
    loadTimeoutMs,
  };
}

interface ResolvedOptions {
  readonly dataDir: string;
  readonly maxWorkersPerFunction: number;
  readonly maxWorkers: number;
  readonly idleTimeoutMs: number;
  readonly loadTimeoutMs: number;
  readonly defaultTimeoutMs: number;
  readonly defaultMemoryMb: number;
  readonly maxSourceBytes: number;
  readonly logger: (fn: string, line: string) => void;
  readonly clock: Clock;
  readonly resolveDir: string | undefined;
  readonly isolation: 'process' | 'thread';
}

function resolveOptions(options: WorkerRunnerOptions): ResolvedOptions {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    const received = JSON.stringify(options.dataDir);
    throw new JunctionError('InvalidRequest', `dataDir must be a non-empty path; received ${received}`, {
      field: 'dataDir',
    });
  }
  const option = (field: keyof WorkerRunnerOptions, fallback: number, min: number, max: number): number =>
    checkInteger(field, options[field] ?? fallback, min, max, 'InvalidRequest');
  return {
    dataDir: options.dataDir,
    maxWorkersPerFunction: option('maxWorkersPerFunction', 2, 1, 1024),
    maxWorkers: option('maxWorkers', 16, 1, 4096),
    idleTimeoutMs: option('idleTimeoutMs', 300_000, 1, 24 * 3_600_000),
    loadTimeoutMs: option('loadTimeoutMs', 10_000, TIMEOUT_RANGE.min, TIMEOUT_RANGE.max),
    defaultTimeoutMs: option('defaultTimeoutMs', 10_000, TIMEOUT_RANGE.min, TIMEOUT_RANGE.max),
    defaultMemoryMb: option('defaultMemoryMb', 128, MEMORY_RANGE.min, MEMORY_RANGE.max),
    maxSourceBytes: option('maxSourceBytes', 10 * 1024 * 1024, 1, 2 ** 31),
    logger: options.logger ?? defaultLogger,
    clock: options.clock ?? systemClock,
    resolveDir: options.resolveDir,
    isolation: isolationOf(options.isolation),
  };
}

function isolationOf(value: unknown): 'process' | 'thread' {
  if (value === undefined || value === 'process' || value === 'thread') return value ?? 'process';
  throw new JunctionError(
    'InvalidRequest',
    `isolation must be "process" or "thread"; received ${JSON.stringify(value)}`,
    { field: 'isolation' },
  );
}

/** The hosts a pool starts: sandboxed processes, or worker threads. */
async function hostsFor(
  options: ResolvedOptions,
  sandbox: SandboxOptions | undefined,
): Promise<{ start: StartWorker; sandbox?: SandboxDescription }> {
  if (options.isolation === 'process') {
    const hosts = await createProcessHosts(sandbox);
    return { start: hosts.start, sandbox: hosts.sandbox.describe() };
  }
  const entry = await loadWorkerEntry();
  return { start: (fn, log, onExit) => new FunctionWorker(fn, entry, log, onExit) };
}

/**
 * Creates the embedded FunctionRunner on a data dir; functions deployed before are served again.
 * A call's timeout (`context.timeoutMs`, else the function's) bounds the whole call, waiting for a free worker
 * included; `durationMs` of the result is the whole call too (queueing and a cold start included).
 */
export async function createWorkerRunner(options: WorkerRunnerOptions): Promise<WorkerRunner> {
  const resolved = resolveOptions(options);
  const hosts = await hostsFor(resolved, options.sandbox);
  const store = await FunctionStore.open(resolved.dataDir);
  const pool = new WorkerPool({
    start: hosts.start,
    maxWorkersPerFunction: resolved.maxWorkersPerFunction,
    maxWorkers: resolved.maxWorkers,
    idleTimeoutMs: resolved.idleTimeoutMs,
    log: resolved.logger,
  });
  for (const stored of store.list()) pool.setVersion(versionOf(stored, resolved.loadTimeoutMs));
  return new WorkerFunctionRunner(resolved, store, pool, hosts.sandbox);
}

class WorkerFunctionRunner implements WorkerRunner {
  readonly #options: ResolvedOptions;
  readonly #store: FunctionStore;
  readonly #pool: WorkerPool;
  /** The last deploy of each name still running: deploys of one name run one after another. */
  readonly #deploying = new Map<string, Promise<unknown>>();
  readonly #sandbox: SandboxDescription | undefined;
  #closed = false;

  constructor(
    options: ResolvedOptions,
    store: FunctionStore,
    pool: WorkerPool,
    sandbox: SandboxDescription | undefined,
  ) {
    this.#options = options;
    this.#store = store;
    this.#pool = pool;
    this.#sandbox = sandbox;
  }

  async deploy(name: string, source: Uint8Array, config?: FunctionConfig): Promise<FunctionInfo> {
    this.#assertOpen();
    validateFunctionName(name);
    if (!(source instanceof Uint8Array)) {
      throw new JunctionError(
        'InvalidFunction',
        `source must be bytes (Uint8Array); received ${typeof source}`,
        {
          field: 'source',
        },
      );
    }
    const max = this.#options.maxSourceBytes;
    if (source.length > max) {
      throw new JunctionError(
        'InvalidFunction',
        `source is ${source.length} bytes; at most ${max} are allowed`,
        {
          field: 'source',
        },
      );
    }
    const previous = this.#deploying.get(name) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#deployNow(name, source, config));
    this.#deploying.set(name, next);
    try {
      return await next;
    } finally {
      if (this.#deploying.get(name) === next) this.#deploying.delete(name);
    }
  }

  async list(): Promise<FunctionInfo[]> {
    return this.#store.list().map((stored) => stored.info);
  }

  async get(name: string): Promise<FunctionInfo | undefined> {
    return this.#store.get(name)?.info;
  }

  async delete(name: string): Promise<boolean> {
    this.#assertOpen();
    await this.#deploying.get(name)?.catch(() => {});
    this.#pool.remove(name);
    return this.#store.delete(name);
  }

  async invoke(name: string, event: unknown, context: InvocationContext): Promise<InvocationResult> {
    this.#assertOpen();
    const stored = this.#store.get(name);
    if (stored === undefined) {
      throw new JunctionError('NotFound', `function ${name} does not exist`, { field: 'function' });
    }
    const override = context.timeoutMs;
    if (override !== undefined) {
      checkInteger('timeoutMs', override, TIMEOUT_RANGE.min, TIMEOUT_RANGE.max, 'InvalidRequest');
    }
    const timeoutMs = override ?? stored.info.timeoutMs;
    const started = performance.now();
    const wire: WireContext = {
      functionName: name,
      rule: context.rule,
      target: context.target,
      idempotencyKey: context.idempotencyKey,
      attempt: context.attempt,
      possibleDuplicate: context.possibleDuplicate ?? false,
      deadline: this.#options.clock.now() + timeoutMs,
      ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
      ...(context.tracestate === undefined ? {} : { tracestate: context.tracestate }),
    };
    const returned = await this.#pool.invoke(name, event, wire, override);
    return { returned, durationMs: performance.now() - started };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#deploying.values());
    await this.#pool.close();
  }

  stats(): WorkerRunnerStats {
    return {
      functions: this.#store.size,
      isolation: this.#options.isolation,
      ...(this.#sandbox === undefined ? {} : { sandbox: this.#sandbox }),
      ...this.#pool.stats(),
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new JunctionError('Internal', 'the function runner is closed');
  }

  /** A redeploy without config keeps the previous version's; out-of-range values name their field. */
  #resolveConfig(config: FunctionConfig | undefined, previous: FunctionInfo | undefined) {
    if (config !== undefined && (typeof config !== 'object' || config === null)) {
      throw new JunctionError(
        'InvalidFunction',
        `config must be an object; received ${JSON.stringify(config)}`,
        {
          field: 'config',
        },
      );
    }
    const timeoutMs = config?.timeoutMs ?? previous?.timeoutMs ?? this.#options.defaultTimeoutMs;
    const memoryMb = config?.memoryMb ?? previous?.memoryMb ?? this.#options.defaultMemoryMb;
    return {
      timeoutMs: checkInteger(
        'timeoutMs',
        timeoutMs,
        TIMEOUT_RANGE.min,
        TIMEOUT_RANGE.max,
        'InvalidFunction',
      ),
      memoryMb: checkInteger('memoryMb', memoryMb, MEMORY_RANGE.min, MEMORY_RANGE.max, 'InvalidFunction'),
    };
  }

  /** Bundles, stages, loads once in a probe worker, then commits and switches new calls to the new version. */
  async #deployNow(
    name: string,
    source: Uint8Array,
    config: FunctionConfig | undefined,
  ): Promise<FunctionInfo> {
    const { timeoutMs, memoryMb } = this.#resolveConfig(config, this.#store.get(name)?.info);
    const resolveDir = this.#options.resolveDir;
    const code = await bundleFunction(source, { name, ...(resolveDir === undefined ? {} : { resolveDir }) });
    const staged = await this.#store.stage(name, code);
    const digest = sha256(code);
    try {
      const loadTimeoutMs = this.#options.loadTimeoutMs;
      await this.#pool.probe({
        name,
        url: staged.url,
        version: `probe:${digest}`,
        timeoutMs,
        memoryMb,
        loadTimeoutMs,
      });
    } catch (error) {
      await this.#store.discard(staged.path);
      throw asInvalidFunction(name, error);
    }
    this.#assertOpen();
    const info: FunctionInfo = Object.freeze({
      name,
      size: Buffer.byteLength(code),
      sha256: digest,
      updatedAt: this.#options.clock.now(),
      timeoutMs,
      memoryMb,
    });
    const stored = await this.#store.commit(staged.path, info);
    this.#pool.setVersion(versionOf(stored, this.#options.loadTimeoutMs));
    return info;
  }
}

/** A module that loads badly at deploy is an invalid upload; anything else that went wrong is ours (Internal). */
function asInvalidFunction(name: string, error: unknown): JunctionError {
  if (!(error instanceof JunctionError)) return toJunctionError(error);
  if (error.code === 'InvalidFunction') return error;
  const reason =
    error.code === 'FunctionTimeout'
      ? error.message
      : error.code === 'FunctionOutOfMemory'
        ? `function ${name} ran out of memory while loading`
        : `function ${name} throws while loading: ${error.message.replace(`function ${name} failed: `, '')}`;
  return new JunctionError('InvalidFunction', reason, {
    field: 'source',
    ...(error.details ? { details: error.details } : {}),
  });
}
