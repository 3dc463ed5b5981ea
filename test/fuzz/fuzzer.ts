/**
 * The API fuzzer: sends generated requests (requests.ts) to a running bus over keep-alive HTTP with bounded
 * concurrency, and checks each answer — no 5xx, an answer within the deadline, a JSON error body with a code on
 * 4xx, JSON when it says JSON — then that the bus is still alive and healthy.
 */
import { Pool } from 'undici';
import { type FuzzRequest, generateRequest } from './requests.ts';

export type FindingKind = '5xx' | 'hang' | 'error body' | 'bad json' | 'connection' | 'crash' | 'unhealthy';

export interface Finding {
  readonly kind: FindingKind;
  /** The input's index (`--only INDEX` replays it); -1 for findings about the bus as a whole. */
  readonly index: number;
  readonly detail: string;
  readonly request?: FuzzRequest;
}

export interface FuzzOptions {
  /** The bus, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly seed: number;
  /** How many inputs (indices 0 … inputs-1), unless `only` is given. */
  readonly inputs: number;
  /** Replays just these indices. */
  readonly only?: readonly number[];
  /** Requests in flight at once (and keep-alive connections). @default 8 */
  readonly concurrency?: number;
  /** A request that is not answered within this is a hang. @default 30000 */
  readonly deadlineMs?: number;
  /** Why the bus is gone (it crashed), or undefined while it runs. */
  readonly crashed?: () => string | undefined;
  /** Called with each finding as it is found. */
  readonly onFinding?: (finding: Finding) => void;
  /** Called after each request with the count done so far. */
  readonly onProgress?: (done: number, report: FuzzReport) => void;
}

export interface FuzzReport {
  readonly seed: number;
  inputs: number;
  durationMs: number;
  /** endpoint → status (or `client error`) → count */
  readonly counts: Map<string, Map<string, number>>;
  readonly findings: Finding[];
}

/** Requests whose client refused to send them (an invalid header for undici): not a finding, counted. */
const CLIENT_REFUSED = 'not sent';

function count(report: FuzzReport, endpoint: string, status: string): void {
  let row = report.counts.get(endpoint);
  if (row === undefined) {
    row = new Map();
    report.counts.set(endpoint, row);
  }
  row.set(status, (row.get(status) ?? 0) + 1);
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The problem with an answer, or undefined when it is fine. */
export function judge(
  request: FuzzRequest,
  status: number,
  contentType: string | undefined,
  text: string,
): { kind: FindingKind; detail: string } | undefined {
  const shown = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  if (status >= 500) return { kind: '5xx', detail: `${status} ${shown}` };
  if (request.method === 'HEAD') return undefined;
  if (status >= 400) {
    const parsed = parseJson(text);
    const body = parsed.ok ? (parsed.value as Record<string, unknown> | null) : undefined;
    const code = (body?.error as Record<string, unknown> | undefined)?.code;
    const awsType = request.aws ? body?.__type : undefined;
    if (typeof code !== 'string' && typeof awsType !== 'string') {
      return { kind: 'error body', detail: `${status} without a JSON error code: ${JSON.stringify(shown)}` };
    }
    return undefined;
  }
  if (contentType?.includes('json') && text !== '' && !parseJson(text).ok) {
    return { kind: 'bad json', detail: `${status} says JSON but is not: ${JSON.stringify(shown)}` };
  }
  return undefined;
}

function flatHeaders(request: FuzzRequest): string[] {
  return request.headers.flat();
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const concurrency = options.concurrency ?? 8;
  const deadlineMs = options.deadlineMs ?? 30_000;
  const report: FuzzReport = {
    seed: options.seed,
    inputs: 0,
    durationMs: 0,
    counts: new Map(),
    findings: [],
  };
  const pool = new Pool(options.url, {
    connections: concurrency,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: deadlineMs + 5_000,
    bodyTimeout: deadlineMs + 5_000,
  });
  const found = (finding: Finding): void => {
    report.findings.push(finding);
    options.onFinding?.(finding);
  };
  const indices = options.only ?? Array.from({ length: options.inputs }, (_, i) => i);
  const started = performance.now();
  let next = 0;
  let stop = false;

  const crash = (): boolean => {
    const why = options.crashed?.();
    if (why === undefined) return false;
    if (!stop) found({ kind: 'crash', index: -1, detail: why });
    stop = true;
    return true;
  };

  async function send(index: number): Promise<void> {
    const request = generateRequest(options.seed, index);
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      response = await pool.request({
        method: request.method,
        path: request.path,
        headers: flatHeaders(request),
        body:
          request.body.length === 0 && (request.method === 'GET' || request.method === 'HEAD')
            ? null
            : request.body,
        signal: AbortSignal.timeout(deadlineMs),
      });
    } catch (error) {
      const e = error as Error & { code?: string };
      if (e.code === 'UND_ERR_INVALID_ARG' || e.code === 'UND_ERR_NOT_SUPPORTED') {
        count(report, request.endpoint, CLIENT_REFUSED);
        return;
      }
      if (crash()) return;
      const hang = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT';
      count(report, request.endpoint, hang ? 'hang' : 'connection error');
      found({
        kind: hang ? 'hang' : 'connection',
        index,
        detail: hang ? `no answer within ${deadlineMs} ms` : `${e.code ?? e.name}: ${e.message}`,
        request,
      });
      return;
    }
    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      const e = error as Error & { code?: string };
      count(report, request.endpoint, `${response.statusCode} (body lost)`);
      found({
        kind: e.name === 'TimeoutError' ? 'hang' : 'connection',
        index,
        detail: `${response.statusCode}, then the body failed: ${e.code ?? e.name}: ${e.message}`,
        request,
      });
      return;
    }
    count(report, request.endpoint, String(response.statusCode));
    const contentType = response.headers['content-type'];
    const problem = judge(
      request,
      response.statusCode,
      Array.isArray(contentType) ? contentType[0] : contentType,
      text,
    );
    if (problem) found({ ...problem, index, request });
  }

  async function worker(): Promise<void> {
    while (!stop && next < indices.length) {
      const index = indices[next++] as number;
      await send(index);
      report.inputs += 1;
      options.onProgress?.(report.inputs, report);
    }
  }

  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (!crash()) {
      try {
        const health = await pool.request({
          method: 'GET',
          path: '/healthz',
          signal: AbortSignal.timeout(deadlineMs),
        });
        const text = await health.body.text();
        if (health.statusCode !== 200) {
          found({
            kind: 'unhealthy',
            index: -1,
            detail: `GET /healthz: ${health.statusCode} ${text}`,
          });
        }
      } catch (error) {
        if (!crash()) {
          found({
            kind: 'unhealthy',
            index: -1,
            detail: `GET /healthz failed: ${String(error)}`,
          });
        }
      }
    }
  } finally {
    report.durationMs = performance.now() - started;
    await pool.close().catch(() => undefined);
  }
  return report;
}

