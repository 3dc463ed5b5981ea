/** The `JunctionBus` L3 construct: Junction on AWS (API Gateway, MSK, DynamoDB, Lambda) in one construct. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  type CfnElement,
  CustomResource,
  Duration,
  RemovalPolicy,
  Stack,
  Tags,
  Token,
} from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventsTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, DependencyGroup, type IDependable } from 'constructs';
import {
  DEFAULT_TABLE_PREFIX,
  type StoreName,
  TABLES,
  type TableDefinition,
} from '../adapters/dynamodb/tables.ts';
import { isOtlpProtocol, type OtlpProtocol } from '../adapters/otel/config.ts';
import { BUS_NAME, DEFAULT_BUS } from '../core/bus.ts';
import { createAddressPolicy } from '../core/net/address-policy.ts';
import type { ApiAuth } from './api-auth.ts';
import type { ApiDomainOptions } from './api-domain.ts';
import {
  type BusMetricOptions,
  busMetrics,
  type IJunctionBus,
  ImportedJunctionBus,
  type JunctionBusAttributes,
} from './bus-api.ts';
import { consoleAssetCommands } from './console-assets.ts';
import {
  type ApiType,
  type IngestAuthorization,
  JunctionFrontDoor,
  type RestApiOptions,
  type ThrottleOptions,
} from './front-door.ts';
import { createHandlerFunction, grantJunctionTables } from './handler-function.ts';
import { JunctionRule, type JunctionRuleOptions } from './junction-rule.ts';
import {
  type IJunctionKafkaCluster,
  JunctionKafkaCluster,
  type KafkaClusterType,
  kafkaProducerStatements,
  type ProvisionedKafkaOptions,
  privateSubnetType,
} from './kafka-cluster.ts';
import { addKafkaSources, type KafkaSourceProps } from './kafka-sources.ts';
import { acknowledgeNag, acknowledgeProviderNag, nagGetAtt } from './nag.ts';
import { JunctionNetwork, type JunctionNetworkProps } from './network.ts';
import { type AlarmOptions, createAlarms, createDashboard } from './operations.ts';
import {
  discoverFunctions,
  FUNCTION_TAG,
  functionPrefixOf,
  kafkaClusterNameOf,
  MANAGED_TAG,
  managedTagValue,
  validateFunctionName,
  writeWrapper,
} from './user-functions.ts';

/**
 * The Lambda functions of Junction (entry points in `functions/`): the four handlers, and `topic`, the deploy-time
 * custom resource that creates the events topic.
 */

/** The brokers of the `production` profile: non-burstable, 100 GiB growing to 1,000 GiB. */
const PRODUCTION_KAFKA: ProvisionedKafkaOptions = {
  instanceType: 'kafka.m7g.large',
  volumeSizeGiB: 100,
  storageAutoScaling: { maxVolumeSizeGiB: 1000 },
};
export type HandlerName = 'ingest' | 'router' | 'api' | 'scheduler' | 'topic' | 'rule';

export const HANDLER_NAMES: readonly HandlerName[] = [
  'ingest',
  'router',
  'api',
  'scheduler',
  'topic',
  'rule',
];

/** The events topic as the deploy-time custom resource creates it (`Custom::JunctionKafkaTopic`). */
export interface EventsTopicOptions {
  /** Partitions (1–10000; can grow on a later deploy, never shrink). @default 6 */
  readonly partitions?: number;
  /**
   * Replicas of each partition (fixed once created: another value fails the deploy, see docs/aws.md).
   * @default min(3, brokers) of a cluster we create (2 by default), else the cluster's `default.replication.factor`
   */
  readonly replicationFactor?: number;
  /**
   * `min.insync.replicas`: replicas that must have an event before it is acknowledged (ingest writes with
   * acks=all). @default replicationFactor − 1 (at least 1), or the cluster's default when the factor is
   */
  readonly minInsyncReplicas?: number;
}

/** The project root of this package (where `functions/` and `package-lock.json` are). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The default bus's router consumer group on its topic (the event source mapping's `kafkaConsumerGroupId`). */
export const ROUTER_CONSUMER_GROUP = 'junction-router';

/** The default bus's events topic. */
export const DEFAULT_TOPIC = 'junction-events';

/** The names a bus's resources get unless its props say otherwise. */
export interface BusResourceNames {
  /** `<topic>` for the default bus, `<topic>.<bus>` for another (as a named bus's topic on Kafka, docs/kafka.md). */
  readonly topic: string;
  /** `<tablePrefix>` for the default bus, `<tablePrefix>.<bus>` for another: the tables are `<prefix>-<store>`. */
  readonly tablePrefix: string;
  /** `junction-router`, or `junction-router.<bus>`. */
  readonly consumerGroup: string;
  /** `junction-fn-`, or `jfn-<hash>-` (see `functionPrefixOf`). */
  readonly functionPrefix: string;
}

/**
 * The default names of a bus's topic, tables, consumer group and user functions, from the default bus's topic and
 * table prefix: the default bus keeps the names of a one-bus deployment, every other bus gets its own after a `.`.
 */
export function busResourceNames(
  busName: string,
  topic = DEFAULT_TOPIC,
  tablePrefix = DEFAULT_TABLE_PREFIX,
): BusResourceNames {
  if (busName === DEFAULT_BUS) {
    return {
      topic,
      tablePrefix,
      consumerGroup: ROUTER_CONSUMER_GROUP,
      functionPrefix: functionPrefixOf(busName),
    };
  }
  return {
    topic: `${topic}.${busName}`,
    tablePrefix: `${tablePrefix}.${busName}`,
    consumerGroup: `${ROUTER_CONSUMER_GROUP}.${busName}`,
    functionPrefix: functionPrefixOf(busName),
  };
}

/** How the router Lambda consumes the topic (the MSK event source mapping). */
export interface RouterOptions {
  /** Records per invocation (1–10000). @default 100 */
  readonly batchSize?: number;
  /**
   * How long the mapping gathers records before invoking (whole seconds, 0–300). Low latency needs 0 with
   * provisioned pollers.
   * @default Lambda's default for Kafka, 500 ms
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Provisioned mode: dedicated event pollers (each about 5 MB/s or 5 concurrent invocations), billed per poller.
   * @default on-demand mode (Lambda scales pollers from the offset lag, evaluated every minute)
   */
  readonly provisionedPollers?: { readonly minimum: number; readonly maximum?: number };
  /** Retries of a failed batch before it goes to the failure bucket (provisioned mode only). @default Lambda's default */
  readonly retryAttempts?: number;
  /** Where a new mapping starts reading. @default lambda.StartingPosition.TRIM_HORIZON */
  readonly startingPosition?: lambda.StartingPosition;
  /** The router function's timeout (at most 14 minutes for Kafka mappings). @default 2 minutes */
  readonly timeout?: Duration;
  /** @default 1024 */
  readonly memorySize?: number;
}

/** OpenTelemetry spans from the four handlers (docs/tracing.md#on-aws). */
export interface TracingOptions {
  /**
   * The OTLP/HTTP endpoint's base URL (`/v1/traces` is added): `http://localhost:4318` with an OpenTelemetry
   * collector running as a Lambda extension (see `layers`), or a collector the handlers reach from their subnets.
   */
  readonly otlpEndpoint: string;
  /**
   * `http/json`, `http/protobuf`, or `grpc` (then `otlpEndpoint` is the collector's gRPC URL, e.g.
   * `http://localhost:4317`, used as it is). @default 'http/json'
   */
  readonly protocol?: OtlpProtocol;
  /** `service.name` of the spans. @default 'junction' */
  readonly serviceName?: string;
  /**
   * Layers added to the four handlers, e.g. the AWS Distro for OpenTelemetry collector layer, which receives OTLP
   * on localhost:4318 and forwards to X-Ray or any back end its configuration names. @default none
   */
  readonly layers?: lambda.ILayerVersion[];
}

/** Options of one user function. */
export interface UserFunctionOptions {
  /** @default 256 */
  readonly memorySize?: number;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** Extra environment variables. @default none */
  readonly environment?: Record<string, string>;
  /** @default 'Junction user function <name>' */
  readonly description?: string;
}

