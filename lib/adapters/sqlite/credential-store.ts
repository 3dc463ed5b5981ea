/** CredentialStore on SQLite: API keys (hashes) and AWS access keys (sealed secrets), a version row, the audit log. */
import { isScope } from '../../core/auth/scopes.ts';
import { JunctionError } from '../../core/errors.ts';
import type { AuditEntry, AuditRecord, CredentialStore, StoredCredential } from '../../ports.ts';
import type { Row, SqliteDatabase } from './database.ts';

export interface SqliteCredentialStoreOptions {
  /** Audit entries kept; older ones are removed as new ones come. @default 100000 */
  readonly auditKept?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS credentials (
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, scope TEXT NOT NULL, bus TEXT NOT NULL, source_prefix TEXT,
  lookup TEXT NOT NULL UNIQUE, secret TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS credential_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO credential_version (id, version) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, who TEXT NOT NULL, method TEXT NOT NULL,
  path TEXT NOT NULL, status INTEGER NOT NULL, result TEXT NOT NULL);
`;

const COLUMNS = 'name, kind, scope, bus, source_prefix, lookup, secret, created_at';

function toCredential(row: Row): StoredCredential {
  const scope = String(row.scope);
  if (!isScope(scope))
    throw new JunctionError('Internal', `credential ${String(row.name)} has scope ${scope}`);
  return {
    name: String(row.name),
    kind: row.kind === 'aws' ? 'aws' : 'key',
    scope,
    bus: String(row.bus),
    ...(row.source_prefix === null ? {} : { sourcePrefix: String(row.source_prefix) }),
    lookup: String(row.lookup),
    ...(row.secret === null ? {} : { secret: String(row.secret) }),
    createdAt: Number(row.created_at),
  };
}

function boundedLimit(value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new JunctionError('InvalidRequest', `limit must be a whole number ≥ 1; got ${value}`, {
      field: 'limit',
    });
  }
  return Math.min(value, max);
}

/** The SQLite CredentialStore, on the bus's database file (so `keys create --data-dir` reaches a running bus). */
export class SqliteCredentialStore implements CredentialStore {
  readonly #db: SqliteDatabase;
  readonly #auditKept: number;

  constructor(db: SqliteDatabase, options: SqliteCredentialStoreOptions = {}) {
    this.#db = db;
    this.#auditKept = options.auditKept ?? 100_000;
    db.migrate(SCHEMA);
  }

  async create(c: StoredCredential): Promise<void> {
    await this.#db.write(() => {
      const taken = this.#db.get(
        'SELECT name FROM credentials WHERE name = ? OR lookup = ?',
        c.name,
        c.lookup,
      );
      if (taken !== undefined) {
        throw new JunctionError(
          'Conflict',
          taken.name === c.name
            ? `a credential named ${c.name} exists; revoke it first or pick another name`
            : 'a credential with this key exists',
          { field: 'name' },
        );
      }
      this.#db.run(
        `INSERT INTO credentials (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        c.name,
        c.kind,
        c.scope,
        c.bus,
        c.sourcePrefix ?? null,
        c.lookup,
        c.secret ?? null,
        c.createdAt,
      );
      this.#bump();
    });
  }

  async find(lookup: string): Promise<StoredCredential | undefined> {
    const row = this.#db.get(`SELECT ${COLUMNS} FROM credentials WHERE lookup = ?`, lookup);
    return row === undefined ? undefined : toCredential(row);
  }

  async list(limit?: number): Promise<StoredCredential[]> {
    return this.#db
      .all(`SELECT ${COLUMNS} FROM credentials ORDER BY name LIMIT ?`, boundedLimit(limit, 1000, 1000))
      .map(toCredential);
  }

  async revoke(name: string): Promise<boolean> {
    return this.#db.write(() => {
      const removed = this.#db.run('DELETE FROM credentials WHERE name = ?', name) === 1;
      if (removed) this.#bump();
      return removed;
    });
  }

  async count(): Promise<number> {
    return Number(this.#db.get('SELECT count(*) AS n FROM credentials')?.n ?? 0);
  }

  async version(): Promise<number> {
    return Number(this.#db.get('SELECT version FROM credential_version WHERE id = 1')?.version ?? 0);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#db.write(() => {
      const row = this.#db.get(
        'INSERT INTO audit_log (at, who, method, path, status, result) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
        entry.at,
        entry.who,
        entry.method,
        entry.path.slice(0, 2048),
        entry.status,
        entry.result,
      );
      const seq = Number(row?.seq ?? 0);
      if (seq % 100 === 0) this.#db.run('DELETE FROM audit_log WHERE seq <= ?', seq - this.#auditKept);
    });
  }

  async listAudit(
    options: { readonly limit?: number; readonly before?: number } = {},
  ): Promise<AuditRecord[]> {
    const limit = boundedLimit(options.limit, 100, 1000);
    const before = options.before ?? Number.MAX_SAFE_INTEGER;
    return this.#db
      .all(
        'SELECT seq, at, who, method, path, status, result FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?',
        before,
        limit,
      )
      .map((row) => ({
        seq: Number(row.seq),
        at: Number(row.at),
        who: String(row.who),
        method: String(row.method),
        path: String(row.path),
        status: Number(row.status),
        result: String(row.result),
      }));
  }

  #bump(): void {
    this.#db.run('UPDATE credential_version SET version = version + 1 WHERE id = 1');
  }
}
