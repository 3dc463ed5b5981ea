/** `npm test`: runs every test file with Node's test runner (and, from test/kafka, a broker for the Kafka tests). */
import { spawn } from 'node:child_process';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const patterns = files.length > 0 ? files : ['test/**/*.test.ts'];

const child = spawn(
  process.execPath,
  ['--disable-warning=ExperimentalWarning', '--test', '--test-concurrency=2', '--test-reporter=spec', ...flags, ...patterns],
  { stdio: 'inherit', env: process.env },
);
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
