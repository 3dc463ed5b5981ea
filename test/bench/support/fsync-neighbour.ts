/**
 * A disk-heavy neighbour for the benchmarks, in its own process: writes 8 MiB and fdatasyncs it, in a loop, to a file
 * of its own (in the folder it is given), until SIGTERM; then prints how long its fsyncs took. On this machine it
 * makes a small fsync of another process take 3–7 ms (p50) and 35–55 ms (p99) instead of 0.2 and 3 ms: the "other
 * work on the machine" of issue #20, on demand (it costs about a fifth of a core itself: 2 s of CPU in 9 s).
 */
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const path = join(dir, `fsync-neighbour-${process.pid}.bin`);
const chunk = Buffer.alloc(8 * 1024 * 1024, 7);
const fd = openSync(path, 'w');
const took: number[] = [];
let stopping = false;
process.once('SIGTERM', () => {
  stopping = true;
});

let n = 0;
function step(): void {
  if (stopping) {
    closeSync(fd);
    rmSync(path, { force: true });
    took.sort((a, b) => a - b);
    const at = (p: number) => (took[Math.min(took.length - 1, Math.floor(p * took.length))] ?? 0).toFixed(1);
    process.stdout.write(`fsyncs ${took.length} p50 ${at(0.5)} ms p99 ${at(0.99)} ms\n`);
    process.exit(0);
  }
  // Eight files' worth, rewritten in place: the file stays at 64 MiB.
  writeSync(fd, chunk, 0, chunk.length, (n++ % 8) * chunk.length);
  const start = performance.now();
  fdatasyncSync(fd);
  took.push(performance.now() - start);
  setImmediate(step);
}
process.stdout.write('ready\n');
step();
