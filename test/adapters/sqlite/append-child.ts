/**
 * A child process for the crash tests: appends events (and enqueues deliveries) to `<dataDir>` and prints one JSON
 * line per resolved write, until killed (`run`) or after `count` events (`count`).
 * Usage: node append-child.ts <dataDir> run <runIndex> | node append-child.ts <dataDir> count <n> <prefix>
 */
import { openSqliteStores } from '../../../lib/adapters/sqlite/index.ts';
import { makeEvent } from '../../helpers/events.ts';

const [dataDir, mode, arg, prefix] = process.argv.slice(2);
if (dataDir === undefined || (mode !== 'run' && mode !== 'count')) {
  process.stderr.write('usage: append-child.ts <dataDir> run <runIndex> | count <n> <prefix>\n');
  process.exit(2);
}
const stores = openSqliteStores({ dataDir });
const WINDOW = { dedupWindowMs: 600_000 };

const eventOf = (id: string, n: number) => makeEvent({ source: `urn:crash:${n % 7}`, id, data: { n } });

if (mode === 'count') {
  const total = Number(arg);
  for (let n = 0; n < total; n += 1) {
    await stores.log.append([eventOf(`${prefix}-${n}`, n)], WINDOW);
  }
  await stores.close();
  process.stdout.write('done\n');
} else {
  const run = Number(arg);
  // First re-append the start of the previous run: every one that was accepted must come back as a duplicate.
  if (run > 0) {
    const again = Array.from({ length: 30 }, (_, n) => eventOf(`run${run - 1}-${n}`, n));
    const results = await stores.log.append(again, WINDOW);
    process.stdout.write(`${JSON.stringify({ kind: 'replayed', ids: again.map((e) => e.id), results })}\n`);
  }
  let n = 0;
  const writer = async () => {
    for (;;) {
      const size = 1 + (n % 3);
      const events = Array.from({ length: size }, () => {
        n += 1;
        return eventOf(`run${run}-${n - 1}`, n - 1);
      });
      const results = await stores.log.append(events, WINDOW);
      process.stdout.write(
        `${JSON.stringify({ kind: 'appended', ids: events.map((e) => e.id), results })}\n`,
      );
      const deliveries = events.map((event) => ({
        source: event.source,
        id: event.id,
        rule: 'r',
        target: 't',
        event,
        createdAt: Date.now(),
        dueAt: Date.now(),
        attempts: [],
      }));
      await stores.ledger.enqueue(deliveries);
      process.stdout.write(`${JSON.stringify({ kind: 'enqueued', ids: events.map((e) => e.id) })}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}
