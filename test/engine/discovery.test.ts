/**
 * The discovery engine (issue #16) on a real SQLite DraftStore: off reads nothing; events are read after `observe`
 * returns, not during it; repeated shapes make no version; its bounds — the queue, the pairs per bus, the versions
 * a draft keeps — hold and are counted; binary data is unreadable; drafts are reloaded and promoted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { SqliteDraftStore } from '../../lib/adapters/sqlite/draft-store.ts';
import { SqliteSchemaStore } from '../../lib/adapters/sqlite/schema-store.ts';
import { type DiscoveryOptions, SchemaDiscovery } from '../../lib/engine/discovery.ts';
import { Metrics } from '../../lib/engine/metrics.ts';
import { Schemas } from '../../lib/engine/schemas.ts';
import { makeEvent } from '../helpers/events.ts';
import { tempDir } from '../helpers/paths.ts';

async function withDiscovery(
  options: Partial<DiscoveryOptions>,
  fn: (
    discovery: SchemaDiscovery,
    more: { metrics: Metrics; reopen: () => Promise<SchemaDiscovery> },
  ) => Promise<void>,
): Promise<void> {
  const dir = tempDir('junction-discovery-engine-');
  const databases: SqliteDatabase[] = [];
  const metrics = new Metrics();
  let now = 1_700_000_000_000;
  const open = async () => {
    const db = new SqliteDatabase({ dataDir: dir.path });
    databases.push(db);
    const clock = { now: () => now++ };
    const schemas = new Schemas({ store: new SqliteSchemaStore(db), metrics, clock });
    await schemas.start();
    const discovery = new SchemaDiscovery({
      store: new SqliteDraftStore(db),
      metrics,
      clock,
      schemas,
      enabled: true,
      ...options,
    });
    await discovery.start();
    return discovery;
  };
  try {
    await fn(await open(), { metrics, reopen: open });
  } finally {
    for (const db of databases) db.close();
    dir.remove();
  }
}

const order = (data: unknown, more: Record<string, unknown> = {}) =>
  makeEvent({ source: '/shop', type: 'com.shop.order.created', data, ...more });

describe('SchemaDiscovery', () => {
  test('off, it reads nothing', async () => {
    await withDiscovery({ enabled: false }, async (discovery) => {
      discovery.observe([order({ total: 1 })]);
      await discovery.settle();
      assert.deepEqual(discovery.list(), []);
    });
  });

  test('reads after observe returns; repeated shapes make no version; a draft is reloaded', async () => {
    await withDiscovery({}, async (discovery, { metrics, reopen }) => {
      discovery.observe([order({ total: 1 }), order({ total: 2 })]);
      assert.deepEqual(discovery.list(), [], 'nothing is read on the caller’s turn');
      await discovery.settle();
      discovery.observe([order({ total: 3 }), order({ total: 4.5 }), order({ total: 5 })]);
      await discovery.settle();
      const [draft] = discovery.list();
      assert.equal(draft?.events, 5);
      assert.equal(draft?.version, 2);
      assert.equal(metrics.value('junction_schema_discovery_events_total', { outcome: 'read' }), 5);
      await discovery.close();
      const again = await reopen();
      assert.deepEqual(again.get('/shop', 'com.shop.order.created').schema, {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { total: { type: 'number' } },
        required: ['total'],
      });
      assert.equal(again.list()[0]?.events, 5);
      // A shape the reloaded draft already accepts makes no version (its fingerprints were not kept).
      again.observe([order({ total: 7 })]);
      await again.settle();
      assert.equal(again.list()[0]?.version, 2);
    });
  });

  test('bounds: the queue, the pairs per bus and the versions kept; binary data is unreadable', async () => {
    await withDiscovery({ limits: { queue: 3, pairs: 2, versions: 2 } }, async (discovery, { metrics }) => {
      discovery.observe(Array.from({ length: 5 }, (_, i) => order({ total: i })));
      await discovery.settle();
      assert.equal(discovery.list()[0]?.events, 3);
      assert.equal(metrics.value('junction_schema_discovery_events_total', { outcome: 'skipped' }), 2);

      discovery.observe([
        makeEvent({ source: '/a', type: 't', data: 1 }),
        makeEvent({ source: '/b', type: 't', data: 1 }),
      ]);
      await discovery.settle();
      assert.deepEqual(
        discovery.list().map((d) => [d.type, d.source]),
        [
          ['com.shop.order.created', '/shop'],
          ['t', '/a'],
        ],
      );
      assert.equal(metrics.value('junction_schema_discovery_events_total', { outcome: 'skipped' }), 3);

      for (const data of [{ a: 1 }, { b: 1 }, { c: 1 }]) {
        discovery.observe([order(data)]);
        await discovery.settle();
      }
      const draft = discovery.get('/shop', 'com.shop.order.created');
      assert.deepEqual(
        draft.versions.map((v) => v.version),
        [3, 4],
      );
      assert.throws(() => discovery.getVersion('/shop', 'com.shop.order.created', '1'), /keeps versions 3-4/);

      await assert.rejects(discovery.promote('/a', 't', { name: 'zz', version: 'x' }), { field: 'version' });
      discovery.observe([makeEvent({ source: '/a', type: 't', data: undefined, data_base64: 'AAE=' })]);
      await discovery.settle();
      assert.equal(metrics.value('junction_schema_discovery_events_total', { outcome: 'unreadable' }), 1);
    });
  });

  test('promotes a version into the registry; bad requests name the field', async () => {
    await withDiscovery({}, async (discovery) => {
      discovery.observe([order({ total: 1 })]);
      await discovery.settle();
      const promoted = await discovery.promote('/shop', 'com.shop.order.created', { name: 'orders' });
      assert.equal(promoted.created, true);
      assert.deepEqual(promoted.schema.binding, { type: 'com.shop.order.created', source: '/shop' });
      assert.equal(promoted.schema.enforcement, 'warn');
      await assert.rejects(discovery.promote('/shop', 'com.shop.order.created', { name: 'x', extra: 1 }), {
        code: 'InvalidRequest',
        field: 'extra',
      });
      await assert.rejects(discovery.promote('/shop', 'com.shop.order.created', { name: 'x', version: 0 }), {
        code: 'InvalidRequest',
        field: 'version',
      });
      await assert.rejects(discovery.promote('/shop', 'com.shop.order.created', []), { field: 'body' });
      await assert.rejects(discovery.promote('/nope', 'x', { name: 'x' }), { code: 'NotFound' });
    });
  });
});
