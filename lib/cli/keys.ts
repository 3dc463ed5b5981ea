/**
 * The parts of `junction keys create|list|revoke` and of `junction dev`'s auth flags that live outside the command
 * table: with `--data-dir` the keys commands work offline on the bus's database (whoever can write the data dir
 * already owns the bus: the bootstrap path); otherwise cli.ts calls the API with a manage key (`JUNCTION_API_KEY`).
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
  'jwt-client-id': { type: 'string' },
  'jwt-authorize-url': { type: 'string' },
  'jwt-token-url': { type: 'string' },
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
  const clientId = str('jwt-client-id', 'JUNCTION_JWT_CLIENT_ID');
  const authorizeUrl = str('jwt-authorize-url', 'JUNCTION_JWT_AUTHORIZE_URL');
  const tokenUrl = str('jwt-token-url', 'JUNCTION_JWT_TOKEN_URL');
  const signInParts = [clientId, authorizeUrl, tokenUrl].filter((v) => v !== undefined).length;
  if (signInParts !== 0 && (signInParts !== 3 || jwks === undefined))
    return "the console's sign-in needs --jwt-client-id, --jwt-authorize-url and --jwt-token-url together, with --jwt-jwks-url";
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
            ...(signInParts === 3
              ? {
                  signIn: {
                    clientId: clientId as string,
                    authorizationEndpoint: authorizeUrl as string,
                    tokenEndpoint: tokenUrl as string,
                  },
                }
              : {}),
          },
        }),
  };
}

export interface Created {
  name: string;
  scope: string;
  /** The bus the scope applies to (`default` when the key was made for no other). */
  bus?: string;
  sourcePrefix?: string;
  key?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

export interface Listed {
  name: string;
  kind: string;
  scope: string;
  bus?: string;
  sourcePrefix?: string;
  accessKeyId?: string;
  createdAt: number;
}

/** The keys commands' view of the credential store, here opened directly on a data dir (`--data-dir`). */
export interface KeysBackend {
  create(body: Record<string, unknown>): Promise<Created>;
  list(): Promise<Listed[]>;
  revoke(name: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function openOfflineKeys(dataDir: string): Promise<KeysBackend> {
  const [{ SqliteDatabase }, { SqliteCredentialStore }, { SqliteBusRegistry }, keys, { JunctionError }] =
    await Promise.all([
      import('../adapters/sqlite/database.ts'),
      import('../adapters/sqlite/credential-store.ts'),
      import('../adapters/sqlite/bus-registry.ts'),
      import('../server/auth-keys.ts'),
      import('../core/errors.ts'),
    ]);
  const db = new SqliteDatabase({ dataDir });
  const store = new SqliteCredentialStore(db);
  let box: ReturnType<typeof keys.SecretBox.open> | undefined;
  const audit = (method: string, path: string, status: number, result: string) =>
    store.appendAudit({ at: Date.now(), who: 'cli --data-dir', method, path, status, result });
  return {
    async create(body) {
      const spec = keys.parseNewCredential(body);
      // As the API does: a key names a bus that exists (the registry is in the default bus's database).
      if (
        spec.bus !== undefined &&
        spec.bus !== 'default' &&
        new SqliteBusRegistry(db).get(spec.bus) === undefined
      ) {
        throw new JunctionError('NotFound', `there is no bus named ${JSON.stringify(spec.bus)}`, {
          field: 'bus',
        });
      }
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

/** What `keys create` prints: the key (or AWS secret) once, and how to use it. */
export function describeCreated(c: Created): string {
  const on = c.bus === undefined || c.bus === 'default' ? '' : ` on bus ${c.bus}`;
  const scope = `${c.scope}${on}${c.sourcePrefix === undefined ? '' : ` (sources starting with ${c.sourcePrefix})`}`;
  return c.key !== undefined
    ? `created key ${c.name}, scope ${scope}\n\n  ${c.key}\n\nThis is the only time the key is shown: store it now. Send it as Authorization: Bearer <key> (the CLI sends $JUNCTION_API_KEY).`
    : `created AWS access key ${c.name}, scope ${scope}\n\n  access key id      ${c.accessKeyId}\n  secret access key  ${c.secretAccessKey}\n\nThis is the only time the secret is shown: store it now (e.g. in ~/.aws/credentials).`;
}

/** `keys list` as table rows (never a key or secret: the store only has their hashes or sealed secrets). */
export function keyRows(keys: readonly Listed[]): string[][] {
  return [
    ['NAME', 'KIND', 'SCOPE', 'BUS', 'SOURCE PREFIX', 'ACCESS KEY ID', 'CREATED'],
    ...keys.map((k) => [
      k.name,
      k.kind,
      k.scope,
      k.bus ?? 'default',
      k.sourcePrefix ?? '',
      k.accessKeyId ?? '',
      new Date(k.createdAt).toISOString(),
    ]),
  ];
}
