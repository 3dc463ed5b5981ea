/**
 * Lambda `rule`: the deploy-time custom resource of `JunctionRule` (lib/infra/junction-rule.ts). It puts and deletes
 * a rule by invoking the bus's `api` function directly (`JUNCTION_API_FUNCTION`), not through API Gateway.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  type ApiAnswer,
  apiFunctionFromEnv,
  createRuleResourceHandler,
} from '../lib/adapters/aws/rule-resource.ts';
import { JunctionError } from '../lib/core/errors.ts';

let client: LambdaClient | undefined;

export const handler = createRuleResourceHandler(async (event) => {
  const functionName = apiFunctionFromEnv(process.env);
  const endpoint = process.env.JUNCTION_LAMBDA_ENDPOINT?.trim();
  client ??= new LambdaClient(endpoint ? { endpoint } : {});
  const out = await client.send(
    new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(event)) }),
  );
  const text = out.Payload === undefined ? '' : Buffer.from(out.Payload).toString('utf8');
  if (out.FunctionError !== undefined) {
    // The api function threw: its error object (errorType, errorMessage), never a stack, in the message.
    let message = out.FunctionError;
    try {
      const failed = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown };
      message = `${String(failed.errorType ?? out.FunctionError)}: ${String(failed.errorMessage ?? '')}`;
    } catch {
      // not JSON: the FunctionError kind alone
    }
    throw new JunctionError('Internal', `the api function failed: ${message}`.slice(0, 2000));
  }
  return JSON.parse(text) as ApiAnswer;
});
