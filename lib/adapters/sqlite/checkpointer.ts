import { Worker } from 'node:worker_threads';

/**
 * The threads that checkpoint SQLite databases off the event loop, shared by every database of the process.
 *
 * A thread per database cost each bus a V8 isolate (≈ 8 MB of memory, idle garbage collection, a thread): 51 buses
 * in one `junction dev` took 593 MB and 15% of a core doing nothing, 163 MB and 4% without those threads. Here a
 * database joins the thread with the fewest databases, and a new thread starts only while every thread already
 * serves `DATABASES_PER_THREAD` of them, up to `MAX_THREADS`: one bus gets one thread, many buses share a few. A
 * thread runs its databases' checkpoints one at a time, so a slow checkpoint delays those queued behind it on the
 * same thread (their writes wait only when their own WAL has passed its hold size meanwhile); a few threads keep
 * that to the databases of one thread. A thread with no database left ends.
 */

/** Databases a thread serves before another thread starts (while fewer than `MAX_THREADS` run). */
export const DATABASES_PER_THREAD = 4;
/** Checkpoint threads at most, however many databases are open. */
export const MAX_THREADS = 4;

/** What a database hears from its checkpoint thread. */
export interface CheckpointListener {
  /** A checkpoint asked for has run; `log` is the number of frames in the WAL (0 when it failed). */
  done(log: number): void;
  /** The thread cannot checkpoint this database (its connection did not open, or the thread died). */
  lost(): void;
}

/** A database's place on a checkpoint thread. */
export interface CheckpointLane {
  /** Asks for a PASSIVE checkpoint; the listener's `done` answers. */
  checkpoint(): void;
  /** Keeps the process alive (writes wait for an answer) until as many `release` calls. */
  hold(): void;
  release(): void;
  /** Closes the database's connection on the thread and waits until it is closed (5 s at most). */
  close(): void;
}

interface Thread {
  readonly worker: Worker;
  readonly members: Map<number, CheckpointListener>;
  /** Lanes holding the process alive (see `CheckpointLane.hold`). */
  held: number;
}

const threads: Thread[] = [];
let nextId = 1;

/** Live checkpoint threads and the databases each serves, for tests and diagnostics. */
export function checkpointThreads(): number[] {
  return threads.map((thread) => thread.members.size);
}

/**
 * Gives the database at `path` a place on a checkpoint thread; undefined when no thread can start (checkpoints then
 * run on the caller's connection).
 */
export function joinCheckpointer(
  path: string,
  busyTimeoutMs: number,
  listener: CheckpointListener,
): CheckpointLane | undefined {
  const thread = pickThread();
  if (thread === undefined) return undefined;
  const id = nextId++;
  const closed = new Int32Array(new SharedArrayBuffer(4));
  thread.members.set(id, listener);
  thread.worker.postMessage({ op: 'open', id, path, busyTimeoutMs, closed: closed.buffer });
  let holding = 0;
  let open = true;
  return {
    checkpoint() {
      if (open) thread.worker.postMessage({ op: 'checkpoint', id });
    },
    hold() {
      if (!open) return;
      holding += 1;
      if (thread.held++ === 0) thread.worker.ref();
    },
    release() {
      if (holding === 0) return;
      holding -= 1;
      if (--thread.held === 0) thread.worker.unref();
    },
    close() {
      if (!open) return;
      while (holding > 0) this.release();
      open = false;
      if (thread.members.delete(id) === false) return; // The thread died: nothing to close there.
      thread.worker.postMessage({ op: 'close', id });
      Atomics.wait(closed, 0, 0, 5_000);
      if (thread.members.size === 0) retire(thread);
    },
  };
}

/** The thread with the fewest databases, or a new one while each has `DATABASES_PER_THREAD` and more may start. */
function pickThread(): Thread | undefined {
  let best: Thread | undefined;
  for (const thread of threads)
    if (best === undefined || thread.members.size < best.members.size) best = thread;
  if (best !== undefined && (best.members.size < DATABASES_PER_THREAD || threads.length >= MAX_THREADS))
    return best;
  return startThread() ?? best;
}

function startThread(): Thread | undefined {
  let worker: Worker;
  try {
    worker = new Worker(CHECKPOINTER, { eval: true });
  } catch {
    return undefined;
  }
  const thread: Thread = { worker, members: new Map(), held: 0 };
  worker.on('message', (answer: { id: number; log?: number; lost?: boolean }) => {
    const listener = thread.members.get(answer.id);
    if (listener === undefined) return;
    if (answer.lost !== true) {
      listener.done(answer.log ?? 0);
      return;
    }
    thread.members.delete(answer.id);
    if (thread.members.size === 0) retire(thread);
    listener.lost();
  });
  worker.on('error', () => {
    // The thread is gone: its databases checkpoint on their own connections from now on.
    drop(thread);
    const members = [...thread.members.values()];
    thread.members.clear();
    for (const listener of members) listener.lost();
  });
  // After the listeners: adding a 'message' listener refs the worker's port again, and a database left open would
  // then keep its process from ever exiting.
  worker.unref();
  threads.push(thread);
  return thread;
}

/** Ends a thread left with no database (a database opened from now on starts another). */
function retire(thread: Thread): void {
  drop(thread);
  thread.worker.postMessage({ op: 'exit' });
}

function drop(thread: Thread): void {
  const at = threads.indexOf(thread);
  if (at !== -1) threads.splice(at, 1);
}

/**
 * A checkpoint thread (CommonJS, evaluated): a connection of its own to each database it serves. `open` opens one
 * (answering `lost` when it cannot), `checkpoint` runs a PASSIVE checkpoint and answers `log` (the frames in the
 * WAL), `close` closes one and then sets its `closed` flag (shared memory) to 1 for the thread that waits for it,
 * `exit` ends the thread.
 */
const CHECKPOINTER = `
const { parentPort } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
const databases = new Map();
const done = (closed) => {
  const flag = new Int32Array(closed);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
};
parentPort.on('message', (message) => {
  const { op, id } = message;
  if (op === 'open') {
    let db;
    try {
      db = new DatabaseSync(message.path);
      db.exec('PRAGMA busy_timeout = ' + Number(message.busyTimeoutMs));
      db.exec('PRAGMA synchronous = NORMAL');
      databases.set(id, { db, checkpoint: db.prepare('PRAGMA wal_checkpoint(PASSIVE)'), closed: message.closed });
    } catch (e) {
      try {
        db?.close();
      } catch {}
      done(message.closed);
      parentPort.postMessage({ id, lost: true });
    }
    return;
  }
  if (op === 'exit') {
    for (const entry of databases.values()) {
      try {
        entry.db.close();
      } catch {}
      done(entry.closed);
    }
    parentPort.close();
    return;
  }
  const entry = databases.get(id);
  if (entry === undefined) return;
  if (op === 'close') {
    databases.delete(id);
    try {
      entry.db.close();
    } catch {}
    done(entry.closed);
    return;
  }
  try {
    parentPort.postMessage({ id, log: Number(entry.checkpoint.get().log) });
  } catch (e) {
    parentPort.postMessage({ id, log: 0 });
  }
});
`;
