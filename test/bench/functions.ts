/**
 * Benchmark of the function runner, in the process sandbox (the default) and in worker threads (the old runner,
 * the baseline): cold start, warm round trip, paced 1,000/s, throughput.
 */
import { pathToFileURL } from 'node:url';
import { createWorkerRunner } from '../../lib/adapters/workers/index.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import type { InvocationContext } from '../../lib/ports.ts';
import { tempDir } from '../helpers/paths.ts';
import { sharedNow as now } from './support/clock.ts';
import { type BenchTable, printTable } from './table.ts';

/** Answers when the handler started, on the clock the machine's processes share (support/clock.ts, spelled out). */
const STAMP = 'export function handler() { return { t: Number(process.hrtime.bigint()) / 1e6 }; }\n';

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function row(name: string, samples: number[], perSecond: number | string): (string | number)[] {
  const sorted = [...samples].sort((a, b) => a - b);
  return [
    name,
    samples.length,
    percentile(sorted, 50),
    percentile(sorted, 99),
    sorted.at(-1) ?? 0,
    perSecond,
  ];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function event(index: number): CloudEvent {
  return { specversion: '1.0', id: `bench-${index}`, source: 'urn:bench', type: 'bench', data: { index } };
}

const CONTEXT: InvocationContext = {
  functionName: 'stamp',
  rule: 'r',
  target: 't',
  idempotencyKey: 'k',
  attempt: 1,
};

/** Both runners, the sandbox first. */
export async function benchFunctions(options: { quick: boolean }): Promise<BenchTable[]> {
  return [await benchRunner('process', options), await benchRunner('thread', options)];
}

async function benchRunner(
  isolation: 'process' | 'thread',
  options: { quick: boolean },
): Promise<BenchTable> {
  const warmCalls = options.quick ? 2000 : 20_000;
  const pacedSeconds = options.quick ? 1 : 5;
  const dir = tempDir('junction-bench-fn-');
  const runner = await createWorkerRunner({ dataDir: dir.path, logger: () => {}, isolation });
  const rows: (string | number)[][] = [];
  try {
    const deployStart = now();
    await runner.deploy('stamp', new TextEncoder().encode(STAMP));
    const deployMs = now() - deployStart;

    const cold: number[] = [];
    for (let index = 0; index < (options.quick ? 3 : 10); index++) {
      await runner.deploy('stamp', new TextEncoder().encode(`${STAMP}// ${index}\n`));
      const start = now();
      await runner.invoke('stamp', event(index), CONTEXT);
      cold.push(now() - start);
    }
    rows.push(
      row(`cold start (new ${isolation === 'process' ? 'process' : 'worker'} + first call)`, cold, '-'),
    );

    const warm: number[] = [];
    const warmStart = now();
    for (let index = 0; index < warmCalls; index++) {
      const start = now();
      await runner.invoke('stamp', event(index), CONTEXT);
      warm.push(now() - start);
    }
    rows.push(
      row('warm round trip, one at a time', warm, Math.round(warmCalls / ((now() - warmStart) / 1000))),
    );

    const paced: number[] = [];
    const pacedStart = now();
    const calls: Promise<void>[] = [];
    for (let index = 0; index < pacedSeconds * 1000; index++) {
      const due = pacedStart + index;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      const sent = now();
      calls.push(
        runner.invoke('stamp', event(index), CONTEXT).then((result) => {
          paced.push((result.returned[0] as { t: number }).t - sent);
        }),
      );
    }
    await Promise.all(calls);
    rows.push(
      row(
        'paced 1,000/s: call to handler start',
        paced,
        Math.round(paced.length / ((now() - pacedStart) / 1000)),
      ),
    );

    const burst: number[] = [];
    const burstStart = now();
    await Promise.all(
      Array.from({ length: warmCalls }, async (_, index) => {
        const start = now();
        await runner.invoke('stamp', event(index), CONTEXT);
        burst.push(now() - start);
      }),
    );
    rows.push(
      row(
        `burst of ${warmCalls} at once (2 workers)`,
        burst,
        Math.round(warmCalls / ((now() - burstStart) / 1000)),
      ),
    );

    return {
      title:
        isolation === 'process'
          ? 'functions: process sandbox (the default) (ms)'
          : 'functions: worker threads (isolation: thread, no boundary) (ms)',
      columns: ['case', 'n', 'p50', 'p99', 'max', 'calls/s'],
      rows,
      notes: [
        `deploy (esbuild bundle + load check in a ${isolation === 'process' ? 'process' : 'worker'}): ${deployMs.toFixed(1)} ms`,
        'warm round trip = invoke() to result for a handler that returns one small object',
        'burst latencies include queueing behind the 2 workers of the function',
      ],
    };
  } finally {
    await runner.close();
    dir.remove();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const table of await benchFunctions({ quick: process.argv.includes('--quick') })) printTable(table);
}
