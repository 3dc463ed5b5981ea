/** `junction dev`: runs the embedded bus in the foreground until SIGINT/SIGTERM, with a readable banner. */

import { readFileSync } from 'node:fs';
import { isJunctionError } from '../core/errors.ts';
import type { EventLog } from '../ports.ts';
import { startEmbedded } from '../server/embedded.ts';
import type { DevOptions } from './cli.ts';

/** Runs the bus until a signal; answers 2 (after one line on stderr) when it refuses to start, e.g. exposed without auth. */
export async function runDev(options: DevOptions): Promise<number | undefined> {
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
  const a = options.auth ?? {};
  const start = startEmbedded({
    ...(a.tlsCert === undefined || a.tlsKey === undefined
      ? {}
      : { tls: { cert: readFileSync(a.tlsCert), key: readFileSync(a.tlsKey) } }),
    auth: {
      ...(a.required === undefined ? {} : { required: a.required }),
      ...(a.allowedHosts === undefined ? {} : { allowedHosts: a.allowedHosts }),
      ...(a.allowedOrigins === undefined ? {} : { allowedOrigins: a.allowedOrigins }),
      ...(a.jwt === undefined ? {} : { jwt: a.jwt }),
    },
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
  let bus: Awaited<typeof start>;
  try {
    bus = await start;
  } catch (error) {
    await log?.close();
    if (!isJunctionError(error) || error.field !== 'host') throw error;
    process.stderr.write(`junction: ${error.message}\n`);
    return 2;
  }
  const health = await bus.junction.health();
  process.stdout.write(
    [
      `Junction is running at ${bus.url}`,
      `  data dir   ${bus.dataDir}`,
      `  log        ${options.kafka ? `Kafka ${options.kafka}` : `SQLite, ${health.partitions} partitions`}`,
      `  rules      ${health.rules}`,
      `  auth       ${(await bus.authRequired()) ? 'required (keys in the data dir)' : 'open on loopback until a key exists (see docs/security.md)'}`,
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
  return undefined;
}
