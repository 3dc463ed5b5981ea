#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
/**
 * The `junction` executable: the CLI, and `junction dev` which runs the embedded bus in the foreground. Whatever
 * goes wrong ends as one line on stderr and an exit code (see lib/cli/cli.ts), never a stack trace.
 */
import { EXIT, runCli } from '../lib/cli/cli.ts';
import { runDev } from '../lib/cli/dev.ts';

/** The last resort: an error that escaped the CLI (or the bus `junction dev` runs) ends as one line. */
function fatal(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(
    `internal error in junction (${message.replace(/\s*\n\s*/g, '; ')}) — please report it\n`,
  );
  process.exit(EXIT.internal);
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
// `junction … | head`: a reader that stops early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  fatal(error);
});

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  stdin: process.stdin,
  dev: runDev,
});
// Leave once the output is flushed: a `junction dev` whose bus failed to start may hold handles open.
await Promise.all(
  [process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))),
);
process.exit(code);
