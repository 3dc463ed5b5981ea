/**
 * `npm run bench -- --only=aws-handlers`: cold and warm invocation times of the synthesized handler bundles, run as
 * test/e2e/aws-bundles.test.ts runs them (each bundle's `index.mjs` from the cloud assembly, in a process of its own,
 * with the template's Handler and Environment; dynalite for the tables, a local broker for MSK, the stand-in Lambda
 * API). Cold = module load + the first invocation of a fresh process (what Lambda's "Init" and first "Invoke" run of
 * our code); warm = the median of the invocations after it in that process. Rounds are interleaved across the
 * handlers, so the machine's load hits each alike; CPU-ms of the measured process (from /proc/<pid>/stat) are
 * reported beside the wall times, which other people's load inflates.
 * Not measured here (no Lambda): Lambda's own init (the sandbox and the Node runtime), VPC attachment, the event
 * source mapping's poll delay, API Gateway — docs/aws.md, "Latency budget", cites AWS's figures for those.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CfnElement } from 'aws-cdk-lib';
import { type FakeLambda, startFakeLambda } from '../adapters/lambda/fake-lambda.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { repoRoot } from '../helpers/paths.ts';
import { synthStack } from '../infra/synth-fixture.ts';
import { requiredCpuSeconds } from './support/cpu.ts';
import type { BenchTable } from './table.ts';

const host = join(repoRoot, 'test', 'e2e', 'support', 'lambda-host.mjs');
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;

interface FunctionResource {
  readonly Handler: string;
  readonly Timeout: number;
  readonly Code: { S3Key: string };
  readonly Environment?: { Variables: Record<string, unknown> };
}

/** A bundle in a fresh process. */
class Host {
  readonly child: ChildProcess;
  readonly ready: Promise<number>;
  #next = 0;
  readonly #pending = new Map<number, (m: { result?: unknown; error?: { message: string } }) => void>();

