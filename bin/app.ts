/**
 * The CDK app (`cdk.json` runs it): the default Junction stack; `-c buses=orders:3d,billing` adds named buses (with
 * an optional topic retention), `-c nag=true` the cdk-nag AwsSolutions checks.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { JunctionStack, parseBusesContext } from '../lib/infra/index.ts';

const app = new App();
try {
  const functionsDir = app.node.tryGetContext('functionsDir') as string | undefined;
  const kafka = app.node.tryGetContext('kafkaClusterType') as 'provisioned' | 'serverless' | undefined;
  const buses = app.node.tryGetContext('buses') as unknown;
  new JunctionStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'Junction', {
    bus: {
      ...(functionsDir !== undefined ? { functionsDir } : {}),
      ...(kafka !== undefined ? { kafkaClusterType: kafka } : {}),
    },
    ...(buses !== undefined ? { buses: parseBusesContext(String(buses)) } : {}),
  });
  if (app.node.tryGetContext('nag') === 'true' || app.node.tryGetContext('nag') === true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  }
  app.synth();
} catch (error) {
  // A bad context value or prop: one line naming it, not a stack trace.
  process.stderr.write(`junction cdk app: ${(error as Error).message}\n`);
  process.exit(1);
}
