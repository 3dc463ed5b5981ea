/**
 * Operations of a bus: CloudWatch alarms on what needs a person (consumer lag, handler errors and throttles, API
 * 5xx, DynamoDB throttles, dead letters; for a cluster the bus created, broker disk use and CPU credits), sent to an
 * SNS topic, and a dashboard.
 * What each alarm means and what to do: docs/aws.md, "Alarms".
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { JunctionFrontDoor } from './front-door.ts';
import { acknowledgeNag } from './nag.ts';

/** Alarm settings of a bus (`JunctionBusProps.alarms`). */
export interface AlarmOptions {
  /** Where alarms (and their return to OK) are sent. @default one SNS topic per stack, `JunctionAlarms` */
  readonly topic?: sns.ITopic;
  /** The router's consumer lag (records, the event source mapping's `OffsetLag`) that alarms. @default 10000 */
  readonly offsetLag?: number;
  /** Broker data-disk use (percent) that alarms, for a cluster the bus created. @default 80 */
  readonly brokerDiskUsedPercent?: number;
  /** CPU credit balance of burstable (t3) brokers below which it alarms. @default 50 */
  readonly cpuCreditBalance?: number;
}

/** What the alarms watch. */
export interface AlarmTargets {
  readonly busName: string;
  readonly handlers: Readonly<Record<'ingest' | 'router' | 'api' | 'scheduler', lambda.IFunction>>;
  readonly frontDoor: JunctionFrontDoor;
  readonly tables: readonly dynamodb.ITableV2[];
  /** A cluster this bus created (its alarms are the bus's). @default none */
  readonly cluster?: {
    readonly clusterName: string;
    readonly brokerCount: number;
    readonly instanceType: string;
  };
}

const FIVE_MINUTES = Duration.minutes(5);

/** The stack's alarm topic (one for every bus of the stack that brings none). */
function stackAlarmTopic(scope: Construct): sns.ITopic {
  const stack = Stack.of(scope);
  const found = stack.node.tryFindChild('JunctionAlarms');
  if (found !== undefined) return found as sns.Topic;
  const topic = new sns.Topic(stack, 'JunctionAlarms', {
    displayName: 'Junction alarms',
    enforceSSL: true,
  });
  acknowledgeNag(
    topic,
    'AwsSolutions-SNS2',
    'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer key of ' +
      'its own costs every stack a KMS key; the messages are alarm state changes, no event data. Bring an ' +
      'encrypted topic with alarms.topic.',
  );
  return topic;
}

function sum(
  expression: string,
  metrics: Record<string, cloudwatch.IMetric>,
  label: string,
): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({ expression, usingMetrics: metrics, label, period: FIVE_MINUTES });
}

/** A bus's total of a counter the handlers write as EMF (lib/adapters/aws/emf.ts: the `service` dimension alone). */
function busTotal(bus: string, metricName: string, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'Junction',
    metricName,
    dimensionsMap: { service: bus },
    statistic: cloudwatch.Stats.SUM,
    period: FIVE_MINUTES,
    ...(label === undefined ? {} : { label }),
  });
}

/** A percentile of a latency the handlers sample as EMF values (lib/adapters/aws/emf.ts), the bus's own. */
function busLatency(bus: string, metricName: string, statistic: string, label: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'Junction',
    metricName,
    dimensionsMap: { service: bus },
    statistic,
    period: FIVE_MINUTES,
    label,
  });
}

/**
 * The bus's dashboard: events in and matched, deliveries and dead letters (the EMF totals), delivery and
 * ingest → route latency percentiles (the EMF samples), the router's lag, the
 * handlers' errors, throttles and p99 duration, the API's 5xx.
 */
