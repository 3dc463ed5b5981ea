/**
 * A real OpenTelemetry receiver for the tracing tests: Jaeger v2 (built on the OpenTelemetry Collector), compiled
 * from the Go module proxy into `.cache/jaeger/` on first use (≈ 5 min on a fresh machine, then cached), started on
 * free ports on 127.0.0.1 with an OTLP/HTTP receiver and in-memory storage, and read back through its query API.
 *
 * `node test/helpers/jaeger.ts build` builds it ahead of the tests (`.ci/run` does, to show the time it takes).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './events.ts';
import { freePort } from './net.ts';
import { repoRoot, tempDir } from './paths.ts';

/** The Jaeger release the tests build: v1.75.0 is the module version of the Jaeger v2 binary (`cmd/jaeger`). */
export const JAEGER_VERSION = 'v1.75.0';
const cacheDir = join(repoRoot, '.cache', 'jaeger');
const binary = join(cacheDir, `jaeger-${JAEGER_VERSION}`);

/** Why the Jaeger tests cannot run here (no Go toolchain), or undefined when they can. */
export function jaegerUnavailable(): string | undefined {
  if (process.env.JUNCTION_JAEGER !== undefined || existsSync(binary)) return undefined;
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0)
    return 'no Go toolchain to build Jaeger from the Go module proxy (`go` is not on the PATH)';
  return undefined;
}

/** The path of the Jaeger binary: `$JUNCTION_JAEGER`, the cached build, or a new build (minutes; logs progress). */
export function jaegerBinary(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  if (process.env.JUNCTION_JAEGER !== undefined) return process.env.JUNCTION_JAEGER;
  if (existsSync(binary)) return binary;
  const work = join(cacheDir, 'build');
  mkdirSync(work, { recursive: true });
  const go = (args: string[]) => {
    const started = Date.now();
    const run = spawnSync('go', args, {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      maxBuffer: 64 * 1024 * 1024,
    });
    if (run.status !== 0)
      throw new Error(`go ${args.join(' ')} failed (${run.status}): ${(run.stderr ?? '').slice(-2000)}`);
    log(`jaeger: go ${args[0]} done in ${Math.round((Date.now() - started) / 1000)} s`);
  };
  log(
    `jaeger: building Jaeger ${JAEGER_VERSION} from the Go module proxy into ${cacheDir} (once; a few minutes)`,
  );
  if (!existsSync(join(work, 'go.mod')))
    writeFileSync(join(work, 'go.mod'), 'module junction.test/jaeger\n\ngo 1.24\n');
  go(['get', '-tool', `github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}`]);
  go(['build', '-o', `${binary}.partial`, 'github.com/jaegertracing/jaeger/cmd/jaeger']);
  renameSync(`${binary}.partial`, binary);
  return binary;
}

/** A span as Jaeger's query API (`/api/traces/{id}`) answers it. */
export interface JaegerSpan {
  readonly traceID: string;
  readonly spanID: string;
  readonly operationName: string;
  readonly references: ReadonlyArray<{
    readonly refType: string;
    readonly traceID: string;
    readonly spanID: string;
  }>;
  readonly tags: ReadonlyArray<{ readonly key: string; readonly type: string; readonly value: unknown }>;
  readonly processID: string;
}

export interface JaegerTrace {
  readonly spans: readonly JaegerSpan[];
  readonly processes: Readonly<Record<string, { readonly serviceName: string }>>;
}

export interface Jaeger {
  /** The OTLP/HTTP endpoint (the base URL: exporters add `/v1/traces`). */
  readonly otlpUrl: string;
  /** The OTLP/gRPC endpoint (`http://127.0.0.1:<port>`: no TLS). */
  readonly otlpGrpcUrl: string;
  readonly queryUrl: string;
  /** The trace as Jaeger stored it, or undefined while it has none of it. */
  trace(traceId: string): Promise<JaegerTrace | undefined>;
  close(): Promise<void>;
}

/** Starts Jaeger (building it first if needed) and waits until its query API answers. */
export async function startJaeger(): Promise<Jaeger> {
  const path = jaegerBinary();
  const dir = tempDir('junction-jaeger-');
  const [otlp, otlpGrpc, http, grpc] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const config = join(dir.path, 'config.yaml');
  writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memory
    http:
      endpoint: 127.0.0.1:${http}
    grpc:
      endpoint: 127.0.0.1:${grpc}
  jaeger_storage:
    backends:
      memory:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
      grpc:
        endpoint: 127.0.0.1:${otlpGrpc}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memory
`,
  );
  let output = '';
  const child: ChildProcess = spawn(path, ['--config', `file:${config}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    output = `${output}${chunk.toString('utf8')}`.slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const queryUrl = `http://127.0.0.1:${http}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`jaeger exited (${child.exitCode}): ${output}`);
        return (await fetch(`${queryUrl}/api/services`).catch(() => undefined))?.ok === true;
      },
      'Jaeger answering on its query API',
      60_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    dir.remove();
    throw error;
  }
  return {
    otlpUrl: `http://127.0.0.1:${otlp}`,
    otlpGrpcUrl: `http://127.0.0.1:${otlpGrpc}`,
    queryUrl,
    async trace(traceId) {
      const res = await fetch(`${queryUrl}/api/traces/${traceId}`);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`jaeger query answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { data?: JaegerTrace[] };
      return body.data?.[0];
    },
    async close() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      dir.remove();
    },
  };
}

if (
  process.argv[1] !== undefined &&
  fileURLToPath(import.meta.url) === resolve(process.argv[1]) &&
  process.argv[2] === 'build'
) {
  process.stdout.write(`${jaegerBinary()}\n`);
}
