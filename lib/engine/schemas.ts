/**
 * The schema registry of a bus (issue #16): registers immutable versions through the `SchemaStore` port, checks each
 * new version's compatibility, and checks events at ingest against the schema bound to them (docs/schemas.md). The
 * registry is held in memory (at most 100 schemas of 100 versions), so that checking an event is synchronous; each
 * version compiles once, when first needed.
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { rawDataText } from '../core/codec/raw-data.ts';
import { JunctionError, notFound } from '../core/errors.ts';
import {
  canonicalJson,
  checkCompatibility,
  type Enforcement,
  MAX_SCHEMAS,
  MAX_VERSIONS,
  type SchemaBinding,
  type SchemaDefinition,
  type SchemaVersion,
  sameBinding,
  validateSchemaName,
  validateSchemaRequest,
} from '../core/schema.ts';
import { compileSchema, type SchemaChecker, type Violation } from '../core/schema-check.ts';
import type { Clock, SchemaStore, TraceEntry, TraceStore } from '../ports.ts';
import type { Metrics } from './metrics.ts';

export interface SchemasOptions {
  readonly store: SchemaStore;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /** Where an event accepted in `warn` mode gets a `schema-violation` entry. @default none */
  readonly traces?: Pick<TraceStore, 'record'>;
  /** Told when such a trace cannot be written. */
  readonly onError?: (error: unknown) => void;
  /** Most schemas and versions per schema (tests lower them). @default MAX_SCHEMAS, MAX_VERSIONS */
  readonly limits?: { readonly schemas?: number; readonly versions?: number };
}

/** A schema as the API shows it: its settings and its versions (without their schemas). */
export interface SchemaView {
  readonly name: string;
  readonly compatibility: SchemaDefinition['compatibility'];
  readonly binding: SchemaBinding;
  readonly enforcement: Enforcement;
  readonly latest: number;
  readonly versions: ReadonlyArray<{ readonly version: number; readonly createdAt: string }>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One version as `GET /schemas/{name}/versions/{v}` shows it. */
export interface SchemaVersionView {
  readonly name: string;
  readonly version: number;
  readonly dialect: SchemaVersion['dialect'];
  readonly schema: unknown;
  readonly createdAt: string;
}

/** Most breaking changes a 409 lists. */
const MAX_CHANGES = 50;
/** Most compiled versions kept at once (the least recently compiled go first). */
const MAX_COMPILED = 1000;

const iso = (ms: number) => new Date(ms).toISOString();

/** `.../schemas/{name}/versions/{v}`: the registry's own URI of a version, whatever the host or scheme. */
const REGISTRY_URI = /(?:^|[/:])schemas\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/versions\/(\d{1,9})$/;
const VERSIONED = /^(.*)\/versions\/(\d{1,9})$/;

/** The schema and version that govern an event, with the version number it named (its latest, or `dataschema`'s). */
interface Governing {
  readonly definition: SchemaDefinition;
  readonly version: SchemaVersion | undefined;
  readonly wanted: number;
}

export class Schemas {
  readonly #o: SchemasOptions;
  readonly #schemas = new Map<string, SchemaDefinition>();
  readonly #compiled = new Map<string, SchemaChecker>();
  /** Type bindings by type, longest source prefix first. */
  #byType = new Map<string, Array<{ readonly prefix: string; readonly name: string }>>();
  #byDataschema = new Map<string, string>();
  /** Writes one at a time: a version number is read and written without another write in between. */
  #writes: Promise<unknown> = Promise.resolve();

  constructor(options: SchemasOptions) {
    this.#o = options;
    options.metrics.declare(
      'junction_schema_violations_total',
      'counter',
      'Events whose data failed the schema bound to them, by schema and enforcement (warn: accepted; reject: refused).',
    );
  }

