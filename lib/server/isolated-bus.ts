/**
 * A bus in a process of its own (`PUT /buses/{name}` with `"isolation": "process"`, issue #13): the deployment's
 * process starts a bus process for it, supervises it (a process that dies is started again, with a growing pause),
 * and hands it the bus's requests over a Unix socket in a private directory. The bus process opens the bus on the
 * same storage an in-process bus would (`<data dir>/buses/<name>`, or its Kafka topic), so a bus can move in and out
 * of its process by a `PUT`. Authentication stays at the front door: the request carries who calls, as data.
 *
 * What crosses the IPC channel besides: the bus's `bus` targets go through the deployment (which reaches the other
 * buses, in process or not), the list of buses the bus's rules may target, its trace entries and function lines for
 * the `junction dev` terminal, its rule count and its metrics, and the stop.
 */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BusSpec } from '../core/bus.ts';
import { parseEventJson, serializeEvent } from '../core/cloudevent.ts';
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { JunctionError } from '../core/errors.ts';
import type { BusInbox } from '../engine/bus-driver.ts';
import type { StopOptions, StopReport } from '../engine/dispatcher.ts';
import type { TraceEntry } from '../ports.ts';
import type { ApiRequest, ApiResponse } from './app.ts';
import type { BusListing, OpenedBus } from './buses.ts';
import type { EmbeddedOptions } from './embedded.ts';
import { statField } from './proc-stat.ts';

/** The deployment's options a bus process takes (the ones that can cross a process boundary). */
export type BusProcessOptions = Pick<
  EmbeddedOptions,
  | 'host'
  | 'partitions'
  | 'limits'
  | 'dedupWindowMs'
  | 'dedupMemoryKeys'
  | 'retentionMs'
  | 'pollMs'
  | 'leaseMs'
  | 'quota'
  | 'redriveLimit'
  | 'kafka'
  | 'httpTargets'
  | 'functionIsolation'
  | 'functionSandbox'
  | 'stopDeadlineMs'
  | 'otlpEndpoint'
  | 'otlpProtocol'
  | 'schemaDiscovery'
  | 'auth'
  | 'tls'
>;

/** What a bus process is started with. */
export interface BusProcessConfig {
  readonly spec: BusSpec;
  /** The deployment's data dir (the bus's is `<dataDir>/buses/<name>`). */
  readonly dataDir: string;
  readonly socketPath: string;
  /** The bus's log is its own Kafka topic (`<topic>.<name>`), not its SQLite log. */
  readonly kafkaLog: boolean;
  readonly options: BusProcessOptions;
  /** Send each trace entry to the deployment (it has an `onTrace`). */
  readonly traces: boolean;
  readonly buses: readonly BusListing[];
}

/** Messages from the deployment to a bus process. */
export type ToBusProcess =
  | { readonly kind: 'start'; readonly config: BusProcessConfig }
  | { readonly kind: 'buses'; readonly id: number; readonly buses: readonly BusListing[] }
  | { readonly kind: 'call'; readonly id: number; readonly op: 'rules' | 'metrics' }
  | { readonly kind: 'offer'; readonly id: number; readonly event: string }
  | {
      readonly kind: 'forwarded';
      readonly id: number;
      readonly refused?: ErrorData;
      readonly failed?: string;
    }
  | { readonly kind: 'stop'; readonly deadlineMs?: number };

/** Messages from a bus process to the deployment. */
export type FromBusProcess =
  | { readonly kind: 'ready'; readonly pid: number; readonly endpoint?: string }
  | { readonly kind: 'failed'; readonly error: ErrorData }
  | { readonly kind: 'reply'; readonly id: number; readonly value?: unknown; readonly failed?: string }
  | { readonly kind: 'forward'; readonly id: number; readonly bus: string; readonly event: string }
  | { readonly kind: 'trace'; readonly entries: readonly TraceEntry[] }
  | { readonly kind: 'log'; readonly lines: readonly FunctionLine[] }
  | { readonly kind: 'error'; readonly message: string }
  | { readonly kind: 'stopped'; readonly report: StopReport };

/** A line a function of the bus logged. */
export interface FunctionLine {
  readonly fn: string;
  readonly line: string;
}

/** A JunctionError as data. */
export interface ErrorData {
  readonly code: string;
  readonly message: string;
  readonly field?: string;
  readonly details?: Record<string, unknown>;
  /** Whether trying again may succeed (a bus not found while it is created or removed elsewhere). */
  readonly retriable?: boolean;
}

