/**
 * The `junction` CLI: each command talks to the HTTP API (`--url`, default the local bus; `--bus NAME` sends the
 * commands of one bus to `/buses/NAME/…`), prints readable output
 * (or, with `--json`, the bus's JSON unchanged), and exits 0 on success, 1 when the bus answered with an error,
 * 2 on a usage error (a bad flag, a bad local file or JSON), 3 when the bus cannot be reached, 4 on a bug in the CLI.
 * Every failure is one line on stderr (a JSON object under `--json`), never a stack trace.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isOtlpProtocol } from '../adapters/otel/config.ts';
import { BUS_NAME, DEFAULT_BUS } from '../core/bus.ts';
import { JunctionError } from '../core/errors.ts';
import { uuidv7 } from '../core/uuid.ts';
import type { CodegenSchema } from './codegen.ts';
import {
  AUTH_FLAGS,
  type DevAuthOptions,
  describeCreated,
  type KeysBackend,
  keyRows,
  type Listed,
  openOfflineKeys,
  parseDevAuth,
} from './keys.ts';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Runs the embedded bus in this process (for `junction dev`); resolves when it stops. */
  readonly dev?: (options: DevOptions) => Promise<number | undefined>;
  /** Standard input, read when a file argument is `-`. @default none: `-` is then a usage error */
  readonly stdin?: AsyncIterable<Uint8Array>;
  /** How long one request to the bus may take before the bus counts as unreachable. @default 60000 */
  readonly requestTimeoutMs?: number;
  /** The clock for relative times (`--from -1h`), epoch ms. @default Date.now */
  readonly now?: () => number;
}

export interface DevOptions {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly kafka?: string;
  /** The Kafka topic of the log. @default 'junction-events' */
  readonly topic?: string;
  readonly partitions?: number;
  /** Per-source ingest quota, events per second (429 above it). @default none */
  readonly quotaPerSource?: number;
  /** The quota's burst. @default quotaPerSource */
  readonly quotaBurst?: number;
  /** Authentication, Host/Origin allow-lists, TLS. @default open on loopback until a key exists */
  readonly auth?: DevAuthOptions;
  /** SIGINT/SIGTERM stops the bus within this (running deliveries are cut off, kept for the next start). @default 10000 */
  readonly stopDeadlineMs?: number;
  /** Dedup keys of short windows each bus holds in memory, at most (docs/delivery.md). @default 4000000 */
  readonly dedupMemoryKeys?: number;
  /** What the terminal gets: `text` for a person, `json` for one JSON object per line. @default 'text' */
  readonly logFormat?: 'text' | 'json';
  /** Export OpenTelemetry traces to this OTLP/HTTP endpoint (docs/tracing.md). @default the OTEL_* variables, else off */
  readonly otlpEndpoint?: string;
  /** `http/json`, `http/protobuf` or `grpc`. @default the OTEL_* variables, else 'http/json' */
  readonly otlpProtocol?: string;
  /** Open the MQTT front door on this port (docs/mqtt.md). @default off */
  readonly mqttPort?: number;
  /** Infer draft schemas from the events accepted (docs/schemas.md#discovery). */
  readonly schemaDiscovery?: boolean;
}

/** The exit codes; documented in docs/api.md. */
export const EXIT = { ok: 0, apiError: 1, usage: 2, unreachable: 3, internal: 4 } as const;

const DEFAULT_URL = 'http://127.0.0.1:8080';
/** The most a local input (a file, standard input) may hold; the bus's own limits are lower (10 MiB batches). */
const MAX_INPUT_BYTES = 32 * 1024 * 1024;
/** The most the CLI reads of one answer of the bus. */
const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/** How deep `trace --follow` prints emitted events, and how many journeys at most. */
const MAX_FOLLOW_DEPTH = 16;
const MAX_FOLLOW_JOURNEYS = 1000;

// ---------------------------------------------------------------------------------------------------------------
// Errors: each kind ends as one line and one exit code.

/** A mistake on the command line or in a local input: exit 2. */
class UsageError extends Error {
  readonly flag: string | undefined;
  constructor(message: string, flag?: string) {
    super(message);
    this.flag = flag;
  }
}

/** The bus could not be reached, or did not answer in time: exit 3. */
class UnreachableError extends Error {}

/** The bus answered with an error status, or with something the CLI cannot read: exit 1. */
class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    super(`the bus answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** Collapses a message to one line. */
function oneLine(text: string): string {
  return text
    .replace(/\s*[\r\n]+\s*/g, '; ')
    .replace(/^;\s*|;\s*$/g, '')
    .trim();
}

// ---------------------------------------------------------------------------------------------------------------
// Options and commands.

type Values = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** Every flag the CLI knows, for node:util parseArgs; each command says which of them it takes. */
const FLAGS = {
  url: { type: 'string' },
  bus: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  kafka: { type: 'string' },
  topic: { type: 'string' },
  partitions: { type: 'string' },
  'quota-per-source': { type: 'string' },
  'quota-burst': { type: 'string' },
  'stop-deadline-ms': { type: 'string' },
  'dedup-memory-keys': { type: 'string' },
  'log-format': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'otlp-protocol': { type: 'string' },
  'mqtt-port': { type: 'string' },
  type: { type: 'string' },
  source: { type: 'string' },
  id: { type: 'string', multiple: true },
  subject: { type: 'string' },
  data: { type: 'string' },
  'data-file': { type: 'string' },
  ext: { type: 'string', multiple: true },
  file: { type: 'string' },
  pattern: { type: 'string' },
  filter: { type: 'string' },
  event: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  rule: { type: 'string' },
  target: { type: 'string' },
  name: { type: 'string' },
  state: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
  follow: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  'memory-mb': { type: 'string' },
  aws: { type: 'boolean' },
  description: { type: 'string' },
  quota: { type: 'string' },
  retention: { type: 'string' },
  'dedup-window': { type: 'string' },
  'accept-from': { type: 'string', multiple: true },
  isolation: { type: 'string' },
  'endpoint-port': { type: 'string' },
  nice: { type: 'string' },
  force: { type: 'boolean' },
  compatibility: { type: 'string' },
  enforcement: { type: 'string' },
  dataschema: { type: 'string' },
  'draft-version': { type: 'string' },
  'discover-schemas': { type: 'boolean' },
  lang: { type: 'string' },
  out: { type: 'string' },
  ...AUTH_FLAGS,
} as const satisfies Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

type Flag = keyof typeof FLAGS;

/** The flags every command takes. */
const GLOBAL_FLAGS: Readonly<Partial<Record<Flag, readonly [string, string]>>> = {
  url: ['URL', `the bus (default $JUNCTION_URL, else ${DEFAULT_URL})`],
  bus: [
    'NAME',
    'the named bus to act on, at /buses/NAME/… (default $JUNCTION_BUS, else default: the paths without /buses)',
  ],
  json: ['', "print the bus's JSON answer unchanged; errors as one JSON object on stderr"],
  help: ['', 'this help (also: junction help COMMAND)'],
};

interface Context {
  readonly io: CliIo;
  readonly json: boolean;
  readonly command: Command;
  readonly values: Values;
  /** The time relative times count from, read once per run. */
  readonly now: number;
  /** Which argument already read standard input (it can be read once). */
  stdinTakenBy: string | undefined;
}

interface Command {
  /** The words that name it, e.g. `rules put`. */
  readonly name: string;
  /** Its positional arguments, all required, e.g. `['NAME', 'FILE']`. */
  readonly args?: readonly string[];
  /** It takes any number of positional arguments after `args` (`schemas codegen NAME …`). */
  readonly variadic?: boolean;
  /** The flags of the usage line, e.g. `--from T --to T [--rule R]`. */
  readonly synopsis?: string;
  readonly summary: string;
  /** Its own flags: the value's placeholder ('' for a switch) and what it does. */
  readonly flags?: Readonly<Partial<Record<Flag, readonly [string, string]>>>;
  readonly examples?: readonly string[];
  /** The flag to name when the bus complains about a request field, e.g. `limit` → `--limit`. */
  readonly fields?: Readonly<Record<string, string>>;
  /** What to suggest when the bus answers 404 (the name does not exist). */
  readonly notFound?: string;
  /** What to suggest when the bus answers 409. */
  readonly conflict?: string;
  /** Talks to the bus (false for `dev` and `functions deploy --aws`); it reads --url. */
  readonly local?: boolean;
  /** Acts on the deployment, not on one bus (`buses …`, `keys …`, `dev`): `--bus` is not its option. */
  readonly deployment?: boolean;
  readonly run: (ctx: Context, args: readonly string[]) => Promise<number | undefined>;
}

function str(ctx: Context, flag: Flag): string | undefined {
  const value = ctx.values[flag];
  if (Array.isArray(value)) return value[value.length - 1];
  return typeof value === 'string' ? value : undefined;
}

function list(ctx: Context, flag: Flag): string[] {
  const value = ctx.values[flag];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

function has(ctx: Context, flag: Flag): boolean {
  return ctx.values[flag] !== undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Local inputs: files, `-` (standard input), inline JSON, numbers and times.

function fsReason(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return oneLine(code ?? (error as Error).message ?? String(error));
}

async function readStdin(ctx: Context, label: string): Promise<Uint8Array> {
  if (ctx.stdinTakenBy !== undefined) {
    throw new UsageError(`only one of ${ctx.stdinTakenBy} and ${label} can read standard input (-)`, label);
  }
  ctx.stdinTakenBy = label;
  const stdin = ctx.io.stdin;
  if (stdin === undefined) throw new UsageError(`${label}: there is no standard input to read (-)`, label);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of stdin) {
      size += chunk.byteLength;
      if (size > MAX_INPUT_BYTES)
        throw new UsageError(`${label}: standard input is larger than 32 MiB`, label);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${label}: cannot read standard input: ${fsReason(error)}`, label);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The bytes of a file argument (`-` is standard input), and how to name where they came from. */
