/**
 * The AWS wiring: reads the handlers' environment (the only module that does), and builds the engine from the
 * Kafka EventLog (MSK IAM), the DynamoDB stores, the Lambda FunctionRunner and the HTTP, Kafka and PostgreSQL
 * target drivers — once per cold start, reused by every invocation.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import { BUS_NAME, DEFAULT_BUS } from '../../core/bus.ts';
import { JunctionError } from '../../core/errors.ts';
import { createAddressPolicy } from '../../core/net/address-policy.ts';
import { SchemaDiscovery } from '../../engine/discovery.ts';
import { Junction } from '../../engine/junction.ts';
import { Metrics } from '../../engine/metrics.ts';
import { Schemas } from '../../engine/schemas.ts';
import { scopedTracer } from '../../engine/spans.ts';
import {
  type Clock,
  type DeadLetters,
  type EventLog,
  noopTracer,
  systemClock,
  type Tracer,
  type TraceStore,
} from '../../ports.ts';
import { type App, createApp } from '../../server/app.ts';
import { schemaRefresher, withFreshSchemas } from '../../server/fresh-schemas.ts';
import { createReplayExtensions } from '../../server/replay.ts';
import { targetChecker } from '../../server/target-guard.ts';
import { createDynamoClient, createDynamoStores, type DynamoStores } from '../dynamodb/index.ts';
import { createHttpDriver } from '../http/http-driver.ts';
import { createKafkaEventLog, type KafkaEventLogOptions } from '../kafka/index.ts';
import { createKafkaTargetDriver } from '../kafka/target-driver.ts';
import { createLambdaRunner, functionPrefixOf, type LambdaRunner } from '../lambda/runner.ts';
import { type OtlpTarget, otlpTarget } from '../otel/config.ts';
import { createPostgresTargetDriver } from '../postgres/sink.ts';
import { createEmfPublisher, type EmfPublisher } from './emf.ts';

/** What the handlers are configured with (from the environment the CDK stack sets). */
export interface AwsConfig {
  /**
   * `JUNCTION_BUS`: the bus these handlers serve (the `EventBusName` its EventBridge management calls must name);
   * each bus of a stack has its own handlers, tables and topic. @default 'default'
   */
  readonly busName: string;
  /** `JUNCTION_TABLE_PREFIX`: DynamoDB tables are `<prefix>-<store>`. @default 'junction' */
  readonly tablePrefix: string;
  /** `JUNCTION_KAFKA_CLUSTER_ARN`: the MSK cluster. When set, Kafka connections use MSK IAM (TLS + OAUTHBEARER). */
  readonly kafkaClusterArn: string | undefined;
  /** `JUNCTION_KAFKA_TOPIC`. @default 'junction-events' */
  readonly kafkaTopic: string;
  /** `JUNCTION_KAFKA_BOOTSTRAP` (`host:port,…`): skips GetBootstrapBrokers. @default looked up from the cluster */
  readonly kafkaBootstrap: readonly string[] | undefined;
  /**
   * `JUNCTION_KAFKA_REPLICATION`: replication factor of the events topic when a handler creates it. -1 is the
   * broker's `default.replication.factor` (MSK sets it from the cluster's size; Serverless accepts nothing else).
   * @default -1 with an MSK cluster, else 1
   */
  readonly kafkaReplication: number;
  /**
   * `JUNCTION_KAFKA_RETENTION_MS`: `retention.ms` of the events topic when a handler creates it (-1: forever).
   * @default the broker's default
   */
  readonly kafkaRetentionMs: number | undefined;
  /** `JUNCTION_FUNCTION_PREFIX`. @default `functionPrefixOf(busName)`: 'junction-fn-' for the default bus */
  readonly functionPrefix: string;
  /** `JUNCTION_FUNCTION_ROLE_ARN`: execution role of deployed user functions. @default undefined (no deploys) */
  readonly functionRoleArn: string | undefined;
  /** `JUNCTION_DYNAMODB_ENDPOINT` (tests: dynalite). @default the regional endpoint */
  readonly dynamodbEndpoint: string | undefined;
  /** `JUNCTION_LAMBDA_ENDPOINT` (tests). @default the regional endpoint */
  readonly lambdaEndpoint: string | undefined;
  /** `AWS_REGION`, else the cluster ARN's region. @default 'us-east-1' */
  readonly region: string;
  /**
   * `JUNCTION_HTTP_TARGETS_ALLOW`, comma-separated: addresses or CIDR blocks HTTP targets may reach although the
   * SSRF policy refuses their range (docs/delivery.md). @default none
   */
  readonly httpTargetsAllow?: readonly string[];
  /**
   * Where OpenTelemetry spans go (docs/tracing.md#on-aws): `JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT`, or the standard
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` (`OTEL_SDK_DISABLED=true` turns it off).
   * @default undefined: tracing off, the SDK not loaded
   */
  readonly otlp?: OtlpTarget;
}