export function errorData(error: JunctionError): ErrorData {
  return {
    code: error.code,
    message: error.message,
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.details === undefined ? {} : { details: { ...error.details } }),
    ...(error.retriable ? { retriable: true } : {}),
  };
}

export function errorOfData(data: ErrorData): JunctionError {
  return new JunctionError(data.code as JunctionError['code'], data.message, {
    ...(data.field === undefined ? {} : { field: data.field }),
    ...(data.details === undefined ? {} : { details: data.details }),
    ...(data.retriable === true ? { retriable: true } : {}),
  });
}

/** The header that carries who calls (`ApiRequest.caller`, base64 JSON) to a bus process. */
export const CALLER_HEADER = 'x-junction-caller';

/** How long a request waits for a bus process that is starting again before it is answered 503. */
const WAIT_FOR_PROCESS_MS = 15_000;
/** Runs a command at a lower CPU priority (coreutils). */
const NICE = '/usr/bin/nice';
/** util-linux's `chrt`, which starts the bus process in Linux's `SCHED_IDLE` class (`nice: "idle"`). */
const CHRT = '/usr/bin/chrt';
/** A connection failure this soon before its bus process exits is the process dying. */
const DIED_WITHIN_MS = 2_000;
/** How long a bus process may take to open its bus. */
const START_TIMEOUT_MS = 120_000;
/** The pauses before starting a dead bus process again: from the first to the last, doubling. */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 30_000;
/** A process that ran this long before it died is started again after the first pause. */
const STEADY_MS = 60_000;
/** Hop-by-hop headers, not passed on by the proxy (RFC 9110 §7.6.1), and the ones node sets itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'content-length',
  'date',
]);

/** Where a bus process is, as `GET /buses/{name}` shows it. */
export interface BusProcessStatus {
  readonly state: 'starting' | 'running' | 'restarting' | 'stopped';
  readonly pid?: number;
  /** Times it was started again after it died. */
  readonly restarts: number;
  /** Its own endpoint's URL, when the bus has a `port`. */
  readonly endpoint?: string;
}

export interface IsolatedBusOptions {
  readonly spec: BusSpec;
  readonly config: Omit<BusProcessConfig, 'spec' | 'socketPath' | 'buses'>;
  /** The deployment's buses now (sent at each start). */
  readonly buses: () => readonly BusListing[];
  /** A `bus` target of this bus: the deployment offers the event to the bus it names. */
  readonly forward: (bus: string, event: CloudEvent) => Promise<JunctionError | undefined>;
  readonly onTrace?: (entries: readonly TraceEntry[], bus: string) => void;
  readonly functionLog?: (fn: string, line: string) => void;
  readonly onError: (error: unknown) => void;
  /** The bus process's entry module. @default ./bus-process-entry.ts */
  readonly entry?: string;
  /** util-linux's `chrt`, which moves the bus process into the idle class (`nice: "idle"`). @default /usr/bin/chrt */
  readonly chrt?: string;
}

