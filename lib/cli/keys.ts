/**
 * `junction keys create|list|revoke` and the auth flags of `junction dev`. With `--data-dir` the keys commands
 * work offline on the bus's database (whoever can write the data dir already owns the bus: the bootstrap path);
 * otherwise they call the API with a manage key (`JUNCTION_API_KEY`).
 */
import type { DevAuthOptions } from './dev-auth.ts';

export type { DevAuthOptions } from './dev-auth.ts';

/** The parseArgs options the keys command and the dev auth flags add. */
export const AUTH_FLAGS = {
  scope: { type: 'string' },
  'source-prefix': { type: 'string' },
  auth: { type: 'boolean' },
  'allowed-host': { type: 'string', multiple: true },
  'allowed-origin': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'jwt-jwks-url': { type: 'string' },
  'jwt-issuer': { type: 'string' },
  'jwt-audience': { type: 'string' },
} as const;

type Env = Readonly<Record<string, string | undefined>>;
type Values = Readonly<Record<string, unknown>>;

const list = (value: unknown, env: string | undefined): string[] =>
  Array.isArray(value)
    ? (value as string[])
    : env
      ? env
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];

/** The auth part of `junction dev`'s options, from flags and JUNCTION_* variables; a message when inconsistent. */
export function parseDevAuth(values: Values, env: Env): DevAuthOptions | string {
  const str = (flag: string, name: string): string | undefined =>
    typeof values[flag] === 'string' ? (values[flag] as string) : env[name] || undefined;
  const cert = str('tls-cert', 'JUNCTION_TLS_CERT');
  const key = str('tls-key', 'JUNCTION_TLS_KEY');
  if ((cert === undefined) !== (key === undefined)) return '--tls-cert and --tls-key go together';
  const jwks = str('jwt-jwks-url', 'JUNCTION_JWT_JWKS_URL');
  const issuer = str('jwt-issuer', 'JUNCTION_JWT_ISSUER');
  const audience = str('jwt-audience', 'JUNCTION_JWT_AUDIENCE');
  if (jwks === undefined && (issuer !== undefined || audience !== undefined))
    return '--jwt-issuer and --jwt-audience need --jwt-jwks-url';
  const hosts = list(values['allowed-host'], env.JUNCTION_ALLOWED_HOSTS);
  const origins = list(values['allowed-origin'], env.JUNCTION_ALLOWED_ORIGINS);
  return {
    ...(values.auth === true || env.JUNCTION_AUTH === 'required' ? { required: true } : {}),
    ...(hosts.length > 0 ? { allowedHosts: hosts } : {}),
    ...(origins.length > 0 ? { allowedOrigins: origins } : {}),
    ...(cert !== undefined && key !== undefined ? { tlsCert: cert, tlsKey: key } : {}),
    ...(jwks === undefined
      ? {}
      : {
          jwt: {
            jwksUrl: jwks,
            ...(issuer === undefined ? {} : { issuer }),
            ...(audience === undefined ? {} : { audience }),
          },
        }),
  };
}

export interface KeysIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: Env;
}

