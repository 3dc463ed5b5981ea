/** The drafts of schema discovery (issue #16) on a bus's database: one row per (source, type), the draft as JSON. */
import type { SchemaDraft } from '../../core/schema-infer.ts';
import type { DraftStore } from '../../ports.ts';
import type { SqliteDatabase } from './database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_drafts (
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  draft TEXT NOT NULL,
  PRIMARY KEY (type, source)
);
`;

function draftOf(row: Record<string, unknown>): SchemaDraft {
  return JSON.parse(String(row.draft)) as SchemaDraft;
}

export class SqliteDraftStore implements DraftStore {
  readonly #db: SqliteDatabase;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    db.migrate(SCHEMA);
  }

  async put(draft: SchemaDraft): Promise<void> {
    const text = JSON.stringify({
      source: draft.source,
      type: draft.type,
      versions: draft.versions,
      events: draft.events,
      firstSeen: draft.firstSeen,
      lastSeen: draft.lastSeen,
    });
    await this.#db.write(() => {
      this.#db.run(
        `INSERT INTO schema_drafts (type, source, draft) VALUES (?, ?, ?)
         ON CONFLICT (type, source) DO UPDATE SET draft = excluded.draft`,
        draft.type,
        draft.source,
        text,
      );
    });
  }

  async get(source: string, type: string): Promise<SchemaDraft | undefined> {
    const row = this.#db.get('SELECT draft FROM schema_drafts WHERE type = ? AND source = ?', type, source);
    return row === undefined ? undefined : draftOf(row);
  }

  async list(): Promise<SchemaDraft[]> {
    return this.#db.all('SELECT draft FROM schema_drafts ORDER BY type, source').map(draftOf);
  }

  async delete(source: string, type: string): Promise<boolean> {
    let deleted = false;
    await this.#db.write(() => {
      deleted = this.#db.run('DELETE FROM schema_drafts WHERE type = ? AND source = ?', type, source) > 0;
    });
    return deleted;
  }
}
