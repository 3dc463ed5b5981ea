/** The schema registry of a bus (issue #16) on its database: settings per schema, one row per immutable version. */
import type { SchemaDefinition, SchemaVersion } from '../../core/schema.ts';
import type { SchemaStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schemas (
  name TEXT PRIMARY KEY,
  settings TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  dialect TEXT NOT NULL,
  schema TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
`;

type Row = Record<string, unknown>;

function versionOf(row: Row): SchemaVersion {
  return Object.freeze({
    version: Number(row.version),
    dialect: String(row.dialect) as SchemaVersion['dialect'],
    schema: JSON.parse(String(row.schema)) as unknown,
    fingerprint: String(row.fingerprint),
    createdAt: Number(row.created_at),
  });
}

export class SqliteSchemaStore implements SchemaStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  #definition(row: Row, versions: readonly SchemaVersion[]): SchemaDefinition {
    const settings = JSON.parse(String(row.settings)) as Pick<
      SchemaDefinition,
      'compatibility' | 'binding' | 'enforcement'
    >;
    return Object.freeze({
      name: String(row.name),
      compatibility: settings.compatibility,
      binding: settings.binding,
      enforcement: settings.enforcement,
      versions: Object.freeze([...versions]),
      createdAt: Number(row.created_at),
      updatedAt: Number(row.updated_at),
    });
  }

  async put(definition: SchemaDefinition): Promise<void> {
    const { compatibility, binding, enforcement } = definition;
    await this.#db.write(() => {
      this.#db.run(
        `INSERT INTO schemas (name, settings, created_at, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
        definition.name,
        JSON.stringify({ compatibility, binding, enforcement }),
        definition.createdAt,
        definition.updatedAt,
      );
      for (const v of definition.versions) {
        // Versions are immutable: one the store holds is kept as it is.
        this.#db.run(
          `INSERT INTO schema_versions (name, version, dialect, schema, fingerprint, created_at)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name, version) DO NOTHING`,
          definition.name,
          v.version,
          v.dialect,
          JSON.stringify(v.schema),
          v.fingerprint,
          v.createdAt,
        );
      }
    });
  }

  async get(name: string): Promise<SchemaDefinition | undefined> {
    const row = this.#db.get('SELECT * FROM schemas WHERE name = ?', name);
    if (row === undefined) return undefined;
    const versions = this.#db
      .all('SELECT * FROM schema_versions WHERE name = ? ORDER BY version', name)
      .map(versionOf);
    return this.#definition(row, versions);
  }

  async list(): Promise<SchemaDefinition[]> {
    const versions = new Map<string, SchemaVersion[]>();
    for (const row of this.#db.all('SELECT * FROM schema_versions ORDER BY name, version')) {
      const name = String(row.name);
      const list = versions.get(name) ?? [];
      list.push(versionOf(row));
      versions.set(name, list);
    }
    return this.#db
      .all('SELECT * FROM schemas ORDER BY name')
      .map((row) => this.#definition(row, versions.get(String(row.name)) ?? []));
  }

  async delete(name: string): Promise<boolean> {
    let deleted = false;
    await this.#db.write(() => {
      deleted = this.#db.run('DELETE FROM schemas WHERE name = ?', name) > 0;
      this.#db.run('DELETE FROM schema_versions WHERE name = ?', name);
    });
    return deleted;
  }
}