export interface JunctionBusProps {
  /**
   * The bus's name: 1-64 of `[A-Za-z0-9._-]`, starting with a letter or digit. It names the bus's topic, tables,
   * consumer group and user functions (see `busResourceNames`), and its EventBridge management calls must name it
   * as `EventBusName` (`JUNCTION_BUS`). Several buses share one stack, cluster and VPC: see `JunctionStack`'s
   * `buses`.
   * @default 'default'
   */
  readonly busName?: string;
  /**
   * `retention.ms` of the bus's topic, set at deploy time by the topic custom resource (on an existing topic too);
   * 1 minute to 3650 days.
   * @default the cluster's `log.retention.*` (7 days on MSK)
   */
  readonly retention?: Duration;
  /** Partitions, replication and `min.insync.replicas` of the events topic. @default see `EventsTopicOptions` */
  readonly eventsTopic?: EventsTopicOptions;
  /**
   * Run in a `JunctionNetwork` another bus created (its VPC, and its endpoints, which this bus's handlers are let
   * into). Excludes `vpc` and `network`.
   * @default a new `JunctionNetwork`, unless `vpc` is given
   */
  readonly sharedNetwork?: JunctionNetwork;
  /**
   * Bring your own VPC: the functions and the Kafka cluster go into `vpcSubnets`. Your VPC must route to
   * DynamoDB and Lambda (NAT or endpoints).
   * @default a new `JunctionNetwork` (2 AZs, no NAT, VPC endpoints)
   */
  readonly vpc?: ec2.IVpc;
  /** Settings of the VPC we create (ignored with `vpc`). @default the defaults of `JunctionNetworkProps` */
  readonly network?: JunctionNetworkProps;
  /** The subnets of the functions (and of a cluster we create). @default the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Bring your own MSK cluster (IAM auth): `JunctionKafkaCluster.fromClusterAttributes(…)`. @default a new cluster */
  readonly kafkaCluster?: IJunctionKafkaCluster;
  /**
   * The type of the cluster we create (named `kafkaClusterNameOf(busName)`: `junction`, or `junction-<hash>`).
   * @default 'provisioned' (2 × kafka.t3.small; see docs/aws-costs.md)
   */
  readonly kafkaClusterType?: KafkaClusterType;
  /** Sizing of a provisioned cluster we create. @default the defaults of `ProvisionedKafkaOptions` */
  readonly provisionedKafka?: ProvisionedKafkaOptions;
  /**
   * `development`: the cheap default (2 AZs, 2 `kafka.t3.small` brokers with 10 GiB, replication factor 2). `production`
   * (docs/aws.md, "Profiles"): 3 AZs, 3 `kafka.m7g.large` brokers with 100 GiB that grow up to 1,000 GiB (storage auto
   * scaling at 60%), so the events topic gets replication factor 3 and `min.insync.replicas` 2. Explicit `network`,
   * `provisionedKafka` and `eventsTopic` settings win over the profile's. @default 'development'
   */
  readonly profile?: 'development' | 'production';
  /** The topic every event is appended to. @default 'junction-events', or 'junction-events.<busName>' */
  readonly topic?: string;
  /** Topics that `kafka` targets may write to (besides the events topic). @default none */
  readonly targetTopics?: string[];
  /**
   * Table names are `<tablePrefix>-<suffix>` (`lib/adapters/dynamodb/tables.ts`).
   * @default 'junction', or 'junction.<busName>'
   */
  readonly tablePrefix?: string;
  /**
   * What happens to the tables and the failure bucket when the stack is deleted or they are replaced. The default
   * keeps them, except when the stack's first deploy fails (CloudFormation's `RetainExceptOnCreate`): a failed
   * first deploy (MSK takes 30–40 minutes and can fail) leaves no tables behind to collide with the next try.
   * @default RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Turn on DynamoDB deletion protection on the bus's tables (they cannot be deleted until it is off). @default false */
  readonly deletionProtection?: boolean;
  /** @default 'http' */
  readonly apiType?: ApiType;
  /** Who may publish. @default 'iam' (SigV4; see `grantPublish`) */
  readonly ingestAuthorization?: IngestAuthorization;
  /** Stage throttling. @default { rateLimit: 1000, burstLimit: 2000 } */
  readonly throttle?: ThrottleOptions;
  /** Only with `apiType: 'rest'`. @default no API keys, no web ACL */
  readonly restApi?: RestApiOptions;
  /** @default the defaults of `RouterOptions` */
  readonly router?: RouterOptions;
  /** How often the scheduler runs due retries (1 minute or more). @default 1 minute */
  readonly schedulerRate?: Duration;
  /**
   * Let the `api` function create and update user functions (PUT /functions/{name}). Off by default: the handler
   * bundle carries no esbuild binary, so deploys go through the CLI (`deployRole`); GET and DELETE work either way.
   * @default false
   */
  readonly apiDeploysFunctions?: boolean;
  /**
   * Let the handlers open connections to any address and port (HTTP targets on ports other than 443, e.g.
   * `http://…:8080` inside your network).
   * @default false: HTTPS (443) anywhere and Kafka (9098) to the cluster only
   */
  readonly handlersAllowAllOutbound?: boolean;
  /** A folder whose `*.ts` files each become a user function `<functionPrefix><file name>`. @default none */
  readonly functionsDir?: string;
  /**
   * Entry files of the handlers, for tests and forks.
   * @default `functions/<name>.ts` of this package
   */
  readonly handlerEntries?: Partial<Record<HandlerName, string>>;
  /** The project root for bundling (holds the lock file). @default this package's root */
  readonly projectRoot?: string;
  /** Log retention of every function and access log. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default lambda.Architecture.ARM_64 */
  readonly architecture?: lambda.Architecture;
  /**
   * Who may assume `deployRole` (the CLI, with the deployer's own credentials: `junction functions deploy --aws`).
   * Given, it is trusted as is. By default the role trusts this account's principals **that carry the IAM tag
   * `junction:deployer=<busName>`** (`aws:PrincipalTag` condition): an administrator opts each deployer in by
   * tagging its user or role, and a principal of the account that may assume any role cannot use it untagged.
   * @default this account, only principals tagged `junction:deployer=<busName>`
   */
  readonly deployRolePrincipal?: iam.IPrincipal;
  /**
   * CloudWatch alarms of the bus (router lag, handler errors and throttles, API 5xx, table throttles; broker disk
   * and CPU credits of a cluster the bus creates) to an SNS topic; `false` for none. See docs/aws.md, "Alarms".
   * @default on, to one SNS topic per stack (`JunctionAlarms`)
   */
  readonly alarms?: AlarmOptions | false;
  /**
   * A CloudWatch dashboard of the bus (events, deliveries, dead letters, router lag, handler errors, throttles and
   * p99 duration, API 5xx); `false` for none. @default on
   */
  readonly dashboard?: boolean;
  /**
   * Concurrency reserved for `ingest` and `api`: it also caps them, so that a burst of publishes or API calls
   * cannot take the whole account's concurrency from the router, the scheduler and user functions. Each value
   * comes out of the account's unreserved pool, which Lambda keeps at 100 or more (a deploy that would leave
   * less fails), so it is off by default.
   * @default none (the account's unreserved pool)
   */
  readonly reservedConcurrency?: { readonly ingest?: number; readonly api?: number };
  /**
   * OpenTelemetry spans (ingest → route → each delivery attempt, continuing the producer's `traceparent`) exported
   * over OTLP/HTTP by the four handlers, flushed before each invocation returns. @default off (the SDK not loaded)
   */
  readonly tracing?: TracingOptions;
  /**
   * Kafka topics read into the bus's log, each by a `connector` function on a Kafka event source mapping (the
   * embedded bus's `kafka` connector on Lambda; docs/connectors.md#on-aws). @default none
   */
  readonly kafkaSources?: readonly KafkaSourceProps[];
  /**
   * Private addresses or CIDR blocks (`10.0.0.0/16`) that `http`, `bus` and `postgres` targets may reach although the
   * outbound address policy refuses private ranges — a database or service in the VPC (docs/aws.md): sets
   * `JUNCTION_HTTP_TARGETS_ALLOW` on the handlers. @default none
   */
  readonly targetsAllow?: readonly string[];

  // --- awsconsole: management auth (JWT / Cognito) -------------------------------------------------------------
  /**
   * How callers of the management API (and the web console) authenticate: `{ type: 'iam' }` (SigV4), `{ type:
   * 'jwt', issuer, audience }` (HTTP API only) or `{ type: 'cognito' }`. The api function enforces the token's
   * scopes. Publishing keeps `ingestAuthorization`. See docs/aws.md, "The console on AWS".
   * @default { type: 'iam' }
   */
  readonly auth?: ApiAuth;
  /**
   * A custom domain for the API: `{ name, certificate, hostedZone? }` (a regional ACM certificate; with a zone, the
   * A and AAAA alias records). `apiUrl` stays the execute-api URL; `domainUrl` is `https://<name>/`.
   * @default none
   */
  readonly domain?: ApiDomainOptions;
  // --- end awsconsole ------------------------------------------------------------------------------------------

  // --- CDK-native overrides (issue #15, in the style of AWS Solutions Constructs) ---
  /**
   * Settings of the bus's DynamoDB tables (all of them). `encryptionKey` here wins over the bus's `encryptionKey`.
   * @default on-demand billing, point-in-time recovery on, the AWS-owned key (or `encryptionKey`)
   */
  readonly tableProps?: JunctionTableProps;
  /**
   * A customer-managed KMS key for the bus's tables, its log groups (functions, API access logs, cluster broker
   * logs) and the alarm topic it creates. A key of this app gets the key-policy statements CloudWatch Logs and
   * CloudWatch alarms need; an imported key must already allow them (docs/aws.md, "Overrides").
   * @default AWS-managed encryption
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Memory, timeout and extra environment of the four handlers. `environment` adds variables (e.g.
   * `JUNCTION_HTTP_TARGETS_ALLOW`); it cannot replace one the construct sets.
   * @default ingest 512 MB / 29 s, router 1024 MB / 2 min (or `router`), api 1024 MB / 29 s, scheduler 512 MB / 55 s
   */
  readonly functionProps?: Partial<Record<'ingest' | 'router' | 'api' | 'scheduler', HandlerFunctionProps>>;
}