/** How long a handler waits at the end of an invocation for its spans to be exported (Lambda freezes after). */
export const OTLP_FLUSH_TIMEOUT_MS = 2_000;

function bad(variable: string, message: string, value: string): JunctionError {
  return new JunctionError('InvalidRequest', `${variable} ${message}; received ${JSON.stringify(value)}`, {
    field: variable,
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Reads and validates the configuration from an environment (`process.env` in the handlers). */
export function readAwsConfig(env: Readonly<Record<string, string | undefined>>): AwsConfig {
  const busName = nonEmpty(env.JUNCTION_BUS) ?? DEFAULT_BUS;
  if (!BUS_NAME.test(busName)) {
    throw bad('JUNCTION_BUS', 'must be 1-64 of a-z A-Z 0-9 . _ - starting with a letter or digit', busName);
  }
  const tablePrefix = nonEmpty(env.JUNCTION_TABLE_PREFIX) ?? 'junction';
  if (!/^[a-zA-Z0-9_.-]{1,200}$/.test(tablePrefix)) {
    throw bad('JUNCTION_TABLE_PREFIX', 'must be 1-200 of a-z A-Z 0-9 _ . -', tablePrefix);
  }
  const kafkaClusterArn = nonEmpty(env.JUNCTION_KAFKA_CLUSTER_ARN);
  if (
    kafkaClusterArn !== undefined &&
    !/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/.test(kafkaClusterArn)
  ) {
    throw bad(
      'JUNCTION_KAFKA_CLUSTER_ARN',
      'must be an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/…)',
      kafkaClusterArn,
    );
  }
  const kafkaTopic = nonEmpty(env.JUNCTION_KAFKA_TOPIC) ?? 'junction-events';
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(kafkaTopic)) {
    throw bad('JUNCTION_KAFKA_TOPIC', 'must be 1-249 of a-z A-Z 0-9 . _ -', kafkaTopic);
  }
  const bootstrapText = nonEmpty(env.JUNCTION_KAFKA_BOOTSTRAP);
  const kafkaBootstrap = bootstrapText
    ?.split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  for (const broker of kafkaBootstrap ?? []) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker))
      throw bad('JUNCTION_KAFKA_BOOTSTRAP', 'must be host:port,host:port', bootstrapText ?? '');
  }
  if (kafkaClusterArn === undefined && kafkaBootstrap === undefined) {
    throw new JunctionError(
      'InvalidRequest',
      'set JUNCTION_KAFKA_CLUSTER_ARN (an MSK cluster, IAM auth) or JUNCTION_KAFKA_BOOTSTRAP (host:port,…); both are unset',
      { field: 'JUNCTION_KAFKA_CLUSTER_ARN' },
    );
  }
  const replicationText = nonEmpty(env.JUNCTION_KAFKA_REPLICATION);
  const kafkaReplication =
    replicationText === undefined ? (kafkaClusterArn === undefined ? 1 : -1) : Number(replicationText);
  if (!Number.isInteger(kafkaReplication) || (kafkaReplication < 1 && kafkaReplication !== -1)) {
    throw bad(
      'JUNCTION_KAFKA_REPLICATION',
      'must be -1 (the broker default) or a whole number ≥ 1',
      replicationText ?? '',
    );
  }
  const retentionText = nonEmpty(env.JUNCTION_KAFKA_RETENTION_MS);
  const kafkaRetentionMs = retentionText === undefined ? undefined : Number(retentionText);
  if (
    kafkaRetentionMs !== undefined &&
    (!/^-?\d+$/.test(retentionText ?? '') ||
      !Number.isSafeInteger(kafkaRetentionMs) ||
      (kafkaRetentionMs < 1 && kafkaRetentionMs !== -1))
  ) {
    throw bad(
      'JUNCTION_KAFKA_RETENTION_MS',
      'must be -1 (forever) or a whole number of milliseconds ≥ 1',
      retentionText ?? '',
    );
  }
  const functionPrefix = env.JUNCTION_FUNCTION_PREFIX ?? functionPrefixOf(busName);
  if (!/^[a-zA-Z0-9_-]{0,40}$/.test(functionPrefix)) {
    throw bad('JUNCTION_FUNCTION_PREFIX', 'must be up to 40 of a-z A-Z 0-9 _ -', functionPrefix);
  }
  const arnRegion = kafkaClusterArn?.split(':')[3];
  const otlp = otlpTarget(undefined, env);
  return {
    busName,
    tablePrefix,
    kafkaClusterArn,
    kafkaTopic,
    kafkaBootstrap,
    kafkaReplication,
    kafkaRetentionMs,
    functionPrefix,
    functionRoleArn: nonEmpty(env.JUNCTION_FUNCTION_ROLE_ARN),
    dynamodbEndpoint: nonEmpty(env.JUNCTION_DYNAMODB_ENDPOINT),
    lambdaEndpoint: nonEmpty(env.JUNCTION_LAMBDA_ENDPOINT),
    region: nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? arnRegion ?? 'us-east-1',
    ...(nonEmpty(env.JUNCTION_HTTP_TARGETS_ALLOW) === undefined
      ? {}
      : { httpTargetsAllow: (env.JUNCTION_HTTP_TARGETS_ALLOW as string).split(',').map((a) => a.trim()) }),
    ...(otlp === undefined ? {} : { otlp }),
  };
}

