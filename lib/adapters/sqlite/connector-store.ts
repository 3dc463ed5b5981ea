/** The connectors of a bus (issue #18) on its database: each one's definition as JSON. */
import { type ConnectorDefinition, validateConnectorSpec } from '../../core/connector.ts';
import type { ConnectorStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS connectors (
  name TEXT PRIMARY KEY,
  spec TEXT NOT NULL,
  paused INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

function definitionOf(row: Record<string, unknown>): ConnectorDefinition {
  return Object.freeze({
    name: String(row.name),
    // Stored after validation; validated again so that a stored spec always has this build's defaults and shape.
    spec: validateConnectorSpec(JSON.parse(String(row.spec)), { hasOwnKafka: true }),
    paused: Number(row.paused) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  });
}

export class SqliteConnectorStore implements ConnectorStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async put(definition: ConnectorDefinition): Promise<void> {
    await this.#db.write(() => {
      this.#db.run(
        `INSERT INTO connectors (name, spec, paused, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, paused = excluded.paused, updated_at = excluded.updated_at`,
        definition.name,
        JSON.stringify(definition.spec),
        definition.paused ? 1 : 0,
        definition.createdAt,
        definition.updatedAt,
      );
    });
  }

  async get(name: string): Promise<ConnectorDefinition | undefined> {
    const row = this.#db.get('SELECT * FROM connectors WHERE name = ?', name);
    return row === undefined ? undefined : definitionOf(row);
  }

  async list(): Promise<ConnectorDefinition[]> {
    return this.#db.all('SELECT * FROM connectors ORDER BY name').map(definitionOf);
  }

  async delete(name: string): Promise<boolean> {
    let deleted = false;
    await this.#db.write(() => {
      deleted = this.#db.run('DELETE FROM connectors WHERE name = ?', name) > 0;
    });
    return deleted;
  }
}
