/**
 * The console on AWS (issue #17): the api function's synthesized bundle carries the console's assets, bundled at
 * build time, and serves them as deployed — public under `/console` with JWT auth (with the sign-in the page offers
 * and the stage in its links), 404 with the reason under IAM.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { CfnElement } from 'aws-cdk-lib';
import { fixtureEntries, type Synthesized, synthStack } from './synth-fixture.ts';

type Handler = (
  event: unknown,
) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;

const { api: _realApi, ...fixtures } = fixtureEntries;

function restEvent(path: string, stage = 'v1') {
  return {
    version: '1.0',
    httpMethod: 'GET',
    path,
    headers: { accept: 'text/html' },
    body: null,
    isBase64Encoded: false,
    requestContext: { stage, path: `/${stage}${path}` },
  };
}

describe('the console in the api bundle', () => {
  let synth: Synthesized;
  let dir: string;
  let environment: Record<string, unknown>;
  const saved = { ...process.env };

  before(() => {
    synth = synthStack({
      handlerEntries: fixtures,
      auth: {
        type: 'jwt',
        issuer: 'https://login.example.com/',
        audience: ['junction'],
        console: {
          clientId: 'console',
          authorizationEndpoint: 'https://login.example.com/authorize',
          tokenEndpoint: 'https://login.example.com/oauth/token',
        },
      },
    });
    const fn = synth.stack.bus.apiFunction;
    const id = synth.stack.getLogicalId(fn.node.defaultChild as CfnElement);
    const resource = synth.template.findResources('AWS::Lambda::Function')[id]?.Properties as {
      Code: { S3Key: string };
      Environment: { Variables: Record<string, unknown> };
    };
    environment = resource.Environment.Variables;
    const assets = JSON.parse(readFileSync(join(synth.app.outdir, 'Junction.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const path = assets.files[resource.Code.S3Key.replace(/\.zip$/, '')]?.source.path;
    assert.ok(path, 'the api function has an asset');
    dir = join(synth.app.outdir, path);
  });
  after(() => {
    process.env = saved;
  });

  test('ships index.html, app.css and a bundled app.js beside the handler', () => {
    for (const name of ['index.html', 'app.css', 'app.js'])
      assert.ok(existsSync(join(dir, 'console', name)), name);
    const script = readFileSync(join(dir, 'console', 'app.js'), 'utf8');
    assert.ok(script.length > 10_000, 'the script is the bundle (Preact and the console), not the source');
    assert.doesNotMatch(script, /from\s*["']preact/, 'its imports are bundled in');
  });

  test('serves them as deployed: public, with the stage and the sign-in; the API still needs claims', async () => {
    for (const [name, value] of Object.entries(environment)) {
      if (typeof value === 'string' && name.startsWith('JUNCTION_')) process.env[name] = value;
    }
    assert.equal(process.env.JUNCTION_API_AUTH, 'jwt');
    const { handler } = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as { handler: Handler };
    const page = await handler(restEvent('/console'));
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /<script type="module" src="\/v1\/console\/app\.js"><\/script>/);
    assert.match(
      page.headers['content-security-policy'] ?? '',
      /connect-src 'self' https:\/\/login\.example\.com;/,
    );
    const script = await handler(restEvent('/console/app.js'));
    assert.equal(script.statusCode, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    const config = await handler(restEvent('/console/config.json'));
    assert.deepEqual(JSON.parse(config.body), {
      signIn: {
        clientId: 'console',
        authorizationEndpoint: 'https://login.example.com/authorize',
        tokenEndpoint: 'https://login.example.com/oauth/token',
        scopes: ['openid'],
      },
    });
    const api = await handler(restEvent('/rules'));
    assert.equal(api.statusCode, 401, 'no claims, no API: only the console is public');
  });
});
