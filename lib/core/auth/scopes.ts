/** Credentials' scopes, who is calling (a principal) and what each API call needs: pure rules, no I/O. */
import { JunctionError } from '../errors.ts';

/**
 * What a credential may do. `publish`: send events (optionally only with a `source` under a prefix); `read`:
 * read-only management (GET endpoints, traces, metrics, the audit log, pattern tests, simulations); `manage`:
 * everything `read` may, plus rules, functions, redrive, replay and keys. `manage` does not imply `publish`.
 */
export type Scope = 'publish' | 'manage' | 'read';

export const SCOPES: readonly Scope[] = ['publish', 'manage', 'read'];

/** The bus a grant applies to when it names none: the default bus. */
export const DEFAULT_BUS = 'default';

/** In `permits`: any bus (a call any credential of any bus may make, e.g. listing the buses it can see). */
export const ANY_BUS = '*';

/** One permission of a principal. */
export interface Grant {
  readonly scope: Scope;
  /** @default 'default' */
  readonly bus: string;
  /** `publish` only: events whose `source` does not start with this are refused (403). @default none */
  readonly sourcePrefix?: string;
}

/** Who made a request, as the audit log names it. */
export interface Principal {
  /** The key's name, `jwt:<sub>`, or `anonymous` on an open loopback bus. */
  readonly name: string;
  readonly kind: 'key' | 'aws' | 'jwt' | 'anonymous';
  readonly grants: readonly Grant[];
}

/** The principal of an open bus (loopback, no credentials): may do everything. */
export const ANONYMOUS: Principal = {
  name: 'anonymous',
  kind: 'anonymous',
  grants: SCOPES.map((scope) => ({ scope, bus: DEFAULT_BUS })),
};

/** What a call needs: `public` (no credential), `any` (any credential), or a scope. */
export type Need = 'public' | 'any' | Scope;

/** Names are what `keys create` accepts: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/**
 * What `method` on the path (decoded segments) needs. Ingest (`POST /events`, `PutEvents`) needs `publish`; GETs
 * need `read` except `/` and `/healthz` (public); pattern tests (`TestEventPattern` too) need any credential;
 * simulations (they deliver nothing), `GET /audit` and EventBridge's `List*`/`Describe*` need `read`; every other
 * call (EventBridge's `PutRule`, `PutTargets`, `StartReplay`, …), and everything under `/keys`, needs `manage`.
 */
export function needOf(method: string, parts: readonly string[], amzTarget: string | undefined): Need {
  const [head, , third] = parts;
  const read = method === 'GET' || method === 'HEAD';
  if (parts.length === 0) {
    if (method === 'POST' && amzTarget !== undefined) {
      if (amzTarget === 'AWSEvents.PutEvents') return 'publish';
      if (amzTarget === 'AWSEvents.TestEventPattern') return 'any';
      return /^AWSEvents\.(List|Describe)[A-Za-z]+$/.test(amzTarget) ? 'read' : 'manage';
    }
    return read ? 'public' : 'manage';
  }
  if (head === 'keys') return 'manage';
  if (head === 'healthz' && parts.length === 1 && read) return 'public';
  if (head === 'events' && parts.length === 1 && method === 'POST') return 'publish';
  if (head === 'patterns' && method === 'POST') return 'any';
  if (head === 'targets' && parts.length === 2 && method === 'POST') return 'any';
  if (head === 'rules' && parts.length === 3 && third === 'simulate' && method === 'POST') return 'read';
  return read ? 'read' : 'manage';
}

/**
 * What a call needs, and on which buses (issue #13). `/buses/{name}/…` needs on `name` what the same call needs on
 * the default bus; `GET /buses/{name}` needs `read` there; creating, changing and deleting buses, and everything
 * under `/keys` and `/audit`, needs `manage` on the default bus (its managers administer the deployment); `GET
 * /buses` needs any credential (it lists the buses the caller may read). An EventBridge call needs its scope on
 * every bus it names (`amzBuses`, the default when none), and `Create`/`Delete`/`UpdateEventBus` need `manage` on
 * the default bus.
 */
