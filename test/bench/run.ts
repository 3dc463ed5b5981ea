/**
 * `npm run bench`: every benchmark, each table with its baseline measured in the same run.
 * `npm run bench -- --quick` for a short run; `--only=bus,matching` for some of them.
 */
import { type BenchTable, printTable } from './table.ts';

type Bench = (quick: boolean) => Promise<BenchTable | BenchTable[]>;

const BENCHES: Record<string, Bench> = {
  bus: async (quick) => (await import('./bus.ts')).benchBus({ quick }),
  matching: async (quick) => {
    const { benchAdversarial, benchMatching } = await import('./matching.ts');
    return [await benchMatching({ quick }), benchAdversarial({ quick })];
  },
  'matching-peer': async (quick) => (await import('./matching-peer.ts')).benchMatchingPeer({ quick }),
  codec: async (quick) => (await import('./codec.ts')).benchCodec({ quick }),
  functions: async (quick) => (await import('./functions.ts')).benchFunctions({ quick }),
  sqlite: async (quick) => (await import('./sqlite.ts')).benchSqlite({ quick }),
  auth: async (quick) => (await import('./auth.ts')).benchAuth({ quick }),
  ingest: async (quick) => (await import('./ingest.ts')).benchIngest({ quick }),
  schemas: async (quick) => (await import('./schemas.ts')).benchSchemas({ quick }),
  'http-targets': async (quick) => (await import('./http-targets.ts')).benchHttpTargets({ quick }),
  tracing: async (quick) => (await import('./tracing.ts')).benchTracing({ quick }),
  ordering: async (quick) => (await import('./ordering.ts')).benchOrdering({ quick }),
  aggregation: async (quick) => (await import('./aggregation.ts')).benchAggregation({ quick }),
  kafka: async (quick) => {
    const { startBroker } = await import('../kafka/broker.ts');
    const { benchKafkaRaw } = await import('./kafka.ts');
    const broker = await startBroker();
    try {
      return await benchKafkaRaw({ quick, bootstrap: broker.bootstrap });
    } finally {
      await broker.remove();
    }
  },
  'kafka-source': async (quick) => {
    const { startBroker } = await import('../kafka/broker.ts');
    const { benchKafkaSource } = await import('./kafka-source.ts');
    const broker = await startBroker();
    try {
      return await benchKafkaSource({ quick, bootstrap: broker.bootstrap });
    } finally {
      await broker.remove();
    }
  },
  'aws-handlers': async (quick) => {
    const { startBroker } = await import('../kafka/broker.ts');
    const { benchAwsHandlers } = await import('./aws-handlers.ts');
    const broker = await startBroker();
    try {
      return await benchAwsHandlers({ quick, bootstrap: broker.bootstrap });
    } finally {
      await broker.remove();
    }
  },
  cdc: async (quick) => (await import('./cdc.ts')).benchCdc({ quick }),
  mqtt: async (quick) => (await import('./mqtt.ts')).benchMqtt({ quick }),
  noisy: async (quick) => {
    const { startBroker } = await import('../kafka/broker.ts');
    return (await import('./noisy.ts')).benchNoisy({ quick, startBroker });
  },
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const names = only ?? Object.keys(BENCHES);
const unknown = names.filter((n) => !(n in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s): ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}\n`,
  );
  process.exit(2);
}
process.stdout.write(
  `Junction benchmarks (${quick ? 'quick' : 'full'}) on ${process.version}, ${new Date().toISOString()}\n`,
);
let failed = 0;
for (const name of names) {
  const started = performance.now();
  process.stderr.write(`bench: ${name}…\n`);
  try {
    const result = await (BENCHES[name] as Bench)(quick);
    for (const table of Array.isArray(result) ? result : [result]) printTable(table);
  } catch (error) {
    failed++;
    process.stdout.write(`\n${name}: failed — ${error instanceof Error ? error.stack : String(error)}\n`);
  }
  process.stderr.write(`bench: ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}
process.exitCode = failed > 0 ? 1 : 0;
