/**
 * A topic's settings applied as declared (the deploy-time custom resource of the AWS stack, docs/aws.md): created
 * when missing, partitions added and `min.insync.replicas`/`retention.ms` set when it exists. What Kafka cannot do
 * in place (fewer partitions, another replication factor) is refused with a message that says so.
 */
import { Admin, ConfigResourceTypes, IncrementalAlterConfigOperationTypes } from '@platformatic/kafka';
import { JunctionError } from '../../core/errors.ts';
import { clientConnectionOptions, type KafkaEventLogOptions, resolveKafkaOptions } from './config.ts';

/** The declared settings of a topic. */
export interface TopicSpec {
  readonly topic: string;
  /** 1–10000. */
  readonly partitions: number;
  /** 1–… replicas of each partition, or -1 for the cluster's `default.replication.factor` (MSK Serverless). */
  readonly replicationFactor: number;
  /** `min.insync.replicas` (1 ≤ n ≤ replicationFactor). @default the cluster's */
  readonly minInsyncReplicas?: number;
  /** `retention.ms`, -1 for forever. @default the cluster's */
  readonly retentionMs?: number;
}

/** What a topic has. */
export interface TopicState {
  readonly partitions: number;
  readonly replicationFactor: number;
  /** The topic's dynamic (topic-level) settings among `min.insync.replicas` and `retention.ms`. */
  readonly configs: Readonly<Record<string, string>>;
}

/** The connection: the Kafka EventLog's options without a topic (bootstrap, TLS, SASL, client id). */
export type TopicAdminConnection = Omit<KafkaEventLogOptions, 'topic'>;

const MANAGED_CONFIGS = ['min.insync.replicas', 'retention.ms'] as const;
const MAX_PARTITIONS = 10_000;

function invalid(field: string, message: string): JunctionError {
  return new JunctionError('InvalidRequest', message, { field });
}

/** Validates a spec; throws `InvalidRequest` naming the field and showing the value. */
export function validateTopicSpec(spec: TopicSpec): TopicSpec {
  const { topic, partitions, replicationFactor, minInsyncReplicas, retentionMs } = spec;
  if (
    typeof topic !== 'string' ||
    !/^[a-zA-Z0-9._-]{1,249}$/.test(topic) ||
    topic === '.' ||
    topic === '..'
  ) {
    throw invalid('topic', `topic must be 1-249 of a-z A-Z 0-9 . _ -; received ${JSON.stringify(topic)}`);
  }
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    throw invalid(
      'partitions',
      `partitions must be an integer in 1..${MAX_PARTITIONS}; received ${JSON.stringify(partitions)}`,
    );
  }
  if (!Number.isInteger(replicationFactor) || (replicationFactor < 1 && replicationFactor !== -1)) {
    throw invalid(
      'replicationFactor',
      `replicationFactor must be an integer ≥ 1, or -1 for the cluster's default; received ${JSON.stringify(replicationFactor)}`,
    );
  }
  if (minInsyncReplicas !== undefined) {
    const max = replicationFactor === -1 ? Number.MAX_SAFE_INTEGER : replicationFactor;
    if (!Number.isInteger(minInsyncReplicas) || minInsyncReplicas < 1 || minInsyncReplicas > max) {
      throw invalid(
        'minInsyncReplicas',
        `minInsyncReplicas must be an integer from 1 to the replication factor (${replicationFactor}); received ${JSON.stringify(minInsyncReplicas)}`,
      );
    }
  }
  if (
    retentionMs !== undefined &&
    (!Number.isSafeInteger(retentionMs) || (retentionMs < 1 && retentionMs !== -1))
  ) {
    throw invalid(
      'retentionMs',
      `retentionMs must be -1 (forever) or a whole number of milliseconds ≥ 1; received ${JSON.stringify(retentionMs)}`,
    );
  }
  return spec;
}

function openAdmin(connection: TopicAdminConnection, topic: string): Admin {
  const resolved = resolveKafkaOptions({ ...connection, topic });
  return new Admin({ ...clientConnectionOptions(resolved, 'admin'), retries: 3, retryDelay: 500 });
}

