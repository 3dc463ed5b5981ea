/**
 * The postgres target driver (lib/adapters/postgres/sink.ts) against a real PostgreSQL: the statement it builds, a
 * delivery repeated with the same key (a retry after a lost answer, or a crash after the insert) writing one row,
 * retriable and permanent failures, the address guard before connecting, pools closed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createPostgresTargetDriver, insertStatement } from '../../../lib/adapters/postgres/sink.ts';
import { validateEvent } from '../../../lib/core/cloudevent.ts';
import { createAddressPolicy } from '../../../lib/core/net/address-policy.ts';
import { validateRule } from '../../../lib/core/rule.ts';
import type { PostgresTarget, Rule } from '../../../lib/core/rule-types.ts';
import type { DeliveryRequest } from '../../../lib/ports.ts';
import { postgresSkip, startPostgres, type TestPostgres } from '../../helpers/postgres.ts';

function ruleWith(target: Record<string, unknown>): Rule {
  return validateRule('r', { pattern: { type: ['t'] }, targets: [target] }, 0);
}

function requestFor(rule: Rule, id: string, data: unknown): DeliveryRequest {
  return {
    rule,
    target: rule.targets[0] as PostgresTarget,
    event: validateEvent({ specversion: '1.0', id, source: '/s', type: 't', data }),
    idempotencyKey: `/s#${id}`,
    attempt: 1,
    possibleDuplicate: false,
    timeoutMs: 10_000,
  };
}

test('the statement: quoted identifiers, the key column last, ON CONFLICT per key or upsert', () => {
  const base = {
    id: 't',
    type: 'postgres',
    connection: 'postgres://u@127.0.0.1/db',
    columns: { a: '$.id', b: '$' },
  };
  const keyed = ruleWith({ ...base, table: 'app.items', key: 'k' }).targets[0] as PostgresTarget;
  assert.equal(
    insertStatement(keyed).text,
    'INSERT INTO "app"."items" ("a", "b", "k") VALUES ($1, $2, $3) ON CONFLICT ("k") DO NOTHING',
  );
  const upsert = ruleWith({ ...base, table: 'items', upsert: ['a'] }).targets[0] as PostgresTarget;
  assert.equal(
    insertStatement(upsert).text,
    'INSERT INTO "items" ("a", "b") VALUES ($1, $2) ON CONFLICT ("a") DO UPDATE SET "b" = EXCLUDED."b"',
  );
  const plain = ruleWith({ ...base, table: 'items' }).targets[0] as PostgresTarget;
  assert.equal(insertStatement(plain).text, 'INSERT INTO "items" ("a", "b") VALUES ($1, $2)');
});

describe('the postgres target driver', { skip: postgresSkip }, () => {
  let db: TestPostgres;
  const driver = createPostgresTargetDriver({ idleMs: 200 });
  before(async () => {
    db = await startPostgres();
    await db.query('CREATE TABLE items (k text UNIQUE, id text, n int, doc jsonb)');
  });
  after(async () => {
    await driver.close?.();
    await db?.stop();
  });

  test('a delivery repeated with the same key writes one row', async () => {
    const rule = ruleWith({
      id: 'table',
      type: 'postgres',
      connection: db.url,
      table: 'items',
      columns: { id: '$.id', n: '$.data.n', doc: '$.data' },
      key: 'k',
    });
    const request = requestFor(rule, 'e-1', { n: 7, nested: { x: [1, 2] } });
    const first = await driver.deliver(request);
    assert.deepEqual(first, { ok: true, status: 1 });
    const second = await driver.deliver({ ...request, attempt: 2, possibleDuplicate: true });
    assert.deepEqual(second, { ok: true, status: 0 }, 'the insert found its key: nothing written');
    const rows = (await db.query('SELECT * FROM items')).rows;
    assert.deepEqual(rows, [{ k: 'r/table//s#e-1', id: 'e-1', n: 7, doc: { n: 7, nested: { x: [1, 2] } } }]);
    // A missing path is NULL.
    await driver.deliver(requestFor(rule, 'e-2', {}));
    assert.equal((await db.query("SELECT n FROM items WHERE id = 'e-2'")).rows[0]?.n, null);
  });

  test('data errors are permanent, a missing table or an unreachable server retriable', async () => {
    const bad = ruleWith({
      id: 't',
      type: 'postgres',
      connection: db.url,
      table: 'items',
      columns: { n: '$.data' },
    });
    const refused = await driver.deliver(requestFor(bad, 'x', 'not a number'));
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.retriable, false);
    assert.match(!refused.ok ? refused.error : '', /^postgres 22P02 /);
    const missing = ruleWith({
      id: 't',
      type: 'postgres',
      connection: db.url,
      table: 'nope',
      columns: { n: '$.id' },
    });
    const later = await driver.deliver(requestFor(missing, 'y', {}));
    assert.equal(!later.ok && later.retriable, true, 'the table may be created before the retries run out');
    const down = ruleWith({
      id: 't',
      type: 'postgres',
      connection: `postgres://u:p@127.0.0.1:1/db`,
      table: 'items',
      columns: { n: '$.id' },
    });
    const unreachable = await driver.deliver(requestFor(down, 'z', {}));
    assert.equal(!unreachable.ok && unreachable.retriable, true);
    assert.ok(!(!unreachable.ok && unreachable.error.includes(':p@')), 'no password in the error');
  });

  test('a host the address policy refuses is never connected to, and idle pools close', async () => {
    const guarded = createPostgresTargetDriver({
      addressPolicy: createAddressPolicy({ allowLoopback: false }),
    });
    const rule = ruleWith({
      id: 't',
      type: 'postgres',
      connection: db.url,
      table: 'items',
      columns: { id: '$.id' },
    });
    const result = await guarded.deliver(requestFor(rule, 'g', {}));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.retriable, false);
    assert.match(!result.ok ? result.error : '', /loopback address, which targets may not reach/);
    assert.equal(guarded.pools(), 0);
    await guarded.close?.();
    const deadline = Date.now() + 60_000;
    while (driver.pools() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(driver.pools(), 0, 'the pools closed after idleMs');
  });
});
