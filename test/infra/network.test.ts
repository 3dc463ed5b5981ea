/** JunctionNetwork: a NAT-less VPC with endpoints by default; NAT gateways on request; validation. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { JunctionNetwork } from '../../lib/infra/index.ts';

describe('JunctionNetwork', () => {
  test('warns that HTTP targets on the internet are unreachable without a NAT gateway', () => {
    const stack = new Stack(new App(), 'Test');
    new JunctionNetwork(stack, 'Network');
    Annotations.fromStack(stack).hasWarning('/Test/Network', Match.stringLikeRegexp('No NAT gateway'));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 4);
  });

  test('adds public subnets and NAT gateways on request, without the warning', () => {
    const stack = new Stack(new App(), 'Test', { env: { account: '123456789012', region: 'us-east-1' } });
    new JunctionNetwork(stack, 'Network', { natGateways: 1, maxAzs: 3, cidr: '10.9.0.0/16' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::NatGateway', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 6);
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.9.0.0/16' });
    Annotations.fromStack(stack).hasNoWarning('/Test/Network', Match.stringLikeRegexp('No NAT gateway'));
  });

  test('rejects one AZ (MSK needs 2 or 3) and more NAT gateways than AZs, showing the value', () => {
    assert.throws(
      () => new JunctionNetwork(new Stack(new App(), 'A'), 'N', { maxAzs: 1 }),
      /maxAzs must be 2 or 3 .*got 1/,
    );
    assert.throws(
      () => new JunctionNetwork(new Stack(new App(), 'B'), 'N', { natGateways: 3 }),
      /natGateways must be an integer in 0..2, got 3/,
    );
  });
});
