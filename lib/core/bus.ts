/**
 * Named event buses (issue #13): a bus's name and settings as `PUT /buses/{name}` takes them. Pure rules, no I/O.
 * Every bus has its own rules, functions, deliveries, dead letters, traces and log; the settings here are what an
 * operator sets per bus (quotas, retention, the dedup window).
 */
import { JunctionError } from './errors.ts';
import { show } from './values.ts';

/** The bus every deployment has; it cannot be deleted, and the paths without `/buses/{name}` serve it. */
export const DEFAULT_BUS = 'default';

/** Bus names: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit (as rule and key names). */
export const BUS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Most buses one deployment holds, the default included (EventBridge's default quota is 100 per account). */
export const MAX_BUSES = 100;

/** A bus-wide or per-source ingest quota: a token bucket. */
export interface BusQuota {
  /** Sustained events per second. */
  readonly eventsPerSecond: number;
  /** Events accepted at once after an idle spell. @default eventsPerSecond */
  readonly burst?: number;
}

/** A bus as stored and as `GET /buses/{name}` shows it. */
export interface BusSpec {
  readonly name: string;
  readonly description?: string;
  /** All the bus's publishers together: over it, events are refused with 429 (`RateLimited`). @default none */
  readonly quota?: BusQuota;
  /** Each source of the bus on its own (as the deployment's `--quota-per-source`). @default the deployment's */
  readonly sourceQuota?: BusQuota;
  /** How long the bus's log, traces and finished deliveries are kept. @default the deployment's (7 days) */
  readonly retentionMs?: number;
  /** How long an event id (per source) is remembered for deduplication. @default the deployment's (24 h) */
  readonly dedupWindowMs?: number;
  /**
   * The buses whose rules may forward events here (EventBridge's resource policy on a bus, `PutPermission`): a rule
   * of another bus may target this one when its author may publish here, or when its bus is listed. @default none
   */
  readonly acceptFrom?: readonly string[];
  /**
   * Where the bus runs: `shared` in the deployment's process, beside the other buses; `process` in a bus process of
   * its own (its router, dispatcher and functions' supervision on CPU time of their own), so that a flood on one bus
   * cannot slow another's deliveries. @default 'shared'
   */
  readonly isolation?: BusIsolation;
  /**
   * With `isolation: process`: the bus process also serves the bus's API on this port of the deployment's host (its
   * endpoint, as an Event Grid topic has one), so that its publishers do not pass the deployment's front door at
   * all; authentication as on the front door. @default none (only through the front door)
   */
  readonly port?: number;
  /**
   * With `isolation: process`: the bus process's niceness (0–19, Linux `nice`): above 0 the kernel gives the other
   * buses' processes the CPU first when the machine is busy, so a bus that floods yields to the others. `"idle"`
   * goes further (Linux's `SCHED_IDLE` class, through `chrt`): the process runs only on CPU time no other process
   * wants, and one that wakes takes its core at once. @default 0
   */
  readonly nice?: BusNice;
  readonly createdAt: number;
}

/** A bus process's CPU priority (`BusSpec.nice`): a niceness, or Linux's idle scheduling class. */
export type BusNice = number | 'idle';

/** How a bus shares the deployment's process (`BusSpec.isolation`). */
export type BusIsolation = 'shared' | 'process';

const KEYS = new Set([
  'name',
  'description',
  'quota',
  'sourceQuota',
  'retentionMs',
  'dedupWindowMs',
  'acceptFrom',
  'isolation',
  'port',
  'nice',
]);
const MINUTE = 60_000;
const DAY = 86_400_000;

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidBus', message, { field });
}

/** Throws `InvalidBus` (400) naming `name` unless it is a valid bus name. */
export function validateBusName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !BUS_NAME.test(name)) {
    throw invalid(
      `a bus name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; got ${show(name)}`,
      field,
    );
  }
  return name;
}

function wholeNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${field} must be a whole number from ${min} to ${max}, got ${show(value)}`, field);
  }
  return value;
}

function quotaOf(value: unknown, field: string): BusQuota {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(
      `${field} must be an object {"eventsPerSecond": n, "burst"?: n}, got ${show(value)}`,
      field,
    );
  }
  const q = value as Record<string, unknown>;
  for (const key of Object.keys(q)) {
    if (key !== 'eventsPerSecond' && key !== 'burst')
      throw invalid(`unknown field ${show(key)}`, `${field}.${key}`);
  }
  const eventsPerSecond = wholeNumber(q.eventsPerSecond, `${field}.eventsPerSecond`, 1, 1_000_000);
  return q.burst === undefined
    ? { eventsPerSecond }
    : { eventsPerSecond, burst: wholeNumber(q.burst, `${field}.burst`, 1, 10_000_000) };
}

function acceptFromOf(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length > MAX_BUSES) {
    throw invalid(
      `acceptFrom must be an array of at most ${MAX_BUSES} bus names, got ${show(value)}`,
      'acceptFrom',
    );
  }
  return Object.freeze(value.map((name, i) => validateBusName(name, `acceptFrom[${i}]`)));
}

function isolationOf(value: unknown): BusIsolation {
  if (value !== 'shared' && value !== 'process') {
    throw invalid(`isolation must be "shared" or "process", got ${show(value)}`, 'isolation');
  }
  return value;
}

function portOf(value: unknown, isolation: unknown): number {
  const port = wholeNumber(value, 'port', 1, 65_535);
  if (isolation !== 'process') {
    throw invalid(
      'port needs "isolation": "process" (a bus in the deployment\'s process is served by its front door)',
      'port',
    );
  }
  return port;
}

function niceOf(value: unknown, isolation: unknown): BusNice {
  if (
    value !== 'idle' &&
    (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 19)
  ) {
    throw invalid(`nice must be a whole number from 0 to 19 or "idle", got ${show(value)}`, 'nice');
  }
  const nice = value as BusNice;
  if (isolation !== 'process') {
    throw invalid('nice needs "isolation": "process" (it is the niceness of the bus\'s own process)', 'nice');
  }
  return nice;
}

/**
 * Validates the body of `PUT /buses/{name}` (every field optional: `{}` creates a bus with the deployment's
 * defaults) and returns the frozen spec. `createdAt` is kept from `previous` on an update.
 */
export function validateBusSpec(name: string, body: unknown, now: number, previous?: BusSpec): BusSpec {
  validateBusName(name);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid(`a bus must be a JSON object, got ${show(body)}`, '');
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!KEYS.has(key)) throw invalid(`unknown bus field ${show(key)}`, key);
  }
  if (b.name !== undefined && b.name !== name) {
    throw invalid(
      `name in the body (${show(b.name)}) differs from the name in the path (${show(name)})`,
      'name',
    );
  }
  if (b.description !== undefined && (typeof b.description !== 'string' || b.description.length > 512)) {
    throw invalid(
      `description must be a string of at most 512 characters, got ${show(b.description)}`,
      'description',
    );
  }
  return Object.freeze({
    name,
    ...(b.description === undefined ? {} : { description: b.description as string }),
    ...(b.quota === undefined ? {} : { quota: quotaOf(b.quota, 'quota') }),
    ...(b.sourceQuota === undefined ? {} : { sourceQuota: quotaOf(b.sourceQuota, 'sourceQuota') }),
    ...(b.retentionMs === undefined
      ? {}
      : { retentionMs: wholeNumber(b.retentionMs, 'retentionMs', MINUTE, 3650 * DAY) }),
    ...(b.dedupWindowMs === undefined
      ? {}
      : { dedupWindowMs: wholeNumber(b.dedupWindowMs, 'dedupWindowMs', 1000, 30 * DAY) }),
    ...(b.acceptFrom === undefined ? {} : { acceptFrom: acceptFromOf(b.acceptFrom) }),
    ...(b.isolation === undefined || b.isolation === 'shared' ? {} : { isolation: isolationOf(b.isolation) }),
    ...(b.port === undefined ? {} : { port: portOf(b.port, b.isolation) }),
    ...(b.nice === undefined || b.nice === 0 ? {} : { nice: niceOf(b.nice, b.isolation) }),
    createdAt: previous?.createdAt ?? now,
  });
}
