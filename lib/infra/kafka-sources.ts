/**
 * Kafka sources on AWS (issue #18): each `kafkaSources` entry of a JunctionBus is a `connector` function
 * (functions/connector.ts) fed by a Kafka event source mapping on the source topic — on the bus's own MSK cluster
 * (IAM) by default, or on a self-managed Kafka cluster reached from the VPC (`bootstrapServers`). The function puts
 * the records into the bus's log as the embedded Kafka source does (the same mapping code, ids from the position,
 * the idempotent publish); its role may read that topic in its group and write the events topic, nothing more.
 */
import { type CfnElement, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { CONNECTOR_NAME, type RecordMapping, validateMapping } from '../core/connector.ts';
import { createHandlerFunction, grantJunctionTables } from './handler-function.ts';
import { type IJunctionKafkaCluster, kafkaProducerStatements } from './kafka-cluster.ts';
import { acknowledgeNag, nagGetAtt } from './nag.ts';
import type { JunctionNetwork } from './network.ts';

/** One Kafka topic read into the bus's log (the `kafka` connector of the embedded bus, on Lambda). */
export interface KafkaSourceProps {
  /** The connector's name: its dead letters are the rule `connector/<name>`. 1–64 of a-z A-Z 0-9 . _ - */
  readonly name: string;
  /** The topic to read. */
  readonly topic: string;
  /**
   * Brokers (`host:port`) of a self-managed Kafka cluster the VPC reaches; the mapping connects from the bus's
   * private subnets with a security group of its own that may reach these ports.
   * @default the bus's MSK cluster, with IAM
   */
  readonly bootstrapServers?: readonly string[];
  /** Self-managed Kafka only: SASL/SCRAM-SHA-512 credentials (a secret with `username` and `password`). @default none */
  readonly secret?: secretsmanager.ISecret;
  /** How records that are not CloudEvents become events (docs/connectors.md). @default ids `{topic}-{partition}-{offset}` */
  readonly mapping?: Partial<RecordMapping>;
  /** Records per invocation (1–10,000). @default 100 */
  readonly batchSize?: number;
  /** Where a new mapping starts. @default TRIM_HORIZON (the embedded connector's `startFrom: earliest`) */
  readonly startingPosition?: lambda.StartingPosition;
  /** The consumer group. @default `junction-connector.<bus>.<name>` */
  readonly consumerGroup?: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default 2 minutes */
  readonly timeout?: Duration;
}

/** What of the bus its sources use. */
export interface KafkaSourcesContext {
  readonly busName: string;
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly network?: JunctionNetwork;
  readonly cluster: IJunctionKafkaCluster;
  /** The bus's events topic (written). */
  readonly eventsTopic: string;
  readonly tables: readonly dynamodb.TableV2[];
  /** The environment every handler gets (the runtime's configuration). */
  readonly environment: Record<string, string>;
  readonly entry: string;
  readonly projectRoot: string;
  readonly depsLockFilePath: string;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  /** Where the mappings put the batches the function kept failing. */
  readonly failureBucket: s3.IBucket;
}

/** A Kafka topic name as an event source mapping takes it (2-249 characters, not starting with a dot). */
const TOPIC = /^[a-zA-Z0-9_-][a-zA-Z0-9._-]{1,248}$/;
const BROKER = /^[^\s:,]+:(\d{1,5})$/;

function fail(name: string, message: string): never {
  throw new Error(`JunctionBus: kafkaSources '${name}': ${message}`);
}

/** Checks the entries (names unique, values in range, the mapping as the API checks it); throws naming the field. */
export function validateKafkaSources(sources: readonly KafkaSourceProps[]): Map<string, RecordMapping> {
  const mappings = new Map<string, RecordMapping>();
  if (sources.length > 50) throw new Error('JunctionBus: kafkaSources holds at most 50 sources');
  for (const source of sources) {
    const { name } = source;
    if (!CONNECTOR_NAME.test(name)) {
      throw new Error(
        `JunctionBus: kafkaSources: name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; got '${name}'`,
      );
    }
    if (mappings.has(name)) fail(name, 'a source of this name was already declared');
    if (!TOPIC.test(source.topic))
      fail(name, `topic must be 2-249 of a-z A-Z 0-9 . _ -, not starting with a dot; got '${source.topic}'`);
    if (source.bootstrapServers !== undefined) {
      if (source.bootstrapServers.length === 0 || source.bootstrapServers.length > 32)
        fail(name, 'bootstrapServers must list 1-32 brokers');
      for (const broker of source.bootstrapServers) {
        const port = Number(BROKER.exec(broker)?.[1] ?? Number.NaN);
        if (!(port >= 1 && port <= 65535)) fail(name, `bootstrapServers: '${broker}' is not host:port`);
      }
    } else if (source.secret !== undefined) {
      fail(name, 'secret is for a self-managed cluster (bootstrapServers); the bus cluster uses IAM');
    }
    const batchSize = source.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      fail(name, `batchSize must be an integer in 1..10000; got ${batchSize}`);
    const memory = source.memorySize ?? 512;
    if (!Number.isInteger(memory) || memory < 128 || memory > 10_240)
      fail(name, `memorySize must be an integer in 128..10240 (MB); got ${memory}`);
    const timeout = source.timeout?.toSeconds() ?? 120;
    if (timeout < 1 || timeout > 840) fail(name, 'timeout must be 1 s to 14 minutes (a Kafka mapping)');
    try {
      mappings.set(name, validateMapping(source.mapping ?? {}));
    } catch (error) {
      fail(name, (error as Error).message);
    }
  }
  return mappings;
}

function capitalized(name: string): string {
  const plain = name.replace(/[^a-zA-Z0-9]/g, '');
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

/** Adds a connector function and its event source mapping per source; answers the functions by source name. */
export function addKafkaSources(
  scope: Construct,
  sources: readonly KafkaSourceProps[],
  context: KafkaSourcesContext,
): Map<string, nodejs.NodejsFunction> {
  const mappings = validateKafkaSources(sources);
  const functions = new Map<string, nodejs.NodejsFunction>();
  const { cluster } = context;
  for (const [index, source] of sources.entries()) {
    const id = `Connector${capitalized(source.name)}${index}`;
    const mapping = mappings.get(source.name) as RecordMapping;
    const fn = createHandlerFunction(scope, `${id}Function`, {
      entry: context.entry,
      projectRoot: context.projectRoot,
      depsLockFilePath: context.depsLockFilePath,
      description: `Junction connector ${source.name}: Kafka topic ${source.topic} into the bus ${context.busName}`,
      memorySize: source.memorySize ?? 512,
      timeout: source.timeout ?? Duration.minutes(2),
      environment: {
        ...context.environment,
        JUNCTION_CONNECTOR_NAME: source.name,
        JUNCTION_CONNECTOR_MAPPING: JSON.stringify(mapping),
      },
      architecture: context.architecture,
      logRetention: context.logRetention,
      vpc: { vpc: context.vpc, subnets: context.subnets, sg: context.securityGroup },
    });
    const role = fn.role as iam.IRole;

    // The runtime's stores (publish dedup, dead letters; the engine opens every store, as the ingest function's).
    grantJunctionTables(fn, context.tables);
    // The events topic: the idempotent publish.
    for (const statement of kafkaProducerStatements(cluster, [cluster.topicArn(context.eventsTopic)]))
      fn.addToRolePolicy(statement);

    const group = source.consumerGroup ?? `junction-connector.${context.busName}.${source.name}`;
    const common = {
      kafkaTopic: source.topic,
      kafkaConsumerGroupId: group,
      startingPosition: source.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: source.batchSize ?? 100,
      onFailure: { bind: () => ({ destination: context.failureBucket.bucketArn }) },
    };
    if (source.bootstrapServers === undefined) {
      // What the MSK event source mapping does with the function's role: read the source topic in its group.
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskMappingCluster',
          actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
          resources: [cluster.clusterArn],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskMappingConnect',
          actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
          resources: [cluster.clusterArn],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskMappingRead',
          actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
          resources: [cluster.topicArn(source.topic)],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'MskMappingGroup',
          actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
          resources: [cluster.groupArn(group)],
        }),
      );
      fn.addEventSourceMapping('Kafka', { ...common, eventSourceArn: cluster.clusterArn });
    } else {
      // A self-managed cluster: the mapping's pollers connect from the private subnets with this group, which may
      // reach the brokers' ports (and the Lambda and STS endpoints the pollers call).
      const sg = new ec2.SecurityGroup(scope, `${id}MappingSecurityGroup`, {
        vpc: context.vpc,
        allowAllOutbound: false,
        description: `Junction connector ${source.name}: the event source mapping to the Kafka brokers`,
      });
      const ports = new Set(source.bootstrapServers.map((b) => Number(BROKER.exec(b)?.[1])));
      for (const port of ports)
        sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `Kafka brokers of ${source.name}`);
      // The Lambda and STS endpoints: the stack's own (a rule both ways), else HTTPS to whichever the VPC has.
      if (context.network !== undefined)
        context.network.allowEndpointAccess(
          sg,
          `Junction connector ${source.name} mapping to Lambda and STS`,
        );
      else sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Lambda and STS endpoints');
      const subnetIds = context.vpc.selectSubnets(context.subnets).subnetIds;
      if (source.secret !== undefined) source.secret.grantRead(fn);
      fn.addEventSourceMapping('Kafka', {
        ...common,
        kafkaBootstrapServers: [...source.bootstrapServers],
        sourceAccessConfigurations: [
          ...subnetIds.map((subnet) => ({
            type: lambda.SourceAccessConfigurationType.VPC_SUBNET,
            uri: `subnet:${subnet}`,
          })),
          {
            type: lambda.SourceAccessConfigurationType.VPC_SECURITY_GROUP,
            uri: `security_group:${sg.securityGroupId}`,
          },
          ...(source.secret === undefined
            ? []
            : [
                {
                  type: lambda.SourceAccessConfigurationType.SASL_SCRAM_512_AUTH,
                  uri: source.secret.secretArn,
                },
              ]),
        ],
      });
    }
    // The mapping's on-failure destination: the batch the function kept failing, kept whole.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FailureDestinationList',
        actions: ['s3:ListBucket'],
        resources: [context.failureBucket.bucketArn],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FailureDestinationPut',
        actions: ['s3:PutObject'],
        resources: [context.failureBucket.arnForObjects('*')],
      }),
    );
    acknowledgeNag(
      role,
      'AwsSolutions-IAM5',
      'Lambda writes one object per failed batch into the failure bucket under names it chooses, so ' +
        'PutObject needs "<bucket>/*" of that one bucket.',
      [`Resource::${nagGetAtt(context.failureBucket.node.defaultChild as CfnElement, 'Arn')}/*`],
    );
    functions.set(source.name, fn);
  }
  return functions;
}