async function readInput(
  ctx: Context,
  path: string,
  label: string,
): Promise<{ bytes: Uint8Array; where: string }> {
  if (path === '-') return { bytes: await readStdin(ctx, label), where: '(standard input)' };
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw Object.assign(new Error('folder'), { code: 'EISDIR' });
    if (stat.size > MAX_INPUT_BYTES) throw new UsageError(`${label}: ${path} is larger than 32 MiB`, label);
    return { bytes: readFileSync(path), where: path };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${label}: cannot read ${path}: ${fsReason(error)}`, label);
  }
}

function parseJson(text: string, label: string, where?: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new UsageError(
      `${label}${where === undefined ? '' : ` ${where}`} is not valid JSON: ${oneLine((error as Error).message)}`,
      label,
    );
  }
}

/** A JSON argument: inline JSON when it starts with `{` or `[` (and `inline`), `-` for standard input, else a file. */
async function jsonInput(ctx: Context, value: string, label: string, inline: boolean): Promise<unknown> {
  if (inline && /^\s*[[{]/.test(value)) return parseJson(value, label);
  const { bytes, where } = await readInput(ctx, value, label);
  return parseJson(new TextDecoder().decode(bytes), label, where);
}

/** A whole number flag, checked here so that the error names the flag and not the bus's query parameter. */
function wholeNumber(ctx: Context, flag: Flag, range?: readonly [number, number]): number | undefined {
  const value = str(ctx, flag);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d{1,15}$/.test(value) || (range !== undefined && (n < range[0] || n > range[1]))) {
    throw new UsageError(
      `--${flag} must be a whole number${range === undefined ? '' : ` from ${range[0]} to ${range[1]}`}, got "${value}"`,
      `--${flag}`,
    );
  }
  return n;
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * A time flag as epoch ms: `now`, a relative time (`-30s`, `-30m`, `-1h`, `-2d`, `-1w`, `-500ms`), epoch
 * milliseconds, or RFC 3339 (`2026-05-01`, `2026-05-01T12:00:00Z`, `…+02:00`: a time of day needs its offset).
 */
export function parseCliTime(value: string, flag: string, now: number): number {
  const v = value.trim();
  if (v === 'now') return now;
  const relative = /^-(\d{1,9})(ms|s|m|h|d|w)$/.exec(v);
  if (relative) return now - Number(relative[1]) * (UNIT_MS[relative[2] as string] as number);
  if (/^\d{1,15}$/.test(v)) return Number(v);
  if (/^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2}))?$/.test(v)) {
    const t = Date.parse(v.replace(' ', 'T'));
    if (!Number.isNaN(t)) return t;
  }
  throw new UsageError(
    `${flag} must be now, a relative time like -1h or -30m, an RFC 3339 time or epoch milliseconds, got "${value}"`,
    flag,
  );
}

/** The flags that choose dead letters (`dead-letters redrive` and `delete`), and the bus's fields they set. */
const LETTER_FLAGS = {
  all: ['', 'every dead letter'],
  rule: ['R', "this rule's dead letters"],
  target: ['T', 'only this target of --rule'],
  id: ['ID', 'this dead letter (repeatable; the ID column of the list)'],
} as const;
const LETTER_FIELDS = { rule: '--rule', target: '--target', ids: '--id', all: '--all' } as const;

/** The dead letters `--all`, `--rule R [--target T]` or `--id ID …` name, as the bus's redrive and delete take them. */
function deadLetterSelection(
  ctx: Context,
  verb: 'redrive' | 'delete',
): { all?: true; rule?: string; target?: string; ids?: string[] } {
  const ids = list(ctx, 'id');
  const rule = str(ctx, 'rule');
  const target = str(ctx, 'target');
  if (ctx.values.all === true && (rule !== undefined || ids.length > 0 || target !== undefined)) {
    throw new UsageError('--all cannot be combined with --rule, --target or --id', '--all');
  }
  if (target !== undefined && rule === undefined) throw new UsageError('--target needs --rule', '--target');
  if (ctx.values.all !== true && rule === undefined && ids.length === 0) {
    throw new UsageError(`say what to ${verb}: --all, --rule R or --id ID`);
  }
  return {
    ...(ctx.values.all === true ? { all: true } : {}),
    ...(rule === undefined ? {} : { rule }),
    ...(target === undefined ? {} : { target }),
    ...(ids.length === 0 ? {} : { ids }),
  };
}

/**
 * POSTs `body` to `path`, then again from each answer's `nextCursor` until an answer has none (a redrive or a delete
 * of dead letters takes a bounded number a call); hands each answer to `add`.
 */
async function postPages<T>(
  ctx: Context,
  path: string,
  body: Record<string, unknown>,
  add: (page: T) => void,
): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = (await call(ctx, 'POST', path, {
      json: cursor === undefined ? body : { ...body, cursor },
    })) as T & { nextCursor?: string };
    add(page);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/** `--from` and `--to`, both required when `required`; `--to` must be after `--from`. */
function timeRange(ctx: Context, required: boolean): { from?: number; to?: number } {
  const from = str(ctx, 'from');
  const to = str(ctx, 'to');
  if (required && (from === undefined || to === undefined)) {
    throw new UsageError(`--from and --to are both required`, from === undefined ? '--from' : '--to');
  }
  const range = {
    ...(from === undefined ? {} : { from: parseCliTime(from, '--from', ctx.now) }),
    ...(to === undefined ? {} : { to: parseCliTime(to, '--to', ctx.now) }),
  };
  if (range.from !== undefined && range.to !== undefined && range.to <= range.from) {
    throw new UsageError(`--to must be after --from`, '--to');
  }
  return range;
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the bus.

function busUrl(ctx: Context): string {
  const fromFlag = str(ctx, 'url');
  const raw = fromFlag ?? ctx.io.env.JUNCTION_URL ?? DEFAULT_URL;
  const name =
    fromFlag === undefined ? (ctx.io.env.JUNCTION_URL === undefined ? 'the URL' : '$JUNCTION_URL') : '--url';
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(`${name} must be an http:// or https:// URL, got "${raw}"`, '--url');
  }
  return raw.replace(/\/+$/, '');
}

/** The bus a bus-scoped command acts on: `--bus`, else $JUNCTION_BUS, else the default bus. */
function busOf(ctx: Context): string {
  const fromFlag = str(ctx, 'bus');
  const env = ctx.io.env.JUNCTION_BUS;
  const name = fromFlag ?? (env === undefined || env === '' ? DEFAULT_BUS : env);
  if (!BUS_NAME.test(name)) {
    const where = fromFlag === undefined ? '$JUNCTION_BUS' : '--bus';
    throw new UsageError(
      `${where} must be a bus name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; got "${name}"`,
      '--bus',
    );
  }
  return name;
}

/** The path of a call: a bus-scoped command on a named bus goes to `/buses/{name}/…`. */
function pathOn(ctx: Context, path: string): string {
  if (ctx.command.deployment) return path;
  const bus = busOf(ctx);
  return bus === DEFAULT_BUS ? path : `/buses/${encodeURIComponent(bus)}${path}`;
}

async function readAnswer(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new ApiError(response.status, {
        error: { code: 'AnswerTooLarge', message: 'the answer of the bus is larger than 64 MiB' },
      });
    }
    text += decoder.decode(value, { stream: true });
  }
  return text + decoder.decode();
}

type Body = { readonly json: unknown } | { readonly raw: Uint8Array; readonly type: string };

async function call(ctx: Context, method: string, path: string, body?: Body): Promise<unknown> {
  return (await callWithStatus(ctx, method, path, body)).body;
}

async function callWithStatus(
  ctx: Context,
  method: string,
  path: string,
  body?: Body,
): Promise<{ status: number; body: unknown }> {
  const base = busUrl(ctx);
  const target = pathOn(ctx, path);
  const headers: Record<string, string> = { accept: 'application/json' };
  const apiKey = ctx.io.env.JUNCTION_API_KEY;
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  let payload: string | Uint8Array | undefined;
  if (body !== undefined && 'raw' in body) {
    payload = body.raw;
    headers['content-type'] = body.type;
  } else if (body !== undefined) {
    payload = JSON.stringify(body.json);
    headers['content-type'] = 'application/json';
  } else if (method !== 'GET') {
    // A state-changing call says it is JSON even without a body: the bus refuses one that a web page could send.
    headers['content-type'] = 'application/json';
  }
  const timeoutMs = ctx.io.requestTimeoutMs ?? 60_000;
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${base}${target}`, {
      method,
      headers,
      signal: AbortSignal.timeout(timeoutMs),
      ...(payload === undefined ? {} : { body: payload }),
    });
    text = await readAnswer(response);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new UnreachableError(`the bus at ${base} did not answer within ${timeoutMs / 1000} s`);
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new UnreachableError(
      `cannot reach the bus at ${base} (${oneLine(cause?.code ?? cause?.message ?? (error as Error).message)})`,
    );
  }
  let parsed: unknown = text === '' ? undefined : text;
  if (text !== '' && response.headers.get('content-type')?.includes('json')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, {
        error: { code: 'BadAnswer', message: `the bus answered ${response.status} with invalid JSON` },
      });
    }
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return { status: response.status, body: parsed };
}

/**
 * Runs a keys command offline on `--data-dir` (the bus's own credential store: the bootstrap), else over the API.
 * Offline errors end like the bus's would (exit 1 with the code). `keys create` may make the folder (0700, as the
 * bus does): a key is created before a bus that must be exposed first starts. Listing and revoking need it to
 * exist, so that a typo says so instead of showing an empty store.
 */
async function withKeys(
  ctx: Context,
  offline: (keys: KeysBackend) => Promise<unknown>,
  online: () => Promise<unknown>,
  options: { readonly mayCreate?: boolean } = {},
): Promise<unknown> {
  const dir = str(ctx, 'data-dir');
  if (dir === undefined) return online();
  if (!existsSync(dir)) {
    if (!options.mayCreate) throw new UsageError(`--data-dir ${dir}: no such folder`, '--data-dir');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new UsageError(`--data-dir ${dir}: cannot create it (${fsReason(error)})`, '--data-dir');
    }
  }
  let keys: KeysBackend;
  try {
    keys = await openOfflineKeys(dir);
  } catch (error) {
    throw new UsageError(
      `--data-dir ${dir}: cannot open the bus's database (${fsReason(error)})`,
      '--data-dir',
    );
  }
  try {
    return await offline(keys);
  } catch (error) {
    if (error instanceof JunctionError) throw new ApiError(error.status, error.toJSON());
    throw error;
  } finally {
    await keys.close();
  }
}

function print(ctx: Context, body: unknown, human: () => string): void {
  ctx.io.out(ctx.json ? JSON.stringify(body ?? null, null, 2) : human());
}

// ---------------------------------------------------------------------------------------------------------------
// Output helpers.

function time(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value).toISOString();
  return value === undefined || value === null ? '' : String(value);
}

function table(rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function nextPage(ctx: Context, nextCursor: unknown): string[] {
  if (typeof nextCursor !== 'string' || nextCursor === '') return [];
  const kept = (['bus', 'rule', 'target', 'state', 'limit', 'from', 'to'] as const)
    .filter((f) => str(ctx, f) !== undefined)
    .map((f) => ` --${f} ${JSON.stringify(str(ctx, f))}`)
    .join('');
  return [`more: junction ${ctx.command.name}${kept} --cursor ${nextCursor}`];
}

function query(entries: ReadonlyArray<readonly [string, string | number | undefined]>): string {
  const q = new URLSearchParams();
  for (const [k, v] of entries) if (v !== undefined) q.append(k, String(v));
  return q.size > 0 ? `?${q}` : '';
}

const seg = encodeURIComponent;

// ---------------------------------------------------------------------------------------------------------------
// The commands.

const RANGE_FLAGS = {
  from: ['T', 'start of the range: now, -30m, -1h, -2d, RFC 3339 or epoch ms'],
  to: ['T', 'end of the range (same forms; after --from)'],
} as const;

interface Trace {
  source: string;
  id: string;
  entries: Array<{
    at: number;
    kind: string;
    rule?: string;
    target?: string;
    detail?: Record<string, unknown>;
  }>;
  emitted?: Trace[];
}

function traceLines(t: Trace, indent: string): string[] {
  return [
    `${indent}${t.source} ${t.id}`,
    ...(t.entries ?? []).map((e) => {
      const where = [e.rule, e.target].filter(Boolean).join('/');
      const d = e.detail ?? {};
      const extra =
        e.kind === 'attempt'
          ? `#${d.number} ${d.outcome} ${d.latencyMs} ms${d.status ? ` status ${d.status}` : ''}${d.error ? ` — ${oneLine(String(d.error))}` : ''}`
          : e.kind === 'retry-scheduled'
            ? `in ${d.delayMs} ms`
            : e.kind === 'received'
              ? `partition ${d.partition} offset ${d.offset}`
              : e.kind === 'dead-lettered'
                ? oneLine(String(d.reason))
                : e.kind === 'emitted'
                  ? JSON.stringify(d.events)
                  : e.kind === 'dead-letter-deleted'
                    ? `dead letter ${d.dlId}`
                    : '';
      return `${indent}  ${time(e.at)}  ${e.kind.padEnd(15)} ${[where, extra].filter(Boolean).join(' ')}`.trimEnd();
    }),
  ];
}

/** A trace and, indented under it, the journeys of the events it emitted (bounded in depth and count). */
function followLines(root: Trace): string[] {
  const lines: string[] = [];
  let shown = 0;
  let hidden = 0;
  const walk = (t: Trace, depth: number): void => {
    if (shown >= MAX_FOLLOW_JOURNEYS || depth > MAX_FOLLOW_DEPTH) {
      hidden += 1;
      return;
    }
    shown += 1;
    const indent = '    '.repeat(depth);
    lines.push(...traceLines(t, indent));
    for (const child of Array.isArray(t.emitted) ? t.emitted : []) {
      if (shown < MAX_FOLLOW_JOURNEYS && depth + 1 <= MAX_FOLLOW_DEPTH) lines.push(`${indent}  ↳ emitted`);
      walk(child, depth + 1);
    }
  };
  walk(root, 0);
  if (hidden > 0) lines.push(`… ${hidden} more emitted event(s) not shown; see --json`);
  return lines;
}

const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'data',
  'data_base64',
]);

/** A bus as `GET /buses` and `GET /buses/{name}` answer it. */
interface BusView {
  name: string;
  arn: string;
  description?: string;
  quota?: { eventsPerSecond: number; burst?: number };
  sourceQuota?: { eventsPerSecond: number; burst?: number };
  retentionMs: number;
  dedupWindowMs: number;
  acceptFrom?: string[];
  isolation?: 'shared' | 'process';
  port?: number;
  nice?: number | 'idle';
  process?: { state: string; pid?: number; restarts: number; endpoint?: string };
  createdAt?: number;
}

/** A duration flag (`90s`, `30m`, `12h`, `7d`, `2w`, or milliseconds) in ms, within `range`. */
function durationFlag(ctx: Context, flag: Flag, range: readonly [number, number]): number | undefined {
  const value = str(ctx, flag);
  if (value === undefined) return undefined;
  const m = /^(\d{1,12})(ms|s|m|h|d|w)?$/.exec(value.trim());
  const ms = m === null ? Number.NaN : Number(m[1]) * (UNIT_MS[m[2] ?? 'ms'] as number);
  if (!(ms >= range[0] && ms <= range[1])) {
    throw new UsageError(
      `--${flag} must be a duration like 90m, 12h or 7d (or milliseconds) from ${showDuration(range[0])} to ${showDuration(range[1])}, got "${value}"`,
      `--${flag}`,
    );
  }
  return ms;
}