export function busNeedsOf(
  method: string,
  parts: readonly string[],
  amzTarget: string | undefined,
  amzBuses: ReadonlySet<string> | undefined,
): { need: Need; buses: readonly string[] } {
  const [head, second] = parts;
  if (head === 'buses') {
    if (parts.length === 1)
      return { need: method === 'GET' || method === 'HEAD' ? 'any' : 'manage', buses: [ANY_BUS] };
    if (parts.length === 2) {
      return method === 'GET' || method === 'HEAD'
        ? { need: 'read', buses: [second as string] }
        : { need: 'manage', buses: [DEFAULT_BUS] };
    }
    const rest = parts.slice(2);
    // A bus has no keys or audit of its own (they are the deployment's): such paths are refused as management.
    if (rest[0] === 'keys' || rest[0] === 'audit') return { need: 'manage', buses: [DEFAULT_BUS] };
    // A named bus's health (its rule and event counts) is its own: `read` there, not public as the server's is.
    const need = needOf(method, rest, amzTarget);
    return { need: need === 'public' ? 'read' : need, buses: [second as string] };
  }
  const need = needOf(method, parts, amzTarget);
  if (parts.length === 0 && method === 'POST' && amzTarget !== undefined) {
    if (/^AWSEvents\.(Create|Delete|Update)EventBus$/.test(amzTarget))
      return { need: 'manage', buses: [DEFAULT_BUS] };
    if (amzTarget === 'AWSEvents.ListEventBuses') return { need: 'any', buses: [ANY_BUS] };
    return { need, buses: amzBuses === undefined ? [] : [...amzBuses] };
  }
  return { need, buses: [DEFAULT_BUS] };
}

/** Whether the principal may make a call that needs `need` on `bus` (`ANY_BUS`: on some bus). */
export function permits(principal: Principal, need: Need, bus = DEFAULT_BUS): boolean {
  if (need === 'public') return true;
  const grants = bus === ANY_BUS ? principal.grants : principal.grants.filter((g) => g.bus === bus);
  if (need === 'any') return grants.length > 0;
  if (need === 'read') return grants.some((g) => g.scope === 'read' || g.scope === 'manage');
  return grants.some((g) => g.scope === need);
}

/**
 * Whether the principal may publish an event with this `source` (EventBridge's `events:source` condition):
 * answers a 403 error naming the field, or undefined.
 */
export function checkSource(
  principal: Principal,
  source: string,
  bus = DEFAULT_BUS,
): JunctionError | undefined {
  const publish = principal.grants.filter((g) => g.bus === bus && g.scope === 'publish');
  if (publish.some((g) => g.sourcePrefix === undefined || source.startsWith(g.sourcePrefix)))
    return undefined;
  const prefixes = publish.map((g) => JSON.stringify(g.sourcePrefix)).join(', ');
  return new JunctionError(
    'Forbidden',
    publish.length === 0
      ? `${principal.name} may not publish events`
      : `${principal.name} may publish only events whose source starts with ${prefixes}; got ${JSON.stringify(source)}`,
    { field: 'source' },
  );
}

/** A message for a refused call: which scope it needed, and on which bus. */
export function forbidden(
  principal: Principal,
  need: Need,
  method: string,
  path: string,
  bus = DEFAULT_BUS,
): JunctionError {
  const wanted = need === 'read' ? 'read or manage' : need;
  const where = bus === DEFAULT_BUS ? '' : bus === ANY_BUS ? ' on some bus' : ` on the bus ${bus}`;
  return new JunctionError(
    'Forbidden',
    `${principal.name} may not ${method} ${path}: it needs the ${wanted} scope${where}`,
    { details: { needs: need, ...(bus === DEFAULT_BUS ? {} : { bus }) } },
  );
}
