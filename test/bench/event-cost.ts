/**
 * What one event costs the bus at a moderate, fixed rate (issues #13, #20): one bus (a child process, SQLite log),
 * one rule to an HTTP receiver of its own process, single events at `--rate` (default 500/s) for `--seconds`
 * (default 10) after a 2 s warm-up; the CPU each of the bus's threads used meanwhile (`/proc/<pid>/task/*\/stat`),
 * per event. At these rates little is grouped (each event its own commits), which is what a bus beside a noisy
 * neighbour pays; docs/benchmarks.md (noisy neighbour) has the figures.
 *
 * `npx node test/bench/event-cost.ts [--rate=500] [--seconds=10] [--profile=DIR]` — not part of `npm run bench`.
 */
import { request } from '../helpers/bus.ts';
import { runLoad, withBus } from './bus.ts';
import { startReceiver } from './http-targets.ts';
import { threadCpuSeconds } from './support/cpu.ts';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const rate = Number(arg('rate') ?? 500);
const seconds = Number(arg('seconds') ?? 10);
const profile = arg('profile');
if (!(rate > 0) || !(seconds > 0)) throw new Error('--rate and --seconds must be numbers > 0');

const receiver = await startReceiver();
try {
  await withBus(
    async (bus) => {
      const pid = bus.child.pid as number;
      const put = await request(bus.url, 'PUT', '/rules/to-receiver', {
        pattern: { source: ['/bench-cost'] },
        targets: [{ id: 'receiver', type: 'http', url: `${receiver.url}/in` }],
      });
      if (put.status >= 300) throw new Error(`PUT /rules answered ${put.status}`);
      const load = {
        url: bus.url,
        mode: 'rate',
        rate,
        concurrency: 64,
        file: 'bench',
        source: '/bench-cost',
      };
      await runLoad({ ...load, seconds: 2, prefix: 'warm' });
      const before = threadCpuSeconds(pid);
      const started = performance.now();
      const sent = await runLoad({ ...load, seconds, prefix: 'cost' });
      const after = threadCpuSeconds(pid);
      const elapsed = (performance.now() - started) / 1000;
      const rows = [...after]
        .map(([thread, cpu]) => [thread, cpu - (before.get(thread) ?? 0)] as const)
        .filter(([, cpu]) => cpu > 0)
        .sort((a, b) => b[1] - a[1]);
      const total = rows.reduce((sum, [, cpu]) => sum + cpu, 0);
      const perEvent = (cpu: number) => `${Math.round((cpu / sent.ok) * 1e6)} µs/event`;
      console.log(
        `${sent.ok} events at ${rate}/s in ${elapsed.toFixed(1)} s: the bus used ${(total / elapsed).toFixed(2)} cores, ${perEvent(total)}`,
      );
      for (const [thread, cpu] of rows)
        console.log(`  ${thread.padEnd(24)} ${(cpu / elapsed).toFixed(3)} cores  ${perEvent(cpu)}`);
    },
    profile === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` },
  );
} finally {
  receiver.stop();
}
