/** One bus per data directory: a lock file holding the owner's pid, taken atomically, a dead owner's taken over. */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JunctionError } from '../core/errors.ts';

/** The lock file's name inside the data dir. */
export const LOCK_FILE = 'junction.lock';

export interface DataDirLock {
  readonly path: string;
  /** Removes the lock file (when it is still this process's). */
  release(): void;
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Creates the lock file with O_EXCL; answers false when it exists. */
function create(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Takes `<dataDir>/junction.lock` for this process. A lock whose pid is not running (a bus that was killed) is
 * taken over; a live owner (another bus, or this process) makes it throw `InvalidRequest` (field `dataDir`).
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(path)) {
      // Two processes taking over the same stale lock at once: the one whose pid is not in the file lost.
      if (ownerOf(path) === process.pid) {
        return {
          path,
          release: () => {
            if (ownerOf(path) === process.pid) unlinkSync(path);
          },
        };
      }
      continue;
    }
    const owner = ownerOf(path);
    if (owner !== undefined && alive(owner)) {
      throw new JunctionError(
        'InvalidRequest',
        `another bus (pid ${owner}${owner === process.pid ? ', this process' : ''}) is using the data directory ` +
          `${dataDir}; stop it or pass another --data-dir (the lock is ${path})`,
        { field: 'dataDir', details: { pid: owner } },
      );
    }
    // The owner is gone (or the file is empty: a crash between create and write): take it over.
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new JunctionError('InvalidRequest', `could not take the lock ${path}: it keeps changing hands`, {
    field: 'dataDir',
  });
}
