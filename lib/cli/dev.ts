/** `junction dev`: runs the embedded bus in the foreground until SIGINT/SIGTERM, with a readable banner. */

import type { EventLog } from '../ports.ts';
import { startEmbedded } from '../server/embedded.ts';
import type { DevOptions } from './cli.ts';

export async function runDev(options: DevOptions): Promise<void> {
  let log: EventLog | undefined;
  const kafka =
    options.kafka === undefined
      ? undefined
      : {
          bootstrap: options.kafka.split(','),
          topic: options.topic ?? 'junction-events',
          ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
        };
  if (kafka !== undefined) {
    const { createKafkaEventLog } = await import('../adapters/kafka/index.ts');
    log = await createKafkaEventLog(kafka);
  }
  const bus = await startEmbedded({
    port: options.port,
    host: options.host,
    dataDir: options.dataDir,
    ...(log === undefined ? {} : { log }),
    ...(kafka === undefined ? {} : { kafka }),
    ...(options.quotaPerSource === undefined
      ? {}
      : {
          quota: {
            eventsPerSecond: options.quotaPerSource,
            ...(options.quotaBurst === undefined ? {} : { burst: options.quotaBurst }),
          },
        }),
    ...(options.partitions === undefined || log !== undefined ? {} : { partitions: options.partitions }),
  });
  const health = await bus.junction.health();
  process.stdout.write(
    [
      `Junction is running at ${bus.url}`,
      `  data dir   ${bus.dataDir}`,
      `  log        ${options.kafka ? `Kafka ${options.kafka}` : `SQLite, ${health.partitions} partitions`}`,
      `  rules      ${health.rules}`,
      '',
      `Publish:  curl -X POST ${bus.url}/events -H 'ce-specversion: 1.0' -H 'ce-id: 1' \\`,
      `            -H 'ce-source: /demo' -H 'ce-type: demo.hello' -H 'content-type: application/json' -d '{"hello":"world"}'`,
      `Trace:    npm run junction -- trace 1`,
      'Stop with Ctrl-C.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.stdout.write('\nstopping…\n');
      bus.close().then(resolve, (error) => {
        console.error(error);
        resolve();
      });
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