/** The brokers to connect to: the configured list, else the cluster's IAM brokers from GetBootstrapBrokers. */
export async function resolveBootstrap(config: AwsConfig, kafka?: KafkaClient): Promise<string[]> {
  if (config.kafkaBootstrap !== undefined) return [...config.kafkaBootstrap];
  const client = kafka ?? new KafkaClient({ region: config.region });
  try {
    const answer = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: config.kafkaClusterArn }));
    const list = answer.BootstrapBrokerStringSaslIam ?? answer.BootstrapBrokerStringPublicSaslIam;
    if (list === undefined || list === '') {
      throw new JunctionError(
        'BufferUnavailable',
        `MSK cluster ${config.kafkaClusterArn} has no IAM bootstrap brokers (is IAM auth enabled on it?)`,
        { retriable: false },
      );
    }
    return list.split(',').map((b) => b.trim());
  } catch (error) {
    if (error instanceof JunctionError) throw error;
    throw new JunctionError(
      'BufferUnavailable',
      `GetBootstrapBrokers for ${config.kafkaClusterArn} failed: ${(error as Error).message}`,
      { retriable: true, cause: error },
    );
  } finally {
    if (kafka === undefined) client.destroy();
  }
}

/** What the handlers use. */
export interface HandlerRuntime {
  readonly junction: Junction;
  /** The HTTP API of CONTRACT.md (ingest and management). */
  readonly app: App;
  readonly deadLetters: DeadLetters;
  readonly traces: TraceStore;
  /** Writes the engine's counters as CloudWatch EMF records after each invocation. @default none */
  readonly emf?: EmfPublisher;
  /** Spans of the invocation, flushed before it returns (Lambda freezes the process after). @default none */
  readonly tracer?: Tracer;
  /**
   * Reloads the schema registry when it is older than its refresh interval: the router and scheduler handlers call
   * it before their work, since the events they publish (functions', forwarded, scheduled) are checked against it.
   * @default none
   */
  readonly freshenSchemas?: () => Promise<void>;
}