/** Starts the bus's process and answers once it serves the bus (or rejects with why it could not). */
export async function openIsolatedBus(options: IsolatedBusOptions): Promise<OpenedBus> {
  const supervisor = new BusProcessSupervisor(options);
  try {
    await supervisor.start();
  } catch (error) {
    await supervisor.close({ deadlineMs: 2_000 });
    throw error;
  }
  return supervisor.opened();
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

class BusProcessSupervisor {
  readonly #o: IsolatedBusOptions;
  readonly #name: string;
  readonly #dir: string;
  readonly #socketPath: string;
  /** util-linux's `chrt` (`nice: "idle"`). */
  readonly #chrt: string;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });
  #child: ChildProcess | undefined;
  #state: BusProcessStatus['state'] = 'starting';
  #restarts = 0;
  #endpoint: string | undefined;
  #pause = RESTART_FIRST_MS;
  #startedAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Settles when the process now starting serves the bus. */
  #ready: Promise<void> = Promise.resolve();
  #nextId = 1;
  readonly #calls = new Map<number, Pending>();
  #stopped: ((report: StopReport) => void) | undefined;

  constructor(options: IsolatedBusOptions) {
    this.#o = options;
    this.#name = options.spec.name;
    // A short path (a socket's path is limited to ~107 bytes) in a directory only this user can enter.
    this.#dir = mkdtempSync(join(tmpdir(), 'junction-sock-'));
    this.#socketPath = join(this.#dir, 'bus.sock');
    this.#chrt = options.chrt ?? CHRT;
  }

  status(): BusProcessStatus {
    return {
      state: this.#state,
      ...(this.#child?.pid === undefined || this.#state !== 'running' ? {} : { pid: this.#child.pid }),
      restarts: this.#restarts,
      ...(this.#endpoint === undefined || this.#state !== 'running' ? {} : { endpoint: this.#endpoint }),
    };
  }

  start(): Promise<void> {
    const entry = this.#o.entry ?? new URL('./bus-process-entry.ts', import.meta.url).pathname;
    // A process that died leaves its socket behind.
    rmSync(this.#socketPath, { force: true });
    const nice = this.#o.spec.nice ?? 0;
    const tool = nice === 'idle' ? this.#chrt : NICE;
    if (nice !== 0 && !existsSync(tool)) {
      return Promise.reject(
        new JunctionError(
          'InvalidBus',
          `nice: ${JSON.stringify(nice)} needs ${tool} (${nice === 'idle' ? 'util-linux' : 'coreutils'}) on the deployment's machine`,
          { field: 'nice' },
        ),
      );
    }
    // A niceness through `nice`, so that every thread of the process has it from the start (Linux's is per thread, and
    // a thread inherits its creator's). `idle` starts at normal priority and moves once the process serves the bus: in
    // the idle class from the start, it would barely start while every core is busy (it weighs 3 against 1,024).
    const child = fork(entry, [], {
      ...(typeof nice === 'number' && nice !== 0
        ? {
            execPath: NICE,
            execArgv: ['-n', String(nice), process.execPath, '--disable-warning=ExperimentalWarning'],
          }
        : { execArgv: ['--disable-warning=ExperimentalWarning'] }),
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.#child = child;
    this.#startedAt = Date.now();
    this.#ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        settle(
          new JunctionError(
            'BufferUnavailable',
            `the process of bus ${this.#name} did not start within ${START_TIMEOUT_MS / 1000} s`,
            { retriable: true },
          ),
        );
        child.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      let settled = false;
      const settle = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.off('message', onStart);
        child.off('exit', onEarlyExit);
        child.off('error', onEarlyError);
        if (error === undefined) resolve();
        else reject(error);
      };
      const onStart = (message: FromBusProcess) => {
        if (message.kind === 'ready') {
          const serve = () => {
            if (settled) return; // it exited, or timed out, meanwhile
            this.#state = 'running';
            this.#endpoint = message.endpoint;
            settle();
          };
          if (nice !== 'idle' || child.pid === undefined) serve();
          else {
            child.off('message', onStart);
            idleClass(this.#chrt, child.pid, true, IDLE_MOVE_MS).then(serve, (error: Error) => {
              settle(
                new JunctionError(
                  'BufferUnavailable',
                  `the process of bus ${this.#name} could not be moved to the idle class: ${error.message}`,
                  { retriable: true },
                ),
              );
              child.kill('SIGKILL');
            });
          }
        } else if (message.kind === 'failed') settle(errorOfData(message.error));
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        settle(
          new JunctionError(
            'BufferUnavailable',
            `the process of bus ${this.#name} exited while starting (${signal ?? `code ${code}`})`,
            { retriable: true },
          ),
        );
      const onEarlyError = (error: Error) =>
        settle(
          new JunctionError(
            'BufferUnavailable',
            `the process of bus ${this.#name} cannot start: ${error.message}`,
            {
              retriable: true,
            },
          ),
        );
      child.on('message', onStart);
      child.once('exit', onEarlyExit);
      child.once('error', onEarlyError);
    });
    this.#ready.catch(() => undefined);
    child.on('message', (message: FromBusProcess) => this.#onMessage(message));
    child.once('exit', (code, signal) => this.#onExit(child, code, signal));
    child.on('error', (error) => this.#o.onError(error));
    const config: BusProcessConfig = {
      ...this.#o.config,
      spec: this.#o.spec,
      socketPath: this.#socketPath,
      buses: this.#o.buses(),
    };
    this.#send({ kind: 'start', config });
    return this.#ready;
  }

  #send(message: ToBusProcess): boolean {
    const child = this.#child;
    if (child === undefined || !child.connected) return false;
    try {
      child.send(message);
      return true;
    } catch (error) {
      this.#o.onError(error);
      return false;
    }
  }

  #onMessage(message: FromBusProcess): void {
    switch (message.kind) {
      case 'reply': {
        const call = this.#calls.get(message.id);
        if (call === undefined) return;
        this.#calls.delete(message.id);
        if (message.failed !== undefined) call.reject(new Error(message.failed));
        else call.resolve(message.value);
        return;
      }
      case 'forward':
        void this.#forward(message.id, message.bus, message.event);
        return;
      case 'trace':
        try {
          this.#o.onTrace?.(message.entries, this.#name);
        } catch (error) {
          this.#o.onError(error);
        }
        return;
      case 'log':
        for (const { fn, line } of message.lines) {
          try {
            if (this.#o.functionLog !== undefined) this.#o.functionLog(fn, line);
            else process.stderr.write(`[fn:${fn}] ${line}\n`);
          } catch {
            // A failing logger must not take the supervisor down.
          }
        }
        return;
      case 'error':
        this.#o.onError(new Error(`bus ${this.#name}: ${message.message}`));
        return;
      case 'stopped':
        this.#stopped?.(message.report);
        return;
      default:
        return;
    }
  }

  async #forward(id: number, bus: string, text: string): Promise<void> {
    let reply: ToBusProcess;
    try {
      const refused = await this.#o.forward(bus, parseEventJson(text));
      reply = { kind: 'forwarded', id, ...(refused === undefined ? {} : { refused: errorData(refused) }) };
    } catch (error) {
      reply = { kind: 'forwarded', id, failed: error instanceof Error ? error.message : String(error) };
    }
    this.#send(reply);
  }

  #onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (this.#child !== child) return;
    for (const call of this.#calls.values()) {
      call.reject(new Error(`the process of bus ${this.#name} exited`));
    }
    this.#calls.clear();
    if (this.#state === 'stopped') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'restarting';
    if (Date.now() - this.#startedAt >= STEADY_MS) this.#pause = RESTART_FIRST_MS;
    const pause = this.#pause;
    this.#pause = Math.min(RESTART_MAX_MS, this.#pause * 2);
    if (wasRunning) {
      this.#o.onError(
        new Error(
          `the process of bus ${this.#name} exited (${signal ?? `code ${code}`}); starting it again in ${pause} ms`,
        ),
      );
    }
    // Requests meanwhile wait for the next start (up to WAIT_FOR_PROCESS_MS).
    let restarted!: () => void;
    let failed!: (error: Error) => void;
    this.#ready = new Promise<void>((resolve, reject) => {
      restarted = resolve;
      failed = reject;
    });
    this.#ready.catch(() => undefined);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#state === 'stopped') return;
      this.#restarts += 1;
      this.start().then(restarted, (error: Error) => {
        failed(error);
        this.#o.onError(error);
      });
    }, pause);
  }

  /** Whether `child` exits (or has exited) within `ms` (when it does, the supervisor has seen it: its listener is first). */
  #exits(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        child.off('exit', done);
        resolve(false);
      }, ms);
      child.once('exit', done);
    });
  }

  /** Waits (bounded) for the process to serve the bus; 503 when it does not in time. */
  async #running(): Promise<void> {
    if (this.#state === 'running') return;
    if (this.#state === 'stopped') {
      throw new JunctionError('BufferUnavailable', `the bus ${this.#name} is shutting down`, {
        retriable: true,
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new JunctionError(
              'BufferUnavailable',
              `the process of bus ${this.#name} is starting again; try again shortly`,
              { retriable: true },
            ),
          ),
        WAIT_FOR_PROCESS_MS,
      );
    });
    try {
      await Promise.race([this.#ready, late]);
    } catch (error) {
      if (error instanceof JunctionError && error.code === 'BufferUnavailable') throw error;
      throw new JunctionError(
        'BufferUnavailable',
        `the process of bus ${this.#name} could not be started again (${(error as Error).message}); it is tried again shortly`,
        { retriable: true },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends the message `make` builds with a fresh id, and answers the process's reply to it. */
  #request(make: (id: number) => ToBusProcess): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      if (!this.#send(make(id))) {
        this.#calls.delete(id);
        reject(new Error(`the process of bus ${this.#name} is not reachable`));
      }
    });
  }

  async #call(op: 'rules' | 'metrics'): Promise<unknown> {
    await this.#running();
    return this.#request((id) => ({ kind: 'call', id, op }));
  }

  /** Sends the deployment's buses to the process and waits until it has them (at most 5 s). */
  async directoryChanged(buses: readonly BusListing[]): Promise<void> {
    if (this.#state !== 'running') return; // a start sends the list afresh
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 5_000);
    });
    await Promise.race([this.#request((id) => ({ kind: 'buses', id, buses })).catch(() => undefined), late]);
    clearTimeout(timer);
  }

  /** Passes the request to the bus process over its socket and answers what it answered (streamed on). */
  async app(request: ApiRequest): Promise<ApiResponse> {
    await this.#running();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || name === CALLER_HEADER || name === 'authorization')
        continue;
      headers[name] = value;
    }
    if (request.caller !== undefined) {
      headers[CALLER_HEADER] = Buffer.from(JSON.stringify(request.caller)).toString('base64');
    }
    headers['content-length'] = String(request.body.byteLength);
    const query = request.query.toString();
    const send = () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(
          {
            socketPath: this.#socketPath,
            agent: this.#agent,
            method: request.method,
            path: `${request.path}${query === '' ? '' : `?${query}`}`,
            headers,
          },
          resolve,
        );
        req.once('error', (error: NodeJS.ErrnoException) =>
          reject(Object.assign(error, { unsent: unsent(error, req.reusedSocket) })),
        );
        req.end(request.body);
      });
    let res: IncomingMessage | undefined;
    const child = this.#child;
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await send();
      } catch (error) {
        // The bus process died under the request: the next one gets it, once it runs (a publish the dead one took
        // and appended is a duplicate there, answered as such). A kept-alive connection it had just closed: again at
        // once. Anything else, or a third failure: 503.
        if (attempt >= 2) throw unreachable(this.#name, error);
        const notTaken = (error as { unsent?: boolean }).unsent === true;
        if (attempt === 0 && notTaken) continue;
        const died = child !== undefined && (await this.#exits(child, DIED_WITHIN_MS));
        if (!died && !notTaken) throw unreachable(this.#name, error);
        await this.#running();
      }
    }
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const status = res.statusCode ?? 502;
    if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      return {
        status,
        headers: out,
        body: '',
        stream: (signal) => streamOf(res, signal),
      };
    }
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch (error) {
      throw new JunctionError(
        'BufferUnavailable',
        `the process of bus ${this.#name} went away while answering (${(error as Error).message}); try again`,
        { retriable: true },
      );
    }
    return { status, headers: out, body: new Uint8Array(Buffer.concat(chunks)) };
  }

  inbox(): BusInbox {
    return {
      offer: async (event) => {
        await this.#running();
        const refused = (await this.#request((id) => ({
          kind: 'offer',
          id,
          event: serializeEvent(event),
        }))) as ErrorData | undefined;
        return refused === undefined ? undefined : errorOfData(refused);
      },
    };
  }

  opened(): OpenedBus {
    return {
      name: this.#name,
      app: (request) => this.app(request),
      inbox: this.inbox(),
      ruleCount: async () => Number(await this.#call('rules')),
      exposition: async () => String(await this.#call('metrics')),
      directoryChanged: (buses) => this.directoryChanged(buses),
      status: () => this.status(),
      close: (options) => this.close(options),
    };
  }

  async close(options: StopOptions = {}): Promise<StopReport> {
    const none: StopReport = { deadlineReached: false, interrupted: 0, returned: 0 };
    this.#state = 'stopped';
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    let report = none;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // An idle process stops at normal priority, not only when the cores are free. Leaving the idle class needs
      // privilege (root or RLIMIT_NICE): without it, it stops as it is, within the deadline, or is killed past it.
      if (this.#o.spec.nice === 'idle' && child.pid !== undefined)
        await idleClass(this.#chrt, child.pid, false, IDLE_LEAVE_MS).catch(() => undefined);
      const stopped = new Promise<StopReport>((resolve) => {
        this.#stopped = resolve;
      });
      if (
        this.#send({
          kind: 'stop',
          ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
        })
      ) {
        // The process stops its engine within the deadline; past it and a reserve, it is killed.
        const limit = (options.deadlineMs ?? 30_000) + 5_000;
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), limit);
        });
        const first = await Promise.race([stopped, exited.then(() => 'exited' as const), late]);
        if (typeof first === 'object') report = first;
        const end = await Promise.race([exited.then(() => 'exited' as const), late]);
        clearTimeout(timer);
        if (end === 'late') child.kill('SIGKILL');
      } else {
        child.kill('SIGKILL');
      }
      await exited;
    }
    this.#agent.destroy();
    rmSync(this.#dir, { recursive: true, force: true });
    return report;
  }
}

