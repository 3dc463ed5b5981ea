/** RuleStore on SQLite: rules as JSON rows, plus a change log that watchers read (in process at once, else by polling). */
import { JunctionError } from '../../core/errors.ts';
import type { Rule } from '../../core/rule-types.ts';
import type { RuleChange, RuleStore } from '../../ports.ts';
import { parseFrozen, requireInteger, type SqliteDatabase } from './database.ts';

export interface SqliteRuleStoreOptions {
  /** How often a store with watchers looks for changes made by other processes, in ms. @default 500 */
  readonly pollIntervalMs?: number;
  /** Told about errors while polling for changes. */
  readonly onError?: (error: unknown) => void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, rule TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_changes (
  version INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL, rule TEXT);
`;

/** Change-log rows kept for watchers that poll; older ones are trimmed on each write. */
const KEPT_CHANGES = 1000;

/** Stores with watchers, keyed by database file: a write wakes every one of them at once. */
const watchingStores = new Map<string, Set<SqliteRuleStore>>();

/**
 * The SQLite RuleStore. Every write appends to `rule_changes` (a version counter) in the same transaction.
 * Watchers read the change log after a write through any store in this process (immediately), and every
 * `pollIntervalMs` (changes by other processes on the same file).
 */
export class SqliteRuleStore implements RuleStore {
  readonly #db: SqliteDatabase;
  readonly #pollMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<(change: RuleChange) => void>();
  #seenVersion = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(db: SqliteDatabase, options: SqliteRuleStoreOptions = {}) {
    this.#db = db;
    this.#pollMs = requireInteger('pollIntervalMs', options.pollIntervalMs ?? 500, 1);
    this.#onError = options.onError ?? (() => {});
    db.migrate(SCHEMA);
  }

  async put(rule: Rule): Promise<{ created: boolean }> {
    if (
      rule === null ||
      typeof rule !== 'object' ||
      typeof rule.name !== 'string' ||
      rule.name.length === 0
    ) {
      throw new JunctionError(
        'InvalidRule',
        `name must be a non-empty string; got ${JSON.stringify(rule?.name)}`,
        {
          field: 'name',
        },
      );
    }
    const text = JSON.stringify(rule);
    const created = await this.#db.write(() => {
      const existed = this.#db.get('SELECT 1 AS x FROM rules WHERE name = ?', rule.name) !== undefined;
      this.#db.run(
        'INSERT INTO rules (name, rule) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET rule = excluded.rule',
        rule.name,
        text,
      );
      this.#logChange('put', rule.name, text);
      return !existed;
    });
    wakeWatchers(this.#db.path);
    return { created };
  }

  async get(name: string): Promise<Rule | undefined> {
    const row = this.#db.get('SELECT rule FROM rules WHERE name = ?', name);
    return row === undefined ? undefined : parseFrozen<Rule>(row.rule);
  }

  async list(): Promise<Rule[]> {
    return this.#db.all('SELECT rule FROM rules ORDER BY name').map((row) => parseFrozen<Rule>(row.rule));
  }

  async delete(name: string): Promise<boolean> {
    if (typeof name !== 'string') {
      throw new JunctionError('InvalidRequest', `name must be a string; got ${JSON.stringify(name)}`, {
        field: 'name',
      });
    }
    const existed = await this.#db.write(() => {
      const changed = this.#db.run('DELETE FROM rules WHERE name = ?', name) === 1;
      if (changed) this.#logChange('delete', name, null);
      return changed;
    });
    if (existed) wakeWatchers(this.#db.path);
    return existed;
  }

  watch(listener: (change: RuleChange) => void): () => void {
    if (this.#listeners.size === 0) {
      this.#seenVersion = this.#currentVersion();
      const stores = watchingStores.get(this.#db.path) ?? new Set();
      stores.add(this);
      watchingStores.set(this.#db.path, stores);
      this.#timer = setInterval(() => this.poll(), this.#pollMs);
      this.#timer.unref();
    } else {
      this.poll();
    }
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopWatching();
    };
  }

  /** Stops polling. The store answers reads and writes until its database closes. */
  close(): void {
    this.#listeners.clear();
    this.#stopWatching();
  }

  /** @internal Reads the change log past what this store has seen and tells its listeners. */
  poll(): void {
    if (this.#listeners.size === 0 || this.#db.closed) return;
    let rows: ReturnType<SqliteDatabase['all']>;
    try {
      rows = this.#db.all(
        'SELECT version, kind, name, rule FROM rule_changes WHERE version > ? ORDER BY version',
        this.#seenVersion,
      );
    } catch (error) {
      this.#onError(error);
      return;
    }
    for (const row of rows) {
      this.#seenVersion = Number(row.version);
      const change: RuleChange =
        row.kind === 'put'
          ? { kind: 'put', rule: parseFrozen<Rule>(row.rule) }
          : { kind: 'delete', name: String(row.name) };
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch (error) {
          this.#onError(error);
        }
      }
    }
  }

  #logChange(kind: 'put' | 'delete', name: string, text: string | null): void {
    const row = this.#db.get(
      'INSERT INTO rule_changes (kind, name, rule) VALUES (?, ?, ?) RETURNING version',
      kind,
      name,
      text,
    );
    this.#db.run('DELETE FROM rule_changes WHERE version <= ?', Number(row?.version ?? 0) - KEPT_CHANGES);
  }

  #currentVersion(): number {
    return Number(this.#db.get('SELECT max(version) AS v FROM rule_changes')?.v ?? 0);
  }

  #stopWatching(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    watchingStores.get(this.#db.path)?.delete(this);
  }
}

function wakeWatchers(path: string): void {
  for (const store of watchingStores.get(path) ?? []) store.poll();
}
