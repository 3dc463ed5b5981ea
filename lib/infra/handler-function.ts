/** Lambda functions of Junction built with local esbuild (no Docker), each with its own role and log group. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type CfnElement, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { acknowledgeNag, nagGetAtt } from './nag.ts';

/**
 * The build of `@platformatic/wasm-utils` (used by the Kafka client) with its WebAssembly inlined: the default
 * build reads `../dist/native.wasm` beside itself at load time, a file a one-file bundle does not carry.
 */
const WASM_UTILS_BUNDLED = join(
  dirname(createRequire(import.meta.url).resolve('@platformatic/wasm-utils')),
  'bundled.js',
);

/** Bundling of every Junction function: ESM for Node 22, with `require` available to CommonJS dependencies. */
export const BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  mainFields: ['module', 'main'],
  // An alias: a dependency's own `import { createRequire }` must not collide with the banner's.
  banner:
    "import { createRequire as __junctionCreateRequire } from 'node:module'; const require = __junctionCreateRequire(import.meta.url);",
  forceDockerBundling: false,
  minify: true,
  // The deployed code runs the locked SDK versions, not whichever the Lambda runtime ships.
  bundleAwsSDK: true,
  esbuildArgs: { '--alias:@platformatic/wasm-utils': WASM_UTILS_BUNDLED },
};

export interface HandlerFunctionOptions {
  readonly entry: string;
  readonly projectRoot: string;
  readonly depsLockFilePath: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  /** Attach to these subnets; the function gets its own security group. @default not in a VPC */
  readonly vpc?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly sg: ec2.ISecurityGroup;
  };
  /** @default a generated name */
  readonly functionName?: string;
  /** Concurrency reserved for (and limiting) the function. @default none: the account's unreserved pool */
  readonly reservedConcurrentExecutions?: number;
  /** Shell commands run after bundling, given the bundle's output folder (assets to ship beside it). @default none */
  readonly afterBundling?: (outputDir: string) => string[];
  /** The execution role. @default a new role that may write to the function's log group (and manage VPC ENIs) */
  readonly role?: iam.IRole;
  /** Lambda layers (e.g. an OpenTelemetry collector extension). @default none */
  readonly layers?: lambda.ILayerVersion[];
}

/** The statements every function role gets: its own log group, and the ENI actions Lambda needs in a VPC. */
export function basicExecutionStatements(logGroup: logs.ILogGroup, inVpc: boolean): iam.PolicyStatement[] {
  const statements = [
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  ];
  if (inVpc) statements.push(vpcAccessStatement());
  return statements;
}

/** Lambda manages the ENIs of a VPC function (and of an MSK event source mapping) with the execution role. */
export function vpcAccessStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'ManageVpcNetworkInterfaces',
    actions: [
      'ec2:CreateNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:DescribeSecurityGroups',
      'ec2:DescribeVpcs',
      'ec2:DeleteNetworkInterface',
      'ec2:AssignPrivateIpAddresses',
      'ec2:UnassignPrivateIpAddresses',
    ],
    resources: ['*'],
  });
}

/** A NodejsFunction on nodejs22.x bundled locally, with an explicit role and a log group with retention. */
export function createHandlerFunction(
  scope: Construct,
  id: string,
  options: HandlerFunctionOptions,
): nodejs.NodejsFunction {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: options.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role =
    options.role ??
    new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${options.description}`,
    });
  if (options.role === undefined) {
    for (const statement of basicExecutionStatements(logGroup, options.vpc !== undefined)) {
      role.addToPrincipalPolicy(statement);
    }
    if (options.vpc !== undefined) {
      acknowledgeNag(
        role,
        'AwsSolutions-IAM5',
        'Lambda creates and deletes the ENIs of a VPC function with its execution role; the EC2 ENI ' +
          'actions have no resource-level scoping Lambda can use, so AWS documents Resource "*" for them.',
        ['Resource::*'],
      );
    }
  }
  const fn = new nodejs.NodejsFunction(scope, id, {
    entry: options.entry,
    handler: 'handler',
    projectRoot: options.projectRoot,
    depsLockFilePath: options.depsLockFilePath,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: options.architecture,
    memorySize: options.memorySize,
    timeout: options.timeout,
    description: options.description,
    environment: options.environment,
    bundling:
      options.afterBundling === undefined
        ? BUNDLING
        : {
            ...BUNDLING,
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: (_inputDir, outputDir) =>
                (options.afterBundling as (o: string) => string[])(outputDir),
            },
          },
    role,
    logGroup,
    ...(options.functionName !== undefined ? { functionName: options.functionName } : {}),
    ...(options.reservedConcurrentExecutions !== undefined
      ? { reservedConcurrentExecutions: options.reservedConcurrentExecutions }
      : {}),
    ...(options.layers !== undefined && options.layers.length > 0 ? { layers: options.layers } : {}),
    ...(options.vpc !== undefined
      ? { vpc: options.vpc.vpc, vpcSubnets: options.vpc.subnets, securityGroups: [options.vpc.sg] }
      : {}),
  });
  acknowledgeNag(
    fn,
    'AwsSolutions-L1',
    'Junction targets Node.js 22 on purpose: the code runs unbuilt on Node 22 locally (type stripping), ' +
      '@platformatic/kafka requires node >= 22.22, and the runtime is the same for every function.',
  );
  acknowledgeNag(
    fn,
    'Serverless-LambdaLatestVersion',
    'Junction targets Node.js 22 on purpose: the code runs unbuilt on Node 22 locally (type stripping), ' +
      'the engine and its tests run on 22, and the runtime is the same for every function.',
  );
  acknowledgeNag(
    fn,
    'Serverless-LambdaDLQ',
    'Junction handlers are invoked synchronously (API Gateway, the MSK event source mapping with its own ' +
      'on-failure bucket) or, the scheduler, every minute by a rule whose next run covers a failed one; user ' +
      'functions are invoked synchronously by the router, whose failures go to the dead-letter store.',
  );
  acknowledgeNag(
    fn,
    'Serverless-LambdaTracing',
    'Junction traces events with OpenTelemetry (docs/tracing.md: W3C trace context through ingest, route and ' +
      'every delivery); X-Ray active tracing would add a second, Lambda-only trace per invocation at a cost.',
  );
  return fn;
}

/**
 * What every handler needs of the Junction tables (the engine opens every store): item reads and writes on the tables
 * and queries of their indexes, with cdk-nag's finding on `<table>/index/*` acknowledged.
 */
export function grantJunctionTables(fn: lambda.IFunction, tables: readonly dynamodb.ITable[]): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: 'JunctionTables',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:Query',
        'dynamodb:Scan',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:BatchWriteItem',
      ],
      resources: tables.flatMap((t) => [t.tableArn, `${t.tableArn}/index/*`]),
    }),
  );
  acknowledgeNag(
    fn.role as iam.IRole,
    'AwsSolutions-IAM5',
    'The stores query the global secondary indexes of their own tables (due, finished, byId, byTime, ' +
      'byRule); "<table>/index/*" names exactly the indexes of the Junction tables.',
    tables.map((t) => `Resource::${nagGetAtt(t.node.defaultChild as CfnElement, 'Arn')}/index/*`),
  );
}
