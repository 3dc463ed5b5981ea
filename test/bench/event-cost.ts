/**
 * What one event costs the bus at a moderate, fixed rate (issues #13, #20): one bus (a child process, SQLite log),
 * one rule to an HTTP receiver of its own process, single events at `--rate` (default 500/s) for `--seconds`
 * (default 10) after a 2 s warm-up; the CPU each of the bus's threads used meanwhile (`/proc/<pid>/task/*\/stat`),
 * per event. At these rates little is grouped (each event its own commits), which is what a bus beside a noisy
 * neighbour pays; docs/benchmarks.md (noisy neighbour) has the figures. Also per event: the main thread's context
 * switches (each a sleep or a preemption, after which its caches are cold) and the SQLite commits, page writes and
 * fsyncs (the bus's storage metrics); and, to read those by, what one wake-up of an otherwise idle Node.js event loop
 * costs on this machine (a timer every 4 ms in a process of its own, measured just before).
 *
 * `npx node test/bench/event-cost.ts [--rate=500] [--seconds=10] [--profile=DIR]` — not part of `npm run bench`.
 */

import { spawnSync } from 'node:child_process';
import { request } from '../helpers/bus.ts';
import { metricSum, runLoad, withBus } from './bus.ts';
import { startReceiver } from './http-targets.ts';
import { contextSwitches, threadCpuSeconds } from './support/cpu.ts';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const rate = Number(arg('rate') ?? 500);
const seconds = Number(arg('seconds') ?? 10);
const profile = arg('profile');
if (!(rate > 0) || !(seconds > 0)) throw new Error('--rate and --seconds must be numbers > 0');

/** CPU µs per wake-up of an idle event loop: a timer every 4 ms for 2 s, in a Node.js process of its own. */
function wakeUpCost(): number {
  const script = `let n = 0; const u0 = process.cpuUsage(); const t0 = performance.now();
    const tick = () => { n++; if (performance.now() - t0 < 2000) setTimeout(tick, 4);
      else { const u = process.cpuUsage(u0); console.log((u.user + u.system) / n); } };
    tick();`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  return Number(run.stdout.trim());
}

const wakeUp = wakeUpCost();
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
      const storage = async () => {
        const text = await (await fetch(`${bus.url}/metrics`)).text();
        return {
          commits: metricSum(text, 'junction_sqlite_commits_total'),
          writes: metricSum(text, 'junction_sqlite_writes_total'),
          fsyncs: metricSum(text, 'junction_sqlite_fsync_seconds_count'),
        };
      };
      const storageBefore = await storage();
      const switchesBefore = contextSwitches(pid);
      const before = threadCpuSeconds(pid);
      const started = performance.now();
      const sent = await runLoad({ ...load, seconds, prefix: 'cost' });
      const after = threadCpuSeconds(pid);
      const switchesAfter = contextSwitches(pid);
      const storageAfter = await storage();
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
      const each = (n: number) => (n / sent.ok).toFixed(2);
      if (switchesBefore !== undefined && switchesAfter !== undefined) {
        console.log(
          `main thread's context switches per event: ${each(switchesAfter.voluntary - switchesBefore.voluntary)} voluntary, ${each(switchesAfter.involuntary - switchesBefore.involuntary)} involuntary`,
        );
      }
      console.log(
        `SQLite per event: ${each(storageAfter.commits - storageBefore.commits)} commits, ${each(storageAfter.writes - storageBefore.writes)} writes (appends, ledger and trace writes), ${each(storageAfter.fsyncs - storageBefore.fsyncs)} fsyncs`,
      );
      console.log(`one wake-up of an idle Node.js loop on this machine: ${Math.round(wakeUp)} µs of CPU`);
    },
    profile === undefined ? {} : { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profile}` },
  );
} finally {
  receiver.stop();
}
