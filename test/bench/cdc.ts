/**
 * PostgreSQL change data capture, same run, one real PostgreSQL (test/helpers/postgres.ts): rows/s from committed
 * inserts to the slot's confirmed LSN, for the raw `pg-logical-replication` consumer (decode only, confirm at each
 * commit: the baseline) and for the postgres-cdc connector of a bus (a child process: events into its SQLite log,
 * confirmed once taken). The rows are inserted first, in transactions of `PER_TX` rows, and then streamed: the time is
 * from the start of streaming to the last commit confirmed.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LogicalReplicationService, PgoutputPlugin } from 'pg-logical-replication';
import { freePort, startChildBus, stopGracefully } from '../e2e/support/child-bus.ts';
import { request } from '../helpers/bus.ts';
import { tempDir } from '../helpers/paths.ts';
import { startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import type { BenchTable } from './table.ts';

const PER_TX = 100;

/** Makes a table, its publication and slot, and commits `rows` inserts into it; answers the last LSN to reach. */
async function prepare(db: TestPostgres, name: string, rows: number): Promise<string> {
  await db.query(`CREATE TABLE ${name} (id bigserial PRIMARY KEY, n int NOT NULL, label text NOT NULL)`);
  await db.query(`CREATE PUBLICATION ${name} FOR TABLE ${name}`);
  await db.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [name]);
  for (let done = 0; done < rows; done += PER_TX) {
    await db.query(
      `INSERT INTO ${name} (n, label) SELECT g, 'row ' || g FROM generate_series($1::int, $2::int) AS g`,
      [done, Math.min(rows, done + PER_TX) - 1],
    );
  }
  const { rows: end } = await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  // One more transaction after the target: its commit confirmed means every row before it was taken.
  await db.query(`INSERT INTO ${name} (n, label) VALUES (-1, 'end')`);
  return end[0]?.lsn as string;
}

async function confirmedPast(db: TestPostgres, slot: string, lsn: string): Promise<boolean> {
  const { rows } = await db.query<{ done: boolean }>(
    'SELECT confirmed_flush_lsn >= $2::pg_lsn AS done FROM pg_replication_slots WHERE slot_name = $1',
    [slot, lsn],
  );
  return rows[0]?.done === true;
}

async function until(check: () => Promise<boolean>, what: string, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function raw(db: TestPostgres, rows: number): Promise<number> {
  const target = await prepare(db, 'bench_raw', rows);
  const service = new LogicalReplicationService(
    { connectionString: db.url },
    { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
  );
  let changes = 0;
  service.on('data', async (lsn: string, message: { tag: string }) => {
    if (message.tag === 'insert') changes++;
    else if (message.tag === 'commit') await service.acknowledge(lsn);
  });
  const started = performance.now();
  void service.subscribe(
    new PgoutputPlugin({ protoVersion: 1, publicationNames: ['bench_raw'] }),
    'bench_raw',
  );
  await until(() => confirmedPast(db, 'bench_raw', target), 'the raw consumer');
  const seconds = (performance.now() - started) / 1000;
  await service.destroy();
  if (changes < rows) throw new Error(`the raw consumer saw ${changes} of ${rows} rows`);
  return rows / seconds;
}

async function connector(db: TestPostgres, rows: number): Promise<number> {
  const target = await prepare(db, 'bench_bus', rows);
  const dir = tempDir('junction-bench-cdc-');
  const bus = await startChildBus(join(dir.path, 'data'), await freePort());
  try {
    const started = performance.now();
    const put = await request(bus.url, 'PUT', '/connectors/bench', {
      type: 'postgres-cdc',
      connection: db.url,
      publication: 'bench_bus',
      slot: 'bench_bus',
      maxBatch: 1000,
    });
    if (put.status !== 201)
      throw new Error(`PUT /connectors/bench: ${put.status} ${JSON.stringify(put.body)}`);
    await until(() => confirmedPast(db, 'bench_bus', target), 'the connector');
    const seconds = (performance.now() - started) / 1000;
    const status = (await request(bus.url, 'GET', '/connectors/bench')).body;
    if (Number(status.events) < rows) throw new Error(`the connector took ${status.events} of ${rows} rows`);
    return rows / seconds;
  } finally {
    await stopGracefully(bus);
    dir.remove();
  }
}

export async function benchCdc(options: { quick: boolean }): Promise<BenchTable> {
  const rows = options.quick ? 10_000 : 50_000;
  const db = await startPostgres();
  try {
    const baseline = await raw(db, rows);
    const bus = await connector(db, rows);
    return {
      title: `PostgreSQL CDC: ${rows} inserts in ${PER_TX}-row transactions, committed, then streamed (rows/s)`,
      columns: ['reader', 'rows/s', 'vs raw'],
      rows: [
        ['pg-logical-replication alone (decode, confirm each commit)', Math.round(baseline), '1.00'],
        [
          'postgres-cdc connector → bus log (SQLite), confirmed once taken',
          Math.round(bus),
          (bus / baseline).toFixed(2),
        ],
      ],
      notes: [
        'Time from the start of streaming to the last commit confirmed on the slot; the connector row includes its',
        'start (slot check, replication connection) and the bus child process writing every event to its log.',
      ],
    };
  } finally {
    await db.stop();
  }
}
