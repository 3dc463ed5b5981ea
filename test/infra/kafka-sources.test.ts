/**
 * `kafkaSources` of the JunctionBus construct: a connector function per source, fed by an MSK event source mapping
 * (the bus's cluster, IAM) or a self-managed Kafka one (brokers reached from the VPC); least privilege (read the source
 * topic in its group, write the events topic, the failure bucket, the tables), cdk-nag clean, entries checked.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { JunctionBusProps } from '../../lib/infra/index.ts';
import {
  actionsOf,
  logicalId,
  roleOf,
  type Statement,
  type Synthesized,
  statementsByRole,
  synthStack,
} from './synth-fixture.ts';

const props: JunctionBusProps = {
  kafkaSources: [
    {
      name: 'orders',
      topic: 'shop.orders',
      mapping: { type: 'com.shop.{value.kind}', subject: '{key}' },
      batchSize: 500,
    },
    {
      name: 'legacy',
      topic: 'legacy.events',
      bootstrapServers: ['10.1.0.5:9092', '10.1.0.6:9092'],
      startingPosition: lambda.StartingPosition.LATEST,
    },
  ],
};

const res = (s: Statement | undefined) => JSON.stringify(s?.Resource);

describe('kafkaSources', () => {
  let synth: Synthesized;
  before(() => {
    synth = synthStack(props, { bundle: false });
  });

  function statementsOf(name: string): Map<string, Statement> {
    const fn = synth.stack.bus.kafkaSourceFunctions.get(name);
    assert.ok(fn, name);
    const statements = statementsByRole(synth.template).get(roleOf(synth.template, logicalId(fn))) ?? [];
    return new Map(statements.map((s) => [s.Sid ?? actionsOf(s).join(','), s]));
  }

  test('a connector function per source, configured by its environment', () => {
    const fn = synth.stack.bus.kafkaSourceFunctions.get('orders');
    assert.ok(fn);
    const resource = synth.template.findResources('AWS::Lambda::Function')[logicalId(fn)];
    assert.ok(resource);
    const env = (resource.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment
      .Variables;
    assert.equal(env.JUNCTION_CONNECTOR_NAME, 'orders');
    assert.deepEqual(JSON.parse(String(env.JUNCTION_CONNECTOR_MAPPING)), {
      type: 'com.shop.{value.kind}',
      source: 'kafka://{topic}',
      id: '{topic}-{partition}-{offset}',
      subject: '{key}',
    });
    // The runtime's configuration, as every handler's.
    assert.equal(env.JUNCTION_KAFKA_TOPIC, 'junction-events');
    assert.equal(env.JUNCTION_BUS, 'default');
    assert.equal(synth.stack.bus.kafkaSourceFunctions.size, 2);
  });

  test('an MSK event source mapping on the bus cluster, in the source group, failures to the bucket', () => {
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(synth.stack.bus.kafkaSourceFunctions.get('orders')!) },
      Topics: ['shop.orders'],
      BatchSize: 500,
      StartingPosition: 'TRIM_HORIZON',
      EventSourceArn: Match.anyValue(),
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'junction-connector.default.orders' },
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
  });

  test('a self-managed mapping in the private subnets, with a group that reaches only the brokers and endpoints', () => {
    const fn = synth.stack.bus.kafkaSourceFunctions.get('legacy')!;
    const mappings = synth.template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: logicalId(fn) } },
    });
    const mapping = Object.values(mappings)[0]?.Properties as Record<string, unknown>;
    assert.deepEqual(mapping.SelfManagedEventSource, {
      Endpoints: { KafkaBootstrapServers: ['10.1.0.5:9092', '10.1.0.6:9092'] },
    });
    assert.deepEqual(mapping.SelfManagedKafkaEventSourceConfig, {
      ConsumerGroupId: 'junction-connector.default.legacy',
    });
    assert.equal(mapping.StartingPosition, 'LATEST');
    assert.equal(mapping.EventSourceArn, undefined);
    const access = mapping.SourceAccessConfigurations as Array<{ Type: string }>;
    assert.deepEqual(
      access.map((a) => a.Type),
      ['VPC_SUBNET', 'VPC_SUBNET', 'VPC_SECURITY_GROUP'],
    );
    const groups = synth.template.findResources('AWS::EC2::SecurityGroup', {
      Properties: { GroupDescription: Match.stringLikeRegexp('connector legacy') },
    });
    const group = Object.values(groups)[0]?.Properties as {
      SecurityGroupEgress: Array<Record<string, unknown>>;
    };
    assert.deepEqual(
      group.SecurityGroupEgress.map((e) => [e.CidrIp, e.FromPort, e.ToPort]),
      [['0.0.0.0/0', 9092, 9092]],
    );
    // HTTPS to the stack's Lambda and STS endpoints only (a rule to their security group).
    synth.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Object.keys(groups)[0], 'GroupId'] },
      FromPort: 443,
      ToPort: 443,
      DestinationSecurityGroupId: Match.anyValue(),
    });
  });

  test('the MSK source may read its topic in its group and write the events topic, nothing more', () => {
    const s = statementsOf('orders');
    assert.deepEqual([...s.keys()].sort(), [
      'FailureDestinationList',
      'FailureDestinationPut',
      'JunctionTables',
      'KafkaConnectProduce',
      'KafkaWriteTopics',
      'ManageVpcNetworkInterfaces',
      'MskMappingCluster',
      'MskMappingConnect',
      'MskMappingGroup',
      'MskMappingRead',
      'WriteOwnLogs',
    ]);
    assert.deepEqual(actionsOf(s.get('MskMappingRead')!), [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:ReadData',
    ]);
    assert.match(res(s.get('MskMappingRead')), /topic\/.*\/shop\.orders"/);
    assert.doesNotMatch(res(s.get('MskMappingRead')), /junction-events/);
    assert.match(res(s.get('MskMappingGroup')), /group\/.*\/junction-connector\.default\.orders"/);
    assert.deepEqual(actionsOf(s.get('KafkaWriteTopics')!), [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:WriteData',
    ]);
    assert.match(res(s.get('KafkaWriteTopics')), /topic\/.*\/junction-events"/);
    assert.doesNotMatch(res(s.get('KafkaWriteTopics')), /shop\.orders/);
  });

  test('the self-managed source reads through its mapping only: no MSK read, no invoke', () => {
    const s = statementsOf('legacy');
    assert.deepEqual([...s.keys()].sort(), [
      'FailureDestinationList',
      'FailureDestinationPut',
      'JunctionTables',
      'KafkaConnectProduce',
      'KafkaWriteTopics',
      'ManageVpcNetworkInterfaces',
      'WriteOwnLogs',
    ]);
  });

  test('a SASL/SCRAM secret is read by the source that names it', () => {
    const { stack: probe } = synthStack({}, { bundle: false });
    const secret = secretsmanager.Secret.fromSecretCompleteArn(
      probe,
      'Creds',
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-creds-AbCdEf',
    );
    const { template } = synthStack(
      {
        kafkaSources: [{ name: 'scram', topic: 'sales', bootstrapServers: ['kafka.internal:9096'], secret }],
      },
      { bundle: false },
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: Match.arrayWith([
        {
          Type: 'SASL_SCRAM_512_AUTH',
          URI: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-creds-AbCdEf',
        },
      ]),
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['secretsmanager:GetSecretValue']),
            Resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-creds-AbCdEf',
          }),
        ]),
      },
    });
  });

  test('cdk-nag AwsSolutions and Serverless report nothing', () => {
    for (const Checks of [AwsSolutionsChecks, ServerlessChecks]) {
      const { app, stack } = synthStack(props, { bundle: false });
      const report = new Checks(app, { verbose: true }).validateScope(stack);
      assert.deepEqual(
        report.violations.map(
          (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        ),
        [],
      );
    }
  });

  test('refuses entries that cannot work, naming the source and the field', () => {
    const refused: Array<[JunctionBusProps['kafkaSources'], RegExp]> = [
      [[{ name: 'a/b', topic: 'tt' }], /name must be/],
      [
        [
          { name: 'x', topic: 'tt' },
          { name: 'x', topic: 'uu' },
        ],
        /'x': a source of this name was already declared/,
      ],
      [[{ name: 'x', topic: 'a b' }], /'x': topic must be/],
      [[{ name: 'x', topic: '.hidden' }], /'x': topic must be/],
      [[{ name: 'x', topic: 't' }], /'x': topic must be 2-249/],
      [[{ name: 'x', topic: 'tt', bootstrapServers: ['no-port'] }], /'x': bootstrapServers: 'no-port'/],
      [[{ name: 'x', topic: 'tt', batchSize: 0 }], /'x': batchSize/],
      [[{ name: 'x', topic: 'tt', timeout: Duration.minutes(15) }], /'x': timeout/],
      [
        [{ name: 'x', topic: 'tt', mapping: { nope: 'y' } as never }],
        /'x': mapping\.nope is not a mapping field/,
      ],
    ];
    for (const [kafkaSources, message] of refused) {
      assert.throws(() => synthStack({ kafkaSources }, { bundle: false }), message);
    }
  });
});
