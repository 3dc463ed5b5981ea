/** The default JunctionBus, synthesized once with real local bundling: every resource and every IAM statement. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { TABLES } from '../../lib/adapters/dynamodb/tables.ts';
import type { JunctionBus } from '../../lib/infra/index.ts';
import {
  actionsOf,
  fixturesDir,
  logicalId,
  roleOf,
  type Statement,
  type Synthesized,
  statementsByRole,
  synthStack,
} from './synth-fixture.ts';

let synth: Synthesized;
let bus: JunctionBus;
let roles: Map<string, Statement[]>;

before(() => {
  synth = synthStack({ functionsDir: join(fixturesDir, 'user-functions') });
  bus = synth.stack.bus;
  roles = statementsByRole(synth.template);
});

const resourcesOf = (type: string) => Object.values(synth.template.findResources(type));

/** The statements of a handler's role, by Sid (every statement of ours carries one). */
function statementsOf(fnLogicalId: string): Map<string, Statement> {
  const statements = roles.get(roleOf(synth.template, fnLogicalId)) ?? [];
  const bySid = new Map<string, Statement>();
  for (const s of statements) {
    const sid = s.Sid ?? actionsOf(s).join(',');
    bySid.set(sid, s);
  }
  return bySid;
}

describe('resources', () => {
  test('has exactly the expected resources, by type', () => {
    const counts: Record<string, number> = {};
    for (const r of Object.values(synth.template.toJSON().Resources) as { Type: string }[]) {
      counts[r.Type] = (counts[r.Type] ?? 0) + 1;
    }
    assert.deepEqual(counts, {
      'AWS::EC2::VPC': 1,
      'AWS::EC2::Subnet': 2,
      'AWS::EC2::RouteTable': 2,
      'AWS::EC2::SubnetRouteTableAssociation': 2,
      'AWS::EC2::FlowLog': 1,
      'AWS::EC2::VPCEndpoint': 4,
      'AWS::EC2::SecurityGroup': 3,
      'AWS::EC2::SecurityGroupIngress': 4,
      'AWS::EC2::SecurityGroupEgress': 4,
      'AWS::IAM::Role': 10,
      'AWS::IAM::Policy': 10,
      'AWS::Logs::LogGroup': 12,
      'AWS::MSK::Cluster': 1,
      'Custom::AWS': 1,
      'Custom::JunctionKafkaTopic': 1,
      'AWS::DynamoDB::GlobalTable': 6,
      'AWS::Lambda::Function': 9,
      'AWS::Lambda::EventSourceMapping': 1,
      'AWS::Lambda::Permission': 4,
      'AWS::S3::Bucket': 1,
      'AWS::S3::BucketPolicy': 1,
      'AWS::Events::Rule': 1,
      'AWS::ApiGatewayV2::Api': 1,
      'AWS::ApiGatewayV2::Integration': 2,
      'AWS::ApiGatewayV2::Route': 3,
      'AWS::ApiGatewayV2::Stage': 1,
      'AWS::CloudWatch::Alarm': 9,
      'AWS::CloudWatch::Dashboard': 1,
      'AWS::SNS::Topic': 1,
      'AWS::SNS::TopicPolicy': 1,
    });
  });

  test('builds a VPC of two isolated subnets with no NAT gateway and no internet gateway', () => {
    synth.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    synth.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    synth.template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.42.0.0/16' });
    for (const subnet of resourcesOf('AWS::EC2::Subnet')) {
      assert.equal((subnet.Properties as { MapPublicIpOnLaunch: boolean }).MapPublicIpOnLaunch, false);
    }
    synth.template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT', ResourceType: 'VPC' });
  });

  test('reaches DynamoDB and S3 through gateway endpoints and Lambda and STS through interface endpoints', () => {
    const services = resourcesOf('AWS::EC2::VPCEndpoint').map((e) => {
      const p = e.Properties as {
        ServiceName: unknown;
        VpcEndpointType?: string;
        PrivateDnsEnabled?: boolean;
      };
      return `${JSON.stringify(p.ServiceName)} ${p.VpcEndpointType ?? 'Gateway'} ${p.PrivateDnsEnabled ?? '-'}`;
    });
    const has = (fragment: string, type: string) =>
      assert.ok(
        services.some((s) => s.includes(fragment) && s.includes(type)),
        `${fragment} ${type} in ${services.join('\n')}`,
      );
    has('.dynamodb', 'Gateway');
    has('.s3', 'Gateway');
    has('.lambda', 'Interface true');
    has('.sts', 'Interface true');
  });

  test('opens the brokers on 9098 only to the handlers and to the cluster group itself', () => {
    const kafkaSg = logicalId(
      (bus.kafkaCluster as unknown as { securityGroup: import('aws-cdk-lib/aws-ec2').SecurityGroup })
        .securityGroup,
    );
    const fnSg = logicalId(bus.functionSecurityGroup);
    const ingress = resourcesOf('AWS::EC2::SecurityGroupIngress').map(
      (r) => r.Properties as Record<string, unknown>,
    );
    const toKafka = ingress.filter((r) => JSON.stringify(r.GroupId).includes(kafkaSg));
    assert.equal(toKafka.length, 2);
    for (const rule of toKafka) {
      assert.equal(rule.FromPort, 9098);
      assert.equal(rule.ToPort, 9098);
    }
    const sources = toKafka.map((r) => JSON.stringify(r.SourceSecurityGroupId)).sort();
    assert.ok(sources.some((s) => s.includes(fnSg)));
    assert.ok(sources.some((s) => s.includes(kafkaSg)));
    const toEndpoints = ingress.filter((r) => !JSON.stringify(r.GroupId).includes(kafkaSg));
    assert.equal(toEndpoints.length, 2);
    for (const rule of toEndpoints) assert.equal(rule.FromPort, 443);
    for (const sg of resourcesOf('AWS::EC2::SecurityGroup')) {
      const props = sg.Properties as { SecurityGroupIngress?: unknown[] };
      assert.equal(props.SecurityGroupIngress, undefined, 'no inline ingress (no CIDR-wide rules)');
    }
  });

  test('creates a provisioned MSK cluster of 2 x kafka.t3.small with IAM auth only and TLS everywhere', () => {
    synth.template.hasResourceProperties('AWS::MSK::Cluster', {
      ClusterName: 'junction',
      KafkaVersion: '3.8.x',
      NumberOfBrokerNodes: 2,
      BrokerNodeGroupInfo: {
        InstanceType: 'kafka.t3.small',
        StorageInfo: { EBSStorageInfo: { VolumeSize: 10 } },
      },
      ClientAuthentication: { Sasl: { Iam: { Enabled: true } }, Unauthenticated: { Enabled: false } },
      EncryptionInfo: { EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true } },
      LoggingInfo: { BrokerLogs: { CloudWatchLogs: { Enabled: true } } },
    });
  });

  test('looks up the IAM bootstrap brokers at deploy time and gives them to the handlers', () => {
    const [lookup] = resourcesOf('Custom::AWS');
    const create = JSON.stringify((lookup!.Properties as { Update: unknown }).Update);
    assert.match(create, /GetBootstrapBrokers/);
    assert.match(create, /BootstrapBrokerStringSaslIam/);
  });

  test('keeps aggregation and correlation state in the state table, which the router and the scheduler may write', () => {
    synth.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      TableName: 'junction-state',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
    });
    const state = logicalId(bus.tables.state);
    for (const fn of [bus.routerFunction, bus.schedulerFunction]) {
      const tables = statementsOf(logicalId(fn)).get('JunctionTables');
      assert.ok(actionsOf(tables!).includes('dynamodb:UpdateItem'), `${fn.node.id} commits state`);
      assert.ok(actionsOf(tables!).includes('dynamodb:Query'), `${fn.node.id} reads state`);
      assert.match(JSON.stringify(tables?.Resource), new RegExp(state), `${fn.node.id} on the state table`);
    }
  });

  test('creates exactly the tables of lib/adapters/dynamodb/tables.ts: keys, indexes, TTL, on-demand, PITR, SSE', () => {
    for (const definition of Object.values(TABLES)) {
      const keySchema = [{ AttributeName: definition.partitionKey.name, KeyType: 'HASH' }];
      if (definition.sortKey) keySchema.push({ AttributeName: definition.sortKey.name, KeyType: 'RANGE' });
      synth.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        TableName: `junction-${definition.suffix}`,
        KeySchema: keySchema,
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
        Replicas: [
          Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
        ],
        TimeToLiveSpecification:
          definition.ttlAttribute !== undefined
            ? { AttributeName: definition.ttlAttribute, Enabled: true }
            : Match.absent(),
        GlobalSecondaryIndexes:
          definition.globalIndexes.length === 0
            ? Match.absent()
            : definition.globalIndexes.map((index) => ({
                IndexName: index.indexName,
                KeySchema: [
                  { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
                  ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : []),
                ],
                Projection: { ProjectionType: index.projection },
              })),
      });
    }
    // Kept on delete and replacement, but not after a failed first deploy (it would block the next try).
    synth.template.allResources('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
    });
    for (const table of Object.values(synth.template.findResources('AWS::DynamoDB::GlobalTable')))
      assert.equal(
        (table.Properties as { Replicas: Array<{ DeletionProtectionEnabled?: boolean }> }).Replicas[0]
          ?.DeletionProtectionEnabled,
        undefined,
        'no deletion protection unless asked',
      );
  });

  test('runs the four handlers on nodejs22.x arm64 in the private subnets with the documented environment', () => {
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      const resource = synth.template.findResources('AWS::Lambda::Function')[logicalId(fn)];
      const props = resource?.Properties as {
        Runtime: string;
        Architectures: string[];
        Handler: string;
        VpcConfig: { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
        Environment: { Variables: Record<string, unknown> };
        LoggingConfig: unknown;
      };
      assert.equal(props.Runtime, 'nodejs22.x');
      assert.deepEqual(props.Architectures, ['arm64']);
      assert.equal(props.Handler, 'index.handler');
      assert.equal(props.VpcConfig.SubnetIds.length, 2);
      assert.deepEqual(Object.keys(props.Environment.Variables).sort(), [
        'JUNCTION_BUS',
        'JUNCTION_FUNCTION_PREFIX',
        'JUNCTION_FUNCTION_ROLE_ARN',
        'JUNCTION_KAFKA_BOOTSTRAP',
        'JUNCTION_KAFKA_CLUSTER_ARN',
        'JUNCTION_KAFKA_TOPIC',
        ...(fn === bus.schedulerFunction ? ['JUNCTION_SCHEDULE_LOOKBACK_MS'] : []),
        'JUNCTION_TABLE_PREFIX',
      ]);
      assert.equal(props.Environment.Variables.JUNCTION_BUS, 'default');
      assert.equal(props.Environment.Variables.JUNCTION_TABLE_PREFIX, 'junction');
      assert.equal(props.Environment.Variables.JUNCTION_KAFKA_TOPIC, 'junction-events');
      assert.equal(props.Environment.Variables.JUNCTION_FUNCTION_PREFIX, 'junction-fn-');
      assert.match(
        JSON.stringify(props.Environment.Variables.JUNCTION_KAFKA_BOOTSTRAP),
        /BootstrapBrokerStringSaslIam/,
      );
      assert.ok(props.LoggingConfig, 'logs go to the function log group with retention');
    }
  });

  test('bundles the handlers of functions/ and the user functions locally with esbuild (ESM, createRequire banner)', () => {
    const outdir = synth.app.outdir;
    const assets = JSON.parse(readFileSync(join(outdir, 'Junction.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const bundles = Object.values(assets.files)
      .map((f) => join(outdir, f.source.path, 'index.mjs'))
      .filter((p) => existsSync(p));
    assert.ok(bundles.length >= 6, `found ${bundles.length} bundles`);
    const texts = bundles.map((b) => readFileSync(b, 'utf8'));
    for (const text of texts) assert.match(text, /createRequire/);
    assert.ok(
      texts.some((t) => t.includes('aws:kafka')),
      'the router bundle decodes MSK events',
    );
    for (const text of texts) {
      assert.doesNotMatch(text, /native\.wasm/, 'no WebAssembly file is read beside the bundle');
    }
    const withKafka = texts.filter((t) => t.includes('AGFzbQ'));
    assert.equal(
      withKafka.length,
      5,
      "the four handlers and the topic function carry the Kafka client's WebAssembly inline",
    );
    const user = texts.filter((t) => t.includes('"enriched"') || t.includes('enriched:'));
    assert.equal(user.length, 1, 'the enrich-order user function is bundled once');
    assert.match(user[0]!, /"event"in e\?e\.event/, 'with the { event, context } adapter of the CLI');
  });

  test('makes each *.ts of functionsDir a tagged nodejs22.x function junction-fn-<name> with the function role', () => {
    assert.deepEqual([...bus.userFunctions.keys()], ['audit', 'enrich-order']);
    for (const name of ['audit', 'enrich-order']) {
      synth.template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: `junction-fn-${name}`,
        Runtime: 'nodejs22.x',
        Role: { 'Fn::GetAtt': [logicalId(bus.functionRole), 'Arn'] },
        Tags: Match.arrayWith([
          { Key: 'junction:function', Value: name },
          { Key: 'junction:managed', Value: 'default' },
        ]),
        VpcConfig: Match.absent(),
      });
    }
  });

  test('creates the events topic at deploy time (6 partitions, RF 2 and min.insync 1 on two brokers), before the mapping', () => {
    const topics = synth.template.findResources('Custom::JunctionKafkaTopic');
    const id = logicalId(bus.eventsTopicResource);
    const props = topics[id]?.Properties as Record<string, unknown>;
    assert.equal(props.Topic, 'junction-events');
    assert.equal(props.Partitions, '6');
    assert.equal(props.ReplicationFactor, '2');
    assert.equal(props.MinInsyncReplicas, '1');
    assert.equal(props.RetentionMs, undefined);
    assert.deepEqual(
      topics[id]?.DeletionPolicy,
      'Delete',
      'deleting the resource runs the handler, which keeps the topic',
    );
    const mapping = Object.values(synth.template.findResources('AWS::Lambda::EventSourceMapping'))[0];
    assert.ok((mapping!.DependsOn as string[]).includes(id), 'the mapping waits for the topic');
    const fn = synth.template.findResources('AWS::Lambda::Function')[logicalId(bus.topicFunction)];
    const env = (fn!.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment
      .Variables;
    assert.deepEqual(Object.keys(env).sort(), ['JUNCTION_KAFKA_BOOTSTRAP', 'JUNCTION_KAFKA_CLUSTER_ARN']);
    assert.ok((fn!.Properties as { VpcConfig?: unknown }).VpcConfig, 'in the VPC, to reach the brokers');
  });

  test('feeds the router from the topic through an MSK event source mapping with an S3 on-failure destination', () => {
    synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalId(bus.routerFunction) },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('Kafka'), 'Arn'] },
      Topics: ['junction-events'],
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'junction-router' },
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(bus.failureBucket), 'Arn'] } },
      },
      ProvisionedPollerConfig: Match.absent(),
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  test('keeps failed batches in a private, encrypted, TLS-only bucket for 90 days', () => {
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, Status: 'Enabled' })] },
    });
    synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ],
      },
    });
  });

  test('runs the scheduler every minute', () => {
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(bus.schedulerFunction), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        }),
      ],
    });
    synth.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [logicalId(bus.schedulerFunction), 'Arn'] },
    });
    // Scheduled rules: it publishes the slots of the last two periods and a minute.
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ JUNCTION_SCHEDULE_LOOKBACK_MS: '180000' }) },
    });
  });

  test('serves ingest and the management API from an HTTP API whose every route needs IAM auth', () => {
    const routes = resourcesOf('AWS::ApiGatewayV2::Route').map((r) => r.Properties as Record<string, string>);
    assert.deepEqual(routes.map((r) => r.RouteKey).sort(), ['ANY /{proxy+}', 'POST /', 'POST /events']);
    for (const route of routes) assert.equal(route.AuthorizationType, 'AWS_IAM');
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('integrationLatency'),
      },
    });
    synth.template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'apigateway.amazonaws.com', Action: 'lambda:InvokeFunction' },
      3,
    );
  });

  test('keeps every log group for one month', () => {
    for (const group of resourcesOf('AWS::Logs::LogGroup')) {
      assert.equal((group.Properties as { RetentionInDays: number }).RetentionInDays, 30);
    }
  });

  test('outputs the API URL, cluster, topic, table prefix, roles and failure bucket', () => {
    const outputs = Object.keys(synth.template.toJSON().Outputs as object).sort();
    assert.deepEqual(outputs, [
      'ApiUrl',
      'DeployRoleArn',
      'FailureBucket',
      'FunctionRoleArn',
      'KafkaClusterArn',
      'KafkaTopic',
      'TablePrefix',
    ]);
  });
});

