/** The SQLite TraceStore against the shared suite. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { traceStoreSuite } from '../../ports/trace-store.suite.ts';
import { openHarness } from './harness.ts';

traceStoreSuite('SqliteTraceStore', async () => {
  const h = openHarness();
  return { traces: h.stores.traces, cleanup: h.cleanup };
});

test('keeps traces across a reopen of the database', async () => {
  const h = openHarness();
  try {
    await h.stores.traces.record([{ source: 's', id: 'x', at: 1, kind: 'received', detail: { offset: 3 } }]);
    await h.stores.close();
    const again = h.reopen();
    assert.deepEqual(await again.traces.get('s', 'x'), [
      { source: 's', id: 'x', at: 1, kind: 'received', detail: { offset: 3 } },
    ]);
  } finally {
    await h.cleanup();
  }
});
