/**
 * Schema discovery (issue #16): with discovery on, the bus infers a draft schema per (source, type) from the events it
 * accepts, off the ingest path. `observe` only queues the events (a bounded queue: past it events are not read); a
 * drain on later turns of the event loop reads a few at a time, skips an event whose shape (fingerprint) its draft has
 * seen, merges a new shape into the draft and, when the draft changed, makes it a new version. Drafts are stored
 * through the `DraftStore` port; `promote` registers a draft's version as a schema through the registry's normal
 * checks. docs/schemas.md#discovery states the bounds.
 */
import type { CloudEvent } from '../core/cloudevent-types.ts';
import { rawDataText } from '../core/codec/raw-data.ts';
import { invalidRequest, notFound } from '../core/errors.ts';
import { canonicalJson } from '../core/schema.ts';
import {
  covers,
  type DraftVersion,
  draftDocument,
  type InferredSchema,
  inferredOf,
  inferSchema,
  mergeSchemas,
  prune,
  type SchemaDraft,
  shapeFingerprint,
} from '../core/schema-infer.ts';
import type { Clock, DraftStore } from '../ports.ts';
import type { Metrics } from './metrics.ts';
import type { Schemas, SchemaView } from './schemas.ts';

/** Most (source, type) pairs one bus keeps drafts for; events of further pairs are not read. */
export const DISCOVERY_MAX_PAIRS = 100;
/** Most versions a draft keeps (the latest ones); numbering goes on. */
export const DISCOVERY_MAX_DRAFT_VERSIONS = 10;
/** Most shape fingerprints a draft remembers; past it, it forgets them all (a repeated shape is merged again). */
export const DISCOVERY_MAX_SHAPES = 256;
/** Largest data read (its JSON text); a larger event is not read (parsing it would hold the event loop). */
export const DISCOVERY_MAX_DATA_BYTES = 64 * 1024;
/** Most events waiting to be read; past it, events are counted as skipped and not read. */
export const DISCOVERY_MAX_QUEUE = 1000;
/** Most events read in one turn of the event loop, and the time one turn may take. */
const SLICE_EVENTS = 64;
const SLICE_MS = 5;
/** How often a draft whose only change is its counters is written. */
const COUNTS_FLUSH_MS = 1000;

export interface DiscoveryOptions {
  readonly store: DraftStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** Whether `observe` reads events (the drafts are served either way). @default false */
  readonly enabled?: boolean;
  /** The registry drafts are promoted into. */
  readonly schemas?: Schemas;
  /** Where errors no caller receives go (a failed write of a draft). */
  readonly onError?: (error: unknown) => void;
  /** Lower bounds for tests. */
  readonly limits?: { readonly pairs?: number; readonly queue?: number; readonly versions?: number };
}

/** A draft as `GET /schemas/discovered` lists it. */
export interface DraftSummary {
  readonly source: string;
  readonly type: string;
  /** The latest version. */
  readonly version: number;
  readonly events: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Its path under the API: `/schemas/discovered/{source}/{type}`, each percent-encoded. */
  readonly path: string;
}

/** A draft as `GET /schemas/discovered/{source}/{type}` shows it: the latest version's schema and the versions kept. */
export interface DraftView extends DraftSummary {
  readonly schema: unknown;
  readonly versions: ReadonlyArray<{ readonly version: number; readonly createdAt: string }>;
}

interface Draft {
  source: string;
  type: string;
  versions: DraftVersion[];
  /** The latest version's inferred schema. */
  latest: InferredSchema | undefined;
  events: number;
  firstSeen: number;
  lastSeen: number;
  shapes: Set<string>;
}

const iso = (ms: number) => new Date(ms).toISOString();
const keyOf = (source: string, type: string) => `${type}\u0000${source}`;

export function draftPath(source: string, type: string): string {
  return `/schemas/discovered/${encodeURIComponent(source)}/${encodeURIComponent(type)}`;
}

