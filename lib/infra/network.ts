/** Junction's network: a VPC without NAT by default, reaching AWS services through VPC endpoints. */
import { Annotations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface JunctionNetworkProps {
  /** Availability zones (2 or 3): the Kafka cluster puts brokers in each. @default 2 */
  readonly maxAzs?: number;
  /**
   * NAT gateways. Without one the functions reach AWS only through the endpoints below and HTTP targets on
   * the internet are unreachable; one NAT gateway costs about $32/month plus data.
   * @default 0
   */
  readonly natGateways?: number;
  /** The IPv4 range of the VPC. @default '10.42.0.0/16' */
  readonly cidr?: string;
  /** Flow log retention (the VPC logs rejected traffic to CloudWatch Logs). @default one month */
  readonly flowLogRetention?: logs.RetentionDays;
}

/** The interface endpoints a NAT-less VPC needs: Lambda (invoking and managing user functions) and STS. */
const INTERFACE_ENDPOINTS = [
  ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
  ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
] as const;

/**
 * A VPC for Junction: private subnets in 2 AZs, gateway endpoints for DynamoDB and S3 (free) and interface
 * endpoints for Lambda and STS (what an on-demand MSK event source mapping and the router need without NAT).
 */
export class JunctionNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** The subnets of Junction's functions and brokers. */
  readonly privateSubnets: ec2.SubnetSelection;
  /** The security group of the interface endpoints (HTTPS from what `allowEndpointAccess` names). */
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  readonly flowLogGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: JunctionNetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;
    if (!Number.isInteger(maxAzs) || maxAzs < 2 || maxAzs > 3) {
      throw new Error(`network: maxAzs must be 2 or 3 (MSK spreads brokers over 2 or 3 AZs), got ${maxAzs}`);
    }
    const natGateways = props.natGateways ?? 0;
    if (!Number.isInteger(natGateways) || natGateways < 0 || natGateways > maxAzs) {
      throw new Error(`network: natGateways must be an integer in 0..${maxAzs}, got ${natGateways}`);
    }
    const privateType =
      natGateways > 0 ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED;
    const subnetConfiguration: ec2.SubnetConfiguration[] = [
      { name: 'private', subnetType: privateType, cidrMask: 20 },
    ];
    if (natGateways > 0)
      subnetConfiguration.push({ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 });

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr ?? '10.42.0.0/16'),
      maxAzs,
      natGateways,
      subnetConfiguration,
      restrictDefaultSecurityGroup: false,
    });
    this.privateSubnets = { subnetType: privateType };
    if (natGateways === 0) {
      Annotations.of(this).addWarningV2(
        'junction:no-nat',
        'No NAT gateway: functions reach AWS through VPC endpoints only, so HTTP targets on the internet are ' +
          'unreachable. Set natGateways: 1 to deliver to them.',
      );
    }

    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.vpc.addGatewayEndpoint('DynamoDb', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [this.privateSubnets],
    });
    this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [this.privateSubnets],
    });

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'Junction VPC endpoints: HTTPS from Junction functions and the MSK event source mapping',
      allowAllOutbound: false,
    });
    for (const [name, service] of INTERFACE_ENDPOINTS) {
      this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: this.privateSubnets,
        securityGroups: [this.endpointSecurityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }
  }

  /** Lets `peer` reach the interface endpoints (Lambda, STS) over HTTPS. */
  allowEndpointAccess(peer: ec2.IConnectable, description: string): void {
    this.endpointSecurityGroup.connections.allowFrom(peer, ec2.Port.tcp(443), description);
  }
}
