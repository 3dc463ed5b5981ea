/** Lambda `ingest`: API Gateway (HTTP API or REST API) → CloudEvents validated and appended to MSK. */
import { createIngestHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

export const handler = createIngestHandler(awsRuntime);