  /** Loads the stored schemas. */
  async start(): Promise<void> {
    for (const definition of await this.#o.store.list()) this.#schemas.set(definition.name, definition);
    this.#index();
  }

  /**
   * Reloads the registry from the store: what other processes sharing it (the Lambda instances on AWS) registered
   * or deleted since. A version whose schema changed under its number (deleted and registered again) is compiled
   * again; the others keep their compiled checker. Runs between writes, never during one.
   */
  refresh(): Promise<void> {
    return this.#serial(async () => {
      const fresh = new Map((await this.#o.store.list()).map((d) => [d.name, d]));
      for (const [name, old] of this.#schemas) {
        const next = fresh.get(name);
        for (const v of old.versions) {
          if (next?.versions.find((w) => w.version === v.version)?.fingerprint !== v.fingerprint)
            this.#compiled.delete(`${name}\u0000${v.version}`);
        }
      }
      this.#schemas.clear();
      for (const [name, definition] of fresh) this.#schemas.set(name, definition);
      this.#index();
    });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#writes.then(work, work);
    this.#writes = run.catch(() => undefined);
    return run;
  }

  #index(): void {
    const byType = new Map<string, Array<{ prefix: string; name: string }>>();
    const byDataschema = new Map<string, string>();
    for (const { name, binding } of this.#schemas.values()) {
      if ('dataschema' in binding) byDataschema.set(binding.dataschema, name);
      else {
        const list = byType.get(binding.type) ?? [];
        list.push({ prefix: binding.source ?? '', name });
        byType.set(binding.type, list);
      }
    }
    for (const list of byType.values()) list.sort((a, b) => b.prefix.length - a.prefix.length);
    this.#byType = byType;
    this.#byDataschema = byDataschema;
  }

  #view(definition: SchemaDefinition): SchemaView {
    return {
      name: definition.name,
      compatibility: definition.compatibility,
      binding: definition.binding,
      enforcement: definition.enforcement,
      latest: definition.versions[definition.versions.length - 1]?.version ?? 0,
      versions: definition.versions.map((v) => ({ version: v.version, createdAt: iso(v.createdAt) })),
      createdAt: iso(definition.createdAt),
      updatedAt: iso(definition.updatedAt),
    };
  }

