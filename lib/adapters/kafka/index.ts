/** The Kafka adapter: the EventLog on Apache Kafka / Amazon MSK, its options, the dedup store and MSK IAM auth. */
export type {
  KafkaEventLogOptions,
  KafkaSaslOptions,
  SaslMskIamOptions,
  SaslOAuthBearerOptions,
  SaslPasswordOptions,
} from './config.ts';
export { clientConnectionOptions, resolveKafkaOptions } from './config.ts';
export type { DedupStore, MemoryDedupStoreOptions } from './dedup.ts';
export { createMemoryDedupStore } from './dedup.ts';
export type { KafkaEventLog } from './event-log.ts';
export { createKafkaEventLog, deleteKafkaTopic } from './event-log.ts';
export type { MskIamTokenProviderOptions, MskTokenGenerator } from './msk-iam.ts';
export { mskIamTokenProvider } from './msk-iam.ts';
export { partitionOf } from './records.ts';