/** How often `idleClass` moves a process's threads before it gives up on one that a new thread keeps escaping. */
const IDLE_ATTEMPTS = 3;
/** How long moving a started bus process into the idle class may take, all attempts together. */
const IDLE_MOVE_MS = 30_000;
/** How long moving a stopping bus process out of the idle class may take before it is asked to stop as it is. */
const IDLE_LEAVE_MS = 5_000;

/**
 * Moves every thread of process `pid` into Linux's idle scheduling class (`SCHED_IDLE`), or back to the normal one,
 * through util-linux `chrt -a`; then reads each thread's policy (field 41 of /proc/PID/task/TID/stat) and moves again
 * if a thread started meanwhile escaped (a new thread inherits its creator's class). Gives up after `withinMs`.
 */
async function idleClass(chrt: string, pid: number, idle: boolean, withinMs: number): Promise<void> {
  const policy = idle ? SCHED_IDLE : SCHED_OTHER;
  const end = Date.now() + withinMs;
  const late = `chrt did not finish within ${withinMs} ms`;
  for (let attempt = 1; ; attempt++) {
    const left = end - Date.now();
    if (left <= 0) throw new Error(late);
    await new Promise<void>((resolve, reject) =>
      execFile(
        chrt,
        [idle ? '--idle' : '--other', '--all-tasks', '--pid', '0', String(pid)],
        { timeout: left, killSignal: 'SIGKILL' },
        (error, _out, err) =>
          error === null
            ? resolve()
            : reject(new Error(error.killed ? late : String(err).trim() || error.message)),
      ),
    );
    const astray = threadsOf(pid).filter((tid) => {
      const now = policyOf(pid, tid);
      return now !== undefined && now !== policy;
    });
    if (astray.length === 0) return;
    if (attempt >= IDLE_ATTEMPTS) throw new Error(`threads ${astray.join(', ')} kept their class`);
  }
}

