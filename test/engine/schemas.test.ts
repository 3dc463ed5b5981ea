import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { SqliteSchemaStore } from '../../lib/adapters/sqlite/schema-store.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import { Schemas } from '../../lib/engine/schemas.ts';
import type { TraceEntry } from '../../lib/ports.ts';
import { makeEvent } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';

async function withSchemas(
  fn: (
    schemas: Schemas,
    more: { traces: TraceEntry[]; metrics: Metrics; reopen: () => Promise<Schemas> },
  ) => Promise<void>,
  limits?: { schemas?: number; versions?: number },
): Promise<void> {
  const dir = tempDir('junction-schemas-engine-');
  const databases: SqliteDatabase[] = [];
  const traces: TraceEntry[] = [];
  const metrics = new Metrics();
  const open = async () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    const schemas = new Schemas({
      store: new SqliteSchemaStore(db),
      metrics,
      clock: { now: () => 1_700_000_000_000 },
      traces: { record: async (entries: readonly TraceEntry[]) => void traces.push(...entries) },
      ...(limits === undefined ? {} : { limits }),
    });
    await schemas.start();
    return schemas;
  };
  try {
    await fn(await open(), { traces, metrics, reopen: open });
  } finally {
    for (const db of databases) db.close();
    dir.remove();
  }
}

const body = (n: number, more: Record<string, unknown> = {}) => ({
  schema: {
    type: 'object',
    properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { type: 'string' }])),
  },
  binding: { type: 'com.x' },
  ...more,
});

async function refusal(promise: Promise<unknown>): Promise<JunctionError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('Schemas (engine)', () => {
  test('bounds the schemas of a bus and the versions of a schema', async () => {
    await withSchemas(
      async (schemas) => {
        await schemas.put('a', body(1));
        await schemas.put('a', body(2));
        await schemas.put('a', body(3));
        const versions = await refusal(schemas.put('a', body(4)));
        assert.equal(versions.code, 'Conflict');
        assert.match(versions.message, /3 versions/);
        await schemas.put('b', body(1, { binding: { type: 'com.y' } }));
        const many = await refusal(schemas.put('c', body(1, { binding: { type: 'com.z' } })));
        assert.equal(many.code, 'Conflict');
        assert.match(many.message, /2 schemas/);
      },
      { schemas: 2, versions: 3 },
    );
  });

  test('concurrent registrations get distinct versions, and the registry reloads as stored', async () => {
    await withSchemas(async (schemas, { reopen }) => {
      await schemas.put('a', body(1));
      const results = await Promise.all([2, 3, 4, 5].map((n) => schemas.put('a', body(n))));
      // One write at a time, in call order: each gets the next version.
      assert.deepEqual(
        results.map((r) => r.version),
        [2, 3, 4, 5],
      );
      const again = await reopen();
      assert.equal(again.get('a').latest, 5);
      assert.deepEqual(again.getVersion('a', '3').schema, body(3).schema);
    });
  });

  test('checks by type, the longest source prefix first; warn traces and counts; off skips', async () => {
    await withSchemas(async (schemas, { traces, metrics }) => {
      await schemas.put('wide', { schema: { type: 'object', required: ['a'] }, binding: { type: 't' } });
      await schemas.put('narrow', {
        schema: { type: 'object', required: ['b'] },
        binding: { type: 't', source: '/shop/eu' },
        enforcement: 'warn',
      });
      const [general, specific, other] = schemas.check([
        makeEvent({ type: 't', source: '/shop/us', data: { b: 1 } }),
        makeEvent({ id: 'w', type: 't', source: '/shop/eu/1', data: { a: 1 } }),
        makeEvent({ type: 'u', source: '/shop/eu/1', data: {} }),
      ]);
      assert.equal(general?.code, 'SchemaViolation');
      assert.equal(general?.details?.schema, 'wide');
      assert.equal(specific, undefined);
      assert.equal(other, undefined);
      assert.deepEqual(
        traces.map((t) => [t.id, t.kind, t.detail?.schema]),
        [['w', 'schema-violation', 'narrow']],
      );
      assert.equal(
        metrics.value('junction_schema_violations_total', { schema: 'narrow', enforcement: 'warn' }),
        1,
      );
      assert.equal(
        metrics.value('junction_schema_violations_total', { schema: 'wide', enforcement: 'reject' }),
        1,
      );
      await schemas.put('wide', {
        schema: { type: 'object', required: ['a'] },
        binding: { type: 't' },
        enforcement: 'off',
      });
      assert.deepEqual(schemas.check([makeEvent({ type: 't', source: '/x', data: {} })]), [undefined]);
    });
  });
  test('refresh picks up what another process sharing the store registered, deleted and registered again', async () => {
    await withSchemas(async (a, { reopen }) => {
      const b = await reopen();
      const needs = (type: string) => ({
        schema: { type: 'object', properties: { n: { type } }, required: ['n'] },
        binding: { type: 'com.shared' },
        enforcement: 'reject',
      });
      const event = (n: unknown) => makeEvent({ type: 'com.shared', data: { n } });
      await a.put('shared', needs('string'));
      assert.deepEqual(b.check([event(1)]), [undefined], 'b has not seen the schema yet');
      await b.refresh();
      assert.equal(b.check([event(1)])[0]?.code, 'SchemaViolation');
      assert.equal(b.check([event('x')])[0], undefined);
      // Version 1 again, another schema: b compiles it anew rather than keep the old checker.
      await a.delete('shared');
      await a.put('shared', needs('number'));
      await b.refresh();
      assert.equal(b.get('shared').latest, 1);
      assert.equal(b.check([event(1)])[0], undefined);
      assert.equal(b.check([event('x')])[0]?.code, 'SchemaViolation');
      await a.delete('shared');
      await b.refresh();
      assert.deepEqual(b.list(), []);
      assert.deepEqual(b.check([event('x')]), [undefined]);
    });
  });
});
