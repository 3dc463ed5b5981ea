/** cdk-nag acknowledgments (cdk-nag v3 reads CDK's `Validations.of(scope).acknowledge`), each with its reason. */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges a cdk-nag rule on `scope` and everything under it: the whole rule, or only the listed findings
 * (cdk-nag reports some rules per finding as `<rule>[<finding>]`, e.g. `AwsSolutions-IAM5[Resource::*]`).
 */
export function acknowledgeNag(
  scope: IConstruct,
  rule: string,
  reason: string,
  findings?: readonly string[],
): void {
  const validations = Validations.of(scope);
  if (findings === undefined) {
    validations.acknowledge({ id: rule, reason });
    return;
  }
  for (const finding of findings) validations.acknowledge({ id: `${rule}[${finding}]`, reason });
}

/** How cdk-nag writes a `Fn::GetAtt` of a resource inside a finding: `<LogicalId.Attribute>`. */
export function nagGetAtt(element: CfnElement, attribute: string): string {
  return `<${Stack.of(element).getLogicalId(element)}.${attribute}>`;
}

/**
 * The cdk-nag findings on CDK's custom resource provider framework function (its managed role, its invoke of
 * `<fn>:*`, its runtime, memory, DLQ and tracing — all chosen by aws-cdk-lib), acknowledged with the reason: it only
 * relays CloudFormation's requests to `fn` (the `what` function) during deployments.
 */
export function acknowledgeProviderNag(provider: IConstruct, fn: lambda.IFunction, what: string): void {
  acknowledgeNag(
    provider,
    'AwsSolutions-IAM4',
    `CDK's custom resource provider framework function (it only relays CloudFormation's request to the ${what} ` +
      'function during deployments) runs with the AWS-managed AWSLambdaBasicExecutionRole.',
    ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole'],
  );
  acknowledgeNag(
    provider,
    'AwsSolutions-IAM5',
    `CDK's provider framework invokes the ${what} function by ARN and by any version or alias of it (<arn>:*).`,
    [`Resource::<${Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>:*`],
  );
  acknowledgeNag(
    provider,
    'AwsSolutions-L1',
    "The runtime of CDK's provider framework function is chosen by aws-cdk-lib; it only runs during deployments.",
  );
  for (const rule of [
    'Serverless-LambdaDefaultMemorySize',
    'Serverless-LambdaLatestVersion',
    'Serverless-LambdaDLQ',
    'Serverless-LambdaTracing',
  ]) {
    acknowledgeNag(
      provider,
      rule,
      "CDK's custom resource provider framework function (its memory, runtime, invocation and tracing) is defined " +
        `by aws-cdk-lib; it only relays CloudFormation requests to the ${what} function during deployments.`,
    );
  }
}
