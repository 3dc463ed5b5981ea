/**
 * The durable store of deployed functions: `<dataDir>/functions/<name>.mjs` (the bundle) and `<name>.json`
 * (its FunctionInfo), each written to a temp file, fsync'd and renamed into place, so a crash leaves the old
 * function or the new one. A bundle without metadata is an interrupted first deploy and is removed on open.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionInfo } from '../../ports.ts';

const TEMP_PREFIX = '.tmp-';

/** A deployed function: its info and where its bundle lives. */
export interface StoredFunction {
  readonly info: FunctionInfo;
  /** `file:` URL of the bundle, for `import()`. */
  readonly url: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function writeDurably(path: string, contents: string): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(contents);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch {
    // Some platforms cannot fsync a directory; the renames are still atomic there.
  } finally {
    await handle.close();
  }
}

export class FunctionStore {
  readonly directory: string;
  readonly #functions = new Map<string, StoredFunction>();

  private constructor(directory: string) {
    this.directory = directory;
  }

  /** Opens (creating) `<dataDir>/functions` and loads what it holds. */
  static async open(dataDir: string): Promise<FunctionStore> {
    const store = new FunctionStore(join(dataDir, 'functions'));
    await mkdir(store.directory, { recursive: true, mode: 0o700 });
    await store.#load();
    return store;
  }

  /** How many functions are deployed. */
  get size(): number {
    return this.#functions.size;
  }

  get(name: string): StoredFunction | undefined {
    return this.#functions.get(name);
  }

  /** Every function, sorted by name. */
  list(): StoredFunction[] {
    return [...this.#functions.values()].sort((a, b) => (a.info.name < b.info.name ? -1 : 1));
  }

  /** Writes a bundle under a temp name (fsync'd) and answers its path and URL, for validation before commit. */
  async stage(name: string, code: string): Promise<{ path: string; url: string }> {
    const path = join(this.directory, `${TEMP_PREFIX}${name}-${randomBytes(6).toString('hex')}.mjs`);
    await writeDurably(path, code);
    return { path, url: pathToFileURL(path).href };
  }

  /** Moves a staged bundle into place and records its info. */
  async commit(stagedPath: string, info: FunctionInfo): Promise<StoredFunction> {
    const bundlePath = join(this.directory, `${info.name}.mjs`);
    await rename(stagedPath, bundlePath);
    const metaTemp = join(
      this.directory,
      `${TEMP_PREFIX}${info.name}-${randomBytes(6).toString('hex')}.json`,
    );
    await writeDurably(metaTemp, `${JSON.stringify(info, null, 2)}\n`);
    await rename(metaTemp, join(this.directory, `${info.name}.json`));
    await syncDirectory(this.directory);
    const stored: StoredFunction = { info, url: pathToFileURL(bundlePath).href };
    this.#functions.set(info.name, stored);
    return stored;
  }

  /** Removes a staged bundle that did not validate. */
  async discard(stagedPath: string): Promise<void> {
    await rm(stagedPath, { force: true });
  }

  /** Removes a function (metadata first, so a crash midway leaves no half function). Answers whether it existed. */
  async delete(name: string): Promise<boolean> {
    if (!this.#functions.has(name)) return false;
    this.#functions.delete(name);
    await rm(join(this.directory, `${name}.json`), { force: true });
    await rm(join(this.directory, `${name}.mjs`), { force: true });
    await syncDirectory(this.directory);
    return true;
  }

  async #load(): Promise<void> {
    const entries = await readdir(this.directory);
    const names = new Set(entries);
    for (const entry of entries) {
      if (entry.startsWith(TEMP_PREFIX)) {
        await unlink(join(this.directory, entry)).catch(() => {});
        continue;
      }
      if (entry.endsWith('.mjs') && !names.has(`${entry.slice(0, -4)}.json`)) {
        await unlink(join(this.directory, entry)).catch(() => {});
        continue;
      }
      if (!entry.endsWith('.json')) continue;
      const name = entry.slice(0, -5);
      if (!names.has(`${name}.mjs`)) {
        await unlink(join(this.directory, entry)).catch(() => {});
        continue;
      }
      const stored = await this.#loadOne(name);
      if (stored !== undefined) this.#functions.set(name, stored);
    }
  }

  /** Reads one function; a bundle renamed in just before a crash (metadata not yet updated) wins over stale info. */
  async #loadOne(name: string): Promise<StoredFunction | undefined> {
    const bundlePath = join(this.directory, `${name}.mjs`);
    let info: FunctionInfo;
    try {
      info = JSON.parse(await readFile(join(this.directory, `${name}.json`), 'utf8')) as FunctionInfo;
    } catch {
      return undefined;
    }
    const code = await readFile(bundlePath, 'utf8');
    const digest = sha256(code);
    if (digest !== info.sha256) info = { ...info, sha256: digest, size: Buffer.byteLength(code) };
    return { info: Object.freeze({ ...info, name }), url: pathToFileURL(bundlePath).href };
  }
}