export class SchemaDiscovery {
  readonly #o: DiscoveryOptions;
  readonly #drafts = new Map<string, Draft>();
  #queue: CloudEvent[] = [];
  #draining: Promise<void> | undefined;
  /** Drafts with a new version not written yet, and drafts whose counters changed. */
  readonly #changed = new Set<string>();
  readonly #counted = new Set<string>();
  #countsTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: DiscoveryOptions) {
    this.#o = options;
    options.metrics.declare(
      'junction_schema_discovery_events_total',
      'counter',
      'Events schema discovery saw, by outcome: read (inferred), skipped (the queue was full, or past the most pairs a bus keeps), too-large (data over 64 KiB), unreadable (no JSON data).',
    );
  }

  get enabled(): boolean {
    return this.#o.enabled === true;
  }

  /** Loads the stored drafts. */
  async start(): Promise<void> {
    for (const d of await this.#o.store.list()) {
      const latest = d.versions[d.versions.length - 1];
      this.#drafts.set(keyOf(d.source, d.type), {
        source: d.source,
        type: d.type,
        versions: [...d.versions],
        latest: latest === undefined ? undefined : inferredOf(latest.schema),
        events: d.events,
        firstSeen: d.firstSeen,
        lastSeen: d.lastSeen,
        shapes: new Set(),
      });
    }
  }

  /** Queues accepted events to be read later (never reads them now). A no-op when discovery is off. */
  observe(events: readonly CloudEvent[]): void {
    if (!this.enabled || this.#closed) return;
    const max = this.#o.limits?.queue ?? DISCOVERY_MAX_QUEUE;
    let skipped = 0;
    for (const event of events) {
      if (this.#queue.length >= max) skipped++;
      else this.#queue.push(event);
    }
    if (skipped > 0)
      this.#o.metrics.inc('junction_schema_discovery_events_total', { outcome: 'skipped' }, skipped);
    if (this.#queue.length > 0 && this.#draining === undefined) {
      this.#draining = this.#drain().finally(() => {
        this.#draining = undefined;
        if (this.#queue.length > 0 && !this.#closed) this.observe([]);
      });
    }
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#closed) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const started = performance.now();
      let read = 0;
      while (this.#queue.length > 0 && read < SLICE_EVENTS && performance.now() - started < SLICE_MS) {
        this.#read(this.#queue.shift() as CloudEvent);
        read++;
      }
      await this.#writeChanged();
    }
  }

  /** Reads one event into its draft. */
  #read(event: CloudEvent): void {
    let data: unknown;
    try {
      if (event.data_base64 === undefined) {
        const text = rawDataText(event);
        if (text !== undefined && text.length > DISCOVERY_MAX_DATA_BYTES) {
          this.#o.metrics.inc('junction_schema_discovery_events_total', { outcome: 'too-large' });
          return;
        }
        data = text === undefined ? event.data : JSON.parse(text);
      }
    } catch {
      data = undefined;
    }
    if (data === undefined) {
      this.#o.metrics.inc('junction_schema_discovery_events_total', { outcome: 'unreadable' });
      return;
    }
    const key = keyOf(event.source, event.type);
    let draft = this.#drafts.get(key);
    const now = this.#o.clock.now();
    if (draft === undefined) {
      if (this.#drafts.size >= (this.#o.limits?.pairs ?? DISCOVERY_MAX_PAIRS)) {
        this.#o.metrics.inc('junction_schema_discovery_events_total', { outcome: 'skipped' });
        return;
      }
      draft = {
        source: event.source,
        type: event.type,
        versions: [],
        latest: undefined,
        events: 0,
        firstSeen: now,
        lastSeen: now,
        shapes: new Set(),
      };
      this.#drafts.set(key, draft);
    }
    this.#o.metrics.inc('junction_schema_discovery_events_total', { outcome: 'read' });
    draft.events++;
    draft.lastSeen = Math.max(draft.lastSeen, now);
    this.#counted.add(key);
    const shape = inferSchema(data);
    const fingerprint = shapeFingerprint(shape);
    if (draft.shapes.has(fingerprint)) return;
    if (draft.shapes.size >= DISCOVERY_MAX_SHAPES) draft.shapes.clear();
    draft.shapes.add(fingerprint);
    if (draft.latest !== undefined && covers(draft.latest, shape)) return;
    const merged = draft.latest === undefined ? prune(shape) : mergeSchemas(draft.latest, shape);
    if (draft.latest !== undefined && canonicalJson(merged) === canonicalJson(draft.latest)) return;
    const last = draft.versions[draft.versions.length - 1];
    draft.versions.push({ version: (last?.version ?? 0) + 1, schema: draftDocument(merged), createdAt: now });
    const keep = this.#o.limits?.versions ?? DISCOVERY_MAX_DRAFT_VERSIONS;
    if (draft.versions.length > keep) draft.versions.splice(0, draft.versions.length - keep);
    draft.latest = merged;
    this.#changed.add(key);
  }

  #snapshot(draft: Draft): SchemaDraft {
    return {
      source: draft.source,
      type: draft.type,
      versions: [...draft.versions],
      events: draft.events,
      firstSeen: draft.firstSeen,
      lastSeen: draft.lastSeen,
    };
  }

  /** Writes the drafts with new versions now; counters alone at most every `COUNTS_FLUSH_MS`. */
  async #writeChanged(): Promise<void> {
    const keys = [...this.#changed];
    this.#changed.clear();
    for (const key of keys) this.#counted.delete(key);
    await this.#write(keys);
    if (this.#counted.size > 0 && this.#countsTimer === undefined && !this.#closed) {
      this.#countsTimer = setTimeout(() => {
        this.#countsTimer = undefined;
        void this.#writeCounts();
      }, COUNTS_FLUSH_MS);
      this.#countsTimer.unref?.();
    }
  }

  async #writeCounts(): Promise<void> {
    const keys = [...this.#counted];
    this.#counted.clear();
    await this.#write(keys);
  }

  async #write(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const draft = this.#drafts.get(key);
      if (draft === undefined) continue;
      try {
        await this.#o.store.put(this.#snapshot(draft));
      } catch (error) {
        this.#o.onError?.(error);
      }
    }
  }

  /** Resolves once every queued event is read and every draft written (tests, and `close`). */
  async settle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
    if (this.#countsTimer !== undefined) {
      clearTimeout(this.#countsTimer);
      this.#countsTimer = undefined;
    }
    await this.#writeCounts();
  }

  /** Stops reading (queued events are dropped) and writes what was read. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue = [];
    await this.settle();
  }

  #summary(draft: Draft): DraftSummary {
    return {
      source: draft.source,
      type: draft.type,
      version: draft.versions[draft.versions.length - 1]?.version ?? 0,
      events: draft.events,
      firstSeen: iso(draft.firstSeen),
      lastSeen: iso(draft.lastSeen),
      path: draftPath(draft.source, draft.type),
    };
  }

  /** Every draft, by type then source. */
  list(): DraftSummary[] {
    return [...this.#drafts.entries()]
      .filter(([, d]) => d.versions.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, d]) => this.#summary(d));
  }

  #draft(source: string, type: string): Draft {
    const draft = this.#drafts.get(keyOf(source, type));
    if (draft === undefined || draft.versions.length === 0)
      throw notFound(
        `a discovered schema for source ${JSON.stringify(source)} and type ${JSON.stringify(type)}`,
      );
    return draft;
  }

  #version(draft: Draft, version: string | number | undefined): DraftVersion {
    const latest = draft.versions[draft.versions.length - 1] as DraftVersion;
    if (version === undefined || version === 'latest') return latest;
    const n =
      typeof version === 'number' ? version : /^\d{1,9}$/.test(version) ? Number(version) : Number.NaN;
    const found = draft.versions.find((v) => v.version === n);
    if (found === undefined) {
      throw notFound(
        `version ${JSON.stringify(version)} of the discovered schema for ${draft.type} from ${draft.source} (it keeps versions ${draft.versions[0]?.version}-${latest.version})`,
      );
    }
    return found;
  }

  get(source: string, type: string): DraftView {
    const draft = this.#draft(source, type);
    return {
      ...this.#summary(draft),
      schema: this.#version(draft, undefined).schema,
      versions: draft.versions.map((v) => ({ version: v.version, createdAt: iso(v.createdAt) })),
    };
  }

  getVersion(
    source: string,
    type: string,
    version: string,
  ): { source: string; type: string; version: number; schema: unknown; createdAt: string } {
    const found = this.#version(this.#draft(source, type), version);
    return { source, type, version: found.version, schema: found.schema, createdAt: iso(found.createdAt) };
  }

  /** Forgets a draft (events of its pair start a new one). */
  async delete(source: string, type: string): Promise<void> {
    this.#draft(source, type);
    this.#drafts.delete(keyOf(source, type));
    this.#changed.delete(keyOf(source, type));
    this.#counted.delete(keyOf(source, type));
    await this.#o.store.delete(source, type);
  }

  /**
   * Registers a draft's version (the latest unless `version` names one) as a version of the schema `name`, through
   * the registry's checks (compatibility, bindings, bounds). The binding defaults to the draft's type and source
   * (as a prefix), the enforcement to `warn` (a discovered schema is a guess until a person reviews it).
   */
  async promote(
    source: string,
    type: string,
    body: unknown,
  ): Promise<{ schema: SchemaView; version: number; created: boolean; from: { version: number } }> {
    if (this.#o.schemas === undefined) throw notFound('the schema registry');
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw invalidRequest('the body must be an object: {"name": "...", "version", "binding", ...}', 'body');
    const request = body as Record<string, unknown>;
    for (const key of Object.keys(request)) {
      if (!['name', 'version', 'binding', 'compatibility', 'enforcement'].includes(key))
        throw invalidRequest(
          `unknown member ${JSON.stringify(key)}; use name, version, binding, compatibility and enforcement`,
          key,
        );
    }
    if (typeof request.name !== 'string')
      throw invalidRequest('name is required: the schema to register the draft as', 'name');
    if (
      request.version !== undefined &&
      !(Number.isInteger(request.version) && (request.version as number) > 0)
    )
      throw invalidRequest(
        `version must be a whole number > 0, got ${JSON.stringify(request.version)}`,
        'version',
      );
    const draft = this.#draft(source, type);
    const found = this.#version(draft, request.version as number | undefined);
    const answer = await this.#o.schemas.put(request.name, {
      schema: found.schema,
      binding: request.binding ?? { type: draft.type, source: draft.source },
      enforcement: request.enforcement ?? 'warn',
      ...(request.compatibility === undefined ? {} : { compatibility: request.compatibility }),
    });
    return { ...answer, from: { version: found.version } };
  }
}
