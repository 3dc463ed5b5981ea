/**
 * Credential material: API keys (256 random bits, stored as their SHA-256), AWS access keys (the secret sealed with
 * AES-256-GCM under a key file in the data dir), and the one function that creates either (API and CLI alike).
 */
import { createCipheriv, createDecipheriv, hash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUS, isScope, NAME_PATTERN, type Scope } from '../core/auth/scopes.ts';
import { BUS_NAME } from '../core/bus.ts';
import { invalidRequest, JunctionError } from '../core/errors.ts';
import type { CredentialStore, StoredCredential } from '../ports.ts';

/** The prefix of every API key, so that scanners (and people) can tell one when they see it. */
export const KEY_PREFIX = 'jk_';

/** The key file that seals AWS secrets, inside the data dir (created with mode 0600). */
export const SECRETS_KEY_FILE = 'credentials.key';

/** A new API key: `jk_` and 32 random bytes in base64url (256 bits). */
export function generateApiKey(): string {
  return `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * The stored form of an API key: SHA-256, hex. A fast hash is enough because the key is 256 random bits — no
 * dictionary to try, so bcrypt/scrypt would add nothing but ~100 ms of CPU to every request.
 */
export function hashKey(key: string): string {
  return hash('sha256', key, 'hex'); // one-shot: no Hash object per request
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** A new AWS-style access key: id `AKJ…` (20 characters) and a 40-character secret (240 bits). */
export function generateAwsKey(): { accessKeyId: string; secretAccessKey: string } {
  const bytes = randomBytes(17);
  let id = 'AKJ';
  for (const b of bytes) id += BASE32[b & 31];
  return { accessKeyId: id, secretAccessKey: randomBytes(30).toString('base64') };
}

/**
 * Seals and opens AWS secrets (which must stay retrievable for HMAC) with AES-256-GCM under a 32-byte key kept in
 * `<dataDir>/credentials.key`, mode 0600. The database alone (a backup, a copied file) does not reveal a secret.
 */
export class SecretBox {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  /** Opens the key file of a data dir, creating it (0600) on first use. */
  static open(dataDir: string): SecretBox {
    const path = join(dataDir, SECRETS_KEY_FILE);
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32));
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const key = readFileSync(path);
    if (key.length !== 32) {
      throw new JunctionError('Internal', `${path} must hold 32 bytes; it holds ${key.length}`);
    }
    return new SecretBox(key);
  }

  seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string): string {
    if (!sealed.startsWith('v1:')) throw new JunctionError('Internal', 'a stored secret is not sealed (v1:)');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

export interface NewCredential {
  readonly name: string;
  readonly scope: Scope;
  /** The bus the scope applies to. @default 'default' */
  readonly bus?: string;
  /** `publish` only. */
  readonly sourcePrefix?: string;
  /** An AWS access key (Signature V4) instead of a bearer key. @default false */
  readonly aws?: boolean;
}

/** What a new credential is shown as, once: the key (or the AWS key pair) and its description. */
export interface CreatedCredential {
  readonly name: string;
  readonly scope: Scope;
  readonly bus: string;
  readonly sourcePrefix?: string;
  readonly createdAt: number;
  readonly key?: string;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

/** Checks the request body of `POST /keys` (or the CLI's flags); errors name the field. */
export function parseNewCredential(body: unknown): NewCredential {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('the body must be {"name", "scope", "bus"?, "sourcePrefix"?, "aws"?}');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.name !== 'string' || !NAME_PATTERN.test(b.name)) {
    throw invalidRequest(
      `name must be 1-64 letters, digits, ".", "_" or "-" starting with a letter or digit; got ${JSON.stringify(b.name)}`,
      'name',
    );
  }
  if (!isScope(b.scope)) {
    throw invalidRequest(`scope must be publish, manage or read; got ${JSON.stringify(b.scope)}`, 'scope');
  }
  if (b.sourcePrefix !== undefined) {
    if (typeof b.sourcePrefix !== 'string' || b.sourcePrefix.length === 0 || b.sourcePrefix.length > 256) {
      throw invalidRequest('sourcePrefix must be a string of 1-256 characters', 'sourcePrefix');
    }
    if (b.scope !== 'publish')
      throw invalidRequest('sourcePrefix applies to the publish scope only', 'sourcePrefix');
  }
  if (b.aws !== undefined && typeof b.aws !== 'boolean') throw invalidRequest('aws must be a boolean', 'aws');
  if (b.bus !== undefined && (typeof b.bus !== 'string' || !BUS_NAME.test(b.bus))) {
    throw invalidRequest(`bus must be a bus name; got ${JSON.stringify(b.bus)}`, 'bus');
  }
  return {
    name: b.name,
    scope: b.scope,
    ...(typeof b.bus === 'string' ? { bus: b.bus } : {}),
    ...(typeof b.sourcePrefix === 'string' ? { sourcePrefix: b.sourcePrefix } : {}),
    ...(b.aws === true ? { aws: true } : {}),
  };
}

/** Creates a credential in the store and answers it with its key material (shown this once). */
export async function createCredential(
  store: CredentialStore,
  secrets: () => SecretBox,
  spec: NewCredential,
  now: number,
): Promise<CreatedCredential> {
  const base = {
    name: spec.name,
    scope: spec.scope,
    bus: spec.bus ?? DEFAULT_BUS,
    ...(spec.sourcePrefix === undefined ? {} : { sourcePrefix: spec.sourcePrefix }),
    createdAt: now,
  };
  if (spec.aws) {
    const pair = generateAwsKey();
    await store.create({
      ...base,
      kind: 'aws',
      lookup: pair.accessKeyId,
      secret: secrets().seal(pair.secretAccessKey),
    });
    return { ...base, ...pair };
  }
  const key = generateApiKey();
  await store.create({ ...base, kind: 'key', lookup: hashKey(key) });
  return { ...base, key };
}

/** A credential as `keys list` and `GET /keys` show it: never the key, its hash or a secret. */
export function describeCredential(c: StoredCredential): Record<string, unknown> {
  return {
    name: c.name,
    kind: c.kind,
    scope: c.scope,
    bus: c.bus,
    ...(c.sourcePrefix === undefined ? {} : { sourcePrefix: c.sourcePrefix }),
    ...(c.kind === 'aws' ? { accessKeyId: c.lookup } : {}),
    createdAt: c.createdAt,
  };
}
