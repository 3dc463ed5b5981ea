/** Opens SQLite stores on a fresh temp folder for the shared port suites, with a clock the tests can move. */

import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE_FILE, SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
import {
  openSqliteStores,
  type SqliteStores,
  type SqliteStoresOptions,
} from '../../../lib/adapters/sqlite/index.ts';
import type { Clock } from '../../../lib/ports.ts';
import { tempDir } from '../../helpers/paths.ts';

/** A clock that stands still until moved. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = 1_750_000_000_000): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

export interface SqliteHarness {
  readonly dataDir: string;
  readonly clock: ManualClock;
  readonly stores: SqliteStores;
  /** Opens another set of stores on the same file (closed by cleanup). */
  reopen(): SqliteStores;
  /** Closes every store opened here and removes the folder. */
  cleanup(): Promise<void>;
}

export function openHarness(options: Partial<SqliteStoresOptions> = {}): SqliteHarness {
  const dir = tempDir('junction-sqlite-');
  const clock = manualClock();
  const open = () => openSqliteStores({ clock, ...options, dataDir: dir.path });
  const opened: SqliteStores[] = [open()];
  return {
    dataDir: dir.path,
    clock,
    stores: opened[0]!,
    reopen: () => {
      const stores = open();
      opened.push(stores);
      return stores;
    },
    cleanup: async () => {
      for (const stores of opened) await stores.close();
      dir.remove();
    },
  };
}

/**
 * A store of one kind on a database in a fresh temp folder, for a port's shared suite: `reopen` closes the oldest
 * database still open and opens the store again on the same file (a restart), `cleanup` closes all and removes it.
 */
export function storeOnOneDatabase<S>(
  prefix: string,
  make: (db: SqliteDatabase) => S,
): { store: S; reopen: () => Promise<S>; cleanup: () => Promise<void> } {
  const dir = tempDir(prefix);
  const databases: SqliteDatabase[] = [];
  const open = () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    return make(db);
  };
  return {
    store: open(),
    reopen: async () => {
      databases.shift()?.close();
      return open();
    },
    cleanup: async () => {
      for (const db of databases) db.close();
      dir.remove();
    },
  };
}

/**
 * Writes 20 kB rows to `db` (its data dir `dir`) until its WAL file has not grown for 10 writes in a row, however
 * slowly a loaded machine's checkpoint threads keep up (90 s at most): without checkpoints every write makes the WAL
 * longer; with them it starts over and stops growing, which the WAL header's checkpoint sequence then confirms.
 */
export async function untilTheWalStartsOver(db: SqliteDatabase, dir: string): Promise<void> {
  db.migrate('CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  const row = 'x'.repeat(20_000);
  const walPath = join(dir, `${DATABASE_FILE}-wal`);
  const wal = () => statSync(walPath).size;
  const put = (k: number) => db.write(() => db.run('INSERT OR REPLACE INTO t (k, v) VALUES (?, ?)', k, row));
  const deadline = Date.now() + 90_000;
  let same = 0;
  let last = -1;
  let writes = 0;
  await put(0);
  const first = walSequence(walPath);
  while (same < 10) {
    assert.ok(Date.now() < deadline, `${dir}: the WAL still grows after ${writes} writes: ${wal()} bytes`);
    await put(writes % 5);
    writes++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const size = wal();
    same = size === last ? same + 1 : 0;
    last = size;
  }
  // The WAL header's checkpoint sequence (bytes 12–15) moves each time the WAL starts over: what the sizes suggest,
  // told for certain (its size alone fell short of the writes' frames only when it started over early: a loaded
  // machine's first restart came after 24 writes of ≈ 29 kB of frames, 700 kB against 34 × 20 kB).
  assert.notEqual(walSequence(walPath), first, `${dir}: the WAL never started over in ${writes} writes`);
}

/** The checkpoint sequence number in the header of the WAL file at `path` (it moves each time the WAL starts over). */
export function walSequence(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(16);
    readSync(fd, header, 0, 16, 0);
    return header.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}

/** The rows of the log's dedup index (`log_dedup`) in `db`. */
export function dedupRows(db: SqliteDatabase): number {
  return Number(db.get('SELECT count(*) AS n FROM log_dedup')?.n);
}

/**
 * Runs `prune` and, once it has started, a trace write on the same database; answers what the prune answered,
 * whether that write committed before the prune ended (a prune made of several writes lets others in between), and
 * how many writes the prune made.
 */
export async function pruneBesideAWrite<T>(
  stores: SqliteStores,
  prune: () => Promise<T>,
): Promise<{ result: T; writeFirst: boolean; writes: number }> {
  const writesBefore = stores.database.stats.writes;
  const order: string[] = [];
  const pruned = prune().then((result) => {
    order.push('prune');
    return result;
  });
  await new Promise((resolve) => setImmediate(resolve));
  // Newer than any prune's cut: it stays.
  await stores.traces.record([{ source: 's', id: 'beside', at: Number.MAX_SAFE_INTEGER, kind: 'received' }]);
  order.push('write');
  const result = await pruned;
  return {
    result,
    writeFirst: order[0] === 'write',
    writes: stores.database.stats.writes - writesBefore - 1,
  };
}
