/** Lambda `scheduler`: on a schedule, runs due retries and waits for them within the invocation's time. */
import { createSchedulerHandler } from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

export const handler = createSchedulerHandler(awsRuntime);
