/**
 * How callers of the management API authenticate at API Gateway (issue #15): IAM (SigV4, the default), a JWT
 * authorizer (any OpenID Connect issuer; HTTP API only), or Cognito (a user pool the construct creates, or yours).
 * The gateway verifies the token; the `api` function maps its claims to Junction's scopes and enforces them
 * (lib/adapters/aws/gateway-auth.ts), as the embedded bus does with its keys. Ingest keeps `ingestAuthorization`.
 */
import { Aws, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwRest from 'aws-cdk-lib/aws-apigateway';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** The sign-in of the web console against an OAuth 2.0 issuer (authorization code with PKCE, a public client). */
export interface ConsoleSignInOptions {
  /** The client id of a public client (no secret) whose redirect URIs include `<api url>/console/`. */
  readonly clientId: string;
  /** The issuer's authorization endpoint (`https://issuer/authorize`). */
  readonly authorizationEndpoint: string;
  /** The issuer's token endpoint (`https://issuer/oauth/token`); it must answer CORS for the API's origin. */
  readonly tokenEndpoint: string;
  /** The scopes to ask for. @default ['openid'] */
  readonly scopes?: readonly string[];
}

/** Callers sign requests with SigV4 (`grantManage`): a browser cannot, so the console is not served. */
export interface IamAuth {
  readonly type: 'iam';
}

/**
 * Bearer JWTs from an OpenID Connect issuer, verified by an HTTP API JWT authorizer (a REST API has none: use
 * `cognito`, or `apiType: 'http'`).
 */
export interface JwtAuth {
  readonly type: 'jwt';
  /** The issuer URL (`iss`); API Gateway reads its keys from `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Accepted audiences (`aud`, or `client_id` for access tokens without `aud`). At least one. */
  readonly audience: readonly string[];
  /** The claims holding Junction's scopes (`junction:manage`, `junction:read:orders`, …). @default ['scope'] */
  readonly scopeClaims?: readonly string[];
  /** The console's sign-in; without it the console asks for a pasted token. @default paste only */
  readonly console?: ConsoleSignInOptions;
}

/**
 * A Cognito user pool: yours, or one the construct creates (MFA required, strong passwords, a Hosted UI domain, a
 * public app client for the console, and the groups `junction:manage`, `junction:read`, `junction:publish`). A
 * user's scopes are their groups (`cognito:groups`): an app client's OAuth scopes are the same for every user, so
 * they cannot say who may manage.
 */
export interface CognitoAuth {
  readonly type: 'cognito';
  /** @default a new user pool */
  readonly userPool?: cognito.IUserPool;
  /** With `userPool`: its app client (the one the console and callers use). @default a new public client */
  readonly userPoolClient?: cognito.IUserPoolClient;
  /**
   * The Hosted UI's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`), globally unique per region.
   * With your own `userPool` and no prefix, the console asks for a pasted token.
   * @default `junction-<bus name>-<account>` on a created pool
   */
  readonly domainPrefix?: string;
  /** More redirect URIs of the created client (e.g. a custom domain's `/console/`). @default the API's own */
  readonly callbackUrls?: readonly string[];
  /** @default ['scope', 'cognito:groups'] */
  readonly scopeClaims?: readonly string[];
}

export type ApiAuth = IamAuth | JwtAuth | CognitoAuth;

export interface JunctionApiAuthProps {
  readonly auth: ApiAuth;
  readonly apiType: 'http' | 'rest';
  readonly busName: string;
  /** The API's URL (ends with `/`), for the created client's redirect URI. */
  readonly url: () => string;
  /** The custom domain's URL (`https://name/`), another redirect URI of a created client. @default none */
  readonly domainUrl?: string;
}

/** The groups a created pool gets: each grants its scope on the default bus. */
export const COGNITO_GROUPS = ['junction:manage', 'junction:read', 'junction:publish'] as const;

/** The authorizer of the management routes and what the `api` function needs to know about it. */
export class JunctionApiAuth extends Construct {
  readonly type: ApiAuth['type'];
  /** HTTP API: the authorizer of `/{proxy+}`; undefined with IAM. */
  readonly httpAuthorizer?: apigwv2.IHttpRouteAuthorizer;
  /** REST API: the Cognito authorizer of `/{proxy+}`; undefined with IAM. */
  readonly restAuthorizer?: apigw.IAuthorizer;
  readonly userPool?: cognito.IUserPool;
  readonly userPoolClient?: cognito.IUserPoolClient;
  /** The Hosted UI's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`), when known. */
  readonly hostedUiUrl?: string;
  private readonly signIn?: ConsoleSignInOptions & { readonly token?: 'id_token' };
  private readonly scopeClaims?: readonly string[];

  constructor(scope: Construct, id: string, props: JunctionApiAuthProps) {
    super(scope, id);
    const { auth } = props;
    this.type = auth.type;
    if (auth.type === 'iam') return;
    if (auth.type === 'jwt') {
      if (props.apiType === 'rest') {
        throw new Error(
          "auth: a REST API has no JWT authorizer (only Cognito user pools, or a Lambda authorizer); use apiType 'http' or auth { type: 'cognito' }",
        );
      }
      if (!/^https:\/\/\S+$/.test(auth.issuer))
        throw new Error(`auth.issuer must be an https:// URL, got '${auth.issuer}'`);
      if (auth.audience.length === 0 || auth.audience.some((a) => a === ''))
        throw new Error('auth.audience must name at least one audience (non-empty strings)');
      for (const [name, value] of Object.entries({
        'auth.console.authorizationEndpoint': auth.console?.authorizationEndpoint,
        'auth.console.tokenEndpoint': auth.console?.tokenEndpoint,
      })) {
        if (value !== undefined && !/^https:\/\/\S+$/.test(value))
          throw new Error(`${name} must be an https:// URL, got '${value}'`);
      }
      this.httpAuthorizer = new HttpJwtAuthorizer('Jwt', auth.issuer, { jwtAudience: [...auth.audience] });
      this.signIn = auth.console;
      this.scopeClaims = auth.scopeClaims;
      return;
    }
    if (auth.userPoolClient !== undefined && auth.userPool === undefined)
      throw new Error('auth.userPoolClient needs auth.userPool (the pool the client belongs to)');
    this.scopeClaims = auth.scopeClaims;
    let pool = auth.userPool;
    let client = auth.userPoolClient;
    let prefix = auth.domainPrefix;
    if (prefix !== undefined && !/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix))
      throw new Error(`auth.domainPrefix must be lowercase letters, digits and hyphens, got '${prefix}'`);
    if (pool === undefined) {
      const created = new cognito.UserPool(this, 'UserPool', {
        selfSignUpEnabled: false,
        signInAliases: { email: true, username: true },
        mfa: cognito.Mfa.REQUIRED,
        mfaSecondFactor: { otp: true, sms: false },
        passwordPolicy: {
          minLength: 12,
          requireLowercase: true,
          requireUppercase: true,
          requireDigits: true,
          requireSymbols: true,
        },
        featurePlan: cognito.FeaturePlan.PLUS,
        accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
        removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      });
      for (const [i, name] of COGNITO_GROUPS.entries()) {
        new cognito.CfnUserPoolGroup(this, `Group${i}`, {
          userPoolId: created.userPoolId,
          groupName: name,
          description: `Junction: the ${name.slice(9)} scope on the default bus`,
        });
      }
      pool = created;
      prefix ??= Fn.join('-', [
        `junction-${props.busName.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`,
        Aws.ACCOUNT_ID,
      ]);
    }
    let domain: cognito.UserPoolDomain | undefined;
    if (prefix !== undefined && auth.userPool === undefined) {
      domain = (pool as cognito.UserPool).addDomain('HostedUi', { cognitoDomain: { domainPrefix: prefix } });
    }
    if (client === undefined) {
      const redirects = [
        `${props.url()}console/`,
        ...(props.domainUrl === undefined ? [] : [`${props.domainUrl}console/`]),
        ...(auth.callbackUrls ?? []),
      ];
      client = new cognito.UserPoolClient(this, 'ConsoleClient', {
        userPool: pool,
        generateSecret: false,
        preventUserExistenceErrors: true,
        authFlows: {},
        oAuth: {
          flows: { authorizationCodeGrant: true },
          scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
          callbackUrls: redirects,
          logoutUrls: redirects,
        },
      });
    }
    this.userPool = pool;
    this.userPoolClient = client;
    const region = Stack.of(this).region;
    const hosted =
      domain !== undefined
        ? domain.baseUrl()
        : prefix !== undefined
          ? `https://${prefix}.auth.${region}.amazoncognito.com`
          : undefined;
    this.hostedUiUrl = hosted;
    if (hosted !== undefined) {
      this.signIn = {
        clientId: client.userPoolClientId,
        authorizationEndpoint: `${hosted}/oauth2/authorize`,
        tokenEndpoint: `${hosted}/oauth2/token`,
        scopes: ['openid', 'email', 'profile'],
        // The ID token: Cognito's REST API authorizer takes it without OAuth scopes on the method, the HTTP API
        // authorizer checks its aud (the client), and it carries cognito:groups.
        token: 'id_token',
      };
    }
    if (props.apiType === 'http') {
      this.httpAuthorizer = new HttpUserPoolAuthorizer('Cognito', pool, { userPoolClients: [client] });
    } else {
      this.restAuthorizer = new apigwRest.CognitoUserPoolsAuthorizer(this, 'RestAuthorizer', {
        cognitoUserPools: [pool],
      });
    }
  }

  /** What the `api` function reads (gateway-auth.ts's `gatewayAuthFromEnv`, the console's sign-in). */
  get environment(): Record<string, string> {
    if (this.type === 'iam') return {};
    return {
      JUNCTION_API_AUTH: this.type,
      ...(this.scopeClaims === undefined ? {} : { JUNCTION_JWT_SCOPE_CLAIMS: this.scopeClaims.join(',') }),
      ...(this.signIn === undefined
        ? {}
        : {
            JUNCTION_CONSOLE_CLIENT_ID: this.signIn.clientId,
            JUNCTION_CONSOLE_AUTHORIZE_URL: this.signIn.authorizationEndpoint,
            JUNCTION_CONSOLE_TOKEN_URL: this.signIn.tokenEndpoint,
            JUNCTION_CONSOLE_SCOPES: (this.signIn.scopes ?? ['openid']).join(' '),
            ...(this.signIn.token === undefined ? {} : { JUNCTION_CONSOLE_TOKEN: this.signIn.token }),
          }),
    };
  }
}