describe('IAM (least privilege)', () => {
  const tableActions = [
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:Scan',
    'dynamodb:UpdateItem',
  ];

  /** Resources as text, to match ARNs built with Fn::Join. */
  const res = (s: Statement | undefined) => JSON.stringify(s?.Resource);

  test('gives every handler its own log group, the VPC ENI actions, and the Junction tables and their indexes only', () => {
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      const s = statementsOf(logicalId(fn));
      assert.deepEqual(actionsOf(s.get('WriteOwnLogs')!), ['logs:CreateLogStream', 'logs:PutLogEvents']);
      const logGroup =
        fn.node.tryFindChild('Resource') && fn.node.scope?.node.tryFindChild(`${fn.node.id}Logs`);
      assert.ok(logGroup, `log group of ${fn.node.id}`);
      assert.match(res(s.get('WriteOwnLogs')), new RegExp(logicalId(logGroup)));
      assert.deepEqual(s.get('ManageVpcNetworkInterfaces')?.Resource, '*');
      assert.ok(actionsOf(s.get('ManageVpcNetworkInterfaces')!).every((a) => a.startsWith('ec2:')));
      const tables = s.get('JunctionTables')!;
      assert.deepEqual(actionsOf(tables), tableActions);
      const resources = tables.Resource as unknown[];
      assert.equal(resources.length, 12, 'six tables and their indexes');
      for (const table of Object.values(bus.tables)) {
        assert.match(JSON.stringify(resources), new RegExp(logicalId(table)));
      }
    }
  });

  test('lets ingest connect and write to the events topic idempotently, and nothing else on Kafka', () => {
    const s = statementsOf(logicalId(bus.ingestFunction));
    assert.deepEqual([...s.keys()].sort(), [
      'JunctionTables',
      'KafkaConnectProduce',
      'KafkaWriteTopics',
      'ManageVpcNetworkInterfaces',
      'WriteOwnLogs',
    ]);
    assert.deepEqual(actionsOf(s.get('KafkaConnectProduce')!), [
      'kafka-cluster:Connect',
      'kafka-cluster:WriteDataIdempotently',
    ]);
    assert.deepEqual(actionsOf(s.get('KafkaWriteTopics')!), [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:WriteData',
    ]);
    assert.match(res(s.get('KafkaWriteTopics')), /topic\/.*\/junction-events/);
  });

  test('lets no runtime role create topics: only the topic function may, on the events topic', () => {
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      const all = [...statementsOf(logicalId(fn)).values()].flatMap(actionsOf);
      assert.ok(!all.includes('kafka-cluster:CreateTopic'), `${fn.node.id} has no CreateTopic`);
      assert.ok(!all.some((a) => a.startsWith('kafka-cluster:Alter') && a !== 'kafka-cluster:AlterGroup'));
    }
    const s = statementsOf(logicalId(bus.topicFunction));
    assert.deepEqual(actionsOf(s.get('KafkaConnect')!), ['kafka-cluster:Connect']);
    const manage = [...s.values()].find((x) => actionsOf(x).includes('kafka-cluster:CreateTopic'))!;
    assert.deepEqual(actionsOf(manage), [
      'kafka-cluster:AlterTopic',
      'kafka-cluster:AlterTopicDynamicConfiguration',
      'kafka-cluster:CreateTopic',
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:DescribeTopicDynamicConfiguration',
    ]);
    assert.match(res(manage), /topic\/.*\/junction-events"/);
  });

  test('lets the router read its topic in its own group, write back, invoke tagged user functions and store failures', () => {
    const s = statementsOf(logicalId(bus.routerFunction));
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
      'lambda:GetFunction,lambda:ListTags',
      'lambda:InvokeFunction',
    ]);
    assert.deepEqual(actionsOf(s.get('MskMappingRead')!), [
      'kafka-cluster:DescribeTopic',
      'kafka-cluster:ReadData',
    ]);
    assert.match(res(s.get('MskMappingRead')), /junction-events/);
    assert.deepEqual(actionsOf(s.get('MskMappingGroup')!), [
      'kafka-cluster:AlterGroup',
      'kafka-cluster:DescribeGroup',
    ]);
    assert.match(res(s.get('MskMappingGroup')), /group\/.*\/junction-router/);
    assert.deepEqual(actionsOf(s.get('MskMappingCluster')!), [
      'kafka:DescribeCluster',
      'kafka:DescribeClusterV2',
      'kafka:GetBootstrapBrokers',
    ]);
    const invoke = s.get('lambda:InvokeFunction')!;
    assert.match(res(invoke), /function:junction-fn-\*/);
    assert.deepEqual(invoke.Condition, { StringEquals: { 'aws:ResourceTag/junction:managed': 'default' } });
    // Reading the tag (the runner checks it before invoking) has no condition: a mistagged function is seen, refused.
    const read = s.get('lambda:GetFunction,lambda:ListTags')!;
    assert.match(res(read), /function:junction-fn-\*/);
    assert.equal(read.Condition, undefined);
    assert.deepEqual(actionsOf(s.get('FailureDestinationPut')!), ['s3:PutObject']);
    assert.match(res(s.get('FailureDestinationPut')), /\/\*/);
    assert.deepEqual(actionsOf(s.get('FailureDestinationList')!), ['s3:ListBucket']);
  });

  test('lets the scheduler write to Kafka and invoke tagged user functions, but not read the topic', () => {
    const s = statementsOf(logicalId(bus.schedulerFunction));
    assert.deepEqual([...s.keys()].sort(), [
      'JunctionTables',
      'KafkaConnectProduce',
      'KafkaWriteTopics',
      'ManageVpcNetworkInterfaces',
      'WriteOwnLogs',
      'lambda:GetFunction,lambda:ListTags',
      'lambda:InvokeFunction',
    ]);
    assert.deepEqual(s.get('lambda:InvokeFunction')?.Condition, {
      StringEquals: { 'aws:ResourceTag/junction:managed': 'default' },
    });
  });

  test('lets the API read and append to the topic and read, list and delete junction-fn-* functions only', () => {
    const s = statementsOf(logicalId(bus.apiFunction));
    assert.deepEqual(actionsOf(s.get('KafkaReplayRead')!), ['kafka-cluster:ReadData']);
    const manage = [...s.values()].find((x) => actionsOf(x).includes('lambda:GetFunction'))!;
    assert.deepEqual(actionsOf(manage), [
      'lambda:GetFunction',
      'lambda:GetFunctionConfiguration',
      'lambda:ListTags',
    ]);
    assert.match(res(manage), /function:junction-fn-\*/);
    const remove = s.get('lambda:DeleteFunction')!;
    assert.match(res(remove), /function:junction-fn-\*/);
    assert.deepEqual(remove.Condition, { StringEquals: { 'aws:ResourceTag/junction:managed': 'default' } });
    assert.equal(s.get('lambda:ListFunctions')?.Resource, '*');
    const all = [...s.values()].flatMap(actionsOf);
    for (const action of [
      'lambda:CreateFunction',
      'lambda:UpdateFunctionCode',
      'iam:PassRole',
      'lambda:InvokeFunction',
    ]) {
      assert.ok(!all.includes(action), `the API has no ${action}`);
    }
  });

  test('gives the deploy role only the deploy statements, tag-scoped, assumable by tagged principals of the account', () => {
    const s = roles.get(logicalId(bus.deployRole))!;
    const actions = s.flatMap(actionsOf).sort();
    assert.deepEqual(actions, [
      'iam:PassRole',
      'lambda:CreateFunction',
      'lambda:DeleteFunction',
      'lambda:GetFunction',
      'lambda:GetFunctionConfiguration',
      'lambda:ListFunctions',
      'lambda:ListTags',
      'lambda:TagResource',
      'lambda:UpdateFunctionCode',
      'lambda:UpdateFunctionConfiguration',
    ]);
    const byActions = new Map(s.map((x) => [actionsOf(x).join(','), x]));
    assert.deepEqual(byActions.get('lambda:CreateFunction')?.Condition, {
      StringEquals: { 'aws:RequestTag/junction:managed': 'default' },
    });
    assert.deepEqual(byActions.get('lambda:TagResource')?.Condition, {
      StringEquals: { 'aws:RequestTag/junction:managed': 'default' },
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['junction:managed', 'junction:function'] },
    });
    assert.deepEqual(
      byActions.get('lambda:DeleteFunction,lambda:UpdateFunctionCode,lambda:UpdateFunctionConfiguration')
        ?.Condition,
      { StringEquals: { 'aws:ResourceTag/junction:managed': 'default' } },
    );
    const role = synth.template.findResources('AWS::IAM::Role')[logicalId(bus.deployRole)];
    const trust = (role!.Properties as { AssumeRolePolicyDocument: { Statement: Statement[] } })
      .AssumeRolePolicyDocument.Statement;
    assert.equal(trust.length, 1);
    assert.match(JSON.stringify(trust[0]?.Principal), /:root/);
    assert.deepEqual(trust[0]?.Condition, {
      StringEquals: { 'aws:PrincipalTag/junction:deployer': 'default' },
    });
  });

  test('lets user functions write only to /aws/lambda/junction-fn-* log groups', () => {
    const s = roles.get(logicalId(bus.functionRole))!;
    assert.equal(s.length, 1);
    assert.deepEqual(actionsOf(s[0]!), ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents']);
    assert.match(res(s[0]), /log-group:\/aws\/lambda\/junction-fn-\*/);
  });

  test('attaches no managed policy to any Junction role and grants "*" only where AWS allows nothing narrower', () => {
    for (const [role, statements] of roles) {
      for (const s of statements) {
        if (s.Resource !== '*') continue;
        const actions = actionsOf(s);
        const allowed = actions.every((a) => a.startsWith('ec2:') || a === 'lambda:ListFunctions');
        assert.ok(allowed, `${role}: ${actions.join(',')} on "*"`);
      }
    }
    for (const fn of [
      bus.ingestFunction,
      bus.routerFunction,
      bus.apiFunction,
      bus.schedulerFunction,
      bus.functionRole,
    ]) {
      const id = 'role' in fn ? logicalId(fn.role!) : logicalId(fn);
      const role = synth.template.findResources('AWS::IAM::Role')[id];
      assert.equal((role!.Properties as { ManagedPolicyArns?: unknown }).ManagedPolicyArns, undefined, id);
    }
  });

  test('grantPublish allows execute-api:Invoke on POST /events and POST / only', () => {
    const publisher = new iam.Role(synth.stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() });
    bus.grantPublish(publisher);
    const policy = publisher.node.findChild('DefaultPolicy') as iam.Policy;
    const text = JSON.stringify(synth.stack.resolve(policy.document));
    assert.match(text, /execute-api:Invoke/);
    assert.match(text, /\/\$default\/POST\/events"/);
    assert.match(text, /\/\$default\/POST\/"/);
    assert.doesNotMatch(text, /\*/);
  });
});
