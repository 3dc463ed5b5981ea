/**
 * The `api` handler behind a JWT or Cognito authorizer (issue #15): API Gateway verified the token and put its claims
 * in `requestContext.authorizer`; the function maps them to Junction's scopes and enforces them itself, as the
 * embedded bus does with its keys (a token with `read` cannot PUT a rule).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gatewayAuthFromEnv } from '../../lib/adapters/aws/gateway-auth.ts';
import { createApiHandler } from '../../lib/adapters/aws/handlers.ts';
import { repoRoot } from '../helpers/paths.ts';
import { startTestRuntime, type TestRuntime } from './runtime.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', `${name}.json`), 'utf8')) as {
    requestContext: Record<string, unknown> & { http: Record<string, unknown> };
  };

const RULE = {
  pattern: { source: ['shop'] },
  targets: [{ id: 'hook', type: 'http', url: 'http://127.0.0.1:9/hook' }],
};

/** An HTTP API (payload 2.0) event as the JWT authorizer passes it: claims flattened to strings, scopes apart. */
function httpEvent(
  method: string,
  rawPath: string,
  claims: Record<string, string> | undefined,
  body?: unknown,
) {
  const base = fixture('apigw-http-v2-put-rule');
  return {
    ...base,
    rawPath,
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      ...base.requestContext,
      authorizer: claims === undefined ? undefined : { jwt: { claims, scopes: null } },
      http: { ...base.requestContext.http, method, path: rawPath },
    },
  };
}

/** A REST API (payload 1.0) event as the Cognito user-pool authorizer passes it. */
function restEvent(method: string, path: string, claims: Record<string, string>, body?: unknown) {
  return {
    version: '1.0',
    httpMethod: method,
    path,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { stage: 'v1', path: `/v1${path}`, authorizer: { claims } },
  };
}

const status = (r: { statusCode: number }) => r.statusCode;
const code = (r: { body: string }) => (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;

describe('api handler with a JWT authorizer', () => {
  let rt: TestRuntime;
  let handler: ReturnType<typeof createApiHandler>;

  before(async () => {
    rt = await startTestRuntime();
    handler = createApiHandler(async () => rt, { auth: gatewayAuthFromEnv({ JUNCTION_API_AUTH: 'jwt' }) });
  });
  after(() => rt.close());

  it('lets a manage token PUT a rule, and a read token only read it', async () => {
    const manager = { sub: 'ops', scope: 'openid junction:manage' };
    const reader = { sub: 'viewer', scope: 'junction:read' };
    assert.equal(status(await handler(httpEvent('PUT', '/rules/shop', manager, RULE))), 201);
    const refused = await handler(httpEvent('PUT', '/rules/shop', reader, RULE));
    assert.equal(status(refused), 403);
    assert.equal(code(refused), 'Forbidden');
    assert.match(refused.body, /jwt:viewer may not PUT \/rules\/shop: it needs the manage scope/);
    assert.equal(status(await handler(httpEvent('DELETE', '/rules/shop', reader))), 403);
    const list = await handler(httpEvent('GET', '/rules', reader));
    assert.equal(status(list), 200);
    assert.deepEqual(
      (JSON.parse(list.body) as { rules: Array<{ name: string }> }).rules.map((r) => r.name),
      ['shop'],
    );
  });

  it('refuses a token without Junction scopes, one for another bus, and an event with no claims', async () => {
    const none = await handler(httpEvent('GET', '/rules', { sub: 'x', scope: 'openid email' }));
    assert.equal(status(none), 403);
    const otherBus = await handler(httpEvent('GET', '/rules', { sub: 'x', scope: 'junction:manage:orders' }));
    assert.equal(status(otherBus), 403);
    const unsigned = await handler(httpEvent('GET', '/rules', undefined));
    assert.equal(status(unsigned), 401);
    assert.equal(code(unsigned), 'Unauthorized');
    assert.equal(unsigned.headers['www-authenticate'], 'Bearer realm="junction"');
  });

  it('reads the scopes API Gateway passes apart, and public calls need none', async () => {
    const event = httpEvent('GET', '/rules', { sub: 'svc' });
    const withScopes = {
      ...event,
      requestContext: {
        ...event.requestContext,
        authorizer: { jwt: { claims: { sub: 'svc' }, scopes: ['junction:read'] } },
      },
    };
    assert.equal(status(await handler(withScopes)), 200);
    assert.equal(status(await handler(httpEvent('GET', '/healthz', undefined))), 200);
  });

  it('maps Cognito groups (REST API, user-pool authorizer) to scopes, per bus', async () => {
    const cognito = createApiHandler(async () => rt, {
      auth: gatewayAuthFromEnv({ JUNCTION_API_AUTH: 'cognito' }),
    });
    const reader = { sub: 'u-1', 'cognito:groups': 'junction:read' };
    const managerOfOrders = { sub: 'u-2', 'cognito:groups': '[junction:manage:orders junction:read]' };
    assert.equal(status(await cognito(restEvent('GET', '/rules', reader))), 200);
    assert.equal(status(await cognito(restEvent('PUT', '/rules/other', reader, RULE))), 403);
    assert.equal(status(await cognito(restEvent('PUT', '/rules/other', managerOfOrders, RULE))), 403);
    const admin = { sub: 'u-3', 'cognito:groups': 'junction:manage,junction:read' };
    assert.equal(status(await cognito(restEvent('PUT', '/rules/other', admin, RULE))), 201);
  });

  it('with IAM (the default) trusts the gateway: no claims needed; no console, and it says why', async () => {
    const iam = createApiHandler(async () => rt, { console: { prebuiltDir: join(repoRoot, 'console') } });
    assert.equal(status(await iam(httpEvent('GET', '/rules', undefined))), 200);
    const page = await iam(httpEvent('GET', '/console', undefined));
    assert.equal(status(page), 404);
    assert.equal(code(page), 'NotFound');
    assert.match(page.body, /not served with IAM auth: a browser cannot sign requests with SigV4/);
    assert.throws(() => gatewayAuthFromEnv({ JUNCTION_API_AUTH: 'oauth' }), /JUNCTION_API_AUTH must be/);
  });
});