interface Created {
  name: string;
  scope: string;
  sourcePrefix?: string;
  key?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

interface Listed {
  name: string;
  kind: string;
  scope: string;
  sourcePrefix?: string;
  accessKeyId?: string;
  createdAt: number;
}

/** Thrown for a usage error (exit 2). */
export class KeysUsageError extends Error {}

/** Thrown when the bus answers an error (exit 1) or cannot be reached (exit 3). */
export class KeysApiError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

const USAGE =
  'keys create NAME --scope publish|manage|read [--source-prefix P] [--aws] | list | revoke NAME  [--data-dir DIR]';

interface Backend {
  create(body: Record<string, unknown>): Promise<Created>;
  list(): Promise<Listed[]>;
  revoke(name: string): Promise<boolean>;
  close(): Promise<void>;
}

async function offline(dataDir: string): Promise<Backend> {
  const [{ SqliteDatabase }, { SqliteCredentialStore }, keys] = await Promise.all([
    import('../adapters/sqlite/database.ts'),
    import('../adapters/sqlite/credential-store.ts'),
    import('../server/auth-keys.ts'),
  ]);
  const db = new SqliteDatabase({ dataDir });
  const store = new SqliteCredentialStore(db);
  let box: ReturnType<typeof keys.SecretBox.open> | undefined;
  const audit = (method: string, path: string, status: number, result: string) =>
    store.appendAudit({ at: Date.now(), who: 'cli --data-dir', method, path, status, result });
  return {
    async create(body) {
      const spec = keys.parseNewCredential(body);
      const created = await keys.createCredential(
        store,
        () => (box ??= keys.SecretBox.open(dataDir)),
        spec,
        Date.now(),
      );
      await audit('POST', '/keys', 201, 'ok');
      return created;
    },
    async list() {
      return (await store.list()).map((c) => keys.describeCredential(c) as unknown as Listed);
    },
    async revoke(name) {
      const removed = await store.revoke(name);
      await audit(
        'DELETE',
        `/keys/${encodeURIComponent(name)}`,
        removed ? 204 : 404,
        removed ? 'ok' : 'NotFound',
      );
      return removed;
    },
    async close() {
      db.close();
    },
  };
}

function online(url: string, env: Env): Backend {
  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = {};
    if (env.JUNCTION_API_KEY) headers.authorization = `Bearer ${env.JUNCTION_API_KEY}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      throw new KeysApiError(
        `cannot reach the bus at ${url} (${cause?.code ?? (error as Error).message})`,
        3,
      );
    }
    const text = await response.text();
    const parsed = text === '' ? undefined : JSON.parse(text);
    if (!response.ok && response.status !== 404) {
      const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      const hint =
        response.status === 401
          ? ' (set JUNCTION_API_KEY to a manage key, or use --data-dir on the bus host)'
          : '';
      throw new KeysApiError(`${e?.code ?? response.status}: ${e?.message ?? text}${hint}`, 1);
    }
    return { status: response.status, body: parsed };
  }
  return {
    async create(body) {
      const r = await call('POST', '/keys', body);
      if (r.status === 404) throw new KeysApiError('this bus has no /keys endpoint', 1);
      return r.body as Created;
    },
    async list() {
      return ((await call('GET', '/keys')).body as { keys: Listed[] }).keys;
    },
    async revoke(name) {
      return (await call('DELETE', `/keys/${encodeURIComponent(name)}`)).status === 204;
    },
    async close() {},
  };
}

/** Runs `junction keys …`; answers the exit code. */
export async function runKeys(
  args: readonly string[],
  values: Values,
  ctx: { readonly url: string; readonly json: boolean; readonly io: KeysIo },
): Promise<number> {
  const [sub, name] = args;
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') throw new KeysUsageError(USAGE);
  if ((sub === 'create' || sub === 'revoke') && !name) throw new KeysUsageError(USAGE);
  const dataDir = typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined;
  const backend = dataDir === undefined ? online(ctx.url, ctx.io.env) : await offline(dataDir);
  const print = (value: unknown, human: string) =>
    ctx.io.out(ctx.json ? JSON.stringify(value, null, 2) : human);
  try {
    if (sub === 'create') {
      if (typeof values.scope !== 'string')
        throw new KeysUsageError('keys create NAME --scope publish|manage|read');
      const body: Record<string, unknown> = { name, scope: values.scope };
      if (typeof values['source-prefix'] === 'string') body.sourcePrefix = values['source-prefix'];
      if (values.aws === true) body.aws = true;
      let c: Created;
      try {
        c = await backend.create(body);
      } catch (error) {
        if (error instanceof KeysApiError) throw error;
        const e = error as { code?: string; message?: string; field?: string };
        throw new KeysApiError(`${e.code ?? 'Error'}${e.field ? ` at ${e.field}` : ''}: ${e.message}`, 1);
      }
      const scope = `${c.scope}${c.sourcePrefix === undefined ? '' : ` (sources starting with ${c.sourcePrefix})`}`;
      print(
        c,
        c.key !== undefined
          ? `created key ${c.name}, scope ${scope}\n\n  ${c.key}\n\nThis is the only time the key is shown: store it now. Send it as Authorization: Bearer <key>.`
          : `created AWS access key ${c.name}, scope ${scope}\n\n  access key id      ${c.accessKeyId}\n  secret access key  ${c.secretAccessKey}\n\nThis is the only time the secret is shown: store it now (e.g. in ~/.aws/credentials).`,
      );
      return 0;
    }
    if (sub === 'list') {
      const keys = await backend.list();
      const rows = [
        ['NAME', 'KIND', 'SCOPE', 'SOURCE PREFIX', 'ACCESS KEY ID', 'CREATED'],
        ...keys.map((k) => [
          k.name,
          k.kind,
          k.scope,
          k.sourcePrefix ?? '',
          k.accessKeyId ?? '',
          new Date(k.createdAt).toISOString(),
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
      print(
        keys,
        keys.length === 0
          ? 'no keys — create one with: junction keys create NAME --scope manage --data-dir DIR'
          : rows
              .map((r) =>
                r
                  .map((c, i) => c.padEnd(widths[i] ?? 0))
                  .join('  ')
                  .trimEnd(),
              )
              .join('\n'),
      );
      return 0;
    }
    const removed = await backend.revoke(name as string);
    if (!removed) {
      ctx.io.err(`NotFound: the key ${name} does not exist (list them with \`junction keys list\`)`);
      return 1;
    }
    print({ revoked: name }, `revoked ${name}: it stops working on the next request`);
    return 0;
  } finally {
    await backend.close();
  }
}
