/**
 * A custom domain for the front door (issue #15): the API Gateway domain name (regional, TLS 1.2), its mapping to
 * the API's stage, and, given a Route 53 hosted zone, the alias records (A and AAAA) that point the name at it.
 */
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';

export interface ApiDomainOptions {
  /** The fully qualified name (`bus.example.com`). */
  readonly name: string;
  /** An ACM certificate for `name` in the stack's region (a regional endpoint). */
  readonly certificate: acm.ICertificate;
  /** The zone to create the alias records in. @default none: point your DNS at `regionalDomainName` yourself */
  readonly hostedZone?: route53.IHostedZone;
}

export interface JunctionApiDomainProps extends ApiDomainOptions {
  readonly httpApi?: apigwv2.HttpApi;
  readonly httpStage?: apigwv2.IHttpStage;
  readonly restApi?: apigw.RestApi;
}

const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The domain name, its mapping to the API (no base path: the API answers at the domain's root) and its records. */
export class JunctionApiDomain extends Construct {
  /** `https://<name>/`. */
  readonly url: string;
  /** The regional target name to point a CNAME or alias at (when the zone is elsewhere). */
  readonly regionalDomainName: string;

  constructor(scope: Construct, id: string, props: JunctionApiDomainProps) {
    super(scope, id);
    if (!DNS_NAME.test(props.name)) {
      throw new Error(
        `domain.name must be a lowercase DNS name such as bus.example.com, got '${props.name}'`,
      );
    }
    if (
      props.hostedZone !== undefined &&
      !/^\$\{Token/.test(props.hostedZone.zoneName) &&
      props.name !== props.hostedZone.zoneName &&
      !props.name.endsWith(`.${props.hostedZone.zoneName}`)
    ) {
      throw new Error(
        `domain.name '${props.name}' is not in domain.hostedZone '${props.hostedZone.zoneName}'`,
      );
    }
    this.url = `https://${props.name}/`;
    let target: route53.IAliasRecordTarget;
    if (props.httpApi !== undefined) {
      const domain = new apigwv2.DomainName(this, 'DomainName', {
        domainName: props.name,
        certificate: props.certificate,
        securityPolicy: apigwv2.SecurityPolicy.TLS_1_2,
      });
      const mapping = new apigwv2.ApiMapping(this, 'Mapping', {
        api: props.httpApi,
        domainName: domain,
        ...(props.httpStage === undefined ? {} : { stage: props.httpStage }),
      });
      // The stage is named by its name (`$default`), not referenced: the mapping must wait for it.
      if (props.httpStage !== undefined) mapping.node.addDependency(props.httpStage);
      this.regionalDomainName = domain.regionalDomainName;
      target = new targets.ApiGatewayv2DomainProperties(
        domain.regionalDomainName,
        domain.regionalHostedZoneId,
      );
    } else if (props.restApi !== undefined) {
      const domain = new apigw.DomainName(this, 'DomainName', {
        domainName: props.name,
        certificate: props.certificate,
        endpointType: apigw.EndpointType.REGIONAL,
        securityPolicy: apigw.SecurityPolicy.TLS_1_2,
      });
      new apigw.BasePathMapping(this, 'Mapping', {
        domainName: domain,
        restApi: props.restApi,
        stage: props.restApi.deploymentStage,
      });
      this.regionalDomainName = domain.domainNameAliasDomainName;
      target = new targets.ApiGatewayDomain(domain);
    } else {
      throw new Error('JunctionApiDomain needs the HTTP API or the REST API');
    }
    if (props.hostedZone !== undefined) {
      const recordName = props.name;
      new route53.ARecord(this, 'Alias', {
        zone: props.hostedZone,
        recordName,
        target: route53.RecordTarget.fromAlias(target),
      });
      new route53.AaaaRecord(this, 'AliasIpv6', {
        zone: props.hostedZone,
        recordName,
        target: route53.RecordTarget.fromAlias(target),
      });
    }
  }
}
