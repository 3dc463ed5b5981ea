/** Runs the CLI in-process for tests, capturing stdout/stderr, and a port where nothing listens. */
import { createServer } from 'node:net';
import { runCli } from '../../lib/cli/cli.ts';

export interface CliRun {
  /** The exit code, or `'threw'` when runCli rejected (which it must never do). */
  readonly code: number | 'threw';
  readonly out: string;
  readonly err: string;
}

/** Runs `junction <args>`; `stdin`, when given, is what `-` reads. */
export async function cli(
  args: readonly string[],
  options: { stdin?: string; env?: Record<string, string>; requestTimeoutMs?: number } = {},
): Promise<CliRun> {
  let out = '';
  let err = '';
  try {
    const code = await runCli(args, {
      out: (t) => {
        out += `${t}\n`;
      },
      err: (t) => {
        err += `${t}\n`;
      },
      env: options.env ?? {},
      ...(options.stdin === undefined ? {} : { stdin: chunks(options.stdin) }),
      ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    });
    return { code, out, err };
  } catch (error) {
    return { code: 'threw', out, err: `${err}${(error as Error)?.stack ?? String(error)}` };
  }
}

async function* chunks(text: string): AsyncGenerator<Uint8Array> {
  yield new TextEncoder().encode(text);
}

/** A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago). */
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
