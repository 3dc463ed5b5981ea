/**
 * The CDK app (`cdk.json` runs it): the default Junction stack; `-c buses=orders:3d,billing` adds named buses (with
 * an optional topic retention), `-c profile=production` the production profile (docs/aws.md, "Profiles"), `-c nag=true` the
 * cdk-nag AwsSolutions and Serverless checks.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { JunctionStack, parseBusesContext } from '../lib/infra/index.ts';

const app = new App();
try {
  const functionsDir = app.node.tryGetContext('functionsDir') as string | undefined;
  const kafka = app.node.tryGetContext('kafkaClusterType') as 'provisioned' | 'serverless' | undefined;
  const buses = app.node.tryGetContext('buses') as unknown;
  const profile = app.node.tryGetContext('profile') as string | undefined;
  if (profile !== undefined && profile !== 'development' && profile !== 'production') {
    throw new Error(`-c profile must be development or production, got ${profile}`);
  }
  // The production profile needs the account's availability zones (3): the environment the CLI deploys to.
  const env =
    profile === 'production' && process.env.CDK_DEFAULT_ACCOUNT !== undefined
      ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
      : undefined;
  new JunctionStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'Junction', {
    ...(env === undefined ? {} : { env }),
    bus: {
      ...(functionsDir !== undefined ? { functionsDir } : {}),
      ...(kafka !== undefined ? { kafkaClusterType: kafka } : {}),
      ...(profile === undefined ? {} : { profile }),
    },
    ...(buses !== undefined ? { buses: parseBusesContext(String(buses)) } : {}),
  });
  if (app.node.tryGetContext('nag') === 'true' || app.node.tryGetContext('nag') === true) {
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true }),
      new ServerlessChecks(app, { verbose: true }),
    );
  }
  app.synth();
} catch (error) {
  // A bad context value or prop: one line naming it, not a stack trace.
  process.stderr.write(`junction cdk app: ${(error as Error).message}\n`);
  process.exit(1);
}
