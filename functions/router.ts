/** Lambda `router`: an MSK event source mapping → rules matched, deliveries enqueued and dispatched. */
import { createRouterHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

export const handler = createRouterHandler(awsRuntime);
