/**
 * Authentication and authorization in front of the HTTP API (`App → App`): the browser guards (Host, Origin,
 * cross-site content types), credentials (API keys, AWS Signature V4, JWTs from a JWKS), scopes, the source-prefix
 * condition on publishing, the `/keys` and `/audit` endpoints, and the audit log of management calls.
 */

import { principalOfClaims } from '../core/auth/claims.ts';
import {
  checkCrossSite,
  checkHost,
  checkOrigin,
  isLoopback,
  originAllowed,
  type RequestGuardOptions,
} from '../core/auth/request-guard.ts';
import {
  ANONYMOUS,
  busNeedsOf,
  checkSource,
  DEFAULT_BUS,
  forbidden,
  type Grant,
  type Need,
  type Principal,
  permits,
} from '../core/auth/scopes.ts';
import { invalidRequest, JunctionError, toJunctionError } from '../core/errors.ts';
import { awsErrorBody } from '../core/eventbridge.ts';
import { amzBuses } from '../core/eventbridge-api.ts';
import type { Clock, CredentialStore, StoredCredential } from '../ports.ts';
import { systemClock } from '../ports.ts';
import type { ApiRequest, ApiResponse, App } from './app.ts';
import {
  createCredential,
  describeCredential,
  hashKey,
  parseNewCredential,
  type SecretBox,
} from './auth-keys.ts';
import { isSigV4, SigV4Error, verifySigV4 } from './auth-sigv4.ts';
import { bodyJson, bodyText, readJsonBody } from './body.ts';
import type { ConsoleSignIn } from './console.ts';

/** Verifying bearer JWTs against a JWKS (both publishers and managers). */
export interface JwtOptions {
  /** Where the signing keys are (`https://issuer/.well-known/jwks.json`). */
  readonly jwksUrl: string;
  /** The required `iss`. @default any */
  readonly issuer?: string;
  /** The required `aud`. @default any */
  readonly audience?: string;
  /**
   * The claim holding scopes: a space-separated string or an array; `junction:publish`, `junction:manage` and
   * `junction:read` grant those scopes on the default bus, `junction:publish:orders` (and so on) on the bus
   * `orders`. @default 'scope'
   */
  readonly scopeClaim?: string;
  /** The claim holding a source prefix for `junction:publish`. @default 'junction:source_prefix' */
  readonly sourcePrefixClaim?: string;
  /**
   * The web console's sign-in at the issuer (authorization code with PKCE, a public client whose redirect URI is
   * `<bus url>/console/`). @default none: the console asks for a pasted token
   */
  readonly signIn?: ConsoleSignIn;
}

/** How the bus authenticates callers. Every field is optional; the defaults are the safe ones. */
export interface AuthOptions {
  /**
   * Whether every call but `GET /` and `GET /healthz` needs a credential. Always true on a non-loopback address.
   * @default true once a credential has been created (even if all are revoked since) or `jwt` is set; false (open,
   * for the tour) on loopback otherwise
   */
  readonly required?: boolean;
  /** More names the `Host` header may carry (loopback names with the port are always allowed). @default [] */
  readonly allowedHosts?: readonly string[];
  /** Origins whose web pages may call the API (they get CORS answers). @default [] */
  readonly allowedOrigins?: readonly string[];
  readonly jwt?: JwtOptions;
}

export interface AuthLayerOptions extends AuthOptions {
  readonly app: App;
  /** Where credentials and the audit log live; absent: no credentials (open on loopback, JWTs only otherwise). */
  readonly store?: CredentialStore;
  /** Opens the sealing key of AWS secrets (on first use). */
  readonly secrets?: () => SecretBox;
  /** The address the server listens on (decides whether the bus may run open). */
  readonly host: string;
  /** The port the server listens on, once it listens (port 0 picks one). */
  readonly port: () => number;
  /** @default false */
  readonly tls?: boolean;
  readonly clock?: Clock;
  readonly onError?: (error: unknown) => void;
  /** The deployment's buses: keys may name only a bus that exists. @default only the default bus */
  readonly buses?: { exists(name: string): boolean };
  /**
   * Serves the web console's assets under `/console` (public: they hold no data; the Host guard still applies).
   * @default none (404)
   */
  readonly console?: App;
}

