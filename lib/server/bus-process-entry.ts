/**
 * The entry of a bus process (`isolation: process`, see isolated-bus.ts): it waits for its config on the IPC channel,
 * opens its bus with `startBusProcess`, answers the deployment's calls, and stops when told to — or when the
 * deployment's process goes away (the channel closes). Signals from a terminal are the deployment's to act on: it
 * stops its bus processes itself, within its deadline.
 */
import type { BusSpec } from '../core/bus.ts';
import { parseEventJson, serializeEvent } from '../core/cloudevent.ts';
import { toJunctionError } from '../core/errors.ts';
import { inboxOf } from '../engine/bus-driver.ts';
import type { StopReport } from '../engine/dispatcher.ts';
import type { TraceEntry } from '../ports.ts';
import type { BusListing } from './buses.ts';
import { type BusProcess, startBusProcess } from './embedded.ts';
import {
  errorData,
  errorOfData,
  type FromBusProcess,
  type FunctionLine,
  type ToBusProcess,
} from './isolated-bus.ts';

const NONE: StopReport = { deadlineReached: false, interrupted: 0, returned: 0 };
/** How long the bus gets to stop when the deployment's process is gone without saying so. */
const ORPHAN_DEADLINE_MS = 5_000;

let bus: BusProcess | undefined;
let spec: BusSpec | undefined;
let buses: readonly BusListing[] = [];
let stopping = false;
let nextId = 1;
const forwards = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();

function send(message: FromBusProcess): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) {
      resolve();
      return;
    }
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function stop(deadlineMs: number | undefined): Promise<void> {
  if (stopping) return;
  stopping = true;
  let report = NONE;
  try {
    if (bus !== undefined) report = await bus.close(deadlineMs === undefined ? {} : { deadlineMs });
  } catch (error) {
    await send({ kind: 'error', message: `stopping: ${describe(error)}` });
  }
  flushTerminal();
  await send({ kind: 'stopped', report });
  process.exit(0);
}

async function start(message: Extract<ToBusProcess, { kind: 'start' }>): Promise<void> {
  spec = message.config.spec;
  buses = message.config.buses;
  try {
    bus = await startBusProcess(message.config, {
      buses: () => buses,
      offer: (name, event) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          forwards.set(id, { resolve: resolve as (value: unknown) => void, reject });
          void send({ kind: 'forward', id, bus: name, event: serializeEvent(event) });
        }),
      ...(message.config.traces ? { onTrace: (entries) => traced(entries) } : {}),
      functionLog: (fn, line) => {
        logged.push({ fn, line });
        queued();
      },
      onError: (error) => void send({ kind: 'error', message: describe(error) }),
    });
  } catch (error) {
    await send({ kind: 'failed', error: errorData(toJunctionError(error)) });
    process.exit(1);
  }
  if (stopping) return;
  await send({
    kind: 'ready',
    pid: process.pid,
    ...(bus.endpoint === undefined ? {} : { endpoint: bus.endpoint }),
  });
}

/**
 * The terminal's output — trace entries for the deployment's `onTrace` (the `junction dev` terminal) and the lines
 * functions log — sent together every FLUSH_MS: a message per write would cost the deployment's process an IPC
 * message per hop of every event of a busy bus, or per line of a function that logs per event — the very load the
 * bus process is there to keep off it.
 */
const FLUSH_MS = 100;
/** Past this many entries and lines waiting, they are sent at once. */
const FLUSH_BATCH = 5_000;
let traces: TraceEntry[] = [];
let logged: FunctionLine[] = [];
let flushTimer: NodeJS.Timeout | undefined;

function flushTerminal(): void {
  clearTimeout(flushTimer);
  flushTimer = undefined;
  if (traces.length > 0) {
    const entries = traces;
    traces = [];
    void send({ kind: 'trace', entries });
  }
  if (logged.length > 0) {
    const lines = logged;
    logged = [];
    void send({ kind: 'log', lines });
  }
}

function queued(): void {
  if (traces.length + logged.length >= FLUSH_BATCH) flushTerminal();
  else flushTimer ??= setTimeout(flushTerminal, FLUSH_MS);
}

function traced(entries: readonly TraceEntry[]): void {
  traces.push(...entries);
  queued();
}

async function answer(id: number, work: () => Promise<unknown>): Promise<void> {
  try {
    await send({ kind: 'reply', id, value: await work() });
  } catch (error) {
    await send({ kind: 'reply', id, failed: describe(error) });
  }
}

process.on('message', (message: ToBusProcess) => {
  switch (message.kind) {
    case 'start':
      void start(message);
      return;
    case 'buses':
      buses = message.buses;
      void send({ kind: 'reply', id: message.id });
      return;
    case 'call':
      void answer(message.id, async () => {
        if (bus === undefined) throw new Error(`the bus ${spec?.name ?? ''} is not open`);
        return message.op === 'rules' ? bus.ruleCount() : bus.exposition();
      });
      return;
    case 'offer':
      void answer(message.id, async () => {
        if (bus === undefined) throw new Error(`the bus ${spec?.name ?? ''} is not open`);
        const refused = await inboxOf(bus.junction).offer(parseEventJson(message.event));
        return refused === undefined ? undefined : errorData(refused);
      });
      return;
    case 'forwarded': {
      const pending = forwards.get(message.id);
      if (pending === undefined) return;
      forwards.delete(message.id);
      if (message.failed !== undefined) pending.reject(new Error(message.failed));
      else pending.resolve(message.refused === undefined ? undefined : errorOfData(message.refused));
      return;
    }
    case 'stop':
      void stop(message.deadlineMs);
      return;
  }
});

// The deployment's process went away (it crashed, or was killed): nothing will tell this one to stop.
process.on('disconnect', () => {
  for (const pending of forwards.values()) pending.reject(new Error('the deployment process is gone'));
  forwards.clear();
  void stop(ORPHAN_DEADLINE_MS);
});
// A terminal's Ctrl-C reaches the whole process group: the deployment stops this process in its own time.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
