/**
 * The command line of a function's sandbox process: Node's permission model (no file system, no child processes,
 * no workers, no addons), a V8 heap limit, an RLIMIT_DATA limit that also bounds off-heap memory (`prlimit`), an
 * unprivileged user when the bus runs as root (`setpriv`, which also makes the kernel kill the process when the
 * bus dies), and optionally no network (`unshare --net`). The tools are util-linux's; each one missing drops its
 * layer, and `describe()` says which layers are on.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { JunctionError } from '../../core/errors.ts';

export interface SandboxOptions {
  /**
   * The user functions run as when the bus runs as root; `false` keeps the bus's user. Without root the
   * functions always run as the bus's user.
   * @default { uid: 65534, gid: 65534 } (nobody)
   */
  readonly user?: { readonly uid: number; readonly gid: number } | false;
  /**
   * Whether functions reach the network. `false` runs each in a new network namespace with no interface but a
   * down loopback (needs root and `unshare`; refused otherwise). Node 22's permission model does not restrict the
   * network, so with `true` a function can reach anything the bus's host can, the bus's own API included.
   * @default true
   */
  readonly network?: boolean;
  /** Memory for Node itself on top of a function's `memoryMb` (the data-segment limit is their sum). @default 64 */
  readonly overheadMb?: number;
  /**
   * Paths functions may write (`--allow-fs-write`), for tests and local tools; the user functions run as must be
   * allowed to write there too. @default none
   */
  readonly allowWrite?: readonly string[];
  /** Paths functions may read (`--allow-fs-read`), likewise. @default none (not even their own bundle) */
  readonly allowRead?: readonly string[];
}

/** Which protections are in force (tools found, user). */
export interface SandboxDescription {
  /** The uid functions run as. */
  readonly uid: number;
  /** RLIMIT_DATA is set (`prlimit` found, Linux). */
  readonly memoryLimit: boolean;
  /** The kernel kills the process when the bus dies (`setpriv --pdeathsig`). */
  readonly dieWithBus: boolean;
  readonly network: boolean;
}

export interface SandboxCommand {
  readonly command: string;
  readonly args: readonly string[];
}

function findTool(name: string): string | undefined {
  if (process.platform !== 'linux') return undefined;
  const path = process.env.PATH ?? '/usr/bin:/bin';
  for (const dir of [...path.split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The young generation gets a slice of the function's memory. */
function semiSpaceMb(memoryMb: number): number {
  return Math.max(1, Math.min(16, Math.floor(memoryMb / 16)));
}

export class Sandbox {
  readonly #prlimit: string | undefined;
  readonly #setpriv: string | undefined;
  readonly #unshare: string | undefined;
  readonly #user: { readonly uid: number; readonly gid: number } | undefined;
  readonly #network: boolean;
  readonly #overheadMb: number;
  readonly #allowWrite: readonly string[];
  readonly #allowRead: readonly string[];

  constructor(options: SandboxOptions = {}) {
    const root = process.getuid?.() === 0;
    this.#prlimit = findTool('prlimit');
    this.#setpriv = findTool('setpriv');
    this.#unshare = findTool('unshare');
    this.#network = options.network ?? true;
    this.#overheadMb = options.overheadMb ?? 64;
    this.#allowWrite = options.allowWrite ?? [];
    this.#allowRead = options.allowRead ?? [];
    const user = options.user ?? { uid: 65534, gid: 65534 };
    this.#user = root && user !== false ? user : undefined;
    if (this.#user !== undefined && this.#setpriv === undefined) {
      throw new JunctionError(
        'InvalidRequest',
        'the bus runs as root and setpriv (util-linux) is missing: functions cannot drop to an unprivileged user; install util-linux or set sandbox.user to false',
        { field: 'sandbox.user' },
      );
    }
    if (!this.#network && (!root || this.#unshare === undefined)) {
      throw new JunctionError(
        'InvalidRequest',
        'sandbox.network false needs root and unshare (util-linux) to give each function an empty network namespace',
        { field: 'sandbox.network' },
      );
    }
  }

  describe(): SandboxDescription {
    return {
      uid: this.#user?.uid ?? process.getuid?.() ?? -1,
      memoryLimit: this.#prlimit !== undefined,
      dieWithBus: this.#setpriv !== undefined,
      network: this.#network,
    };
  }

  /** The data-segment limit of a function's process, in bytes. */
  dataLimitBytes(memoryMb: number): number {
    return (memoryMb + this.#overheadMb) * 1024 * 1024;
  }

  /** The command that runs `entryCode` (the child host, an ES module text) for a function of `memoryMb`. */
  command(entryCode: string, memoryMb: number): SandboxCommand {
    const node = [
      process.execPath,
      '--permission',
      ...this.#allowRead.map((path) => `--allow-fs-read=${path}`),
      ...this.#allowWrite.map((path) => `--allow-fs-write=${path}`),
      '--no-addons',
      '--disable-warning=ExperimentalWarning',
      `--max-old-space-size=${memoryMb}`,
      `--max-semi-space-size=${semiSpaceMb(memoryMb)}`,
      '--input-type=module',
      '-e',
      entryCode,
    ];
    const chain: string[] = [];
    if (!this.#network && this.#unshare !== undefined) chain.push(this.#unshare, '--net', '--');
    if (this.#setpriv !== undefined) {
      chain.push(this.#setpriv);
      if (this.#user !== undefined) {
        chain.push(`--reuid=${this.#user.uid}`, `--regid=${this.#user.gid}`, '--clear-groups');
      }
      chain.push('--nnp', '--pdeathsig', 'KILL', '--');
    }
    if (this.#prlimit !== undefined)
      chain.push(this.#prlimit, `--data=${this.dataLimitBytes(memoryMb)}`, '--');
    const all = [...chain, ...node];
    return { command: all[0] as string, args: all.slice(1) };
  }
}
