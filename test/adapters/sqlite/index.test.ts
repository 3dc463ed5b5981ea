/** openSqliteStores: every port on one file, closed together. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openSqliteStores } from '../../../lib/adapters/sqlite/index.ts';
import { makeEvent } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { makeRule } from '../../ports/rule-store.suite.ts';

test('opens every store on one database and closes them together, idempotently', async () => {
  const dir = tempDir('junction-sqlite-index-');
  try {
    const stores = openSqliteStores({ dataDir: dir.path, partitions: 2 });
    assert.equal(stores.log.partitions, 2);
    await stores.rules.put(makeRule('r'));
    await stores.log.append([makeEvent()]);
    await Promise.all([stores.close(), stores.close()]);
    await assert.rejects(stores.log.append([makeEvent()]), { code: 'BufferUnavailable' });
    const again = openSqliteStores({ dataDir: dir.path });
    assert.equal(again.log.partitions, 2);
    assert.equal((await again.rules.list()).length, 1);
    await again.close();
  } finally {
    dir.remove();
  }
});

test('rejects an invalid partition count, naming the field and the value', () => {
  const dir = tempDir('junction-sqlite-index-');
  try {
    assert.throws(() => openSqliteStores({ dataDir: dir.path, partitions: 0 }), {
      code: 'InvalidRequest',
      field: 'partitions',
      message: /got 0/,
    });
  } finally {
    dir.remove();
  }
});
