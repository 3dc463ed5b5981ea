/**
 * A child-process entry for whole-system tests: runs the embedded bus and prints `ready <url>` when it serves.
 * With JUNCTION_KAFKA set, the log is that Kafka (topic JUNCTION_KAFKA_TOPIC, JUNCTION_KAFKA_PARTITIONS partitions).
 * JUNCTION_LEASE_MS shortens the delivery lease so that takeovers happen within a test; JUNCTION_STOP_DEADLINE_MS sets
 * the stop deadline and JUNCTION_FUNCTION_ISOLATION (`process` | `thread`) where functions run. On SIGTERM it closes
 * the bus, prints `stopped <the close report as JSON>` and exits 0.
 */
import { tmpdir } from 'node:os';
import { createKafkaEventLog } from '../../../lib/adapters/kafka/index.ts';
import { startEmbedded } from '../../../lib/server/embedded.ts';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) {
  process.stderr.write('usage: server-process.ts DATA_DIR PORT\n');
  process.exit(2);
}
const env = process.env;
const kafka =
  env.JUNCTION_KAFKA === undefined
    ? undefined
    : {
        bootstrap: env.JUNCTION_KAFKA.split(','),
        topic: env.JUNCTION_KAFKA_TOPIC ?? 'junction-events',
        partitions: Number(env.JUNCTION_KAFKA_PARTITIONS ?? 6),
        appendTimeoutMs: Number(env.JUNCTION_APPEND_TIMEOUT_MS ?? 5000),
        onWarning: (message: string, error?: unknown) =>
          process.stderr.write(
            `${new Date().toISOString()} kafka warning: ${message}${error === undefined ? '' : `: ${String(error)}`}\n`,
          ),
      };
const bus = await startEmbedded({
  dataDir,
  port: Number(port),
  pollMs: 100,
  functionLog: () => {},
  // The exactly-once fixtures read and append files in temp dirs: the sandbox may, there (as the bus's user).
  functionSandbox: { user: false, allowRead: [tmpdir()], allowWrite: [tmpdir()] },
  onError: (error) => process.stderr.write(`server error: ${String(error)}\n`),
  ...(kafka === undefined ? {} : { kafka, log: await createKafkaEventLog(kafka) }),
  ...(env.JUNCTION_LEASE_MS === undefined ? {} : { leaseMs: Number(env.JUNCTION_LEASE_MS) }),
  ...(env.JUNCTION_STOP_DEADLINE_MS === undefined
    ? {}
    : { stopDeadlineMs: Number(env.JUNCTION_STOP_DEADLINE_MS) }),
  ...(env.JUNCTION_FUNCTION_ISOLATION === 'thread' ? { functionIsolation: 'thread' as const } : {}),
  ...(env.JUNCTION_MQTT_PORT === undefined ? {} : { mqttPort: Number(env.JUNCTION_MQTT_PORT) }),
});
process.stdout.write(`ready ${bus.url}\n`);
process.once('SIGTERM', () => {
  void bus.close().then((report) => {
    process.stdout.write(`stopped ${JSON.stringify(report ?? null)}\n`, () => process.exit(0));
  });
});