const SCHED_OTHER = 0;
const SCHED_IDLE = 5;

function threadsOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return []; // it has exited
  }
}

/** A thread's scheduling policy, or undefined once it has exited. */
function policyOf(pid: number, tid: string): number | undefined {
  try {
    return statField(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'), 41);
  } catch {
    return undefined;
  }
}

/**
 * Whether a request that failed with `error` never reached the bus process: nothing listened on the socket, or a
 * kept-alive connection was found closed when the request went out on it (Node's advice: retry those).
 */
function unsent(error: NodeJS.ErrnoException, reusedSocket: boolean): boolean {
  return (
    error.code === 'ECONNREFUSED' ||
    error.code === 'ENOENT' ||
    (reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE'))
  );
}

function unreachable(name: string, error: unknown): JunctionError {
  return new JunctionError(
    'BufferUnavailable',
    `the process of bus ${name} could not be reached (${(error as Error).message}); try again shortly`,
    { retriable: true },
  );
}

async function* streamOf(res: IncomingMessage, signal: AbortSignal): AsyncIterable<string> {
  const stop = () => res.destroy();
  signal.addEventListener('abort', stop, { once: true });
  try {
    res.setEncoding('utf8');
    for await (const chunk of res) {
      if (signal.aborted) return;
      yield chunk as string;
    }
  } catch {
    // The bus process went away: the stream ends (a tail's client goes on from its last id).
  } finally {
    signal.removeEventListener('abort', stop);
    res.destroy();
  }
}

/** The value with what cannot cross to another process (functions, class instances) left out. */
export function cloneable<T>(value: T): T {
  if (value === null || typeof value !== 'object')
    return (typeof value === 'function' ? undefined : value) as T;
  if (ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map((v) => cloneable(v)) as T;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return undefined as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'function') continue;
    const copied = cloneable(v);
    if (copied !== undefined) out[key] = copied;
  }
  return out as T;
}
