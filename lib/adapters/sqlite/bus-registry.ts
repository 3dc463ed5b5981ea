/**
 * The list of named buses (issue #13) on the default bus's database: each bus's settings as JSON. The buses' own
 * data (log, rules, deliveries, traces, functions) lives in their own directories; this table only says which exist.
 */
import { type BusSpec, validateBusSpec } from '../../core/bus.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS buses (name TEXT PRIMARY KEY, spec TEXT NOT NULL, created_at INTEGER NOT NULL);
`;

function specOf(name: string, text: string): BusSpec {
  const stored = JSON.parse(text) as Record<string, unknown>;
  const { createdAt, ...body } = stored;
  return validateBusSpec(name, body, Number(createdAt));
}

export class SqliteBusRegistry {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  /** Every named bus, by name (the default bus is not stored: it always exists). */
  list(): BusSpec[] {
    return this.#db
      .all('SELECT name, spec FROM buses ORDER BY name')
      .map((row) => specOf(String(row.name), String(row.spec)));
  }

  get(name: string): BusSpec | undefined {
    const row = this.#db.get('SELECT spec FROM buses WHERE name = ?', name);
    return row === undefined ? undefined : specOf(name, String(row.spec));
  }

  async put(spec: BusSpec): Promise<void> {
    await this.#db.write(() => {
      this.#db.run(
        'INSERT INTO buses (name, spec, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET spec = excluded.spec',
        spec.name,
        JSON.stringify(spec),
        spec.createdAt,
      );
    });
  }

  /** Answers whether the bus was there. */
  async delete(name: string): Promise<boolean> {
    let deleted = false;
    await this.#db.write(() => {
      deleted = this.#db.run('DELETE FROM buses WHERE name = ?', name) > 0;
    });
    return deleted;
  }
}
