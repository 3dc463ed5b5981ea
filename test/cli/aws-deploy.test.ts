/** `junction functions deploy NAME FILE --aws`: through the CLI to the Lambda API (the stand-in), with the stack's env. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../lib/cli/cli.ts';
import { type FakeLambda, startFakeLambda } from '../adapters/lambda/fake-lambda.ts';
import { repoRoot } from '../helpers/paths.ts';

const echo = join(repoRoot, 'test', 'fixtures', 'functions', 'echo.ts');

function io(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env } };
}

describe('functions deploy --aws', () => {
  let lambda: FakeLambda;
  let env: Record<string, string>;

  before(async () => {
    lambda = await startFakeLambda();
    env = {
      AWS_REGION: 'us-east-1',
      JUNCTION_LAMBDA_ENDPOINT: lambda.endpoint,
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/junction-functions',
    };
    process.env.AWS_ACCESS_KEY_ID ??= 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'secret';
  });
  after(() => lambda.close());

  it('creates the Lambda function and prints what was deployed', async () => {
    const run = io(env);
    const code = await runCli(['functions', 'deploy', 'echo', echo, '--aws', '--timeout-ms', '3000'], run.io);
    assert.equal(code, 0, run.err.join('\n'));
    assert.match(run.out.join('\n'), /deployed echo to AWS Lambda as junction-fn-echo: \d+ bytes zipped/);
    const create = lambda.requests.find((r) => r.method === 'POST' && r.path === '/2015-03-31/functions');
    const body = create?.json as Record<string, unknown> | undefined;
    assert.equal(body?.FunctionName, 'junction-fn-echo');
    assert.equal(body?.Runtime, 'nodejs22.x');
    assert.equal(body?.Timeout, 3);
  });

  it('updates it on the second deploy and prints JSON with --json', async () => {
    const run = io(env);
    const code = await runCli(['functions', 'deploy', 'echo', echo, '--aws', '--json'], run.io);
    assert.equal(code, 0, run.err.join('\n'));
    const info = JSON.parse(run.out.join('\n')) as { name: string; lambdaName: string; sha256: string };
    assert.equal(info.lambdaName, 'junction-fn-echo');
    assert.match(info.sha256, /^[0-9a-f]{64}$/);
    assert.ok(
      lambda.requests.some(
        (r) => r.method === 'PUT' && r.path === '/2015-03-31/functions/junction-fn-echo/code',
      ),
    );
  });

  it("deploys for the bus of --bus (or JUNCTION_BUS): the bus's prefix and junction:managed=<bus>", async () => {
    const run = io({ ...env, JUNCTION_BUS: 'billing.eu' });
    const code = await runCli(['functions', 'deploy', 'echo', echo, '--aws', '--bus', 'orders'], run.io);
    assert.equal(code, 0, run.err.join('\n'));
    const match = /as (jfn-[0-9a-f]{10}-echo):/.exec(run.out.join('\n'));
    assert.ok(match, run.out.join('\n'));
    assert.deepEqual(lambda.functions.get(match[1]!)?.tags, {
      'junction:function': 'echo',
      'junction:managed': 'orders',
    });
    const viaEnv = io({ ...env, JUNCTION_BUS: 'billing.eu' });
    assert.equal(
      await runCli(['functions', 'deploy', 'echo', echo, '--aws'], viaEnv.io),
      0,
      viaEnv.err.join('\n'),
    );
    const other = /as (jfn-[0-9a-f]{10}-echo):/.exec(viaEnv.out.join('\n'))?.[1];
    assert.ok(other !== undefined && other !== match[1]);
    assert.equal(lambda.functions.get(other)?.tags['junction:managed'], 'billing.eu');
    // The default bus's function stays the default bus's.
    assert.equal(lambda.functions.get('junction-fn-echo')?.tags['junction:managed'], 'default');
  });

  it('fails with exit 1 naming the role when JUNCTION_FUNCTION_ROLE_ARN is unset', async () => {
    const { JUNCTION_FUNCTION_ROLE_ARN: _role, ...rest } = env;
    const run = io(rest);
    const code = await runCli(['functions', 'deploy', 'echo', echo, '--aws'], run.io);
    assert.equal(code, 1);
    assert.match(run.err.join('\n'), /InvalidRequest \(roleArn\).*JUNCTION_FUNCTION_ROLE_ARN/);
  });

  it('fails with exit 2 for a file that cannot be read', async () => {
    const run = io(env);
    const code = await runCli(['functions', 'deploy', 'echo', '/nonexistent/x.ts', '--aws'], run.io);
    assert.equal(code, 2);
    assert.match(run.err.join('\n'), /FILE: cannot read \/nonexistent\/x\.ts: no such file/);
  });
});