export function createDashboard(scope: Construct, targets: AlarmTargets): cloudwatch.Dashboard {
  const bus = targets.busName;
  const { ingest, router, api, scheduler } = targets.handlers;
  const handlers = { ingest, router, api, scheduler };
  const door = targets.frontDoor;
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(
    new cloudwatch.TextWidget({
      markdown: `# Junction bus ${bus}\nWhat each graph means and what to do when an alarm fires: docs/aws.md (Metrics, Alarms).`,
      width: 24,
      height: 2,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Events (per 5 minutes)',
      left: [
        busTotal(bus, 'junction_events_in_total', 'accepted'),
        busTotal(bus, 'junction_events_matched_total', 'matched a rule'),
        busTotal(bus, 'junction_events_unmatched_total', 'matched none'),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Deliveries (per 5 minutes)',
      left: [
        busTotal(bus, 'junction_deliveries_total', 'attempts'),
        busTotal(bus, 'junction_dead_letters_total', 'dead-lettered'),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Latency (ms): delivery attempts, ingest → route',
      left: [
        busLatency(bus, 'junction_delivery_latency_ms', 'p50', 'delivery p50'),
        busLatency(bus, 'junction_delivery_latency_ms', 'p99', 'delivery p99'),
        busLatency(bus, 'junction_ingest_to_route_ms', 'p99', 'ingest → route p99'),
      ],
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Router lag (records behind the events topic)',
      left: [
        new cloudwatch.Metric({
          namespace: 'AWS/Lambda',
          metricName: 'OffsetLag',
          dimensionsMap: { FunctionName: router.functionName },
          statistic: cloudwatch.Stats.MAXIMUM,
          period: FIVE_MINUTES,
        }),
      ],
      width: 8,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Handler errors and throttles',
      left: Object.entries(handlers).flatMap(([name, fn]) => [
        fn.metricErrors({ period: FIVE_MINUTES, label: `${name} errors` }),
        fn.metricThrottles({ period: FIVE_MINUTES, label: `${name} throttles` }),
      ]),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'Handler duration p99 (ms)',
      left: Object.entries(handlers).map(([name, fn]) =>
        fn.metricDuration({ period: FIVE_MINUTES, statistic: 'p99', label: name }),
      ),
      width: 8,
    }),
    new cloudwatch.GraphWidget({
      title: 'API 5xx',
      left: [
        door.httpApi !== undefined
          ? door.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM })
          : door.restApi!.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      ],
      width: 8,
    }),
  );
  return dashboard;
}