  #checker(name: string, version: SchemaVersion): SchemaChecker {
    const key = `${name}\u0000${version.version}`;
    let checker = this.#compiled.get(key);
    if (checker === undefined) {
      checker = compileSchema(version.dialect, version.schema);
      if (this.#compiled.size >= MAX_COMPILED) {
        const oldest = this.#compiled.keys().next().value;
        if (oldest !== undefined) this.#compiled.delete(oldest);
      }
      this.#compiled.set(key, checker);
    }
    return checker;
  }

  /**
   * Registers a version (`created`: a new one), or answers the version the same schema already is. Changes the
   * schema's settings to the request's either way. Refuses an incompatible version (`409 IncompatibleSchema`), a
   * binding another schema has, and more than `MAX_SCHEMAS` schemas or `MAX_VERSIONS` versions (`409 Conflict`).
   */
  put(name: string, body: unknown): Promise<{ schema: SchemaView; version: number; created: boolean }> {
    validateSchemaName(name);
    const request = validateSchemaRequest(body);
    return this.#serial(async () => {
      const existing = this.#schemas.get(name);
      const maxSchemas = this.#o.limits?.schemas ?? MAX_SCHEMAS;
      const maxVersions = this.#o.limits?.versions ?? MAX_VERSIONS;
      if (existing === undefined && this.#schemas.size >= maxSchemas) {
        throw new JunctionError('Conflict', `this bus has ${maxSchemas} schemas, the most it holds`, {
          field: 'name',
        });
      }
      for (const other of this.#schemas.values()) {
        if (other.name !== name && sameBinding(other.binding, request.binding)) {
          throw new JunctionError(
            'Conflict',
            `binding: the schema ${JSON.stringify(other.name)} already governs these events`,
            { field: 'binding', details: { schema: other.name } },
          );
        }
      }
      const fingerprint = canonicalJson(request.schema);
      const versions = existing?.versions ?? [];
      const same = versions.find((v) => v.fingerprint === fingerprint);
      const now = this.#o.clock.now();
      let version: number;
      let added: SchemaVersion[] = [];
      if (same !== undefined) version = same.version;
      else {
        if (versions.length >= maxVersions) {
          throw new JunctionError(
            'Conflict',
            `the schema ${name} has ${maxVersions} versions, the most it holds; delete it or register another name`,
            { field: 'schema' },
          );
        }
        version = (versions[versions.length - 1]?.version ?? 0) + 1;
        const changes = checkCompatibility(versions, request.schema, request.compatibility);
        if (changes.length > 0) {
          const first = changes[0] as (typeof changes)[number];
          throw new JunctionError(
            'IncompatibleSchema',
            `version ${version} breaks ${first.rule} compatibility with version ${first.against}: ${first.message} (${first.change} at ${first.pointer || '/'})${changes.length > 1 ? `, and ${changes.length - 1} more` : ''}`,
            { field: 'schema', details: { changes: changes.slice(0, MAX_CHANGES) } },
          );
        }
        const next: SchemaVersion = Object.freeze({
          version,
          dialect: request.dialect,
          schema: request.schema,
          fingerprint,
          createdAt: now,
        });
        // Compiles it now: a schema ajv cannot compile is refused before it is stored.
        this.#checker(name, next);
        added = [next];
      }
      const definition: SchemaDefinition = Object.freeze({
        name,
        compatibility: request.compatibility,
        binding: request.binding,
        enforcement: request.enforcement,
        versions: Object.freeze([...versions, ...added]),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
      await this.#o.store.put(definition);
      this.#schemas.set(name, definition);
      this.#index();
      return { schema: this.#view(definition), version, created: added.length > 0 };
    });
  }

  #definition(name: string): SchemaDefinition {
    const definition = this.#schemas.get(name);
    if (definition === undefined) throw notFound(`the schema ${JSON.stringify(name)}`);
    return definition;
  }

  get(name: string): SchemaView {
    return this.#view(this.#definition(name));
  }

  list(): SchemaView[] {
    return [...this.#schemas.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((d) => this.#view(d));
  }

  getVersion(name: string, version: string): SchemaVersionView {
    const definition = this.#definition(name);
    const found = /^\d{1,9}$/.test(version)
      ? definition.versions.find((v) => v.version === Number(version))
      : version === 'latest'
        ? definition.versions[definition.versions.length - 1]
        : undefined;
    if (found === undefined)
      throw notFound(`version ${JSON.stringify(version)} of the schema ${JSON.stringify(name)}`);
    return {
      name,
      version: found.version,
      dialect: found.dialect,
      schema: found.schema,
      createdAt: iso(found.createdAt),
    };
  }

  delete(name: string): Promise<void> {
    return this.#serial(async () => {
      const definition = this.#definition(name);
      await this.#o.store.delete(name);
      this.#schemas.delete(name);
      for (const v of definition.versions) this.#compiled.delete(`${name}\u0000${v.version}`);
      this.#index();
    });
  }

  /** Each definition's latest version as `#at` answers it: made once, not once an event (a definition is immutable). */
  readonly #latest = new WeakMap<SchemaDefinition, Governing>();

  /** The schema's version `wanted` (its latest when undefined), with the number it named should it not exist. */
  #at(definition: SchemaDefinition | undefined, wanted?: number): Governing | undefined {
    if (definition === undefined) return undefined;
    if (wanted === undefined) {
      const known = this.#latest.get(definition);
      if (known !== undefined) return known;
      const latest = definition.versions[definition.versions.length - 1];
      if (latest === undefined) return undefined;
      const governing = { definition, version: latest, wanted: latest.version };
      this.#latest.set(definition, governing);
      return governing;
    }
    return { definition, version: definition.versions.find((v) => v.version === wanted), wanted };
  }

  /** The schema and version that govern an event, with the version it named should it not exist. */
  #governing(event: CloudEvent): Governing | undefined {
    const uri = event.dataschema;
    if (typeof uri === 'string' && uri.length > 0) {
      const bound = this.#byDataschema.get(uri);
      if (bound !== undefined) return this.#at(this.#schemas.get(bound));
      const versioned = VERSIONED.exec(uri);
      const base = versioned === null ? undefined : this.#byDataschema.get(versioned[1] as string);
      if (versioned !== null && base !== undefined)
        return this.#at(this.#schemas.get(base), Number(versioned[2]));
      const own = REGISTRY_URI.exec(uri);
      if (own !== null && this.#schemas.has(own[1] as string)) {
        return this.#at(this.#schemas.get(own[1] as string), Number(own[2]));
      }
    }
    const candidates = this.#byType.get(event.type);
    if (candidates === undefined) return undefined;
    for (const candidate of candidates) {
      if (event.source.startsWith(candidate.prefix)) return this.#at(this.#schemas.get(candidate.name));
    }
    return undefined;
  }

  /**
   * Checks events against the schemas bound to them: per event, undefined (accepted: no schema, `off`, valid, or
   * `warn`) or a `SchemaViolation` error (`reject`) listing each failing value's pointer and keyword. An event
   * accepted in `warn` mode gets a `schema-violation` trace entry; a refused one too with `traceRefused` (for entries
   * with no caller to tell: a schedule, an aggregation, a function's events), with `"refused": true`.
   */
  check(
    events: readonly CloudEvent[],
    options: { readonly traceRefused?: boolean } = {},
  ): Array<JunctionError | undefined> {
    if (this.#schemas.size === 0) return events.map(() => undefined);
    const warned: TraceEntry[] = [];
    // The events of a batch are mostly of one schema: its checker is looked up once, not once an event.
    let lastVersion: SchemaVersion | undefined;
    let lastChecker: SchemaChecker | undefined;
    const verdicts = events.map((event) => {
      const governing = this.#governing(event);
      if (governing === undefined || governing.definition.enforcement === 'off') return undefined;
      const { definition, version, wanted } = governing;
      let violations: Violation[];
      if (version === undefined) {
        violations = [
          {
            pointer: '/dataschema',
            keyword: 'dataschema',
            message: `names version ${wanted} of the schema ${definition.name}, which does not exist`,
          },
        ];
      } else if (event.data_base64 !== undefined) {
        violations = [
          {
            pointer: '/data_base64',
            keyword: 'type',
            message: 'binary data cannot be checked against a JSON schema',
          },
        ];
      } else {
        // The producer's JSON text, parsed here: the event's own `data` accessor would also deep-freeze and keep the
        // value (twice the cost, measured), and the router reads it only when a pattern looks into data.
        if (version !== lastVersion || lastChecker === undefined) {
          lastChecker = this.#checker(definition.name, version);
          lastVersion = version;
        }
        const text = rawDataText(event);
        if (text !== undefined && lastChecker.validText?.(text) === true) return undefined;
        // Not known from the text (or no text): ajv decides, and words each violation.
        const data = text === undefined ? event.data : JSON.parse(text);
        violations =
          data === undefined
            ? [{ pointer: '/data', keyword: 'required', message: 'the event has no data' }]
            : lastChecker(data);
      }
      if (violations.length === 0) return undefined;
      this.#o.metrics.inc('junction_schema_violations_total', {
        schema: definition.name,
        enforcement: definition.enforcement,
      });
      if (definition.enforcement === 'warn') {
        warned.push({
          source: event.source,
          id: event.id,
          at: this.#o.clock.now(),
          kind: 'schema-violation',
          detail: { schema: definition.name, version: wanted, violations },
        });
        return undefined;
      }
      if (options.traceRefused === true) {
        warned.push({
          source: event.source,
          id: event.id,
          at: this.#o.clock.now(),
          kind: 'schema-violation',
          detail: { schema: definition.name, version: wanted, violations, refused: true },
        });
      }
      const first = violations[0] as Violation;
      const listed = violations.map((v) => `${v.pointer} ${v.message} (${v.keyword})`).join('; ');
      return new JunctionError(
        'SchemaViolation',
        `the event does not match version ${wanted} of the schema ${definition.name}: ${listed}`,
        {
          field: first.pointer.slice(1).replace(/\//g, '.'),
          details: { schema: definition.name, version: wanted, violations },
        },
      );
    });
    if (warned.length > 0 && this.#o.traces !== undefined) {
      // A trace is a record, not a promise (TraceStore): the events are accepted whether or not it is written.
      this.#o.traces.record(warned).catch((error: unknown) => this.#o.onError?.(error));
    }
    return verdicts;
  }
}
