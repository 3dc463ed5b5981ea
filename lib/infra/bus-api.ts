/**
 * The CDK-native surface of a bus, as `aws-events` gives an `IEventBus`: `IJunctionBus` (a bus of this app or one
 * defined elsewhere, `JunctionBus.fromAttributes`), `grant*` on its API, `metric*()` over the CloudWatch metrics its
 * handlers write (lib/adapters/aws/emf.ts) and `addRule` (a `JunctionRule`, deployed through the bus's own API).
 */
import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct, type IDependable } from 'constructs';
import { BUS_NAME } from '../core/bus.ts';
import { JunctionRule, type JunctionRuleOptions } from './junction-rule.ts';

/** The namespace of the handlers' EMF records (lib/adapters/aws/emf.ts). */
export const METRIC_NAMESPACE = 'Junction';

/** Options of a `metric*()` helper: CloudWatch's, and for per-lane metrics the rule and target. */
export interface BusMetricOptions extends cloudwatch.MetricOptions {
  /** Only this rule's series (with `target`, one lane's). @default the bus's total */
  readonly rule?: string;
  /** With `rule`: only this target's series. */
  readonly target?: string;
}

/** A Junction bus: one this app creates (`JunctionBus`) or one defined elsewhere (`JunctionBus.fromAttributes`). */
export interface IJunctionBus extends IConstruct {
  /** The bus's name (`JUNCTION_BUS`; the `service` dimension of its metrics). */
  readonly busName: string;
  /** The invoke URL of its API (ends with `/`). */
  readonly apiUrl: string;
  /** The bus's `api` function: `JunctionRule` invokes it at deploy time. @default unknown for an imported bus without `apiFunctionArn` */
  readonly apiFunction?: lambda.IFunction;
  /** What must exist before a rule can be put through the API (the api function, its role, its tables). */
  readonly ruleDependencies?: IDependable;
  /** Allows `grantee` to publish events: `execute-api:Invoke` on the ingest routes (POST /events, POST /). */
  grantPublish(grantee: iam.IGrantable): iam.Grant;
  /** As `aws-events`' `grantPutEventsTo`: the same as `grantPublish`. */
  grantPutEvents(grantee: iam.IGrantable): iam.Grant;
  /** Allows `grantee` every route of the bus's API stage: the management API (and publishing). */
  grantManage(grantee: iam.IGrantable): iam.Grant;
  /** A metric the handlers write (`junction_*_total`), summed per period. */
  metric(metricName: string, options?: BusMetricOptions): cloudwatch.Metric;
  /** Events accepted into the log (`junction_events_in_total`). */
  metricEventsIn(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Events that matched at least one rule (`junction_events_matched_total`). */
  metricEventsMatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Events that matched no rule (`junction_events_unmatched_total`). */
  metricEventsUnmatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Events one rule matched (`junction_rule_matches_total`). */
  metricRuleMatches(rule: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Delivery attempts, every outcome (`junction_deliveries_total`); of one lane with `rule` and `target`. */
  metricDeliveries(options?: BusMetricOptions): cloudwatch.Metric;
  /** Failed delivery attempts of one lane (`junction_deliveries_total`, `outcome=failed`). */
  metricDeliveryErrors(rule: string, target: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Deliveries dead-lettered (`junction_dead_letters_total`); of one lane with `rule` and `target`. */
  metricDeadLetters(options?: BusMetricOptions): cloudwatch.Metric;
  /** Declares a rule on the bus, put through its API at deploy time and deleted with the construct. */
  addRule(id: string, options: JunctionRuleOptions): JunctionRule;
}

/** What `JunctionBus.fromAttributes` needs of a bus defined elsewhere. */
export interface JunctionBusAttributes {
  /** Its name (`JUNCTION_BUS`, the `BusName` output of another bus of a `JunctionStack`). */
  readonly busName: string;
  /** Its API's invoke URL (the `ApiUrl` output), e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/`. */
  readonly apiUrl: string;
  /** The API's id, for grants. @default read from `apiUrl` (`https://<apiId>.execute-api.…`) */
  readonly apiId?: string;
  /** The API's stage, for grants. @default read from `apiUrl`: its first path segment, else `$default` (HTTP API) */
  readonly stageName?: string;
  /** The ARN of the bus's `api` function: needed by `addRule`. @default none (addRule throws) */
  readonly apiFunctionArn?: string;
}

/** The bus's metric (namespace `Junction`, dimension `service` = the bus, and the lane's labels). */
export function busMetric(
  busName: string,
  metricName: string,
  options: BusMetricOptions = {},
  extra: Record<string, string> = {},
): cloudwatch.Metric {
  const { rule, target, dimensionsMap, ...rest } = options;
  if (target !== undefined && rule === undefined) {
    throw new Error(
      `metric ${metricName}: target '${target}' needs its rule (a lane is a rule and a target)`,
    );
  }
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    statistic: cloudwatch.Stats.SUM,
    period: Duration.minutes(5),
    ...rest,
    dimensionsMap: {
      ...dimensionsMap,
      service: busName,
      ...(rule === undefined ? {} : { rule }),
      ...(target === undefined ? {} : { target }),
      ...extra,
    },
  });
}

/** `metric*()` of a bus, shared by `JunctionBus` and an imported bus. */
export function busMetrics(busName: string) {
  return {
    metric: (name: string, options?: BusMetricOptions) => busMetric(busName, name, options),
    metricEventsIn: (options?: cloudwatch.MetricOptions) =>
      busMetric(busName, 'junction_events_in_total', options),
    metricEventsMatched: (options?: cloudwatch.MetricOptions) =>
      busMetric(busName, 'junction_events_matched_total', options),
    metricEventsUnmatched: (options?: cloudwatch.MetricOptions) =>
      busMetric(busName, 'junction_events_unmatched_total', options),
    metricRuleMatches: (rule: string, options?: cloudwatch.MetricOptions) =>
      busMetric(busName, 'junction_rule_matches_total', { ...options, rule }),
    metricDeliveries: (options?: BusMetricOptions) => {
      if (options?.rule !== undefined && options.target === undefined) {
        throw new Error(
          'metricDeliveries: a rule needs its target (the handlers write deliveries per lane, rule and target)',
        );
      }
      return busMetric(busName, 'junction_deliveries_total', options);
    },
    metricDeliveryErrors: (rule: string, target: string, options?: cloudwatch.MetricOptions) =>
      busMetric(busName, 'junction_deliveries_total', { ...options, rule, target }, { outcome: 'failed' }),
    metricDeadLetters: (options?: BusMetricOptions) => {
      if (options?.rule !== undefined && options.target === undefined) {
        throw new Error(
          'metricDeadLetters: a rule needs its target (the handlers write dead letters per lane, rule and target)',
        );
      }
      return busMetric(busName, 'junction_dead_letters_total', options);
    },
  };
}

/** `https://<apiId>.execute-api.<region>.<domain>/<stage?>/` → its id and stage; undefined for a token or another host. */
export function parseApiUrl(url: string): { apiId: string; stageName: string } | undefined {
  if (Token.isUnresolved(url)) return undefined;
  const match = /^https:\/\/([a-z0-9]{1,20})\.execute-api\.[a-z0-9-]+\.[a-z0-9.]+\/?([^/]*)/.exec(url);
  if (match === null) return undefined;
  return {
    apiId: match[1] as string,
    stageName: match[2] === '' || match[2] === undefined ? '$default' : match[2],
  };
}

/** A bus defined elsewhere: grants on its API, its metrics, and rules when its api function is known. */
export class ImportedJunctionBus extends Construct implements IJunctionBus {
  readonly busName: string;
  readonly apiUrl: string;
  readonly apiFunction?: lambda.IFunction;
  readonly #api?: { apiId: string; stageName: string };
  readonly #metrics: ReturnType<typeof busMetrics>;

