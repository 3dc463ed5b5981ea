import { Worker } from 'node:worker_threads';

/**
 * The threads that checkpoint SQLite databases off the event loop, shared by every database of the process.
 *
 * A thread per database cost each bus a V8 isolate (≈ 8 MB of memory, idle garbage collection, a thread): 100 idle
 * buses in one `junction dev` took 1.03 GB, 111 threads and a quarter of a core doing nothing (docs/architecture.md).
 * Here a checkpoint goes to an idle thread — preferably one that already has a connection to its database, opening
 * one otherwise — and a new thread starts only when every thread is at work, up to `MAX_THREADS`. So a checkpoint
 * never queues behind another database's while a thread is idle, and a process whose checkpoints seldom overlap (any
 * number of quiet buses) keeps one thread. Only with `MAX_THREADS` checkpoints under way does the next one wait, on
 * the thread with the fewest in flight.
 */

/** Checkpoint threads at most, however many databases are open. */
export const MAX_THREADS = 4;

/** What a database hears from the checkpoint threads. */
export interface CheckpointListener {
  /** A checkpoint asked for has run; `log` is the number of frames in the WAL (0 when it failed). */
  done(log: number): void;
  /** A checkpoint asked for could not run (a connection did not open, or its thread died): none will from now on. */
  lost(): void;
}

/** A database's place among the checkpoint threads. */
export interface CheckpointLane {
  /** Asks for a PASSIVE checkpoint (one at a time); the listener's `done` or `lost` answers. */
  checkpoint(): void;
  /** Keeps the process alive (writes wait for an answer) until as many `release` calls. */
  hold(): void;
  release(): void;
  /** Closes the database's connections on the threads and waits until they are closed (5 s at most). */
  close(): void;
}

interface Thread {
  readonly worker: Worker;
  /** Checkpoints sent to it and not answered yet. */
  busy: number;
  /** The databases it has a connection to. */
  readonly connected: Set<Member>;
  /** Held by `stallCheckpointThreads` (tests). */
  stalled: boolean;
}

interface Member {
  readonly id: number;
  readonly listener: CheckpointListener;
  /** Connections the threads have to it, or will have once an `open` sent is read (shared memory). */
  readonly open: Int32Array;
  /** The thread running its checkpoint, if one runs. */
  running: Thread | undefined;
}

const threads: Thread[] = [];
const members = new Map<number, Member>();
let nextId = 1;
/** Lanes holding the process alive: while any does, every thread is ref'd. */
let held = 0;

/** The live checkpoint threads: for each, its checkpoints in flight and its connections (tests, diagnostics). */
export function checkpointThreads(): Array<{ busy: number; connections: number }> {
  return threads.map((t) => ({ busy: t.busy, connections: t.connected.size }));
}

/**
 * @internal Makes every live checkpoint thread not stalled already wait until `release()`, as if each ran a long
 * checkpoint (tests). Answers once each of them is waiting.
 */
export async function stallCheckpointThreads(): Promise<{ release(): void }> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const stalled = threads.filter((t) => !t.stalled);
  const waiting = stalled.map(
    (t) =>
      new Promise<void>((resolve) => {
        t.stalled = true;
        t.busy += 1;
        const ack = (message: { stalled?: boolean }) => {
          if (message.stalled !== true) return;
          t.worker.off('message', ack);
          if (held === 0) t.worker.unref();
          resolve();
        };
        t.worker.on('message', ack);
        t.worker.ref(); // Until it answers: nothing else may keep the process alive meanwhile.
        t.worker.postMessage({ op: 'stall', flag: flag.buffer });
      }),
  );
  await Promise.all(waiting);
  return {
    release() {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      for (const t of stalled) {
        t.stalled = false;
        t.busy -= 1;
      }
    },
  };
}

/** Gives the database at `path` a place among the checkpoint threads (none starts before its first checkpoint). */
export function joinCheckpointer(
  path: string,
  busyTimeoutMs: number,
  listener: CheckpointListener,
): CheckpointLane {
  const member: Member = {
    id: nextId++,
    listener,
    open: new Int32Array(new SharedArrayBuffer(4)),
    running: undefined,
  };
  members.set(member.id, member);
  let holding = 0;
  let closed = false;
  return {
    checkpoint() {
      if (closed || member.running !== undefined) return;
      const thread = pickThread(member);
      if (thread === undefined) {
        queueMicrotask(() => listener.lost());
        return;
      }
      if (!thread.connected.has(member)) {
        thread.connected.add(member);
        Atomics.add(member.open, 0, 1);
        thread.worker.postMessage({
          op: 'open',
          id: member.id,
          path,
          busyTimeoutMs,
          open: member.open.buffer,
        });
      }
      member.running = thread;
      thread.busy += 1;
      thread.worker.postMessage({ op: 'checkpoint', id: member.id });
    },
    hold() {
      if (closed) return;
      holding += 1;
      if (held++ === 0) for (const t of threads) t.worker.ref();
    },
    release() {
      if (holding === 0) return;
      holding -= 1;
      if (--held === 0) for (const t of threads) t.worker.unref();
    },
    close() {
      if (closed) return;
      closed = true;
      while (holding > 0) this.release();
      members.delete(member.id);
      for (const thread of threads) {
        if (thread.connected.delete(member)) thread.worker.postMessage({ op: 'close', id: member.id });
      }
      // Every connection sent an `open` is closed by its thread (or failed to open): wait for the count to reach 0.
      const deadline = Date.now() + 5_000;
      for (let left = Atomics.load(member.open, 0); left > 0; left = Atomics.load(member.open, 0)) {
        const wait = deadline - Date.now();
        if (wait <= 0 || Atomics.wait(member.open, 0, left, wait) === 'timed-out') break;
      }
      if (members.size === 0) for (const thread of [...threads]) retire(thread);
    },
  };
}

