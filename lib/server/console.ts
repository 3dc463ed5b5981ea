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
 * its own origin, and may not be framed.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

let bundle: Promise<string> | undefined;

/** The console's script: `console/main.ts` and its imports (Preact, htm) bundled by esbuild, once per process. */
export function consoleScript(): Promise<string> {
  bundle ??= (async () => {
    const esbuild = await import('esbuild');
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

function asset(status: number, type: string, body: string): ApiResponse {
  return { status, headers: { 'content-type': type, ...SECURITY_HEADERS }, body };
}

/** Answers a request under `/console`: the page, `app.js`, `app.css`; anything else is 404. */
export async function serveConsole(request: ApiRequest): Promise<ApiResponse> {
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
  const name = request.path.replace(/^\/console\/?/, '');
  if (name === '' || name === 'index.html') {
    return asset(200, 'text/html; charset=utf-8', readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8'));
  }
  if (name === 'app.css')
    return asset(200, 'text/css; charset=utf-8', readFileSync(join(CONSOLE_DIR, 'app.css'), 'utf8'));
  if (name === 'app.js') return asset(200, 'text/javascript; charset=utf-8', await consoleScript());
  const error = new JunctionError('NotFound', `the console has no ${request.path}`);
  return {
    status: 404,
    headers: { 'content-type': 'application/json', ...SECURITY_HEADERS },
    body: JSON.stringify(error.toJSON()),
  };
}
