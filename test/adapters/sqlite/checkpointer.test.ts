/** The checkpoint threads shared by a process's SQLite databases. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import {
  type CheckpointLane,
  checkpointThreads,
  joinCheckpointer,
  MAX_THREADS,
  stallCheckpointThreads,
} from '../../../lib/adapters/sqlite/checkpointer.ts';
import { DATABASE_FILE, SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import { waitFor } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { untilTheWalStartsOver } from './harness.ts';

/** The threads of this process. */
const threadCount = () => readdirSync('/proc/self/task').length;

/** A database file in WAL mode with a committed row in its WAL (its connection left open, so the WAL stays). */
function walDatabase(dir: string, name: string): { path: string; db: DatabaseSync } {
  const path = join(dir, name);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')");
  return { path, db };
}

/** A lane on `path` whose answers are collected, and a way to wait for the next one. */
function lane(path: string) {
  const heard: string[] = [];
  const lane: CheckpointLane = joinCheckpointer(path, 1_000, {
    done: (log) => heard.push(`done ${log}`),
    lost: () => heard.push('lost'),
  });
  return {
    lane,
    heard,
    async checkpoint(): Promise<string> {
      const before = heard.length;
      lane.checkpoint();
      await waitFor(() => heard.length > before, `a checkpoint of ${path} answered`, 30_000);
      return heard[before] as string;
    },
  };
}

test('ten databases each checkpointed by the SQLite layer: at most four threads, which end with the last database', async () => {
  await stat('.'); // libuv's thread pool (the WAL fsyncs) starts before the threads are counted.
  assert.deepEqual(checkpointThreads(), [], 'no checkpoint thread before any database');
  const before = threadCount();
  const dirs = Array.from({ length: 10 }, () => tempDir('junction-checkpointer-'));
  const dbs = dirs.map((dir) => new SqliteDatabase({ dataDir: dir.path, checkpointIntervalMs: 5 }));
  try {
    await Promise.all(dbs.map((db, i) => untilTheWalStartsOver(db, dirs[i]?.path ?? '')));
    const live = checkpointThreads();
    assert.ok(live.length >= 1 && live.length <= MAX_THREADS, `${live.length} checkpoint threads`);
    assert.ok(threadCount() - before <= MAX_THREADS, `${threadCount() - before} more threads in the process`);
    const connections = live.reduce((sum, t) => sum + t.connections, 0);
    assert.ok(connections >= 10, `${connections} connections for ten databases`);
  } finally {
    for (const db of dbs) db.close();
    for (const dir of dirs) dir.remove();
  }
  assert.deepEqual(checkpointThreads(), []);
  await waitFor(() => threadCount() === before, 'the checkpoint threads to end');
});

test('databases whose checkpoints do not overlap share one thread, a connection each', async () => {
  const dir = tempDir('junction-checkpointer-');
  const files = Array.from({ length: 10 }, (_, i) => walDatabase(dir.path, `db-${i}.db`));
  const lanes = files.map((f) => lane(f.path));
  try {
    for (const l of lanes) assert.match(await l.checkpoint(), /^done \d+$/);
    for (const l of lanes) assert.match(await l.checkpoint(), /^done \d+$/);
    assert.deepEqual(checkpointThreads(), [{ busy: 0, connections: 10 }]);
  } finally {
    for (const l of lanes) l.lane.close();
    for (const f of files) f.db.close();
    dir.remove();
  }
  assert.deepEqual(checkpointThreads(), []);
});

test(`a checkpoint does not wait behind a stalled thread while fewer than ${MAX_THREADS} run; past that it waits its turn`, async () => {
  const dir = tempDir('junction-checkpointer-');
  const files = Array.from({ length: MAX_THREADS + 1 }, (_, i) => walDatabase(dir.path, `db-${i}.db`));
  const lanes = files.map((f) => lane(f.path));
  const stalls: Array<{ release(): void }> = [];
  try {
    const [first, ...others] = lanes;
    assert.ok(first);
    assert.match(await first.checkpoint(), /^done/);
    // Each thread stalled in turn, as if a slow checkpoint of another database ran on it: the next database's
    // checkpoint is answered by a thread started for it.
    for (const l of others.slice(0, MAX_THREADS - 1)) {
      stalls.push(await stallCheckpointThreads());
      assert.match(await l.checkpoint(), /^done/);
    }
    assert.equal(checkpointThreads().length, MAX_THREADS);
    // Every thread stalled and no more may start: the last database's checkpoint waits until one is free.
    stalls.push(await stallCheckpointThreads());
    const last = others[others.length - 1];
    assert.ok(last);
    last.lane.checkpoint();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(last.heard, [], 'no answer while every thread is stalled');
    assert.equal(checkpointThreads().length, MAX_THREADS, `still ${MAX_THREADS} threads`);
    for (const s of stalls.splice(0)) s.release();
    await waitFor(() => last.heard.length > 0, 'the waiting checkpoint answered once the threads are free');
    assert.match(last.heard[0] ?? '', /^done/);
  } finally {
    for (const s of stalls) s.release();
    for (const l of lanes) l.lane.close();
    for (const f of files) f.db.close();
    dir.remove();
  }
  assert.deepEqual(checkpointThreads(), []);
});

test('a database no thread can open is told its checkpoint was lost; closing it ends the threads', async () => {
  const dir = tempDir('junction-checkpointer-');
  try {
    const missing = lane(join(dir.path, 'no such folder', DATABASE_FILE));
    assert.equal(await missing.checkpoint(), 'lost');
    missing.lane.hold();
    missing.lane.close();
    assert.deepEqual(checkpointThreads(), [], 'no thread left');
    assert.deepEqual(missing.heard, ['lost'], 'no answer after the loss');
  } finally {
    dir.remove();
  }
});
