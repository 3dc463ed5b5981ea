/**
 * Named event buses (issue #13) in one deployment: the bus host opens each bus's engine on its own storage (its own
 * SQLite files under `<data dir>/buses/<name>`, or its own Kafka topic), and the buses app routes `/buses/{name}/…`
 * (and EventBridge's `EventBusName`) to the bus's own API. The default bus is the data dir itself: every path
 * without `/buses/{name}` serves it, as before buses existed.
 */
import { rm } from 'node:fs/promises';
import type { SqliteBusRegistry } from '../adapters/sqlite/bus-registry.ts';
import {
  type BusIsolation,
  type BusSpec,
  DEFAULT_BUS,
  MAX_BUSES,
  validateBusName,
  validateBusSpec,
} from '../core/bus.ts';
import { invalidRequest, JunctionError, toJunctionError } from '../core/errors.ts';
import { awsErrorBody } from '../core/eventbridge.ts';
import {
  amzBuses,
  archiveNameOfArn,
  busArn,
  busNameOf,
  DEFAULT_ARN_CONTEXT,
  page,
} from '../core/eventbridge-api.ts';
import { type BusInbox, inboxOf } from '../engine/bus-driver.ts';
import type { StopOptions, StopReport } from '../engine/dispatcher.ts';
import type { Junction } from '../engine/junction.ts';
import { Metrics, mergeExpositions } from '../engine/metrics.ts';
import type { Clock } from '../ports.ts';
import type { ApiRequest, ApiResponse, App } from './app.ts';
import { bodyJson, bodyText, readJsonBody } from './body.ts';
import type { BusProcessStatus } from './isolated-bus.ts';

/** One bus's engine and API, open: in this process, or in a bus process of its own (`isolation: process`). */
export interface OpenedBus {
  readonly name: string;
  /** The bus's engine, when it runs in this process. */
  readonly junction?: Junction;
  /** The bus's own API (the paths of CONTRACT.md, relative to `/buses/{name}`). */
  readonly app: App;
  /** Where other buses' `bus` targets put events on it. */
  readonly inbox: BusInbox;
  /** How many rules it has. */
  ruleCount(): Promise<number>;
  /** Its series as an exposition, when they live in another process (in process: `junction.metrics`). */
  exposition?(): Promise<string>;
  /** Hears that the deployment's buses changed (a bus process keeps the list its rules' `bus` targets check). */
  directoryChanged?(buses: readonly BusListing[]): Promise<void>;
  /** Its process, when it has one of its own. */
  status?(): BusProcessStatus;
  /** Stops the engine and closes the bus's storage (within `options.deadlineMs`). */
  close(options?: StopOptions): Promise<StopReport>;
}

/** A bus as the rules of another see it: its name and whose rules it accepts. */
export interface BusListing {
  readonly name: string;
  readonly acceptFrom?: readonly string[];
}

/** The deployment's buses as a bus's rules see them (`bus` targets). */
export interface BusDirectory {
  exists(name: string): boolean;
  accepts(from: string, to: string): boolean;
}

/**
 * The deployment's buses as a bus in a process of its own sees them (the list the deployment last sent): whether one
 * exists, whether `to` accepts the rules of `from` — what `BusHost.exists` and `BusHost.accepts` answer in the
 * deployment's process.
 */
export function listingDirectory(buses: () => readonly BusListing[]): BusDirectory {
  return {
    exists: (name) => buses().some((b) => b.name === name),
    accepts: (from, to) =>
      to !== DEFAULT_BUS &&
      (buses()
        .find((b) => b.name === to)
        ?.acceptFrom?.includes(from) ??
        false),
  };
}

/** A bus whose engine runs in this process, as the bus host holds it. */
export function inProcess(bus: {
  readonly name: string;
  readonly junction: Junction;
  readonly app: App;
  close(options?: StopOptions): Promise<StopReport>;
}): OpenedBus & { readonly junction: Junction } {
  return {
    ...bus,
    close: (options) => bus.close(options),
    inbox: inboxOf(bus.junction),
    ruleCount: async () => (await bus.junction.listRules()).length,
  };
}

