/**
 * `junction functions deploy NAME FILE --aws`: bundles the function here (esbuild) and creates or updates the
 * Lambda function `<prefix><NAME>` through the Lambda FunctionRunner, with the role and prefix of the stack.
 */
import { readFileSync } from 'node:fs';
import { createLambdaRunner, functionPrefixOf, type LambdaRunnerOptions } from '../adapters/lambda/runner.ts';
import { JunctionError } from '../core/errors.ts';
import type { FunctionConfig, FunctionRunner } from '../ports.ts';

export interface AwsDeployRequest {
  readonly name: string;
  readonly file: string;
  /**
   * The bus the function belongs to (`--bus`, else `JUNCTION_BUS`): it is tagged `junction:managed=<bus>` and named
   * `functionPrefixOf(bus)<NAME>` unless `JUNCTION_FUNCTION_PREFIX` says otherwise. @default 'default'
   */
  readonly bus?: string;
  /** `--timeout-ms`, as typed. */
  readonly timeoutMs?: string;
  /** `--memory-mb`, as typed. */
  readonly memoryMb?: string;
  readonly json: boolean;
}

export interface AwsDeployIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /**
   * Read: `JUNCTION_FUNCTION_ROLE_ARN` (required), `JUNCTION_FUNCTION_PREFIX` (@default the bus's prefix),
   * `AWS_REGION`, `JUNCTION_LAMBDA_ENDPOINT` (tests).
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Exit codes as the CLI's: 0 ok, 1 Lambda or the function refused, 2 usage. */
const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new TypeError(`${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

/** Deploys one function to Lambda; prints the result and answers the exit code. */
export async function runAwsDeploy(
  request: AwsDeployRequest,
  io: AwsDeployIo,
  createRunner: (options: LambdaRunnerOptions) => FunctionRunner = createLambdaRunner,
): Promise<number> {
  let source: Uint8Array;
  let config: FunctionConfig;
  try {
    const timeoutMs = wholeNumber('--timeout-ms', request.timeoutMs);
    const memoryMb = wholeNumber('--memory-mb', request.memoryMb);
    config = {
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(memoryMb === undefined ? {} : { memoryMb }),
    };
    source = readFileSync(request.file);
  } catch (error) {
    io.err(`usage: junction functions deploy NAME FILE --aws: ${(error as Error).message}`);
    return EXIT.usage;
  }
  const env = io.env;
  const bus = request.bus ?? 'default';
  const prefix = env.JUNCTION_FUNCTION_PREFIX ?? functionPrefixOf(bus);
  const runner = createRunner({
    busName: bus,
    prefix,
    ...(env.JUNCTION_FUNCTION_ROLE_ARN ? { roleArn: env.JUNCTION_FUNCTION_ROLE_ARN } : {}),
    ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
    ...(env.JUNCTION_LAMBDA_ENDPOINT ? { endpoint: env.JUNCTION_LAMBDA_ENDPOINT } : {}),
  });
  try {
    const info = await runner.deploy(request.name, source, config);
    const lambdaName = `${prefix}${info.name}`;
    io.out(
      request.json
        ? JSON.stringify({ ...info, lambdaName }, null, 2)
        : `deployed ${info.name} to AWS Lambda as ${lambdaName}: ${info.size} bytes zipped, sha256 ${info.sha256.slice(0, 12)}, timeout ${info.timeoutMs} ms, ${info.memoryMb} MB`,
    );
    return EXIT.ok;
  } catch (error) {
    const e =
      error instanceof JunctionError
        ? error
        : new JunctionError('Internal', error instanceof Error ? error.message : String(error));
    if (request.json) io.err(JSON.stringify(e.toJSON()));
    else {
      const hint =
        e.field === 'roleArn'
          ? ' (set JUNCTION_FUNCTION_ROLE_ARN to the stack output FunctionRoleArn)'
          : e.code === 'Internal' && /credential/i.test(e.message)
            ? ' (configure AWS credentials, e.g. AWS_PROFILE)'
            : '';
      io.err(`${e.code}${e.field ? ` (${e.field})` : ''}: ${e.message}${hint}`);
    }
    return EXIT.failed;
  } finally {
    await runner.close();
  }
}