export interface AwsRuntime extends HandlerRuntime {
  readonly config: AwsConfig;
  readonly log: EventLog;
  readonly stores: DynamoStores;
  readonly functions: LambdaRunner;
  /** The schema registry, enforced at ingest (docs/schemas.md). */
  readonly schemas: Schemas;
  /** Stops the engine and closes the log, the stores and the clients (tests; Lambda just freezes). */
  close(): Promise<void>;
}

export interface AwsRuntimeOptions {
  /** @default systemClock */
  readonly clock?: Clock;
  /** Where errors no caller receives go. @default console.error */
  readonly onError?: (error: unknown) => void;
  /** Overrides the Kafka control-plane client (tests). @default a KafkaClient for the region */
  readonly kafkaClient?: KafkaClient;
  /** How often the rule store polls DynamoDB for rule changes. @default 1000 */
  readonly rulePollMs?: number;
  /**
   * The schema registry is reloaded from DynamoDB before a request when it was last loaded longer ago than this
   * (ms), and before every change to it; so an instance enforces what another registered within this time.
   * @default 1000
   */
  readonly schemaRefreshMs?: number;
  /** Traces with this tracer instead of the one `config.otlp` names (tests). */
  readonly tracer?: Tracer;
}

/** The tracer `config.otlp` names (the OpenTelemetry SDK loaded only then), else the no-op tracer. */
async function awsTracer(config: AwsConfig): Promise<Tracer> {
  if (config.otlp === undefined) return noopTracer;
  const { tracerFor } = await import('../otel/index.ts');
  return tracerFor(config.otlp, { flushTimeoutMs: OTLP_FLUSH_TIMEOUT_MS });
}

