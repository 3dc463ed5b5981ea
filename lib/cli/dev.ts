/**
 * `junction dev`: runs the embedded bus in the foreground until SIGINT/SIGTERM, with a readable banner, then says
 * what happens (failing deliveries, dead letters, a periodic summary); a bus that cannot start says why in a line.
 */
import { readFileSync } from 'node:fs';
import { isJunctionError } from '../core/errors.ts';
import type { EventLog } from '../ports.ts';
import { type EmbeddedBus, startEmbedded } from '../server/embedded.ts';
import type { DevOptions } from './cli.ts';
import { createDevReporter, type DevReporterOptions } from './dev-reporter.ts';

export interface DevIo {
  /** Writes text as is (the banner, the reporter's lines). @default process.stdout */
  readonly out: (text: string) => void;
  /** @default process.stderr */
  readonly err: (text: string) => void;
  /** Resolves when the bus should stop. @default the first SIGINT or SIGTERM */
  readonly stopped?: Promise<void>;
  /**
   * The environment: `JUNCTION_HTTP_TARGETS_ALLOW` (comma-separated addresses or CIDR blocks) is the SSRF
   * allow-list of HTTP targets. @default process.env
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reporter settings (tests inject the clock and the timer). */
  readonly reporter?: Omit<DevReporterOptions, 'write'>;
}

/** The exit code of a bus that could not start (port in use, data dir locked, bad configuration). */
export const DEV_START_FAILED = 1;
/** The exit code of a bus refused by its own safety rules (exposed on a non-loopback address without auth). */
export const DEV_REFUSED = 2;
/** The exit code of a bus whose close did not finish within its stop deadline (+ 2 s): the process leaves anyway. */
export const DEV_STOP_LATE = 3;
/** How long past the stop deadline a close may run before `junction dev` leaves without it (crash-safe: the ledger
 * and the log are durable; what was running is taken up at the next start). */
const STOP_SLACK_MS = 2_000;

/** The TLS files of --tls-cert/--tls-key, or a one-line reason they cannot be read. */
function readTls(auth: NonNullable<DevOptions['auth']>): { cert: Buffer; key: Buffer } | string | undefined {
  if (auth.tlsCert === undefined || auth.tlsKey === undefined) return undefined;
  try {
    return { cert: readFileSync(auth.tlsCert), key: readFileSync(auth.tlsKey) };
  } catch (error) {
    return `cannot read --tls-cert/--tls-key: ${(error as Error).message}`;
  }
}