/** The handlers' environment for `targetsAllow`; throws on an entry that is no address or CIDR block. */
function targetsAllowEnvironment(allow: readonly string[] | undefined): Record<string, string> {
  if (allow === undefined || allow.length === 0) return {};
  for (const [i, entry] of allow.entries()) {
    try {
      createAddressPolicy({ allow: [entry] });
    } catch {
      throw new Error(
        `JunctionBus: targetsAllow[${i}] must be an IP address or a CIDR block, got ${JSON.stringify(entry)}`,
      );
    }
  }
  return { JUNCTION_HTTP_TARGETS_ALLOW: allow.join(',') };
}

/** The handlers' environment for `tracing` (read by lib/adapters/aws/wiring.ts). Throws on an endpoint that is no URL. */
function tracingEnvironment(tracing: TracingOptions | undefined): Record<string, string> {
  if (tracing === undefined) return {};
  const endpoint = tracing.otlpEndpoint;
  if (!Token.isUnresolved(endpoint)) {
    let protocol = '';
    try {
      protocol = new URL(endpoint).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new Error(
        `JunctionBus: tracing.otlpEndpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`,
      );
    }
  }
  const protocol = tracing.protocol;
  if (protocol !== undefined && !isOtlpProtocol(protocol)) {
    throw new Error(
      `JunctionBus: tracing.protocol must be http/json, http/protobuf or grpc, got ${JSON.stringify(protocol)}`,
    );
  }
  return {
    JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    ...(protocol === undefined ? {} : { JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL: protocol }),
    OTEL_SERVICE_NAME: tracing.serviceName ?? 'junction',
  };
}

/** `JunctionBusProps.tableProps`. */
export interface JunctionTableProps {
  /** @default dynamodb.Billing.onDemand() */
  readonly billing?: dynamodb.Billing;
  /** @default true */
  readonly pointInTimeRecovery?: boolean;
  /** A customer-managed key for the tables. @default the bus's `encryptionKey`, else the AWS-owned key */
  readonly encryptionKey?: kms.IKey;
}

/** `JunctionBusProps.functionProps` of one handler. */
export interface HandlerFunctionProps {
  /** 128–10240 MB. */
  readonly memorySize?: number;
  /** At most 15 minutes (the router: 14, the limit of Kafka mappings). */
  readonly timeout?: Duration;
  /** Added to the construct's variables, which it cannot replace. */
  readonly environment?: Record<string, string>;
}

/** The IAM tag a principal needs (with the bus's name as value) to assume a bus's default `deployRole`. */
export const DEPLOYER_TAG = 'junction:deployer';

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const MINUTE_MS = 60_000;
const MAX_RETENTION_MS = 3650 * 86_400_000;
const TABLE_PREFIX = /^[a-zA-Z0-9_.-]{1,200}$/;

/** Junction on AWS: ingest behind API Gateway, MSK as the log, the router on an MSK event source mapping, DynamoDB. */
export class JunctionBus extends Construct implements IJunctionBus {
  /** The bus's name (`JUNCTION_BUS`). */
  readonly busName: string;
  readonly vpc: ec2.IVpc;
  /** The network the bus runs in: the one we created, or `sharedNetwork`; none with `vpc`. */
  readonly network?: JunctionNetwork;
  readonly kafkaCluster: IJunctionKafkaCluster;
  readonly topic: string;
  /** `retention.ms` of the topic when a handler creates it. @default the cluster's default */
  readonly retention?: Duration;
  /** The router's consumer group on the topic (the event source mapping's). */
  readonly consumerGroup: string;
  readonly tablePrefix: string;
  private readonly deletionProtection: boolean;
  /** The Lambda name prefix of the bus's user functions (`JUNCTION_FUNCTION_PREFIX`); IAM is scoped to it. */
  readonly functionPrefix: string;
  readonly tables: Readonly<Record<StoreName, dynamodb.TableV2>>;
  readonly ingestFunction: nodejs.NodejsFunction;
  readonly routerFunction: nodejs.NodejsFunction;
  readonly apiFunction: nodejs.NodejsFunction;
  readonly schedulerFunction: nodejs.NodejsFunction;
  /** The deploy-time custom resource handler that creates and updates the events topic (`functions/topic.ts`). */
  readonly topicFunction: nodejs.NodejsFunction;
  /** The events topic as a CloudFormation resource (`Custom::JunctionKafkaTopic`); deleting it keeps the topic. */
  readonly eventsTopicResource: CustomResource;
  /** The security group of the four handlers (allowed into the cluster on 9098). */
  readonly functionSecurityGroup: ec2.SecurityGroup;
  readonly frontDoor: JunctionFrontDoor;
  /** The invoke URL of the API. */
  readonly apiUrl: string;
  /** awsconsole: `https://<domain.name>/` when `domain` was given. */
  readonly domainUrl?: string;
  /** Batches the router could not process (the event source mapping's on-failure destination). */
  readonly failureBucket: s3.Bucket;
  readonly eventSourceMapping: lambda.EventSourceMapping;
  readonly schedule: events.Rule;
  /** The execution role of every user function (`JUNCTION_FUNCTION_ROLE_ARN`, passed by the CLI). */
  readonly functionRole: iam.Role;
  /**
   * A role that deploys user functions (`junction functions deploy --aws`): by default assumable by this account's
   * principals tagged `junction:deployer=<busName>` (see `deployRolePrincipal`).
   */
  readonly deployRole: iam.Role;
  /** `host:9098,…` of the cluster's IAM listener (`JUNCTION_KAFKA_BOOTSTRAP`). */
  readonly bootstrapBrokers: string;
  /** User functions created by this construct, by name. */
  readonly userFunctions: ReadonlyMap<string, nodejs.NodejsFunction>;
  /** The bus's alarms (empty with `alarms: false`). */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The connector function of each `kafkaSources` entry, by its name. */
  readonly kafkaSourceFunctions: ReadonlyMap<string, nodejs.NodejsFunction>;
  /** Where the alarms go (undefined with `alarms: false`). */
  readonly alarmTopic?: sns.ITopic;
  /** The bus's CloudWatch dashboard (absent with `dashboard: false`). */
  readonly dashboard?: cloudwatch.Dashboard;
  /** What a `JunctionRule` waits for: the api function with its role, the tables and the events topic. */
  readonly ruleDependencies: IDependable;
  /** The customer-managed key of `encryptionKey`, if any. */
  readonly encryptionKey?: kms.IKey;
  private readonly tableProps: JunctionTableProps;
  private readonly ruleEntry: string;
  private readonly metrics: ReturnType<typeof busMetrics>;

  private readonly functions = new Map<string, nodejs.NodejsFunction>();
  private readonly projectRoot: string;
  private readonly logRetention: logs.RetentionDays;
  private readonly architecture: lambda.Architecture;
  private readonly apiDeploysFunctions: boolean;

