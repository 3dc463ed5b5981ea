/** Starts the embedded bus on an ephemeral port in a temp data dir, and small HTTP helpers to talk to it. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedBus, type EmbeddedOptions, startEmbedded } from '../../lib/server/embedded.ts';
import { repoRoot, tempDir } from './paths.ts';

export interface TestBus extends EmbeddedBus {
  /** Stops the bus and removes the data dir (unless `keepData`). */
  stop(options?: { keepData?: boolean }): Promise<void>;
  /** Starts a new bus on the same data dir (the old one must be stopped with keepData). */
  restart(options?: Partial<EmbeddedOptions>): Promise<TestBus>;
}

export async function startTestBus(options: Partial<EmbeddedOptions> = {}): Promise<TestBus> {
  const dir =
    options.dataDir === undefined ? tempDir('junction-bus-') : { path: options.dataDir, remove: () => {} };
  const errors: unknown[] = [];
  const bus = await startEmbedded({
    port: 0,
    dataDir: dir.path,
    pollMs: 100,
    onError: (error) => errors.push(error),
    functionLog: () => {},
    // The exactly-once fixtures read and append files in temp dirs: the sandbox may, there (as the bus's user).
    functionSandbox: { user: false, allowRead: [tmpdir()], allowWrite: [tmpdir()] },
    ...options,
  });
  return Object.assign(bus, {
    async stop(stopOptions: { keepData?: boolean } = {}) {
      await bus.close();
      if (!stopOptions.keepData) dir.remove();
    },
    restart(more: Partial<EmbeddedOptions> = {}) {
      return startTestBus({ ...options, ...more, dataDir: dir.path });
    },
  });
}

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** Sends a request and parses a JSON answer (the body is `undefined` when empty). */
// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
export async function request<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body instanceof Uint8Array || typeof body === 'string') init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown = text;
  if (text !== '' && response.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
  if (text === '') parsed = undefined;
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** The source of a sample function in test/fixtures/functions. */
export function fixtureFunction(name: string): Uint8Array {
  return readFileSync(join(repoRoot, 'test', 'fixtures', 'functions', `${name}.ts`));
}

// biome-ignore lint/suspicious/noExplicitAny: trace details are asserted field by field
export type TraceRow = { kind: string; at: number; rule?: string; target?: string; detail?: any };

/** An event's trace entries (empty when the bus has none yet). */
export async function traceOf(bus: { url: string }, id: string, source: string): Promise<TraceRow[]> {
  const res = await request(
    bus.url,
    'GET',
    `/events/${encodeURIComponent(id)}/trace?source=${encodeURIComponent(source)}`,
  );
  return res.status === 200 ? (res.body.entries as TraceRow[]) : [];
}

/** Publishes one event in binary mode with an empty body; answers the response. */
export function publishBinary(
  bus: { url: string },
  attributes: { id: string; source: string; type: string } & Record<string, string>,
  body = '',
  contentType?: string,
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies loosely and assert on them
): Promise<JsonResponse<any>> {
  const headers: Record<string, string> = { 'ce-specversion': '1.0' };
  for (const [k, v] of Object.entries(attributes)) headers[`ce-${k}`] = v;
  if (contentType) headers['content-type'] = contentType;
  return request(bus.url, 'POST', '/events', body, headers);
}