// ---------- printing ----------

function showBody(body: Uint8Array, limit: number): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(body);
  const roundTrips = Buffer.from(text, 'utf8').equals(Buffer.from(body));
  if (!roundTrips) {
    const b64 = Buffer.from(body).toString('base64');
    return `base64:${b64.length > limit ? `${b64.slice(0, limit)}… (${body.length} bytes)` : b64}`;
  }
  return text.length > limit
    ? `${JSON.stringify(text.slice(0, limit))}… (${body.length} bytes)`
    : JSON.stringify(text);
}

/** A finding with what reproduces it: method, path, headers and body (and the seed and index to regenerate it). */
export function formatFinding(finding: Finding, seed: number, bodyLimit = 2000): string {
  const lines = [`[${finding.kind}] ${finding.detail}`];
  const request = finding.request;
  if (request !== undefined) {
    lines.push(`  reproduce: npm run fuzz -- --seed ${seed} --only ${finding.index}`);
    lines.push(`  ${request.method} ${request.path}`);
    for (const [name, value] of request.headers) {
      lines.push(
        `  ${name}: ${value.length > 200 ? `${value.slice(0, 200)}… (${value.length} chars)` : value}`,
      );
    }
    lines.push(`  body: ${showBody(request.body, bodyLimit)}`);
  }
  return lines.join('\n');
}

/** The table of requests per endpoint and status. */
export function formatTable(report: FuzzReport): string {
  const statuses = [...new Set([...report.counts.values()].flatMap((row) => [...row.keys()]))].sort();
  const endpoints = [...report.counts.keys()].sort();
  const header = ['endpoint', 'total', ...statuses];
  const rows = endpoints.map((endpoint) => {
    const row = report.counts.get(endpoint) as Map<string, number>;
    const total = [...row.values()].reduce((a, b) => a + b, 0);
    return [endpoint, String(total), ...statuses.map((s) => String(row.get(s) ?? ''))];
  });
  const totals = statuses.map((s) =>
    String([...report.counts.values()].reduce((sum, row) => sum + (row.get(s) ?? 0), 0)),
  );
  rows.push(['all', String(report.inputs), ...totals]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}
