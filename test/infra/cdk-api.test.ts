/**
 * The CDK-native API of a bus (issue #15): `addRule` / `JunctionRule` (a custom resource calling the api function),
 * `IJunctionBus` with `fromAttributes`, `metric*()`, `grantPutEvents` / `grantManage`, and the Solutions-Constructs
 * style overrides (`tableProps`, `encryptionKey`, `functionProps`). Assertions on the template, and cdk-nag.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import {
  type IJunctionBus,
  JunctionBus,
  type JunctionBusProps,
  JunctionRule,
} from '../../lib/infra/index.ts';
import { actionsOf, cdkJsonContext, type Statement, statementsByRole } from './synth-fixture.ts';

/** A bare stack (no bundling) with a bus, and whatever `more` adds, synthesized. */
function build(
  props: (stack: Stack) => JunctionBusProps = () => ({}),
  more: (stack: Stack, bus: JunctionBus) => void = () => undefined,
): { app: App; stack: Stack; bus: JunctionBus; template: Template } {
  const app = new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bus = new JunctionBus(stack, 'Bus', props(stack));
  more(stack, bus);
  return { app, stack, bus, template: Template.fromStack(stack) };
}

/** The same in an environment-agnostic stack (as the CDK app's default, which cdk-nag's findings are written for). */
build.agnostic = (
  props: (stack: Stack) => JunctionBusProps,
  more: (stack: Stack, bus: JunctionBus) => void,
): { app: App; stack: Stack } => {
  const app = new App({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  more(stack, new JunctionBus(stack, 'Bus', props(stack)));
  return { app, stack };
};

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as CfnElement);

const orders = {
  pattern: { type: ['com.shop.order.created'] },
  targets: [{ id: 'audit', type: 'http' as const, url: 'https://audit.example.com/hook' }],
};

describe('addRule and JunctionRule', () => {
  test('a rule is a Custom::JunctionRule with its name and body, behind a provider that may invoke only the api function', () => {
    let rule: JunctionRule | undefined;
    const { stack, bus, template } = build(undefined, (_s, b) => {
      rule = b.addRule('BigOrders', { ruleName: 'big-orders', description: 'audit', ...orders });
    });
    assert.equal(rule?.ruleName, 'big-orders');
    const resources = template.findResources('Custom::JunctionRule');
    assert.equal(Object.keys(resources).length, 1);
    const [resource] = Object.values(resources);
    const properties = resource?.Properties as { RuleName: string; Rule: string };
    assert.equal(properties.RuleName, 'big-orders');
    assert.deepEqual(JSON.parse(properties.Rule), { description: 'audit', ...orders });
    // Created after the api function, its role, the tables and the topic; so deleted before them.
    const dependsOn = resource?.DependsOn as string[];
    for (const c of [bus.apiFunction, bus.tables.rules, bus.eventsTopicResource]) {
      assert.ok(dependsOn.includes(logicalId(stack, c)), `depends on ${c.node.id}`);
    }
    assert.ok(
      dependsOn.some((d) => d.startsWith('BusApiFunctionRole')),
      'depends on the api role',
    );

    // The rule function: the api function's ARN, and lambda:InvokeFunction on exactly that ARN.
    const apiArn = { 'Fn::GetAtt': [logicalId(stack, bus.apiFunction), 'Arn'] };
    const ruleFunctions = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
      ([, f]) =>
        (f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables
          ?.JUNCTION_API_FUNCTION !== undefined,
    );
    assert.equal(ruleFunctions.length, 1);
    const [, fn] = ruleFunctions[0] as [string, { Properties: Record<string, unknown> }];
    assert.deepEqual(
      (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.JUNCTION_API_FUNCTION,
      apiArn,
    );
    assert.equal(fn.Properties.VpcConfig, undefined, 'the rule function needs no VPC (the Lambda API only)');
    const role = (fn.Properties.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const statements = statementsByRole(template).get(role) ?? [];
    const invoke = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));
    assert.deepEqual(
      invoke.map((s: Statement) => [actionsOf(s), s.Resource]),
      [[['lambda:InvokeFunction'], apiArn]],
      'only Invoke, only the api function (no version or alias wildcard)',
    );
    assert.ok(
      statements.every((s) => !actionsOf(s).some((a) => a.startsWith('dynamodb:') || a.startsWith('kafka'))),
      'no table or Kafka access',
    );
  });

  test('rules share one provider per bus; a default name comes from the path; a schedule is a rule too', () => {
    const { template } = build(undefined, (stack, b) => {
      b.addRule('One', orders);
      new JunctionRule(stack, 'Two', {
        bus: b,
        schedule: { expression: 'rate(5 minutes)', event: { source: '/cron', type: 'tick' } },
        targets: orders.targets,
      });
    });
    const rules = Object.values(template.findResources('Custom::JunctionRule')).map(
      (r) => r.Properties as { RuleName: string; Rule: string },
    );
    assert.equal(rules.length, 2);
    for (const r of rules) assert.match(r.RuleName, /^[A-Za-z0-9._-]{1,64}$/);
    assert.notEqual(rules[0]?.RuleName, rules[1]?.RuleName);
    assert.equal(
      Object.values(template.findResources('AWS::Lambda::Function')).filter(
        (f) =>
          (f.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables
            ?.JUNCTION_API_FUNCTION !== undefined,
      ).length,
      1,
      'one rule function for both rules',
    );
  });

  test('a rule the API would refuse fails synth with its code and field', () => {
    assert.throws(
      () => build(undefined, (_s, b) => b.addRule('Bad', { pattern: { type: 'x' }, targets: [] })),
      /JunctionRule Test\/Bus\/Bad: InvalidPattern: pattern\.type/,
    );
    assert.throws(
      () =>
        build(undefined, (_s, b) =>
          b.addRule('Both', { ...orders, schedule: { expression: 'rate(5 minutes)' } }),
        ),
      /InvalidRule: a scheduled rule has no pattern/,
    );
    assert.throws(
      () => build(undefined, (_s, b) => b.addRule('Name', { ...orders, ruleName: 'a/b' })),
      /InvalidRule: the rule name must be/,
    );
  });
});

describe('IJunctionBus.fromAttributes', () => {
  const attributes = {
    busName: 'orders',
    apiUrl: 'https://abc123xyz.execute-api.eu-west-1.amazonaws.com/',
  };

  test('grants execute-api:Invoke on the imported API: the ingest routes, or every route', () => {
    const { template } = build(undefined, (stack) => {
      const bus: IJunctionBus = JunctionBus.fromAttributes(stack, 'Orders', attributes);
      const publisher = new iam.Role(stack, 'Publisher', { assumedBy: new iam.AccountRootPrincipal() });
      const operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
      bus.grantPutEvents(publisher);
      bus.grantManage(operator);
    });
    const byRole = statementsByRole(template);
    const resources = (role: string) =>
      JSON.stringify([...byRole.entries()].find(([id]) => id.startsWith(role))?.[1]?.[0]?.Resource);
    const publish = resources('Publisher');
    assert.match(publish, /execute-api:eu-west-1:123456789012:abc123xyz\/\$default\/POST\/events/);
    assert.match(publish, /abc123xyz\/\$default\/POST\/"/);
    assert.match(resources('Operator'), /abc123xyz\/\$default\/\*\/\*/);
  });

  test('reads a REST stage from the URL; without an API id grants throw, without apiFunctionArn addRule throws', () => {
    build(undefined, (stack) => {
      const rest = JunctionBus.fromAttributes(stack, 'Rest', {
        busName: 'billing',
        apiUrl: 'https://r3st4p1.execute-api.eu-west-1.amazonaws.com/v1/',
      });
      const role = new iam.Role(stack, 'R', { assumedBy: new iam.AccountRootPrincipal() });
      rest.grantPublish(role);
      const custom = JunctionBus.fromAttributes(stack, 'Custom', {
        busName: 'billing',
        apiUrl: 'https://events.example.com/',
      });
      assert.throws(() => custom.grantManage(role), /give apiId/);
      assert.throws(() => custom.addRule('R', orders), /apiFunctionArn/);
      assert.throws(
        () => JunctionBus.fromAttributes(stack, 'Bad', { busName: '.x', apiUrl: 'https://x/' }),
        /busName must be/,
      );
    });
  });

  test('adds a rule to a bus of another app through its api function ARN', () => {
    const apiFunctionArn = 'arn:aws:lambda:eu-west-1:123456789012:function:Junction-BusApiFunction-abc';
    const { template } = build(undefined, (stack) => {
      const bus = JunctionBus.fromAttributes(stack, 'Orders', { ...attributes, apiFunctionArn });
      bus.addRule('Audit', { ruleName: 'audit', ...orders });
    });
    template.hasResourceProperties('Custom::JunctionRule', { RuleName: 'audit' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { JUNCTION_API_FUNCTION: apiFunctionArn } },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: apiFunctionArn }),
        ]),
      },
    });
  });
});