/** A bus as `GET /buses` and `GET /buses/{name}` show it. */
export interface BusView {
  readonly name: string;
  readonly arn: string;
  readonly description?: string;
  readonly quota?: BusSpec['quota'];
  readonly sourceQuota?: BusSpec['sourceQuota'];
  readonly retentionMs: number;
  readonly dedupWindowMs: number;
  readonly acceptFrom?: readonly string[];
  readonly isolation: BusIsolation;
  /** The port of its own endpoint (`isolation: process`). */
  readonly port?: number;
  /** Its process's niceness, or `"idle"` (`isolation: process`). */
  readonly nice?: BusSpec['nice'];
  /** Its process, when it has one of its own (`isolation: process`). */
  readonly process?: BusProcessStatus;
  readonly createdAt?: number;
}

export interface BusHostOptions {
  readonly defaultBus: OpenedBus & { readonly junction: Junction };
  readonly registry: SqliteBusRegistry;
  /** Opens a named bus's engine on its own storage. */
  readonly open: (spec: BusSpec) => Promise<OpenedBus>;
  /** Removes a deleted bus's storage (its directory, its topic). */
  readonly destroy: (name: string) => Promise<void>;
  /** Called after a bus is deleted (e.g. to revoke the credentials that named it). */
  readonly onDeleted?: (name: string) => Promise<void>;
  /** The deployment's defaults, for what a bus does not set. */
  readonly defaults: { readonly retentionMs: number; readonly dedupWindowMs: number };
  readonly clock: Clock;
  readonly onError: (error: unknown) => void;
  /** @default MAX_BUSES (100, the default bus included) */
  readonly maxBuses?: number;
  /** The process's own series (CPU, memory, GC, event-loop delay): in `/metrics` for callers that may read the default bus. */
  readonly processMetrics?: Metrics;
}

/** Opens, lists, changes and deletes the named buses of one deployment; the default bus is always there. */
export class BusHost {
  readonly #o: BusHostOptions;
  /** Named buses being opened or open. */
  readonly #open = new Map<string, Promise<OpenedBus>>();
  /** Changes (put, delete) of one bus run one after another. */
  readonly #locks = new Map<string, Promise<unknown>>();
  /** The named buses open now (what `#open` resolved to), for what the views read synchronously. */
  readonly #ready = new Map<string, OpenedBus>();
  #closed = false;

  constructor(options: BusHostOptions) {
    this.#o = options;
  }

  /** The default bus (always open, in this process). */
  get defaultBus(): OpenedBus & { readonly junction: Junction } {
    return this.#o.defaultBus;
  }

