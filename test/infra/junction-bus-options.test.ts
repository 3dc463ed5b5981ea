/** JunctionBus options (bring your own VPC or cluster, Serverless, REST API, router tuning) and early validation. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App, type CfnElement, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { type JunctionBusProps, JunctionKafkaCluster, kafkaClusterNameOf } from '../../lib/infra/index.ts';
import { JunctionBus } from '../../lib/infra/junction-bus.ts';
import { JunctionStack } from '../../lib/infra/junction-stack.ts';
import { fixtureEntries, fixturesDir, synthStack } from './synth-fixture.ts';

const noBundling = { bundle: false } as const;

/** A bare stack (no bundling) with a JunctionBus built by `build`. */
function busIn(build: (stack: Stack) => JunctionBusProps): {
  stack: Stack;
  bus: JunctionBus;
  template: Template;
} {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const bus = new JunctionBus(stack, 'Bus', build(stack));
  return { stack, bus, template: Template.fromStack(stack) };
}

const lambdaEnv = (template: Template) =>
  Object.values(template.findResources('AWS::Lambda::Function'))
    .map(
      (f) =>
        (f.Properties as { Environment?: { Variables: Record<string, unknown> } }).Environment?.Variables,
    )
    .filter((v) => v?.JUNCTION_TABLE_PREFIX !== undefined);

