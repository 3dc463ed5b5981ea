/**
 * `npm run fuzz -- [--inputs 100000] [--seed N] [--concurrency 8] [--deadline-ms 30000] [--only I,J] [--url U]`:
 * fuzzes every endpoint of a bus running as a child process (so a crash shows; or the bus at `--url`), prints
 * progress, a table of requests per endpoint and status, and a reproducer per finding; exits 1 on any finding.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { freePort, kill9, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { formatFinding, formatTable, runFuzz } from './fuzzer.ts';
import { ENDPOINTS } from './requests.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '8' },
    'deadline-ms': { type: 'string', default: '30000' },
    only: { type: 'string' },
    url: { type: 'string' },
  },
});

function whole(name: string, raw: string | undefined): number {
  if (raw === undefined || !/^\d{1,15}$/.test(raw)) {
    process.stderr.write(`fuzz: --${name} must be a whole number, got ${raw}\n`);
    process.exit(2);
  }
  return Number(raw);
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole('seed', values.seed);
const inputs = whole('inputs', values.inputs);
const concurrency = Math.max(1, whole('concurrency', values.concurrency));
const deadlineMs = whole('deadline-ms', values['deadline-ms']);
const only = values.only?.split(',').map((i) => whole('only', i));

const dir = tempDir('junction-fuzz-');
const bus = values.url === undefined ? await startChildBus(dir.path, await freePort()) : undefined;
const url = values.url ?? (bus?.url as string);
let exited: string | undefined;
bus?.child.once('exit', (code, signal) => {
  exited = `the bus exited during the run (${code ?? signal}); its stderr ends: ${bus.stderr.join('').slice(-2000)}`;
});
process.stderr.write(
  `fuzz: seed ${seed}, ${only ? `inputs ${only.join(',')}` : `${inputs} inputs`}, concurrency ${concurrency}, bus ${url}${bus ? ` (pid ${bus.child.pid})` : ''}\n`,
);

const total = only?.length ?? inputs;
const started = performance.now();
let lastPrint = started;
const report = await runFuzz({
  url,
  seed,
  inputs,
  ...(only === undefined ? {} : { only }),
  concurrency,
  deadlineMs,
  crashed: () => exited,
  onFinding: (f) => {
    const where = f.request ? ` #${f.index} ${f.request.method} ${f.request.path.slice(0, 80)}` : '';
    process.stderr.write(`fuzz: [${f.kind}]${where}: ${f.detail.slice(0, 200)}\n`);
  },
  onProgress: (done, r) => {
    const now = performance.now();
    if (now - lastPrint < 10_000 && done !== total) return;
    lastPrint = now;
    const rate = Math.round(done / Math.max(0.001, (now - started) / 1000));
    process.stderr.write(
      `fuzz: ${done}/${total} (${((100 * done) / total).toFixed(1)}%), ${rate}/s, ${r.findings.length} findings\n`,
    );
  },
});

/** The bus's resident memory now and at its peak (Linux: /proc), for the report. */
function busMemory(pid: number | undefined): string | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const mb = (field: string) => {
      const kb = new RegExp(`^${field}:\\s*(\\d+) kB`, 'm').exec(status)?.[1];
      return kb === undefined ? '?' : `${Math.round(Number(kb) / 1024)} MiB`;
    };
    return `bus memory at the end: ${mb('VmRSS')} resident, ${mb('VmHWM')} at the peak`;
  } catch {
    return undefined;
  }
}
const memory = exited === undefined ? busMemory(bus?.child.pid) : undefined;

const serverErrors = (bus?.stderr ?? [])
  .join('')
  .split('\n')
  .filter((line) => line.startsWith('server error:'));
if (bus !== undefined && exited === undefined) {
  await Promise.race([stopGracefully(bus), new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  await kill9(bus);
}
dir.remove();

const seconds = report.durationMs / 1000;
const out: string[] = [];
out.push(
  `seed ${seed}: ${report.inputs} inputs in ${seconds.toFixed(1)} s (${Math.round(report.inputs / seconds)}/s)`,
);
out.push(
  `endpoints: ${report.counts.size} of ${ENDPOINTS.length}${only ? '' : ` (missing: ${ENDPOINTS.filter((e) => !report.counts.has(e)).join(', ') || 'none'})`}`,
);
if (memory !== undefined) out.push(memory);
out.push('');
out.push(formatTable(report));
out.push('');
const byKind = new Map<string, number>();
for (const f of report.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
out.push(
  `findings: ${report.findings.length}${byKind.size ? ` (${[...byKind].map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`,
);
if (serverErrors.length > 0) out.push(`the bus reported ${serverErrors.length} unexpected errors on stderr`);
process.stdout.write(`${out.join('\n')}\n`);
const shown = report.findings.slice(0, 50);
for (const finding of shown) process.stdout.write(`\n${formatFinding(finding, seed)}\n`);
if (report.findings.length > shown.length) {
  process.stdout.write(`\n… and ${report.findings.length - shown.length} more findings\n`);
}
for (const line of serverErrors.slice(0, 20)) process.stdout.write(`${line}\n`);
process.exitCode = report.findings.length > 0 || serverErrors.length > 0 ? 1 : 0;
