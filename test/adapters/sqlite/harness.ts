/** Opens SQLite stores on a fresh temp folder for the shared port suites, with a clock the tests can move. */

import { SqliteDatabase } from '../../../lib/adapters/sqlite/database.ts';
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
