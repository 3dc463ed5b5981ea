/**
 * The synthesized bundles, run as deployed: the stack is synthesized with real local bundling (as `cdk synth`),
 * and each function's asset (`index.mjs` in the cloud assembly, found from the template's `Code.S3Key`) runs in a
 * process of its own — outside this repository, so nothing resolves from node_modules: the AWS SDK and the Kafka
 * client must be inside the bundle (`bundleAwsSDK`) — with the template's `Handler` and `Environment`. Only what
 * cannot exist here is replaced: the MSK cluster (the local broker, no IAM), the tables (dynalite), the Lambda API
 * of user functions (the stand-in) and the function role's ARN (a deploy-time reference).
 * The path: topic custom resource → api (a rule) → ingest → Kafka → MSK poller → router → HTTP target; scheduler.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CfnElement } from 'aws-cdk-lib';
import { type MskPoller, startMskPoller } from '../../lib/adapters/kafka/msk-poller.ts';
import { describeTopic } from '../../lib/adapters/kafka/topic-admin.ts';
import type { JunctionBus } from '../../lib/infra/index.ts';
import { type FakeLambda, startFakeLambda } from '../adapters/lambda/fake-lambda.ts';
import { apiGatewayRequest as apiRequest, awsFixture as fixture } from '../helpers/aws-fixtures.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { repoRoot } from '../helpers/paths.ts';
import { fixturesDir, type Synthesized, synthStack } from '../infra/synth-fixture.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip =
  kafka === undefined
    ? `no Kafka broker: ${process.env.JUNCTION_TEST_KAFKA_WHY ?? 'JUNCTION_TEST_KAFKA is unset'}`
    : false;

const host = join(repoRoot, 'test', 'e2e', 'support', 'lambda-host.mjs');
interface FunctionResource {
  readonly Handler: string;
  readonly Timeout: number;
  readonly Runtime: string;
  readonly Code: { S3Key: string };
  readonly Environment?: { Variables: Record<string, unknown> };
}

/** One function's bundle running in its own process. */
class Deployed {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  readonly ready: Promise<{ loadMs: number }>;

  constructor(dir: string, fn: FunctionResource, env: Record<string, string>) {
    this.#child = fork(host, [dir, fn.Handler, String(fn.Timeout)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.ready = new Promise((resolve, reject) => {
      this.#child.once('exit', (code) => reject(new Error(`the ${fn.Handler} host exited with ${code}`)));
      this.#child.on('message', (m: { ready?: boolean; loadMs?: number; error?: unknown; id?: number }) => {
        if (m.ready === true) resolve({ loadMs: m.loadMs ?? 0 });
        else if (m.ready === false) reject(new Error(String(m.error)));
        else if (m.id !== undefined) {
          const waiting = this.#pending.get(m.id);
          this.#pending.delete(m.id);
          const answer = m as { result?: unknown; error?: { name: string; message: string } };
          if (answer.error) waiting?.reject(new Error(`${answer.error.name}: ${answer.error.message}`));
          else waiting?.resolve(answer.result);
        }
      });
    });
  }

  async invoke<R>(event: unknown): Promise<R> {
    await this.ready;
    const id = ++this.#next;
    const answer = new Promise<unknown>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.send({ id, event });
    return answer as Promise<R>;
  }

  stop(): void {
    this.#child.kill();
  }
}

