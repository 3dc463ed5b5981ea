/**
 * The embedded FunctionRunner: user functions bundled with esbuild on deploy, stored durably in the data dir,
 * and run in pools of worker threads with a timeout and a heap limit per function.
 */
import { performance } from 'node:perf_hooks';
import type { CloudEvent } from '../../core/cloudevent-types.ts';
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
import { bundleFunction } from './bundle.ts';
import { type FunctionVersion, loadWorkerEntry, type PoolStats, WorkerPool } from './pool.ts';
import { FunctionStore, type StoredFunction, sha256 } from './store.ts';

export interface WorkerRunnerOptions {
  /** Deployed functions live in `<dataDir>/functions`. */
  readonly dataDir: string;
  /** Warm workers per function (each runs one invocation at a time). @default 2 */
  readonly maxWorkersPerFunction?: number;
  /** Workers across all functions; idle workers of other functions make room when it is reached. @default 16 */
  readonly maxWorkers?: number;
  /** An idle worker is stopped after this many ms without a call (the next call starts a new one). @default 300000 */
  readonly idleTimeoutMs?: number;
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

function versionOf(stored: StoredFunction): FunctionVersion {
  const { info } = stored;
  return {
    name: info.name,
    url: stored.url,
    version: `${info.sha256}@${info.updatedAt}`,
    timeoutMs: info.timeoutMs,
    memoryMb: info.memoryMb,
  };
}

/**
 * Creates the embedded FunctionRunner on a data dir; functions deployed before are served again.
 * A call's timeout (`context.timeoutMs`, else the function's) bounds the whole call, waiting for a free worker
 * included; `durationMs` of the result is the whole call too (queueing and a cold start included).
 */
export async function createWorkerRunner(options: WorkerRunnerOptions): Promise<WorkerRunner> {
  if (typeof options.dataDir !== 'string' || options.dataDir === '') {
    throw new JunctionError(
      'InvalidRequest',
      `dataDir must be a non-empty path; received ${JSON.stringify(options.dataDir)}`,
      {
        field: 'dataDir',
      },
    );
  }
  const perFunction = checkInteger(
    'maxWorkersPerFunction',
    options.maxWorkersPerFunction ?? 2,
    1,
    1024,
    'InvalidRequest',
  );
  const maxWorkers = checkInteger('maxWorkers', options.maxWorkers ?? 16, 1, 4096, 'InvalidRequest');
  const defaultTimeoutMs = checkInteger(
    'defaultTimeoutMs',
    options.defaultTimeoutMs ?? 10_000,
    TIMEOUT_RANGE.min,
    TIMEOUT_RANGE.max,
    'InvalidRequest',
  );
  const defaultMemoryMb = checkInteger(
    'defaultMemoryMb',
    options.defaultMemoryMb ?? 128,
    MEMORY_RANGE.min,
    MEMORY_RANGE.max,
    'InvalidRequest',
  );
  const maxSourceBytes = checkInteger(
    'maxSourceBytes',
    options.maxSourceBytes ?? 10 * 1024 * 1024,
    1,
    2 ** 31,
    'InvalidRequest',
  );
  const idleTimeoutMs = checkInteger(
    'idleTimeoutMs',
    options.idleTimeoutMs ?? 300_000,
    1,
    24 * 3_600_000,
    'InvalidRequest',
  );
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? defaultLogger;

  const store = await FunctionStore.open(options.dataDir);
  const entry = await loadWorkerEntry();
  const pool = new WorkerPool({
    entry,
    maxWorkersPerFunction: perFunction,
    maxWorkers,
    idleTimeoutMs,
    log: logger,
  });
  for (const stored of store.list()) pool.setVersion(versionOf(stored));
  const deploying = new Map<string, Promise<unknown>>();
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new JunctionError('Internal', 'the function runner is closed');
  }

  function resolveConfig(
    config: FunctionConfig | undefined,
    previous: FunctionInfo | undefined,
  ): FunctionConfig & {
    timeoutMs: number;
    memoryMb: number;
  } {
    if (config !== undefined && (typeof config !== 'object' || config === null)) {
      throw new JunctionError(
        'InvalidFunction',
        `config must be an object; received ${JSON.stringify(config)}`,
        {
          field: 'config',
        },
      );
    }
    const timeoutMs = config?.timeoutMs ?? previous?.timeoutMs ?? defaultTimeoutMs;
    const memoryMb = config?.memoryMb ?? previous?.memoryMb ?? defaultMemoryMb;
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

  async function deployNow(
    name: string,
    source: Uint8Array,
    config: FunctionConfig | undefined,
  ): Promise<FunctionInfo> {
    const { timeoutMs, memoryMb } = resolveConfig(config, store.get(name)?.info);
    const code = await bundleFunction(source, {
      name,
      ...(options.resolveDir ? { resolveDir: options.resolveDir } : {}),
    });
    const staged = await store.stage(name, code);
    const digest = sha256(code);
    try {
      await pool.probe({ name, url: staged.url, version: `probe:${digest}`, timeoutMs, memoryMb });
    } catch (error) {
      await store.discard(staged.path);
      throw asInvalidFunction(name, error);
    }
    assertOpen();
    const info: FunctionInfo = Object.freeze({
      name,
      size: Buffer.byteLength(code),
      sha256: digest,
      updatedAt: clock.now(),
      timeoutMs,
      memoryMb,
    });
    const stored = await store.commit(staged.path, info);
    pool.setVersion(versionOf(stored));
    return info;
  }

  const runner: WorkerRunner = {
    async deploy(name, source, config) {
      assertOpen();
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
      if (source.length > maxSourceBytes) {
        throw new JunctionError(
          'InvalidFunction',
          `source is ${source.length} bytes; at most ${maxSourceBytes} are allowed`,
          {
            field: 'source',
          },
        );
      }
      // Deploys of one name run one after another, so the last one called is the one that stays.
      const previous = deploying.get(name) ?? Promise.resolve();
      const next = previous.catch(() => {}).then(() => deployNow(name, source, config));
      deploying.set(name, next);
      try {
        return await next;
      } finally {
        if (deploying.get(name) === next) deploying.delete(name);
      }
    },

    async list() {
      return store.list().map((stored) => stored.info);
    },

    async get(name) {
      return store.get(name)?.info;
    },

    async delete(name) {
      assertOpen();
      await (deploying.get(name)?.catch(() => {}) ?? Promise.resolve());
      pool.remove(name);
      return store.delete(name);
    },

    async invoke(name: string, event: CloudEvent, context: InvocationContext): Promise<InvocationResult> {
      assertOpen();
      const stored = store.get(name);
      if (stored === undefined)
        throw new JunctionError('NotFound', `function ${name} does not exist`, { field: 'function' });
      const timeoutMs =
        context.timeoutMs === undefined
          ? stored.info.timeoutMs
          : checkInteger(
              'timeoutMs',
              context.timeoutMs,
              TIMEOUT_RANGE.min,
              TIMEOUT_RANGE.max,
              'InvalidRequest',
            );
      const started = performance.now();
      const returned = await pool.invoke(
        name,
        event,
        {
          functionName: name,
          rule: context.rule,
          target: context.target,
          idempotencyKey: context.idempotencyKey,
          attempt: context.attempt,
          possibleDuplicate: context.possibleDuplicate ?? false,
          deadline: clock.now() + timeoutMs,
        },
        context.timeoutMs === undefined ? undefined : timeoutMs,
      );
      return { returned, durationMs: performance.now() - started };
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(deploying.values());
      await pool.close();
    },

    stats() {
      return { functions: store.list().length, ...pool.stats() };
    },
  };
  return runner;
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