  constructor(scope: Construct, id: string, props: JunctionBusProps = {}) {
    super(scope, id);
    validateProps(props);
    this.busName = props.busName ?? DEFAULT_BUS;
    const names = busResourceNames(this.busName);
    this.topic = props.topic ?? names.topic;
    this.tablePrefix = props.tablePrefix ?? names.tablePrefix;
    this.consumerGroup = names.consumerGroup;
    this.functionPrefix = names.functionPrefix;
    if (props.retention !== undefined) this.retention = props.retention;
    this.projectRoot = resolve(props.projectRoot ?? PACKAGE_ROOT);
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    this.architecture = props.architecture ?? lambda.Architecture.ARM_64;
    this.userFunctions = this.functions;
    this.apiDeploysFunctions = props.apiDeploysFunctions ?? false;
    // CDK-native overrides (issue #15)
    this.tableProps = props.tableProps ?? {};
    if (props.encryptionKey !== undefined) this.encryptionKey = props.encryptionKey;
    this.metrics = busMetrics(this.busName);

    // Network
    const production = props.profile === 'production';
    if (props.vpc !== undefined) {
      this.vpc = props.vpc;
    } else if (props.sharedNetwork !== undefined) {
      this.network = props.sharedNetwork;
      this.vpc = this.network.vpc;
    } else {
      this.network = new JunctionNetwork(this, 'Network', {
        ...(production ? { maxAzs: 3 } : {}),
        ...props.network,
      });
      this.vpc = this.network.vpc;
      if (production && props.network?.maxAzs === undefined && this.vpc.availabilityZones.length < 3) {
        throw new Error(
          `JunctionBus: the production profile spreads brokers over 3 availability zones, but this stack knows ${this.vpc.availabilityZones.length}: give the stack an env (account and region; an environment-agnostic stack sees 2), or set network.maxAzs`,
        );
      }
    }
    const subnets = props.vpcSubnets ?? { subnetType: privateSubnetType(this.vpc) };

    // Kafka
    this.kafkaCluster =
      props.kafkaCluster ??
      new JunctionKafkaCluster(this, 'Kafka', {
        vpc: this.vpc,
        vpcSubnets: subnets,
        clusterName: kafkaClusterNameOf(this.busName),
        clusterType: props.kafkaClusterType ?? 'provisioned',
        ...(props.provisionedKafka !== undefined || (production && props.kafkaClusterType !== 'serverless')
          ? { provisioned: { ...(production ? PRODUCTION_KAFKA : {}), ...props.provisionedKafka } }
          : {}),
        logRetention: this.logRetention,
      });
    this.bootstrapBrokers = this.kafkaCluster.bootstrapBrokers ?? this.lookUpBootstrapBrokers();

    // Tables
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;
    this.deletionProtection = props.deletionProtection ?? false;
    const tables: Partial<Record<StoreName, dynamodb.TableV2>> = {};
    for (const [store, definition] of Object.entries(TABLES) as [StoreName, TableDefinition][]) {
      tables[store] = this.createTable(store, definition, removalPolicy);
    }
    this.tables = tables as Record<StoreName, dynamodb.TableV2>;

    // Roles for user functions
    this.functionRole = this.createFunctionRole();
    this.deployRole = new iam.Role(this, 'DeployRole', {
      assumedBy:
        props.deployRolePrincipal ??
        new iam.AccountRootPrincipal().withConditions({
          StringEquals: { [`aws:PrincipalTag/${DEPLOYER_TAG}`]: this.busName },
        }),
      description: `Deploys Junction user functions (${this.functionPrefix}*): junction functions deploy --aws`,
    });
    this.grantDeployFunctions(this.deployRole);

    // Handlers
    const allOutbound = props.handlersAllowAllOutbound ?? false;
    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSecurityGroup', {
      vpc: this.vpc,
      description: allOutbound
        ? 'Junction handlers: all outbound (HTTP targets on any port)'
        : 'Junction handlers: Kafka (9098) and HTTPS out',
      allowAllOutbound: allOutbound,
    });
    if (!allOutbound) {
      this.functionSecurityGroup.addEgressRule(
        ec2.Peer.anyIpv4(),
        ec2.Port.tcp(443),
        'HTTPS: endpoints, targets',
      );
    }
    this.functionSecurityGroup.connections.allowTo(
      this.kafkaCluster,
      this.kafkaCluster.connections.defaultPort!,
    );
    this.network?.allowEndpointAccess(this.functionSecurityGroup, 'Junction handlers to Lambda and STS');
    this.network?.allowEndpointAccess(
      this.kafkaCluster,
      'MSK event source mapping (on-demand) to Lambda and STS',
    );

    const environment: Record<string, string> = {
      JUNCTION_BUS: this.busName,
      JUNCTION_TABLE_PREFIX: this.tablePrefix,
      JUNCTION_KAFKA_CLUSTER_ARN: this.kafkaCluster.clusterArn,
      JUNCTION_KAFKA_TOPIC: this.topic,
      JUNCTION_KAFKA_BOOTSTRAP: this.bootstrapBrokers,
      JUNCTION_FUNCTION_PREFIX: this.functionPrefix,
      JUNCTION_FUNCTION_ROLE_ARN: this.functionRole.roleArn,
      ...tracingEnvironment(props.tracing),
      ...targetsAllowEnvironment(props.targetsAllow),
    };
    const entries = resolveHandlerEntries(props.handlerEntries ?? {});
    this.ruleEntry = entries.rule;
    const vpcPlacement = { vpc: this.vpc, subnets, sg: this.functionSecurityGroup };
    const router = props.router ?? {};
    const reserved = props.reservedConcurrency ?? {};
    const overrides = props.functionProps ?? {};
    const handler = (
      name: 'ingest' | 'router' | 'api' | 'scheduler',
      memorySize: number,
      timeout: Duration,
      description: string,
    ) =>
      createHandlerFunction(this, `${capitalize(name)}Function`, {
        ...(name === 'ingest' && reserved.ingest !== undefined
          ? { reservedConcurrentExecutions: reserved.ingest }
          : {}),
        ...(name === 'api' && reserved.api !== undefined
          ? { reservedConcurrentExecutions: reserved.api }
          : {}),
        // --- awsconsole: the console's assets in the api bundle (lib/infra/console-assets.ts)
        ...(name === 'api' ? { afterBundling: consoleAssetCommands } : {}),
        // --- end awsconsole
        entry: entries[name],
        projectRoot: this.projectRoot,
        depsLockFilePath: join(this.projectRoot, 'package-lock.json'),
        description,
        memorySize: overrides[name]?.memorySize ?? memorySize,
        timeout: overrides[name]?.timeout ?? timeout,
        environment: { ...overrides[name]?.environment, ...environment },
        architecture: this.architecture,
        logRetention: this.logRetention,
        vpc: vpcPlacement,
        ...(props.tracing?.layers === undefined ? {} : { layers: props.tracing.layers }),
      });
    this.ingestFunction = handler(
      'ingest',
      512,
      Duration.seconds(29),
      'Junction ingest: CloudEvents over HTTP to Kafka',
    );
    this.routerFunction = handler(
      'router',
      router.memorySize ?? 1024,
      router.timeout ?? Duration.minutes(2),
      'Junction router: matches rules on Kafka batches and dispatches',
    );
    this.apiFunction = handler('api', 1024, Duration.seconds(29), 'Junction management API');
    this.schedulerFunction = handler(
      'scheduler',
      512,
      Duration.seconds(55),
      'Junction scheduler: due retries and scheduled rules',
    );

    this.grantHandlerPermissions(props.targetTopics ?? []);

    // The events topic, created at deploy time with its declared durability (no runtime role may create topics).
    // One topic function per stack and cluster serves every bus on that cluster (a bus adds one resource).
    this.topicFunction = topicProviderOf(this, {
      entry: entries.topic,
      projectRoot: this.projectRoot,
      environment: {
        JUNCTION_KAFKA_CLUSTER_ARN: this.kafkaCluster.clusterArn,
        JUNCTION_KAFKA_BOOTSTRAP: this.bootstrapBrokers,
      },
      architecture: this.architecture,
      logRetention: this.logRetention,
      vpc: vpcPlacement,
    }).fn;
    this.eventsTopicResource = this.createEventsTopic(props.eventsTopic ?? {});

    // The router on the topic
    this.failureBucket = new s3.Bucket(this, 'FailureBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    acknowledgeNag(
      this.failureBucket,
      'AwsSolutions-S1',
      'Only Lambda writes here (the on-failure destination of the router mapping, one object per failed ' +
        'batch); CloudTrail covers who did what, and an access-log bucket would double the buckets to run.',
    );
    this.eventSourceMapping = this.createEventSourceMapping(router);
    this.eventSourceMapping.node.addDependency(this.eventsTopicResource);

    // Kafka sources (issue #18): a connector function and its event source mapping per entry.
    this.kafkaSourceFunctions = addKafkaSources(this, props.kafkaSources ?? [], {
      busName: this.busName,
      vpc: this.vpc,
      subnets,
      securityGroup: this.functionSecurityGroup,
      ...(this.network === undefined ? {} : { network: this.network }),
      cluster: this.kafkaCluster,
      eventsTopic: this.topic,
      tables: Object.values(this.tables),
      environment,
      entry: join(PACKAGE_ROOT, 'functions', 'connector.ts'),
      projectRoot: this.projectRoot,
      depsLockFilePath: join(this.projectRoot, 'package-lock.json'),
      architecture: this.architecture,
      logRetention: this.logRetention,
      failureBucket: this.failureBucket,
    });

    // Scheduled retries
    const rate = props.schedulerRate ?? Duration.minutes(1);
    this.schedule = new events.Rule(this, 'SchedulerRule', {
      description: 'Junction: runs due retries',
      schedule: events.Schedule.rate(rate),
      targets: [new eventsTargets.LambdaFunction(this.schedulerFunction, { retryAttempts: 0 })],
    });
    acknowledgeNag(
      this.schedule,
      'Serverless-EventBusDLQ',
      'The scheduler rule fires every period with no payload: a delivery to the function that failed is covered by ' +
        'the next run (due retries stay due; scheduled-rule slots are looked back over two periods and a minute).',
    );
    // Scheduled rules: each run publishes the slots of the last two periods and a minute (duplicates drop out).
    this.schedulerFunction.addEnvironment(
      'JUNCTION_SCHEDULE_LOOKBACK_MS',
      String(rate.toMilliseconds() * 2 + 60_000),
    );

    // Front door
    this.frontDoor = new JunctionFrontDoor(this, 'Api', {
      apiType: props.apiType ?? 'http',
      ingest: this.ingestFunction,
      api: this.apiFunction,
      ingestAuthorization: props.ingestAuthorization ?? 'iam',
      throttle: props.throttle ?? { rateLimit: 1000, burstLimit: 2000 },
      rest: props.restApi ?? {},
      logRetention: this.logRetention,
      // --- awsconsole
      ...(props.auth === undefined ? {} : { auth: props.auth }),
      ...(props.domain === undefined ? {} : { domain: props.domain }),
      busName: this.busName,
      // --- end awsconsole
    });
    this.apiUrl = this.frontDoor.url;
    // --- awsconsole: the custom domain; the api function enforces the token's scopes (lib/adapters/aws/gateway-auth.ts)
    if (this.frontDoor.domain !== undefined) this.domainUrl = this.frontDoor.domain.url;
    for (const [name, value] of Object.entries(this.frontDoor.auth.environment)) {
      this.apiFunction.addEnvironment(name, value);
    }
    // --- end awsconsole

    // Alarms
    // What the alarms and the dashboard watch.
    const watched = {
      busName: this.busName,
      handlers: {
        ingest: this.ingestFunction,
        router: this.routerFunction,
        api: this.apiFunction,
        scheduler: this.schedulerFunction,
      },
      frontDoor: this.frontDoor,
      tables: Object.values(this.tables),
    };
    if (props.alarms === false) {
      this.alarms = [];
    } else {
      const ownCluster =
        props.kafkaCluster === undefined &&
        this.kafkaCluster instanceof JunctionKafkaCluster &&
        this.kafkaCluster.brokerCount !== undefined &&
        this.kafkaCluster.instanceType !== undefined
          ? {
              clusterName: this.kafkaCluster.clusterName,
              brokerCount: this.kafkaCluster.brokerCount,
              instanceType: this.kafkaCluster.instanceType,
            }
          : undefined;
      const created = createAlarms(
        this,
        { ...watched, ...(ownCluster === undefined ? {} : { cluster: ownCluster }) },
        this.alarmOptionsWithKey(props.alarms ?? {}),
      );
      this.alarms = created.alarms;
      this.alarmTopic = created.topic;
    }
    if (props.dashboard !== false) this.dashboard = createDashboard(this, watched);

    // CDK-native overrides (issue #15): the key on the tables' readers and every log group of the bus.
    this.applyEncryptionKey();
    this.ruleDependencies = new DependencyGroup(
      this.apiFunction,
      this.apiFunction.role!,
      ...Object.values(this.tables),
      this.eventsTopicResource,
    );

    // User functions from a folder
    if (props.functionsDir !== undefined) {
      for (const [name, file] of discoverFunctions(props.functionsDir, this.functionPrefix)) {
        this.addFunction(name, file);
      }
    }
  }

  /**
   * Adds a user function `<functionPrefix><name>` (nodejs22.x) bundled from `entry`, which exports
   * `handler(event, context)` as locally. The router and the scheduler may invoke it.
   */
  addFunction(name: string, entry: string, options: UserFunctionOptions = {}): nodejs.NodejsFunction {
    validateFunctionName(name, 'addFunction', this.functionPrefix);
    if (this.functions.has(name))
      throw new Error(`addFunction: a function named '${name}' was already added`);
    const memorySize = options.memorySize ?? 256;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new Error(
        `addFunction '${name}': memorySize must be an integer in 128..10240 (MB), got ${memorySize}`,
      );
    }
    const wrapper = writeWrapper(
      join(this.projectRoot, 'node_modules', '.cache', 'junction-functions'),
      name,
      entry,
    );
    const fn = createHandlerFunction(
      this,
      `Fn${capitalize(name.replace(/[^a-zA-Z0-9]/g, ''))}${this.functions.size}`,
      {
        entry: wrapper,
        projectRoot: this.projectRoot,
        depsLockFilePath: join(this.projectRoot, 'package-lock.json'),
        functionName: `${this.functionPrefix}${name}`,
        description: options.description ?? `Junction user function ${name}`,
        memorySize,
        timeout: options.timeout ?? Duration.seconds(30),
        environment: options.environment ?? {},
        architecture: this.architecture,
        logRetention: this.logRetention,
        role: this.functionRole,
      },
    );
    Tags.of(fn).add(FUNCTION_TAG, name);
    Tags.of(fn).add(MANAGED_TAG, managedTagValue(this.busName));
    this.functions.set(name, fn);
    return fn;
  }

  /** Allows `grantee` to publish events (`execute-api:Invoke` on POST /events and POST /). */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.frontDoor.grantPublish(grantee);
  }

  /** Allows `grantee` to call the management API (rules, functions, traces, dead letters, replays). */
  grantManage(grantee: iam.IGrantable): iam.Grant {
    return this.frontDoor.grantManage(grantee);
  }

  /**
   * Allows `grantee` to create, update and delete the bus's user functions `<functionPrefix>*` with its function
   * role: creating and tagging only with `junction:managed=<busName>` (and no other tag keys than Junction's),
   * changing and deleting only functions tagged so.
   */
  grantDeployFunctions(grantee: iam.IGrantable): iam.Grant {
    const functions = this.userFunctionArn();
    const ours = managedTagValue(this.busName);
    const create = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:CreateFunction'],
      resourceArns: [functions],
      conditions: { StringEquals: { [`aws:RequestTag/${MANAGED_TAG}`]: ours } },
    });
    // Tagging (also needed to create a function with tags): only this bus's value, only Junction's keys.
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:TagResource'],
      resourceArns: [functions],
      conditions: {
        StringEquals: { [`aws:RequestTag/${MANAGED_TAG}`]: ours },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [MANAGED_TAG, FUNCTION_TAG] },
      },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:UpdateFunctionCode', 'lambda:UpdateFunctionConfiguration', 'lambda:DeleteFunction'],
      resourceArns: [functions],
      conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG}`]: ours } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:GetFunction', 'lambda:GetFunctionConfiguration', 'lambda:ListTags'],
      resourceArns: [functions],
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['lambda:ListFunctions'], resourceArns: ['*'] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['iam:PassRole'],
      resourceArns: [this.functionRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } },
    });
    suppressUserFunctionWildcards(grantee, 'deploys user functions', this.functionPrefix, ours);
    return create;
  }

  /**
   * Allows `grantee` to invoke the bus's user functions (name `<functionPrefix>*` and tag
   * `junction:managed=<busName>`), and to read their tags (the runner checks the tag before it invokes).
   */
  grantInvokeFunctions(grantee: iam.IGrantable): iam.Grant {
    const functions = this.userFunctionArn();
    const ours = managedTagValue(this.busName);
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [functions],
      conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG}`]: ours } },
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:GetFunction', 'lambda:ListTags'],
      resourceArns: [functions],
    });
    suppressUserFunctionWildcards(grantee, 'invokes user functions', this.functionPrefix, ours);
    return grant;
  }

  // --- The CDK-native API (issue #15): IJunctionBus, rules, metrics, the encryption key ---

  /** A bus defined elsewhere (another stack or app), by its name and API URL; `apiFunctionArn` for `addRule`. */
  static fromAttributes(scope: Construct, id: string, attributes: JunctionBusAttributes): IJunctionBus {
    return new ImportedJunctionBus(scope, id, attributes);
  }

  /** As `aws-events`' `grantPutEventsTo`: the same as `grantPublish` (POST /events and POST /). */
  grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    return this.grantPublish(grantee);
  }

  /**
   * Declares a rule on this bus (a `JunctionRule`): put through the bus's API at deploy time (the api function,
   * invoked directly), replaced when its props change, deleted with the construct.
   */
  addRule(id: string, options: JunctionRuleOptions): JunctionRule {
    return new JunctionRule(this, id, { ...options, bus: this, handlerEntry: this.ruleEntry });
  }

  /** A metric the handlers write (namespace `Junction`, dimension `service` = the bus), summed per 5 minutes. */
  metric(metricName: string, options?: BusMetricOptions): cloudwatch.Metric {
    return this.metrics.metric(metricName, options);
  }
  /** Events accepted into the log. */
  metricEventsIn(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.metricEventsIn(options);
  }
  /** Events that matched at least one rule. */
  metricEventsMatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.metricEventsMatched(options);
  }
  /** Events that matched no rule. */
  metricEventsUnmatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.metricEventsUnmatched(options);
  }
  /** Events one rule matched. */
  metricRuleMatches(rule: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.metricRuleMatches(rule, options);
  }
  /** Delivery attempts (every outcome); one lane's with `rule` and `target`. */
  metricDeliveries(options?: BusMetricOptions): cloudwatch.Metric {
    return this.metrics.metricDeliveries(options);
  }
  /** Failed delivery attempts of one lane (rule and target). */
  metricDeliveryErrors(rule: string, target: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metrics.metricDeliveryErrors(rule, target, options);
  }
  /** Deliveries dead-lettered; one lane's with `rule` and `target`. */
  metricDeadLetters(options?: BusMetricOptions): cloudwatch.Metric {
    return this.metrics.metricDeadLetters(options);
  }

  /** The key of the tables: `tableProps.encryptionKey`, else `encryptionKey`. */
  private tableKey(): kms.IKey | undefined {
    return this.tableProps.encryptionKey ?? this.encryptionKey;
  }

  /** With `encryptionKey` and no topic of theirs, the alarms go to a topic of this bus encrypted with the key. */
  private alarmOptionsWithKey(options: AlarmOptions): AlarmOptions {
    const key = this.encryptionKey;
    if (key === undefined || options.topic !== undefined) return options;
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsToEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `Junction alarms (${this.busName})`,
      enforceSSL: true,
      masterKey: key,
    });
    return { ...options, topic };
  }

  /** The handlers may use the tables' key; every log group of the bus is encrypted with `encryptionKey`. */
  private applyEncryptionKey(): void {
    const tableKey = this.tableKey();
    if (tableKey !== undefined) {
      for (const fn of [this.ingestFunction, this.routerFunction, this.apiFunction, this.schedulerFunction]) {
        tableKey.grant(
          fn,
          'kms:Decrypt',
          'kms:Encrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:DescribeKey',
        );
        acknowledgeNag(
          fn.role!,
          'AwsSolutions-IAM5',
          "DynamoDB encrypts and decrypts the tables with the customer-managed key on the caller's behalf; " +
            'kms:ReEncrypt* and kms:GenerateDataKey* are the action families it uses (as CDK grants for a table), on that one key.',
          ['Action::kms:ReEncrypt*', 'Action::kms:GenerateDataKey*'],
        );
      }
    }
    const key = this.encryptionKey;
    if (key === undefined) return;
    const stack = Stack.of(this);
    // CloudWatch Logs encrypts a log group with the key only when the key policy lets the regional service in.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsOfTheBus',
        principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    for (const child of this.node.findAll()) {
      if (child instanceof logs.CfnLogGroup && child.kmsKeyId === undefined) {
        child.kmsKeyId = key.keyArn;
      }
    }
  }

  private userFunctionArn(): string {
    return Stack.of(this).formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: `${this.functionPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private createTable(
    store: StoreName,
    definition: TableDefinition,
    removalPolicy: RemovalPolicy,
  ): dynamodb.TableV2 {
    const key = (k: { name: string; type: 'S' | 'N' | 'B' }): dynamodb.Attribute => ({
      name: k.name,
      type:
        k.type === 'S'
          ? dynamodb.AttributeType.STRING
          : k.type === 'N'
            ? dynamodb.AttributeType.NUMBER
            : dynamodb.AttributeType.BINARY,
    });
    return new dynamodb.TableV2(this, `${capitalize(store)}Table`, {
      tableName: `${this.tablePrefix}-${definition.suffix}`,
      partitionKey: key(definition.partitionKey),
      ...(definition.sortKey !== undefined ? { sortKey: key(definition.sortKey) } : {}),
      billing: this.tableProps.billing ?? dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: this.tableProps.pointInTimeRecovery ?? true,
      },
      encryption: this.tableKey()
        ? dynamodb.TableEncryptionV2.customerManagedKey(this.tableKey() as kms.IKey)
        : dynamodb.TableEncryptionV2.awsManagedKey(),
      ...(definition.ttlAttribute !== undefined ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
      globalSecondaryIndexes: definition.globalIndexes.map((index) => ({
        indexName: index.indexName,
        partitionKey: key(index.partitionKey),
        ...(index.sortKey !== undefined ? { sortKey: key(index.sortKey) } : {}),
        projectionType:
          index.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
      })),
      removalPolicy,
      ...(this.deletionProtection ? { deletionProtection: true } : {}),
    });
  }

  private createFunctionRole(): iam.Role {
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of Junction user functions (${this.functionPrefix}*)`,
    });
    const logGroups = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/lambda/${this.functionPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'UserFunctionLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroups, `${logGroups}:*`],
      }),
    );
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5',
      `User functions are created later by name (${this.functionPrefix}<name>); each writes to its own log group ` +
        `/aws/lambda/${this.functionPrefix}<name>, so the role is scoped to that name prefix and its log streams.`,
      [
        `Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/${this.functionPrefix}*`,
        `Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/lambda/${this.functionPrefix}*:*`,
      ],
    );
    return role;
  }

  /** The least each handler needs: its tables, its Kafka actions, and for the dispatching ones, user functions. */
  private grantHandlerPermissions(targetTopics: string[]): void {
    const cluster = this.kafkaCluster;
    const eventsTopic = cluster.topicArn(this.topic);
    const writeTopics = [eventsTopic, ...targetTopics.map((t) => cluster.topicArn(t))];
    const handlers = [this.ingestFunction, this.routerFunction, this.apiFunction, this.schedulerFunction];
    for (const fn of handlers) grantJunctionTables(fn, Object.values(this.tables));

    // Ingest: append to the events topic with an idempotent producer.
    for (const s of kafkaProducerStatements(cluster, [eventsTopic])) this.ingestFunction.addToRolePolicy(s);

    // Router and scheduler: re-publish (function results, bus and kafka targets) and invoke user functions.
    for (const fn of [this.routerFunction, this.schedulerFunction]) {
      for (const s of kafkaProducerStatements(cluster, writeTopics)) fn.addToRolePolicy(s);
      this.grantInvokeFunctions(fn);
    }

    // Router: what the MSK event source mapping does with the function's role.
    const routerGroup = cluster.groupArn(this.consumerGroup);
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskMappingCluster',
        actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [cluster.clusterArn],
      }),
    );
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskMappingConnect',
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [cluster.clusterArn],
      }),
    );
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskMappingRead',
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: [eventsTopic],
      }),
    );
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'MskMappingGroup',
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: [routerGroup],
      }),
    );

    // API: replays read the topic, redrives append to it; /functions reads and deletes user functions.
    for (const s of kafkaProducerStatements(cluster, [eventsTopic])) this.apiFunction.addToRolePolicy(s);
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'KafkaReplayRead',
        actions: ['kafka-cluster:ReadData'],
        resources: [eventsTopic],
      }),
    );
    if (this.apiDeploysFunctions) {
      this.grantDeployFunctions(this.apiFunction);
    } else {
      this.grantReadDeleteFunctions(this.apiFunction);
    }
  }

  /** GET and DELETE /functions: read, list and delete the bus's user functions, no create or update. */
  private grantReadDeleteFunctions(grantee: iam.IGrantable): void {
    const ours = managedTagValue(this.busName);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:GetFunction', 'lambda:GetFunctionConfiguration', 'lambda:ListTags'],
      resourceArns: [this.userFunctionArn()],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:DeleteFunction'],
      resourceArns: [this.userFunctionArn()],
      conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_TAG}`]: ours } },
    });
    iam.Grant.addToPrincipal({ grantee, actions: ['lambda:ListFunctions'], resourceArns: ['*'] });
    suppressUserFunctionWildcards(
      grantee,
      'lists, reads and deletes user functions',
      this.functionPrefix,
      ours,
    );
  }

  /** The topic custom resource: CDK's provider framework calling `topicFunction` (Create, Update, Delete). */
  private createEventsTopic(options: EventsTopicOptions): CustomResource {
    const cluster = this.kafkaCluster;
    const brokers = cluster.brokerCount;
    const replicationFactor =
      options.replicationFactor ?? (brokers === undefined ? -1 : Math.min(3, brokers));
    const minInsync =
      options.minInsyncReplicas ??
      (replicationFactor === -1 ? undefined : Math.max(1, replicationFactor - 1));
    if (minInsync !== undefined && replicationFactor !== -1 && minInsync > replicationFactor) {
      throw new Error(
        `JunctionBus: eventsTopic.minInsyncReplicas (${minInsync}) exceeds the replication factor (${replicationFactor})`,
      );
    }
    const shared = topicProviderOf(this);
    shared.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'kafka-cluster:CreateTopic',
          'kafka-cluster:DescribeTopic',
          'kafka-cluster:AlterTopic',
          'kafka-cluster:DescribeTopicDynamicConfiguration',
          'kafka-cluster:AlterTopicDynamicConfiguration',
        ],
        resources: [cluster.topicArn(this.topic)],
      }),
    );
    const retentionMs = this.retention?.toMilliseconds();
    return new CustomResource(this, 'EventsTopic', {
      serviceToken: shared.provider.serviceToken,
      resourceType: 'Custom::JunctionKafkaTopic',
      properties: {
        Topic: this.topic,
        Partitions: String(options.partitions ?? 6),
        ReplicationFactor: String(replicationFactor),
        ...(minInsync === undefined ? {} : { MinInsyncReplicas: String(minInsync) }),
        ...(retentionMs === undefined ? {} : { RetentionMs: String(retentionMs) }),
      },
    });
  }

  private createEventSourceMapping(options: RouterOptions): lambda.EventSourceMapping {
    const bucket = this.failureBucket;
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FailureDestinationList',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
      }),
    );
    this.routerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FailureDestinationPut',
        actions: ['s3:PutObject'],
        resources: [bucket.arnForObjects('*')],
      }),
    );
    acknowledgeNag(
      this.routerFunction.role!,
      'AwsSolutions-IAM5',
      'Lambda writes one object per failed batch into the failure bucket under names it chooses, so ' +
        'PutObject needs "<bucket>/*" of that one bucket.',
      [`Resource::${nagGetAtt(bucket.node.defaultChild as CfnElement, 'Arn')}/*`],
    );
    const pollers = options.provisionedPollers;
    const mapping = this.routerFunction.addEventSourceMapping('Kafka', {
      eventSourceArn: this.kafkaCluster.clusterArn,
      kafkaTopic: this.topic,
      kafkaConsumerGroupId: this.consumerGroup,
      startingPosition: options.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: options.batchSize ?? 100,
      ...(options.maxBatchingWindow !== undefined ? { maxBatchingWindow: options.maxBatchingWindow } : {}),
      ...(pollers !== undefined
        ? {
            provisionedPollerConfig: {
              minimumPollers: pollers.minimum,
              maximumPollers: pollers.maximum ?? Math.max(pollers.minimum, 10),
            },
          }
        : {}),
      ...(options.retryAttempts !== undefined ? { retryAttempts: options.retryAttempts } : {}),
      onFailure: { bind: () => ({ destination: bucket.bucketArn }) },
    });
    return mapping;
  }

  /** GetBootstrapBrokers at deploy time, so the handlers need no Kafka API endpoint and no call at cold start. */
  private lookUpBootstrapBrokers(): string {
    const clusterArn = this.kafkaCluster.clusterArn;
    const logGroup = new logs.LogGroup(this, 'BootstrapLookupLogs', {
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const lookup = new cr.AwsCustomResource(this, 'BootstrapBrokers', {
      onUpdate: {
        service: 'Kafka',
        action: 'GetBootstrapBrokers',
        parameters: { ClusterArn: clusterArn },
        physicalResourceId: cr.PhysicalResourceId.of(`junction-bootstrap-${this.node.addr}`),
        outputPaths: ['BootstrapBrokerStringSaslIam'],
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['kafka:GetBootstrapBrokers'], resources: [clusterArn] }),
      ]),
      installLatestAwsSdk: false,
      logGroup,
    });
    const provider = Stack.of(this).node.tryFindChild(
      `AWS${cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`,
    );
    if (provider !== undefined) {
      acknowledgeNag(
        provider,
        'AwsSolutions-IAM4',
        "CDK's AwsCustomResource provider (a one-shot deploy-time GetBootstrapBrokers call) runs with the " +
          'AWS-managed AWSLambdaBasicExecutionRole; its only other permission is kafka:GetBootstrapBrokers on ' +
          'this cluster.',
        ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
      );
      acknowledgeNag(
        provider,
        'AwsSolutions-L1',
        "The runtime of CDK's AwsCustomResource provider is chosen by aws-cdk-lib, not by this stack; it " +
          'only runs during deployments.',
      );
      for (const rule of [
        'Serverless-LambdaDefaultMemorySize',
        'Serverless-LambdaLatestVersion',
        'Serverless-LambdaDLQ',
        'Serverless-LambdaTracing',
      ]) {
        acknowledgeNag(
          provider,
          rule,
          "CDK's AwsCustomResource provider function (its memory, runtime, invocation and tracing) is defined by " +
            'aws-cdk-lib, not by this stack; it runs once per deployment to read the bootstrap brokers.',
        );
      }
    }
    return lookup.getResponseField('BootstrapBrokerStringSaslIam');
  }
}