/** Milliseconds in the largest unit, up to days, that divides them (`604800000` → `7d`). */
function showDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function showQuota(q: BusView['quota']): string {
  if (q === undefined) return '';
  return `${q.eventsPerSecond}/s${q.burst === undefined ? '' : ` (burst ${q.burst})`}`;
}

function busRows(b: BusView): string[][] {
  return [
    ['name', b.name],
    ['arn', b.arn],
    ...(b.description === undefined ? [] : [['description', oneLine(b.description)]]),
    ['quota', showQuota(b.quota) || 'none'],
    ['per source', showQuota(b.sourceQuota) || "the deployment's"],
    ['retention', showDuration(b.retentionMs)],
    ['dedup window', showDuration(b.dedupWindowMs)],
    ['accepts from', b.acceptFrom?.join(', ') || 'none'],
    ['isolation', showIsolation(b)],
    ...(b.nice === undefined ? [] : [['nice', String(b.nice)]]),
    ...(b.createdAt === undefined ? [] : [['created', time(b.createdAt)]]),
  ];
}

/** Where a bus runs: `shared`, or `process` with its process's state, pid and restarts. */
function showIsolation(b: BusView): string {
  if (b.isolation !== 'process') return "shared (in the deployment's process)";
  const p = b.process;
  if (p === undefined) return 'process';
  return `process (${p.state}${p.pid === undefined ? '' : `, pid ${p.pid}`}${p.restarts === 0 ? '' : `, ${p.restarts} restart${p.restarts === 1 ? '' : 's'}`})${p.endpoint === undefined ? '' : `, endpoint ${p.endpoint}`}`;
}

const NO_BUS = 'list the buses with `junction buses list`';