describe('metric*() helpers', () => {
  test('name the EMF namespace, metric and dimensions the handlers write', () => {
    const { bus, template } = build(
      () => ({ busName: 'orders' }),
      (stack, b) => {
        // An alarm of the user's on a lane.
        new cloudwatch.Alarm(stack, 'AuditFailing', {
          metric: b.metricDeliveryErrors('big', 'audit'),
          threshold: 10,
          evaluationPeriods: 1,
        });
      },
    );
    const asJson = (m: cloudwatch.Metric) => ({
      namespace: m.namespace,
      metricName: m.metricName,
      dimensions: m.dimensions,
      statistic: m.statistic,
    });
    assert.deepEqual(asJson(bus.metricEventsIn()), {
      namespace: 'Junction',
      metricName: 'junction_events_in_total',
      dimensions: { service: 'orders' },
      statistic: 'Sum',
    });
    assert.equal(bus.metricEventsMatched().metricName, 'junction_events_matched_total');
    assert.equal(bus.metricEventsUnmatched().metricName, 'junction_events_unmatched_total');
    assert.deepEqual(bus.metricRuleMatches('big').dimensions, { service: 'orders', rule: 'big' });
    assert.deepEqual(bus.metricDeliveryErrors('big', 'audit').dimensions, {
      service: 'orders',
      rule: 'big',
      target: 'audit',
      outcome: 'failed',
    });
    assert.deepEqual(bus.metricDeadLetters().dimensions, { service: 'orders' });
    assert.deepEqual(bus.metricDeadLetters({ rule: 'big', target: 'audit' }).dimensions, {
      service: 'orders',
      rule: 'big',
      target: 'audit',
    });
    assert.equal(bus.metricDeliveries({ period: Duration.minutes(1) }).period.toMinutes(), 1);
    assert.throws(() => bus.metricDeadLetters({ rule: 'big' }), /needs its target/);
    assert.throws(() => bus.metric('junction_deliveries_total', { target: 'a' }), /needs its rule/);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Junction',
      MetricName: 'junction_deliveries_total',
      Dimensions: Match.arrayWith([{ Name: 'outcome', Value: 'failed' }]),
    });
  });

  test('an imported bus has the same metrics', () => {
    const { stack } = build();
    const bus = JunctionBus.fromAttributes(stack, 'Other', { busName: 'billing', apiUrl: 'https://x/' });
    assert.deepEqual(bus.metricDeadLetters().dimensions, { service: 'billing' });
  });
});