interface TopicProviderSettings {
  readonly entry: string;
  readonly projectRoot: string;
  readonly environment: Record<string, string>;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  readonly vpc: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly sg: ec2.ISecurityGroup;
  };
}

/** The topic function (`functions/topic.ts`) and CDK's provider framework in front of it, for one cluster. */
class EventsTopicProvider extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly provider: cr.Provider;

  constructor(scope: Construct, id: string, settings: TopicProviderSettings, clusterArn: string) {
    super(scope, id);
    this.fn = createHandlerFunction(this, 'TopicFunction', {
      entry: settings.entry,
      projectRoot: settings.projectRoot,
      depsLockFilePath: join(settings.projectRoot, 'package-lock.json'),
      description: 'Junction: creates and updates events topics (CloudFormation custom resource)',
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: settings.environment,
      architecture: settings.architecture,
      logRetention: settings.logRetention,
      vpc: settings.vpc,
    });
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'KafkaConnect',
        actions: ['kafka-cluster:Connect'],
        resources: [clusterArn],
      }),
    );
    const logGroup = new logs.LogGroup(this, 'ProviderLogs', {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.provider = new cr.Provider(this, 'Provider', { onEventHandler: this.fn, logGroup });
    acknowledgeProviderNag(this.provider, this.fn, 'topic');
  }
}

