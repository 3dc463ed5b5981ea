/**
 * The console's only way to the bus: the documented HTTP API, on the page's own origin. A key the user typed is kept
 * in sessionStorage (gone when the tab closes) and sent as `Authorization: Bearer`; a 401 for the key in use asks
 * for it again.
 */

const KEY = 'junction.apiKey';

/**
 * Where the API is: the path before `/console` (empty on the embedded bus; `/v1` on a REST API stage), so that every
 * call goes to the origin and stage the page came from.
 */
export const BASE = location.pathname.replace(/\/console(\/.*)?$/, '');

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized: (message: string) => void = () => {};

/** Called with the bus's message when a call is refused for want of a (valid) credential. */
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export function apiKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key: string | null): void {
  if (key === null || key === '') sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, key);
}

const BUS = 'junction.bus';

/** The bus the console shows (`default` unless one was chosen in this tab). */
export function currentBus(): string {
  return sessionStorage.getItem(BUS) ?? 'default';
}

export function setBus(name: string): void {
  if (name === 'default') sessionStorage.removeItem(BUS);
  else sessionStorage.setItem(BUS, name);
}

/** A bus-scoped path on the chosen bus: `/rules` is `/buses/orders/rules` there; the default bus has no prefix. */
export function onBus(path: string): string {
  const bus = currentBus();
  if (bus === 'default' || /^\/(buses|keys|audit)(\/|\?|$)/.test(path)) return path;
  return `/buses/${encodeURIComponent(bus)}${path}`;
}

/** Calls the API: JSON in (with a JSON content type, as the CSRF guard wants), JSON or text out. */
export async function call<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  /** Send `body` (a string) as it is, with this content type (a function's source), instead of as JSON. */
  contentType?: string,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = apiKey();
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined || method === 'POST') headers['content-type'] = contentType ?? 'application/json';
  const response = await fetch(BASE + onBus(path), {
    method,
    headers,
    credentials: 'omit',
    ...(body === undefined ? {} : { body: contentType === undefined ? JSON.stringify(body) : String(body) }),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  const value: unknown = type.includes('json') && text !== '' ? JSON.parse(text) : text;
  if (!response.ok) {
    const error = (value as { error?: { code?: string; message?: string } }).error;
    const message = error?.message ?? `${method} ${path}: HTTP ${response.status}`;
    // A 401 for a key the user has since replaced is stale: it must not ask for the new one again.
    if (response.status === 401 && apiKey() === key) onUnauthorized(message);
    throw new ApiError(response.status, error?.code ?? String(response.status), message);
  }
  return value as T;
}

/**
 * Opens a live tail (`GET /events/tail`, server-sent events) and calls `onFrame` with each frame's event name and
 * parsed data until `signal` aborts. fetch rather than EventSource: EventSource cannot send the Authorization header.
 * Reconnects with the last frame's id after a drop (as EventSource would), and throws the API's error on a refusal.
 */
export async function tail(
  query: URLSearchParams,
  onFrame: (event: string, data: unknown) => void,
  signal: AbortSignal,
): Promise<void> {
  let cursor: string | undefined;
  while (!signal.aborted) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    const key = apiKey();
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (cursor !== undefined) headers['last-event-id'] = cursor;
    let response: Response;
    try {
      response = await fetch(BASE + onBus(`/events/tail?${query}`), { headers, credentials: 'omit', signal });
    } catch {
      if (signal.aborted) return;
      await new Promise((r) => setTimeout(r, 3000));
      continue;
    }
    if (!response.ok || response.body === null) {
      const value = (await response.json().catch(() => ({}))) as {
        error?: { code?: string; message?: string };
      };
      const message = value.error?.message ?? `GET /events/tail: HTTP ${response.status}`;
      if (response.status === 401 && apiKey() === key) onUnauthorized(message);
      throw new ApiError(response.status, value.error?.code ?? String(response.status), message);
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) cursor = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data !== '') onFrame(event, JSON.parse(data));
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 3000));
  }
}

/** One sample of Prometheus text: each series (`name{labels}`) to its value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** The sum of every series of `name` whose labels contain `having` (e.g. `outcome="delivered"`). */
export function total(sample: Map<string, number>, name: string, having = ''): number {
  let sum = 0;
  for (const [series, value] of sample) {
    const bare = series.split('{')[0];
    if (bare === name && series.includes(having)) sum += value;
  }
  return sum;
}

/** A series' name and labels: `name{a="x",b="y"}` → `{ name, labels: { a: 'x', b: 'y' } }`. */
export function parseSeries(series: string): { name: string; labels: Record<string, string> } {
  const brace = series.indexOf('{');
  if (brace === -1) return { name: series, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of series.slice(brace).matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_all, c: string) => (c === 'n' ? '\n' : c));
  }
  return { name: series.slice(0, brace), labels };
}

