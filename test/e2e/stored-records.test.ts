/**
 * The router matches a row the SQLite log marked on its stored text (attributes and data span) and builds the event
 * only when a rule matched; a row without the mark, or with a mark that does not fit its text, is matched on the event
 * the codec's full check reads (docs/security.md, "Stored records"). Rows are written into the bus's log file by
 * another connection, so that the bus has none of them in memory and reads them back as rows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SqliteDatabase } from '../../lib/adapters/sqlite/database.ts';
import { parseEventJson, serializeStoredEvent } from '../../lib/core/cloudevent.ts';
import { request, startTestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';

const SOURCE = '/stored';
const text = (id: string, data: string, more = '') =>
  `{"specversion":"1.0","id":"${id}","source":"${SOURCE}","type":"t"${more},"data":${data}}`;

describe('routing rows read back from the SQLite log', () => {
  it('matches a marked row on its stored text, and a row without the mark or with a forged one on the checked event', async () => {
    const dir = tempDir('junction-stored-');
    const bus = await startTestBus({ dataDir: dir.path, partitions: 1 });
    const target = await startHttpTarget();
    const db = new SqliteDatabase({ dataDir: dir.path });
    try {
      for (const [name, pattern] of [
        ['a-one', { data: { a: [1] } }],
        ['data-two', { data: [2] }],
      ] as const) {
        const put = await request(bus.url, 'PUT', `/rules/${name}`, {
          pattern,
          targets: [{ id: name, type: 'http', url: `${target.url}/${name}` }],
        });
        assert.equal(put.status, 201, JSON.stringify(put.body));
      }
      const cause = ',"causationid":"c-1","causationsource":"/cause"';
      const marked = serializeStoredEvent(parseEventJson(text('marked', '{"a":1,"b":[2]}', cause)));
      const markedNone = serializeStoredEvent(parseEventJson(text('marked-none', '{"a":3}', cause)));
      // A span on the member named data inside the data: read by that span, the data would be 2 (rule data-two).
      const forged = text('forged', '{"a":1,"data":2}');
      const inner = forged.lastIndexOf(',"data":2') + 8;
      const rows: [string, string, number | null, number | null][] = [
        ['marked', marked.text, marked.dataAt, marked.dataEnd],
        ['marked-none', markedNone.text, markedNone.dataAt, markedNone.dataEnd],
        ['forged', forged, inner, inner + 1],
        ['unmarked', text('unmarked', '{"a":1}'), null, null],
        ['nothing', text('nothing', '{"a":3}'), null, null],
      ];
      const start = Number(db.get('SELECT next_offset FROM log_partitions WHERE partition = 0')?.next_offset);
      rows.forEach(([id, event, dataAt, dataEnd], i) => {
        db.run(
          'INSERT INTO log_records (partition, offset, key, timestamp, event, data_at, data_end) VALUES (0, ?, ?, ?, ?, ?, ?)',
          start + i,
          id,
          Date.now(),
          event,
          dataAt,
          dataEnd,
        );
      });
      db.run('UPDATE log_partitions SET next_offset = ? WHERE partition = 0', start + rows.length);

      // Each row is routed once (its 'received' trace); the routing decision is in the same batch as that trace.
      const traces = new Map<string, Awaited<ReturnType<typeof traceOf>>>();
      await waitFor(
        async () => {
          for (const [id] of rows) traces.set(id, await traceOf(bus, id, SOURCE));
          return rows.every(([id]) => traces.get(id)?.some((t) => t.kind === 'received'));
        },
        'every row routed',
        60_000,
      );
      const matched = (id: string) =>
        (traces.get(id) ?? [])
          .filter((t) => t.kind === 'matched')
          .map((t) => t.rule)
          .sort();
      assert.deepEqual(matched('marked'), ['a-one'], 'the marked row, matched on its stored text');
      assert.deepEqual(
        matched('forged'),
        ['a-one'],
        'the forged span is not trusted: the checked event is matched',
      );
      assert.deepEqual(matched('unmarked'), ['a-one']);
      assert.deepEqual(matched('nothing'), []);
      assert.deepEqual(matched('marked-none'), []);
      for (const id of ['nothing', 'marked-none']) {
        assert.ok(
          traces.get(id)?.some((t) => t.kind === 'unmatched'),
          `${id}: unmatched`,
        );
      }
      // The traces of a record matched on its stored text read its stored attributes.
      for (const id of ['marked', 'marked-none']) {
        const received = traces.get(id)?.find((t) => t.kind === 'received');
        assert.deepEqual(received?.detail.causedBy, { source: '/cause', id: 'c-1' }, id);
        assert.equal(received?.detail.partition, 0);
      }
      await waitFor(() => target.received.length >= 3, 'the three deliveries', 60_000);
      assert.deepEqual(target.received.map((r) => r.url).sort(), ['/a-one', '/a-one', '/a-one']);
      const delivered = target.received.map((r) => r.headers['ce-id']).sort();
      assert.deepEqual(delivered, ['forged', 'marked', 'unmarked']);
    } finally {
      db.close();
      await target.close();
      await bus.stop();
      dir.remove();
    }
  });
});
