/**
 * The cost of authentication on ingest: single-event throughput of a bus that requires an API key against an open
 * loopback bus (the same Host/Origin/CSRF guards run on both), in interleaved rounds of one run, as a ratio.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../../lib/cli/cli.ts';
import { type ChildBus, freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';
import type { BenchTable } from './table.ts';

interface LoadResult {
  ok: number;
  failed: number;
  events: number;
  seconds: number;
}

function runLoad(options: Record<string, unknown>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        join(repoRoot, 'test/bench/support/load.ts'),
        JSON.stringify(options),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as LoadResult) : reject(new Error(`load exited ${code}`)),
    );
  });
}

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

export async function benchAuth(options: { quick: boolean }): Promise<BenchTable> {
  const rounds = options.quick ? 3 : 6;
  const seconds = options.quick ? 2 : 5;
  const concurrency = 32;
  const dir = tempDir('junction-bench-auth-');
  const key = await createKey(join(dir.path, 'on'));
  const buses: ChildBus[] = [];
  try {
    const off = await startChildBus(join(dir.path, 'off'), await freePort());
    buses.push(off);
    const on = await startChildBus(join(dir.path, 'on'), await freePort());
    buses.push(on);
    const totals = { on: 0, off: 0, failed: 0 };
    const rows: (string | number)[][] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first, so neither always runs on a warmer (or hotter) machine.
      const order = round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
      const rate: Record<'on' | 'off', number> = { on: 0, off: 0 };
      for (const which of order) {
        const r = await runLoad({
          url: which === 'on' ? on.url : off.url,
          mode: 'single',
          seconds,
          concurrency,
          prefix: `${which}-${round}`,
          file: 'bench',
          ...(which === 'on' ? { headers: { authorization: `Bearer ${key}` } } : {}),
        });
        if (r.failed > 0) totals.failed += r.failed;
        rate[which] = r.events / r.seconds;
        totals[which] += r.events / r.seconds;
      }
      rows.push([`round ${round + 1}`, rate.off, rate.on, `${((rate.on / rate.off) * 100).toFixed(1)}%`]);
    }
    const ratio = totals.on / totals.off;
    rows.push(['mean', totals.off / rounds, totals.on / rounds, `${(ratio * 100).toFixed(1)}%`]);
    return {
      title: `Ingest with authentication: single events/s, ${concurrency} connections, ${rounds} interleaved rounds of ${seconds} s`,
      columns: ['round', 'open (no key)', 'API key required', 'on/off'],
      rows,
      notes: [
        `target ≥ 95%: ${ratio >= 0.95 ? 'met' : 'NOT met'} (${(ratio * 100).toFixed(1)}%)`,
        ...(totals.failed > 0 ? [`${totals.failed} requests failed (a failed request is not counted)`] : []),
        'Both buses run the Host/Origin/CSRF guards; the keyed bus also hashes the key (SHA-256), reads the credential version row and looks the hash up in its in-memory cache.',
      ],
    };
  } finally {
    for (const bus of buses) await stopGracefully(bus);
    dir.remove();
  }
}
