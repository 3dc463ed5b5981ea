/**
 * NATS JetStream as a durable-ingest peer: `nats-server` built once with `go install` (the Go module proxy; like the
 * Kafka broker from Maven Central, fetched on first use and kept), run as a child process with a file store in a
 * temp folder, in JetStream's default mode (acks before the fsync, which runs every 2 minutes) or with
 * `sync_interval: always` (an fsync per message before its ack).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort } from '../../e2e/support/child-bus.ts';

/** The nats-server release measured. */
export const NATS_SERVER_VERSION = 'v2.15.3';

function goBin(): string {
  const result = spawnSync('go', ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`go is needed to build nats-server: ${result.stderr ?? ''}`);
  const [gobin, gopath] = result.stdout.split('\n');
  return gobin ? gobin : join((gopath ?? '').split(':')[0] ?? '', 'bin');
}

function versionOf(binary: string): string | undefined {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? /v\d+\.\d+\.\d+/.exec(result.stdout)?.[0] : undefined;
}

/**
 * The path of a `nats-server` of `NATS_SERVER_VERSION`: `JUNCTION_NATS_SERVER` when set, else Go's bin folder
 * (`go env GOBIN`, or `$GOPATH/bin`), installed there with `go install` when missing or another version (minutes,
 * once).
 */
export function natsServerBinary(): string {
  const given = process.env.JUNCTION_NATS_SERVER;
  if (given !== undefined) return given;
  const binary = join(goBin(), 'nats-server');
  if (existsSync(binary) && versionOf(binary) === NATS_SERVER_VERSION) return binary;
  process.stderr.write(`bench: go install nats-server ${NATS_SERVER_VERSION} (once; a few minutes)…\n`);
  const result = spawnSync('go', ['install', `github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 20 * 60_000,
  });
  if (result.status !== 0 || versionOf(binary) !== NATS_SERVER_VERSION) {
    throw new Error(`could not install nats-server ${NATS_SERVER_VERSION} with go install into ${binary}`);
  }
  return binary;
}

export interface NatsServer {
  /** The client URL, `nats://127.0.0.1:PORT`. */
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts nats-server with JetStream on a file store under `dir`, and creates the stream `BENCH` (subjects
 * `bench.>`, file storage, everything else default: limits retention, a 2-minute duplicate window for `msgID`).
 * `syncAlways` sets `sync_interval: always`: every message is fsync'd before its ack.
 */
export async function startNats(dir: string, options: { syncAlways: boolean }): Promise<NatsServer> {
  const binary = natsServerBinary();
  const port = await freePort();
  mkdirSync(join(dir, 'store'), { recursive: true });
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${port}`,
      'jetstream {',
      `  store_dir: ${JSON.stringify(join(dir, 'store'))}`,
      ...(options.syncAlways ? ['  sync_interval: always'] : []),
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (c: Buffer) => stderr.push(c.toString()));
  const url = `nats://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`nats-server exited (${child.exitCode}): ${stderr.join('')}`);
    try {
      const nc = await connect({ servers: url, reconnect: false });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'], storage: 'file' });
      } finally {
        await nc.close();
      }
      return { url, child, stop };
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `nats-server did not serve JetStream within 30 s: ${String(error)} ${stderr.join('')}`,
        );
      }
      await sleep(100);
    }
  }
}