/**
 * An idle thread with a connection to `member`, else any idle thread, else a new thread (fewer than `MAX_THREADS`
 * run), else the thread with the fewest checkpoints in flight; undefined when no thread can start.
 */
function pickThread(member: Member): Thread | undefined {
  let idle: Thread | undefined;
  for (const t of threads) {
    if (t.busy !== 0) continue;
    if (t.connected.has(member)) return t;
    idle ??= t;
  }
  if (idle !== undefined) return idle;
  if (threads.length < MAX_THREADS) {
    const started = startThread();
    if (started !== undefined) return started;
  }
  let least: Thread | undefined;
  for (const t of threads) if (least === undefined || t.busy < least.busy) least = t;
  return least;
}

function startThread(): Thread | undefined {
  let worker: Worker;
  try {
    worker = new Worker(CHECKPOINTER, { eval: true });
  } catch {
    return undefined;
  }
  const thread: Thread = { worker, busy: 0, connected: new Set(), stalled: false };
  worker.on('message', (answer: { id?: number; log?: number; lost?: boolean }) => {
    if (answer.id === undefined) return;
    // One answer per checkpoint sent, whether or not its database is still open.
    thread.busy -= 1;
    const member = members.get(answer.id);
    if (member === undefined || member.running !== thread) return;
    member.running = undefined;
    if (answer.lost === true) {
      thread.connected.delete(member);
      member.listener.lost();
    } else member.listener.done(answer.log ?? 0);
  });
  worker.on('error', () => {
    // The thread is gone, and its connections with it: a checkpoint it was running is lost (that database then
    // checkpoints on its own connection); the others go to the remaining threads.
    drop(thread);
    for (const member of thread.connected) Atomics.sub(member.open, 0, 1);
    thread.connected.clear();
    for (const member of members.values()) {
      if (member.running !== thread) continue;
      member.running = undefined;
      member.listener.lost();
    }
  });
  // After the listeners: adding a 'message' listener refs the worker's port again, and a database left open would
  // then keep its process from ever exiting.
  if (held === 0) worker.unref();
  threads.push(thread);
  return thread;
}

/** Ends a thread (every database has closed: one opened from now on starts another). */
function retire(thread: Thread): void {
  drop(thread);
  thread.worker.unref();
  thread.worker.postMessage({ op: 'exit' });
}

function drop(thread: Thread): void {
  const at = threads.indexOf(thread);
  if (at !== -1) threads.splice(at, 1);
}

/**
 * A checkpoint thread (CommonJS, evaluated), with a connection of its own to each database it has checkpointed.
 * `open` opens one (the caller counted it in `open`, shared memory; a connection that cannot open is taken off the
 * count at once); `checkpoint` runs a PASSIVE checkpoint and answers `log` (the frames in the WAL), or `lost` without
 * a connection; `close` closes one and takes it off the count; `stall` (tests) waits until its flag is set; `exit`
 * ends the thread.
 */
const CHECKPOINTER = `
const { parentPort } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const databases = new Map();
const closed = (open) => {
  const count = new Int32Array(open);
  Atomics.sub(count, 0, 1);
  Atomics.notify(count, 0);
};
parentPort.on('message', (message) => {
  const { op, id } = message;
  if (op === 'open') {
    let db;
    try {
      db = new DatabaseSync(message.path);
      db.exec('PRAGMA busy_timeout = ' + Number(message.busyTimeoutMs));
      db.exec('PRAGMA synchronous = NORMAL');
      databases.set(id, { db, checkpoint: db.prepare('PRAGMA wal_checkpoint(PASSIVE)'), open: message.open });
    } catch {
      try {
        db?.close();
      } catch {}
      closed(message.open);
    }
  } else if (op === 'checkpoint') {
    const entry = databases.get(id);
    if (entry === undefined) {
      parentPort.postMessage({ id, lost: true });
      return;
    }
    let log = 0;
    try {
      log = Number(entry.checkpoint.get().log);
    } catch {}
    parentPort.postMessage({ id, log });
  } else if (op === 'close') {
    const entry = databases.get(id);
    if (entry === undefined) return;
    databases.delete(id);
    try {
      entry.db.close();
    } catch {}
    closed(entry.open);
  } else if (op === 'stall') {
    parentPort.postMessage({ stalled: true });
    Atomics.wait(new Int32Array(message.flag), 0, 0);
  } else if (op === 'exit') {
    for (const entry of databases.values()) {
      try {
        entry.db.close();
      } catch {}
      closed(entry.open);
    }
    parentPort.close();
  }
});
`;