export interface AuthLayer {
  readonly app: App;
  /** Whether a call needs a credential now (it changes when the first credential is created). */
  required(): Promise<boolean>;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const AWS_JSON = { 'content-type': 'application/x-amz-json-1.1' };
const decoder = new TextDecoder();

/** The largest number of credentials the in-memory cache holds before it starts over. */
const CACHE_LIMIT = 10_000;

function header(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function segments(path: string): string[] | undefined {
  try {
    return path
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

function errorResponse(error: JunctionError, aws: boolean): ApiResponse {
  const extra: Record<string, string> =
    error.code === 'Unauthorized' ? { 'www-authenticate': 'Bearer realm="junction"' } : {};
  if (!aws) return json(error.status, error.toJSON(), extra);
  const code =
    error instanceof SigV4Error
      ? error.awsCode
      : error.code === 'Unauthorized'
        ? 'MissingAuthenticationTokenException'
        : error.code === 'Forbidden'
          ? 'AccessDeniedException'
          : 'ValidationException';
  const status = error.code === 'Unauthorized' ? 403 : error.status;
  return json(status, awsErrorBody(code, error.message), {
    ...AWS_JSON,
    'x-amzn-errortype': code,
    'x-amzn-requestid': crypto.randomUUID(),
  });
}

function grantOf(c: StoredCredential): Grant {
  return {
    scope: c.scope,
    bus: c.bus,
    ...(c.sourcePrefix === undefined ? {} : { sourcePrefix: c.sourcePrefix }),
  };
}

/**
 * Credentials by lookup (key hash or access key id), cached in memory. The store's version (one indexed row) is read
 * at most once per event-loop turn, and the cache dropped when it moved, so a revocation by `keys revoke --data-dir`
 * in another process takes effect from the next turn; one through this process's API, on the next request. One read
 * per turn instead of per request: under load one turn serves many requests, and the read was 3% of the bus's CPU.
 */
class CredentialCache {
  readonly #store: CredentialStore | undefined;
  #version = -1;
  /** Whether the version was read in this event-loop turn. */
  #fresh = false;
  /** The version read under way, which requests of the same turn share. */
  #reading: Promise<boolean> | undefined;
  readonly #entries = new Map<string, StoredCredential | null>();

  constructor(store: CredentialStore | undefined) {
    this.#store = store;
  }

  /**
   * Brings the cache up to date with the store; answers whether a credential was ever created (the version moves
   * from 0 on the first create and never goes back, so revoking the last key does not reopen the bus).
   */
  async refresh(): Promise<boolean> {
    if (this.#store === undefined) return false;
    if (this.#reading !== undefined) return this.#reading;
    if (this.#fresh) return this.#version > 0;
    this.#reading = this.#read();
    return this.#reading;
  }

  async #read(): Promise<boolean> {
    this.#fresh = true;
    setImmediate(() => {
      this.#fresh = false;
    });
    try {
      const version = await (this.#store as CredentialStore).version();
      if (version !== this.#version) {
        this.#entries.clear();
        this.#version = version;
      }
      return version > 0;
    } catch (error) {
      this.#fresh = false;
      throw error;
    } finally {
      this.#reading = undefined;
    }
  }

  /** Forgets what it knows: the next request reads the version again (after a create or revoke in this process). */
  invalidate(): void {
    this.#fresh = false;
    this.#reading = undefined;
    this.#version = -1;
    this.#entries.clear();
  }

  async find(lookup: string): Promise<StoredCredential | undefined> {
    if (this.#store === undefined) return undefined;
    const cached = this.#entries.get(lookup);
    if (cached !== undefined) return cached ?? undefined;
    const found = await this.#store.find(lookup);
    if (this.#entries.size >= CACHE_LIMIT) this.#entries.clear();
    this.#entries.set(lookup, found ?? null);
    return found;
  }
}

type JwtVerifier = (token: string) => Promise<Principal>;

async function jwtVerifier(options: JwtOptions): Promise<JwtVerifier> {
  const { createRemoteJWKSet, jwtVerify } = await import('jose');
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  const scopeClaim = options.scopeClaim ?? 'scope';
  const prefixClaim = options.sourcePrefixClaim ?? 'junction:source_prefix';
  return async (token) => {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, jwks, {
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      }));
    } catch (error) {
      throw new JunctionError(
        'Unauthorized',
        `the bearer token is not a valid JWT for this bus: ${(error as Error).message}`,
      );
    }
    return principalOfClaims(payload, { scopeClaims: [scopeClaim], sourcePrefixClaim: prefixClaim });
  };
}

/** What a call needs, and on which buses (an EventBridge call's buses are read from its body). */
export function needsOf(
  request: ApiRequest,
  parts: readonly string[],
): { need: Need; buses: readonly string[] } {
  const amzTarget = header(request, 'x-amz-target');
  const amz =
    parts.length === 0 && request.method === 'POST' && amzTarget !== undefined
      ? amzBuses(amzTarget.startsWith('AWSEvents.') ? amzTarget.slice(10) : '', bodyText(request.body), () =>
          bodyJson(request.body),
        ).buses
      : undefined;
  return busNeedsOf(request.method, parts, amzTarget, amz);
}

/** Why the principal may not make the call (403), or undefined when it may. */
export function refusalOf(
  request: ApiRequest,
  principal: Principal,
  need: Need,
  buses: readonly string[],
): JunctionError | undefined {
  const refusedBus =
    buses.length === 0 ? '(too many to check)' : buses.find((bus) => !permits(principal, need, bus));
  return refusedBus === undefined
    ? undefined
    : forbidden(principal, need, request.method, request.path, refusedBus);
}

/** The request as the app sees it from an authenticated principal: what it may do, which sources it may publish. */
export function asPrincipal(request: ApiRequest, principal: Principal, need: Need): ApiRequest {
  const limited = principal.grants.some((g) => g.scope === 'publish' && g.sourcePrefix !== undefined);
  return {
    ...request,
    caller: { principal, need },
    may: (n: Need, bus: string) => permits(principal, n, bus),
    ...(need === 'publish' && limited
      ? { allowSource: (source: string, bus: string) => checkSource(principal, source, bus) }
      : {}),
  };
}

/** Wraps an App with the guards, authentication, authorization, the key and audit endpoints, and auditing. */
export function createAuthLayer(options: AuthLayerOptions): AuthLayer {
  const { app, store } = options;
  const clock = options.clock ?? systemClock;
  const onError = options.onError ?? (() => {});
  const exposed = !isLoopback(options.host);
  const cache = new CredentialCache(store);
  let jwt: Promise<JwtVerifier> | undefined;
  const guard = (): RequestGuardOptions => ({
    port: options.port(),
    tls: options.tls ?? false,
    allowedHosts: [
      ...(options.allowedHosts ?? []),
      ...(exposed && !isUnspecified(options.host) ? [options.host] : []),
    ],
    allowedOrigins: options.allowedOrigins ?? [],
  });

  async function required(): Promise<boolean> {
    const everKeyed = await cache.refresh();
    if (exposed) return true;
    return options.required ?? (everKeyed || options.jwt !== undefined);
  }

  async function authenticate(request: ApiRequest): Promise<Principal> {
    const authorization = header(request, 'authorization');
    if (isSigV4(authorization)) {
      const accessKeyId = await verifySigV4(
        request,
        async (id) => {
          const c = await cache.find(id);
          if (c?.kind !== 'aws' || c.secret === undefined || options.secrets === undefined) return undefined;
          return options.secrets().open(c.secret);
        },
        clock.now(),
      );
      const c = (await cache.find(accessKeyId)) as StoredCredential;
      return { name: c.name, kind: 'aws', grants: [grantOf(c)] };
    }
    const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const token = bearer ?? header(request, 'x-api-key');
    if (token === undefined) {
      throw new JunctionError(
        'Unauthorized',
        authorization === undefined
          ? 'this call needs a credential: send Authorization: Bearer <key> (or x-api-key)'
          : 'the Authorization header must be "Bearer <key>" or an AWS Signature V4',
      );
    }
    if (options.jwt !== undefined && token.split('.').length === 3) {
      jwt ??= jwtVerifier(options.jwt);
      return (await jwt)(token);
    }
    // Looked up by the key's SHA-256: the lookup's timing can only tell an attacker about hashes of keys they
    // chose, never about a stored key, so no constant-time comparison is needed after it.
    const c = await cache.find(hashKey(token));
    if (c === undefined || c.kind !== 'key') {
      throw new JunctionError('Unauthorized', 'the API key is not valid (unknown or revoked)');
    }
    return { name: c.name, kind: 'key', grants: [grantOf(c)] };
  }

  async function keysAndAudit(
    request: ApiRequest,
    parts: readonly string[],
  ): Promise<ApiResponse | undefined> {
    const [head, second] = parts;
    if (head === 'audit' && parts.length === 1) {
      if (request.method !== 'GET')
        throw new JunctionError('MethodNotAllowed', `${request.method} is not allowed on /audit; use GET`);
      const limit = request.query.get('limit');
      const before = request.query.get('before');
      for (const [name, value] of [
        ['limit', limit],
        ['before', before],
      ] as const) {
        if (value !== null && !/^\d{1,15}$/.test(value))
          throw invalidRequest(`${name} must be a whole number`, name);
      }
      return json(200, {
        entries:
          store === undefined
            ? []
            : await store.listAudit({
                ...(limit === null ? {} : { limit: Number(limit) }),
                ...(before === null ? {} : { before: Number(before) }),
              }),
      });
    }
    if (head !== 'keys') return undefined;
    if (store === undefined) throw new JunctionError('NotFound', 'this bus keeps no credentials');
    if (parts.length === 1) {
      if (request.method === 'GET') return json(200, { keys: (await store.list()).map(describeCredential) });
      if (request.method !== 'POST')
        throw new JunctionError(
          'MethodNotAllowed',
          `${request.method} is not allowed on /keys; use GET or POST`,
        );
      const spec = parseNewCredential(readJsonBody(request.body));
      if (spec.bus !== undefined && spec.bus !== DEFAULT_BUS && !(options.buses?.exists(spec.bus) ?? false)) {
        throw new JunctionError('NotFound', `there is no bus named ${JSON.stringify(spec.bus)}`, {
          field: 'bus',
        });
      }
      if (spec.aws && options.secrets === undefined)
        throw invalidRequest('this bus cannot keep AWS secrets', 'aws');
      const secrets =
        options.secrets ??
        (() => {
          throw new Error('unreachable');
        });
      const created = await createCredential(store, secrets, spec, clock.now());
      cache.invalidate();
      return json(201, created);
    }
    if (parts.length === 2) {
      if (request.method !== 'DELETE')
        throw new JunctionError(
          'MethodNotAllowed',
          `${request.method} is not allowed on /keys/{name}; use DELETE`,
        );
      const revoked = await store.revoke(second as string);
      cache.invalidate();
      if (!revoked) throw new JunctionError('NotFound', `the key ${second} does not exist`);
      return { status: 204, headers: {}, body: '' };
    }
    return undefined;
  }

  async function handle(
    request: ApiRequest,
    aws: boolean,
  ): Promise<{ response: ApiResponse; who: string; need: Need }> {
    const g = guard();
    const refused =
      checkHost(request.headers, g) ??
      checkOrigin(request.headers, g) ??
      checkCrossSite(request.method, request.headers);
    if (refused) return { response: errorResponse(refused, aws), who: 'unauthenticated', need: 'manage' };
    if (
      options.console !== undefined &&
      (request.path === '/console' || request.path.startsWith('/console/'))
    ) {
      return { response: await options.console(request), who: 'unauthenticated', need: 'public' };
    }
    const parts = segments(request.path);
    if (parts === undefined) {
      return {
        response: errorResponse(
          invalidRequest(`the path ${request.path} is not valid percent-encoding`),
          aws,
        ),
        who: 'unauthenticated',
        need: 'manage',
      };
    }
    const { need, buses } = needsOf(request, parts);
    let principal = ANONYMOUS;
    try {
      if (need !== 'public' && (await required())) principal = await authenticate(request);
    } catch (error) {
      return { response: errorResponse(toJunctionError(error), aws), who: 'unauthenticated', need };
    }
    const open = principal === ANONYMOUS;
    const refusal = open ? undefined : refusalOf(request, principal, need, buses);
    if (refusal !== undefined) return { response: errorResponse(refusal, aws), who: principal.name, need };
    let response: ApiResponse | undefined;
    try {
      response = await keysAndAudit(request, parts);
    } catch (error) {
      response = errorResponse(toJunctionError(error), false);
    }
    if (response === undefined) response = await app(open ? request : asPrincipal(request, principal, need));
    return { response, who: principal.name, need };
  }

  const guarded: App = async (request) => {
    const g = guard();
    const origin = originAllowed(request.headers, g);
    if (request.method === 'OPTIONS' && origin !== undefined) return preflight(origin);
    const aws =
      request.method === 'POST' && request.path === '/' && header(request, 'x-amz-target') !== undefined;
    const { response, who, need } = await handle(request, aws);
    const audited =
      request.method !== 'GET' &&
      request.method !== 'HEAD' &&
      request.method !== 'OPTIONS' &&
      need !== 'publish';
    if (audited && store !== undefined) {
      try {
        await store.appendAudit({
          at: clock.now(),
          who,
          method: request.method,
          path: request.path,
          status: response.status,
          result: response.status < 400 ? 'ok' : resultCode(response),
        });
      } catch (error) {
        onError(error);
      }
    }
    if (origin === undefined) return response;
    return {
      ...response,
      headers: { ...response.headers, 'access-control-allow-origin': origin, vary: 'origin' },
    };
  };

  return { app: guarded, required };
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function resultCode(response: ApiResponse): string {
  try {
    const body = JSON.parse(
      typeof response.body === 'string' ? response.body : decoder.decode(response.body),
    );
    return String(body?.error?.code ?? body?.__type ?? response.status);
  } catch {
    return String(response.status);
  }
}

function preflight(origin: string): ApiResponse {
  return {
    status: 204,
    headers: {
      'access-control-allow-origin': origin,
      'access-control-allow-methods': 'GET, POST, PUT, DELETE',
      'access-control-allow-headers':
        'authorization, x-api-key, content-type, ce-specversion, ce-id, ce-source, ce-type, ce-subject, ce-time, ce-dataschema',
      'access-control-max-age': '600',
      vary: 'origin',
    },
    body: '',
  };
}

/** Why the bus refuses to start: exposed on a non-loopback address with no way to authenticate. */
export async function refuseExposedWithoutAuth(
  host: string,
  options: AuthOptions,
  store: CredentialStore | undefined,
): Promise<void> {
  if (isLoopback(host)) return;
  const count = store === undefined ? 0 : await store.count();
  if (options.required === false || (count === 0 && options.jwt === undefined)) {
    throw new JunctionError(
      'InvalidRequest',
      `refusing to listen on ${host} without authentication: create a key first (junction keys create admin --scope manage --data-dir DIR) or set --jwt-jwks-url`,
      { field: 'host' },
    );
  }
}
