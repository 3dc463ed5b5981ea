/**
 * The `rule` function (functions/rule.ts, the custom resource of `JunctionRule`) driving the `api` function
 * (functions/api.ts) as on AWS: the rule function's real Lambda client invokes the api function through a stand-in
 * of the Lambda Invoke API on 127.0.0.1 that runs the api handler in this process; the stores are DynamoDB on
 * dynalite and the log the local Kafka broker. Create → the rule exists through the API; update; rename; delete.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiGatewayResult } from '../../lib/adapters/aws/apigateway.ts';
import { apiEvent, type RuleResourceEvent } from '../../lib/adapters/aws/rule-resource.ts';
import type { AwsRuntime } from '../../lib/adapters/aws/wiring.ts';
import { type Dynalite, startDynalite, uniquePrefix } from '../helpers/dynalite.ts';

const kafka = process.env.JUNCTION_TEST_KAFKA || undefined;
const skip = kafka === undefined ? 'no Kafka broker: JUNCTION_TEST_KAFKA is unset' : false;

const API_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:Junction-BusApiFunction-abc';

type Api = (event: unknown) => Promise<ApiGatewayResult>;
type RuleHandler = (event: RuleResourceEvent) => Promise<{ PhysicalResourceId: string; Data?: unknown }>;

/** The Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations) for one function, run in this process. */
async function startInvokeApi(
  functionArn: string,
  run: (payload: unknown) => Promise<unknown>,
): Promise<{ url: string; invoked: string[]; failNext: boolean; server: Server }> {
  const state = { url: '', invoked: [] as string[], failNext: false, server: undefined as unknown as Server };
  state.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url ?? '');
      const name = match === null ? '' : decodeURIComponent(match[1] as string);
      if (req.method !== 'POST' || name !== functionArn) {
        res.writeHead(404, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'ResourceNotFoundException',
        });
        res.end(JSON.stringify({ Type: 'User', message: `Function not found: ${name}` }));
        return;
      }
      state.invoked.push(JSON.parse(Buffer.concat(chunks).toString('utf8')).requestContext.http.method);
      const fail = state.failNext;
      state.failNext = false;
      const answer = fail
        ? Promise.reject(new TypeError('the api function crashed'))
        : run(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      answer.then(
        (result) => {
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
          res.end(JSON.stringify(result));
        },
        (error: Error) => {
          // As Lambda answers a function that threw: 200, X-Amz-Function-Error, the error object.
          res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
          res.end(JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: ['hidden'] }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

describe('the rule custom resource against the api function (dynalite, the local broker)', { skip }, () => {
  const saved = { ...process.env };
  let dynalite: Dynalite;
  let invokeApi: Awaited<ReturnType<typeof startInvokeApi>>;
  let api: Api;
  let rule: RuleHandler;
  let runtime: () => Promise<AwsRuntime>;

  const getRule = async (name: string) => {
    const answer = await api(apiEvent('GET', `/rules/${name}`));
    return { status: answer.statusCode, body: JSON.parse(answer.body) as Record<string, unknown> };
  };
  const properties = (name: string, body: unknown) => ({ RuleName: name, Rule: JSON.stringify(body) });
  const orders = {
    pattern: { type: ['com.shop.order.created'] },
    targets: [{ id: 'audit', type: 'http', url: 'https://audit.example.com/hook' }],
  };

  before(async () => {
    const prefix = uniquePrefix();
    dynalite = await startDynalite(prefix);
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      JUNCTION_TABLE_PREFIX: prefix,
      JUNCTION_KAFKA_BOOTSTRAP: kafka,
      JUNCTION_KAFKA_TOPIC: `junction-events-${randomUUID().slice(0, 8)}`,
      JUNCTION_FUNCTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/junction-functions',
      JUNCTION_DYNAMODB_ENDPOINT: dynalite.endpoint,
      JUNCTION_API_FUNCTION: API_ARN,
    });
    delete process.env.JUNCTION_KAFKA_CLUSTER_ARN;
    api = (await import('../../functions/api.ts')).handler as Api;
    runtime = (await import('../../lib/adapters/aws/wiring.ts')).awsRuntime;
    invokeApi = await startInvokeApi(API_ARN, (payload) => api(payload));
    // The rule function's Lambda client goes to the stand-in (the api runtime has no user functions here).
    process.env.JUNCTION_LAMBDA_ENDPOINT = invokeApi.url;
    rule = (await import('../../functions/rule.ts')).handler as RuleHandler;
  });

  after(async () => {
    await (await runtime?.())?.close();
    await new Promise((resolve) => invokeApi?.server.close(resolve));
    await dynalite?.stop();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('Create puts the rule through the api function: it exists through the API', async () => {
    const answer = await rule({
      RequestType: 'Create',
      ResourceProperties: properties('big-orders', orders),
    });
    assert.deepEqual(answer, {
      PhysicalResourceId: 'big-orders',
      Data: { RuleName: 'big-orders', Created: 'true' },
    });
    assert.deepEqual(invokeApi.invoked, ['PUT']);
    const found = await getRule('big-orders');
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.pattern, orders.pattern);
  });

  it('Update replaces it', async () => {
    const changed = { ...orders, pattern: { type: ['com.shop.order.cancelled'] }, enabled: false };
    const answer = await rule({
      RequestType: 'Update',
      PhysicalResourceId: 'big-orders',
      ResourceProperties: properties('big-orders', changed),
      OldResourceProperties: properties('big-orders', orders),
    });
    assert.equal(answer.PhysicalResourceId, 'big-orders');
    assert.deepEqual(answer.Data, { RuleName: 'big-orders', Created: 'false' });
    const found = await getRule('big-orders');
    assert.deepEqual(found.body.pattern, changed.pattern);
    assert.equal(found.body.enabled, false);
  });

  it('a rename creates the new rule; CloudFormation then deletes the old physical id', async () => {
    const renamed = await rule({
      RequestType: 'Update',
      PhysicalResourceId: 'big-orders',
      ResourceProperties: properties('large-orders', orders),
      OldResourceProperties: properties('big-orders', orders),
    });
    assert.equal(renamed.PhysicalResourceId, 'large-orders');
    assert.equal((await getRule('large-orders')).status, 200);
    await rule({
      RequestType: 'Delete',
      PhysicalResourceId: 'big-orders',
      ResourceProperties: properties('big-orders', orders),
    });
    assert.equal((await getRule('big-orders')).status, 404);
    assert.equal((await getRule('large-orders')).status, 200, 'the new one stays');
  });

  it('Delete deletes the rule, and a rule already gone is no failure', async () => {
    const del = {
      RequestType: 'Delete' as const,
      PhysicalResourceId: 'large-orders',
      ResourceProperties: properties('large-orders', orders),
    };
    assert.deepEqual(await rule(del), { PhysicalResourceId: 'large-orders' });
    assert.equal((await getRule('large-orders')).status, 404);
    assert.deepEqual(await rule(del), { PhysicalResourceId: 'large-orders' });
    // A failed create leaves CloudFormation's own id (not a rule name): nothing to delete, nothing invoked.
    const before = invokeApi.invoked.length;
    await rule({
      RequestType: 'Delete',
      PhysicalResourceId: 'Junction-Rule-1a2b/3c4d:5e6f',
      ResourceProperties: properties('x', orders),
    });
    assert.equal(invokeApi.invoked.length, before);
  });

  it("fails the deployment with the API's code and field when it refuses the rule", async () => {
    await assert.rejects(
      rule({
        RequestType: 'Create',
        ResourceProperties: properties('bad', { pattern: { type: 'x' }, targets: [] }),
      }),
      (e: { code?: string; message: string }) =>
        e.code === 'InvalidPattern' && /PUT \/rules\/bad: 400 .*pattern\.type/.test(e.message),
    );
    assert.equal((await getRule('bad')).status, 404);
    await assert.rejects(
      rule({ RequestType: 'Create', ResourceProperties: { RuleName: 'a/b', Rule: '{}' } }),
      {
        code: 'InvalidRequest',
        field: 'RuleName',
      },
    );
    await assert.rejects(rule({ RequestType: 'Create', ResourceProperties: { RuleName: 'ok', Rule: '{' } }), {
      code: 'InvalidRequest',
      field: 'Rule',
    });
  });

  it('fails with the error type and message (no stack) when the api function throws', async () => {
    invokeApi.failNext = true;
    await assert.rejects(
      rule({ RequestType: 'Create', ResourceProperties: properties('boom', orders) }),
      (e: Error) => {
        assert.equal((e as { code?: string }).code, 'Internal');
        assert.match(e.message, /the api function failed: TypeError: the api function crashed/);
        assert.doesNotMatch(e.message, /hidden/);
        return true;
      },
    );
  });
});
