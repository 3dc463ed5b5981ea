/** The default stack `bin/app.ts` deploys: one `JunctionBus` and its outputs. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { JunctionBus, type JunctionBusProps } from './junction-bus.ts';

export interface JunctionStackProps extends StackProps {
  /** Settings of the bus. @default the defaults of `JunctionBusProps` */
  readonly bus?: JunctionBusProps;
}

/** Junction on AWS with the default settings: the stack `npx cdk deploy` creates. */
export class JunctionStack extends Stack {
  readonly bus: JunctionBus;

  constructor(scope: Construct, id: string, props: JunctionStackProps = {}) {
    super(scope, id, {
      description: 'Junction: an open event bus (API Gateway, Amazon MSK, DynamoDB, Lambda)',
      ...props,
    });
    this.bus = new JunctionBus(this, 'Bus', props.bus);
    const outputs: Record<string, [string, string]> = {
      ApiUrl: [
        this.bus.apiUrl,
        'POST CloudEvents to <ApiUrl>events; the management API is under the same URL',
      ],
      KafkaClusterArn: [this.bus.kafkaCluster.clusterArn, 'The MSK cluster (JUNCTION_KAFKA_CLUSTER_ARN)'],
      KafkaTopic: [this.bus.topic, 'The events topic (JUNCTION_KAFKA_TOPIC)'],
      TablePrefix: [
        this.bus.tablePrefix,
        'DynamoDB table names are <TablePrefix>-<store> (JUNCTION_TABLE_PREFIX)',
      ],
      FunctionRoleArn: [
        this.bus.functionRole.roleArn,
        'Execution role of user functions (JUNCTION_FUNCTION_ROLE_ARN)',
      ],
      DeployRoleArn: [this.bus.deployRole.roleArn, 'Assume this role to deploy user functions with the CLI'],
      FailureBucket: [this.bus.failureBucket.bucketName, 'Batches the router could not process'],
    };
    for (const [id, [value, description]] of Object.entries(outputs)) {
      new CfnOutput(this, id, { value, description });
    }
  }
}
