/**
 * The `postgres` target (issue #18, the PostgreSQL sink): one row per delivered event, each column from a JSON path
 * into the event as delivered. With `key`, the row carries the delivery's key in that column and an insert that
 * finds it there already does nothing (`ON CONFLICT (key) DO NOTHING`: the column needs a unique constraint), so a
 * retry, a redrive or a replay writes the row once; with `upsert`, a row with the same values in those columns (a
 * unique constraint) is updated. Together with an `exactly-once` target, the table sees each event's effect once.
 *
 * Connections: a pool per connection string (at most the target's concurrency, 4 by default, closed after 30 s
 * idle). The host is resolved and checked against the bus's outbound address policy before the pool connects (the
 * same SSRF guard as HTTP targets and connectors), and the pool connects to the address that was checked.
 */
import { lookup } from 'node:dns/promises';
import pg from 'pg';
import { serializeEvent } from '../../core/cloudevent.ts';
import { type PostgresConnection, parsePostgresConnection } from '../../core/connector.ts';
import { type AddressPolicy, parseAddress } from '../../core/net/address-policy.ts';
import type { PostgresTarget } from '../../core/rule-types.ts';
import { parseJsonPath, resolvePath, type Step } from '../../core/transform.ts';
import type { DeliveryRequest, DeliveryResult, TargetDriver } from '../../ports.ts';
import { pgClientConfig } from './client.ts';

export interface PostgresSinkOptions {
  /** The bus's outbound address policy; a host it refuses fails the delivery (not retried). @default allow all */
  readonly addressPolicy?: AddressPolicy;
  /** How long an idle pool is kept. @default 30000 */
  readonly idleMs?: number;
}

interface Statement {
  readonly text: string;
  readonly paths: ReadonlyArray<readonly Step[]>;
}

/** SQLSTATE classes a retry cannot fix: data exceptions (22) and integrity constraint violations (23). */
const PERMANENT = /^2[23]/;

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** The INSERT of a target: its columns, then the key column; ON CONFLICT per `key` or `upsert`. */
export function insertStatement(target: PostgresTarget): Statement {
  const columns = Object.keys(target.columns);
  const names = [...columns, ...(target.key === undefined ? [] : [target.key])];
  const table = target.table.split('.').map(quote).join('.');
  let text = `INSERT INTO ${table} (${names.map(quote).join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`;
  if (target.key !== undefined) text += ` ON CONFLICT (${quote(target.key)}) DO NOTHING`;
  else if (target.upsert !== undefined) {
    const rest = columns.filter((c) => !target.upsert?.includes(c));
    text += ` ON CONFLICT (${target.upsert.map(quote).join(', ')}) DO ${
      rest.length === 0
        ? 'NOTHING'
        : `UPDATE SET ${rest.map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`).join(', ')}`
    }`;
  }
  return { text, paths: columns.map((c) => parseJsonPath(target.columns[c] as string)) };
}

/** A column's value: strings, numbers and booleans as they are, objects and arrays as JSON text, nothing as NULL. */
function columnValue(value: unknown): string | number | boolean | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

export function createPostgresTargetDriver(options: PostgresSinkOptions = {}): TargetDriver & {
  /** Pools open now (for tests). */
  readonly pools: () => number;
} {
  const pools = new Map<string, { pool: pg.Pool; idle: NodeJS.Timeout | undefined; busy: number }>();
  const statements = new WeakMap<PostgresTarget, Statement>();
  const idleMs = options.idleMs ?? 30_000;

  async function checkedHost(c: PostgresConnection): Promise<string> {
    const policy = options.addressPolicy;
    if (policy === undefined) return c.host;
    const addresses =
      parseAddress(c.host) === undefined ? await lookup(c.host, { all: true }) : [{ address: c.host }];
    for (const { address } of addresses) {
      const verdict = policy(address);
      if (!verdict.allowed) {
        throw Object.assign(
          new Error(
            `host ${c.host} is a ${verdict.range} address, which targets may not reach (allow it with httpTargets.allow in the bus configuration)`,
          ),
          { permanent: true },
        );
      }
    }
    return (addresses[0] as { address: string }).address;
  }

  async function poolFor(target: PostgresTarget) {
    let entry = pools.get(target.connection);
    if (entry === undefined) {
      const c = parsePostgresConnection(target.connection);
      const host = await checkedHost(c);
      entry = pools.get(target.connection);
      if (entry === undefined) {
        const pool = new pg.Pool({
          ...pgClientConfig(c, 'junction-sink', host),
          max: Math.min(16, Math.max(1, target.concurrency ?? 4)),
          idleTimeoutMillis: idleMs,
        });
        // An idle client's error (the server went away) must not take the process down: the next query reconnects.
        pool.on('error', () => {});
        entry = { pool, idle: undefined, busy: 0 };
        pools.set(target.connection, entry);
      }
    }
    if (entry.idle !== undefined) clearTimeout(entry.idle);
    entry.idle = undefined;
    return entry;
  }

  function release(connection: string): void {
    const entry = pools.get(connection);
    if (entry === undefined || entry.busy > 0) return;
    entry.idle = setTimeout(() => {
      if (pools.get(connection) === entry && entry.busy === 0) {
        pools.delete(connection);
        void entry.pool.end().catch(() => {});
      }
    }, idleMs);
    entry.idle.unref();
  }

  return {
    pools: () => pools.size,
    async deliver(request: DeliveryRequest): Promise<DeliveryResult> {
      const target = request.target;
      if (target.type !== 'postgres') throw new TypeError(`postgres driver got a ${target.type} target`);
      let statement = statements.get(target);
      if (statement === undefined) {
        statement = insertStatement(target);
        statements.set(target, statement);
      }
      const event = JSON.parse(serializeEvent(request.event)) as unknown;
      const values = statement.paths.map((steps) => columnValue(resolvePath(event, steps)));
      if (target.key !== undefined) {
        values.push(`${request.rule.name}/${target.id}/${request.idempotencyKey}`);
      }
      let entry: Awaited<ReturnType<typeof poolFor>> | undefined;
      try {
        entry = await poolFor(target);
        entry.busy += 1;
        const result = await entry.pool.query({
          text: statement.text,
          values,
          // node-postgres gives up on the query after this; the server side ends with the connection.
          query_timeout: request.timeoutMs,
        } as pg.QueryConfig);
        return { ok: true, status: result.rowCount ?? 0 };
      } catch (error) {
        const e = error as Error & { code?: string; permanent?: boolean };
        const code = typeof e.code === 'string' ? e.code : undefined;
        const permanent = e.permanent === true || (code !== undefined && PERMANENT.test(code));
        return {
          ok: false,
          retriable: !permanent,
          error: `postgres ${code === undefined ? '' : `${code} `}${e.message}`.slice(0, 1_000),
        };
      } finally {
        if (entry !== undefined) {
          entry.busy -= 1;
          release(target.connection);
        }
      }
    },
    async close() {
      const all = [...pools.values()];
      pools.clear();
      for (const entry of all) if (entry.idle !== undefined) clearTimeout(entry.idle);
      await Promise.all(all.map((entry) => entry.pool.end().catch(() => {})));
    },
  };
}
