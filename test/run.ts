/** `npm test`: runs every test file with Node's test runner, with one Kafka broker (test/kafka) for the whole run. */
import { spawn, spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Broker, killRegistered, startBroker } from './kafka/broker.ts';

const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const patterns = files.length > 0 ? files : ['test/**/*.test.ts'];
const ci = process.env.CI === 'true';
/**
 * How long one test file may run, its process included: a file whose tests passed but whose process never exits (a
 * handle left open) would otherwise hold `npm test` for ever with no output. Node's runner applies `--test-timeout`
 * to each file's process (and to every test that sets no timeout of its own), so such a file fails, named, instead.
 * Generous: the longest file takes a few minutes on a busy machine. JUNCTION_TEST_FILE_TIMEOUT_MS overrides it.
 */
const fileTimeoutMs = Number(process.env.JUNCTION_TEST_FILE_TIMEOUT_MS ?? 20 * 60_000);
/**
 * The reporters: `spec` on stdout, and on stderr test/reporters/unfinished.ts, which names a test still running after
 * 5 minutes (`JUNCTION_TEST_SLOW_REPORT_MS`) and the tests a file left unfinished when it was stopped (at its timeout,
 * or by its process's death) — what `spec` never prints. A run given reporters of its own (`--test-reporter=…`) gets
 * only those.
 */
const reporters = flags.some((flag) => flag.startsWith('--test-reporter'))
  ? []
  : [
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      `--test-reporter=${fileURLToPath(new URL('./reporters/unfinished.ts', import.meta.url))}`,
      '--test-reporter-destination=stderr',
    ];

/**
 * A run of chosen files needs the broker only when one of them mentions Kafka (its tests import test/kafka/env.ts);
 * the whole suite always gets one. Saves the broker's start-up on targeted runs of other tests.
 */
function selectionMentionsKafka(selected: readonly string[]): boolean {
  if (selected.length === 0) return true;
  for (const pattern of selected) {
    for (const file of globSync(pattern)) {
      try {
        if (/kafka/i.test(readFileSync(file, 'utf8'))) return true;
      } catch {
        return true; // not a readable file (a folder?): let the runner decide, with a broker
      }
    }
  }
  return false;
}

/**
 * Starts the shared broker unless JUNCTION_TEST_KAFKA already names one (or is `off`). Without Java the Kafka
 * tests skip, saying why (JUNCTION_TEST_KAFKA_WHY); under CI=true a missing broker fails the run instead.
 */
async function kafkaForTests(env: NodeJS.ProcessEnv): Promise<Broker | undefined> {
  if (env.JUNCTION_TEST_KAFKA === 'off') {
    delete env.JUNCTION_TEST_KAFKA;
    env.JUNCTION_TEST_KAFKA_WHY = 'disabled with JUNCTION_TEST_KAFKA=off';
    return undefined;
  }
  if (env.JUNCTION_TEST_KAFKA) return undefined;
  if (!selectionMentionsKafka(files)) {
    env.JUNCTION_TEST_KAFKA_WHY = 'none of the chosen test files mentions Kafka';
    return undefined;
  }
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) {
    if (ci) throw new Error('CI=true but `java` is not available: the Kafka tests need a JDK 17+ (and mvn)');
    env.JUNCTION_TEST_KAFKA_WHY = 'Java not found';
    return undefined;
  }
  try {
    const broker = await startBroker();
    env.JUNCTION_TEST_KAFKA = broker.bootstrap;
    process.stderr.write(`test: Kafka broker ${broker.bootstrap} (pid ${broker.pid})\n`);
    return broker;
  } catch (error) {
    if (ci) throw error;
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    env.JUNCTION_TEST_KAFKA_WHY = `the broker did not start: ${reason}`;
    process.stderr.write(
      `test: no Kafka broker: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return undefined;
  }
}

async function main(): Promise<void> {
  // Brokers that tests start for themselves register here, so none outlives the run even if a test dies.
  const registry = mkdtempSync(join(tmpdir(), 'junction-kafka-pids-'));
  const env = { ...process.env, JUNCTION_KAFKA_PIDS_DIR: registry };
  let broker: Broker | undefined;
  let stopping: Promise<void> | undefined;
  const stopBroker = () => {
    stopping ??= (broker === undefined ? Promise.resolve() : broker.remove().catch(() => undefined)).then(
      () => {
        const killed = killRegistered(registry);
        if (killed > 0)
          process.stderr.write(`test: killed ${killed} Kafka broker(s) left running by tests\n`);
        rmSync(registry, { recursive: true, force: true });
      },
    );
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      void stopBroker().then(() => process.exit(130));
    });
  }
  try {
    broker = await kafkaForTests(env);
  } catch (error) {
    process.stderr.write(`test: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    return;
  }
  const child = spawn(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      '--test',
      '--test-concurrency=2',
      ...reporters,
      `--test-timeout=${fileTimeoutMs}`,
      ...flags,
      ...patterns,
    ],
    { stdio: 'inherit', env },
  );
  const code = await new Promise<number>((resolveCode) => {
    child.on('exit', (exitCode, signal) => resolveCode(exitCode ?? (signal ? 1 : 0)));
  });
  await stopBroker();
  process.exitCode = code;
}

await main();
