/** The Kafka buffer on AWS: an MSK cluster with IAM auth (provisioned or Serverless), created here or imported. */
import { Annotations, Arn, ArnFormat, Fn, Stack, Token } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import { Construct } from 'constructs';

/** The port of MSK's SASL/IAM listener inside the VPC. */
export const MSK_IAM_PORT = 9098;

/** `provisioned`: brokers you size (the cheap default); `serverless`: MSK Serverless (no sizing, higher floor). */
export type KafkaClusterType = 'provisioned' | 'serverless';

/** A Kafka cluster Junction can use: reachable inside a VPC, authenticated with IAM. */
export interface IJunctionKafkaCluster {
  /** The cluster ARN (`arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`). */
  readonly clusterArn: string;
  /** The security group clients and the event source mapping connect through (the ESM uses the cluster's). */
  readonly connections: ec2.Connections;
  /** `host:port,…` of the SASL/IAM listener, when known at synth time. @default resolved at deploy time */
  readonly bootstrapBrokers?: string;
  /**
   * Brokers of a provisioned cluster, when known at synth time (the default replication factor of a bus's topic
   * is `min(3, brokerCount)`). @default unknown (imported or Serverless: the cluster's default)
   */
  readonly brokerCount?: number;
  /** The ARN of a topic of this cluster (for `kafka-cluster:*` data-plane permissions). */
  topicArn(topic: string): string;
  /** The ARN of a consumer group of this cluster. */
  groupArn(group: string): string;
}

/** The provisioned-cluster settings. */
export interface ProvisionedKafkaOptions {
  /** Broker instance type. @default 'kafka.t3.small' (about $0.0456 per broker-hour in us-east-1) */
  readonly instanceType?: string;
  /** Brokers in each subnet (AZ) the cluster is placed in. @default 1 */
  readonly brokersPerAz?: number;
  /** EBS volume per broker, in GiB (1–16384). @default 10 */
  readonly volumeSizeGiB?: number;
  /** The Apache Kafka version. @default '3.8.x' (the version MSK recommends) */
  readonly kafkaVersion?: string;
  /**
   * Grow the broker volumes before they fill (MSK storage auto scaling: a target-tracking policy on broker storage
   * use; volumes grow, never shrink). @default none
   */
  readonly storageAutoScaling?: {
    /** The largest a volume may grow to, in GiB (more than `volumeSizeGiB`, at most 16384). */
    readonly maxVolumeSizeGiB: number;
    /** The storage use (percent) the policy keeps brokers under. @default 60 */
    readonly targetUtilizationPercent?: number;
  };
}

export interface JunctionKafkaClusterProps {
  /** The VPC the brokers are placed in. */
  readonly vpc: ec2.IVpc;
  /** The subnets of the brokers: one per AZ, 2 or 3 AZs. @default the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** @default 'provisioned' */
  readonly clusterType?: KafkaClusterType;
  /** @default 'junction' */
  readonly clusterName?: string;
  /** Only for `clusterType: 'provisioned'`. @default the defaults of `ProvisionedKafkaOptions` */
  readonly provisioned?: ProvisionedKafkaOptions;
  /** Broker log retention (provisioned clusters send broker logs to CloudWatch Logs). @default one month */
  readonly logRetention?: logs.RetentionDays;
}

/** What identifies an existing cluster. */
export interface KafkaClusterAttributes {
  /** The cluster ARN. */
  readonly clusterArn: string;
  /** Security groups of the cluster; Junction's functions are allowed in on port 9098 through them. */
  readonly securityGroups: ec2.ISecurityGroup[];
  /** `host:9098,…` of the SASL/IAM listener. @default looked up at deploy time with GetBootstrapBrokers */
  readonly bootstrapBrokers?: string;
}

const NAME = /^[a-zA-Z0-9-]{1,64}$/;
const INSTANCE_TYPE = /^(kafka|express)\.[a-z0-9]+\.[a-z0-9]+$/;