describe('synthesized bundles run as deployed (dynalite, the local broker)', { skip }, () => {
  const saved = { ...process.env };
  let synth: Synthesized;
  let dynalite: Dynalite;
  let lambda: FakeLambda;
  let target: HttpTarget;
  let poller: MskPoller | undefined;
  const running: Deployed[] = [];
  const topic = `junction-events.bundles-${randomUUID().slice(0, 8)}`;
  const prefix = uniquePrefix();
  const deployed = new Map<string, Deployed>();

  /** The function's template resource and its asset folder in the cloud assembly. */
  function assetOf(fn: { node: { defaultChild?: unknown } }): { dir: string; resource: FunctionResource } {
    const id = synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const resource = synth.template.findResources('AWS::Lambda::Function')[id]
      ?.Properties as FunctionResource;
    assert.ok(resource, `no function ${id}`);
    const assets = JSON.parse(readFileSync(join(synth.app.outdir, 'Junction.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const hash = resource.Code.S3Key.replace(/\.zip$/, '');
    const path = assets.files[hash]?.source.path;
    assert.ok(path, `no asset ${hash}`);
    return { dir: join(synth.app.outdir, path), resource };
  }

  /** The template's environment with what cannot exist here replaced; everything else as synthesized. */
  function environmentOf(resource: FunctionResource): Record<string, string> {
    const out: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      JUNCTION_LAMBDA_ENDPOINT: lambda.endpoint,
      JUNCTION_HTTP_TARGETS_ALLOW: '127.0.0.1',
    };
    const replaced: Record<string, string> = {
      JUNCTION_KAFKA_BOOTSTRAP: kafka as string,
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_KAFKA_TOPIC: topic,
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/junction-functions',
    };
    for (const [key, value] of Object.entries(resource.Environment?.Variables ?? {})) {
      if (key === 'JUNCTION_KAFKA_CLUSTER_ARN') continue; // MSK IAM: the local broker has no IAM
      if (key in replaced) out[key] = replaced[key] as string;
      else {
        assert.equal(typeof value, 'string', `${key} is a plain value in the template`);
        out[key] = value as string;
      }
    }
    return out;
  }

  function start(name: string, fn: { node: { defaultChild?: unknown } }): Deployed {
    const { dir, resource } = assetOf(fn);
    assert.equal(resource.Runtime, 'nodejs22.x');
    assert.ok(existsSync(join(dir, 'index.mjs')), `${name}: index.mjs in ${dir}`);
    assert.ok(
      !dir.startsWith(repoRoot),
      'the assembly is outside the repository (no node_modules to lean on)',
    );
    const d = new Deployed(dir, resource, environmentOf(resource));
    running.push(d);
    deployed.set(name, d);
    return d;
  }

  before(async () => {
    synth = synthStack({ functionsDir: join(fixturesDir, 'user-functions') });
    dynalite = await startDynalite(prefix);
    lambda = await startFakeLambda();
    target = await startHttpTarget();
  });

  after(async () => {
    await poller?.close();
    for (const d of running) d.stop();
    await target?.close();
    await lambda?.close();
    await dynalite?.stop();
    Object.assign(process.env, saved);
  });

  it('bundles the AWS SDK into every handler (no @aws-sdk import left for the runtime to resolve)', () => {
    assert.ok(
      synth.stack.bus.userFunctions.size >= 2,
      'the user functions of functionsDir are synthesized too',
    );
    const bus: JunctionBus = synth.stack.bus;
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      const text = readFileSync(join(assetOf(fn).dir, 'index.mjs'), 'utf8');
      assert.doesNotMatch(text, /from\s*["']@aws-sdk\//, `${fn.node.id} imports no @aws-sdk module`);
      assert.doesNotMatch(text, /import\(\s*["']@aws-sdk\//, `${fn.node.id} loads no @aws-sdk module`);
    }
  });

  it('loads each bundle with its Handler: ingest, router, api, scheduler and the topic function', async () => {
    const bus = synth.stack.bus;
    start('topic', bus.topicFunction);
    start('api', bus.apiFunction);
    start('ingest', bus.ingestFunction);
    start('router', bus.routerFunction);
    start('scheduler', bus.schedulerFunction);
    for (const [name, d] of deployed) {
      const { loadMs } = await d.ready;
      assert.ok(loadMs >= 0, `${name} loaded`);
    }
  });

  it('creates the events topic through the topic bundle, with the template properties', async () => {
    const properties = synth.template.findResources('Custom::JunctionKafkaTopic')[
      synth.stack.getLogicalId(synth.stack.bus.eventsTopicResource.node.defaultChild as CfnElement)
    ]?.Properties as Record<string, string>;
    // One local broker: replication factor 1 instead of the template's 2.
    const resourceProperties = {
      ...properties,
      Topic: topic,
      ReplicationFactor: '1',
      MinInsyncReplicas: '1',
    };
    const answer = await deployed
      .get('topic')!
      .invoke<{ PhysicalResourceId: string; Data: Record<string, unknown> }>({
        RequestType: 'Create',
        ResourceProperties: resourceProperties,
      });
    assert.equal(answer.PhysicalResourceId, topic);
    assert.equal(answer.Data.Partitions, Number(properties.Partitions));
    assert.equal((await describeTopic({ bootstrap: [kafka as string] }, topic))?.partitions, 6);
  });

  it('puts a rule through the api bundle, ingests through the ingest bundle, routes through the router bundle', async () => {
    const rule = {
      pattern: { type: ['com.shop.order.created'] },
      targets: [{ id: 'audit', type: 'http', url: `${target.url}/hook` }],
    };
    const put = await deployed
      .get('api')!
      .invoke<{ statusCode: number; body: string }>(
        apiRequest('PUT', '/rules/bundled', JSON.stringify(rule)),
      );
    assert.equal(put.statusCode, 201, put.body);
    const accepted = await deployed
      .get('ingest')!
      .invoke<{ statusCode: number; body: string }>(fixture('apigw-http-v2-ingest'));
    assert.equal(accepted.statusCode, 202, accepted.body);
    const router = deployed.get('router')!;
    poller = await startMskPoller({
      bootstrap: [kafka as string],
      topic,
      group: 'junction-router',
      batchWindowMs: 200,
      handler: (event) => router.invoke(event),
    });
    await waitFor(
      () => target.received.length >= 1,
      'the HTTP target reached from the router bundle',
      60_000,
    );
    assert.equal(target.received[0]?.headers['ce-id'], 'order-1');
  });

  it("runs a user function's bundle with the { event, context } payload the router sends", async () => {
    const fn = synth.stack.bus.userFunctions.get('enrich-order');
    assert.ok(fn, 'enrich-order from functionsDir');
    const user = start('enrich-order', fn);
    const event = {
      specversion: '1.0',
      id: 'e-1',
      source: '/shop',
      type: 'com.shop.order.created',
      data: { total: 1 },
    };
    const returned = await user.invoke<{ data: Record<string, unknown> }>({
      event,
      context: {
        functionName: 'enrich-order',
        rule: 'r',
        target: 't',
        idempotencyKey: '/shop#e-1',
        attempt: 1,
      },
    });
    assert.deepEqual(returned.data, { total: 1, enriched: true });
  });

  it('runs the scheduler bundle on its schedule event', async () => {
    const summary = await deployed.get('scheduler')!.invoke<{ taken: number }>({
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      detail: {},
    });
    assert.equal(typeof summary.taken, 'number');
  });
});
