/** The checkpoint threads shared by a process's SQLite databases. */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type CheckpointListener,
  checkpointThreads,
  DATABASES_PER_THREAD,
  joinCheckpointer,
  MAX_THREADS,
} from '../../../lib/adapters/sqlite/checkpointer.ts';
import { DATABASE_FILE, SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';

/** The threads of this process. */
const threadCount = () => readdirSync('/proc/self/task').length;

/**
 * Writes 20 kB rows to `db` until its WAL file has not grown for 10 writes in a row: it only stops growing when
 * checkpoints copy it into the database file and the WAL starts over.
 */
async function untilTheWalStartsOver(db: SqliteDatabase, dir: string): Promise<void> {
  db.migrate('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const row = 'x'.repeat(20_000);
  const wal = () => statSync(join(dir, `${DATABASE_FILE}-wal`)).size;
  const deadline = Date.now() + 90_000;
  let same = 0;
  let last = -1;
  let writes = 0;
  while (same < 10) {
    assert.ok(Date.now() < deadline, `${dir}: the WAL still grows after ${writes} writes: ${wal()} bytes`);
    await db.write(() => db.run('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)', writes % 5, row));
    writes++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const size = wal();
    same = size === last ? same + 1 : 0;
    last = size;
  }
  assert.ok(last < writes * row.length, `${dir}: the WAL holds ${last} bytes after ${writes} writes`);
}

test('ten databases share three checkpoint threads, each checkpointed, and the threads end with the last database', async () => {
  await stat('.'); // libuv's thread pool (the WAL fsyncs) starts before the threads are counted.
  assert.deepEqual(checkpointThreads(), [], 'no checkpoint thread before any database');
  const before = threadCount();
  const dirs = Array.from({ length: 10 }, () => tempDir('junction-checkpointer-'));
  const dbs = dirs.map((dir) => new SqliteDatabase({ dataDir: dir.path, checkpointIntervalMs: 5 }));
  try {
    await Promise.all(dbs.map((db, i) => untilTheWalStartsOver(db, dirs[i]?.path ?? '')));
    // Four databases a thread, then another thread: 4 + 4 + 2 (a thread per database would make ten).
    assert.deepEqual(
      checkpointThreads().toSorted((a, b) => a - b),
      [2, DATABASES_PER_THREAD, DATABASES_PER_THREAD],
    );
    assert.equal(threadCount() - before, 3, 'three more threads in the process');
  } finally {
    for (const db of dbs) db.close();
    for (const dir of dirs) dir.remove();
  }
  assert.deepEqual(checkpointThreads(), []);
  await waitFor(() => threadCount() === before, 'the checkpoint threads to end');
});

test(`past ${MAX_THREADS} threads, databases join the thread serving the fewest`, async () => {
  const count = DATABASES_PER_THREAD * MAX_THREADS + 3;
  const dirs = Array.from({ length: count }, () => tempDir('junction-checkpointer-'));
  const dbs = dirs.map((dir) => new SqliteDatabase({ dataDir: dir.path, checkpointIntervalMs: 5 }));
  try {
    await Promise.all(dbs.map((db, i) => untilTheWalStartsOver(db, dirs[i]?.path ?? '')));
    assert.deepEqual(
      checkpointThreads().toSorted((a, b) => a - b),
      [DATABASES_PER_THREAD, DATABASES_PER_THREAD + 1, DATABASES_PER_THREAD + 1, DATABASES_PER_THREAD + 1],
    );
    // A closed database leaves its thread; the next one opened takes its place there, not a fifth thread.
    const shape = checkpointThreads().toSorted((a, b) => a - b);
    dbs.shift()?.close();
    assert.equal(
      checkpointThreads().reduce((a, b) => a + b, 0),
      count - 1,
    );
    const dir = tempDir('junction-checkpointer-');
    dirs.push(dir);
    const db = new SqliteDatabase({ dataDir: dir.path, checkpointIntervalMs: 5 });
    dbs.push(db);
    await untilTheWalStartsOver(db, dir.path);
    assert.deepEqual(
      checkpointThreads().toSorted((a, b) => a - b),
      shape,
    );
  } finally {
    for (const db of dbs) db.close();
    for (const dir of dirs) dir.remove();
  }
  assert.deepEqual(checkpointThreads(), []);
});

test('a database the thread cannot open is told so, and the thread, left with no database, ends', async () => {
  const dir = tempDir('junction-checkpointer-');
  try {
    const heard: string[] = [];
    const listener: CheckpointListener = {
      done: (log) => heard.push(`done ${log}`),
      lost: () => heard.push('lost'),
    };
    const lane = joinCheckpointer(join(dir.path, 'no such folder', DATABASE_FILE), 1_000, listener);
    assert.ok(lane, 'a lane on a checkpoint thread');
    await waitFor(() => heard.length > 0, 'an answer from the checkpoint thread');
    assert.deepEqual(heard, ['lost']);
    lane.checkpoint();
    lane.hold();
    lane.close();
    assert.deepEqual(checkpointThreads(), [], 'the thread, left with no database, ended');
    assert.deepEqual(heard, ['lost'], 'no answer after the loss');
  } finally {
    dir.remove();
  }
});
