/**
 * Scopes on AWS with a JWT or Cognito authorizer (issue #15): API Gateway verifies the token (signature, issuer,
 * audience, expiry) and hands its claims to the `api` function in `requestContext.authorizer`; the function maps
 * them to Junction's grants exactly as the embedded bus does (lib/core/auth/claims.ts) and enforces the same scopes
 * (`read` cannot PUT a rule), so the gateway only authenticates and the function authorizes.
 */
import { type ClaimMapping, principalOfClaims } from '../../core/auth/claims.ts';
import type { Principal } from '../../core/auth/scopes.ts';
import { JunctionError } from '../../core/errors.ts';
import { isObject } from '../../core/values.ts';
import type { ApiRequest } from '../../server/app.ts';
import { asPrincipal, needsOf, refusalOf, segments } from '../../server/auth.ts';
import { type ConsoleSignIn, validateSignIn } from '../../server/console.ts';

/** How the API is authenticated at the gateway: `iam` (SigV4: any caller IAM lets through may do everything). */
export interface GatewayAuth extends ClaimMapping {
  readonly type: 'iam' | 'jwt';
}

/** The api function's auth from its environment: `JUNCTION_API_AUTH` (iam, jwt, cognito) and its claim names. */
export function gatewayAuthFromEnv(env: Readonly<Record<string, string | undefined>>): GatewayAuth {
  const type = env.JUNCTION_API_AUTH ?? 'iam';
  if (type === 'iam') return { type: 'iam' };
  if (type !== 'jwt' && type !== 'cognito') {
    throw new JunctionError('InvalidRequest', `JUNCTION_API_AUTH must be iam, jwt or cognito, got ${type}`, {
      field: 'JUNCTION_API_AUTH',
    });
  }
  const claims = (env.JUNCTION_JWT_SCOPE_CLAIMS ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  return {
    type: 'jwt',
    scopeClaims: claims.length > 0 ? claims : type === 'cognito' ? ['scope', 'cognito:groups'] : ['scope'],
    ...(env.JUNCTION_JWT_SOURCE_PREFIX_CLAIM
      ? { sourcePrefixClaim: env.JUNCTION_JWT_SOURCE_PREFIX_CLAIM }
      : {}),
  };
}

/**
 * The claims an authorizer verified: `requestContext.authorizer.jwt.claims` (HTTP API JWT authorizer, with its
 * `scopes` as the `scope` claim when that is absent) or `requestContext.authorizer.claims` (REST API Cognito
 * authorizer). Undefined when the event carries none.
 */
export function gatewayClaims(event: unknown): Record<string, unknown> | undefined {
  if (!isObject(event) || !isObject(event.requestContext)) return undefined;
  const authorizer = event.requestContext.authorizer;
  if (!isObject(authorizer)) return undefined;
  if (isObject(authorizer.jwt) && isObject(authorizer.jwt.claims)) {
    const claims = authorizer.jwt.claims;
    const scopes = authorizer.jwt.scopes;
    return claims.scope === undefined && Array.isArray(scopes) ? { ...claims, scope: scopes } : claims;
  }
  if (isObject(authorizer.claims)) return authorizer.claims;
  return undefined;
}

/** The token's principal, or `Unauthorized` when the event carries no verified claims (fail closed). */
export function gatewayPrincipal(event: unknown, auth: GatewayAuth): Principal {
  const claims = gatewayClaims(event);
  if (claims === undefined) {
    throw new JunctionError(
      'Unauthorized',
      'this call needs a bearer token verified by the API Gateway authorizer; the request carries no claims',
    );
  }
  return principalOfClaims(claims, auth);
}

/**
 * The request as the app may serve it for this event's token, or the error to answer: `Unauthorized` without
 * claims, `Forbidden` when the token's scopes do not cover the call. With `iam`, the request as it is.
 */
export function authorizeGatewayRequest(request: ApiRequest, event: unknown, auth: GatewayAuth): ApiRequest {
  if (auth.type === 'iam') return request;
  const parts = segments(request.path);
  if (parts === undefined) {
    throw new JunctionError('InvalidRequest', `the path ${request.path} is not valid percent-encoding`, {
      field: 'path',
    });
  }
  const { need, buses } = needsOf(request, parts);
  if (need === 'public') return request;
  const principal = gatewayPrincipal(event, auth);
  const refusal = refusalOf(request, principal, need, buses);
  if (refusal !== undefined) throw refusal;
  return asPrincipal(request, principal, need);
}

/** The console's sign-in from the api function's environment (`JUNCTION_CONSOLE_*`), when all three are set. */
export function consoleSignInFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): ConsoleSignIn | undefined {
  const clientId = env.JUNCTION_CONSOLE_CLIENT_ID;
  const authorizationEndpoint = env.JUNCTION_CONSOLE_AUTHORIZE_URL;
  const tokenEndpoint = env.JUNCTION_CONSOLE_TOKEN_URL;
  if (!clientId || !authorizationEndpoint || !tokenEndpoint) return undefined;
  const scopes = (env.JUNCTION_CONSOLE_SCOPES ?? 'openid').split(' ').filter((s) => s !== '');
  const token = env.JUNCTION_CONSOLE_TOKEN === 'id_token' ? ({ token: 'id_token' } as const) : {};
  return validateSignIn(
    { clientId, authorizationEndpoint, tokenEndpoint, scopes, ...token },
    'JUNCTION_CONSOLE',
  );
}

/**
 * The path before the app's path in the browser's URL: a REST API's stage (`/v1`, from `requestContext.path`), an
 * HTTP API's named stage; '' on `$default` and at a custom domain's root.
 */
export function browserBase(event: unknown, appPath: string): string {
  if (!isObject(event) || !isObject(event.requestContext)) return '';
  const context = event.requestContext;
  if (typeof context.path === 'string' && context.path.endsWith(appPath))
    return context.path.slice(0, context.path.length - appPath.length);
  if (
    typeof event.rawPath === 'string' &&
    typeof context.stage === 'string' &&
    context.stage !== '$default'
  ) {
    const prefix = `/${context.stage}`;
    if (event.rawPath.startsWith(`${prefix}/`)) return prefix;
  }
  return '';
}
