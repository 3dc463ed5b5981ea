/** Opens SQLite stores on a fresh temp folder for the shared port suites, with a clock the tests can move. */
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
