/**
 * The `junction` CLI: each command talks to the HTTP API (`--url`, default the local bus), prints readable output
 * (or `--json`), and exits 0 on success, 1 when the bus answered with an error, 2 on a usage error, 3 when the
 * bus cannot be reached.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Runs the embedded bus in this process (for `junction dev`); resolves when it stops, with an exit code. */
  readonly dev?: (options: DevOptions) => Promise<unknown>;
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
}

export const EXIT = { ok: 0, apiError: 1, usage: 2, unreachable: 3 } as const;

const USAGE = `junction — an open event bus for CloudEvents

Usage: junction <command> [options]

  dev [--port 8080] [--host 127.0.0.1] [--data-dir ./.junction] [--kafka host:port [--topic T] [--partitions N]]
      [--quota-per-source EVENTS_PER_S [--quota-burst N]]
                                        run the embedded bus in the foreground
  put --type T --source S [--id ID] [--data JSON | --data-file F] [--subject X] [--ext k=v ...]
                                        publish one CloudEvent
  put --file events.json                publish a JSON array of events as a batch
  rules list | get NAME | delete NAME   manage rules
  rules put NAME FILE                   create or replace a rule from a JSON file
  rules test --pattern FILE|JSON [--filter SQL] --event FILE|JSON
                                        test a pattern/filter against an event, with an explanation
  rules simulate NAME --from T --to T [--pattern FILE|JSON]
                                        run a rule over retained events, delivering nothing
  functions deploy NAME FILE [--timeout-ms N] [--memory-mb N] [--aws]
                                        (--aws: straight to AWS Lambda, see docs/aws-handlers.md)
  functions list | delete NAME
  trace ID [--source S]                 an event's journey
  dead-letters list [--rule R] [--target T] [--limit N]
  dead-letters redrive (--all | --rule R | --id ID ...)
  replay --from T --to T [--rule R]     re-deliver retained events of a time range

Options: --url URL (default $JUNCTION_URL or http://127.0.0.1:8080), --json, --help
Exit codes: 0 ok, 1 the bus answered with an error, 2 usage error, 3 the bus is unreachable.`;

class UsageError extends Error {}

interface Context {
  readonly url: string;
  readonly json: boolean;
  readonly io: CliIo;
}

interface ApiError {
  status: number;
  body: unknown;
}