  constructor(dir: string, fn: FunctionResource, env: Record<string, string>) {
    this.child = fork(host, [dir, fn.Handler, String(fn.Timeout)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`${fn.Handler} exited with ${code}`)));
      this.child.on('message', (m: { ready?: boolean; loadMs?: number; error?: unknown; id?: number }) => {
        if (m.ready === true) resolve(m.loadMs ?? 0);
        else if (m.ready === false) reject(new Error(String(m.error)));
        else if (m.id !== undefined) {
          this.#pending.get(m.id)?.(m as { result?: unknown; error?: { message: string } });
          this.#pending.delete(m.id);
        }
      });
    });
  }

  /** One invocation's wall time in ms; throws if the handler failed. */
  async invoke(event: unknown): Promise<number> {
    const id = ++this.#next;
    const started = performance.now();
    const answer = await new Promise<{ result?: unknown; error?: { message: string } }>((resolve) => {
      this.#pending.set(id, resolve);
      this.child.send({ id, event });
    });
    if (answer.error !== undefined) throw new Error(answer.error.message);
    return performance.now() - started;
  }

  stop(): void {
    this.child.kill();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spread(values: readonly number[]): string {
  return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
}

export async function benchAwsHandlers(options: { quick: boolean; bootstrap: string }): Promise<BenchTable> {
  const rounds = options.quick ? 3 : 7;
  const warmN = options.quick ? 20 : 100;
  process.stderr.write('bench aws-handlers: synthesizing with bundling…\n');
  const synth = synthStack();
  const prefix = uniquePrefix();
  const dynalite: Dynalite = await startDynalite(prefix);
  const lambda: FakeLambda = await startFakeLambda();
  const topic = `junction-events.bench-${randomUUID().slice(0, 8)}`;
  const assets = JSON.parse(readFileSync(join(synth.app.outdir, 'Junction.assets.json'), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
  };
  const bus = synth.stack.bus;
  const functions = {
    ingest: bus.ingestFunction,
    api: bus.apiFunction,
    router: bus.routerFunction,
    scheduler: bus.schedulerFunction,
  };
  const launch = (fn: { node: { defaultChild?: unknown } }): Host => {
    const id = synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const resource = synth.template.findResources('AWS::Lambda::Function')[id]
      ?.Properties as FunctionResource;
    const dir = join(
      synth.app.outdir,
      assets.files[resource.Code.S3Key.replace(/\.zip$/, '')]?.source.path ?? '',
    );
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      JUNCTION_LAMBDA_ENDPOINT: lambda.endpoint,
    };
    for (const [key, value] of Object.entries(resource.Environment?.Variables ?? {})) {
      if (typeof value === 'string') env[key] = value;
    }
    delete env.JUNCTION_KAFKA_CLUSTER_ARN; // the local broker has no IAM
    Object.assign(env, {
      JUNCTION_KAFKA_BOOTSTRAP: options.bootstrap,
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_KAFKA_TOPIC: topic,
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/junction-functions',
    });
    return new Host(dir, resource, env);
  };
  let n = 0;
  const ingestEvent = () => {
    const base = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
    return { ...base, headers: { ...base.headers, 'ce-id': `bench-${++n}` } };
  };
  const apiEvent = () => {
    const base = fixture('apigw-http-v2-put-rule') as { requestContext: { http: Record<string, unknown> } };
    return {
      ...base,
      rawPath: '/rules',
      body: null,
      requestContext: {
        ...base.requestContext,
        http: { ...base.requestContext.http, method: 'GET', path: '/rules' },
      },
    };
  };
  const events: Record<keyof typeof functions, () => unknown> = {
    ingest: ingestEvent,
    api: apiEvent,
    router: () => fixture('msk-event'),
    scheduler: () => ({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }),
  };
  const samples = new Map<
    string,
    { load: number[]; first: number[]; warm: number[]; coldCpu: number[]; warmCpu: number[] }
  >();
  try {
    // The topic exists before the first measured cold start (a deploy creates it at deploy time).
    const warmUp = launch(functions.ingest);
    await warmUp.ready;
    await warmUp.invoke(ingestEvent());
    warmUp.stop();
    for (let round = 0; round < rounds; round++) {
      for (const [name, fn] of Object.entries(functions) as [
        keyof typeof functions,
        (typeof functions)['ingest'],
      ][]) {
        const s = samples.get(name) ?? { load: [], first: [], warm: [], coldCpu: [], warmCpu: [] };
        samples.set(name, s);
        const h = launch(fn);
        try {
          const load = await h.ready;
          const first = await h.invoke(events[name]());
          const pid = h.child.pid as number;
          const afterCold = requiredCpuSeconds(pid) * 1000;
          const warm: number[] = [];
          for (let i = 0; i < warmN; i++) warm.push(await h.invoke(events[name]()));
          s.load.push(load);
          s.first.push(first);
          s.warm.push(median(warm));
          s.coldCpu.push(afterCold);
          s.warmCpu.push((requiredCpuSeconds(pid) * 1000 - afterCold) / warmN);
        } finally {
          h.stop();
        }
      }
    }
  } finally {
    await lambda.close();
    await dynalite.stop();
  }
  const rows = [...samples].map(([name, s]) => {
    const cold = s.load.map((l, i) => l + (s.first[i] as number));
    return [
      name,
      median(s.load),
      median(s.first),
      `${median(cold).toFixed(0)} (${spread(cold)})`,
      median(s.coldCpu),
      median(s.warm),
      median(s.warmCpu),
    ];
  });
  return {
    title: `AWS handler bundles as deployed (${rounds} fresh processes per handler, interleaved; warm = median of ${warmN} invocations after the first)`,
    columns: [
      'handler',
      'load ms',
      '1st invoke ms',
      'cold ms (min–max)',
      'cold CPU ms',
      'warm ms',
      'warm CPU ms/inv',
    ],
    rows,
    notes: [
      'cold = module load of index.mjs + the first invocation (its clients, tables and Kafka connections are made then); medians.',
      'CPU ms from /proc/<pid>/stat (10 ms ticks): the process start, Node, the load and the first invocation; warm per invocation.',
      'Against dynalite and a local broker on 127.0.0.1: DynamoDB and MSK round trips on AWS (same-AZ, IAM auth) differ.',
      'Not here: Lambda sandbox + runtime init, VPC ENI, the MSK event source mapping poll, API Gateway (docs/aws.md).',
    ],
  };
}