  /** Opens every stored bus (their routers resume their logs, their dispatchers their ledgers). */
  async start(): Promise<void> {
    for (const spec of this.#o.registry.list()) await this.#opened(spec);
  }

  #opened(spec: BusSpec): Promise<OpenedBus> {
    if (this.#closed) {
      return Promise.reject(
        new JunctionError('BufferUnavailable', 'the bus is shutting down', { retriable: true }),
      );
    }
    let bus = this.#open.get(spec.name);
    if (bus === undefined) {
      bus = this.#o.open(spec);
      this.#open.set(spec.name, bus);
      const opening = bus;
      opening.then(
        (opened) => {
          if (this.#open.get(spec.name) === opening) this.#ready.set(spec.name, opened);
        },
        () => {
          if (this.#open.get(spec.name) === opening) this.#open.delete(spec.name);
        },
      );
    }
    return bus;
  }

  /** The bus, opened when it exists but is not open yet (created by another process on shared stores); or undefined. */
  async get(name: string): Promise<OpenedBus | undefined> {
    if (this.#closed)
      throw new JunctionError('BufferUnavailable', 'the bus is shutting down', { retriable: true });
    if (name === DEFAULT_BUS) return this.#o.defaultBus;
    await this.#locks.get(name)?.catch(() => undefined);
    return this.#current(name);
  }

  /** The bus as it is now (no waiting for a change of it in progress). */
  #current(name: string): Promise<OpenedBus> | undefined {
    const open = this.#open.get(name);
    if (open !== undefined) return open;
    if (!BUS_NAME_OK(name)) return undefined;
    const spec = this.#o.registry.get(name);
    return spec === undefined ? undefined : this.#opened(spec);
  }

  /** The bus's inbox, or undefined (for `bus` targets). */
  async inbox(name: string): Promise<BusInbox | undefined> {
    return (await this.get(name))?.inbox;
  }

  /** The deployment's buses as a bus's rules see them. */
  listing(): BusListing[] {
    return [
      { name: DEFAULT_BUS },
      ...this.#o.registry
        .list()
        .map((s) =>
          s.acceptFrom === undefined ? { name: s.name } : { name: s.name, acceptFrom: s.acceptFrom },
        ),
    ];
  }

  /** Tells the buses in processes of their own that the list changed (they check `bus` targets against it). */
  async #announce(): Promise<void> {
    const listing = this.listing();
    const open = await Promise.all([...this.#open.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(
      open.map((bus) => bus?.directoryChanged?.(listing).catch((e: unknown) => this.#o.onError(e))),
    );
  }

  /** Whether the bus `to` lists `from` in its `acceptFrom`. */
  accepts(from: string, to: string): boolean {
    return to !== DEFAULT_BUS && (this.#o.registry.get(to)?.acceptFrom?.includes(from) ?? false);
  }

  /** Whether a bus of this name exists. */
  exists(name: string): boolean {
    return name === DEFAULT_BUS || this.#o.registry.get(name) !== undefined;
  }

  #view(spec: BusSpec | undefined, name: string): BusView {
    const status = this.#ready.get(name)?.status?.();
    return {
      name,
      arn: busArn(DEFAULT_ARN_CONTEXT, name),
      ...(spec?.description === undefined ? {} : { description: spec.description }),
      ...(spec?.quota === undefined ? {} : { quota: spec.quota }),
      ...(spec?.sourceQuota === undefined ? {} : { sourceQuota: spec.sourceQuota }),
      retentionMs: spec?.retentionMs ?? this.#o.defaults.retentionMs,
      dedupWindowMs: spec?.dedupWindowMs ?? this.#o.defaults.dedupWindowMs,
      ...(spec?.acceptFrom === undefined ? {} : { acceptFrom: spec.acceptFrom }),
      isolation: spec?.isolation ?? 'shared',
      ...(spec?.port === undefined ? {} : { port: spec.port }),
      ...(spec?.nice === undefined ? {} : { nice: spec.nice }),
      ...(status === undefined ? {} : { process: status }),
      ...(spec === undefined ? {} : { createdAt: spec.createdAt }),
    };
  }

  /** Every bus, the default first. */
  list(): BusView[] {
    return [this.#view(undefined, DEFAULT_BUS), ...this.#o.registry.list().map((s) => this.#view(s, s.name))];
  }

  describe(name: string): BusView {
    if (name === DEFAULT_BUS) return this.#view(undefined, DEFAULT_BUS);
    const spec = this.#o.registry.get(name);
    if (spec === undefined) throw notFound(name);
    return this.#view(spec, name);
  }

  #locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(name) ?? Promise.resolve();
    const run = before.then(work, work);
    const tail = run.catch(() => undefined);
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return run;
  }

  /**
   * Creates a bus, or changes one (its engine restarts on the new settings: deliveries in flight go back to its
   * ledger and run again).
   */
  put(
    name: string,
    body: unknown,
    options: { merge?: boolean } = {},
  ): Promise<{ bus: BusView; created: boolean }> {
    validateBusName(name);
    if (name === DEFAULT_BUS) {
      throw new JunctionError(
        'InvalidBus',
        "the default bus takes the deployment's settings (junction dev options); it cannot be changed here",
        { field: 'name' },
      );
    }
    return this.#locked(name, async () => {
      const previous = this.#o.registry.get(name);
      // `merge` (EventBridge's UpdateEventBus): the settings not in the body stay as they are.
      const merged =
        options.merge === true && previous !== undefined && typeof body === 'object' && body !== null
          ? { ...settingsOf(previous), ...body }
          : body;
      const spec = validateBusSpec(name, merged, this.#o.clock.now(), previous);
      const max = this.#o.maxBuses ?? MAX_BUSES;
      if (previous === undefined && this.#o.registry.list().length + 1 >= max) {
        throw new JunctionError(
          'Conflict',
          `this deployment holds at most ${max} buses (the default included); delete one first`,
          { field: 'name', details: { limit: max } },
        );
      }
      await this.#o.registry.put(spec);
      const open = this.#open.get(name);
      if (open !== undefined) {
        this.#open.delete(name);
        this.#ready.delete(name);
        await (await open).close();
      }
      try {
        await this.#opened(spec);
      } catch (error) {
        // The bus stays as it was (or is not created): its last settings, open again.
        if (previous === undefined) await this.#o.registry.delete(name);
        else {
          await this.#o.registry.put(previous);
          await this.#opened(previous).catch((e: unknown) => this.#o.onError(e));
        }
        throw error;
      }
      await this.#announce();
      return { bus: this.#view(spec, name), created: previous === undefined };
    });
  }

  /** Deletes a bus with everything it holds; refused (409) while it has rules, unless `force`. */
  delete(name: string, force: boolean): Promise<void> {
    validateBusName(name);
    if (name === DEFAULT_BUS) {
      throw new JunctionError('InvalidBus', 'the default bus cannot be deleted', { field: 'name' });
    }
    return this.#locked(name, async () => {
      if (this.#o.registry.get(name) === undefined) throw notFound(name);
      const bus = await this.#current(name);
      const rules = bus === undefined ? 0 : await bus.ruleCount();
      if (rules > 0 && !force) {
        throw new JunctionError(
          'Conflict',
          `the bus ${name} has ${rules} rule${rules === 1 ? '' : 's'}; delete them first, or delete with ?force=true`,
          { field: 'name', details: { rules } },
        );
      }
      await this.#o.registry.delete(name);
      this.#open.delete(name);
      this.#ready.delete(name);
      await bus?.close({ deadlineMs: 5_000 });
      await this.#announce();
      await this.#o.destroy(name);
      await this.#o.onDeleted?.(name);
    });
  }

  /**
   * The metrics of the buses `include` answers true for, in one exposition (each series labelled with its bus; a bus
   * in a process of its own adds that process's series, labelled with its bus too).
   */
  async metrics(include: (bus: string) => boolean = () => true): Promise<string> {
    const named = await Promise.all([...this.#open.values()].map((p) => p.catch(() => undefined)));
    const own = this.#o.processMetrics;
    const buses = [this.#o.defaultBus, ...named.flatMap((b) => (b === undefined ? [] : [b]))].filter((b) =>
      include(b.name),
    );
    const local = await Metrics.renderAll([
      ...(own !== undefined && include(DEFAULT_BUS) ? [own] : []),
      ...buses.flatMap((b) => (b.junction === undefined ? [] : [b.junction.metrics])),
    ]);
    const remote = await Promise.all(
      buses.map((b) =>
        b.junction !== undefined || b.exposition === undefined
          ? ''
          : b.exposition().catch((e: unknown) => {
              this.#o.onError(e);
              return '';
            }),
      ),
    );
    const others = remote.filter((text) => text !== '');
    return others.length === 0 ? local : mergeExpositions([local, ...others]);
  }

  /** Stops the named buses (the default bus is closed by its owner). */
  async close(options: StopOptions = {}): Promise<StopReport[]> {
    this.#closed = true;
    const open = [...this.#open.values()];
    this.#open.clear();
    this.#ready.clear();
    const reports = await Promise.all(
      open.map(async (p) => {
        const bus = await p.catch(() => undefined);
        return bus === undefined ? undefined : bus.close(options).catch((e) => void this.#o.onError(e));
      }),
    );
    return reports.filter((r): r is StopReport => r !== undefined);
  }
}

function BUS_NAME_OK(name: string): boolean {
  try {
    validateBusName(name);
    return true;
  } catch {
    return false;
  }
}

function notFound(name: string): JunctionError {
  return new JunctionError('NotFound', `there is no bus named ${JSON.stringify(name)}`, { field: 'name' });
}

/** Removes a bus's directory (after its engine closed). */
export async function removeBusDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

const JSON_TYPE = { 'content-type': 'application/json' };

function json(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

function decodeSegments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw invalidRequest(`the path segment "${s}" is not valid percent-encoding`);
      }
    });
}

const decoder = new TextDecoder();

/** An answer's body as text. */
function answerText(answer: ApiResponse): string {
  return typeof answer.body === 'string' ? answer.body : decoder.decode(answer.body);
}

/** The settings of a stored bus, as a `PUT /buses/{name}` body. */
function settingsOf(spec: BusSpec): Record<string, unknown> {
  const { name: _name, createdAt: _createdAt, ...settings } = spec;
  return settings;
}

/** Whether a request may read `bus` (`request.may`, set by the auth layer; absent on an open bus: yes). */
function mayRead(request: ApiRequest, bus: string): boolean {
  return request.may === undefined || request.may('read', bus);
}

/**
 * Whether a bus other than `except` has a replay named `name`: replay names are unique across the deployment, as
 * EventBridge's are in an account (DescribeReplay and CancelReplay name a replay by its name alone).
 */
async function replayElsewhere(host: BusHost, name: string, except: string): Promise<boolean> {
  for (const { name: other } of host.list()) {
    if (other === except) continue;
    const bus = await host.get(other);
    if (bus === undefined) continue;
    const answer = await bus.app({
      method: 'GET',
      path: `/replays/${encodeURIComponent(name)}`,
      query: new URLSearchParams(),
      headers: {},
      body: new Uint8Array(),
    });
    if (answer.status === 200) return true;
  }
  return false;
}

/** Refuses `POST /replays` (on `bus`) naming a replay another bus has (409 ReplayExists); lets the rest through. */
async function checkReplayName(host: BusHost, request: ApiRequest, bus: string): Promise<void> {
  let name: unknown;
  try {
    // Parsed once for both readers: the bus's app reads the same body (lib/server/body.ts).
    name = (bodyJson(request.body) as { name?: unknown } | null)?.name;
  } catch {
    return; // the bus answers the bad body itself
  }
  if (typeof name !== 'string' || !(await replayElsewhere(host, name, bus))) return;
  throw new JunctionError(
    'ReplayExists',
    `a replay named "${name}" exists on another bus; replay names are unique across the deployment (as EventBridge's are in an account): choose another name`,
    { field: 'name' },
  );
}

/**
 * The API of a deployment with named buses: `/buses` (list), `/buses/{name}` (create, change, describe, delete),
 * `/buses/{name}/…` (the bus's own API), EventBridge calls routed by `EventBusName`, and every other path on the
 * default bus.
 */
export function createBusesApp(host: BusHost, onError: (error: unknown) => void): App {
  async function onBus(name: string, request: ApiRequest, path: string): Promise<ApiResponse> {
    const bus = await host.get(name);
    if (bus === undefined) throw notFound(name);
    return bus.app({ ...request, path });
  }

  async function buses(request: ApiRequest, parts: string[]): Promise<ApiResponse> {
    const { method } = request;
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) {
        throw new JunctionError(
          'MethodNotAllowed',
          `${method} is not allowed on ${request.path}; use ${methods.join(' or ')}`,
          { details: { allow: methods } },
        );
      }
    };
    if (parts.length === 1) {
      allow('GET');
      return json(200, { buses: host.list().filter((b) => mayRead(request, b.name)) });
    }
    const name = parts[1] as string;
    if (parts.length === 2) {
      allow('GET', 'PUT', 'DELETE');
      if (method === 'GET') return json(200, host.describe(name));
      if (method === 'DELETE') {
        const force = request.query.get('force');
        if (force !== null && force !== 'true' && force !== 'false') {
          throw invalidRequest(`query parameter force must be true or false, got "${force}"`, 'force');
        }
        await host.delete(name, force === 'true');
        return { status: 204, headers: {}, body: '' };
      }
      const { bus, created } = await host.put(
        name,
        readJsonBody(request.body, () => ({})),
      );
      return json(created ? 201 : 200, bus);
    }
    const rest = request.path
      .split('/')
      .filter((s) => s.length > 0)
      .slice(2);
    if (
      method === 'POST' &&
      rest.length === 1 &&
      rest[0] === 'replays' &&
      host.list().some((b) => b.name === name)
    )
      await checkReplayName(host, request, name);
    return onBus(name, request, `/${rest.join('/')}`);
  }

  return async (request) => {
    try {
      const parts = decodeSegments(request.path);
      if (parts[0] === 'buses') return await buses(request, parts);
      if (parts.length === 1 && parts[0] === 'metrics' && request.method === 'GET') {
        // The series of every bus the caller may read, each labelled with its bus (`/buses/{name}/metrics`: one bus's).
        return {
          status: 200,
          headers: { 'content-type': 'text/plain; version=0.0.4' },
          body: await host.metrics((bus) => mayRead(request, bus)),
        };
      }
      if (parts.length === 0 && request.method === 'POST' && request.headers['x-amz-target'] !== undefined) {
        return await eventBridge(host, request);
      }
      if (request.method === 'POST' && parts.length === 1 && parts[0] === 'replays')
        await checkReplayName(host, request, DEFAULT_BUS);
      return await host.defaultBus.app(request);
    } catch (error) {
      const e = toJunctionError(error);
      if (e.status >= 500 && e.code !== 'BufferUnavailable') onError(error);
      return json(e.status, e.toJSON(), e.code === 'BufferUnavailable' ? { 'retry-after': '1' } : {});
    }
  };
}

/**
 * EventBridge calls: the event-bus operations are answered here; the others go to the bus their `EventBusName`
 * names (the default when none). A PutEvents whose entries name several buses is split, each bus taking its
 * entries, and the answers are put back in the entries' order.
 */
async function eventBridge(host: BusHost, request: ApiRequest): Promise<ApiResponse> {
  const target = String(request.headers['x-amz-target']);
  const operation = target.startsWith('AWSEvents.') ? target.slice(10) : '';
  const awsJson = { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() };
  const fail = (status: number, code: string, message: string) =>
    json(status, awsErrorBody(code, message), awsJson);
  const text = bodyText(request.body);
  const routed = amzBuses(operation, text, () => bodyJson(request.body));
  let body = routed.body;
  if (body === undefined) {
    // Nothing names a bus: the default bus answers, but for the event-bus operations, which are answered here.
    if (
      !/^(Create|Delete|Describe|List|Update)EventBus(es)?$/.test(operation) &&
      !ACROSS_BUSES.has(operation)
    )
      return host.defaultBus.app(request);
    try {
      body = text.trim() === '' ? {} : bodyJson(request.body);
    } catch {
      return host.defaultBus.app(request); // its answer names the JSON error
    }
  }
  const p = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<
    string,
    unknown
  >;
  switch (operation) {
    case 'CreateEventBus': {
      const name = typeof p.Name === 'string' ? p.Name : '';
      if (host.exists(name))
        return fail(400, 'ResourceAlreadyExistsException', `Event bus ${name} already exists.`);
      try {
        const { bus } = await host.put(
          name,
          typeof p.Description === 'string' ? { description: p.Description } : {},
        );
        return json(
          200,
          {
            EventBusArn: bus.arn,
            ...(bus.description === undefined ? {} : { Description: bus.description }),
          },
          awsJson,
        );
      } catch (error) {
        const e = toJunctionError(error);
        if (e.status >= 500) throw e;
        return fail(400, e.code === 'Conflict' ? 'LimitExceededException' : 'ValidationException', e.message);
      }
    }
    case 'DescribeEventBus':
    case 'DeleteEventBus': {
      const name = busNameOf(p.Name) ?? DEFAULT_BUS;
      if (!host.exists(name)) {
        if (operation === 'DeleteEventBus') return json(200, {}, awsJson); // EventBridge: deleting a missing bus succeeds
        return fail(400, 'ResourceNotFoundException', `Event bus ${name} does not exist.`);
      }
      if (operation === 'DescribeEventBus') {
        const bus = host.describe(name);
        return json(
          200,
          {
            Name: bus.name,
            Arn: bus.arn,
            ...(bus.description === undefined ? {} : { Description: bus.description }),
            ...(bus.createdAt === undefined ? {} : { CreationTime: bus.createdAt / 1000 }),
          },
          awsJson,
        );
      }
      try {
        await host.delete(name, true);
        return json(200, {}, awsJson);
      } catch (error) {
        const e = toJunctionError(error);
        if (e.status >= 500) throw e;
        return fail(400, 'ValidationException', e.message);
      }
    }
    case 'ListEventBuses': {
      const prefix = typeof p.NamePrefix === 'string' ? p.NamePrefix : '';
      const listed = host
        .list()
        .filter((b) => b.name.startsWith(prefix) && mayRead(request, b.name))
        .map((b) => ({
          Name: b.name,
          Arn: b.arn,
          ...(b.description === undefined ? {} : { Description: b.description }),
        }));
      return json(200, { EventBuses: listed }, awsJson);
    }
    case 'UpdateEventBus': {
      const name = busNameOf(p.Name) ?? DEFAULT_BUS;
      if (!host.exists(name))
        return fail(400, 'ResourceNotFoundException', `Event bus ${name} does not exist.`);
      for (const field of ['KmsKeyIdentifier', 'DeadLetterConfig'] as const) {
        if (p[field] !== undefined)
          return fail(
            400,
            'ValidationException',
            `${field} is not supported: Junction keeps a bus's data itself`,
          );
      }
      if (p.Description !== undefined && typeof p.Description !== 'string')
        return fail(400, 'ValidationException', 'Description must be a string');
      try {
        const { bus } = await host.put(
          name,
          p.Description === undefined ? {} : { description: p.Description },
          { merge: true },
        );
        return json(
          200,
          {
            Name: bus.name,
            Arn: bus.arn,
            ...(bus.description === undefined ? {} : { Description: bus.description }),
          },
          awsJson,
        );
      } catch (error) {
        const e = toJunctionError(error);
        if (e.status >= 500) throw e;
        return fail(400, 'ValidationException', e.message);
      }
    }
    case 'PutEvents':
      return putEvents(host, request, p, fail);
  }
  // A replay names its bus as its destination; an archive (named as its bus) or a bus ARN name theirs.
  const destination = operation === 'StartReplay' ? (p.Destination as { Arn?: unknown } | null) : undefined;
  const named = busNameOf(p.EventBusName) ?? busNameOf(destination?.Arn) ?? archiveBusOf(operation, p);
  if (named === undefined && ACROSS_BUSES.has(operation))
    return acrossBuses(host, request, operation, p, awsJson);
  const name = named ?? DEFAULT_BUS;
  const bus = await host.get(name);
  if (bus === undefined) {
    if (/^(Describe|Update|Delete)Archive$/.test(operation) || operation === 'ListReplays')
      return fail(400, 'ResourceNotFoundException', `Archive ${name} does not exist.`);
    return fail(400, 'ResourceNotFoundException', `Event bus ${name} does not exist.`);
  }
  if (
    operation === 'StartReplay' &&
    typeof p.ReplayName === 'string' &&
    (await replayElsewhere(host, p.ReplayName, name))
  )
    return fail(400, 'ResourceAlreadyExistsException', `Replay ${p.ReplayName} already exists.`);
  return bus.app(request);
}

/**
 * The operations that may concern every bus when the call names none: the lists merge what each bus the caller may
 * read answers, and a replay (named only by its name) is looked for on each such bus, the default first.
 */
const ACROSS_BUSES = new Set(['ListArchives', 'ListReplays', 'DescribeReplay', 'CancelReplay']);

/**
 * The bus an archive operation names: a bus's one archive is named as the bus (`default` for the default bus), so
 * `ArchiveName` and an archive ARN name the bus; `EventSourceArn` is a bus ARN for CreateArchive and ListArchives.
 */
function archiveBusOf(operation: string, p: Record<string, unknown>): string | undefined {
  if (operation === 'CreateArchive' || operation === 'ListArchives') return busNameOf(p.EventSourceArn);
  if (
    /^(Describe|Update|Delete)Archive$/.test(operation) &&
    typeof p.ArchiveName === 'string' &&
    p.ArchiveName !== ''
  )
    return p.ArchiveName;
  if (typeof p.EventSourceArn === 'string') return archiveNameOfArn(p.EventSourceArn);
  return undefined;
}

async function acrossBuses(
  host: BusHost,
  request: ApiRequest,
  operation: string,
  p: Record<string, unknown>,
  awsJson: Record<string, string>,
): Promise<ApiResponse> {
  const names = [
    DEFAULT_BUS,
    ...host
      .list()
      .map((b) => b.name)
      .filter((n) => n !== DEFAULT_BUS),
  ].filter((n) => mayRead(request, n));
  const answerOf = (answer: ApiResponse) => JSON.parse(answerText(answer)) as Record<string, unknown>;
  if (operation === 'DescribeReplay' || operation === 'CancelReplay') {
    let first: ApiResponse | undefined;
    for (const name of names) {
      const bus = await host.get(name);
      if (bus === undefined) continue;
      const answer = await bus.app(request);
      first ??= answer;
      if (answer.status === 200) return answer;
      const code = String((answerOf(answer) as { __type?: unknown }).__type ?? '');
      if (!code.endsWith('ResourceNotFoundException')) return answer;
    }
    return (
      first ??
      json(
        400,
        awsErrorBody('ResourceNotFoundException', `Replay ${String(p.ReplayName)} does not exist.`),
        awsJson,
      )
    );
  }
  // The lists: each bus answers all it has (no paging), and the merged list is paged here.
  const { Limit: _limit, NextToken: _token, ...filters } = p;
  const sub = { ...request, body: new TextEncoder().encode(JSON.stringify({ ...filters, Limit: 100 })) };
  const member = operation === 'ListArchives' ? 'Archives' : 'Replays';
  const all: Array<Record<string, unknown>> = [];
  for (const name of names) {
    const bus = await host.get(name);
    if (bus === undefined) continue;
    const answer = await bus.app(sub);
    if (answer.status !== 200) return answer;
    all.push(...((answerOf(answer)[member] as Array<Record<string, unknown>> | undefined) ?? []));
  }
  const key = (item: Record<string, unknown>) =>
    operation === 'ListArchives'
      ? String(item.ArchiveName)
      : `${String(item.ReplayName)}\u0000${String(item.EventSourceArn)}`;
  try {
    const { items, nextToken } = page(all, key, p);
    return json(
      200,
      { [member]: items, ...(nextToken === undefined ? {} : { NextToken: nextToken }) },
      awsJson,
    );
  } catch (error) {
    const e = toJunctionError(error);
    return json(400, awsErrorBody('ValidationException', e.message), awsJson);
  }
}

async function putEvents(
  host: BusHost,
  request: ApiRequest,
  p: Record<string, unknown>,
  fail: (status: number, code: string, message: string) => ApiResponse,
): Promise<ApiResponse> {
  const entries = Array.isArray(p.Entries) ? (p.Entries as unknown[]) : undefined;
  if (entries === undefined) return host.defaultBus.app(request);
  const groups = new Map<string, number[]>();
  entries.forEach((entry, i) => {
    const raw =
      typeof entry === 'object' && entry !== null
        ? (entry as Record<string, unknown>).EventBusName
        : undefined;
    const name = busNameOf(raw) ?? DEFAULT_BUS;
    const list = groups.get(name);
    if (list === undefined) groups.set(name, [i]);
    else list.push(i);
  });
  const results: unknown[] = new Array(entries.length);
  let failed = 0;
  for (const [name, indexes] of groups) {
    const bus = await host.get(name);
    if (bus === undefined) {
      for (const i of indexes) {
        results[i] = {
          ErrorCode: 'ResourceNotFoundException',
          ErrorMessage: `Event bus ${name} does not exist.`,
        };
      }
      failed += indexes.length;
      continue;
    }
    const sub =
      groups.size === 1
        ? request
        : {
            ...request,
            body: new TextEncoder().encode(JSON.stringify({ ...p, Entries: indexes.map((i) => entries[i]) })),
          };
    const answer = await bus.app(sub);
    if (groups.size === 1) return answer; // the bus's answer as it is: nothing to put back in order
    if (answer.status !== 200) return fail(answer.status, 'ValidationException', answerText(answer));
    const parsed = JSON.parse(answerText(answer)) as {
      FailedEntryCount: number;
      Entries: unknown[];
    };
    failed += parsed.FailedEntryCount;
    indexes.forEach((i, k) => {
      results[i] = parsed.Entries[k];
    });
  }
  return json(
    200,
    { FailedEntryCount: failed, Entries: results },
    {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': crypto.randomUUID(),
    },
  );
}
