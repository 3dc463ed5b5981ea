/** Lambda `api`: API Gateway (IAM, JWT or Cognito auth) → the management API (rules, functions, traces, …). */
import { gatewayAuthFromEnv } from '../lib/adapters/aws/gateway-auth.ts';
import { createApiHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

export const handler = createApiHandler(awsRuntime, { auth: gatewayAuthFromEnv(process.env) });