describe('overrides: tableProps, encryptionKey, functionProps', () => {
  test('tableProps: billing, point-in-time recovery and a KMS key on every table; the handlers may use the key', () => {
    let key: kms.Key | undefined;
    const { stack, template } = build((s) => {
      key = new kms.Key(s, 'TableKey', { enableKeyRotation: true });
      return {
        tableProps: {
          billing: dynamodb.Billing.provisioned({
            readCapacity: dynamodb.Capacity.fixed(5),
            writeCapacity: dynamodb.Capacity.autoscaled({ maxCapacity: 50 }),
          }),
          pointInTimeRecovery: false,
          encryptionKey: key,
        },
      };
    });
    const tables = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    assert.ok(tables.length >= 5);
    const keyArn = { 'Fn::GetAtt': [logicalId(stack, key as kms.Key), 'Arn'] };
    for (const t of tables) {
      const p = t.Properties as Record<string, unknown>;
      assert.equal(p.BillingMode, 'PROVISIONED');
      assert.deepEqual(p.SSESpecification, { SSEEnabled: true, SSEType: 'KMS' });
      const replica = (p.Replicas as Array<Record<string, unknown>>)[0];
      assert.deepEqual(replica?.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: false });
      assert.deepEqual(replica?.SSESpecification, { KMSMasterKeyId: keyArn });
    }
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['kms:Decrypt', 'kms:GenerateDataKey*']),
            Resource: keyArn,
          }),
        ]),
      },
    });
  });

  test('encryptionKey: every log group of the bus, the alarm topic, and the key policy lets Logs and alarms in', () => {
    let key: kms.Key | undefined;
    const { stack, template } = build((s) => {
      key = new kms.Key(s, 'Key', { enableKeyRotation: true });
      return { encryptionKey: key };
    });
    const keyArn = { 'Fn::GetAtt': [logicalId(stack, key as kms.Key), 'Arn'] };
    const groups = Object.entries(template.findResources('AWS::Logs::LogGroup')).filter(([id]) =>
      id.startsWith('Bus'),
    );
    assert.ok(groups.length >= 6, `${groups.length} log groups`);
    for (const [id, g] of groups) {
      assert.deepEqual((g.Properties as { KmsKeyId?: unknown }).KmsKeyId, keyArn, id);
    }
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: keyArn,
      DisplayName: 'Junction alarms (default)',
    });
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const keys = Object.values(template.findResources('AWS::KMS::Key'));
    assert.equal(keys.length, 1);
    const policy = JSON.stringify((keys[0]?.Properties as { KeyPolicy?: unknown } | undefined)?.KeyPolicy);
    assert.match(policy, /logs\.eu-west-1\.amazonaws\.com/);
    assert.match(policy, /kms:EncryptionContext:aws:logs:arn/);
    assert.match(policy, /cloudwatch\.amazonaws\.com/);
  });

  test('functionProps: memory, timeout and added variables; the construct variables cannot be replaced', () => {
    const { stack, bus, template } = build(() => ({
      functionProps: {
        ingest: { memorySize: 2048, environment: { JUNCTION_HTTP_TARGETS_ALLOW: '10.0.0.0/8' } },
        router: { timeout: Duration.minutes(5) },
      },
    }));
    const fn = (c: { node: { defaultChild?: unknown } }) =>
      template.findResources('AWS::Lambda::Function')[logicalId(stack, c)]?.Properties as {
        MemorySize: number;
        Timeout: number;
        Environment: { Variables: Record<string, unknown> };
      };
    assert.equal(fn(bus.ingestFunction).MemorySize, 2048);
    assert.equal(fn(bus.ingestFunction).Environment.Variables.JUNCTION_HTTP_TARGETS_ALLOW, '10.0.0.0/8');
    assert.equal(fn(bus.ingestFunction).Environment.Variables.JUNCTION_BUS, 'default');
    assert.equal(fn(bus.routerFunction).Timeout, 300);
    assert.equal(fn(bus.apiFunction).MemorySize, 1024, 'the others keep their defaults');
    assert.throws(
      () => build(() => ({ functionProps: { api: { environment: { JUNCTION_BUS: 'x' } } } })),
      /functionProps\.api\.environment cannot replace JUNCTION_BUS/,
    );
    assert.throws(
      () => build(() => ({ functionProps: { router: { timeout: Duration.minutes(15) } } })),
      /functionProps\.router\.timeout must be 1 second to 14 minutes/,
    );
    assert.throws(
      () => build(() => ({ functionProps: { scheduler: { memorySize: 64 } } })),
      /functionProps\.scheduler\.memorySize/,
    );
    assert.throws(
      () => build(() => ({ router: { memorySize: 2048 }, functionProps: { router: { memorySize: 4096 } } })),
      /both size the router/,
    );
  });
});

describe('cdk-nag on a bus with rules, a KMS key and overrides', () => {
  test('reports no AwsSolutions or Serverless finding', () => {
    const { app, stack } = build.agnostic(
      (s) => ({
        encryptionKey: new kms.Key(s, 'Key', { enableKeyRotation: true }),
        functionProps: { api: { memorySize: 2048 } },
      }),
      (s, b) => {
        b.addRule('Orders', orders);
        JunctionBus.fromAttributes(s, 'Other', {
          busName: 'billing',
          apiUrl: 'https://abc123xyz.execute-api.eu-west-1.amazonaws.com/',
          apiFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:other-api',
        }).addRule('Billing', orders);
      },
    );
    for (const checks of [
      new AwsSolutionsChecks(app, { verbose: true }),
      new ServerlessChecks(app, { verbose: true }),
    ]) {
      const report = checks.validateScope(stack);
      const findings = report.violations.map(
        (v) =>
          `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`,
      );
      assert.deepEqual(findings, []);
    }
  });
});
