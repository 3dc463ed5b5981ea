/** The CDK app (`cdk.json` runs it): the default Junction stack; `-c nag=true` adds the cdk-nag AwsSolutions checks. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { JunctionStack } from '../lib/infra/index.ts';

const app = new App();
const functionsDir = app.node.tryGetContext('functionsDir') as string | undefined;
const kafka = app.node.tryGetContext('kafkaClusterType') as 'provisioned' | 'serverless' | undefined;
new JunctionStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'Junction', {
  bus: {
    ...(functionsDir !== undefined ? { functionsDir } : {}),
    ...(kafka !== undefined ? { kafkaClusterType: kafka } : {}),
  },
});
if (app.node.tryGetContext('nag') === 'true' || app.node.tryGetContext('nag') === true) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
app.synth();