async function describeWith(admin: Admin, topic: string): Promise<TopicState | undefined> {
  if (!(await admin.listTopics()).includes(topic)) return undefined;
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const info = metadata.topics.get(topic);
  if (info === undefined || info.partitionsCount === 0) return undefined;
  const replicationFactor = Math.max(0, ...info.partitions.map((p) => p?.replicas.length ?? 0));
  const described = await admin.describeConfigs({
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: topic,
        configurationKeys: [...MANAGED_CONFIGS],
      },
    ],
  });
  const configs: Record<string, string> = {};
  for (const c of described[0]?.configs ?? []) {
    const value = c.value;
    if (typeof value === 'string' && (MANAGED_CONFIGS as readonly string[]).includes(c.name)) {
      configs[c.name] = value;
    }
  }
  return { partitions: info.partitionsCount, replicationFactor, configs };
}

/** The topic's partitions, replication factor and settings, or undefined when it does not exist. */
export async function describeTopic(
  connection: TopicAdminConnection,
  topic: string,
): Promise<TopicState | undefined> {
  const admin = openAdmin(connection, topic);
  try {
    return await describeWith(admin, topic);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** The outcome of `applyTopic`. */
export interface AppliedTopic extends TopicState {
  /** The topic did not exist and was created. */
  readonly created: boolean;
}

/**
 * Makes the topic as `spec` declares: creates it when missing; when it exists, adds partitions up to
 * `spec.partitions` and sets `min.insync.replicas` and `retention.ms` (those given). Never removes anything and
 * never deletes records. Refuses (`InvalidRequest`, naming the field) fewer partitions than the topic has, or a
 * replication factor other than the topic's: Kafka cannot do either in place.
 */
export async function applyTopic(
  connection: TopicAdminConnection,
  spec: TopicSpec,
  options: { readonly waitMs?: number } = {},
): Promise<AppliedTopic> {
  validateTopicSpec(spec);
  const { topic } = spec;
  const configs = [
    ...(spec.minInsyncReplicas === undefined
      ? []
      : [{ name: 'min.insync.replicas', value: String(spec.minInsyncReplicas) }]),
    ...(spec.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(spec.retentionMs) }]),
  ];
  const admin = openAdmin(connection, topic);
  try {
    const existing = await describeWith(admin, topic);
    let created = false;
    if (existing === undefined) {
      try {
        await admin.createTopics({
          topics: [topic],
          partitions: spec.partitions,
          replicas: spec.replicationFactor,
          configs,
        });
        created = true;
      } catch (error) {
        // Created meanwhile (a handler, a second deploy): go on with the existing one below.
        if ((await describeWith(admin, topic)) === undefined) throw error;
      }
    }
    if (!created) {
      const now = existing ?? (await describeWith(admin, topic));
      if (now === undefined) throw new JunctionError('Internal', `the topic ${topic} vanished`);
      if (now.partitions > spec.partitions) {
        throw invalid(
          'partitions',
          `the topic ${topic} has ${now.partitions} partitions and Kafka cannot remove partitions; declare partitions ≥ ${now.partitions} (received ${spec.partitions})`,
        );
      }
      if (spec.replicationFactor !== -1 && now.replicationFactor !== spec.replicationFactor) {
        throw invalid(
          'replicationFactor',
          `the topic ${topic} has replication factor ${now.replicationFactor}, not ${spec.replicationFactor}: changing it needs a partition reassignment (kafka-reassign-partitions), which a deploy does not do; declare ${now.replicationFactor} or reassign first`,
        );
      }
      if (now.partitions < spec.partitions) {
        await admin.createPartitions({ topics: [{ name: topic, count: spec.partitions }] });
      }
      if (configs.length > 0) {
        await admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: topic,
              configs: configs.map((c) => ({
                name: c.name,
                value: c.value,
                configOperation: IncrementalAlterConfigOperationTypes.SET,
              })),
            },
          ],
        });
      }
    }
    // Metadata follows the controller shortly: wait until every declared partition has a leader and the settings read back.
    const until = Date.now() + (options.waitMs ?? 30_000);
    for (;;) {
      const state = await describeWith(admin, topic);
      const leaders = await partitionsLed(admin, topic);
      const settled =
        state !== undefined &&
        state.partitions === spec.partitions &&
        leaders === spec.partitions &&
        configs.every((c) => state.configs[c.name] === c.value);
      if (settled) return { ...state, created };
      if (Date.now() > until) {
        throw new JunctionError(
          'Internal',
          `the topic ${topic} did not show ${spec.partitions} led partitions and its settings within ${options.waitMs ?? 30_000} ms (saw ${JSON.stringify(state)})`,
          { retriable: true },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function partitionsLed(admin: Admin, topic: string): Promise<number> {
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const info = metadata.topics.get(topic);
  return info === undefined ? 0 : info.partitions.filter((p) => p !== undefined && p.leader >= 0).length;
}
