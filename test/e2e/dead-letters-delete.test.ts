/**
 * `POST /dead-letters/delete` and `junction dead-letters delete`. Reproduced first: a deleted rule's dead letter could
 * not be removed (a redrive dead-letters it again, with a new id) and a connector's letter neither (a redrive skips
 * it), so such letters stayed for ever. Now they can be deleted: by rule, by id, all, only those older than a time;
 * each event's trace says so; a key an ordered target held for a deleted letter goes on; a large delete pages.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openSqliteStores } from '../../lib/adapters/sqlite/index.ts';
import type { DeadLetter } from '../../lib/ports.ts';
import { publishBinary, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { makeEvent, waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';
import { tempDir } from '../helpers/paths.ts';

const DAY = 86_400_000;

async function letters(bus: TestBus, query = ''): Promise<DeadLetter[]> {
  const res = await request(bus.url, 'GET', `/dead-letters?limit=1000${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.deadLetters;
}

function publish(bus: TestBus, id: string, data: unknown = {}) {
  return publishBinary(
    bus,
    { id, source: '/shop', type: 'order' },
    JSON.stringify(data),
    'application/json',
  ).then((res) => assert.equal(res.status, 202, JSON.stringify(res.body)));
}

/** A rule sending /shop's events to one HTTP target, `web` at `url` (with `target`'s settings). */
async function putRule(bus: TestBus, name: string, url: string, target: Record<string, unknown> = {}) {
  const put = await request(bus.url, 'PUT', `/rules/${name}`, {
    pattern: { source: ['/shop'] },
    targets: [{ id: 'web', type: 'http', url, ...target }],
  });
  assert.equal(put.status, 201, JSON.stringify(put.body));
}

/** A stored letter, as the dispatcher or a connector writes them (for states a test cannot reach quickly). */
function seeded(i: number, rule: string, at: number): DeadLetter {
  const event = makeEvent({ source: '/seeded', id: `seeded-${i}` });
  return {
    dlId: `seeded-${String(i).padStart(3, '0')}`,
    source: event.source,
    id: event.id,
    rule,
    target: 't',
    event,
    reason: 'HTTP 400',
    attempts: [{ at, outcome: 'failed', status: 400, error: 'HTTP 400', latencyMs: 1 }],
    at,
  };
}