  constructor(scope: Construct, id: string, attributes: JunctionBusAttributes) {
    super(scope, id);
    if (!Token.isUnresolved(attributes.busName) && !BUS_NAME.test(attributes.busName)) {
      throw new Error(
        `JunctionBus.fromAttributes: busName must be 1-64 of [A-Za-z0-9._-] starting with a letter or digit, got ${JSON.stringify(attributes.busName)}`,
      );
    }
    this.busName = attributes.busName;
    this.apiUrl = attributes.apiUrl;
    const parsed = parseApiUrl(attributes.apiUrl);
    const apiId = attributes.apiId ?? parsed?.apiId;
    if (apiId !== undefined) {
      this.#api = { apiId, stageName: attributes.stageName ?? parsed?.stageName ?? '$default' };
    }
    if (attributes.apiFunctionArn !== undefined) {
      this.apiFunction = lambda.Function.fromFunctionAttributes(this, 'ApiFunction', {
        functionArn: attributes.apiFunctionArn,
        sameEnvironment: true,
      });
    }
    this.#metrics = busMetrics(this.busName);
  }

  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.#grant(grantee, ['POST/events', 'POST/']);
  }

  grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    return this.grantPublish(grantee);
  }

  grantManage(grantee: iam.IGrantable): iam.Grant {
    return this.#grant(grantee, ['*/*']);
  }

  #grant(grantee: iam.IGrantable, routes: readonly string[]): iam.Grant {
    const api = this.#api;
    if (api === undefined) {
      throw new Error(
        `JunctionBus.fromAttributes (${this.busName}): grants need the API's id: give apiId, or an apiUrl of the form https://<apiId>.execute-api.<region>.amazonaws.com/`,
      );
    }
    const stack = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: routes.map((route) =>
        stack.formatArn({
          service: 'execute-api',
          resource: api.apiId,
          resourceName: `${api.stageName}/${route}`,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        }),
      ),
    });
  }

  metric(metricName: string, options?: BusMetricOptions): cloudwatch.Metric {
    return this.#metrics.metric(metricName, options);
  }
  metricEventsIn(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.metricEventsIn(options);
  }
  metricEventsMatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.metricEventsMatched(options);
  }
  metricEventsUnmatched(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.metricEventsUnmatched(options);
  }
  metricRuleMatches(rule: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.metricRuleMatches(rule, options);
  }
  metricDeliveries(options?: BusMetricOptions): cloudwatch.Metric {
    return this.#metrics.metricDeliveries(options);
  }
  metricDeliveryErrors(rule: string, target: string, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.#metrics.metricDeliveryErrors(rule, target, options);
  }
  metricDeadLetters(options?: BusMetricOptions): cloudwatch.Metric {
    return this.#metrics.metricDeadLetters(options);
  }

  addRule(id: string, options: JunctionRuleOptions): JunctionRule {
    return new JunctionRule(this, id, { ...options, bus: this });
  }
}