/** By stack, then by cluster ARN (a token, the same string for every bus of a shared cluster). */
const topicProviders = new WeakMap<Stack, Map<string, EventsTopicProvider>>();

/** The stack's topic provider for the bus's cluster: created by the first bus on that cluster (`settings`). */
function topicProviderOf(bus: JunctionBus, settings?: TopicProviderSettings): EventsTopicProvider {
  const stack = Stack.of(bus);
  let byCluster = topicProviders.get(stack);
  if (byCluster === undefined) {
    byCluster = new Map();
    topicProviders.set(stack, byCluster);
  }
  let found = byCluster.get(bus.kafkaCluster.clusterArn);
  if (found === undefined) {
    if (settings === undefined) throw new Error('JunctionBus: the topic provider was not created');
    const id = byCluster.size === 0 ? 'JunctionTopics' : `JunctionTopics${byCluster.size + 1}`;
    found = new EventsTopicProvider(stack, id, settings, bus.kafkaCluster.clusterArn);
    byCluster.set(bus.kafkaCluster.clusterArn, found);
  }
  return found;
}

/** Early validation of the props, with the bad value in the message. */
function validateProps(props: JunctionBusProps): void {
  assertBusName(props.busName, 'JunctionBus: busName');
  const retention = props.retention;
  if (retention !== undefined && !Token.isUnresolved(retention.toMilliseconds())) {
    const ms = retention.toMilliseconds();
    if (!Number.isInteger(ms) || ms < MINUTE_MS || ms > MAX_RETENTION_MS) {
      throw new Error(
        `JunctionBus: retention must be whole milliseconds from 1 minute to 3650 days, got ${retention.toHumanString()}`,
      );
    }
  }
  validateEventsTopic(props.eventsTopic ?? {});
  for (const [name, value] of Object.entries(props.reservedConcurrency ?? {})) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 10000)) {
      throw new Error(
        `JunctionBus: reservedConcurrency.${name} must be an integer in 1..10000, got ${value}`,
      );
    }
  }
  if (props.alarms !== undefined && props.alarms !== false) {
    const { offsetLag, brokerDiskUsedPercent, cpuCreditBalance } = props.alarms;
    if (offsetLag !== undefined && !(offsetLag >= 1)) {
      throw new Error(`JunctionBus: alarms.offsetLag must be at least 1 record, got ${offsetLag}`);
    }
    if (brokerDiskUsedPercent !== undefined && !(brokerDiskUsedPercent > 0 && brokerDiskUsedPercent < 100)) {
      throw new Error(
        `JunctionBus: alarms.brokerDiskUsedPercent must be between 0 and 100, got ${brokerDiskUsedPercent}`,
      );
    }
    if (cpuCreditBalance !== undefined && !(cpuCreditBalance > 0)) {
      throw new Error(`JunctionBus: alarms.cpuCreditBalance must be above 0, got ${cpuCreditBalance}`);
    }
  }
  if (props.sharedNetwork !== undefined && (props.vpc !== undefined || props.network !== undefined)) {
    throw new Error(
      'JunctionBus: sharedNetwork is the network of another bus; it cannot be combined with vpc or network',
    );
  }
  const topic = props.topic;
  if (topic !== undefined && !TOPIC.test(topic)) {
    throw new Error(`JunctionBus: topic must be 1-249 of [a-zA-Z0-9._-], got '${topic}'`);
  }
  for (const t of props.targetTopics ?? []) {
    if (!TOPIC.test(t))
      throw new Error(`JunctionBus: targetTopics entries must be 1-249 of [a-zA-Z0-9._-], got '${t}'`);
  }
  if (props.tablePrefix !== undefined && !TABLE_PREFIX.test(props.tablePrefix)) {
    throw new Error(`JunctionBus: tablePrefix must be 1-200 of [a-zA-Z0-9_.-], got '${props.tablePrefix}'`);
  }
  if (
    props.kafkaCluster !== undefined &&
    (props.kafkaClusterType !== undefined || props.provisionedKafka !== undefined)
  ) {
    throw new Error(
      'JunctionBus: kafkaClusterType and provisionedKafka describe a cluster we create; they cannot be combined ' +
        'with kafkaCluster (yours)',
    );
  }
  if (props.vpc !== undefined && props.network !== undefined) {
    throw new Error(
      'JunctionBus: network configures the VPC we create; it cannot be combined with vpc (yours)',
    );
  }
  if (props.apiType !== undefined && props.apiType !== 'http' && props.apiType !== 'rest') {
    throw new Error(`JunctionBus: apiType must be 'http' or 'rest', got '${String(props.apiType)}'`);
  }
  if (props.restApi !== undefined && props.apiType !== 'rest') {
    throw new Error(`JunctionBus: restApi options need apiType 'rest', got '${props.apiType ?? 'http'}'`);
  }
  const auth = props.ingestAuthorization;
  if (auth !== undefined && auth !== 'iam' && auth !== 'none') {
    throw new Error(`JunctionBus: ingestAuthorization must be 'iam' or 'none', got '${String(auth)}'`);
  }
  const throttle = props.throttle;
  if (
    throttle !== undefined &&
    (!(throttle.rateLimit > 0) || !Number.isInteger(throttle.burstLimit) || throttle.burstLimit < 0)
  ) {
    throw new Error(
      `JunctionBus: throttle needs rateLimit > 0 and an integer burstLimit >= 0, got ${JSON.stringify(throttle)}`,
    );
  }
  validateRouter(props.router ?? {});
  validateFunctionProps(props);
  const rate = props.schedulerRate;
  if (rate !== undefined && !Token.isUnresolved(rate.toSeconds()) && rate.toSeconds() < 60) {
    throw new Error(`JunctionBus: schedulerRate must be at least 1 minute, got ${rate.toHumanString()}`);
  }
  for (const name of Object.keys(props.handlerEntries ?? {})) {
    if (!HANDLER_NAMES.includes(name as HandlerName)) {
      throw new Error(
        `JunctionBus: handlerEntries keys must be one of ${HANDLER_NAMES.join(', ')}, got '${name}'`,
      );
    }
  }
}

