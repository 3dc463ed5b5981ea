/**
 * One sandboxed child process running one version of one user function: loads it, runs one call at a time,
 * SIGKILLs it on timeout (which frees calls stuck in native code too) and maps its deaths — heap or data-segment
 * exhaustion, any other exit while busy (a crash) — to the runner's errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { JunctionError } from '../../core/errors.ts';
import {
  type Call,
  type FunctionVersion,
  functionError,
  LineSplitter,
  outOfMemoryError,
  type Startup,
  timeoutError,
  type WorkerState,
} from '../workers/function-worker.ts';
import type { ChildInit, InvokeMessage, WireContext, WorkerMessage } from '../workers/protocol.ts';
import type { Sandbox } from './sandbox.ts';

/** What a process that died of memory leaves on stderr (V8's fatal OOM, a refused allocation). */
const OUT_OF_MEMORY = /heap out of memory|allocation failed|out of memory/i;

export function crashedError(name: string, how: string): JunctionError {
  return new JunctionError('FunctionCrashed', `function ${name} crashed its process (${how})`, {
    retriable: true,
  });
}

/** What a process host needs: the sandbox, the child entry's code, and the function's bundle text. */
export interface ProcessHost {
  readonly sandbox: Sandbox;
  readonly entryCode: string;
  /** The bundle text of a version (read by the bus: the process reads no file). */
  readonly code: (fn: FunctionVersion) => Promise<string>;
}

export class ProcessWorker {
  readonly fn: FunctionVersion;
  readonly ready: Promise<void>;
  state: WorkerState = 'starting';
  lastUsed = 0;
  readonly #child: ChildProcess;
  readonly #onExit: (worker: ProcessWorker) => void;
  readonly #out: LineSplitter;
  readonly #err: LineSplitter;
  #startup: Startup | undefined;
  #call: Call | undefined;
  #nextId = 1;
  #death: JunctionError | undefined;
  #sawOutOfMemory = false;

  constructor(
    fn: FunctionVersion,
    host: ProcessHost,
    log: (fn: string, line: string) => void,
    onExit: (worker: ProcessWorker) => void,
  ) {
    this.fn = fn;
    this.#onExit = onExit;
    const emit = (line: string): void => {
      if (OUT_OF_MEMORY.test(line)) this.#sawOutOfMemory = true;
      try {
        log(fn.name, line);
      } catch {
        // A failing logger must not take the runner down.
      }
    };
    this.#out = new LineSplitter(emit);
    this.#err = new LineSplitter(emit);
    const { command, args } = host.sandbox.command(host.entryCode, fn.memoryMb);
    this.#child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      env: {},
      cwd: '/',
      // Its own session: a signal to its process group cannot reach the bus or other functions.
      detached: true,
    });
    this.#child.unref();
    this.#child.channel?.unref();
    this.#child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.#out.push(chunk));
    this.#child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.#err.push(chunk));
    this.#child.on('message', (message: WorkerMessage) => this.#onMessage(message));
    this.#child.on('error', (error) => {
      this.#death ??= crashedError(fn.name, `cannot start: ${error.message}`);
    });
    // 'close', not 'exit': every line of its stdio and every message it sent have arrived by then.
    this.#child.on('close', (code, signal) => this.#onExitEvent(code, signal));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#startup = undefined;
        reject(timeoutError(fn.name, fn.loadTimeoutMs, 'load'));
        this.stop();
      }, fn.loadTimeoutMs);
      this.#startup = { resolve, reject, timer };
    });
    this.ready.catch(() => {});
    host.code(fn).then(
      (code) => this.#send({ kind: 'init', name: fn.name, code, env: {} }),
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.#settleStartup(functionError(fn.name, { name: 'Error', message }));
        this.stop();
      },
    );
  }

  /** Runs the handler once (the process must be idle and ready); `timeoutMs` names the limit in the error. */
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
        this.#send(message);
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

  /** Kills the process (SIGKILL); a busy call is rejected (through the exit handler) with `reason` when given. */
  stop(reason?: JunctionError): void {
    if (this.state === 'stopping') return;
    this.state = 'stopping';
    this.#death ??= reason;
    this.#child.kill('SIGKILL');
  }

  /** The process id (tests). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  #send(message: ChildInit | InvokeMessage): void {
    if (!this.#child.connected) throw new Error('the process is gone');
    this.#child.send(message);
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
        if (message.ok) {
          call.resolve(message.returned);
        } else if (message.oom === true) {
          // A refused allocation may leave the process short of memory for good: it is not reused.
          call.reject(outOfMemoryError(this.fn.name, this.fn.memoryMb));
          this.stop();
        } else {
          call.reject(functionError(this.fn.name, message.error));
        }
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

  #onExitEvent(code: number | null, signal: NodeJS.Signals | null): void {
    const killedByUs = this.state === 'stopping';
    this.state = 'stopping';
    this.#out.flush();
    this.#err.flush();
    const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
    const death =
      this.#death ??
      (this.#sawOutOfMemory
        ? outOfMemoryError(this.fn.name, this.fn.memoryMb)
        : killedByUs
          ? functionError(this.fn.name, { name: 'Error', message: `the process was stopped (${how})` })
          : crashedError(this.fn.name, how));
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
