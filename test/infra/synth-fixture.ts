/** Shared set-up of the infra tests: a stack with fixture handlers, its template, and IAM statements by role. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { JunctionBusProps, JunctionBusSpec } from '../../lib/infra/index.ts';
import { JunctionStack } from '../../lib/infra/index.ts';
import { repoRoot } from '../helpers/paths.ts';

export const fixturesDir = join(repoRoot, 'test', 'infra', 'fixtures');

/** The context of cdk.json (the feature flags `npx cdk synth` runs with), so that tests build the stack it builds. */
export const cdkJsonContext = (
  JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }
).context;

/** Tiny stand-ins for the handlers of `functions/`, to test the `handlerEntries` prop. */
export const fixtureEntries = {
  ingest: join(fixturesDir, 'handlers', 'ingest.ts'),
  router: join(fixturesDir, 'handlers', 'router.ts'),
  api: join(fixturesDir, 'handlers', 'api.ts'),
  scheduler: join(fixturesDir, 'handlers', 'scheduler.ts'),
  topic: join(fixturesDir, 'handlers', 'topic.ts'),
};

export interface Synthesized {
  readonly app: App;
  readonly stack: JunctionStack;
  readonly template: Template;
}

/**
 * Synthesizes a JunctionStack (with `buses` besides the default one, if given). `bundle: false` skips esbuild
 * (CDK's `aws:cdk:bundling-stacks` context) for tests about the template only.
 */
export function synthStack(
  bus: JunctionBusProps = {},
  options: { bundle?: boolean; buses?: readonly JunctionBusSpec[] } = {},
): Synthesized {
  const app = new App({
    context: { ...cdkJsonContext, ...(options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {}) },
  });
  const stack = new JunctionStack(app, 'Junction', {
    bus,
    ...(options.buses !== undefined ? { buses: options.buses } : {}),
  });
  return { app, stack, template: Template.fromStack(stack) };
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
  readonly Principal?: unknown;
}

/** Every IAM statement attached to a role (through AWS::IAM::Policy resources), by the role's logical id. */
export function statementsByRole(template: Template): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const props = policy.Properties as {
      Roles?: { Ref: string }[];
      PolicyDocument: { Statement: Statement[] };
    };
    for (const role of props.Roles ?? []) {
      byRole.set(role.Ref, [...(byRole.get(role.Ref) ?? []), ...props.PolicyDocument.Statement]);
    }
  }
  return byRole;
}

/** The logical id of the role of a function, from the function's template resource. */
export function roleOf(template: Template, functionLogicalId: string): string {
  const fn = template.findResources('AWS::Lambda::Function')[functionLogicalId];
  if (fn === undefined) throw new Error(`no function ${functionLogicalId}`);
  const role = (fn.Properties as { Role: { 'Fn::GetAtt': [string, string] } }).Role['Fn::GetAtt'][0];
  return role;
}

/** Actions of a statement as a sorted array. */
export function actionsOf(statement: Statement): string[] {
  return (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).slice().sort();
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalId(construct: IConstruct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}
