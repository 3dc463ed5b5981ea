/**
 * The web console (issue #17) at `/console`: a page, its script and its style sheet, all served by the bus (no CDN;
 * it works offline). The script is the console's source (`console/`, Preact + htm) bundled with esbuild in memory on
 * the first request and kept, so a fresh clone needs no build step. The console is a client of the documented HTTP
 * API only: these assets are public (they hold no data), every call they make goes through the auth layer.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JunctionError } from '../core/errors.ts';
import type { ApiRequest, ApiResponse } from './app.ts';

/** Where the console's source lives (the repository's `console/`). */
export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'console');

/**
 * No inline script or style, nothing from elsewhere: the page may load its own script and style sheet and call
 * its own origin (and, with a sign-in, the issuer's token endpoint), and may not be framed.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The console's sign-in against an OAuth 2.0 / OpenID Connect issuer: the authorization-code flow with PKCE from
 * a public client (no secret in the browser). Without it, the console asks for a pasted key or token.
 */
export interface ConsoleSignIn {
  readonly clientId: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  /** @default ['openid'] */
  readonly scopes?: readonly string[];
  /**
   * Which token of the token endpoint's answer the console sends: Cognito's REST API authorizer takes the ID token
   * (an access token only on methods with OAuth scopes). @default 'access_token'
   */
  readonly token?: 'access_token' | 'id_token';
}

export interface ConsoleOptions {
  /**
   * A folder holding `index.html`, `app.css` and an `app.js` bundled at build time (the AWS api function's
   * bundle). @default the repository's `console/`, its script bundled by esbuild on the first request
   */
  readonly prebuiltDir?: string;
  /**
   * The path before `/console` in the browser's URL (a REST API's stage, `/v1`); the page's asset links get it.
   * Only `/segment` runs of unreserved characters are used. @default ''
   */
  readonly base?: string;
  /** Offered on the key prompt (`GET /console/config.json` tells the page). @default paste a key or token only */
  readonly signIn?: ConsoleSignIn;
}

function cspFor(signIn: ConsoleSignIn | undefined): string {
  if (signIn === undefined) return CONSOLE_CSP;
  let origin: string;
  try {
    origin = new URL(signIn.tokenEndpoint).origin;
  } catch {
    return CONSOLE_CSP;
  }
  return CONSOLE_CSP.replace("connect-src 'self'", `connect-src 'self' ${origin}`);
}

/** Checks a sign-in's endpoints (https, or http on loopback for tests) and client id; throws naming the field. */
export function validateSignIn(signIn: ConsoleSignIn, field = 'signIn'): ConsoleSignIn {
  for (const name of ['authorizationEndpoint', 'tokenEndpoint'] as const) {
    let url: URL | undefined;
    try {
      url = new URL(signIn[name]);
    } catch {
      url = undefined;
    }
    const loopback =
      url?.protocol === 'http:' && /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(url.hostname);
    if (url === undefined || (url.protocol !== 'https:' && !loopback)) {
      throw new JunctionError(
        'InvalidRequest',
        `${field}.${name} must be an https:// URL, got ${JSON.stringify(signIn[name])}`,
        {
          field: `${field}.${name}`,
        },
      );
    }
  }
  if (!/^[\x21-\x7e]{1,256}$/.test(signIn.clientId)) {
    throw new JunctionError('InvalidRequest', `${field}.clientId must be 1-256 printable characters`, {
      field: `${field}.clientId`,
    });
  }
  return signIn;
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

let bundle: Promise<string> | undefined;

/** The console's script: `console/main.ts` and its imports (Preact, htm) bundled by esbuild, once per process. */
export function consoleScript(): Promise<string> {
  bundle ??= (async () => {
    // By a variable name, so that the AWS api function's bundle (which serves a prebuilt script) leaves it out.
    const esbuildName = 'esbuild';
    const esbuild = (await import(esbuildName)) as typeof import('esbuild');
    const result = await esbuild.build({
      entryPoints: [join(CONSOLE_DIR, 'main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
    });
    return (result.outputFiles[0] as { text: string }).text;
  })();
  bundle.catch(() => {
    bundle = undefined;
  });
  return bundle;
}

function securityHeaders(options: ConsoleOptions): Record<string, string> {
  return { 'content-security-policy': cspFor(options.signIn), ...SECURITY_HEADERS };
}

function asset(status: number, type: string, body: string, options: ConsoleOptions): ApiResponse {
  return { status, headers: { 'content-type': type, ...securityHeaders(options) }, body };
}

/**
 * Answers a request under `/console`: the page, `app.js`, `app.css`, `config.json` (the sign-in the page offers);
 * anything else is 404.
 */
export async function serveConsole(request: ApiRequest, options: ConsoleOptions = {}): Promise<ApiResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const error = new JunctionError(
      'MethodNotAllowed',
      `${request.method} is not allowed on ${request.path}; use GET`,
      {
        details: { allow: ['GET'] },
      },
    );
    return {
      status: 405,
      headers: { 'content-type': 'application/json', allow: 'GET' },
      body: JSON.stringify(error.toJSON()),
    };
  }
  const dir = options.prebuiltDir ?? CONSOLE_DIR;
  const name = request.path.replace(/^\/console\/?/, '');
  if (name === '' || name === 'index.html') {
    const base = /^(\/[A-Za-z0-9._~-]+){0,8}$/.test(options.base ?? '') ? (options.base ?? '') : '';
    const page = readFileSync(join(dir, 'index.html'), 'utf8').replaceAll('"/console/', `"${base}/console/`);
    return asset(200, 'text/html; charset=utf-8', page, options);
  }
  if (name === 'app.css')
    return asset(200, 'text/css; charset=utf-8', readFileSync(join(dir, 'app.css'), 'utf8'), options);
  if (name === 'app.js') {
    const script =
      options.prebuiltDir === undefined ? await consoleScript() : readFileSync(join(dir, 'app.js'), 'utf8');
    return asset(200, 'text/javascript; charset=utf-8', script, options);
  }
  if (name === 'config.json') {
    const signIn = options.signIn;
    return asset(
      200,
      'application/json',
      JSON.stringify(
        signIn === undefined
          ? {}
          : {
              signIn: {
                clientId: signIn.clientId,
                authorizationEndpoint: signIn.authorizationEndpoint,
                tokenEndpoint: signIn.tokenEndpoint,
                scopes: signIn.scopes ?? ['openid'],
                ...(signIn.token === undefined ? {} : { token: signIn.token }),
              },
            },
      ),
      options,
    );
  }
  const error = new JunctionError('NotFound', `the console has no ${request.path}`);
  return {
    status: 404,
    headers: { 'content-type': 'application/json', ...securityHeaders(options) },
    body: JSON.stringify(error.toJSON()),
  };
}
