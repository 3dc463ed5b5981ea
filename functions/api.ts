/** Lambda `api`: API Gateway (IAM auth) → the management API (rules, functions, traces, dead letters, replays). */
import { createApiHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

export const handler = createApiHandler(awsRuntime);