/** `junction buses …`: the deployment's named buses (docs/api.md#buses). */
const BUS_COMMANDS: readonly Command[] = [
  {
    name: 'buses list',
    summary: 'list the buses (the default bus first); a key sees the buses it may read',
    deployment: true,
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/buses')) as { buses: BusView[] };
      print(ctx, body, () =>
        table([
          ['NAME', 'ISOLATION', 'QUOTA', 'PER SOURCE', 'RETENTION', 'DEDUP', 'ACCEPTS FROM', 'DESCRIPTION'],
          ...body.buses.map((b) => [
            b.name,
            b.isolation ?? 'shared',
            showQuota(b.quota),
            showQuota(b.sourceQuota),
            showDuration(b.retentionMs),
            showDuration(b.dedupWindowMs),
            b.acceptFrom?.join(',') ?? '',
            oneLine(b.description ?? ''),
          ]),
        ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'buses get',
    args: ['NAME'],
    summary: "one bus's settings",
    deployment: true,
    notFound: NO_BUS,
    async run(ctx, [name]) {
      const bus = (await call(ctx, 'GET', `/buses/${seg(name!)}`)) as BusView;
      print(ctx, bus, () => table(busRows(bus)));
      return EXIT.ok;
    },
  },
  {
    name: 'buses put',
    args: ['NAME'],
    synopsis:
      '[--quota N [--quota-burst N]] [--quota-per-source N] [--retention D] [--dedup-window D] [--accept-from BUS]… [--isolation shared|process [--endpoint-port N] [--nice N|idle]] [--description TEXT]',
    summary:
      "create a bus, or replace a bus's settings (a setting not given takes the deployment's; its rules and events stay)",
    deployment: true,
    flags: {
      quota: ['N', 'the whole bus accepts at most N events/s; over it, 429 (default: no bus quota)'],
      'quota-burst': ['N', '…and N at once after an idle spell (default: N of --quota)'],
      'quota-per-source': ['N', "each source of the bus at most N events/s (default: the deployment's)"],
      retention: [
        'D',
        "how long the bus keeps its log and traces: 90m, 12h, 7d, … (default: the deployment's)",
      ],
      'dedup-window': [
        'D',
        "how long an event id is remembered per source, e.g. 24h; up to 10m the ids are kept in memory (default: the deployment's)",
      ],
      'accept-from': [
        'BUS',
        "the rules of BUS may forward events here (repeatable; the bus's resource policy)",
      ],
      isolation: [
        'shared|process',
        "process: run the bus in a bus process of its own, so a flood on another bus cannot slow it (default: shared, in the deployment's process)",
      ],
      'endpoint-port': [
        'N',
        "with --isolation process: the bus process also serves the bus on port N, its publishers' own endpoint",
      ],
      nice: [
        'N|idle',
        'with --isolation process: the bus process runs at niceness N (0-19): a busy machine gives the other buses the CPU first; idle: only on CPU time nothing else wants (Linux SCHED_IDLE)',
      ],
      description: ['TEXT', 'what the bus is for'],
    },
    fields: {
      quota: '--quota',
      'quota.eventsPerSecond': '--quota',
      'quota.burst': '--quota-burst',
      'sourceQuota.eventsPerSecond': '--quota-per-source',
      retentionMs: '--retention',
      dedupWindowMs: '--dedup-window',
      acceptFrom: '--accept-from',
      isolation: '--isolation',
      port: '--endpoint-port',
      nice: '--nice',
      description: '--description',
      name: 'NAME',
    },
    conflict: 'a deployment holds at most 100 buses: delete one first (`junction buses delete NAME`)',
    examples: [
      'junction buses put orders --quota 500 --retention 3d',
      'junction buses put audit --accept-from orders --description "every order event, kept"',
      'junction buses put ledger --isolation process --endpoint-port 8081',
      'junction rules list --bus orders',
    ],
    async run(ctx, [name]) {
      const quota = wholeNumber(ctx, 'quota', [1, 1_000_000]);
      const burst = wholeNumber(ctx, 'quota-burst', [1, 10_000_000]);
      if (burst !== undefined && quota === undefined) {
        throw new UsageError('--quota-burst needs --quota', '--quota-burst');
      }
      const perSource = wholeNumber(ctx, 'quota-per-source', [1, 1_000_000]);
      const retentionMs = durationFlag(ctx, 'retention', [60_000, 3650 * 86_400_000]);
      const dedupWindowMs = durationFlag(ctx, 'dedup-window', [1000, 30 * 86_400_000]);
      const acceptFrom = list(ctx, 'accept-from');
      const isolation = str(ctx, 'isolation');
      if (isolation !== undefined && isolation !== 'shared' && isolation !== 'process') {
        throw new UsageError(`--isolation must be shared or process, got "${isolation}"`, '--isolation');
      }
      const port = wholeNumber(ctx, 'endpoint-port', [1, 65_535]);
      const niceFlag = str(ctx, 'nice');
      if (niceFlag !== undefined && niceFlag !== 'idle' && !/^(1?[0-9])$/.test(niceFlag)) {
        throw new UsageError(
          `--nice must be a whole number from 0 to 19 or idle, got "${niceFlag}"`,
          '--nice',
        );
      }
      const nice = niceFlag === undefined || niceFlag === 'idle' ? niceFlag : Number(niceFlag);
      const description = str(ctx, 'description');
      const body = {
        ...(description === undefined ? {} : { description }),
        ...(quota === undefined
          ? {}
          : { quota: { eventsPerSecond: quota, ...(burst === undefined ? {} : { burst }) } }),
        ...(perSource === undefined ? {} : { sourceQuota: { eventsPerSecond: perSource } }),
        ...(retentionMs === undefined ? {} : { retentionMs }),
        ...(dedupWindowMs === undefined ? {} : { dedupWindowMs }),
        ...(acceptFrom.length === 0 ? {} : { acceptFrom }),
        ...(isolation === undefined ? {} : { isolation }),
        ...(port === undefined ? {} : { port }),
        ...(nice === undefined ? {} : { nice }),
      };
      const { status, body: answer } = await callWithStatus(ctx, 'PUT', `/buses/${seg(name!)}`, {
        json: body,
      });
      const bus = answer as BusView;
      print(ctx, bus, () =>
        [
          `${status === 201 ? 'created' : 'updated'} bus ${bus.name} — use it with --bus ${bus.name} (or JUNCTION_BUS=${bus.name})`,
          '',
          table(busRows(bus)),
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'buses delete',
    args: ['NAME'],
    synopsis: '[--force]',
    summary:
      'delete a bus with its events, rules, functions and dead letters (--json prints {"deleted": NAME})',
    deployment: true,
    flags: { force: ['', 'delete it even while it has rules (they go with it)'] },
    notFound: NO_BUS,
    conflict: 'delete its rules first (`junction rules list --bus NAME`), or pass --force',
    async run(ctx, [name]) {
      await call(ctx, 'DELETE', `/buses/${seg(name!)}${ctx.values.force === true ? '?force=true' : ''}`);
      print(ctx, { deleted: name }, () => `deleted bus ${name} and everything it held`);
      return EXIT.ok;
    },
  },
];

const COMMANDS: readonly Command[] = [
  {
    name: 'dev',
    deployment: true,
    local: true,
    summary: 'run the embedded bus in the foreground (Ctrl-C stops it)',
    flags: {
      port: ['N', 'the port to listen on (default $JUNCTION_PORT, else 8080; 0 picks one)'],
      host: ['H', 'the address to listen on (default $JUNCTION_HOST, else 127.0.0.1)'],
      'data-dir': [
        'DIR',
        'where SQLite keeps the log and state (default $JUNCTION_DATA_DIR, else ./.junction)',
      ],
      kafka: ['HOST:PORT', 'use a Kafka log at these brokers instead (default $JUNCTION_KAFKA)'],
      topic: ['T', 'the Kafka topic (default $JUNCTION_KAFKA_TOPIC, else junction-events)'],
      partitions: ['N', 'partitions of the log'],
      'quota-per-source': ['N', 'per-source ingest quota, events per second (default off)'],
      'quota-burst': ['N', 'the quota burst (default the quota)'],
      'stop-deadline-ms': [
        'N',
        'Ctrl-C/SIGTERM stops within N ms; deliveries still running then are kept for the next start (default $JUNCTION_STOP_DEADLINE_MS, else 10000)',
      ],
      'dedup-memory-keys': [
        'N',
        'dedup keys of windows up to 10m each bus holds in memory, 21-43 bytes a key; past it they go to the index, 0 keeps them all there (default $JUNCTION_DEDUP_MEMORY_KEYS, else 4000000)',
      ],
      auth: ['', 'require a credential even on loopback before any key exists ($JUNCTION_AUTH=required)'],
      'allowed-host': ['H', 'also accept this Host header (repeatable; $JUNCTION_ALLOWED_HOSTS)'],
      'allowed-origin': [
        'O',
        'accept browser requests from this Origin (repeatable; $JUNCTION_ALLOWED_ORIGINS)',
      ],
      'tls-cert': ['FILE', 'serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate, with --tls-key'],
      'tls-key': ['FILE', 'the PEM private key of --tls-cert'],
      'jwt-jwks-url': ['URL', 'also accept JWTs signed by a key of this JWKS (docs/security.md)'],
      'jwt-issuer': ['I', 'the JWT issuer to require'],
      'jwt-audience': ['A', 'the JWT audience to require'],
      'jwt-client-id': [
        'ID',
        "the console's sign-in: a public client of the issuer (with --jwt-authorize-url, --jwt-token-url)",
      ],
      'jwt-authorize-url': [
        'URL',
        "the console's sign-in: the issuer's authorization endpoint (code flow with PKCE)",
      ],
      'jwt-token-url': ['URL', "the console's sign-in: the issuer's token endpoint (must answer CORS)"],
      'log-format': ['F', 'text (default) or json: one JSON object per line (docs/operations.md#json-logs)'],
      'otlp-endpoint': [
        'URL',
        'export OpenTelemetry traces over OTLP to this collector, e.g. http://localhost:4318 (default $JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT or $OTEL_EXPORTER_OTLP_ENDPOINT, else off; docs/tracing.md)',
      ],
      'otlp-protocol': [
        'P',
        'http/json (default), http/protobuf or grpc (then --otlp-endpoint is the gRPC port, e.g. http://localhost:4317; default $OTEL_EXPORTER_OTLP_PROTOCOL)',
      ],
      'mqtt-port': [
        'N',
        'also take CloudEvents over MQTT 3.1.1/5 on this port (TLS with --tls-cert), topic events/<anything> (default $JUNCTION_MQTT_PORT, else off; docs/mqtt.md)',
      ],
      'discover-schemas': [
        '',
        'infer a draft schema per (source, type) from the events accepted, for `junction schemas discover` ($JUNCTION_SCHEMA_DISCOVERY=on; docs/schemas.md#discovery)',
      ],
    },
    examples: [
      'junction dev',
      'junction dev --port 9090 --data-dir /tmp/bus',
      'junction dev --log-format json',
    ],
    async run(ctx) {
      const env = ctx.io.env;
      const quota = str(ctx, 'quota-per-source') ?? env.JUNCTION_QUOTA_PER_SOURCE;
      const burst = str(ctx, 'quota-burst') ?? env.JUNCTION_QUOTA_BURST;
      for (const [flag, value] of [
        ['--quota-per-source', quota],
        ['--quota-burst', burst],
      ] as const) {
        if (value !== undefined && !(Number(value) > 0))
          throw new UsageError(`${flag} must be a number > 0, got "${value}"`, flag);
      }
      const portText = str(ctx, 'port') ?? env.JUNCTION_PORT ?? '8080';
      if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
        throw new UsageError(`--port must be a whole number from 0 to 65535, got "${portText}"`, '--port');
      }
      const partitions = wholeNumber(ctx, 'partitions', [1, 1024]);
      const deadlineText = str(ctx, 'stop-deadline-ms') ?? env.JUNCTION_STOP_DEADLINE_MS;
      if (deadlineText !== undefined && !(/^\d{1,7}$/.test(deadlineText) && Number(deadlineText) >= 100)) {
        throw new UsageError(
          `--stop-deadline-ms must be a whole number from 100 to 9999999, got "${deadlineText}"`,
          '--stop-deadline-ms',
        );
      }
      const memoryText = str(ctx, 'dedup-memory-keys') ?? (env.JUNCTION_DEDUP_MEMORY_KEYS || undefined);
      if (memoryText !== undefined && !(/^\d{1,9}$/.test(memoryText) && Number(memoryText) <= 100_000_000)) {
        throw new UsageError(
          `--dedup-memory-keys must be a whole number from 0 to 100000000, got "${memoryText}"`,
          '--dedup-memory-keys',
        );
      }
      const logFormat = str(ctx, 'log-format');
      if (logFormat !== undefined && logFormat !== 'text' && logFormat !== 'json')
        throw new UsageError(`--log-format must be text or json, got "${logFormat}"`, '--log-format');
      const otlpEndpoint = str(ctx, 'otlp-endpoint');
      if (otlpEndpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(otlpEndpoint)) {
        throw new UsageError(
          `--otlp-endpoint must be an http(s) URL such as http://localhost:4318, got "${otlpEndpoint}"`,
          '--otlp-endpoint',
        );
      }
      const otlpProtocol = str(ctx, 'otlp-protocol');
      if (otlpProtocol !== undefined && !isOtlpProtocol(otlpProtocol.trim().toLowerCase())) {
        throw new UsageError(
          `--otlp-protocol must be http/json, http/protobuf or grpc, got "${otlpProtocol}"`,
          '--otlp-protocol',
        );
      }
      const mqttText = str(ctx, 'mqtt-port') ?? (env.JUNCTION_MQTT_PORT || undefined);
      if (mqttText !== undefined && (!/^\d{1,5}$/.test(mqttText) || Number(mqttText) > 65535)) {
        throw new UsageError(
          `--mqtt-port must be a whole number from 0 to 65535, got "${mqttText}"`,
          '--mqtt-port',
        );
      }
      const host = str(ctx, 'host') ?? env.JUNCTION_HOST ?? '127.0.0.1';
      const port = Number(portText);
      const kafka = str(ctx, 'kafka') ?? (env.JUNCTION_KAFKA || undefined);
      const dev = ctx.io.dev;
      if (dev === undefined) throw new UsageError('dev is only available from bin/junction.ts');
      const topic = str(ctx, 'topic') ?? (env.JUNCTION_KAFKA_TOPIC || undefined);
      const auth = parseDevAuth(ctx.values, env);
      if (typeof auth === 'string') throw new UsageError(auth);
      let code: number | undefined;
      try {
        code = await dev({
          auth,
          port,
          host,
          dataDir: str(ctx, 'data-dir') ?? env.JUNCTION_DATA_DIR ?? './.junction',
          ...(kafka === undefined ? {} : { kafka }),
          ...(topic === undefined ? {} : { topic }),
          ...(partitions === undefined ? {} : { partitions }),
          ...(quota === undefined ? {} : { quotaPerSource: Number(quota) }),
          ...(burst === undefined ? {} : { quotaBurst: Number(burst) }),
          ...(deadlineText === undefined ? {} : { stopDeadlineMs: Number(deadlineText) }),
          ...(memoryText === undefined ? {} : { dedupMemoryKeys: Number(memoryText) }),
          ...(logFormat === undefined ? {} : { logFormat }),
          ...(otlpEndpoint === undefined ? {} : { otlpEndpoint }),
          ...(otlpProtocol === undefined ? {} : { otlpProtocol }),
          ...(mqttText === undefined ? {} : { mqttPort: Number(mqttText) }),
          ...(has(ctx, 'discover-schemas') || env.JUNCTION_SCHEMA_DISCOVERY === 'on'
            ? { schemaDiscovery: true }
            : {}),
        });
      } catch (error) {
        const errno = (error as { code?: string }).code;
        if (errno === 'EADDRINUSE')
          throw new UsageError(
            `cannot listen on ${host}:${port}: the address is in use (pick another --port)`,
            '--port',
          );
        if (errno === 'EACCES' || errno === 'EADDRNOTAVAIL')
          throw new UsageError(
            `cannot listen on ${host}:${port}: ${errno} (check --host and --port)`,
            '--port',
          );
        throw error;
      }
      return code ?? EXIT.ok;
    },
  },
  {
    name: 'put',
    synopsis:
      '--type T --source S [--id ID] [--data JSON | --data-file F] [--subject X] [--ext k=v ...] | --file F',
    summary: 'publish one CloudEvent, or with --file a JSON array of them as a batch',
    flags: {
      type: ['T', 'the event type'],
      source: ['S', 'the event source'],
      id: ['ID', 'the event id (default a random UUID); the same source and id is accepted once'],
      subject: ['X', 'the subject attribute'],
      data: ['JSON', 'the data, as JSON text (- reads standard input); a string is quoted: \'"hello"\''],
      'data-file': ['F', 'the data, from a JSON file (- reads standard input)'],
      ext: ['k=v', 'an extension attribute (repeatable)'],
      file: ['F', 'publish the JSON array of CloudEvents in F as one batch (- reads standard input)'],
    },
    fields: { type: '--type', source: '--source', id: '--id', subject: '--subject', data: '--data' },
    examples: [
      `junction put --type order.created --source /shop --data '{"total": 120}'`,
      'junction put --file events.json',
      `echo '{"total": 5}' | junction put --type order.created --source /shop --data-file -`,
    ],
    async run(ctx) {
      const file = str(ctx, 'file');
      if (file !== undefined) {
        for (const f of ['type', 'source', 'id', 'subject', 'data', 'data-file', 'ext'] as const) {
          if (has(ctx, f))
            throw new UsageError(
              `--file publishes a batch from a file; it cannot be combined with --${f}`,
              '--file',
            );
        }
        const events = await jsonInput(ctx, file, '--file', false);
        if (!Array.isArray(events))
          throw new UsageError('--file must hold a JSON array of CloudEvents', '--file');
        const result = (await call(ctx, 'POST', '/events', {
          raw: new TextEncoder().encode(JSON.stringify(events)),
          type: 'application/cloudevents-batch+json',
        })) as {
          accepted: number;
          failed: number;
          results: Array<{ id?: string; error?: { code: string; message: string } }>;
        };
        print(ctx, result, () =>
          [
            `accepted ${result.accepted}, failed ${result.failed}`,
            ...(result.results ?? []).flatMap((r, i) =>
              r.error ? [`  #${i} ${r.id ?? ''} ${r.error.code}: ${oneLine(r.error.message)}`] : [],
            ),
          ].join('\n'),
        );
        return result.failed > 0 ? EXIT.apiError : EXIT.ok;
      }
      const type = str(ctx, 'type');
      const source = str(ctx, 'source');
      if (type === undefined || source === undefined) {
        throw new UsageError(
          'put needs --type and --source (or --file with a batch)',
          type ? '--source' : '--type',
        );
      }
      const event: Record<string, unknown> = {
        specversion: '1.0',
        // Time-ordered (UUID v7), as the ids the bus mints for PutEvents: the dedup index grows at one end for them
        // instead of taking a random page per event (docs/delivery.md#idempotent-publish).
        id: str(ctx, 'id') ?? uuidv7(),
        source,
        type,
        time: new Date(ctx.now).toISOString(),
      };
      const subject = str(ctx, 'subject');
      if (subject !== undefined) event.subject = subject;
      const data = str(ctx, 'data');
      const dataFile = str(ctx, 'data-file');
      if (data !== undefined && dataFile !== undefined) {
        throw new UsageError('give either --data or --data-file, not both', '--data');
      }
      if (data === '-' || dataFile !== undefined) {
        event.datacontenttype = 'application/json';
        event.data = await jsonInput(
          ctx,
          dataFile ?? '-',
          dataFile === undefined ? '--data' : '--data-file',
          false,
        );
      } else if (data !== undefined) {
        event.datacontenttype = 'application/json';
        try {
          event.data = JSON.parse(data);
        } catch (error) {
          const hint = /^\s*["[{]/.test(data)
            ? ''
            : `; to send text, quote it as JSON (--data '${JSON.stringify(data)}'), to read a file use --data-file ${data}`;
          throw new UsageError(
            `--data is not valid JSON: ${oneLine((error as Error).message)}${hint}`,
            '--data',
          );
        }
      }
      for (const ext of list(ctx, 'ext')) {
        const eq = ext.indexOf('=');
        if (eq <= 0) throw new UsageError(`--ext takes name=value, got "${ext}"`, '--ext');
        const key = ext.slice(0, eq);
        if (CORE_ATTRIBUTES.has(key))
          throw new UsageError(`--ext cannot set the attribute "${key}"; use its own flag`, '--ext');
        event[key] = ext.slice(eq + 1);
      }
      const result = (await call(ctx, 'POST', '/events', {
        raw: new TextEncoder().encode(JSON.stringify(event)),
        type: 'application/cloudevents+json',
      })) as { id: string; duplicate: boolean };
      print(
        ctx,
        result,
        () => `${result.duplicate ? 'duplicate (already accepted)' : 'accepted'}: ${source} ${result.id}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'rules list',
    summary: 'list the rules',
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/rules')) as { rules: Array<Record<string, unknown>> };
      print(ctx, body, () =>
        body.rules.length === 0
          ? 'no rules yet — create one with: junction rules put NAME rule.json'
          : table([
              ['NAME', 'ENABLED', 'TARGETS', 'DESCRIPTION'],
              ...body.rules.map((r) => [
                String(r.name),
                String(r.enabled),
                ((r.targets as Array<{ id: string; type: string }>) ?? [])
                  .map((t) => `${t.id}(${t.type})`)
                  .join(','),
                oneLine(String(r.description ?? '')),
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'rules get',
    args: ['NAME'],
    summary: 'print a rule as JSON',
    notFound: 'list them with `junction rules list`',
    async run(ctx, [name]) {
      const rule = await call(ctx, 'GET', `/rules/${seg(name!)}`);
      ctx.io.out(JSON.stringify(rule, null, 2));
      return EXIT.ok;
    },
  },
  {
    name: 'rules put',
    args: ['NAME', 'FILE'],
    summary:
      'create or replace the rule NAME from a JSON file (- reads standard input); see docs/api.md#rules',
    examples: ['junction rules put big-orders rule.json'],
    async run(ctx, [name, file]) {
      const definition = await jsonInput(ctx, file!, 'FILE', false);
      const rule = (await call(ctx, 'PUT', `/rules/${seg(name!)}`, { json: definition })) as {
        targets?: unknown[];
      };
      print(ctx, rule, () => `rule ${name} saved with ${rule.targets?.length ?? 0} target(s)`);
      return EXIT.ok;
    },
  },
  {
    name: 'rules delete',
    args: ['NAME'],
    summary: 'delete a rule (--json prints {"deleted": NAME})',
    notFound: 'list them with `junction rules list`',
    async run(ctx, [name]) {
      await call(ctx, 'DELETE', `/rules/${seg(name!)}`);
      print(ctx, { deleted: name }, () => `deleted rule ${name}`);
      return EXIT.ok;
    },
  },
  ...(['enable', 'disable'] as const).map(
    (verb): Command => ({
      name: `rules ${verb}`,
      args: ['NAME'],
      summary: `${verb} a rule (${verb === 'enable' ? 'it matches events again' : 'it keeps its definition, matches nothing'})`,
      notFound: 'list them with `junction rules list`',
      async run(ctx, [name]) {
        const rule = (await call(ctx, 'POST', `/rules/${seg(name!)}/${verb}`)) as { enabled?: boolean };
        print(ctx, rule, () => `rule ${name} ${rule.enabled === false ? 'disabled' : 'enabled'}`);
        return EXIT.ok;
      },
    }),
  ),
  {
    name: 'rules test',
    synopsis: '--pattern FILE|JSON [--filter SQL] --event FILE|JSON',
    summary:
      'test a pattern and/or filter against an event, explaining a mismatch (exit 1 when it does not match)',
    flags: {
      pattern: ['FILE|JSON', 'an EventBridge pattern, inline JSON or a file (- reads standard input)'],
      filter: ['SQL', 'a CloudEvents SQL filter'],
      event: ['FILE|JSON', 'the event, inline JSON or a file (- reads standard input)'],
    },
    fields: { pattern: '--pattern', filter: '--filter', event: '--event' },
    examples: [`junction rules test --pattern '{"type": ["order.created"]}' --event event.json`],
    async run(ctx) {
      const pattern = str(ctx, 'pattern');
      const filter = str(ctx, 'filter');
      const event = str(ctx, 'event');
      if (event === undefined || (pattern === undefined && filter === undefined)) {
        throw new UsageError(
          'rules test needs --event and --pattern or --filter',
          event ? '--pattern' : '--event',
        );
      }
      const body: Record<string, unknown> = {};
      if (pattern !== undefined) body.pattern = await jsonInput(ctx, pattern, '--pattern', true);
      if (filter !== undefined) body.filter = filter;
      body.event = await jsonInput(ctx, event, '--event', true);
      const result = (await call(ctx, 'POST', '/patterns/test', { json: body })) as {
        matches: boolean;
        explanation?: Array<{ path: string; condition: string; actual?: unknown; reason: string }>;
      };
      print(ctx, result, () =>
        result.matches
          ? 'matches'
          : [
              'does not match:',
              ...(result.explanation ?? []).map(
                (e) =>
                  `  ${e.path}: ${e.reason} (wanted ${e.condition}${e.actual === undefined ? '' : `, got ${JSON.stringify(e.actual)}`})`,
              ),
            ].join('\n'),
      );
      return result.matches ? EXIT.ok : EXIT.apiError;
    },
  },
  {
    name: 'rules simulate',
    args: ['NAME'],
    synopsis: '--from T --to T [--pattern FILE|JSON] [--filter SQL]',
    summary: 'run a rule (or the pattern/filter given) over retained events, delivering nothing',
    flags: {
      ...RANGE_FLAGS,
      pattern: ['FILE|JSON', 'try this pattern instead of the stored one'],
      filter: ['SQL', 'try this filter instead of the stored one'],
    },
    fields: { from: '--from', to: '--to', pattern: '--pattern', filter: '--filter' },
    notFound: 'list them with `junction rules list`',
    examples: ['junction rules simulate big-orders --from -1d --to now'],
    async run(ctx, [name]) {
      const range = timeRange(ctx, true);
      const body: Record<string, unknown> = { ...range };
      const pattern = str(ctx, 'pattern');
      if (pattern !== undefined) body.pattern = await jsonInput(ctx, pattern, '--pattern', true);
      const filter = str(ctx, 'filter');
      if (filter !== undefined) body.filter = filter;
      const r = (await call(ctx, 'POST', `/rules/${seg(name!)}/simulate`, { json: body })) as {
        scanned: number;
        matched: number;
        sample?: Array<{ source: string; id: string; type: string }>;
      };
      print(ctx, r, () =>
        [
          `${name}: ${r.matched} of ${r.scanned} retained events would match (nothing was delivered)`,
          ...(r.sample ?? []).map((e) => `  ${e.type}  ${e.source}  ${e.id}`),
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'functions deploy',
    args: ['NAME', 'FILE'],
    synopsis: '[--timeout-ms N] [--memory-mb N] [--aws]',
    summary: 'bundle and deploy a function (TypeScript/JavaScript module or zip; - reads standard input)',
    flags: {
      'timeout-ms': ['N', 'the time one invocation may take'],
      'memory-mb': ['N', 'the memory of one invocation'],
      aws: ['', 'deploy straight to AWS Lambda (see docs/aws-handlers.md); FILE must be a file'],
    },
    fields: { timeoutMs: '--timeout-ms', memoryMb: '--memory-mb' },
    examples: ['junction functions deploy fulfil-order fulfil.ts --timeout-ms 5000'],
    async run(ctx, [name, file]) {
      const timeoutMs = wholeNumber(ctx, 'timeout-ms');
      const memoryMb = wholeNumber(ctx, 'memory-mb');
      if (ctx.values.aws === true) {
        if (file === '-') throw new UsageError('with --aws, FILE must be a file, not -', 'FILE');
        await readInput(ctx, file!, 'FILE');
        const { runAwsDeploy } = await import('./aws-deploy.ts');
        return runAwsDeploy(
          {
            name: name!,
            file: file!,
            bus: busOf(ctx),
            json: ctx.json,
            ...(timeoutMs === undefined ? {} : { timeoutMs: String(timeoutMs) }),
            ...(memoryMb === undefined ? {} : { memoryMb: String(memoryMb) }),
          },
          ctx.io,
        );
      }
      const { bytes } = await readInput(ctx, file!, 'FILE');
      const q = query([
        ['timeoutMs', timeoutMs],
        ['memoryMb', memoryMb],
      ]);
      const info = (await call(ctx, 'PUT', `/functions/${seg(name!)}${q}`, {
        raw: bytes,
        type: 'application/octet-stream',
      })) as { size: number; sha256: string };
      print(
        ctx,
        info,
        () => `deployed ${name}: ${info.size} bytes bundled, sha256 ${String(info.sha256).slice(0, 12)}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'functions list',
    summary: 'list the deployed functions',
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/functions')) as { functions: Array<Record<string, unknown>> };
      print(ctx, body, () =>
        body.functions.length === 0
          ? 'no functions yet — deploy one with: junction functions deploy NAME handler.ts'
          : table([
              ['NAME', 'SIZE', 'TIMEOUT', 'MEMORY', 'UPDATED'],
              ...body.functions.map((f) => [
                String(f.name),
                `${f.size} B`,
                `${f.timeoutMs} ms`,
                `${f.memoryMb} MB`,
                time(f.updatedAt),
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'functions delete',
    args: ['NAME'],
    summary: 'delete a function (--json prints {"deleted": NAME})',
    notFound: 'list them with `junction functions list`',
    conflict: 'change or delete the rules that deliver to it first (see `junction rules list`)',
    async run(ctx, [name]) {
      await call(ctx, 'DELETE', `/functions/${seg(name!)}`);
      print(ctx, { deleted: name }, () => `deleted function ${name}`);
      return EXIT.ok;
    },
  },
  ...BUS_COMMANDS,
  {
    name: 'keys create',
    args: ['NAME'],
    synopsis: '--scope publish|manage|read [--bus NAME] [--source-prefix P] [--aws] [--data-dir DIR]',
    summary: 'create an API key (or with --aws an AWS access key for SigV4); it is printed once',
    deployment: true,
    flags: {
      scope: ['S', 'publish (send events), read (GET the management API) or manage (everything)'],
      bus: ['NAME', 'the bus the scope applies to (default: the default bus); the bus must exist'],
      'source-prefix': ['P', 'publish only events whose source starts with P'],
      aws: ['', 'an AWS access key id and secret (EventBridge API with SigV4) instead of an API key'],
      'data-dir': ['DIR', "work offline on the bus's data directory (the bootstrap: no key needed)"],
    },
    fields: { scope: '--scope', sourcePrefix: '--source-prefix', name: 'NAME', bus: '--bus' },
    conflict: 'revoke it first (`junction keys revoke NAME`) or pick another name',
    examples: [
      'junction keys create admin --scope manage --data-dir ./.junction',
      'junction keys create shop --scope publish --source-prefix /shop',
      'junction keys create orders-team --scope manage --bus orders',
    ],
    async run(ctx, [name]) {
      const scope = str(ctx, 'scope');
      if (scope === undefined)
        throw new UsageError('keys create needs --scope publish|manage|read', '--scope');
      const body: Record<string, unknown> = { name, scope };
      const prefix = str(ctx, 'source-prefix');
      if (prefix !== undefined) body.sourcePrefix = prefix;
      const bus = str(ctx, 'bus');
      if (bus !== undefined) body.bus = bus;
      if (has(ctx, 'aws')) body.aws = true;
      const created = await withKeys(
        ctx,
        (keys) => keys.create(body),
        () => call(ctx, 'POST', '/keys', { json: body }),
        { mayCreate: true },
      );
      print(ctx, created, () => describeCreated(created as Parameters<typeof describeCreated>[0]));
      return EXIT.ok;
    },
  },
  {
    name: 'keys list',
    synopsis: '[--data-dir DIR]',
    deployment: true,
    summary: 'list the keys (names, scopes, never the keys themselves)',
    flags: { 'data-dir': ['DIR', "read the bus's data directory instead of the API"] },
    async run(ctx) {
      const keys = (await withKeys(
        ctx,
        (k) => k.list(),
        async () => ((await call(ctx, 'GET', '/keys')) as { keys: Listed[] }).keys,
      )) as Listed[];
      print(ctx, { keys }, () =>
        keys.length === 0
          ? 'no keys — create one with: junction keys create NAME --scope manage --data-dir DIR'
          : table(keyRows(keys)),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'keys revoke',
    args: ['NAME'],
    synopsis: '[--data-dir DIR]',
    deployment: true,
    summary: 'revoke a key: it stops working on the next request',
    flags: { 'data-dir': ['DIR', "work offline on the bus's data directory"] },
    notFound: 'list them with `junction keys list`',
    async run(ctx, [name]) {
      await withKeys(
        ctx,
        async (k) => {
          if (!(await k.revoke(name!))) throw new JunctionError('NotFound', `the key ${name} does not exist`);
        },
        () => call(ctx, 'DELETE', `/keys/${seg(name!)}`),
      );
      print(ctx, { revoked: name }, () => `revoked ${name}: it stops working on the next request`);
      return EXIT.ok;
    },
  },
  {
    name: 'trace',
    args: ['ID'],
    synopsis: '[--source S] [--follow]',
    summary: "an event's journey: received, matched, attempts, retries, dead letters, emitted events",
    flags: {
      source: ['S', 'the event source (needed when the id is not unique)'],
      follow: ['', 'also the journeys of the events its functions emitted, indented under it'],
    },
    notFound: 'check the id (and --source); a trace appears once the bus has read the event',
    examples: ['junction trace order-42 --source /shop --follow'],
    async run(ctx, [id]) {
      const q = query([
        ['source', str(ctx, 'source')],
        ['follow', ctx.values.follow === true ? 'true' : undefined],
      ]);
      const result = (await call(ctx, 'GET', `/events/${seg(id!)}/trace${q}`)) as Trace;
      print(ctx, result, () =>
        (ctx.values.follow === true ? followLines(result) : traceLines(result, '')).join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'dead-letters list',
    synopsis: '[--rule R] [--target T] [--from T] [--to T] [--limit N] [--cursor C]',
    summary: 'deliveries that exhausted their retries',
    flags: {
      rule: ['R', 'only this rule'],
      target: ['T', 'only this target'],
      from: ['T', 'dead-lettered at or after (now, -1h, RFC 3339, epoch ms)'],
      to: ['T', 'dead-lettered before'],
      limit: ['N', 'at most N (1-1000; the bus defaults to 100)'],
      cursor: ['C', 'the next page, from the previous answer'],
    },
    fields: {
      limit: '--limit',
      from: '--from',
      to: '--to',
      rule: '--rule',
      target: '--target',
      cursor: '--cursor',
    },
    async run(ctx) {
      const limit = wholeNumber(ctx, 'limit', [1, 1000]);
      const range = timeRange(ctx, false);
      const q = query([
        ['rule', str(ctx, 'rule')],
        ['target', str(ctx, 'target')],
        ['from', range.from],
        ['to', range.to],
        ['limit', limit],
        ['cursor', str(ctx, 'cursor')],
      ]);
      const body = (await call(ctx, 'GET', `/dead-letters${q}`)) as {
        deadLetters: Array<{
          dlId: string;
          rule: string;
          target: string;
          source: string;
          id: string;
          reason: string;
          at: number;
          attempts?: unknown[];
        }>;
        nextCursor?: string;
      };
      print(ctx, body, () =>
        [
          body.deadLetters.length === 0
            ? 'no dead letters'
            : table([
                ['ID', 'RULE/TARGET', 'EVENT', 'ATTEMPTS', 'AT', 'REASON'],
                ...body.deadLetters.map((d) => [
                  d.dlId,
                  `${d.rule}/${d.target}`,
                  `${d.source} ${d.id}`,
                  String(d.attempts?.length ?? 0),
                  time(d.at),
                  oneLine(String(d.reason)),
                ]),
              ]),
          ...nextPage(ctx, body.nextCursor),
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'dead-letters redrive',
    synopsis: '(--all | --rule R [--target T] | --id ID ...)',
    summary: 'deliver dead letters again',
    flags: LETTER_FLAGS,
    fields: LETTER_FIELDS,
    async run(ctx) {
      const body = deadLetterSelection(ctx, 'redrive');
      const r = { redriven: 0, skipped: 0 };
      await postPages<{ redriven: number; skipped: number }>(ctx, '/dead-letters/redrive', body, (page) => {
        r.redriven += page.redriven;
        r.skipped += page.skipped;
      });
      print(
        ctx,
        r,
        () =>
          `redriven ${r.redriven}${r.skipped ? `, skipped ${r.skipped} (delivered already, exactly-once; or still being closed: try again)` : ''}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'dead-letters delete',
    synopsis: '(--all | --rule R [--target T] | --id ID ...) [--to T]',
    summary: "delete dead letters (no redrive: a deleted rule's, a connector's, old ones)",
    flags: { ...LETTER_FLAGS, to: ['T', 'only those dead-lettered before (now, -1d, RFC 3339, epoch ms)'] },
    fields: { ...LETTER_FIELDS, to: '--to' },
    async run(ctx) {
      const selection = deadLetterSelection(ctx, 'delete');
      const to = str(ctx, 'to');
      const body = { ...selection, ...(to === undefined ? {} : { to: parseCliTime(to, '--to', ctx.now) }) };
      const r = { deleted: 0 };
      await postPages<{ deleted: number }>(ctx, '/dead-letters/delete', body, (page) => {
        r.deleted += page.deleted;
      });
      print(ctx, r, () => `deleted ${r.deleted}`);
      return EXIT.ok;
    },
  },
  {
    name: 'deliveries list',
    synopsis: '[--state pending|in-flight] [--rule R] [--target T] [--limit N] [--cursor C]',
    summary: 'deliveries not done yet: pending (waiting or retrying) and in flight',
    flags: {
      state: ['S', 'pending or in-flight'],
      rule: ['R', 'only this rule'],
      target: ['T', 'only this target'],
      limit: ['N', 'at most N (1-1000)'],
      cursor: ['C', 'the next page, from the previous answer'],
    },
    fields: { state: '--state', rule: '--rule', target: '--target', limit: '--limit', cursor: '--cursor' },
    async run(ctx) {
      const state = str(ctx, 'state');
      if (state !== undefined && state !== 'pending' && state !== 'in-flight') {
        throw new UsageError(`--state must be pending or in-flight, got "${state}"`, '--state');
      }
      const limit = wholeNumber(ctx, 'limit', [1, 1000]);
      const q = query([
        ['state', state],
        ['rule', str(ctx, 'rule')],
        ['target', str(ctx, 'target')],
        ['limit', limit],
        ['cursor', str(ctx, 'cursor')],
      ]);
      const body = (await call(ctx, 'GET', `/deliveries${q}`)) as {
        deliveries: Array<{
          source: string;
          id: string;
          rule: string;
          target: string;
          state: string;
          createdAt: unknown;
          dueAt: unknown;
          attempts: number;
          lastAttempt?: { at: unknown; outcome: string; status?: number; error?: string; latencyMs?: number };
        }>;
        nextCursor?: string;
      };
      print(ctx, body, () =>
        [
          body.deliveries.length === 0
            ? 'no pending deliveries'
            : table([
                ['RULE/TARGET', 'EVENT', 'STATE', 'ATTEMPTS', 'DUE', 'LAST ATTEMPT'],
                ...body.deliveries.map((d) => {
                  const last = d.lastAttempt;
                  return [
                    `${d.rule}/${d.target}`,
                    `${d.source} ${d.id}`,
                    d.state,
                    String(d.attempts),
                    time(d.dueAt),
                    last === undefined
                      ? ''
                      : `${last.outcome}${last.status === undefined ? '' : ` ${last.status}`}${last.error ? ` — ${oneLine(last.error)}` : ''} at ${time(last.at)}`,
                  ];
                }),
              ]),
          ...nextPage(ctx, body.nextCursor),
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'deliveries retry',
    synopsis: '(--all | --rule R [--target T])',
    summary: 'make pending deliveries due now (their retry wait is skipped)',
    flags: {
      all: ['', 'every pending delivery'],
      rule: ['R', "this rule's pending deliveries"],
      target: ['T', 'only this target of --rule'],
    },
    fields: { rule: '--rule', target: '--target', all: '--all' },
    notFound: 'list them with `junction rules list`',
    async run(ctx) {
      const rule = str(ctx, 'rule');
      const target = str(ctx, 'target');
      if (ctx.values.all === true && (rule !== undefined || target !== undefined)) {
        throw new UsageError('--all cannot be combined with --rule or --target', '--all');
      }
      if (target !== undefined && rule === undefined)
        throw new UsageError('--target needs --rule', '--target');
      if (ctx.values.all !== true && rule === undefined)
        throw new UsageError('say what to retry: --all or --rule R');
      const body =
        ctx.values.all === true ? { all: true } : { rule, ...(target === undefined ? {} : { target }) };
      const r = (await call(ctx, 'POST', '/deliveries/retry', { json: body })) as { retried: number };
      print(ctx, r, () => `retried ${r.retried}`);
      return EXIT.ok;
    },
  },
  {
    name: 'replay start',
    synopsis: '--from T --to T [--rule R] [--name N]',
    summary: 're-deliver the retained events of a time range (also: junction replay --from …)',
    flags: {
      ...RANGE_FLAGS,
      rule: ['R', 'only to this rule (default every rule)'],
      name: ['N', 'the replay name: 1-64 of a-z, 0-9, - (default generated); a used name is refused'],
    },
    fields: { from: '--from', to: '--to', rule: '--rule', name: '--name' },
    notFound: 'list them with `junction rules list`',
    conflict: 'that replay name is taken: pick another --name (see `junction replay list`)',
    examples: ['junction replay --from -2h --to -1h --rule big-orders --name fix-1'],
    async run(ctx) {
      const range = timeRange(ctx, true);
      const rule = str(ctx, 'rule');
      const name = str(ctx, 'name');
      const body = {
        ...range,
        ...(rule === undefined ? {} : { rule }),
        ...(name === undefined ? {} : { name }),
      };
      const r = (await call(ctx, 'POST', '/replays', { json: body })) as {
        name: string;
        state?: string;
        events?: number;
        deliveries?: number;
        counts?: { events: number; deliveries: number };
      };
      print(ctx, r, () =>
        typeof r.events === 'number'
          ? `replay ${r.name}: ${r.events} events, ${r.deliveries} deliveries scheduled`
          : `replay ${r.name} ${r.state ?? 'started'}${r.counts ? `: ${r.counts.events} events, ${r.counts.deliveries} deliveries so far` : ''} — follow it with: junction replay status ${r.name}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'replay list',
    summary: 'the replays, running and done',
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/replays')) as { replays: Replay[] };
      print(ctx, body, () =>
        body.replays.length === 0
          ? 'no replays yet — start one with: junction replay --from -1h --to now'
          : table([
              ['NAME', 'STATE', 'FROM', 'TO', 'RULE', 'PROGRESS', 'EVENTS', 'DELIVERIES', 'STARTED'],
              ...body.replays.map((r) => [
                r.name,
                r.state,
                time(r.from),
                time(r.to),
                r.rule ?? '*',
                `${r.progress?.read ?? '?'}/${r.progress?.total ?? '?'}`,
                String(r.counts?.events ?? ''),
                String(r.counts?.deliveries ?? ''),
                time(r.startedAt),
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'replay status',
    args: ['NAME'],
    summary: 'one replay: its state, progress and counts',
    notFound: 'list them with `junction replay list`',
    async run(ctx, [name]) {
      const r = (await call(ctx, 'GET', `/replays/${seg(name!)}`)) as Replay;
      print(ctx, r, () =>
        table([
          ['name', r.name],
          ['state', r.state],
          ['range', `${time(r.from)} .. ${time(r.to)}`],
          ['rule', r.rule ?? '* (every rule)'],
          ['progress', `${r.progress?.read ?? '?'} of ${r.progress?.total ?? '?'} events read`],
          ['matched', `${r.counts?.events ?? '?'} events, ${r.counts?.deliveries ?? '?'} deliveries`],
          ['started', time(r.startedAt)],
          ...(r.endedAt === undefined ? [] : [['ended', time(r.endedAt)]]),
        ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'connectors list',
    summary: 'the source connectors, their state, lag and rate',
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/connectors')) as { connectors: ConnectorView[] };
      print(ctx, body, () =>
        body.connectors.length === 0
          ? 'no connectors yet — declare one with: junction connectors put NAME connector.json'
          : table([
              ['NAME', 'TYPE', 'STATE', 'READS', 'LAG', 'EVENTS/S', 'LAST ERROR'],
              ...body.connectors.map((c) => [
                c.name,
                c.spec.type,
                c.state,
                c.spec.topic ?? c.spec.publication ?? '',
                c.lag === undefined ? '?' : String(c.lag),
                String(c.eventsPerSecond),
                c.lastError === undefined || c.state === 'running' ? '' : oneLine(c.lastError.message),
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'connectors put',
    args: ['NAME', 'FILE'],
    summary:
      'declare or change the connector NAME from JSON (inline, a file, or - for standard input); see docs/connectors.md',
    examples: [
      'junction connectors put orders \'{"type":"kafka","brokers":["localhost:9092"],"topic":"orders","group":"junction"}\'',
      'junction connectors put orders connector.json',
    ],
    async run(ctx, [name, file]) {
      const definition = await jsonInput(ctx, file!, 'FILE', true);
      const c = (await call(ctx, 'PUT', `/connectors/${seg(name!)}`, { json: definition })) as ConnectorView;
      print(ctx, c, () => `connector ${name} saved (${connectorReads(c)}); it is ${c.state}`);
      return EXIT.ok;
    },
  },
  {
    name: 'connectors status',
    args: ['NAME'],
    summary: 'one connector: state, last error, position, lag, counts',
    notFound: 'list them with `junction connectors list`',
    async run(ctx, [name]) {
      const c = (await call(ctx, 'GET', `/connectors/${seg(name!)}`)) as ConnectorView;
      const position = Object.entries(c.position)
        .map(([p, o]) => `${p}:${o}`)
        .join(' ');
      print(ctx, c, () =>
        table([
          ['name', c.name],
          ['type', connectorReads(c)],
          ['state', c.state],
          ...(c.lastError === undefined
            ? []
            : [['last error', `${oneLine(c.lastError.message)} (at ${time(c.lastError.at)})`]]),
          ['position', position === '' ? '(none yet)' : position],
          ['lag', c.lag === undefined ? '?' : `${c.lag} records`],
          ['events', `${c.events} taken, ${c.duplicates} duplicates dropped, ${c.invalid} dead-lettered`],
          ['rate', `${c.eventsPerSecond} events/s (last 10 s)`],
        ]),
      );
      return EXIT.ok;
    },
  },
  ...(['pause', 'resume'] as const).map(
    (verb): Command => ({
      name: `connectors ${verb}`,
      args: ['NAME'],
      summary:
        verb === 'pause'
          ? 'stop reading (the position stays committed) until resumed'
          : 'read again from the committed position',
      notFound: 'list them with `junction connectors list`',
      async run(ctx, [name]) {
        const c = (await call(ctx, 'POST', `/connectors/${seg(name!)}/${verb}`)) as ConnectorView;
        print(ctx, c, () => `connector ${name} ${verb === 'pause' ? 'paused' : `resumed (${c.state})`}`);
        return EXIT.ok;
      },
    }),
  ),
  {
    name: 'connectors delete',
    args: ['NAME'],
    summary: 'stop and remove a connector (--json prints {"deleted": NAME})',
    notFound: 'list them with `junction connectors list`',
    async run(ctx, [name]) {
      await call(ctx, 'DELETE', `/connectors/${seg(name!)}`);
      print(ctx, { deleted: name }, () => `deleted connector ${name}`);
      return EXIT.ok;
    },
  },
  {
    name: 'schemas list',
    summary: 'the schemas of the bus: binding, enforcement, compatibility, latest version',
    async run(ctx) {
      const body = (await call(ctx, 'GET', '/schemas')) as { schemas: SchemaView[] };
      print(ctx, body, () =>
        body.schemas.length === 0
          ? 'no schemas yet — register one with: junction schemas put NAME schema.json --type TYPE'
          : table([
              ['NAME', 'LATEST', 'BINDING', 'ENFORCEMENT', 'COMPATIBILITY'],
              ...body.schemas.map((s) => [
                s.name,
                String(s.latest),
                describeBinding(s.binding),
                s.enforcement,
                s.compatibility,
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas put',
    args: ['NAME', 'FILE'],
    synopsis: '[--type T [--source PREFIX] | --dataschema URI] [--compatibility C] [--enforcement E]',
    summary:
      'register a version of the schema NAME: FILE (inline, a file, or -) is a JSON Schema (or an EventBridge OpenAPI export) with the flags, or a whole request {"schema", "binding", …}; see docs/schemas.md',
    flags: {
      type: ['TYPE', 'bind the schema to events of this type'],
      source: ['PREFIX', 'narrow the binding to sources starting with PREFIX (with --type)'],
      dataschema: ['URI', 'bind the schema to events whose dataschema is URI (instead of --type)'],
      compatibility: ['C', 'NONE, BACKWARD (the default), FORWARD, FULL, or a _TRANSITIVE form'],
      enforcement: ['E', 'off, warn or reject (the default): what ingest does with an event that fails it'],
    },
    fields: {
      'binding.type': '--type',
      'binding.source': '--source',
      'binding.dataschema': '--dataschema',
      compatibility: '--compatibility',
      enforcement: '--enforcement',
    },
    examples: [
      'junction schemas put invoices invoice.schema.json --type com.shop.invoice.issued --enforcement warn',
      'junction schemas put invoices request.json',
    ],
    conflict:
      'see docs/schemas.md for what each compatibility mode allows, or register it under another name',
    async run(ctx, [name, file]) {
      const document = await jsonInput(ctx, file!, 'FILE', true);
      const type = str(ctx, 'type');
      const source = str(ctx, 'source');
      const dataschema = str(ctx, 'dataschema');
      const compatibility = str(ctx, 'compatibility');
      const enforcement = str(ctx, 'enforcement');
      const flagged = [type, source, dataschema, compatibility, enforcement].some((v) => v !== undefined);
      if (source !== undefined && type === undefined)
        throw new UsageError('--source narrows a --type binding: give --type too', '--source');
      if (dataschema !== undefined && type !== undefined)
        throw new UsageError('bind by --type or by --dataschema, not both', '--dataschema');
      const isRequest =
        typeof document === 'object' && document !== null && !Array.isArray(document) && 'schema' in document;
      if (isRequest && flagged)
        throw new UsageError(
          'FILE is a whole request (it has a "schema" member): put the binding and settings in it, or give FILE as the bare schema with the flags',
          'FILE',
        );
      const request = isRequest
        ? document
        : {
            schema: document,
            ...(type === undefined ? {} : { binding: { type, ...(source === undefined ? {} : { source }) } }),
            ...(dataschema === undefined ? {} : { binding: { dataschema } }),
            ...(compatibility === undefined ? {} : { compatibility }),
            ...(enforcement === undefined ? {} : { enforcement }),
          };
      const answer = await callWithStatus(ctx, 'PUT', `/schemas/${seg(name!)}`, { json: request });
      const saved = answer.body as SchemaView & { version: number };
      const how = `${describeBinding(saved.binding)}, enforcement ${saved.enforcement}`;
      print(ctx, saved, () =>
        answer.status === 201
          ? `schema ${name} version ${saved.version} registered (${how})`
          : `schema ${name} unchanged: it is version ${saved.version} (${how})`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas get',
    args: ['NAME'],
    summary: 'one schema: its binding, settings and versions',
    notFound: 'list them with `junction schemas list`',
    async run(ctx, [name]) {
      const s = (await call(ctx, 'GET', `/schemas/${seg(name!)}`)) as SchemaView;
      print(ctx, s, () =>
        table([
          ['name', s.name],
          ['binding', describeBinding(s.binding)],
          ['enforcement', s.enforcement],
          ['compatibility', s.compatibility],
          ['latest', String(s.latest)],
          ...s.versions.map((v) => [`version ${v.version}`, `registered ${time(v.createdAt)}`]),
        ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas version',
    args: ['NAME', 'V'],
    summary: 'print version V of the schema NAME as JSON (--json prints it with its version and dialect)',
    notFound: 'list its versions with `junction schemas get NAME`',
    async run(ctx, [name, v]) {
      if (!/^[1-9]\d{0,5}$/.test(v!))
        throw new UsageError(`V must be a version number, got ${JSON.stringify(v)}`, 'V');
      const body = (await call(ctx, 'GET', `/schemas/${seg(name!)}/versions/${v}`)) as { schema: unknown };
      print(ctx, body, () => JSON.stringify(body.schema, null, 2));
      return EXIT.ok;
    },
  },
  {
    name: 'schemas discover',
    synopsis: '[--type T --source S [--draft-version V]]',
    summary:
      'the draft schemas discovery inferred from traffic (the bus runs with --discover-schemas); with --type and --source, print that draft as JSON, ready to save',
    flags: {
      type: ['T', 'the draft of events of this type (with --source)'],
      source: ['S', 'the draft of events from this source (with --type)'],
      'draft-version': ['V', 'that version of the draft (default the latest)'],
    },
    notFound: 'list the drafts with `junction schemas discover`',
    examples: [
      'junction schemas discover',
      'junction schemas discover --type com.shop.order.created --source /shop > order.schema.json',
    ],
    async run(ctx) {
      const type = str(ctx, 'type');
      const source = str(ctx, 'source');
      const version = wholeNumber(ctx, 'draft-version', [1, 999_999_999]);
      if ((type === undefined) !== (source === undefined))
        throw new UsageError(
          'a draft is named by --type and --source together',
          type === undefined ? '--type' : '--source',
        );
      if (type !== undefined && source !== undefined) {
        const path = `/schemas/discovered/${seg(source)}/${seg(type)}${version === undefined ? '' : `/versions/${version}`}`;
        const body = (await call(ctx, 'GET', path)) as { schema: unknown };
        print(ctx, body, () => JSON.stringify(body.schema, null, 2));
        return EXIT.ok;
      }
      if (version !== undefined)
        throw new UsageError('--draft-version needs --type and --source', '--draft-version');
      const body = (await call(ctx, 'GET', '/schemas/discovered')) as {
        discovery: string;
        drafts: Array<{ source: string; type: string; version: number; events: number; lastSeen: string }>;
      };
      print(ctx, body, () =>
        body.drafts.length === 0
          ? body.discovery === 'on'
            ? 'no discovered schemas yet: publish some events'
            : 'no discovered schemas: discovery is off — start the bus with `junction dev --discover-schemas`'
          : table([
              ['TYPE', 'SOURCE', 'VERSION', 'EVENTS', 'LAST SEEN'],
              ...body.drafts.map((d) => [
                d.type,
                d.source,
                String(d.version),
                String(d.events),
                time(d.lastSeen),
              ]),
            ]),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas promote',
    args: ['NAME'],
    synopsis:
      '--type T --source S [--draft-version V] [--compatibility C] [--enforcement E] [--dataschema URI]',
    summary:
      'register a discovered draft (the latest version unless --draft-version) as a version of the schema NAME, bound to its type and source unless --dataschema, enforcement warn unless --enforcement',
    flags: {
      type: ['T', 'the draft of events of this type'],
      source: ['S', 'the draft of events from this source (the binding takes it as a source prefix)'],
      'draft-version': ['V', 'that version of the draft (default the latest)'],
      compatibility: ['C', 'NONE, BACKWARD (the default), FORWARD, FULL, or a _TRANSITIVE form'],
      enforcement: ['E', 'off, warn (the default for a promoted draft) or reject'],
      dataschema: ['URI', 'bind the schema to events whose dataschema is URI instead'],
    },
    fields: {
      'binding.dataschema': '--dataschema',
      compatibility: '--compatibility',
      enforcement: '--enforcement',
      version: '--draft-version',
    },
    notFound: 'list the drafts with `junction schemas discover`',
    conflict: 'see docs/schemas.md for what each compatibility mode allows, or promote it under another name',
    examples: [
      'junction schemas promote orders --type com.shop.order.created --source /shop --enforcement reject',
    ],
    async run(ctx, [name]) {
      const type = str(ctx, 'type');
      const source = str(ctx, 'source');
      if (type === undefined) throw new UsageError('--type is required: the type of the draft', '--type');
      if (source === undefined)
        throw new UsageError('--source is required: the source of the draft', '--source');
      const version = wholeNumber(ctx, 'draft-version', [1, 999_999_999]);
      const compatibility = str(ctx, 'compatibility');
      const enforcement = str(ctx, 'enforcement');
      const dataschema = str(ctx, 'dataschema');
      const answer = await callWithStatus(
        ctx,
        'POST',
        `/schemas/discovered/${seg(source)}/${seg(type)}/promote`,
        {
          json: {
            name,
            ...(version === undefined ? {} : { version }),
            ...(compatibility === undefined ? {} : { compatibility }),
            ...(enforcement === undefined ? {} : { enforcement }),
            ...(dataschema === undefined ? {} : { binding: { dataschema } }),
          },
        },
      );
      const saved = answer.body as SchemaView & { version: number; promotedFrom: { version: number } };
      const how = `${describeBinding(saved.binding)}, enforcement ${saved.enforcement}`;
      print(ctx, saved, () =>
        answer.status === 201
          ? `draft version ${saved.promotedFrom.version} of ${type} from ${source} registered as schema ${name} version ${saved.version} (${how})`
          : `schema ${name} unchanged: draft version ${saved.promotedFrom.version} is its version ${saved.version} (${how})`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas codegen',
    variadic: true,
    synopsis: '--lang ts [NAME ...] [--out FILE]',
    summary:
      "TypeScript types for the latest version of each schema (or of NAME …): one type per schema named after it, CloudEvent<T> and EventTypes (each bound type's data type), for handler(event: CloudEvent<OrderCreated>)",
    flags: {
      lang: ['ts', 'the language: ts (TypeScript) is the one there is'],
      out: ['FILE', 'write the module to FILE instead of standard output'],
    },
    notFound: 'list them with `junction schemas list`',
    examples: [
      'junction schemas codegen --lang ts --out shop-types.ts',
      'junction schemas codegen --lang ts invoices order-created',
    ],
    async run(ctx, names) {
      const lang = str(ctx, 'lang');
      if (lang === undefined) throw new UsageError('--lang is required: --lang ts', '--lang');
      if (lang !== 'ts') throw new UsageError(`--lang must be ts (TypeScript), got "${lang}"`, '--lang');
      const out = str(ctx, 'out');
      // json-schema-to-typescript (and the prettier it formats with) load only for this command.
      const { generateTypes, typeName } = await import('./codegen.ts');
      const wanted =
        names.length > 0
          ? [...new Set(names)]
          : ((await call(ctx, 'GET', '/schemas')) as { schemas: SchemaView[] }).schemas.map((s) => s.name);
      const schemas: CodegenSchema[] = [];
      for (const name of wanted) {
        const view = (await call(ctx, 'GET', `/schemas/${seg(name)}`)) as SchemaView;
        const latest = (await call(ctx, 'GET', `/schemas/${seg(name)}/versions/latest`)) as {
          version: number;
          schema: unknown;
        };
        schemas.push({ name, version: latest.version, binding: view.binding, schema: latest.schema });
      }
      const code = await generateTypes(schemas, `the bus ${busOf(ctx)}`);
      if (out === undefined) {
        ctx.io.out(code.replace(/\n$/, ''));
        return EXIT.ok;
      }
      try {
        await writeFile(out, code);
      } catch (error) {
        throw new UsageError(`cannot write --out ${out}: ${fsReason(error)}`, '--out');
      }
      print(
        ctx,
        { out, schemas: schemas.map((s) => ({ name: s.name, version: s.version, type: typeName(s.name) })) },
        () =>
          `wrote ${out}: ${schemas.length === 0 ? 'no schemas' : schemas.map((s) => `${typeName(s.name)} (${s.name} v${s.version})`).join(', ')}`,
      );
      return EXIT.ok;
    },
  },
  {
    name: 'schemas delete',
    args: ['NAME'],
    summary:
      'remove a schema and all its versions: its events are no longer checked (--json prints {"deleted": NAME})',
    notFound: 'list them with `junction schemas list`',
    async run(ctx, [name]) {
      await call(ctx, 'DELETE', `/schemas/${seg(name!)}`);
      print(ctx, { deleted: name }, () => `deleted schema ${name}`);
      return EXIT.ok;
    },
  },
];

/** What the CLI reads of `GET /schemas/{name}`. */
interface SchemaView {
  name: string;
  binding: { type?: string; source?: string; dataschema?: string };
  enforcement: string;
  compatibility: string;
  latest: number;
  versions: Array<{ version: number; createdAt: unknown }>;
}

function describeBinding(binding: SchemaView['binding']): string {
  if (binding.dataschema !== undefined) return `dataschema ${binding.dataschema}`;
  return `type ${binding.type ?? '?'}${binding.source === undefined ? '' : ` from ${binding.source}*`}`;
}

/** What the CLI reads of `GET /connectors/{name}`. */
/** What a connector reads: `kafka orders (group g)`, `postgres-cdc publication shop (slot s)`. */
function connectorReads(c: ConnectorView): string {
  return c.spec.type === 'postgres-cdc'
    ? `${c.spec.type} publication ${c.spec.publication ?? '?'} (slot ${c.spec.slot ?? '?'})`
    : `${c.spec.type} ${c.spec.topic ?? ''} (group ${c.spec.group ?? '?'})`;
}

interface ConnectorView {
  name: string;
  spec: { type: string; topic?: string; group?: string; publication?: string; slot?: string };
  state: string;
  position: Record<string, number>;
  lag?: number;
  events: number;
  duplicates: number;
  invalid: number;
  eventsPerSecond: number;
  lastError?: { message: string; at: unknown };
}

interface Replay {
  name: string;
  state: string;
  from: unknown;
  to: unknown;
  rule?: string;
  startedAt: unknown;
  endedAt?: unknown;
  progress?: { read: number; total: number };
  counts?: { events: number; deliveries: number };
}

/** Every command and its flags (for tests that hold the docs to the CLI). */
export function cliCommands(): ReadonlyArray<{ readonly name: string; readonly flags: readonly string[] }> {
  return COMMANDS.map((c) => ({ name: c.name, flags: Object.keys(c.flags ?? {}).map((f) => `--${f}`) }));
}

const BY_NAME = new Map(COMMANDS.map((c) => [c.name, c]));
/** Command groups (`rules`, `functions`, …) and their subcommands, in order. */
const GROUPS = new Map<string, string[]>();
for (const c of COMMANDS) {
  const [group, sub] = c.name.split(' ');
  if (sub !== undefined) GROUPS.set(group!, [...(GROUPS.get(group!) ?? []), sub]);
}

// ---------------------------------------------------------------------------------------------------------------
// Help.

function usageLine(c: Command): string {
  return ['junction', c.name, ...(c.args ?? []), c.synopsis ?? ''].filter(Boolean).join(' ');
}

function flagLines(flags: Readonly<Partial<Record<Flag, readonly [string, string]>>>): string[] {
  const rows = Object.entries(flags).map(([flag, spec]) => {
    const [value, help] = spec as readonly [string, string];
    return [`  ${flag === 'help' ? '-h, ' : ''}--${flag}${value ? ` ${value}` : ''}`, help];
  });
  return table(rows).split('\n');
}

const TOP_USAGE_HINT = 'From the repository: npm run -s junction -- <command> (or npx junction <command>).';

const EXIT_TEXT =
  'Exit codes: 0 ok, 1 the bus answered with an error, 2 usage error (incl. a bad local file or JSON), 3 the bus is unreachable, 4 a bug in the CLI.';

function topHelp(): string {
  const rows = COMMANDS.map((c) => [`  ${[c.name, ...(c.args ?? [])].join(' ')}`, c.summary]);
  return [
    'junction — an open event bus for CloudEvents',
    '',
    'Usage: junction <command> [options]',
    TOP_USAGE_HINT,
    '',
    'Commands:',
    table(rows),
    '',
    'Options of every command:',
    ...flagLines({ ...GLOBAL_FLAGS, version: ['', 'print the version'] }),
    '',
    'Times (--from, --to): now, -30s, -30m, -1h, -2d, -1w, RFC 3339 (2026-05-01T12:00:00Z) or epoch ms.',
    'A file argument of - reads standard input. Errors are one line on stderr (JSON under --json).',
    EXIT_TEXT,
    'Run `junction help <command>` or `junction <command> --help` for its usage and options.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  return [
    `Usage: ${usageLine(c)}`,
    '',
    `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`,
    '',
    'Options:',
    ...flagLines({ ...(c.flags ?? {}), ...(c.local && c.name === 'dev' ? {} : globalFlagsOf(c)) }),
    ...(c.examples === undefined ? [] : ['', 'Examples:', ...c.examples.map((e) => `  ${e}`)]),
    '',
    EXIT_TEXT,
  ].join('\n');
}

/** The global flags a command takes: all but `--bus` for one that acts on the deployment. */
function globalFlagsOf(c: Command): Readonly<Partial<Record<Flag, readonly [string, string]>>> {
  if (!c.deployment) return GLOBAL_FLAGS;
  const { bus: _bus, ...rest } = GLOBAL_FLAGS;
  return rest;
}

function groupHelp(group: string): string {
  const subs = (GROUPS.get(group) ?? []).map((s) => BY_NAME.get(`${group} ${s}`)!);
  return [
    `Usage: junction ${group} <${(GROUPS.get(group) ?? []).join('|')}> …`,
    '',
    ...subs.flatMap((c) => [`  ${usageLine(c)}`, `      ${c.summary}`]),
    '',
    `Options of every command: ${Object.keys(subs[0] === undefined ? GLOBAL_FLAGS : globalFlagsOf(subs[0]))
      .map((f) => `--${f}`)
      .join(', ')}. Run \`junction ${group} <subcommand> --help\` for its options.`,
  ].join('\n');
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return `junction ${pkg.version ?? 'unknown'}`;
  } catch {
    return 'junction (version unknown)';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Running a command line.

/**
 * parseArgs refuses `--from -1h` as ambiguous: a value that starts with `-` and a digit (a relative time, a
 * negative number) is joined to its flag (`--from=-1h`).
 */
function joinDashValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const flag = arg.startsWith('--') ? (arg.slice(2) as Flag) : undefined;
    if (flag !== undefined && FLAGS[flag]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i += 1;
    } else out.push(arg);
  }
  return out;
}

function parseError(error: unknown): UsageError {
  const message = (error as Error).message ?? String(error);
  const code = (error as { code?: string }).code;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option)
    return new UsageError(`unknown option '${option}'`, option);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
    if (/argument missing/.test(message)) return new UsageError(`${option} needs a value`, option);
    if (/ambiguous/.test(message))
      return new UsageError(
        `${option} needs a value; to give one that starts with -, write ${option}=-…`,
        option,
      );
    if (/does not take an argument/.test(message)) return new UsageError(`${option} takes no value`, option);
  }
  return new UsageError(oneLine(message.split('\n')[0] ?? message));
}

/** Finds the command the positionals name; answers it and its own positionals, or help to print. */
function resolve(
  positionals: readonly string[],
  help: boolean,
): { command: Command; rest: string[] } | { group: string } {
  const [first, second] = positionals;
  const subs = GROUPS.get(first!);
  if (subs !== undefined) {
    const command = second === undefined ? undefined : BY_NAME.get(`${first} ${second}`);
    if (command !== undefined) return { command, rest: positionals.slice(2) };
    if (first === 'replay' && !(help && second === undefined))
      return { command: BY_NAME.get('replay start')!, rest: positionals.slice(1) };
    if (second === undefined) return { group: first! };
    throw new UsageError(`unknown command "${first} ${second}"; ${first} takes: ${subs.join(', ')}`);
  }
  const command = BY_NAME.get(first!);
  if (command === undefined) throw new UsageError(`unknown command "${first}"`);
  return { command, rest: positionals.slice(1) };
}

interface RunState {
  json: boolean;
  command?: Command;
}

async function run(argv: readonly string[], io: CliIo, state: RunState): Promise<number> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: joinDashValues(argv), options: FLAGS, strict: true, allowPositionals: true });
  } catch (error) {
    throw parseError(error);
  }
  const { values, positionals } = parsed;
  state.json = values.json === true;
  if (values.version === true) {
    io.out(state.json ? JSON.stringify({ version: version().replace(/^junction /, '') }) : version());
    return EXIT.ok;
  }
  let words = positionals;
  let help = values.help === true;
  if (words[0] === 'help') {
    words = words.slice(1);
    help = true;
  }
  if (words.length === 0) {
    io.out(topHelp());
    return help ? EXIT.ok : EXIT.usage;
  }
  const found = resolve(words, help);
  if ('group' in found) {
    if (help) {
      io.out(groupHelp(found.group));
      return EXIT.ok;
    }
    throw new UsageError(`${found.group} needs a subcommand: ${GROUPS.get(found.group)!.join(', ')}`);
  }
  const { command, rest } = found;
  state.command = command;
  if (help) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  for (const key of Object.keys(values)) {
    if (command.flags !== undefined && key in command.flags) continue;
    if (key in GLOBAL_FLAGS && !(key === 'bus' && command.deployment)) continue;
    throw new UsageError(`--${key} is not an option of \`junction ${command.name}\``, `--${key}`);
  }
  const args = command.args ?? [];
  if (rest.length < args.length) {
    throw new UsageError(`missing ${args.slice(rest.length).join(' ')}; usage: ${usageLine(command)}`);
  }
  if (rest.length > args.length && command.variadic !== true)
    throw new UsageError(`unexpected argument "${rest[args.length]}"`);
  const ctx: Context = {
    io,
    json: state.json,
    command,
    values,
    now: (io.now ?? Date.now)(),
    stdinTakenBy: undefined,
  };
  return (await command.run(ctx, rest)) ?? EXIT.ok;
}

/** The one line for an error of the bus, naming the CLI flag when the bus named its request field. */
function describeApiError(error: ApiError, command: Command | undefined): { line: string; json: unknown } {
  const body = error.body as
    | {
        error?: {
          code?: string;
          message?: string;
          field?: string;
          path?: string;
          retryAfterSeconds?: number;
        };
      }
    | undefined;
  const e = typeof body === 'object' && body !== null ? body.error : undefined;
  if (e === undefined || typeof e !== 'object' || e === null) {
    const text = typeof error.body === 'string' ? error.body : JSON.stringify(error.body ?? '');
    const message = `the bus answered ${error.status}${text ? `: ${oneLine(text).slice(0, 500)}` : ''}`;
    return { line: message, json: { error: { code: 'BadAnswer', status: error.status, message } } };
  }
  const flag = e.field === undefined ? undefined : command?.fields?.[e.field];
  let message = oneLine(String(e.message ?? ''));
  if (flag !== undefined && e.field !== undefined) {
    const field = e.field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    message = message.replace(new RegExp(`^(query parameter )?"?${field}"?(?=\\s)`), flag);
    message = message.replace(new RegExp(`query parameter ${field}\\b`), flag);
  }
  const where =
    e.code === 'NotFound'
      ? ''
      : flag !== undefined
        ? message.includes(flag)
          ? ''
          : ` (${flag})`
        : e.path || e.field
          ? ` at ${e.path ?? e.field}`
          : '';
  const hint =
    error.status === 404 && /^no route for /.test(message)
      ? 'is the bus older than this CLI?'
      : error.status === 404 && /^there is no bus named /.test(message) && !command?.name.startsWith('buses ')
        ? 'list the buses with `junction buses list`, or create it with `junction buses put NAME`'
        : error.status === 404
          ? command?.notFound
          : error.status === 409
            ? command?.conflict
            : error.status === 429
              ? `retry in ${e.retryAfterSeconds ?? 1} s`
              : error.status === 503
                ? 'the log is unavailable: try again shortly'
                : undefined;
  return {
    line: `${e.code ?? `HTTP ${error.status}`}${where}: ${message}${hint ? ` — ${hint}` : ''}`,
    json: flag === undefined ? body : { ...body, error: { ...e, flag } },
  };
}

/**
 * Runs one command line. Never throws: every outcome is an exit code, and every failure one line on `io.err`
 * (a JSON object `{"error": {"code", "message", …}}` under `--json`).
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const state: RunState = { json: argv.includes('--json') };
  try {
    return await run(argv, io, state);
  } catch (error) {
    try {
      return report(error, io, state);
    } catch {
      return EXIT.internal;
    }
  }
}

function report(error: unknown, io: CliIo, state: RunState): number {
  const name = state.command?.name;
  const emit = (line: string, json: unknown) => io.err(state.json ? JSON.stringify(json) : oneLine(line));
  if (error instanceof UsageError) {
    const where = name === undefined ? 'junction' : `junction ${name}`;
    const help = name === undefined ? 'junction help' : `junction ${name} --help`;
    emit(`${where}: ${error.message} — see \`${help}\``, {
      error: {
        code: 'Usage',
        message: error.message,
        ...(name === undefined ? {} : { command: name }),
        ...(error.flag === undefined ? {} : { flag: error.flag }),
      },
    });
    return EXIT.usage;
  }
  if (error instanceof UnreachableError) {
    emit(`${error.message} — is it running? Start it with \`npm start\`, or pass --url`, {
      error: { code: 'Unreachable', message: error.message },
    });
    return EXIT.unreachable;
  }
  if (error instanceof ApiError) {
    const { line, json } = describeApiError(error, state.command);
    emit(line, json);
    return EXIT.apiError;
  }
  const message = oneLine(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  emit(`internal error in the junction CLI (${message}) — please report it`, {
    error: { code: 'CliInternal', message },
  });
  return EXIT.internal;
}