describe('deleting dead letters', () => {
  test("a deleted rule's letter: a redrive only dead-letters it again; a delete removes it and traces it", async () => {
    const bus = await startTestBus();
    const web = await startHttpTarget(() => ({ status: 400 }));
    try {
      await putRule(bus, 'gone', web.url);
      await publish(bus, 'order-1');
      await waitFor(async () => (await letters(bus)).length === 1, 'the dead letter', 60_000);
      const [first] = await letters(bus);
      assert.equal((await request(bus.url, 'DELETE', '/rules/gone')).status, 204);

      // The reproduction: a redrive cannot take the letter away, it comes back under a new id.
      const redrive = await request(bus.url, 'POST', '/dead-letters/redrive', { rule: 'gone' });
      assert.deepEqual(redrive.body, { redriven: 1, skipped: 0 });
      await waitFor(
        async () => (await letters(bus)).some((l) => l.dlId !== first?.dlId),
        'the redriven delivery dead-lettered again',
        60_000,
      );
      const [again] = await letters(bus);
      assert.equal((await letters(bus)).length, 1);
      assert.match(again?.reason ?? '', /deleted|no longer|not found/i);

      const deleted = await request(bus.url, 'POST', '/dead-letters/delete', { rule: 'gone' });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.deepEqual(deleted.body, { deleted: 1 });
      assert.deepEqual(await letters(bus), []);
      const trace = await traceOf(bus, 'order-1', '/shop');
      const last = trace.at(-1);
      assert.equal(last?.kind, 'dead-letter-deleted', JSON.stringify(trace));
      assert.deepEqual([last?.rule, last?.target, last?.detail], ['gone', 'web', { dlId: again?.dlId }]);
      const shown = await cli(['trace', 'order-1', '--source', '/shop', '--url', bus.url]);
      assert.equal(shown.code, 0, shown.err);
      assert.match(shown.out, new RegExp(`dead-letter-deleted gone/web dead letter ${again?.dlId}\\n`));
      // Nothing left to delete: an answer, not an error.
      assert.deepEqual((await request(bus.url, 'POST', '/dead-letters/delete', { all: true })).body, {
        deleted: 0,
      });
    } finally {
      await web.close();
      await bus.stop();
    }
  });

  test("a replayed delivery's letter is traced on its event", async () => {
    const bus = await startTestBus();
    const web = await startHttpTarget(() => ({ status: 400 }));
    try {
      await putRule(bus, 'orders', web.url);
      await publish(bus, 'order-r');
      await waitFor(async () => (await letters(bus)).length === 1, 'the dead letter', 60_000);
      const replay = await request(bus.url, 'POST', '/replays', {
        from: 0,
        to: Date.now() + 60_000,
        rule: 'orders',
        name: 'again',
      });
      assert.equal(replay.status, 202, JSON.stringify(replay.body));
      await waitFor(async () => (await letters(bus)).length === 2, "the replay's dead letter", 60_000);
      assert.deepEqual((await letters(bus)).map((l) => l.id).sort(), ['order-r', 'order-r#replay:again']);
      assert.deepEqual((await request(bus.url, 'POST', '/dead-letters/delete', { all: true })).body, {
        deleted: 2,
      });
      const deleted = (await traceOf(bus, 'order-r', '/shop')).filter(
        (e) => e.kind === 'dead-letter-deleted',
      );
      assert.equal(deleted.length, 2, JSON.stringify(deleted));
    } finally {
      await web.close();
      await bus.stop();
    }
  });

  test("by id, by rule and target, only those older than a time, and a connector's letters", async () => {
    const dir = tempDir('junction-dl-delete-');
    const dataDir = join(dir.path, 'data');
    const stores = openSqliteStores({ dataDir });
    const now = Date.now();
    await Promise.all([
      stores.deadLetters.add(seeded(1, 'orders', now - 3 * DAY)),
      stores.deadLetters.add(seeded(2, 'orders', now - 2 * DAY)),
      stores.deadLetters.add(seeded(3, 'orders', now - 1000)),
      stores.deadLetters.add(seeded(4, 'connector/orders-in', now - 2 * DAY)),
      stores.deadLetters.add(seeded(5, 'refunds', now - 2 * DAY)),
      stores.deadLetters.add(seeded(6, 'refunds', now - 1000)),
    ]);
    await stores.close();
    const bus = await startTestBus({ dataDir });
    try {
      // A connector's letter: a redrive skips it (it never became an event); a delete takes it.
      assert.deepEqual(
        (await request(bus.url, 'POST', '/dead-letters/redrive', { ids: ['seeded-004'] })).body,
        { redriven: 0, skipped: 1 },
      );
      assert.deepEqual(
        (await request(bus.url, 'POST', '/dead-letters/delete', { ids: ['seeded-004', 'no-such'] })).body,
        { deleted: 1 },
      );
      // Older than a day (RFC 3339 or epoch ms), of one rule and target.
      const older = await request(bus.url, 'POST', '/dead-letters/delete', {
        rule: 'orders',
        target: 't',
        to: new Date(now - DAY).toISOString(),
      });
      assert.deepEqual(older.body, { deleted: 2 });
      assert.deepEqual((await letters(bus)).map((l) => l.dlId).sort(), [
        'seeded-003',
        'seeded-005',
        'seeded-006',
      ]);
      // Of another target: nothing.
      assert.deepEqual(
        (await request(bus.url, 'POST', '/dead-letters/delete', { rule: 'refunds', target: 'other' })).body,
        { deleted: 0 },
      );
      assert.deepEqual(
        (await request(bus.url, 'POST', '/dead-letters/delete', { all: true, to: now - DAY })).body,
        { deleted: 1 },
      );
      assert.deepEqual((await letters(bus)).map((l) => l.dlId).sort(), ['seeded-003', 'seeded-006']);
      const trace = await traceOf(bus, 'seeded-5', '/seeded');
      assert.equal(trace.at(-1)?.kind, 'dead-letter-deleted');
    } finally {
      await bus.stop();
      dir.remove();
    }
  });

  test('a large delete pages, and the CLI follows the pages to the end', async () => {
    const dir = tempDir('junction-dl-delete-');
    const dataDir = join(dir.path, 'data');
    const stores = openSqliteStores({ dataDir });
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 7 }, (_, i) => stores.deadLetters.add(seeded(i, 'orders', now - 1000 + i))),
    );
    await stores.close();
    // At most 3 letters a call.
    const bus = await startTestBus({ dataDir, redriveLimit: 3 });
    try {
      const page = await request(bus.url, 'POST', '/dead-letters/delete', { all: true });
      assert.equal(page.body.deleted, 3);
      assert.equal(typeof page.body.nextCursor, 'string');
      assert.equal((await letters(bus)).length, 4);
      const run = await cli(['dead-letters', 'delete', '--rule', 'orders', '--url', bus.url]);
      assert.deepEqual([run.code, run.out, run.err], [0, 'deleted 4\n', '']);
      assert.deepEqual(await letters(bus), []);
      const json = await cli(['dead-letters', 'delete', '--all', '--json', '--url', bus.url]);
      assert.deepEqual([json.code, JSON.parse(json.out)], [0, { deleted: 0 }]);
      const usage = await cli(['dead-letters', 'delete', '--url', bus.url]);
      assert.equal(usage.code, 2);
      assert.match(usage.err, /say what to delete: --all, --rule R or --id ID/);
      const badTime = await cli(['dead-letters', 'delete', '--all', '--to', 'soon', '--url', bus.url]);
      assert.equal(badTime.code, 2);
      assert.match(badTime.err, /--to/);
    } finally {
      await bus.stop();
      dir.remove();
    }
  });

  test('a key an ordered target held for a deleted letter goes on with its next event', async () => {
    const bus = await startTestBus({ pollMs: 20 });
    // x-0 is refused for good (400: dead-lettered at once); everything else is taken.
    const web = await startHttpTarget((req) => {
      const data = JSON.parse(req.body.toString()) as { key: string; seq: number };
      return { status: data.key === 'x' && data.seq === 0 ? 400 : 200 };
    });
    const received = () =>
      web.received
        .map((r) => JSON.parse(r.body.toString()) as { key: string; seq: number })
        .filter((d) => !(d.key === 'x' && d.seq === 0));
    try {
      await putRule(bus, 'hold', web.url, { ordering: { key: '$.data.key', onFailure: 'hold' } });
      for (let seq = 0; seq < 3; seq++) {
        await publish(bus, `x-${seq}`, { key: 'x', seq });
        await publish(bus, `y-${seq}`, { key: 'y', seq });
      }
      await waitFor(async () => (await letters(bus)).length === 1, 'the dead letter of x-0', 60_000);
      await waitFor(
        () => received().filter((d) => d.key === 'y').length === 3,
        'the other key, not held',
        60_000,
      );
      assert.deepEqual(
        received().filter((d) => d.key === 'x'),
        [],
        'x is held behind its dead letter',
      );
      const deleted = await request(bus.url, 'POST', '/dead-letters/delete', { rule: 'hold' });
      assert.deepEqual(deleted.body, { deleted: 1 });
      await waitFor(
        () => received().filter((d) => d.key === 'x').length === 2,
        'the held key after the delete',
        60_000,
      );
      assert.deepEqual(
        received()
          .filter((d) => d.key === 'x')
          .map((d) => d.seq),
        [1, 2],
      );
    } finally {
      await web.close();
      await bus.stop();
    }
  });
});
