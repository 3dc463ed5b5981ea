/**
 * `JunctionRule`: a rule of a bus declared in CDK (as `aws-events`' `Rule`), deployed through the bus's own
 * management API at deploy time. A custom resource (`Custom::JunctionRule`) runs the `rule` function
 * (functions/rule.ts), which invokes the bus's `api` function directly — Lambda Invoke, not API Gateway — with
 * `PUT /rules/{name}` on create and update and `DELETE /rules/{name}` when the construct is removed. The rule is
 * checked at synth time with the API's own validation (lib/core/rule.ts), so a bad pattern fails `cdk synth`.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { validateRule } from '../core/rule.ts';
import type { IJunctionBus } from './bus-api.ts';
import { createHandlerFunction } from './handler-function.ts';
import { acknowledgeProviderNag } from './nag.ts';

/** A rule's schedule, as `PUT /rules/{name}` takes it (docs/schedules.md). */
export interface JunctionRuleSchedule {
  /** `rate(5 minutes)`, `cron(0 9 * * ? *)` or `at(2027-01-01T00:00:00)`. */
  readonly expression: string;
  /** @default 'UTC' */
  readonly timezone?: string;
  /** The event published at each slot (`source`, `type`, `subject`, `data`). @default a `Scheduled Event` */
  readonly event?: Readonly<Record<string, unknown>>;
}

/** A target as `PUT /rules/{name}` takes it: `id`, `type` and the type's fields (docs/api.md, "Rules"). */
export interface JunctionRuleTarget {
  readonly id: string;
  readonly type: 'function' | 'http' | 'kafka' | 'bus' | 'postgres';
  readonly [field: string]: unknown;
}

/** A rule as `bus.addRule` takes it. */
export interface JunctionRuleOptions {
  /** The rule's name on the bus (1-64 of `[A-Za-z0-9._-]`). @default derived from the construct's path */
  readonly ruleName?: string;
  /** @default none */
  readonly description?: string;
  /** @default true */
  readonly enabled?: boolean;
  /** An EventBridge-style event pattern (docs/api.md, "Patterns"). Excludes `schedule`. */
  readonly pattern?: Readonly<Record<string, unknown>>;
  /** A CESQL filter, alone or with `pattern`. Excludes `schedule`. */
  readonly filter?: string;
  /** Publish a scheduled event at each slot and deliver it to the targets. Excludes `pattern` and `filter`. */
  readonly schedule?: JunctionRuleSchedule;
  /** Up to 10 targets. */
  readonly targets: readonly JunctionRuleTarget[];
  /**
   * Any other field of a rule body (`aggregate`, …), passed to the API as is.
   * @default none
   */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface JunctionRuleProps extends JunctionRuleOptions {
  /** The bus the rule is on: a `JunctionBus`, or `JunctionBus.fromAttributes` with `apiFunctionArn`. */
  readonly bus: IJunctionBus;
  /** The rule function's entry, for tests and forks. @default `functions/rule.ts` of this package */
  readonly handlerEntry?: string;
}

/** The project root of this package (where `functions/` and `package-lock.json` are). */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Rules a template can hold is bounded by CloudFormation (500 resources); this bounds one rule's text. */
const MAX_RULE_TEXT = 256 * 1024;

/** A rule of a Junction bus, put through the bus's API at deploy time and deleted with the construct. */
export class JunctionRule extends Construct {
  /** The rule's name on the bus. */
  readonly ruleName: string;
  readonly bus: IJunctionBus;
  /** The custom resource (`Custom::JunctionRule`). */
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: JunctionRuleProps) {
    super(scope, id);
    this.bus = props.bus;
    const api = props.bus.apiFunction;
    if (api === undefined) {
      throw new Error(
        `JunctionRule ${this.node.path}: the bus '${props.bus.busName}' has no known api function; import it with JunctionBus.fromAttributes({ …, apiFunctionArn })`,
      );
    }
    this.ruleName =
      props.ruleName ??
      Names.uniqueResourceName(this, { maxLength: 64, separator: '-', allowedSpecialCharacters: '-_.' });
    const body = ruleBody(props);
    checkRule(this.node.path, this.ruleName, body);

    const provider = ruleProviderOf(props.bus, api, props.handlerEntry);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.provider.serviceToken,
      resourceType: 'Custom::JunctionRule',
      properties: { RuleName: this.ruleName, Rule: Stack.of(this).toJsonString(body) },
    });
    if (props.bus.ruleDependencies !== undefined)
      this.resource.node.addDependency(props.bus.ruleDependencies);
  }
}

/** The `PUT /rules/{name}` body of the props. */
function ruleBody(props: JunctionRuleOptions): Record<string, unknown> {
  if (!Array.isArray(props.targets)) throw new Error('JunctionRule: targets must be an array');
  return {
    ...props.extra,
    ...(props.description === undefined ? {} : { description: props.description }),
    ...(props.enabled === undefined ? {} : { enabled: props.enabled }),
    ...(props.pattern === undefined ? {} : { pattern: props.pattern }),
    ...(props.filter === undefined ? {} : { filter: props.filter }),
    ...(props.schedule === undefined ? {} : { schedule: props.schedule }),
    targets: props.targets,
  };
}

/** The API's own validation at synth time, unless a value is only known at deploy time (a token). */
function checkRule(path: string, name: string, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  if (text.length > MAX_RULE_TEXT) {
    throw new Error(`JunctionRule ${path}: the rule is ${text.length} characters, at most ${MAX_RULE_TEXT}`);
  }
  if (Token.isUnresolved(name) || Token.isUnresolved(text)) return;
  try {
    validateRule(name, body, 0);
  } catch (error) {
    const e = error as { code?: string; message: string };
    throw new Error(`JunctionRule ${path}: ${e.code ?? 'InvalidRule'}: ${e.message}`);
  }
}

/** The rule function and CDK's provider framework in front of it: one per bus, beside the bus. */
class RuleProvider extends Construct {
  readonly fn: nodejs.NodejsFunction;
  readonly provider: cr.Provider;

  constructor(scope: Construct, id: string, api: lambda.IFunction, entry: string) {
    super(scope, id);
    this.fn = createHandlerFunction(this, 'RuleFunction', {
      entry,
      projectRoot: PACKAGE_ROOT,
      depsLockFilePath: join(PACKAGE_ROOT, 'package-lock.json'),
      description: 'Junction: puts and deletes rules through the bus API (CloudFormation custom resource)',
      memorySize: 256,
      timeout: Duration.minutes(1),
      environment: { JUNCTION_API_FUNCTION: api.functionArn },
      architecture: lambda.Architecture.ARM_64,
      logRetention: logs.RetentionDays.ONE_MONTH,
    });
    // Least privilege: invoke this one function, no version or alias, nothing else.
    this.fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'InvokeBusApi',
        actions: ['lambda:InvokeFunction'],
        resources: [api.functionArn],
      }),
    );
    const logGroup = new logs.LogGroup(this, 'ProviderLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.provider = new cr.Provider(this, 'Provider', { onEventHandler: this.fn, logGroup });
    acknowledgeProviderNag(this.provider, this.fn, 'rule');
  }
}

/** The bus's rule provider (a child of the bus named `RuleProvider`), created by its first rule. */
function ruleProviderOf(bus: IJunctionBus, api: lambda.IFunction, entry?: string): RuleProvider {
  const found = bus.node.tryFindChild('RuleProvider');
  if (found instanceof RuleProvider) return found;
  return new RuleProvider(
    bus,
    'RuleProvider',
    api,
    resolve(entry ?? join(PACKAGE_ROOT, 'functions', 'rule.ts')),
  );
}
