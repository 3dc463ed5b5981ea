/** Lambda `topic`: the deploy-time custom resource that creates and updates the bus's events topic. */
import { createTopicResourceHandler, topicConnectionFromEnv } from '../lib/adapters/aws/topic-resource.ts';

export const handler = createTopicResourceHandler(() => topicConnectionFromEnv(process.env));