function signals(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

const processIo: DevIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Runs the bus until stopped; answers the exit code. */
export async function runDev(options: DevOptions, io: DevIo = processIo): Promise<number> {
  let log: EventLog | undefined;
  const kafka =
    options.kafka === undefined
      ? undefined
      : {
          bootstrap: options.kafka.split(','),
          topic: options.topic ?? 'junction-events',
          ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
        };
  const allow = (io.env ?? process.env).JUNCTION_HTTP_TARGETS_ALLOW?.split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const a = options.auth ?? {};
  const tls = readTls(a);
  if (typeof tls === 'string') {
    io.err(`junction: ${tls}\n`);
    return DEV_START_FAILED;
  }
  const json = options.logFormat === 'json';
  const reporter = createDevReporter({
    ...io.reporter,
    format: json ? 'json' : 'text',
    write: (line) => io.out(`${line}\n`),
  });
  let bus: EmbeddedBus;
  try {
    if (kafka !== undefined) {
      const { createKafkaEventLog } = await import('../adapters/kafka/index.ts');
      log = await createKafkaEventLog({
        ...kafka,
        // The consumer group's and the producer's trouble (a failed fetch, a lost member, a rejoin) is the
        // operator's to see: on stderr, one line each.
        onWarning: (message, error) =>
          io.err(
            `junction: warning: ${message}${error === undefined ? '' : `: ${error instanceof Error ? error.message : String(error)}`}\n`,
          ),
      });
    }
    bus = await startEmbedded({
      ...(tls === undefined ? {} : { tls }),
      auth: {
        ...(a.required === undefined ? {} : { required: a.required }),
        ...(a.allowedHosts === undefined ? {} : { allowedHosts: a.allowedHosts }),
        ...(a.allowedOrigins === undefined ? {} : { allowedOrigins: a.allowedOrigins }),
        ...(a.jwt === undefined ? {} : { jwt: a.jwt }),
      },
      port: options.port,
      host: options.host,
      dataDir: options.dataDir,
      onTrace: (entries, name) => reporter.observe(entries, name),
      ...(allow === undefined ? {} : { httpTargets: { allow } }),
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
      ...(options.stopDeadlineMs === undefined ? {} : { stopDeadlineMs: options.stopDeadlineMs }),
      ...(options.dedupMemoryKeys === undefined ? {} : { dedupMemoryKeys: options.dedupMemoryKeys }),
      ...(options.otlpEndpoint === undefined ? {} : { otlpEndpoint: options.otlpEndpoint }),
      ...(options.otlpProtocol === undefined ? {} : { otlpProtocol: options.otlpProtocol }),
      ...(options.mqttPort === undefined ? {} : { mqttPort: options.mqttPort }),
      ...(options.schemaDiscovery === true ? { schemaDiscovery: true } : {}),
    });
  } catch (error) {
    reporter.close();
    await log?.close().catch(() => undefined);
    if (!isJunctionError(error)) throw error;
    io.err(`junction: ${error.message}\n`);
    return error.field === 'host' ? DEV_REFUSED : DEV_START_FAILED;
  }
  const health = await bus.junction.health();
  const logText = options.kafka ? `Kafka ${options.kafka}` : `SQLite, ${health.partitions} partitions`;
  if (json) {
    io.out(
      `${JSON.stringify({ time: new Date().toISOString(), level: 'info', event: 'started', url: bus.url, dataDir: bus.dataDir, log: logText, rules: health.rules, ...(bus.mqtt === undefined ? {} : { mqtt: bus.mqtt.url }) })}\n`,
    );
  } else
    io.out(
      [
        `Junction is running at ${bus.url}`,
        `  data dir   ${bus.dataDir}`,
        `  log        ${logText}`,
        `  rules      ${health.rules}`,
        ...(bus.mqtt === undefined ? [] : [`  mqtt       ${bus.mqtt.url} (topic events/<anything>)`]),
        '',
        `Publish:  curl -X POST ${bus.url}/events -H 'ce-specversion: 1.0' -H 'ce-id: 1' \\`,
        `            -H 'ce-source: /demo' -H 'ce-type: demo.hello' -H 'content-type: application/json' -d '{"hello":"world"}'`,
        `Trace:    npm run junction -- trace 1`,
        `Console:  ${bus.url}/console`,
        'Failing deliveries, dead letters and a summary every 30 s (when anything happened) show up here.',
        'Stop with Ctrl-C.',
        '',
      ].join('\n'),
    );
  await (io.stopped ?? signals());
  const deadlineMs = options.stopDeadlineMs ?? 10_000;
  io.out(
    json
      ? `${JSON.stringify({ time: new Date().toISOString(), level: 'info', event: 'stopping', deadlineMs })}\n`
      : `\nstopping (within ${deadlineMs / 1000} s)…\n`,
  );
  let late: NodeJS.Timeout | undefined;
  try {
    const report = await Promise.race([
      bus.close(),
      new Promise<undefined>((resolve) => {
        late = setTimeout(() => resolve(undefined), deadlineMs + STOP_SLACK_MS);
      }),
    ]);
    if (report === undefined) {
      io.err(
        `junction: the bus did not stop within ${deadlineMs / 1000} s; leaving anyway (what was running is taken up at the next start)\n`,
      );
      return DEV_STOP_LATE;
    }
    if (report.interrupted > 0) {
      io.out(
        `${report.interrupted} deliveries were still running at the deadline: cut off, they stay pending for the next start\n`,
      );
    }
  } catch (error) {
    io.err(`junction: ${String(error)}\n`);
  } finally {
    clearTimeout(late);
    reporter.close();
  }
  return 0;
}
