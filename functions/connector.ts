/**
 * Lambda `connector`: a Kafka source on AWS — an MSK (or self-managed Kafka) event source mapping on a topic that is
 * not the bus's log → its records as events into the log (one function per `kafkaSources` entry of the construct).
 */
import {
  type ConnectorFunctionConfig,
  createConnectorHandler,
  readConnectorConfig,
} from '../lib/adapters/aws/handlers.ts';
import { awsRuntime } from '../lib/adapters/aws/wiring.ts';

let config: ConnectorFunctionConfig | undefined;

export const handler = createConnectorHandler(awsRuntime, () => {
  config ??= readConnectorConfig(process.env);
  return config;
});