describe('JunctionBus options', () => {
  test('creates MSK Serverless when kafkaClusterType is serverless', () => {
    const { template } = synthStack({ kafkaClusterType: 'serverless' }, noBundling);
    template.resourceCountIs('AWS::MSK::ServerlessCluster', 1);
    template.resourceCountIs('AWS::MSK::Cluster', 0);
    template.resourceCountIs('Custom::AWS', 1);
  });

  test('the production profile: 3 AZs, 3 non-burstable brokers with growing storage, RF 3 and min.insync 2', () => {
    const inRegion = (bus: JunctionBusProps) => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new JunctionStack(app, 'Prod', {
        env: { account: '123456789012', region: 'eu-west-1' },
        bus,
      });
      return Template.fromStack(stack);
    };
    const template = inRegion({ profile: 'production' });
    template.hasResourceProperties('AWS::MSK::Cluster', {
      NumberOfBrokerNodes: 3,
      BrokerNodeGroupInfo: Match.objectLike({
        InstanceType: 'kafka.m7g.large',
        StorageInfo: { EBSStorageInfo: { VolumeSize: 100 } },
      }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'kafka',
      ScalableDimension: 'kafka:broker-storage:VolumeSize',
      MaxCapacity: 1000,
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 60,
        DisableScaleIn: true,
        PredefinedMetricSpecification: { PredefinedMetricType: 'KafkaBrokerStorageUtilization' },
      }),
    });
    const cluster = Object.values(template.findResources('AWS::MSK::Cluster'))[0]?.Properties as
      | { BrokerNodeGroupInfo: { ClientSubnets: unknown[] } }
      | undefined;
    assert.equal(cluster?.BrokerNodeGroupInfo.ClientSubnets.length, 3, 'one subnet per AZ, three AZs');
    const topic = Object.values(template.findResources('Custom::JunctionKafkaTopic'))[0]?.Properties as
      | Record<string, unknown>
      | undefined;
    assert.equal(topic?.ReplicationFactor, '3');
    assert.equal(topic?.MinInsyncReplicas, '2');
    // Explicit settings win over the profile's.
    const own = inRegion({
      profile: 'production',
      provisionedKafka: { instanceType: 'kafka.m7g.xlarge' },
      network: { maxAzs: 2 },
    });
    own.hasResourceProperties('AWS::MSK::Cluster', {
      NumberOfBrokerNodes: 2,
      BrokerNodeGroupInfo: Match.objectLike({ InstanceType: 'kafka.m7g.xlarge' }),
    });
    // With MSK Serverless the profile sizes nothing.
    inRegion({ profile: 'production', kafkaClusterType: 'serverless' }).resourceCountIs(
      'AWS::MSK::ServerlessCluster',
      1,
    );
    // An environment-agnostic stack knows 2 AZs: refused rather than a 2-AZ "production" cluster.
    assert.throws(
      () => synthStack({ profile: 'production' }, noBundling),
      /3 availability zones.*give the stack an env/,
    );
  });

  test('uses an imported cluster with known brokers: no cluster, no lookup, ingress on its security group', () => {
    const { template } = busIn((stack) => ({
      kafkaCluster: JunctionKafkaCluster.fromClusterAttributes(stack, 'Shared', {
        clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/shared/abcd-1',
        securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'SharedSg', 'sg-0123456789abcdef0')],
        bootstrapBrokers: 'b-1.shared:9098,b-2.shared:9098',
      }),
    }));
    template.resourceCountIs('AWS::MSK::Cluster', 0);
    template.resourceCountIs('AWS::MSK::ServerlessCluster', 0);
    template.resourceCountIs('Custom::AWS', 0);
    for (const env of lambdaEnv(template)) {
      assert.equal(env?.JUNCTION_KAFKA_BOOTSTRAP, 'b-1.shared:9098,b-2.shared:9098');
      assert.equal(
        env?.JUNCTION_KAFKA_CLUSTER_ARN,
        'arn:aws:kafka:us-east-1:123456789012:cluster/shared/abcd-1',
      );
    }
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0123456789abcdef0',
      FromPort: 9098,
      ToPort: 9098,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/shared/abcd-1',
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'MskMappingGroup',
            Resource: 'arn:aws:kafka:us-east-1:123456789012:group/shared/abcd-1/junction-router',
          }),
        ]),
      },
    });
  });

  test('places everything in your VPC and creates no network of its own', () => {
    const { bus, template } = busIn((stack) => ({
      vpc: new ec2.Vpc(stack, 'Mine', { maxAzs: 2, natGateways: 1 }),
    }));
    assert.equal(bus.network, undefined);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  test('serves a REST API with IAM auth, API keys and a usage plan, and associates a web ACL', () => {
    const webAclArn = 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/junction/0f1e2d3c';
    const { template } = synthStack(
      { apiType: 'rest', restApi: { apiKeyRequired: true, webAclArn } },
      noBundling,
    );
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    template.resourceCountIs('AWS::ApiGateway::RestApi', 1);
    const methods = Object.values(template.findResources('AWS::ApiGateway::Method')).map(
      (m) => m.Properties as { HttpMethod: string; AuthorizationType: string; ApiKeyRequired?: boolean },
    );
    assert.deepEqual(methods.map((m) => m.HttpMethod).sort(), ['ANY', 'POST', 'POST']);
    for (const m of methods) assert.equal(m.AuthorizationType, 'AWS_IAM');
    assert.equal(methods.filter((m) => m.ApiKeyRequired === true).length, 2, 'the two ingest methods');
    template.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
    template.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
    template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', { WebACLArn: webAclArn });
    template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 })],
    });
  });

  test('opens only the ingest routes when ingestAuthorization is none', () => {
    const { template } = synthStack({ ingestAuthorization: 'none' }, noBundling);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
      (r) => r.Properties as { RouteKey: string; AuthorizationType: string },
    );
    const auth = Object.fromEntries(routes.map((r) => [r.RouteKey, r.AuthorizationType]));
    assert.deepEqual(auth, { 'POST /events': 'NONE', 'POST /': 'NONE', 'ANY /{proxy+}': 'AWS_IAM' });
  });

  test('tunes the router mapping: provisioned pollers, batching window, batch size, retries, start', () => {
    const { template } = synthStack(
      {
        router: {
          provisionedPollers: { minimum: 2, maximum: 6 },
          maxBatchingWindow: Duration.seconds(0),
          batchSize: 20,
          retryAttempts: 5,
          startingPosition: 'LATEST' as never,
          timeout: Duration.minutes(5),
          memorySize: 2048,
        },
      },
      noBundling,
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 6 },
      MaximumBatchingWindowInSeconds: 0,
      BatchSize: 20,
      MaximumRetryAttempts: 5,
      StartingPosition: 'LATEST',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('router'),
      Timeout: 300,
      MemorySize: 2048,
    });
  });

  test('lets the router and the scheduler write to targetTopics besides the events topic', () => {
    const { template } = synthStack({ targetTopics: ['orders', 'audit.v1'] }, noBundling);
    const writes = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap(
        (p) =>
          (p.Properties as { PolicyDocument: { Statement: { Sid?: string; Resource: unknown }[] } })
            .PolicyDocument.Statement,
      )
      .filter((s) => s.Sid === 'KafkaWriteTopics')
      .map((s) => JSON.stringify(s.Resource));
    assert.equal(writes.filter((w) => w.includes('/orders') && w.includes('/audit.v1')).length, 2);
    assert.equal(
      writes.filter((w) => !w.includes('/orders')).length,
      2,
      'ingest and the API write only events',
    );
  });

  test('names tables and the environment after tablePrefix and topic, and destroys data on request', () => {
    const { template } = synthStack(
      { tablePrefix: 'acme-prod', topic: 'acme.events', removalPolicy: RemovalPolicy.DESTROY },
      noBundling,
    );
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', { TableName: 'acme-prod-dead-letters' });
    template.allResources('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
    for (const env of lambdaEnv(template)) {
      assert.equal(env?.JUNCTION_TABLE_PREFIX, 'acme-prod');
      assert.equal(env?.JUNCTION_KAFKA_TOPIC, 'acme.events');
    }
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { Topics: ['acme.events'] });
  });

  test("names a bus's own MSK cluster after the bus, so stacks of two buses do not collide", () => {
    const clusterName = (busName: string): unknown => {
      const { template } = busIn(() => ({ busName }));
      const clusters = Object.values(template.findResources('AWS::MSK::Cluster'));
      assert.equal(clusters.length, 1);
      return (clusters[0]!.Properties as { ClusterName: unknown }).ClusterName;
    };
    const orders = clusterName('orders');
    const billing = clusterName('billing.eu');
    assert.equal(orders, kafkaClusterNameOf('orders'));
    assert.match(String(orders), /^junction-[0-9a-f]{10}$/);
    assert.match(String(billing), /^junction-[0-9a-f]{10}$/);
    assert.notEqual(orders, billing);
    assert.equal(kafkaClusterNameOf('default'), 'junction');
  });

  test('turns on deletion protection on every table when asked', () => {
    const { template } = synthStack({ deletionProtection: true }, noBundling);
    const tables = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    assert.equal(tables.length, 6);
    for (const table of tables)
      assert.equal(
        (table.Properties as { Replicas: Array<{ DeletionProtectionEnabled?: boolean }> }).Replicas[0]
          ?.DeletionProtectionEnabled,
        true,
      );
  });

  test('lets the handlers reach any port when handlersAllowAllOutbound is on', () => {
    const { stack, template } = synthStack({ handlersAllowAllOutbound: true }, noBundling);
    const sgId = stack.getLogicalId(stack.bus.functionSecurityGroup.node.defaultChild as CfnElement);
    const sg = template.findResources('AWS::EC2::SecurityGroup')[sgId];
    assert.deepEqual((sg!.Properties as { SecurityGroupEgress: unknown[] }).SecurityGroupEgress, [
      { CidrIp: '0.0.0.0/0', Description: 'Allow all outbound traffic by default', IpProtocol: '-1' },
    ]);
  });

  test('runs the scheduler at the given rate', () => {
    const { template } = synthStack({ schedulerRate: Duration.minutes(5) }, noBundling);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test('addFunction adds a tagged junction-fn-<name> function with its options', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Test');
    const bus = new JunctionBus(stack, 'Bus');
    bus.addFunction('report', join(fixturesDir, 'user-functions', 'audit.ts'), {
      memorySize: 512,
      timeout: Duration.seconds(10),
      environment: { LEVEL: 'debug' },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'junction-fn-report',
      MemorySize: 512,
      Timeout: 10,
      Runtime: 'nodejs22.x',
      Environment: { Variables: { LEVEL: 'debug' } },
      Tags: Match.arrayWith([{ Key: 'junction:function', Value: 'report' }]),
    });
  });

  test('lets the API deploy user functions with the function role when apiDeploysFunctions is on', () => {
    const { stack, template } = synthStack({ apiDeploysFunctions: true }, noBundling);
    const roleId = stack.getLogicalId(stack.bus.apiFunction.role!.node.defaultChild as CfnElement);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify((p.Properties as { Roles: unknown }).Roles).includes(roleId))
      .flatMap(
        (p) =>
          (
            p.Properties as {
              PolicyDocument: { Statement: { Action: string | string[]; Condition?: unknown }[] };
            }
          ).PolicyDocument.Statement,
      );
    const create = statements.find((s) => s.Action === 'lambda:CreateFunction');
    assert.deepEqual(create?.Condition, { StringEquals: { 'aws:RequestTag/junction:managed': 'default' } });
    const pass = statements.find((s) => s.Action === 'iam:PassRole');
    assert.deepEqual(pass?.Condition, { StringEquals: { 'iam:PassedToService': 'lambda.amazonaws.com' } });
  });

  test('deployRolePrincipal replaces the default trust (tagged principals of the account) with the given principal', () => {
    const principal = new iam.ArnPrincipal('arn:aws:iam::123456789012:role/ci-deployer');
    const { stack, template } = synthStack({ deployRolePrincipal: principal }, noBundling);
    const role =
      template.findResources('AWS::IAM::Role')[
        stack.getLogicalId(stack.bus.deployRole.node.defaultChild as CfnElement)
      ];
    const trust = (
      role!.Properties as {
        AssumeRolePolicyDocument: { Statement: { Principal: unknown; Condition?: unknown }[] };
      }
    ).AssumeRolePolicyDocument.Statement;
    assert.deepEqual(
      trust.map((t) => [t.Principal, t.Condition]),
      [[{ AWS: 'arn:aws:iam::123456789012:role/ci-deployer' }, undefined]],
    );
  });

  test('grantManage allows execute-api:Invoke on every route of the API', () => {
    const { stack } = synthStack({}, noBundling);
    const admin = new iam.Role(stack, 'Admin', { assumedBy: new iam.AccountRootPrincipal() });
    stack.bus.grantManage(admin);
    const policy = admin.node.findChild('DefaultPolicy') as iam.Policy;
    const text = JSON.stringify(stack.resolve(policy.document));
    assert.match(text, /execute-api:Invoke/);
    assert.match(text, /\/\$default\/\*\/\*/);
  });

  test('accepts handlerEntries for forks and tests', () => {
    const { stack } = synthStack({ handlerEntries: fixtureEntries }, noBundling);
    assert.equal(stack.bus.ingestFunction.runtime.name, 'nodejs22.x');
  });
});

