/**
 * The console's only way to the bus: the documented HTTP API, on the page's own origin. A key the user typed is kept
 * in sessionStorage (gone when the tab closes) and sent as `Authorization: Bearer`; a 401 asks for it again.
 */

const KEY = 'junction.apiKey';

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

/** Calls the API: JSON in (with a JSON content type, as the CSRF guard wants), JSON or text out. */
export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = apiKey();
  if (key !== null) headers.authorization = `Bearer ${key}`;
  if (body !== undefined || method === 'POST') headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'omit',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const type = response.headers.get('content-type') ?? '';
  const value: unknown = type.includes('json') && text !== '' ? JSON.parse(text) : text;
  if (!response.ok) {
    const error = (value as { error?: { code?: string; message?: string } }).error;
    const message = error?.message ?? `${method} ${path}: HTTP ${response.status}`;
    if (response.status === 401) onUnauthorized(message);
    throw new ApiError(response.status, error?.code ?? String(response.status), message);
  }
  return value as T;
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
