/** cdk-nag AwsSolutions on Junction's stacks: no findings, and every acknowledgment carries a specific reason. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { JunctionBusProps } from '../../lib/infra/index.ts';
import { synthStack } from './synth-fixture.ts';

interface Acknowledged {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

function acknowledgments(root: IConstruct): Acknowledged[] {
  const found: Acknowledged[] = [];
  for (const node of root.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ path: node.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return found;
}

const variants: Record<string, JunctionBusProps> = {
  default: {},
  'MSK Serverless': { kafkaClusterType: 'serverless' },
  'REST API with API keys and open ingest': {
    apiType: 'rest',
    ingestAuthorization: 'none',
    restApi: { apiKeyRequired: true },
  },
  'REST API with a web ACL': {
    apiType: 'rest',
    restApi: { webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/junction/0f1e2d3c' },
  },
  'HTTP API with a JWT authorizer': {
    auth: { type: 'jwt', issuer: 'https://login.example.com/', audience: ['junction'] },
  },
  'HTTP API with a Cognito user pool': { auth: { type: 'cognito' } },
  'REST API with a Cognito user-pool authorizer': { apiType: 'rest', auth: { type: 'cognito' } },
  'HTTP API with open ingest, a NAT gateway, all outbound and provisioned pollers': {
    ingestAuthorization: 'none',
    network: { natGateways: 1 },
    handlersAllowAllOutbound: true,
    router: { provisionedPollers: { minimum: 1, maximum: 4 }, retryAttempts: 3 },
  },
};

describe('cdk-nag Serverless', () => {
  for (const [name, props] of Object.entries(variants)) {
    test(`reports no finding on the ${name} stack`, () => {
      const { app, stack } = synthStack(props, { bundle: false });
      const report = new ServerlessChecks(app, { verbose: true }).validateScope(stack);
      const findings = report.violations.map(
        (v) =>
          `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`,
      );
      assert.deepEqual(findings, []);
    });
  }

  test('finds a problem when one is introduced (the check is live)', () => {
    const { app, stack } = synthStack({}, { bundle: false });
    new lambda.Function(stack, 'Plain', {
      runtime: lambda.Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => {};'),
    });
    const report = new ServerlessChecks(app).validateScope(stack);
    assert.ok(report.violations.some((v) => v.ruleName === 'Serverless-LambdaDefaultMemorySize'));
  });
});

describe('cdk-nag AwsSolutions', () => {
  for (const [name, props] of Object.entries(variants)) {
    test(`reports no finding on the ${name} stack`, () => {
      const { app, stack } = synthStack(props, { bundle: false });
      const report = new AwsSolutionsChecks(app, { verbose: true }).validateScope(stack);
      const findings = report.violations.map(
        (v) =>
          `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}: ${v.description}`,
      );
      assert.deepEqual(findings, []);
    });
  }

  test('explains every acknowledgment with a specific reason on a specific construct', () => {
    const { stack } = synthStack({ apiType: 'rest', ingestAuthorization: 'none' }, { bundle: false });
    const all = acknowledgments(stack).filter((a) => !a.id.startsWith('CloudFormation-Validate::'));
    assert.ok(all.length > 0);
    for (const ack of all) {
      assert.match(ack.id, /^(AwsSolutions-[A-Z]+\d+|Serverless-[A-Za-z]+)(\[.+\])?$/, ack.id);
      assert.ok(ack.reason.length >= 80, `${ack.path} ${ack.id}: reason too short: ${ack.reason}`);
      assert.notEqual(ack.path, stack.node.path, 'nothing is acknowledged for the whole stack');
      assert.notEqual(ack.path, `${stack.node.path}/Bus`, 'nothing is acknowledged for the whole bus');
    }
    const ids = new Set(all.map((a) => a.id.replace(/\[.*$/, '')));
    assert.deepEqual([...ids].sort(), [
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-APIG4',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SNS2',
      'Serverless-APIGWXrayEnabled',
      'Serverless-EventBusDLQ',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaDefaultMemorySize',
      'Serverless-LambdaLatestVersion',
      'Serverless-LambdaTracing',
    ]);
  });

  test('finds a problem when one is introduced (the check is live)', () => {
    const { app, stack } = synthStack({}, { bundle: false });
    new s3.Bucket(stack, 'Unencrypted', { enforceSSL: false });
    const report = new AwsSolutionsChecks(app).validateScope(stack);
    assert.ok(report.violations.some((v) => v.ruleName === 'AwsSolutions-S10'));
  });
});
