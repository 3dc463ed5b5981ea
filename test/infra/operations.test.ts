/** Operations of the construct: alarms to an SNS topic (on by default), log retention everywhere, reserved concurrency. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { JunctionBus } from '../../lib/infra/junction-bus.ts';
import { fixtureEntries, logicalId, synthStack } from './synth-fixture.ts';

const noBundling = { bundle: false } as const;

interface AlarmProps {
  AlarmDescription: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
  MetricName?: string;
  Namespace?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Threshold: number;
  ComparisonOperator: string;
  Metrics?: {
    Id: string;
    Expression?: string;
    MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: unknown }[] } };
  }[];
}

function alarmsOf(template: Template): Map<string, AlarmProps> {
  const out = new Map<string, AlarmProps>();
  for (const [id, r] of Object.entries(template.findResources('AWS::CloudWatch::Alarm'))) {
    out.set(id.replace(/[0-9A-F]{8}$/, ''), r.Properties as AlarmProps);
  }
  return out;
}

describe('alarms', () => {
  test('are on by default: lag, errors, throttles, 5xx, table throttles, dead letters, broker disk and CPU credits, all to one topic', () => {
    const { stack, template } = synthStack({}, noBundling);
    const bus = stack.bus;
    const alarms = alarmsOf(template);
    assert.deepEqual([...alarms.keys()].map((k) => k.replace(/^Bus/, '')).sort(), [
      'Api5xxAlarm',
      'BrokerCpuCreditsAlarm',
      'BrokerDiskAlarm',
      'DeadLettersAlarm',
      'HandlerErrorsAlarm',
      'HandlerThrottlesAlarm',
      'RouterOffsetLagAlarm',
      'TableThrottlesAlarm',
      'TableThrottlesAlarm2',
    ]);
    const topic = logicalId(bus.alarmTopic as sns.Topic);
    for (const [id, a] of alarms) {
      assert.deepEqual(a.AlarmActions, [{ Ref: topic }], `${id} alarms to the topic`);
      assert.deepEqual(a.OKActions, [{ Ref: topic }], `${id} says when it is over`);
      assert.match(a.AlarmDescription, /docs\/aws\.md, Alarms/);
    }
    const dead = alarms.get('BusDeadLettersAlarm')!;
    assert.equal(dead.Namespace, 'Junction', 'the EMF totals the handlers write');
    assert.equal(dead.MetricName, 'junction_dead_letters_total');
    assert.deepEqual(dead.Dimensions, [{ Name: 'service', Value: 'default' }]);
    assert.equal(dead.Threshold, 1);
    const lag = alarms.get('BusRouterOffsetLagAlarm')!;
    assert.equal(lag.MetricName, 'OffsetLag');
    assert.deepEqual(lag.Dimensions, [
      { Name: 'FunctionName', Value: { Ref: logicalId(bus.routerFunction) } },
    ]);
    assert.equal(lag.Threshold, 10_000);
    const errors = alarms.get('BusHandlerErrorsAlarm')!;
    assert.equal(errors.Metrics?.find((m) => m.Expression)?.Expression, 'i + r + a + s');
    const watched = errors.Metrics?.filter((m) => m.MetricStat).map((m) =>
      JSON.stringify(m.MetricStat?.Metric.Dimensions),
    );
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      assert.ok(
        watched?.some((d) => d.includes(logicalId(fn))),
        `errors of ${fn.node.id}`,
      );
    }
    const tables = alarms.get('BusTableThrottlesAlarm')!;
    const stats = tables.Metrics?.filter((m) => m.MetricStat) ?? [];
    assert.equal(stats.length, 10, 'read and write throttle events of the first five tables');
    // A math expression holds 10 metrics at most: the sixth table (state) has an alarm of its own.
    const more = alarms.get('BusTableThrottlesAlarm2')!;
    assert.equal(
      more.Metrics?.filter((m) => m.MetricStat).length,
      2,
      'read and write throttle events of the state table',
    );
    const disk = alarms.get('BusBrokerDiskAlarm')!;
    assert.equal(disk.Metrics?.find((m) => m.Expression)?.Expression, 'MAX([b1, b2])');
    assert.equal(disk.Threshold, 80);
    const brokerDims = disk.Metrics?.filter((m) => m.MetricStat).map((m) => m.MetricStat?.Metric.Dimensions);
    assert.deepEqual(brokerDims, [
      [
        { Name: 'Broker ID', Value: '1' },
        { Name: 'Cluster Name', Value: 'junction' },
      ],
      [
        { Name: 'Broker ID', Value: '2' },
        { Name: 'Cluster Name', Value: 'junction' },
      ],
    ]);
    const credits = alarms.get('BusBrokerCpuCreditsAlarm')!;
    assert.equal(credits.ComparisonOperator, 'LessThanThreshold');
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {}); // enforceSSL
  });

  test('alarms: false makes none and no topic; alarms.topic sends them to yours; non-burstable brokers have no credit alarm', () => {
    const off = synthStack({ alarms: false }, noBundling);
    off.template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    off.template.resourceCountIs('AWS::SNS::Topic', 0);
    assert.deepEqual(off.stack.bus.alarms, []);

    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Mine');
    const mine = new sns.Topic(stack, 'Pager');
    const bus = new JunctionBus(stack, 'Bus', {
      handlerEntries: fixtureEntries,
      alarms: { topic: mine, offsetLag: 500 },
      provisionedKafka: { instanceType: 'kafka.m7g.large' },
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const alarms = alarmsOf(template);
    assert.equal(alarms.size, 8, 'no CPU credit alarm for m7g brokers');
    const pager = stack.getLogicalId(mine.node.defaultChild as CfnElement);
    for (const a of alarms.values()) assert.deepEqual(a.AlarmActions, [{ Ref: pager }]);
    assert.equal(alarms.get('BusRouterOffsetLagAlarm')?.Threshold, 500);
    assert.equal(bus.alarmTopic, mine);
  });

  test('several buses share one alarm topic; the cluster alarms belong to the bus that created the cluster', () => {
    const { stack, template } = synthStack({}, { ...noBundling, buses: [{ name: 'orders' }] });
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const ids = [...alarmsOf(template).keys()];
    assert.equal(ids.filter((id) => id.includes('BrokerDisk')).length, 1);
    assert.equal(ids.filter((id) => id.includes('RouterOffsetLag')).length, 2);
    const orders = stack.buses.get('orders')!;
    assert.equal(orders.alarmTopic, stack.bus.alarmTopic);
  });

  test('rejects bad thresholds, naming the prop and showing the value', () => {
    assert.throws(
      () => synthStack({ alarms: { offsetLag: 0 } }, noBundling),
      /alarms\.offsetLag must be at least 1 record, got 0/,
    );
    assert.throws(
      () => synthStack({ alarms: { brokerDiskUsedPercent: 120 } }, noBundling),
      /alarms\.brokerDiskUsedPercent must be between 0 and 100, got 120/,
    );
  });
});

describe('log retention and reserved concurrency', () => {
  test('every log group has a retention, and every function logs to one of them (none left to Lambda)', () => {
    const { template } = synthStack({}, { ...noBundling, buses: [{ name: 'orders' }] });
    const groups = template.findResources('AWS::Logs::LogGroup');
    for (const [id, g] of Object.entries(groups)) {
      assert.equal((g.Properties as { RetentionInDays?: number }).RetentionInDays, 30, `${id} keeps 30 days`);
    }
    for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const group = (fn.Properties as { LoggingConfig?: { LogGroup?: { Ref: string } } }).LoggingConfig
        ?.LogGroup;
      assert.ok(group !== undefined && group.Ref in groups, `${id} logs to a group of the stack`);
    }
  });

  test('reserves concurrency for ingest and api when asked, and for nothing else', () => {
    const { stack, template } = synthStack({ reservedConcurrency: { ingest: 200, api: 20 } }, noBundling);
    const fns = template.findResources('AWS::Lambda::Function');
    const reserved = (fn: { node: { defaultChild?: unknown } }) =>
      (
        fns[stack.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties as {
          ReservedConcurrentExecutions?: number;
        }
      ).ReservedConcurrentExecutions;
    assert.equal(reserved(stack.bus.ingestFunction), 200);
    assert.equal(reserved(stack.bus.apiFunction), 20);
    assert.equal(reserved(stack.bus.routerFunction), undefined);
    assert.equal(reserved(stack.bus.schedulerFunction), undefined);
    const none = synthStack({}, noBundling).template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(none)) {
      assert.equal(
        (fn.Properties as { ReservedConcurrentExecutions?: number }).ReservedConcurrentExecutions,
        undefined,
      );
    }
    assert.throws(
      () => synthStack({ reservedConcurrency: { ingest: 0 } }, noBundling),
      /reservedConcurrency\.ingest must be an integer in 1\.\.10000, got 0/,
    );
  });
});

describe('dashboard', () => {
  test('is on by default: events, deliveries and dead letters from the EMF totals, lag, handlers, 5xx', () => {
    const { template } = synthStack({}, noBundling);
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    assert.equal(dashboards.length, 1);
    const props = dashboards[0]?.Properties as { DashboardBody: unknown } | undefined;
    const body = JSON.stringify(props?.DashboardBody);
    for (const name of [
      'junction_events_in_total',
      'junction_events_matched_total',
      'junction_deliveries_total',
      'junction_dead_letters_total',
      'junction_delivery_latency_ms',
      'junction_ingest_to_route_ms',
      'delivery p99',
      'OffsetLag',
      'Throttles',
      'Duration',
      '5xx',
    ]) {
      assert.ok(body.includes(name), `the dashboard shows ${name}`);
    }
  });

  test('dashboard: false leaves it out', () => {
    const { template } = synthStack({ dashboard: false }, noBundling);
    assert.equal(Object.keys(template.findResources('AWS::CloudWatch::Dashboard')).length, 0);
  });
});

describe('tracing', () => {
  /** A synthesized function's environment variables (none: undefined). */
  const variablesOf = (fn: { Properties?: unknown }) =>
    (fn.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables;
  const handlerEnv = (template: Template, stack: Stack, fn: { node: { defaultChild?: unknown } }) =>
    template.findResources('AWS::Lambda::Function')[stack.getLogicalId(fn.node.defaultChild as CfnElement)]!
      .Properties as { Environment: { Variables: Record<string, unknown> }; Layers?: unknown[] };

  test('is off by default: no OTLP endpoint in any handler', () => {
    const { template } = synthStack({}, noBundling);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      assert.equal(variablesOf(fn)?.JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    }
  });

  test('names the endpoint, the service and the collector layer on the four handlers', () => {
    const app = new App();
    const stack = new Stack(app, 'Traced');
    const layer = lambda.LayerVersion.fromLayerVersionArn(
      stack,
      'Collector',
      'arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-collector-arm64-ver-0-102-1:1',
    );
    const bus = new JunctionBus(stack, 'Bus', {
      handlerEntries: fixtureEntries,
      tracing: { otlpEndpoint: 'http://localhost:4318', serviceName: 'orders-bus', layers: [layer] },
    });
    const template = Template.fromStack(stack);
    for (const fn of [bus.ingestFunction, bus.routerFunction, bus.apiFunction, bus.schedulerFunction]) {
      const props = handlerEnv(template, stack, fn);
      assert.equal(props.Environment.Variables.JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT, 'http://localhost:4318');
      assert.equal(props.Environment.Variables.OTEL_SERVICE_NAME, 'orders-bus');
      assert.deepEqual(props.Layers, [
        'arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-collector-arm64-ver-0-102-1:1',
      ]);
    }
  });

  test('refuses an endpoint that is not an http(s) URL', () => {
    assert.throws(
      () => synthStack({ tracing: { otlpEndpoint: 'collector:4318' } }, noBundling),
      /tracing\.otlpEndpoint must be an http\(s\) URL, got "collector:4318"/,
    );
  });

  test('sets the protocol when one is given, and refuses one it does not know', () => {
    const { stack, template } = synthStack(
      { tracing: { otlpEndpoint: 'http://localhost:4317', protocol: 'grpc' } },
      noBundling,
    );
    const fns = template.findResources('AWS::Lambda::Function');
    const traced = Object.values(fns).filter(
      (fn) => variablesOf(fn)?.JUNCTION_OTEL_EXPORTER_OTLP_ENDPOINT !== undefined,
    );
    assert.equal(traced.length, 4, `the four handlers of ${stack.stackName}`);
    for (const fn of traced) assert.equal(variablesOf(fn)?.JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL, 'grpc');
    const plain = synthStack({ tracing: { otlpEndpoint: 'http://localhost:4318' } }, noBundling).template;
    for (const fn of Object.values(plain.findResources('AWS::Lambda::Function'))) {
      assert.equal(variablesOf(fn)?.JUNCTION_OTEL_EXPORTER_OTLP_PROTOCOL, undefined);
    }
    assert.throws(
      () =>
        synthStack(
          { tracing: { otlpEndpoint: 'http://localhost:4318', protocol: 'thrift' as 'grpc' } },
          noBundling,
        ),
      /tracing\.protocol must be http\/json, http\/protobuf or grpc, got "thrift"/,
    );
  });
});

describe('targetsAllow', () => {
  test('lets targets reach the listed private ranges: JUNCTION_HTTP_TARGETS_ALLOW on the handlers', () => {
    const { stack, template } = synthStack({ targetsAllow: ['10.0.0.0/16', '192.168.1.5'] }, noBundling);
    const fns = template.findResources('AWS::Lambda::Function');
    for (const fn of [stack.bus.routerFunction, stack.bus.schedulerFunction, stack.bus.apiFunction]) {
      const vars = (
        fns[stack.getLogicalId(fn.node.defaultChild as CfnElement)]!.Properties as {
          Environment: { Variables: Record<string, unknown> };
        }
      ).Environment.Variables;
      assert.equal(vars.JUNCTION_HTTP_TARGETS_ALLOW, '10.0.0.0/16,192.168.1.5');
    }
    assert.throws(
      () => synthStack({ targetsAllow: ['10.0.0.0/99'] }, noBundling),
      /targetsAllow\[0\] must be an IP address or a CIDR block, got "10\.0\.0\.0\/99"/,
    );
  });
});