/** Throws naming `what` unless `name` is undefined or a valid bus name (`BUS_NAME`, as the embedded server's). */
export function assertBusName(name: unknown, what: string): void {
  if (name === undefined) return;
  if (typeof name !== 'string' || !BUS_NAME.test(name)) {
    throw new Error(
      `${what} must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit, got ${JSON.stringify(name)}`,
    );
  }
}

function validateEventsTopic(topic: EventsTopicOptions): void {
  const { partitions, replicationFactor, minInsyncReplicas } = topic;
  if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1 || partitions > 10000)) {
    throw new Error(`JunctionBus: eventsTopic.partitions must be an integer in 1..10000, got ${partitions}`);
  }
  if (replicationFactor !== undefined && (!Number.isInteger(replicationFactor) || replicationFactor < 1)) {
    throw new Error(
      `JunctionBus: eventsTopic.replicationFactor must be an integer >= 1, got ${replicationFactor}`,
    );
  }
  if (minInsyncReplicas !== undefined) {
    const max = replicationFactor ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(minInsyncReplicas) || minInsyncReplicas < 1 || minInsyncReplicas > max) {
      throw new Error(
        `JunctionBus: eventsTopic.minInsyncReplicas must be an integer from 1 to the replication factor${replicationFactor === undefined ? '' : ` (${replicationFactor})`}, got ${minInsyncReplicas}`,
      );
    }
  }
}