/** Creates the bus's alarms (and its cluster's), each sending ALARM and OK to the topic; answers them. */
export function createAlarms(
  scope: Construct,
  targets: AlarmTargets,
  options: AlarmOptions,
): { readonly topic: sns.ITopic; readonly alarms: readonly cloudwatch.Alarm[] } {
  const topic = options.topic ?? stackAlarmTopic(scope);
  const action = new actions.SnsAction(topic);
  const alarms: cloudwatch.Alarm[] = [];
  const bus = targets.busName;
  const add = (id: string, props: cloudwatch.AlarmProps) => {
    const alarm = new cloudwatch.Alarm(scope, id, props);
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    alarms.push(alarm);
  };
  const { ingest, router, api, scheduler } = targets.handlers;
  const handlers = { i: ingest, r: router, a: api, s: scheduler };

  add('RouterOffsetLagAlarm', {
    alarmDescription: `Junction bus ${bus}: the router is behind the events topic by more than ${options.offsetLag ?? 10_000} records for 15 minutes (docs/aws.md, Alarms)`,
    metric: new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: router.functionName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: FIVE_MINUTES,
    }),
    threshold: options.offsetLag ?? 10_000,
    evaluationPeriods: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  add('HandlerErrorsAlarm', {
    alarmDescription: `Junction bus ${bus}: an ingest, router, api or scheduler invocation failed (docs/aws.md, Alarms)`,
    metric: sum(
      'i + r + a + s',
      Object.fromEntries(
        Object.entries(handlers).map(([k, fn]) => [k, fn.metricErrors({ period: FIVE_MINUTES })]),
      ),
      'handler errors',
    ),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  add('HandlerThrottlesAlarm', {
    alarmDescription: `Junction bus ${bus}: Lambda throttled an ingest, router, api or scheduler invocation (docs/aws.md, Alarms)`,
    metric: sum(
      'i + r + a + s',
      Object.fromEntries(
        Object.entries(handlers).map(([k, fn]) => [k, fn.metricThrottles({ period: FIVE_MINUTES })]),
      ),
      'handler throttles',
    ),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const door = targets.frontDoor;
  const serverErrors =
    door.httpApi !== undefined
      ? door.httpApi.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM })
      : door.restApi!.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM });
  add('Api5xxAlarm', {
    alarmDescription: `Junction bus ${bus}: the API answered 5xx (docs/aws.md, Alarms)`,
    metric: serverErrors,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  // A math expression holds at most 10 metrics: one alarm per 5 tables (their read and write throttles).
  for (let first = 0; first < targets.tables.length; first += 5) {
    const throttleMetrics: Record<string, cloudwatch.IMetric> = {};
    targets.tables.slice(first, first + 5).forEach((table, n) => {
      for (const [k, name] of [
        ['r', 'ReadThrottleEvents'],
        ['w', 'WriteThrottleEvents'],
      ] as const) {
        throttleMetrics[`${k}${n}`] = new cloudwatch.Metric({
          namespace: 'AWS/DynamoDB',
          metricName: name,
          dimensionsMap: { TableName: table.tableName },
          statistic: cloudwatch.Stats.SUM,
          period: FIVE_MINUTES,
        });
      }
    });
    add(first === 0 ? 'TableThrottlesAlarm' : `TableThrottlesAlarm${first / 5 + 1}`, {
      alarmDescription: `Junction bus ${bus}: DynamoDB throttled reads or writes of the bus's tables (docs/aws.md, Alarms)`,
      metric: sum(Object.keys(throttleMetrics).join(' + '), throttleMetrics, 'table throttle events'),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  add('DeadLettersAlarm', {
    alarmDescription: `Junction bus ${bus}: deliveries were dead-lettered (docs/aws.md, Alarms)`,
    metric: busTotal(bus, 'junction_dead_letters_total'),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });

  const cluster = targets.cluster;
  if (cluster !== undefined) {
    const perBroker = (metricName: string, statistic: string) =>
      Object.fromEntries(
        Array.from({ length: cluster.brokerCount }, (_, n) => [
          `b${n + 1}`,
          new cloudwatch.Metric({
            namespace: 'AWS/Kafka',
            metricName,
            dimensionsMap: { 'Cluster Name': cluster.clusterName, 'Broker ID': String(n + 1) },
            statistic,
            period: FIVE_MINUTES,
          }),
        ]),
      );
    const disk = perBroker('KafkaDataLogsDiskUsed', cloudwatch.Stats.MAXIMUM);
    add('BrokerDiskAlarm', {
      alarmDescription: `Junction cluster ${cluster.clusterName}: a broker's data disk is over ${options.brokerDiskUsedPercent ?? 80}% full (docs/aws.md, Alarms)`,
      metric: new cloudwatch.MathExpression({
        expression: `MAX([${Object.keys(disk).join(', ')}])`,
        usingMetrics: disk,
        label: 'broker disk used %',
        period: FIVE_MINUTES,
      }),
      threshold: options.brokerDiskUsedPercent ?? 80,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.MISSING,
    });
    if (cluster.instanceType.startsWith('kafka.t3.')) {
      const credits = perBroker('CPUCreditBalance', cloudwatch.Stats.MINIMUM);
      add('BrokerCpuCreditsAlarm', {
        alarmDescription: `Junction cluster ${cluster.clusterName}: a burstable broker is running out of CPU credits (balance below ${options.cpuCreditBalance ?? 50}) (docs/aws.md, Alarms)`,
        metric: new cloudwatch.MathExpression({
          expression: `MIN([${Object.keys(credits).join(', ')}])`,
          usingMetrics: credits,
          label: 'lowest broker CPU credit balance',
          period: FIVE_MINUTES,
        }),
        threshold: options.cpuCreditBalance ?? 50,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      });
    }
  }
  return { topic, alarms };
}
