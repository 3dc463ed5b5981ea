/** The `api` handler with recorded API Gateway events: the management API of CONTRACT.md through the same app. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApiHandler } from '../../lib/adapters/aws/handlers.ts';
import { awsFixture as fixture, apiGatewayRequest as request } from '../helpers/aws-fixtures.ts';
import { repoRoot } from '../helpers/paths.ts';
import { startTestRuntime, type TestRuntime } from './runtime.ts';

describe('api handler', () => {
  let rt: TestRuntime;
  let handler: ReturnType<typeof createApiHandler>;

  before(async () => {
    rt = await startTestRuntime();
    handler = createApiHandler(async () => rt);
  });
  after(() => rt.close());

  it('creates a rule from the recorded PUT /rules/{name}', async () => {
    const result = await handler(fixture('apigw-http-v2-put-rule'));
    assert.equal(result.statusCode, 201);
    assert.equal((JSON.parse(result.body) as { name: string }).name, 'big-orders');
    const list = await handler(request('GET', '/rules'));
    assert.deepEqual(
      (JSON.parse(list.body) as { rules: Array<{ name: string }> }).rules.map((r) => r.name),
      ['big-orders'],
    );
  });

  it('answers an invalid rule with 400 and the path of the fault', async () => {
    const result = await handler(
      request('PUT', '/rules/bad', { pattern: { type: 'not-an-array' }, targets: [] }),
    );
    assert.equal(result.statusCode, 400);
    const error = (JSON.parse(result.body) as { error: { code: string } }).error;
    assert.match(error.code, /^Invalid(Pattern|Rule)$/);
  });

  it('deploys, lists and deletes functions through the Lambda runner', async () => {
    const source = readFileSync(join(repoRoot, 'test', 'fixtures', 'functions', 'noop.ts'), 'utf8');
    const deployed = await handler(request('PUT', '/functions/noop', source, 'timeoutMs=2000'));
    assert.equal(deployed.statusCode, 200, deployed.body);
    assert.equal((JSON.parse(deployed.body) as { timeoutMs: number }).timeoutMs, 2000);
    assert.ok(rt.lambda.functions.has('junction-fn-noop'));
    const list = await handler(request('GET', '/functions'));
    assert.deepEqual(
      (JSON.parse(list.body) as { functions: Array<{ name: string }> }).functions.map((f) => f.name),
      ['noop'],
    );
    assert.equal((await handler(request('DELETE', '/functions/noop'))).statusCode, 204);
    assert.equal((await handler(request('GET', '/functions/noop'))).statusCode, 404);
  });

  it('answers health and dead letters', async () => {
    const health = await handler(request('GET', '/healthz'));
    assert.equal(health.statusCode, 200);
    assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
    const letters = await handler(request('GET', '/dead-letters'));
    assert.deepEqual(JSON.parse(letters.body), { deadLetters: [] });
  });
});
