/**
 * The cost of authentication on ingest: single-event throughput of a bus that requires an API key against an open
 * loopback bus (the same Host/Origin/CSRF guards run on both), in interleaved rounds of one run, as a ratio.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../lib/cli/cli.ts';
import { type ChildBus, freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { runLoad } from './bus.ts';
import { cpuSeconds } from './support/cpu.ts';
import type { BenchTable } from './table.ts';

async function createKey(dataDir: string): Promise<string> {
  let out = '';
  const code = await runCli(
    ['keys', 'create', 'bench', '--scope', 'publish', '--data-dir', dataDir, '--json'],
    {
      out: (t) => (out += t),
      err: (t) => process.stderr.write(`${t}\n`),
      env: {},
    },
  );
  if (code !== 0) throw new Error(`keys create exited ${code}`);
  return JSON.parse(out).key as string;
}

async function listKeys(dataDir: string): Promise<void> {
  const code = await runCli(['keys', 'list', '--data-dir', dataDir, '--json'], {
    out: () => {},
    err: (t) => process.stderr.write(`${t}\n`),
    env: {},
  });
  if (code !== 0) throw new Error(`keys list exited ${code}`);
}

export async function benchAuth(options: { quick: boolean }): Promise<BenchTable> {
  const rounds = options.quick ? 3 : 12;
  const seconds = options.quick ? 2 : 5;
  const concurrency = 32;
  const dir = tempDir('junction-bench-auth-');
  const key = await createKey(join(dir.path, 'on'));
  mkdirSync(join(dir.path, 'off'), { mode: 0o700 });
  await listKeys(join(dir.path, 'off')); // creates the open bus's database the same way, with no key in it
  const buses: ChildBus[] = [];
  try {
    const on = await startChildBus(join(dir.path, 'on'), await freePort());
    buses.push(on);
    const off = await startChildBus(join(dir.path, 'off'), await freePort());
    buses.push(off);
    const totals = { on: 0, off: 0, failed: 0 };
    const cpu = { on: { events: 0, seconds: 0 }, off: { events: 0, seconds: 0 } };
    const rows: (string | number)[][] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer (or hotter) machine.
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      const rate: Record<'on' | 'off', number> = { on: 0, off: 0 };
      for (const which of order) {
        const pid = (which === 'on' ? on : off).child.pid;
        const cpuBefore = cpuSeconds(pid);
        // Both get the same requests, key included (the open bus ignores it): the ratio is the bus's cost of
        // checking a key, not the load generator's cost of sending one more header on the same two cores.
        const r = await runLoad({
          url: which === 'on' ? on.url : off.url,
          mode: 'single',
          seconds,
          concurrency,
          prefix: `${which}-${round}`,
          file: 'bench',
          headers: { authorization: `Bearer ${key}` },
        });
        const cpuAfter = cpuSeconds(pid);
        if (cpuBefore !== undefined && cpuAfter !== undefined) {
          cpu[which].events += r.events;
          cpu[which].seconds += cpuAfter - cpuBefore;
        }
        if (r.failed > 0) totals.failed += r.failed;
        rate[which] = r.events / r.seconds;
        totals[which] += r.events / r.seconds;
      }
      ratios.push(rate.on / rate.off);
      rows.push([`round ${round + 1}`, rate.off, rate.on, `${((rate.on / rate.off) * 100).toFixed(1)}%`]);
    }
    const ratio = totals.on / totals.off;
    rows.push(['mean', totals.off / rounds, totals.on / rounds, `${(ratio * 100).toFixed(1)}%`]);
    // The median of the paired per-round ratios: one round disturbed by a neighbour (a checkpoint, another
    // process) moves the mean of rates but not the median.
    const sorted = [...ratios].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const median =
      sorted.length % 2 === 1
        ? (sorted[mid] as number)
        : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
    rows.push([
      'median of rounds',
      '',
      '',
      `${(median * 100).toFixed(1)}% (${((sorted[0] as number) * 100).toFixed(1)}–${((sorted.at(-1) as number) * 100).toFixed(1)}%)`,
    ]);
    const perCpu = (which: 'on' | 'off') =>
      cpu[which].seconds > 0 ? cpu[which].events / cpu[which].seconds : Number.NaN;
    const cpuRatio = perCpu('on') / perCpu('off');
    rows.push(['per bus CPU-s', perCpu('off'), perCpu('on'), `${(cpuRatio * 100).toFixed(1)}%`]);
    return {
      title: `Ingest with authentication: single events/s, ${concurrency} connections, ${rounds} interleaved rounds of ${seconds} s`,
      columns: ['round', 'open (no key)', 'API key required', 'on/off'],
      rows,
      notes: [
        `target ≥ 95%: median of paired rounds ${median >= 0.95 ? 'met' : 'NOT met'} (${(median * 100).toFixed(1)}%), mean wall-clock ${ratio >= 0.95 ? 'met' : 'NOT met'} (${(ratio * 100).toFixed(1)}%), per bus CPU-second ${cpuRatio >= 0.95 ? 'met' : 'NOT met'} (${(cpuRatio * 100).toFixed(1)}%)`,
        ...(totals.failed > 0 ? [`${totals.failed} requests failed (a failed request is not counted)`] : []),
        'Both buses get the same requests (Authorization header included: the open bus ignores it) and run the Host/Origin/CSRF guards and the credential version read; the keyed bus also hashes the key (SHA-256) and looks the hash up in its in-memory cache.',
      ],
    };
  } finally {
    for (const bus of buses) await stopGracefully(bus);
    dir.remove();
  }
}