/** The ARN of a cluster's topic or group: `…:topic/<cluster-name>/<cluster-uuid>/<topic>`. */
function clusterChildArn(
  scope: Construct,
  clusterArn: string,
  kind: 'topic' | 'group',
  name: string,
): string {
  const stack = Stack.of(scope);
  if (!Token.isUnresolved(clusterArn)) {
    const parts = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
    return Arn.format({ ...parts, resource: kind, resourceName: `${parts.resourceName}/${name}` });
  }
  const path = Fn.select(5, Fn.split(':', clusterArn)); // cluster/<name>/<uuid>
  const clusterName = Fn.select(1, Fn.split('/', path));
  const uuid = Fn.select(2, Fn.split('/', path));
  return stack.formatArn({
    service: 'kafka',
    resource: kind,
    resourceName: `${clusterName}/${uuid}/${name}`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** Rejects a bad cluster ARN early (tokens pass: they are checked by CloudFormation). */
function validateClusterArn(arn: string): void {
  if (Token.isUnresolved(arn)) return;
  if (!/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(arn)) {
    throw new Error(
      `kafka cluster: clusterArn must look like arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>, got '${arn}'`,
    );
  }
}

/** An MSK cluster (provisioned or Serverless) with IAM authentication only, TLS everywhere, in private subnets. */
export class JunctionKafkaCluster extends Construct implements IJunctionKafkaCluster {
  /** Uses an existing cluster: Junction adds ingress rules on port 9098 to its security groups. */
  static fromClusterAttributes(
    scope: Construct,
    id: string,
    attrs: KafkaClusterAttributes,
  ): IJunctionKafkaCluster {
    validateClusterArn(attrs.clusterArn);
    if (attrs.securityGroups.length === 0) {
      throw new Error(
        'kafka cluster: securityGroups must name at least one security group of the cluster, got []',
      );
    }
    class Imported extends Construct implements IJunctionKafkaCluster {
      readonly clusterArn = attrs.clusterArn;
      readonly connections = new ec2.Connections({
        securityGroups: attrs.securityGroups,
        defaultPort: ec2.Port.tcp(MSK_IAM_PORT),
      });
      readonly bootstrapBrokers = attrs.bootstrapBrokers;
      topicArn(topic: string): string {
        return clusterChildArn(this, this.clusterArn, 'topic', topic);
      }
      groupArn(group: string): string {
        return clusterChildArn(this, this.clusterArn, 'group', group);
      }
    }
    return new Imported(scope, id);
  }

  readonly clusterArn: string;
  readonly clusterType: KafkaClusterType;
  readonly connections: ec2.Connections;
  /** The cluster's security group. */
  readonly securityGroup: ec2.SecurityGroup;
  /** The CloudFormation resource: `CfnCluster` or `CfnServerlessCluster`. */
  readonly resource: msk.CfnCluster | msk.CfnServerlessCluster;
  /** Broker logs (provisioned clusters only). */
  readonly brokerLogGroup?: logs.LogGroup;
  /** Brokers of a provisioned cluster (`brokersPerAz` × AZs); undefined for Serverless. */
  readonly brokerCount?: number;
  /** The cluster's name (the `Cluster Name` dimension of its CloudWatch metrics). */
  readonly clusterName: string;
  /** The broker instance type of a provisioned cluster; undefined for Serverless. */
  readonly instanceType?: string;

  constructor(scope: Construct, id: string, props: JunctionKafkaClusterProps) {
    super(scope, id);
    const clusterType = props.clusterType ?? 'provisioned';
    if (clusterType !== 'provisioned' && clusterType !== 'serverless') {
      throw new Error(
        `kafka cluster: clusterType must be 'provisioned' or 'serverless', got '${String(clusterType)}'`,
      );
    }
    const clusterName = props.clusterName ?? 'junction';
    if (!NAME.test(clusterName)) {
      throw new Error(`kafka cluster: clusterName must be 1-64 letters, digits or '-', got '${clusterName}'`);
    }
    if (clusterType === 'serverless' && props.provisioned !== undefined) {
      throw new Error(
        "kafka cluster: 'provisioned' options apply only to clusterType 'provisioned', got 'serverless'",
      );
    }
    this.clusterType = clusterType;
    this.clusterName = clusterName;

    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: privateSubnetType(props.vpc) });
    const azs = new Set(subnets.availabilityZones);
    if (!Token.isUnresolved(subnets.subnetIds) && (azs.size < 2 || azs.size > 3)) {
      throw new Error(`kafka cluster: the subnets must span 2 or 3 availability zones, got ${azs.size}`);
    }

    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Junction Kafka: brokers and the Lambda event source mapping (MSK IAM on 9098)',
      allowAllOutbound: false,
    });
    // The event source mapping's ENIs use this group: they must reach the brokers (in this group) and, in
    // on-demand mode, the Lambda and STS endpoints over HTTPS.
    this.securityGroup.addIngressRule(
      this.securityGroup,
      ec2.Port.tcp(MSK_IAM_PORT),
      'ESM pollers to brokers',
    );
    this.securityGroup.addEgressRule(
      this.securityGroup,
      ec2.Port.tcp(MSK_IAM_PORT),
      'ESM pollers to brokers',
    );
    this.securityGroup.addEgressRule(
      ec2.Peer.ipv4(props.vpc.vpcCidrBlock),
      ec2.Port.tcp(443),
      'ESM to endpoints',
    );
    this.connections = new ec2.Connections({
      securityGroups: [this.securityGroup],
      defaultPort: ec2.Port.tcp(MSK_IAM_PORT),
    });

    if (clusterType === 'serverless') {
      this.resource = new msk.CfnServerlessCluster(this, 'Resource', {
        clusterName,
        clientAuthentication: { sasl: { iam: { enabled: true } } },
        vpcConfigs: [{ subnetIds: subnets.subnetIds, securityGroups: [this.securityGroup.securityGroupId] }],
      });
      this.clusterArn = this.resource.attrArn;
      return;
    }

    const options = props.provisioned ?? {};
    const instanceType = options.instanceType ?? 'kafka.t3.small';
    if (!INSTANCE_TYPE.test(instanceType)) {
      throw new Error(`kafka cluster: instanceType must look like 'kafka.m7g.large', got '${instanceType}'`);
    }
    const brokersPerAz = options.brokersPerAz ?? 1;
    if (!Number.isInteger(brokersPerAz) || brokersPerAz < 1) {
      throw new Error(`kafka cluster: brokersPerAz must be an integer >= 1, got ${brokersPerAz}`);
    }
    const volumeSizeGiB = options.volumeSizeGiB ?? 10;
    if (!Number.isInteger(volumeSizeGiB) || volumeSizeGiB < 1 || volumeSizeGiB > 16384) {
      throw new Error(`kafka cluster: volumeSizeGiB must be an integer in 1..16384, got ${volumeSizeGiB}`);
    }
    if (instanceType === 'kafka.t3.small') {
      Annotations.of(this).addInfo(
        'kafka.t3.small brokers are burstable and meant for development and low throughput; size up for production.',
      );
    }
    this.brokerLogGroup = new logs.LogGroup(this, 'BrokerLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.brokerCount = brokersPerAz * subnets.subnetIds.length;
    this.instanceType = instanceType;
    const cluster = new msk.CfnCluster(this, 'Resource', {
      clusterName,
      kafkaVersion: options.kafkaVersion ?? '3.8.x',
      numberOfBrokerNodes: brokersPerAz * subnets.subnetIds.length,
      brokerNodeGroupInfo: {
        instanceType,
        clientSubnets: subnets.subnetIds,
        securityGroups: [this.securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: volumeSizeGiB } },
      },
      clientAuthentication: { sasl: { iam: { enabled: true } }, unauthenticated: { enabled: false } },
      encryptionInfo: { encryptionInTransit: { clientBroker: 'TLS', inCluster: true } },
      loggingInfo: {
        brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: this.brokerLogGroup.logGroupName } },
      },
    });
    this.resource = cluster;
    this.clusterArn = cluster.attrArn;
    const scaling = options.storageAutoScaling;
    if (scaling !== undefined) {
      const { maxVolumeSizeGiB } = scaling;
      const target = scaling.targetUtilizationPercent ?? 60;
      if (
        !Number.isInteger(maxVolumeSizeGiB) ||
        maxVolumeSizeGiB <= volumeSizeGiB ||
        maxVolumeSizeGiB > 16384
      ) {
        throw new Error(
          `kafka cluster: storageAutoScaling.maxVolumeSizeGiB must be an integer above volumeSizeGiB (${volumeSizeGiB}) and at most 16384, got ${maxVolumeSizeGiB}`,
        );
      }
      if (!Number.isInteger(target) || target < 10 || target > 80) {
        throw new Error(
          `kafka cluster: storageAutoScaling.targetUtilizationPercent must be 10..80, got ${target}`,
        );
      }
      const scalable = new appscaling.ScalableTarget(this, 'StorageScaling', {
        serviceNamespace: appscaling.ServiceNamespace.KAFKA,
        scalableDimension: 'kafka:broker-storage:VolumeSize',
        resourceId: cluster.attrArn,
        minCapacity: 1,
        maxCapacity: maxVolumeSizeGiB,
      });
      scalable.scaleToTrackMetric('StorageUtilization', {
        predefinedMetric: appscaling.PredefinedMetric.KAFKA_BROKER_STORAGE_UTILIZATION,
        targetValue: target,
        // MSK never shrinks a volume.
        disableScaleIn: true,
      });
    }
  }

  topicArn(topic: string): string {
    return clusterChildArn(this, this.clusterArn, 'topic', topic);
  }

  groupArn(group: string): string {
    return clusterChildArn(this, this.clusterArn, 'group', group);
  }
}

/** The subnet type a new VPC of ours has for private resources: isolated without NAT, with egress otherwise. */
export function privateSubnetType(vpc: ec2.IVpc): ec2.SubnetType {
  return vpc.privateSubnets.length > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;
}

/** The data-plane actions of a producer (idempotent) on a cluster and topics. */
export function kafkaProducerStatements(
  cluster: IJunctionKafkaCluster,
  topicArns: string[],
): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'KafkaConnectProduce',
      actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      resources: [cluster.clusterArn],
    }),
    new iam.PolicyStatement({
      sid: 'KafkaWriteTopics',
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: topicArns,
    }),
  ];
}
