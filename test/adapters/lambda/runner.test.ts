/**
 * The Lambda FunctionRunner against a stand-in for the Lambda REST API: the requests it sends are asserted against
 * the documented shapes (CreateFunction, UpdateFunctionCode, Invoke, …), and the deployed zip really runs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  createLambdaRunner,
  type LambdaRunner,
  WRAPPER_SOURCE,
} from '../../../lib/adapters/lambda/runner.ts';
import { bundleFunction } from '../../../lib/adapters/workers/bundle.ts';
import { readZip } from '../../../lib/adapters/workers/zip.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import type { InvocationContext } from '../../../lib/ports.ts';
import { repoRoot } from '../../helpers/paths.ts';
import { type FakeLambda, startFakeLambda } from './fake-lambda.ts';

const ROLE = 'arn:aws:iam::123456789012:role/junction-functions';
const fixture = (name: string) => readFileSync(join(repoRoot, 'test', 'fixtures', 'functions', `${name}.ts`));
const event: CloudEvent = Object.freeze({
  specversion: '1.0',
  id: 'e-1',
  source: '/shop',
  type: 'com.shop.order.created',
  data: { total: 120 },
});
const context = (functionName: string): InvocationContext => ({
  functionName,
  rule: 'big-orders',
  target: 'fulfil',
  idempotencyKey: '/shop#e-1',
  attempt: 1,
});

describe('Lambda FunctionRunner', () => {
  let lambda: FakeLambda;
  let client: LambdaClient;
  let runner: LambdaRunner;

  before(async () => {
    lambda = await startFakeLambda();
    client = new LambdaClient({
      endpoint: lambda.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    runner = createLambdaRunner({ client, roleArn: ROLE, deployPollMs: 10 });
  });

  after(async () => {
    await runner.close();
    client.destroy();
    await lambda.close();
  });

  it('creates the function with POST /2015-03-31/functions in the documented shape', async () => {
    const info = await runner.deploy('echo', fixture('echo'), { timeoutMs: 5000, memoryMb: 256 });
    const request = lambda.requests.find((r) => r.method === 'POST' && r.path === '/2015-03-31/functions');
    assert.ok(request, 'a CreateFunction request');
    assert.match(String(request.headers['content-type']), /^application\/json/);
    assert.match(
      String(request.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/lambda\/aws4_request/,
    );
    const body = request.json as Record<string, unknown>;
    assert.equal(body.FunctionName, 'junction-fn-echo');
    assert.equal(body.Runtime, 'nodejs22.x');
    assert.equal(body.Handler, 'index.handler');
    assert.equal(body.Role, ROLE);
    assert.equal(body.PackageType, 'Zip');
    assert.equal(body.Timeout, 5);
    assert.equal(body.MemorySize, 256);
    assert.deepEqual(body.Tags, { 'junction:function': 'echo', 'junction:managed': 'default' });
    const zip = Buffer.from(String((body.Code as { ZipFile: string }).ZipFile), 'base64');
    const files = readZip(zip);
    assert.deepEqual([...files.keys()].sort(), ['index.mjs', 'user.mjs']);
    assert.equal(new TextDecoder().decode(files.get('index.mjs')), WRAPPER_SOURCE);
    assert.equal(
      new TextDecoder().decode(files.get('user.mjs')),
      await bundleFunction(fixture('echo'), { name: 'echo' }),
    );
    assert.equal(info.name, 'echo');
    assert.equal(info.size, zip.byteLength);
    assert.equal(info.sha256, createHash('sha256').update(zip).digest('hex'));
    assert.equal(info.timeoutMs, 5000);
    assert.equal(info.memoryMb, 256);
  });

  it('invokes with POST …/invocations, RequestResponse, and the { event, context } payload', async () => {
    const result = await runner.invoke('echo', event, context('echo'));
    const request = lambda.requests.findLast(
      (r) => r.path === '/2015-03-31/functions/junction-fn-echo/invocations',
    );
    assert.ok(request, 'an Invoke request');
    assert.equal(request.method, 'POST');
    assert.equal(request.headers['x-amz-invocation-type'], 'RequestResponse');
    const payload = request.json as { event: CloudEvent; context: Record<string, unknown> };
    assert.deepEqual(payload.event, event);
    assert.equal(payload.context.functionName, 'echo');
    assert.equal(payload.context.rule, 'big-orders');
    assert.equal(payload.context.target, 'fulfil');
    assert.equal(payload.context.idempotencyKey, '/shop#e-1');
    assert.equal(payload.context.attempt, 1);
    assert.equal(payload.context.possibleDuplicate, false);
    assert.equal(typeof payload.context.deadline, 'number');
    // The wrapper ran the user's handler(event, context), which echoed the data and the attempt.
    assert.deepEqual(result.returned, [
      {
        specversion: '1.0',
        id: 'e-1-echo',
        source: 'fn/echo',
        type: 'com.shop.order.created.echoed',
        data: { echoed: { total: 120 }, attempt: 1 },
      },
    ]);
  });

  it('updates code with PUT …/code and settings with PUT …/configuration when the function exists', async () => {
    const before = lambda.requests.length;
    const info = await runner.deploy('echo', fixture('echo'), { timeoutMs: 7000, memoryMb: 256 });
    const sent = lambda.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    assert.ok(sent.includes('PUT /2015-03-31/functions/junction-fn-echo/code'), sent.join(', '));
    assert.ok(sent.includes('PUT /2015-03-31/functions/junction-fn-echo/configuration'), sent.join(', '));
    assert.ok(!sent.includes('POST /2015-03-31/functions'), 'no second CreateFunction');
    const code = lambda.requests.find((r) => r.method === 'PUT' && r.path.endsWith('/code'));
    assert.ok(code, 'an UpdateFunctionCode request');
    const zipFile = (code.json as { ZipFile: string }).ZipFile;
    assert.ok(readZip(Buffer.from(zipFile, 'base64')).has('user.mjs'));
    const settings = lambda.requests.find((r) => r.method === 'PUT' && r.path.endsWith('/configuration'));
    assert.deepEqual(settings?.json, { Timeout: 7, MemorySize: 256 });
    assert.equal(info.timeoutMs, 7000);
  });

  it('turns a handler that threw (X-Amz-Function-Error) into a retriable FunctionError', async () => {
    await runner.deploy('throws', fixture('throws'));
    await assert.rejects(
      runner.invoke('throws', event, context('throws')),
      (error: Error & Record<string, unknown>) => {
        assert.equal(error.code, 'FunctionError');
        assert.equal(error.retriable, true);
        assert.match(error.message, /boom: e-1/);
        return true;
      },
    );
  });

  it('turns a Lambda timeout into FunctionTimeout', async () => {
    await runner.deploy('never-returns', fixture('never-returns'), { timeoutMs: 1000 });
    await assert.rejects(runner.invoke('never-returns', event, context('never-returns')), {
      code: 'FunctionTimeout',
      retriable: true,
    });
  });

  it('lists only functions with the prefix and gets only functions tagged as managed', async () => {
    lambda.functions.set('someone-else', {
      configuration: { FunctionName: 'someone-else', CodeSize: 1, Timeout: 3, MemorySize: 128 },
      zip: Buffer.alloc(0),
      tags: {},
      invocations: 0,
    });
    lambda.functions.set('junction-fn-manual', {
      configuration: { FunctionName: 'junction-fn-manual', CodeSize: 1, Timeout: 3, MemorySize: 128 },
      zip: Buffer.alloc(0),
      tags: {},
      invocations: 0,
    });
    const names = (await runner.list()).map((f) => f.name);
    assert.deepEqual(names, ['echo', 'manual', 'never-returns', 'throws']);
    assert.equal((await runner.get('echo'))?.name, 'echo');
    assert.equal(await runner.get('manual'), undefined);
    assert.equal(await runner.get('missing'), undefined);
    await assert.rejects(runner.deploy('manual', fixture('echo')), { code: 'InvalidFunction' });
  });

  it('follows NextMarker through every page of ListFunctions', async () => {
    for (let i = 0; i < 60; i++) {
      lambda.functions.set(`junction-fn-bulk-${String(i).padStart(2, '0')}`, {
        configuration: {
          FunctionName: `junction-fn-bulk-${String(i).padStart(2, '0')}`,
          Timeout: 3,
          MemorySize: 128,
        },
        zip: Buffer.alloc(0),
        tags: { 'junction:managed': 'default' },
        invocations: 0,
      });
    }
    const before = lambda.requests.length;
    const bulk = (await runner.list()).filter((f) => f.name.startsWith('bulk-'));
    assert.equal(bulk.length, 60);
    const pages = lambda.requests
      .slice(before)
      .filter((r) => r.method === 'GET' && r.path.startsWith('/2015-03-31/functions'));
    assert.ok(pages.length >= 2, `${pages.length} pages`);
    assert.ok(pages.slice(1).every((r) => r.query.has('Marker')));
    for (let i = 0; i < 60; i++) lambda.functions.delete(`junction-fn-bulk-${String(i).padStart(2, '0')}`);
  });

  it('deletes with DELETE /2015-03-31/functions/<name> and answers false for a missing one', async () => {
    assert.equal(await runner.delete('throws'), true);
    assert.ok(
      lambda.requests.some(
        (r) => r.method === 'DELETE' && r.path === '/2015-03-31/functions/junction-fn-throws',
      ),
    );
    assert.equal(await runner.delete('throws'), false);
    await assert.rejects(runner.invoke('throws', event, context('throws')), { code: 'NotFound' });
  });

  it('refuses to invoke, overwrite or delete a function tagged for another bus, and never calls it', async () => {
    const echoFn = lambda.functions.get('junction-fn-echo')!;
    lambda.functions.set('junction-fn-foreign', {
      configuration: { ...echoFn.configuration, FunctionName: 'junction-fn-foreign' },
      zip: echoFn.zip,
      tags: { 'junction:function': 'foreign', 'junction:managed': 'orders' },
      invocations: 0,
    });
    const refused = {
      code: 'InvalidFunction',
      field: 'name',
      message: /tagged junction:managed="orders", not "default"/,
    };
    await assert.rejects(runner.invoke('foreign', event, context('foreign')), refused);
    await assert.rejects(runner.delete('foreign'), refused);
    await assert.rejects(runner.deploy('foreign', fixture('echo')), refused);
    assert.equal(await runner.get('foreign'), undefined);
    assert.equal(lambda.functions.get('junction-fn-foreign')?.invocations, 0);
    assert.ok(
      !lambda.requests.some(
        (r) =>
          r.path.startsWith('/2015-03-31/functions/junction-fn-foreign/') ||
          (r.method === 'DELETE' && r.path.endsWith('/junction-fn-foreign')),
      ),
      'no Invoke, UpdateFunctionCode or DeleteFunction of the foreign function',
    );
    // The bus it is tagged for may invoke it (its prefix set to the same one, to share the function).
    const orders = createLambdaRunner({ client, roleArn: ROLE, busName: 'orders', prefix: 'junction-fn-' });
    const result = await orders.invoke('foreign', event, context('foreign'));
    assert.equal(result.returned.length, 1);
    assert.equal(lambda.functions.get('junction-fn-foreign')?.invocations, 1);
    lambda.functions.delete('junction-fn-foreign');
  });

  it("names and tags a named bus's functions after the bus, and checks the tag again once its check expires", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const orders = createLambdaRunner({ client, roleArn: ROLE, busName: 'orders', deployPollMs: 10, clock });
    const lambdaName = orders.lambdaName('echo');
    assert.match(lambdaName, /^jfn-[0-9a-f]{10}-echo$/);
    await orders.deploy('echo', fixture('echo'));
    assert.deepEqual(lambda.functions.get(lambdaName)?.tags, {
      'junction:function': 'echo',
      'junction:managed': 'orders',
    });
    const gets = () =>
      lambda.requests.filter((r) => r.method === 'GET' && r.path === `/2015-03-31/functions/${lambdaName}`)
        .length;
    await orders.invoke('echo', event, context('echo'));
    const afterFirst = gets();
    await orders.invoke('echo', event, context('echo'));
    assert.equal(gets(), afterFirst, 'a verified tag is trusted within tagCheckTtlMs');
    // Retagged for another bus: refused once the minute has passed.
    lambda.functions.get(lambdaName)!.tags['junction:managed'] = 'billing';
    now += 60_001;
    await assert.rejects(orders.invoke('echo', event, context('echo')), {
      code: 'InvalidFunction',
      field: 'name',
    });
    assert.equal(gets(), afterFirst + 1);
    // The default bus's runner does not see it at all (another prefix).
    assert.equal(await runner.get('echo').then((f) => f?.name), 'echo');
    assert.ok(!(await runner.list()).some((f) => f.name.startsWith('jfn-')));
    lambda.functions.delete(lambdaName);
  });

  it('rejects a bad name, a missing role and a module without a handler before calling Lambda', async () => {
    const before = lambda.requests.length;
    await assert.rejects(runner.deploy('bad name', fixture('echo')), {
      code: 'InvalidFunction',
      field: 'name',
    });
    await assert.rejects(runner.deploy('x'.repeat(53), fixture('echo')), {
      code: 'InvalidFunction',
      field: 'name',
    });
    await assert.rejects(runner.deploy('slow', fixture('echo'), { timeoutMs: 901_000 }), {
      code: 'InvalidFunction',
      field: 'timeoutMs',
    });
    const noRole = createLambdaRunner({ client });
    await assert.rejects(noRole.deploy('echo', fixture('echo')), {
      code: 'InvalidRequest',
      field: 'roleArn',
    });
    await assert.rejects(runner.deploy('nohandler', new TextEncoder().encode('export const other = 1;')), {
      code: 'InvalidFunction',
      message: /exports no handler/,
    });
    await assert.rejects(runner.deploy('broken', new TextEncoder().encode('export const handler = (;')), {
      code: 'InvalidFunction',
    });
    assert.equal(lambda.requests.length, before);
  });
});
