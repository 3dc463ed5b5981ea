#!/usr/bin/env node
/** The `junction` executable: the CLI, and `junction dev` which runs the embedded bus in the foreground. */
import { runCli } from '../lib/cli/cli.ts';
import { runDev } from '../lib/cli/dev.ts';

const code = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  dev: runDev,
});
process.exitCode = code;
