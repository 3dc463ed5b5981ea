/** cdk-nag acknowledgments (cdk-nag v3 reads CDK's `Validations.of(scope).acknowledge`), each with its reason. */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
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
