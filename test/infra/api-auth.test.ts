/** The management API's auth options (issue #15): IAM (default), a JWT authorizer, Cognito; the console's routes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { JunctionBus } from '../../lib/infra/junction-bus.ts';
import { synthStack } from './synth-fixture.ts';

const noBundling = { bundle: false } as const;

/** The environment of the `api` handler (the one whose description names it). */
function apiEnvironment(template: Template): Record<string, unknown> {
  const fns = Object.values(template.findResources('AWS::Lambda::Function')).map(
    (f) => f.Properties as { Description?: string; Environment?: { Variables: Record<string, unknown> } },
  );
  const api = fns.filter((f) => f.Environment?.Variables.JUNCTION_API_AUTH !== undefined);
  assert.equal(api.length, 1, 'exactly one function (api) carries JUNCTION_API_AUTH');
  return (api[0] as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
}

function routes(template: Template): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const r of Object.values(template.findResources('AWS::ApiGatewayV2::Route'))) {
    const p = r.Properties as { RouteKey: string };
    out.set(p.RouteKey, p as unknown as Record<string, unknown>);
  }
  return out;
}

describe('JunctionBus auth', () => {
  test('IAM by default: every route signed, no console route, no authorizer', () => {
    const { template } = synthStack({}, noBundling);
    const r = routes(template);
    assert.deepEqual([...r.entries()].map(([key, p]) => `${key} ${p.AuthorizationType}`).sort(), [
      'ANY /{proxy+} AWS_IAM',
      'POST / AWS_IAM',
      'POST /events AWS_IAM',
    ]);
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
  });

  test('jwt: an HTTP API JWT authorizer on the management routes; publishers keep IAM', () => {
    const { template } = synthStack(
      {
        auth: {
          type: 'jwt',
          issuer: 'https://login.example.com/',
          audience: ['junction', 'junction-console'],
          scopeClaims: ['scp'],
          console: {
            clientId: 'console-client',
            authorizationEndpoint: 'https://login.example.com/authorize',
            tokenEndpoint: 'https://login.example.com/oauth/token',
          },
        },
      },
      noBundling,
    );
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://login.example.com/', Audience: ['junction', 'junction-console'] },
    });
    const r = routes(template);
    assert.equal(r.get('ANY /{proxy+}')?.AuthorizationType, 'JWT');
    for (const key of ['GET /console', 'GET /console/{proxy+}']) {
      assert.equal(r.get(key)?.AuthorizationType, 'NONE', `${key}: the console's assets load before sign-in`);
    }
    assert.ok(r.get('ANY /{proxy+}')?.AuthorizerId, 'the proxy route names the authorizer');
    assert.equal(r.get('POST /events')?.AuthorizationType, 'AWS_IAM', 'IAM publishers are unaffected');
    assert.equal(r.get('POST /')?.AuthorizationType, 'AWS_IAM');
    assert.deepEqual(apiEnvironment(template), {
      ...apiEnvironment(template),
      JUNCTION_API_AUTH: 'jwt',
      JUNCTION_JWT_SCOPE_CLAIMS: 'scp',
      JUNCTION_CONSOLE_CLIENT_ID: 'console-client',
      JUNCTION_CONSOLE_AUTHORIZE_URL: 'https://login.example.com/authorize',
      JUNCTION_CONSOLE_TOKEN_URL: 'https://login.example.com/oauth/token',
      JUNCTION_CONSOLE_SCOPES: 'openid',
    });
  });

  test('jwt: refused on a REST API, and with a bad issuer or no audience, naming the prop', () => {
    assert.throws(
      () =>
        synthStack(
          { apiType: 'rest', auth: { type: 'jwt', issuer: 'https://i.example.com/', audience: ['a'] } },
          noBundling,
        ),
      /REST API has no JWT authorizer/,
    );
    assert.throws(
      () =>
        synthStack({ auth: { type: 'jwt', issuer: 'http://i.example.com/', audience: ['a'] } }, noBundling),
      /auth\.issuer must be an https:\/\/ URL/,
    );
    assert.throws(
      () => synthStack({ auth: { type: 'jwt', issuer: 'https://i.example.com/', audience: [] } }, noBundling),
      /auth\.audience/,
    );
  });

  test('cognito on the HTTP API: a pool with MFA, groups, a Hosted UI and a PKCE client for the console', () => {
    const { template } = synthStack({ auth: { type: 'cognito' } }, noBundling);
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      UserPoolTier: 'PLUS',
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
    });
    template.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
    const groups = Object.values(template.findResources('AWS::Cognito::UserPoolGroup')).map(
      (g) => (g.Properties as { GroupName: string }).GroupName,
    );
    assert.deepEqual(groups.sort(), ['junction:manage', 'junction:publish', 'junction:read']);
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: {
        'Fn::Join': ['-', [Match.stringLikeRegexp('^junction-[a-z0-9-]+$'), { Ref: 'AWS::AccountId' }]],
      },
    });
    const client = Object.values(template.findResources('AWS::Cognito::UserPoolClient'))[0]?.Properties as
      | Record<string, unknown>
      | undefined;
    assert.equal(client?.GenerateSecret, false, 'a public client: the browser holds no secret');
    assert.deepEqual(client?.AllowedOAuthFlows, ['code']);
    assert.deepEqual(client?.AllowedOAuthScopes, ['openid', 'email', 'profile']);
    assert.match(JSON.stringify(client?.CallbackURLs), /ApiEndpoint.*console\//);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: Match.objectLike({ Issuer: Match.anyValue(), Audience: Match.anyValue() }),
    });
    assert.equal(routes(template).get('ANY /{proxy+}')?.AuthorizationType, 'JWT');
    const env = apiEnvironment(template);
    assert.equal(env.JUNCTION_API_AUTH, 'cognito');
    assert.equal(
      env.JUNCTION_CONSOLE_TOKEN,
      'id_token',
      'the ID token: what both authorizers take from Cognito',
    );
    assert.match(JSON.stringify(env.JUNCTION_CONSOLE_AUTHORIZE_URL), /oauth2\/authorize/);
    assert.match(JSON.stringify(env.JUNCTION_CONSOLE_TOKEN_URL), /oauth2\/token/);
    assert.match(JSON.stringify(env.JUNCTION_CONSOLE_CLIENT_ID), /ConsoleClient/);
  });

  test('cognito on the REST API: a Cognito user-pool authorizer on the management method', () => {
    const { template } = synthStack({ apiType: 'rest', auth: { type: 'cognito' } }, noBundling);
    template.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS' });
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map(
      (m) => m.Properties as { HttpMethod: string; AuthorizationType: string },
    );
    assert.deepEqual(methods.map((m) => `${m.HttpMethod} ${m.AuthorizationType}`).sort(), [
      'ANY COGNITO_USER_POOLS',
      'GET NONE',
      'GET NONE',
      'POST AWS_IAM',
      'POST AWS_IAM',
    ]);
  });

  test('cognito with your own pool and client: none created, the client authorizes, the prefix names the UI', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Own');
    const userPool = new cognito.UserPool(stack, 'Pool');
    const userPoolClient = userPool.addClient('Client');
    new JunctionBus(stack, 'Bus', {
      auth: { type: 'cognito', userPool, userPoolClient, domainPrefix: 'acme-ops' },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    template.resourceCountIs('AWS::Cognito::UserPoolDomain', 0);
    template.resourceCountIs('AWS::Cognito::UserPoolGroup', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: Match.objectLike({ Audience: [{ Ref: Match.stringLikeRegexp('^PoolClient') }] }),
    });
    const env = apiEnvironment(template);
    assert.match(
      JSON.stringify(env.JUNCTION_CONSOLE_AUTHORIZE_URL),
      /https:\/\/acme-ops\.auth\..*oauth2\/authorize/,
    );
    assert.throws(
      () => synthStack({ auth: { type: 'cognito', domainPrefix: 'Bad_Prefix' } }, noBundling),
      /auth\.domainPrefix/,
    );
    assert.throws(
      () => synthStack({ auth: { type: 'cognito', userPoolClient } }, noBundling),
      /auth\.userPoolClient needs auth\.userPool/,
    );
  });
});