/** Per (rule, target): the sum of `name`'s series, filtered by `where` (e.g. `{ outcome: 'failed' }`). */
export function perTarget(
  sample: Map<string, number>,
  name: string,
  where: Record<string, string> = {},
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [series, value] of sample) {
    const parsed = parseSeries(series);
    if (parsed.name !== name || parsed.labels.rule === undefined || parsed.labels.target === undefined)
      continue;
    if (Object.entries(where).some(([k, v]) => parsed.labels[k] !== v)) continue;
    const key = JSON.stringify([parsed.labels.rule, parsed.labels.target]);
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

/**
 * The `q` quantile (0–1) of a histogram's per-(rule, target) buckets (`name_bucket{…,le}`), in the histogram's unit:
 * the upper bound of the first bucket holding it, as Prometheus's histogram_quantile would interpolate, or undefined
 * when the histogram is empty. `before` (an older sample) makes it the quantile of what happened in between.
 */
export function quantile(
  sample: Map<string, number>,
  before: Map<string, number> | undefined,
  name: string,
  key: string,
  q: number,
): number | undefined {
  const buckets: Array<[number, number]> = [];
  for (const [series, value] of sample) {
    const parsed = parseSeries(series);
    if (parsed.name !== `${name}_bucket`) continue;
    if (JSON.stringify([parsed.labels.rule, parsed.labels.target]) !== key) continue;
    const le = parsed.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(parsed.labels.le);
    buckets.push([le, value - (before?.get(series) ?? 0)]);
  }
  buckets.sort((a, b) => a[0] - b[0]);
  const count = buckets.at(-1)?.[1] ?? 0;
  if (count <= 0) return undefined;
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, cumulative] of buckets) {
    if (cumulative >= rank) {
      if (!Number.isFinite(le)) return lower;
      const inBucket = cumulative - below;
      return inBucket <= 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    lower = le;
    below = cumulative;
  }
  return lower;
}

// ---- Sign-in: OAuth 2.0 authorization code with PKCE (RFC 7636), a public client --------------------------------

export interface SignIn {
  readonly clientId: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly scopes: readonly string[];
  /** Which token to keep from the token endpoint's answer. @default 'access_token' */
  readonly token?: 'access_token' | 'id_token';
}

const PKCE = 'junction.pkce';

/** The sign-in the bus offers (`GET /console/config.json`), or undefined (paste a key or token). */
export async function signInConfig(): Promise<SignIn | undefined> {
  try {
    const response = await fetch(`${BASE}/console/config.json`, { credentials: 'omit' });
    if (!response.ok) return undefined;
    const value = (await response.json()) as { signIn?: SignIn };
    return value.signIn;
  } catch {
    return undefined;
  }
}

function base64url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Where the issuer sends the browser back: this console's own URL, without query or hash. */
export function redirectUri(): string {
  return `${location.origin}${BASE}/console/`;
}

/** Starts the sign-in: a verifier and state kept in this tab, the browser sent to the issuer with the challenge. */
export async function beginSignIn(config: SignIn): Promise<void> {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state }));
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL(config.authorizationEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scopes.join(' '),
    state,
    code_challenge: base64url(digest),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/**
 * Completes a sign-in when the issuer sent the browser back (`?code=…&state=…`, or `?error=…`): checks the state,
 * exchanges the code and the verifier for tokens, keeps the access token as the credential, and clears the query.
 * Answers undefined when the URL is no redirect, or a message for the user.
 */
export async function completeSignIn(config: SignIn | undefined): Promise<string | undefined> {
  const query = new URLSearchParams(location.search);
  const code = query.get('code');
  const error = query.get('error');
  if (code === null && error === null) return undefined;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  const saved = sessionStorage.getItem(PKCE);
  sessionStorage.removeItem(PKCE);
  if (error !== null)
    return `Sign-in failed at the issuer: ${error} ${query.get('error_description') ?? ''}`.trim();
  if (config === undefined) return 'Sign-in is not configured on this bus.';
  const pending = saved === null ? undefined : (JSON.parse(saved) as { verifier: string; state: string });
  if (pending === undefined || pending.state !== query.get('state'))
    return 'Sign-in failed: the answer does not match the request this tab made (state). Try again.';
  const response = await fetch(config.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    credentials: 'omit',
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code as string,
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const tokens = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const token = tokens[config.token ?? 'access_token'];
  if (!response.ok || typeof token !== 'string')
    return `Sign-in failed at the token endpoint: HTTP ${response.status} ${String(tokens.error ?? '')}`.trim();
  setApiKey(token);
  return undefined;
}
