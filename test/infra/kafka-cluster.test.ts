/** JunctionKafkaCluster: provisioned and Serverless clusters with IAM auth, imported clusters, early validation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { JunctionKafkaCluster } from '../../lib/infra/index.ts';

/** A stack with a VPC of isolated subnets; three AZs need an account and region (dummy AZs without context). */
function setUp(azs = 2): { stack: Stack; vpc: ec2.Vpc } {
  const env = azs > 2 ? { account: '123456789012', region: 'us-east-1' } : undefined;
  const stack = new Stack(new App(), 'Test', env === undefined ? {} : { env });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: azs,
    natGateways: 0,
    subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  return { stack, vpc };
}

describe('JunctionKafkaCluster', () => {
  test('creates an MSK Serverless cluster with IAM auth in the private subnets', () => {
    const { stack, vpc } = setUp();
    new JunctionKafkaCluster(stack, 'Kafka', { vpc, clusterType: 'serverless' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::MSK::Cluster', 0);
    template.hasResourceProperties('AWS::MSK::ServerlessCluster', {
      ClusterName: 'junction',
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } } },
    });
    const [cluster] = Object.values(template.findResources('AWS::MSK::ServerlessCluster'));
    const vpcConfigs = (
      cluster!.Properties as { VpcConfigs: { SubnetIds: unknown[]; SecurityGroups: unknown[] }[] }
    ).VpcConfigs;
    assert.equal(vpcConfigs[0]!.SubnetIds.length, 2);
    assert.equal(vpcConfigs[0]!.SecurityGroups.length, 1);
  });

  test('sizes a provisioned cluster from its options: brokers per AZ, instance type, volume, version', () => {
    const { stack, vpc } = setUp(3);
    new JunctionKafkaCluster(stack, 'Kafka', {
      vpc,
      provisioned: {
        instanceType: 'kafka.m7g.large',
        brokersPerAz: 2,
        volumeSizeGiB: 100,
        kafkaVersion: '3.9.x',
      },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::MSK::Cluster', {
      NumberOfBrokerNodes: 6,
      KafkaVersion: '3.9.x',
      BrokerNodeGroupInfo: {
        InstanceType: 'kafka.m7g.large',
        StorageInfo: { EBSStorageInfo: { VolumeSize: 100 } },
      },
    });
  });

  test('derives topic and group ARNs from a cluster ARN', () => {
    const { stack } = setUp();
    const imported = JunctionKafkaCluster.fromClusterAttributes(stack, 'Imported', {
      clusterArn:
        'arn:aws:kafka:eu-west-1:123456789012:cluster/shared/0123abcd-aaaa-bbbb-cccc-0123456789ab-2',
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-0123456789abcdef0')],
      bootstrapBrokers: 'b-1.shared.kafka.eu-west-1.amazonaws.com:9098',
    });
    assert.equal(
      imported.topicArn('junction-events'),
      'arn:aws:kafka:eu-west-1:123456789012:topic/shared/0123abcd-aaaa-bbbb-cccc-0123456789ab-2/junction-events',
    );
    assert.equal(
      imported.groupArn('junction-router'),
      'arn:aws:kafka:eu-west-1:123456789012:group/shared/0123abcd-aaaa-bbbb-cccc-0123456789ab-2/junction-router',
    );
    assert.equal(imported.bootstrapBrokers, 'b-1.shared.kafka.eu-west-1.amazonaws.com:9098');
  });

  test('derives topic ARNs of a cluster created in the stack with Fn::Split of its ARN', () => {
    const { stack, vpc } = setUp();
    const cluster = new JunctionKafkaCluster(stack, 'Kafka', { vpc });
    const arn = JSON.stringify(stack.resolve(cluster.topicArn('junction-events')));
    assert.match(arn, /Fn::Split/);
    assert.match(arn, /:topic\//);
    assert.match(arn, /\/junction-events/);
  });

  const invalid: [string, () => void, RegExp][] = [
    [
      'an imported cluster ARN that is not an MSK cluster ARN',
      () => {
        const { stack } = setUp();
        JunctionKafkaCluster.fromClusterAttributes(stack, 'I', {
          clusterArn: 'arn:aws:sqs:eu-west-1:123456789012:queue',
          securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1')],
        });
      },
      /clusterArn must look like .*got 'arn:aws:sqs:eu-west-1:123456789012:queue'/,
    ],
    [
      'an imported cluster without security groups',
      () => {
        const { stack } = setUp();
        JunctionKafkaCluster.fromClusterAttributes(stack, 'I', {
          clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/a/b',
          securityGroups: [],
        });
      },
      /securityGroups must name at least one/,
    ],
    [
      'an unknown cluster type',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', { vpc, clusterType: 'dedicated' as 'serverless' });
      },
      /clusterType must be 'provisioned' or 'serverless', got 'dedicated'/,
    ],
    [
      'provisioned options on a Serverless cluster',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', {
          vpc,
          clusterType: 'serverless',
          provisioned: { brokersPerAz: 2 },
        });
      },
      /'provisioned' options apply only to clusterType 'provisioned'/,
    ],
    [
      'a cluster name with spaces',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', { vpc, clusterName: 'my cluster' });
      },
      /clusterName must be .*got 'my cluster'/,
    ],
    [
      'zero brokers per AZ',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', { vpc, provisioned: { brokersPerAz: 0 } });
      },
      /brokersPerAz must be an integer >= 1, got 0/,
    ],
    [
      'an instance type that is not an MSK broker type',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', { vpc, provisioned: { instanceType: 't3.small' } });
      },
      /instanceType must look like 'kafka.m7g.large', got 't3.small'/,
    ],
    [
      'a volume over 16384 GiB',
      () => {
        const { stack, vpc } = setUp();
        new JunctionKafkaCluster(stack, 'K', { vpc, provisioned: { volumeSizeGiB: 20000 } });
      },
      /volumeSizeGiB must be an integer in 1..16384, got 20000/,
    ],
  ];
  for (const [what, act, message] of invalid) {
    test(`rejects ${what}, showing the value`, () => {
      assert.throws(act, message);
    });
  }
});