describe('JunctionBus validation', () => {
  const cases: [string, (stack: Stack) => JunctionBusProps, RegExp][] = [
    ['a topic with a slash', () => ({ topic: 'a/b' }), /topic must be 1-249 of \[a-zA-Z0-9._-\], got 'a\/b'/],
    ['a target topic with a space', () => ({ targetTopics: ['ok', 'no way'] }), /got 'no way'/],
    ['a table prefix with a colon', () => ({ tablePrefix: 'a:b' }), /tablePrefix .*got 'a:b'/],
    [
      'a cluster type with your own cluster',
      (stack) => ({
        kafkaClusterType: 'serverless',
        kafkaCluster: JunctionKafkaCluster.fromClusterAttributes(stack, 'C', {
          clusterArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/a/b',
          securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(stack, 'S', 'sg-1')],
        }),
      }),
      /cannot be combined with kafkaCluster/,
    ],
    [
      'network settings with your own VPC',
      (stack) => ({ vpc: new ec2.Vpc(stack, 'V'), network: { natGateways: 1 } }),
      /network configures the VPC we create/,
    ],
    [
      'REST options with the HTTP API',
      () => ({ restApi: { apiKeyRequired: true } }),
      /restApi options need apiType 'rest', got 'http'/,
    ],
    [
      'an unknown API type',
      () => ({ apiType: 'grpc' as 'http' }),
      /apiType must be 'http' or 'rest', got 'grpc'/,
    ],
    ['an unknown ingest authorization', () => ({ ingestAuthorization: 'jwt' as 'iam' }), /got 'jwt'/],
    [
      'a web ACL ARN that is not a regional WAFv2 ACL',
      () => ({
        apiType: 'rest',
        restApi: { webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1' },
      }),
      /REGIONAL WAFv2 web ACL .*got 'arn:aws:wafv2:us-east-1:123456789012:global\/webacl\/x\/1'/,
    ],
    [
      'a batch size of 0',
      () => ({ router: { batchSize: 0 } }),
      /router.batchSize must be an integer in 1..10000, got 0/,
    ],
    [
      'a batching window of 1.5 seconds',
      () => ({ router: { maxBatchingWindow: Duration.millis(1500) } }),
      /maxBatchingWindow must be whole seconds in 0..300, got 1 second 500 millis/,
    ],
    [
      'more minimum pollers than the maximum',
      () => ({ router: { provisionedPollers: { minimum: 5, maximum: 2 } } }),
      /maximum must be an integer in 5..2000, got 2/,
    ],
    [
      'retry attempts without provisioned pollers',
      () => ({ router: { retryAttempts: 3 } }),
      /retryAttempts needs router.provisionedPollers/,
    ],
    [
      'a router timeout over 14 minutes',
      () => ({ router: { timeout: Duration.minutes(15) } }),
      /at most 14 minutes .*got 15 minutes/,
    ],
    [
      'a scheduler rate under a minute',
      () => ({ schedulerRate: Duration.seconds(30) }),
      /at least 1 minute, got 30 seconds/,
    ],
    [
      'an unknown handler entry',
      () => ({ handlerEntries: { worker: 'x.ts' } as never }),
      /handlerEntries keys must be one of ingest, router, api, scheduler, topic, rule, got 'worker'/,
    ],
    [
      'a handler entry that does not exist',
      () => ({ handlerEntries: { ingest: '/nonexistent/ingest.ts' } }),
      /the ingest handler entry '\/nonexistent\/ingest.ts' does not exist/,
    ],
    [
      'a functionsDir that does not exist',
      () => ({ functionsDir: '/nonexistent/fns' }),
      /functionsDir: '\/nonexistent\/fns' is not a folder/,
    ],
    [
      'throttling without a rate',
      () => ({ throttle: { rateLimit: 0, burstLimit: 10 } }),
      /throttle needs rateLimit > 0 .*got \{"rateLimit":0,"burstLimit":10\}/,
    ],
  ];
  for (const [what, props, message] of cases) {
    test(`rejects ${what}, showing the value`, () => {
      assert.throws(() => busIn(props), message);
    });
  }

  test('rejects a user function name Lambda would not accept, and a duplicate', () => {
    const { bus } = busIn(() => ({}));
    const entry = join(fixturesDir, 'user-functions', 'audit.ts');
    assert.throws(() => bus.addFunction('has space', entry), /a function name must be .*got 'has space'/);
    assert.throws(() => bus.addFunction('x'.repeat(53), entry), /at most 64 characters/);
    bus.addFunction('one', entry);
    assert.throws(() => bus.addFunction('one', entry), /a function named 'one' was already added/);
    assert.throws(
      () => bus.addFunction('two', entry, { memorySize: 64 }),
      /memorySize must be an integer in 128..10240 \(MB\), got 64/,
    );
    assert.throws(
      () => bus.addFunction('three', '/nonexistent.ts'),
      /entry '\/nonexistent.ts' does not exist/,
    );
  });
});
