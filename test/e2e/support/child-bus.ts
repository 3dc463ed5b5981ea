/** Runs the bus as a child process (to kill it with SIGKILL) and waits until it serves. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/paths.ts';

export interface ChildBus {
  readonly url: string;
  readonly child: ChildProcess;
  /** Output the child wrote to stderr. */
  readonly stderr: string[];
  /** Output the child wrote to stdout after `ready`. */
  readonly stdout: string[];
}

export { freePort } from '../../helpers/net.ts';

export function startChildBus(
  dataDir: string,
  port: number,
  env: Record<string, string> = {},
): Promise<ChildBus> {
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      join(repoRoot, 'test/e2e/support/server-process.ts'),
      dataDir,
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /ready (\S+)/.exec(out);
      if (match) {
        child.stdout?.off('data', onData);
        const stdout = [out.slice(match.index + match[0].length)];
        child.stdout?.on('data', (more: Buffer) => stdout.push(more.toString()));
        resolve({ url: match[1] as string, child, stderr, stdout });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`the bus exited before it was ready (${code ?? signal}): ${stderr.join('')}`)),
    );
  });
}

/** Kills with SIGKILL and waits for the exit. */
export function kill9(bus: ChildBus): Promise<void> {
  return new Promise((resolve) => {
    if (bus.child.exitCode !== null || bus.child.signalCode !== null) return resolve();
    bus.child.once('exit', () => resolve());
    bus.child.kill('SIGKILL');
  });
}

/** Stops gracefully with SIGTERM and waits for the exit. */
export function stopGracefully(bus: ChildBus): Promise<void> {
  return new Promise((resolve) => {
    if (bus.child.exitCode !== null || bus.child.signalCode !== null) return resolve();
    bus.child.once('exit', () => resolve());
    bus.child.kill('SIGTERM');
  });
}