/** Builds the engine for the configuration: Kafka log, DynamoDB stores, Lambda functions, HTTP targets. */
export async function createAwsRuntime(
  config: AwsConfig,
  options: AwsRuntimeOptions = {},
): Promise<AwsRuntime> {
  const onError = options.onError ?? ((error: unknown) => console.error('junction:', error));
  const dynamo: DynamoDBClient = createDynamoClient({
    region: config.region,
    ...(config.dynamodbEndpoint === undefined ? {} : { endpoint: config.dynamodbEndpoint }),
  });
  const stores = createDynamoStores({
    client: dynamo,
    tablePrefix: config.tablePrefix,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.rulePollMs === undefined ? {} : { rulePollMs: options.rulePollMs }),
  });
  const closers: Array<() => Promise<void>> = [
    async () => {
      await stores.close();
      dynamo.destroy();
    },
  ];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(onError);
  };
  try {
    const tracer = options.tracer ?? (await awsTracer(config));
    closers.push(() => tracer.close());
    const bootstrap = await resolveBootstrap(config, options.kafkaClient);
    const connection: KafkaEventLogOptions = {
      bootstrap,
      topic: config.kafkaTopic,
      replication: config.kafkaReplication,
      ...(config.kafkaRetentionMs === undefined ? {} : { retentionMs: config.kafkaRetentionMs }),
      dedup: stores.dedup,
      clientId: 'junction-lambda',
      onWarning: (message, error) => onError(error ?? new Error(message)),
      ...(config.kafkaClusterArn === undefined
        ? {}
        : { sasl: { mechanism: 'AWS_MSK_IAM', region: config.region } }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    };
    const log = await createKafkaEventLog(connection);
    closers.push(() => log.close());
    // `kafka` targets that name no brokers produce to this cluster, with the same IAM auth.
    const kafkaTargets = createKafkaTargetDriver({ connection, clientId: 'junction-lambda-targets' });
    closers.push(async () => kafkaTargets.close?.());
    const functions = createLambdaRunner({
      region: config.region,
      prefix: config.functionPrefix,
      busName: config.busName,
      ...(config.lambdaEndpoint === undefined ? {} : { endpoint: config.lambdaEndpoint }),
      ...(config.functionRoleArn === undefined ? {} : { roleArn: config.functionRoleArn }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    closers.push(() => functions.close());
    // One outbound address policy for every target that connects somewhere, as on the embedded bus: the router
    // runs in the VPC, so private ranges are refused unless JUNCTION_HTTP_TARGETS_ALLOW lists them.
    const addressPolicy = createAddressPolicy({ allow: config.httpTargetsAllow ?? [] });
    const http = createHttpDriver({
      addressPolicy,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    // `postgres` targets (the PostgreSQL sink): a pool per connection string, kept while the instance is warm.
    const postgres = createPostgresTargetDriver({ addressPolicy });
    closers.push(async () => postgres.close?.());
    const metrics = new Metrics();
    // The registry before the engine: the engine checks every event entering the bus against it (docs/schemas.md).
    const schemas = new Schemas({
      store: stores.schemas,
      metrics,
      clock: options.clock ?? systemClock,
      traces: stores.traces,
      onError,
    });
    await schemas.start();
    // Discovery keeps its drafts in memory and would race other instances' writes of the same draft: off on AWS;
    // `/schemas/discovered` serves the drafts table (docs/schemas.md#discovery).
    const discovery = new SchemaDiscovery({
      store: stores.drafts,
      metrics,
      clock: options.clock ?? systemClock,
      schemas,
      enabled: false,
      onError,
    });
    await discovery.start();
    closers.push(() => discovery.close());
    const junction = await Junction.open({
      // The stores' rules, ledger, deadLetters and traces (their extra members are not the engine's).
      ...stores,
      // Lambda instances share the partitions' aggregation and correlation state (DynamoDB): it is read at each batch.
      movingPartitions: true,
      log,
      functions,
      drivers: { http, bus: http, kafka: kafkaTargets, postgres },
      checkTarget: targetChecker(addressPolicy),
      onError,
      metrics,
      schemas,
      discovery,
      busName: config.busName,
      ...(tracer.enabled
        ? {
            tracer: scopedTracer(tracer, {
              'junction.bus.name': config.busName,
              'messaging.destination.name': config.busName,
            }),
          }
        : {}),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    closers.push(async () => {
      await junction.stop();
    });
    const serve = createApp({
      junction,
      schemas,
      discovery,
      busName: config.busName,
      onError,
      // The live tail as a long poll: the api handler answers each GET /events/tail with one window of it.
      extensions: createReplayExtensions({ junction, log, tail: {} }),
    });
    const refresher = schemaRefresher(
      schemas,
      options.schemaRefreshMs ?? 1000,
      options.clock ?? systemClock,
      onError,
    );
    const app = withFreshSchemas(serve, schemas, refresher, onError);
    return {
      config,
      junction,
      app,
      freshenSchemas: () => refresher.fresh(),
      emf: createEmfPublisher(junction.metrics, { serviceName: config.busName }),
      ...(tracer.enabled ? { tracer } : {}),
      schemas,
      log,
      stores,
      functions,
      deadLetters: stores.deadLetters,
      traces: stores.traces,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Memoizes an async factory: the first call builds, later calls share the result. A failed build is forgotten,
 * so the next invocation of a warm Lambda tries again instead of failing forever.
 */
export function lazy<T>(factory: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= factory().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** The runtime of this Lambda instance, built from `process.env` on first use. */
export const awsRuntime: () => Promise<AwsRuntime> = lazy(() => createAwsRuntime(readAwsConfig(process.env)));