async function call(
  ctx: Context,
  method: string,
  path: string,
  body?: unknown,
  raw?: Uint8Array,
  contentType = 'application/octet-stream',
): Promise<unknown> {
  const headers: Record<string, string> = {};
  let payload: string | Uint8Array | undefined;
  if (raw !== undefined) {
    payload = raw;
    headers['content-type'] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(`${ctx.url}${path}`, {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw Object.assign(
      new Error(`cannot reach the bus at ${ctx.url} (${cause?.code ?? (error as Error).message})`),
      {
        unreachable: true,
      },
    );
  }
  const text = await response.text();
  const parsed =
    text === ''
      ? undefined
      : response.headers.get('content-type')?.includes('json')
        ? JSON.parse(text)
        : text;
  if (!response.ok) throw { status: response.status, body: parsed } satisfies ApiError;
  return parsed;
}

function jsonArg(value: string, what: string): unknown {
  const text =
    value.trim().startsWith('{') || value.trim().startsWith('[') ? value : readFileSync(value, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function print(ctx: Context, value: unknown, human: () => string): void {
  ctx.io.out(ctx.json ? JSON.stringify(value, null, 2) : human());
}

function time(ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString() : String(ms);
}

function table(rows: string[][]): string {
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

/** A command; answers an exit code other than 0 when the outcome is a failure without an error. */
type Handler = (ctx: Context, args: string[], values: Record<string, unknown>) => Promise<unknown>;

const put: Handler = async (ctx, _args, v) => {
  if (typeof v.file === 'string') {
    const events = jsonArg(v.file, '--file');
    if (!Array.isArray(events)) throw new UsageError('--file must hold a JSON array of CloudEvents');
    const result = (await callRaw(
      ctx,
      '/events',
      JSON.stringify(events),
      'application/cloudevents-batch+json',
    )) as {
      accepted: number;
      failed: number;
      results: Array<{ id?: string; error?: { code: string; message: string } }>;
    };
    print(ctx, result, () =>
      [
        `accepted ${result.accepted}, failed ${result.failed}`,
        ...result.results.flatMap((r, i) =>
          r.error ? [`  #${i} ${r.id ?? ''} ${r.error.code}: ${r.error.message}`] : [],
        ),
      ].join('\n'),
    );
    return result.failed > 0 ? EXIT.apiError : EXIT.ok;
  }
  if (typeof v.type !== 'string' || typeof v.source !== 'string') {
    throw new UsageError('put needs --type and --source (or --file with a batch)');
  }
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: typeof v.id === 'string' ? v.id : globalThis.crypto.randomUUID(),
    source: v.source,
    type: v.type,
    time: new Date().toISOString(),
  };
  if (typeof v.subject === 'string') event.subject = v.subject;
  if (typeof v.data === 'string') {
    event.datacontenttype = 'application/json';
    event.data = jsonArg(v.data, '--data');
  } else if (typeof v['data-file'] === 'string') {
    event.datacontenttype = 'application/json';
    event.data = jsonArg(v['data-file'], '--data-file');
  }
  for (const ext of (v.ext as string[] | undefined) ?? []) {
    const eq = ext.indexOf('=');
    if (eq <= 0) throw new UsageError(`--ext takes name=value, got "${ext}"`);
    event[ext.slice(0, eq)] = ext.slice(eq + 1);
  }
  const result = (await callRaw(ctx, '/events', JSON.stringify(event), 'application/cloudevents+json')) as {
    id: string;
    duplicate: boolean;
  };
  print(
    ctx,
    result,
    () => `${result.duplicate ? 'duplicate (already accepted)' : 'accepted'}: ${event.source} ${result.id}`,
  );
};

function callRaw(ctx: Context, path: string, body: string, contentType: string): Promise<unknown> {
  return call(ctx, 'POST', path, undefined, new TextEncoder().encode(body), contentType);
}

const rules: Handler = async (ctx, args, v) => {
  const [sub, name, file] = args;
  switch (sub) {
    case 'list': {
      const { rules: list } = (await call(ctx, 'GET', '/rules')) as { rules: Array<Record<string, unknown>> };
      print(ctx, list, () =>
        list.length === 0
          ? 'no rules yet — create one with: junction rules put NAME rule.json'
          : table([
              ['NAME', 'ENABLED', 'TARGETS', 'DESCRIPTION'],
              ...list.map((r) => [
                String(r.name),
                String(r.enabled),
                (r.targets as Array<{ id: string; type: string }>).map((t) => `${t.id}(${t.type})`).join(','),
                String(r.description ?? ''),
              ]),
            ]),
      );
      return;
    }
    case 'get': {
      if (!name) throw new UsageError('rules get NAME');
      const rule = await call(ctx, 'GET', `/rules/${encodeURIComponent(name)}`);
      ctx.io.out(JSON.stringify(rule, null, 2));
      return;
    }
    case 'delete': {
      if (!name) throw new UsageError('rules delete NAME');
      await call(ctx, 'DELETE', `/rules/${encodeURIComponent(name)}`);
      print(ctx, { deleted: name }, () => `deleted rule ${name}`);
      return;
    }
    case 'put': {
      if (!name || !file) throw new UsageError('rules put NAME FILE');
      const rule = (await call(
        ctx,
        'PUT',
        `/rules/${encodeURIComponent(name)}`,
        jsonArg(file, 'the rule file'),
      )) as {
        targets: unknown[];
      };
      print(ctx, rule, () => `rule ${name} saved with ${rule.targets.length} target(s)`);
      return;
    }
    case 'test': {
      if (v.event === undefined || (v.pattern === undefined && v.filter === undefined)) {
        throw new UsageError('rules test --pattern FILE|JSON [--filter SQL] --event FILE|JSON');
      }
      const body: Record<string, unknown> = { event: jsonArg(v.event as string, '--event') };
      if (typeof v.pattern === 'string') body.pattern = jsonArg(v.pattern, '--pattern');
      if (typeof v.filter === 'string') body.filter = v.filter;
      const result = (await call(ctx, 'POST', '/patterns/test', body)) as {
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
    }
    case 'simulate': {
      if (!name || v.from === undefined || v.to === undefined)
        throw new UsageError('rules simulate NAME --from T --to T');
      const body: Record<string, unknown> = { from: v.from, to: v.to };
      if (typeof v.pattern === 'string') body.pattern = jsonArg(v.pattern, '--pattern');
      if (typeof v.filter === 'string') body.filter = v.filter;
      const r = (await call(ctx, 'POST', `/rules/${encodeURIComponent(name)}/simulate`, body)) as {
        scanned: number;
        matched: number;
        sample: Array<{ source: string; id: string; type: string }>;
      };
      print(ctx, r, () =>
        [
          `${name}: ${r.matched} of ${r.scanned} retained events would match (nothing was delivered)`,
          ...r.sample.map((e) => `  ${e.type}  ${e.source}  ${e.id}`),
        ].join('\n'),
      );
      return;
    }
    default:
      throw new UsageError('rules list | get NAME | put NAME FILE | delete NAME | test ... | simulate ...');
  }
};

const functions: Handler = async (ctx, args, v) => {
  const [sub, name, file] = args;
  switch (sub) {
    case 'deploy': {
      if (!name || !file) throw new UsageError('functions deploy NAME FILE');
      if (v.aws === true) {
        const { runAwsDeploy } = await import('./aws-deploy.ts');
        return runAwsDeploy(
          {
            name,
            file,
            json: ctx.json,
            ...(typeof v['timeout-ms'] === 'string' ? { timeoutMs: v['timeout-ms'] } : {}),
            ...(typeof v['memory-mb'] === 'string' ? { memoryMb: v['memory-mb'] } : {}),
          },
          ctx.io,
        );
      }
      let source: Uint8Array;
      try {
        source = readFileSync(file);
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      }
      const q = new URLSearchParams();
      if (typeof v['timeout-ms'] === 'string') q.set('timeoutMs', v['timeout-ms']);
      if (typeof v['memory-mb'] === 'string') q.set('memoryMb', v['memory-mb']);
      const suffix = q.size > 0 ? `?${q}` : '';
      const info = (await call(
        ctx,
        'PUT',
        `/functions/${encodeURIComponent(name)}${suffix}`,
        undefined,
        source,
      )) as {
        size: number;
        sha256: string;
      };
      print(
        ctx,
        info,
        () => `deployed ${name}: ${info.size} bytes bundled, sha256 ${info.sha256.slice(0, 12)}`,
      );
      return;
    }
    case 'list': {
      const { functions: list } = (await call(ctx, 'GET', '/functions')) as {
        functions: Array<Record<string, unknown>>;
      };
      print(ctx, list, () =>
        list.length === 0
          ? 'no functions yet — deploy one with: junction functions deploy NAME handler.ts'
          : table([
              ['NAME', 'SIZE', 'TIMEOUT', 'MEMORY', 'UPDATED'],
              ...list.map((f) => [
                String(f.name),
                `${f.size} B`,
                `${f.timeoutMs} ms`,
                `${f.memoryMb} MB`,
                time(f.updatedAt),
              ]),
            ]),
      );
      return;
    }
    case 'delete': {
      if (!name) throw new UsageError('functions delete NAME');
      await call(ctx, 'DELETE', `/functions/${encodeURIComponent(name)}`);
      print(ctx, { deleted: name }, () => `deleted function ${name}`);
      return;
    }
    default:
      throw new UsageError('functions deploy NAME FILE | list | delete NAME');
  }
};

const trace: Handler = async (ctx, args, v) => {
  const [id] = args;
  if (!id) throw new UsageError('trace ID [--source S]');
  const q = typeof v.source === 'string' ? `?source=${encodeURIComponent(v.source)}` : '';
  const result = (await call(ctx, 'GET', `/events/${encodeURIComponent(id)}/trace${q}`)) as {
    source: string;
    id: string;
    entries: Array<{
      at: number;
      kind: string;
      rule?: string;
      target?: string;
      detail?: Record<string, unknown>;
    }>;
  };
  print(ctx, result, () =>
    [
      `${result.source} ${result.id}`,
      ...result.entries.map((e) => {
        const where = [e.rule, e.target].filter(Boolean).join('/');
        const d = e.detail ?? {};
        const extra =
          e.kind === 'attempt'
            ? `#${d.number} ${d.outcome} ${d.latencyMs} ms${d.status ? ` status ${d.status}` : ''}${d.error ? ` — ${d.error}` : ''}`
            : e.kind === 'retry-scheduled'
              ? `in ${d.delayMs} ms`
              : e.kind === 'received'
                ? `partition ${d.partition} offset ${d.offset}`
                : e.kind === 'dead-lettered'
                  ? String(d.reason)
                  : e.kind === 'emitted'
                    ? JSON.stringify(d.events)
                    : '';
        return `  ${time(e.at)}  ${e.kind.padEnd(15)} ${[where, extra].filter(Boolean).join(' ')}`.trimEnd();
      }),
    ].join('\n'),
  );
};

const deadLetters: Handler = async (ctx, args, v) => {
  const [sub] = args;
  if (sub === 'list') {
    const q = new URLSearchParams();
    for (const k of ['rule', 'target', 'limit', 'from', 'to'] as const)
      if (typeof v[k] === 'string') q.set(k, v[k]);
    const { deadLetters: list } = (await call(ctx, 'GET', `/dead-letters${q.size > 0 ? `?${q}` : ''}`)) as {
      deadLetters: Array<{
        dlId: string;
        rule: string;
        target: string;
        source: string;
        id: string;
        reason: string;
        at: number;
        attempts: unknown[];
      }>;
    };
    print(ctx, list, () =>
      list.length === 0
        ? 'no dead letters'
        : table([
            ['ID', 'RULE/TARGET', 'EVENT', 'ATTEMPTS', 'AT', 'REASON'],
            ...list.map((d) => [
              d.dlId,
              `${d.rule}/${d.target}`,
              `${d.source} ${d.id}`,
              String(d.attempts.length),
              time(d.at),
              d.reason,
            ]),
          ]),
    );
    return;
  }
  if (sub === 'redrive') {
    const body: Record<string, unknown> = {};
    if (v.all === true) body.all = true;
    if (typeof v.rule === 'string') body.rule = v.rule;
    if (typeof v.target === 'string') body.target = v.target;
    if (Array.isArray(v.id) && v.id.length > 0) body.ids = v.id;
    if (Object.keys(body).length === 0)
      throw new UsageError('dead-letters redrive --all | --rule R | --id ID ...');
    const r = (await call(ctx, 'POST', '/dead-letters/redrive', body)) as {
      redriven: number;
      skipped: number;
    };
    print(
      ctx,
      r,
      () =>
        `redriven ${r.redriven}${r.skipped ? `, skipped ${r.skipped} already delivered (exactly-once)` : ''}`,
    );
    return;
  }
  throw new UsageError('dead-letters list | redrive');
};

const replayCmd: Handler = async (ctx, _args, v) => {
  if (v.from === undefined || v.to === undefined) throw new UsageError('replay --from T --to T [--rule R]');
  const body: Record<string, unknown> = { from: v.from, to: v.to };
  if (typeof v.rule === 'string') body.rule = v.rule;
  const r = (await call(ctx, 'POST', '/replays', body)) as {
    name: string;
    events: number;
    deliveries: number;
  };
  print(ctx, r, () => `replay ${r.name}: ${r.events} events, ${r.deliveries} deliveries scheduled`);
};

const COMMANDS: Record<string, Handler> = {
  put,
  rules,
  functions,
  trace,
  'dead-letters': deadLetters,
  replay: replayCmd,
};

function describe(error: ApiError): string {
  const body = error.body as
    | { error?: { code?: string; message?: string; field?: string; path?: string } }
    | undefined;
  const e = body?.error;
  if (!e)
    return `the bus answered ${error.status}: ${typeof error.body === 'string' ? error.body : JSON.stringify(error.body)}`;
  const where = e.path ?? e.field;
  const hint =
    error.status === 404
      ? ' (list what exists with `junction rules list` / `junction functions list`)'
      : error.status === 503
        ? ' (the log is unavailable: try again shortly)'
        : '';
  return `${e.code}${where ? ` at ${where}` : ''}: ${e.message}${hint}`;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        kafka: { type: 'string' },
        topic: { type: 'string' },
        'quota-per-source': { type: 'string' },
        'quota-burst': { type: 'string' },
        partitions: { type: 'string' },
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
        limit: { type: 'string' },
        all: { type: 'boolean' },
        'timeout-ms': { type: 'string' },
        'memory-mb': { type: 'string' },
        aws: { type: 'boolean' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { positionals, values } = parsed;
  const [command, ...args] = positionals;
  if (values.help || !command) {
    io.out(USAGE);
    return command || values.help ? EXIT.ok : EXIT.usage;
  }
  const url = (
    typeof values.url === 'string' ? values.url : (io.env.JUNCTION_URL ?? 'http://127.0.0.1:8080')
  ).replace(/\/+$/, '');
  const ctx: Context = { url, json: values.json === true, io };
  // `put --id X` is a single value; dead-letters takes several.
  const v: Record<string, unknown> = { ...values };
  if (command === 'put' && Array.isArray(values.id)) v.id = values.id[values.id.length - 1];
  try {
    if (command === 'dev') {
      if (!io.dev) throw new UsageError('dev is only available from bin/junction.ts');
      const quota = values['quota-per-source'] ?? io.env.JUNCTION_QUOTA_PER_SOURCE;
      const burst = values['quota-burst'] ?? io.env.JUNCTION_QUOTA_BURST;
      for (const [name, value] of [
        ['--quota-per-source', quota],
        ['--quota-burst', burst],
      ] as const) {
        if (value !== undefined && !(Number(value) > 0))
          throw new UsageError(`${name} must be a number > 0, got ${value}`);
      }
      const port = Number(values.port ?? io.env.JUNCTION_PORT ?? 8080);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be 0-65535, got ${values.port}`);
      const code = await io.dev({
        port,
        host: (values.host as string | undefined) ?? io.env.JUNCTION_HOST ?? '127.0.0.1',
        dataDir: (values['data-dir'] as string | undefined) ?? io.env.JUNCTION_DATA_DIR ?? './.junction',
        ...(typeof values.kafka === 'string'
          ? { kafka: values.kafka }
          : io.env.JUNCTION_KAFKA
            ? { kafka: io.env.JUNCTION_KAFKA }
            : {}),
        ...(typeof values.partitions === 'string' ? { partitions: Number(values.partitions) } : {}),
        ...(typeof quota === 'string' ? { quotaPerSource: Number(quota) } : {}),
        ...(typeof burst === 'string' ? { quotaBurst: Number(burst) } : {}),
        ...(typeof values.topic === 'string'
          ? { topic: values.topic }
          : io.env.JUNCTION_KAFKA_TOPIC
            ? { topic: io.env.JUNCTION_KAFKA_TOPIC }
            : {}),
      });
      return typeof code === 'number' ? code : EXIT.ok;
    }
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(`unknown command "${command}"`);
    const code = await handler(ctx, args, v);
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`usage: junction ${error.message}\nRun \`junction --help\` for every command.`);
      return EXIT.usage;
    }
    if (error instanceof Error && (error as { unreachable?: boolean }).unreachable) {
      io.err(`${error.message}\nIs it running? Start it with \`npm start\` or pass --url.`);
      return EXIT.unreachable;
    }
    if (typeof error === 'object' && error !== null && 'status' in error) {
      const apiError = error as ApiError;
      io.err(ctx.json ? JSON.stringify(apiError.body) : describe(apiError));
      return EXIT.apiError;
    }
    throw error;
  }
}
