/**
 * A real PostgreSQL for tests: `initdb` a cluster in a temp dir with `wal_level=logical`, start it on a free port of
 * 127.0.0.1 (as `nobody` when the tests run as root, which PostgreSQL refuses), stop it and remove it in `stop()`.
 * The binaries are found in PATH or in Debian's /usr/lib/postgresql/<version>/bin (`.ci/run` installs the package
 * when they are missing). `postgresSkip` is a reason to skip when there is no PostgreSQL here, and undefined under
 * CI=true, where a missing PostgreSQL fails the tests instead.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './net.ts';
import { tempDir } from './paths.ts';

const PASSWORD = 'test-secret-pw';

/** The folder holding `initdb` and `pg_ctl`, or undefined. */
function binDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = join(debian, v, 'bin');
      if (existsSync(join(dir, 'initdb'))) return dir;
    }
  }
  return undefined;
}

const bin = binDir();

export const postgresSkip: string | undefined =
  bin !== undefined || process.env.CI === 'true'
    ? undefined
    : 'no PostgreSQL here (initdb not in PATH nor /usr/lib/postgresql/*/bin)';

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `postgres://user:password@127.0.0.1:port/postgres` */
  readonly url: string;
  /** A connected client (closed by `stop`). */
  readonly client: pg.Client;
  /** Runs SQL on the helper's client. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  stop(): Promise<void>;
}

function run(command: string, args: string[], asUser: string | undefined): void {
  const [cmd, argv] =
    asUser === undefined ? [command, args] : ['runuser', ['-u', asUser, '--', command, ...args]];
  const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout || result.error}`,
    );
  }
}

/** Starts a fresh cluster; `stop()` it in `after()`. */
export async function startPostgres(): Promise<TestPostgres> {
  if (bin === undefined) throw new Error(postgresSkip ?? "no PostgreSQL here: install Debian's postgresql");
  const asUser = process.getuid?.() === 0 ? 'nobody' : undefined;
  const dir = tempDir('junction-pg-');
  const data = join(dir.path, 'data');
  const pwfile = join(dir.path, 'pw');
  writeFileSync(pwfile, `${PASSWORD}\n`);
  if (asUser !== undefined) {
    const { uid, gid } = userIds(asUser);
    chownSync(dir.path, uid, gid);
    chownSync(pwfile, uid, gid);
    chmodSync(dir.path, 0o700);
  }
  const initdb = join(bin, 'initdb');
  const pgCtl = join(bin, 'pg_ctl');
  run(
    initdb,
    ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--no-sync'],
    asUser,
  );
  let port = 0;
  let started = false;
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      "-c listen_addresses='127.0.0.1'",
      `-c unix_socket_directories='${dir.path}'`,
      '-c wal_level=logical',
      '-c max_replication_slots=20',
      '-c max_wal_senders=20',
      '-c fsync=off',
    ].join(' ');
    try {
      run(
        pgCtl,
        ['-D', data, '-l', join(dir.path, 'log'), '-w', '-t', '120', '-o', options, 'start'],
        asUser,
      );
      started = true;
    } catch (error) {
      if (attempt === 4) throw error;
    }
  }
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: PASSWORD,
    database: 'postgres',
    url,
    client,
    query: <R extends pg.QueryResultRow>(sql: string, values?: unknown[]) => client.query<R>(sql, values),
    async stop() {
      await client.end().catch(() => undefined);
      try {
        run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop'], asUser);
      } finally {
        dir.remove();
      }
    },
  };
}

function userIds(name: string): { uid: number; gid: number } {
  const result = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const group = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  return { uid: Number(result.stdout.trim()), gid: Number(group.stdout.trim()) };
}