/** The variables the construct sets on the handlers: `functionProps.*.environment` may not replace them. */
const CONSTRUCT_VARIABLES = new Set([
  'JUNCTION_BUS',
  'JUNCTION_TABLE_PREFIX',
  'JUNCTION_KAFKA_CLUSTER_ARN',
  'JUNCTION_KAFKA_TOPIC',
  'JUNCTION_KAFKA_BOOTSTRAP',
  'JUNCTION_FUNCTION_PREFIX',
  'JUNCTION_FUNCTION_ROLE_ARN',
  'JUNCTION_SCHEDULE_LOOKBACK_MS',
]);

function validateFunctionProps(props: JunctionBusProps): void {
  for (const [name, fn] of Object.entries(props.functionProps ?? {})) {
    if (!['ingest', 'router', 'api', 'scheduler'].includes(name)) {
      throw new Error(
        `JunctionBus: functionProps keys must be ingest, router, api or scheduler, got '${name}'`,
      );
    }
    if (fn === undefined) continue;
    const at = `JunctionBus: functionProps.${name}`;
    const memory = fn.memorySize;
    if (memory !== undefined && (!Number.isInteger(memory) || memory < 128 || memory > 10240)) {
      throw new Error(`${at}.memorySize must be an integer in 128..10240 (MB), got ${memory}`);
    }
    const seconds = fn.timeout?.toSeconds();
    const max = name === 'router' ? 14 * 60 : 15 * 60;
    if (seconds !== undefined && !Token.isUnresolved(seconds) && (seconds < 1 || seconds > max)) {
      throw new Error(
        `${at}.timeout must be 1 second to ${max / 60} minutes, got ${fn.timeout?.toHumanString()}`,
      );
    }
    if (name === 'router' && (memory !== undefined || fn.timeout !== undefined)) {
      if (props.router?.memorySize !== undefined || props.router?.timeout !== undefined) {
        throw new Error(`${at} and router both size the router: set memorySize and timeout in one of them`);
      }
    }
    for (const key of Object.keys(fn.environment ?? {})) {
      if (CONSTRUCT_VARIABLES.has(key)) {
        throw new Error(`${at}.environment cannot replace ${key}, which the construct sets`);
      }
    }
  }
}

function validateRouter(router: RouterOptions): void {
  const batchSize = router.batchSize;
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10000)) {
    throw new Error(`JunctionBus: router.batchSize must be an integer in 1..10000, got ${batchSize}`);
  }
  const window = router.maxBatchingWindow;
  if (window !== undefined) {
    const ms = window.toMilliseconds();
    if (ms % 1000 !== 0 || ms > 300_000) {
      throw new Error(
        `JunctionBus: router.maxBatchingWindow must be whole seconds in 0..300, got ${window.toHumanString()}`,
      );
    }
  }
  const pollers = router.provisionedPollers;
  if (pollers !== undefined) {
    const { minimum, maximum } = pollers;
    if (!Number.isInteger(minimum) || minimum < 1 || minimum > 200) {
      throw new Error(
        `JunctionBus: router.provisionedPollers.minimum must be an integer in 1..200, got ${minimum}`,
      );
    }
    if (maximum !== undefined && (!Number.isInteger(maximum) || maximum < minimum || maximum > 2000)) {
      throw new Error(
        `JunctionBus: router.provisionedPollers.maximum must be an integer in ${minimum}..2000, got ${maximum}`,
      );
    }
  }
  if (router.retryAttempts !== undefined) {
    if (pollers === undefined) {
      throw new Error(
        `JunctionBus: router.retryAttempts needs router.provisionedPollers (retry controls of Kafka mappings are a provisioned-mode feature), got retryAttempts ${router.retryAttempts} without pollers`,
      );
    }
    if (!Number.isInteger(router.retryAttempts) || router.retryAttempts < 0 || router.retryAttempts > 10000) {
      throw new Error(
        `JunctionBus: router.retryAttempts must be an integer in 0..10000, got ${router.retryAttempts}`,
      );
    }
  }
  const timeout = router.timeout;
  if (timeout !== undefined && timeout.toSeconds() > 14 * 60) {
    throw new Error(
      `JunctionBus: router.timeout must be at most 14 minutes (the limit for Kafka mappings), got ${timeout.toHumanString()}`,
    );
  }
}

function resolveHandlerEntries(overrides: Partial<Record<HandlerName, string>>): Record<HandlerName, string> {
  const entries = {} as Record<HandlerName, string>;
  for (const name of HANDLER_NAMES) {
    const entry = resolve(overrides[name] ?? join(PACKAGE_ROOT, 'functions', `${name}.ts`));
    if (!existsSync(entry)) {
      throw new Error(`JunctionBus: the ${name} handler entry '${entry}' does not exist`);
    }
    entries[name] = entry;
  }
  return entries;
}

/** Wildcards on `<functionPrefix>*` are the design (functions uploaded later by name): say so to cdk-nag. */
function suppressUserFunctionWildcards(
  grantee: iam.IGrantable,
  what: string,
  prefix: string,
  tag: string,
): void {
  const principal = grantee.grantPrincipal;
  if (!(principal instanceof Construct)) return;
  acknowledgeNag(
    principal,
    'AwsSolutions-IAM5',
    `This principal ${what}. User functions are uploaded later by name (junction functions deploy --aws), ` +
      `so the resource is the name prefix ${prefix}* (invoking, changing and deleting additionally require the ` +
      `tag ${MANAGED_TAG}=${tag}, creating and tagging require passing it); ListFunctions has no resource-level ` +
      'permissions.',
    [
      `Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:${prefix}*`,
      'Resource::*',
    ],
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
