/** The front door's custom domain (issue #15): domain name, mapping to the stage, alias records in a hosted zone. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type { JunctionBusProps } from '../../lib/infra/index.ts';
import { JunctionBus } from '../../lib/infra/junction-bus.ts';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

function busWith(props: (stack: Stack) => JunctionBusProps): { bus: JunctionBus; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bus = new JunctionBus(stack, 'Bus', props(stack));
  return { bus, template: Template.fromStack(stack) };
}

const cert = (stack: Stack) => acm.Certificate.fromCertificateArn(stack, 'Cert', CERT);
const zone = (stack: Stack) =>
  route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', {
    hostedZoneId: 'Z0123456789ABC',
    zoneName: 'example.com',
  });

describe('JunctionBus domain', () => {
  test('HTTP API: a regional TLS 1.2 domain name mapped to $default, A and AAAA aliases in the zone', () => {
    const { bus, template } = busWith((stack) => ({
      domain: { name: 'bus.example.com', certificate: cert(stack), hostedZone: zone(stack) },
    }));
    assert.equal(bus.domainUrl, 'https://bus.example.com/');
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'bus.example.com',
      DomainNameConfigurations: [
        Match.objectLike({ CertificateArn: CERT, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' }),
      ],
    });
    template.hasResource('AWS::ApiGatewayV2::ApiMapping', {
      Properties: {
        ApiId: { Ref: Match.stringLikeRegexp('HttpApi') },
        Stage: '$default',
        DomainName: { Ref: Match.stringLikeRegexp('DomainName') },
      },
      DependsOn: Match.arrayWith([Match.stringLikeRegexp('DefaultStage')]),
    });
    for (const type of ['A', 'AAAA']) {
      template.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'bus.example.com.',
        Type: type,
        HostedZoneId: 'Z0123456789ABC',
        AliasTarget: Match.objectLike({
          DNSName: { 'Fn::GetAtt': [Match.stringLikeRegexp('DomainName'), 'RegionalDomainName'] },
        }),
      });
    }
  });

  test('REST API: a regional domain name with a base path mapping to the stage; no zone, no records', () => {
    const { bus, template } = busWith((stack) => ({
      apiType: 'rest',
      domain: { name: 'bus.example.com', certificate: cert(stack) },
    }));
    assert.equal(bus.domainUrl, 'https://bus.example.com/');
    template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'bus.example.com',
      RegionalCertificateArn: CERT,
      EndpointConfiguration: { Types: ['REGIONAL'] },
      SecurityPolicy: 'TLS_1_2',
    });
    template.hasResourceProperties('AWS::ApiGateway::BasePathMapping', {
      RestApiId: { Ref: Match.stringLikeRegexp('RestApi') },
      Stage: { Ref: Match.stringLikeRegexp('DeploymentStage') },
    });
    template.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  test("with Cognito, the created client also redirects to the domain's console", () => {
    const { template } = busWith((stack) => ({
      auth: { type: 'cognito' },
      domain: { name: 'bus.example.com', certificate: cert(stack) },
    }));
    const client = Object.values(template.findResources('AWS::Cognito::UserPoolClient'))[0]?.Properties as {
      CallbackURLs: unknown[];
    };
    assert.ok(
      client.CallbackURLs.includes('https://bus.example.com/console/'),
      JSON.stringify(client.CallbackURLs),
    );
  });

  test('refuses a name that is not a DNS name, or outside the zone, naming the prop', () => {
    assert.throws(
      () => busWith((stack) => ({ domain: { name: 'Bus Example', certificate: cert(stack) } })),
      /domain\.name must be a lowercase DNS name/,
    );
    assert.throws(
      () =>
        busWith((stack) => ({
          domain: { name: 'bus.example.org', certificate: cert(stack), hostedZone: zone(stack) },
        })),
      /is not in domain\.hostedZone 'example\.com'/,
    );
  });
});
