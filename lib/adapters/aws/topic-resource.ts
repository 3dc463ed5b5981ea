/**
 * The CloudFormation custom resource `Custom::JunctionKafkaTopic` (the `topic` Lambda, called by CDK's provider
 * framework): creates the bus's events topic at deploy time with its declared partitions, replication factor,
 * `min.insync.replicas` and `retention.ms`; on update adds partitions and sets the settings; on delete keeps the
 * topic and its records (a bus's events outlive the stack, as its tables do).
 */
import { JunctionError } from '../../core/errors.ts';
import { applyTopic, type TopicAdminConnection, type TopicSpec } from '../kafka/topic-admin.ts';

/** The resource's properties, as CloudFormation passes them (numbers arrive as strings). */
export interface TopicResourceProperties {
  readonly Topic: string;
  readonly Partitions: string | number;
  readonly ReplicationFactor: string | number;
  readonly MinInsyncReplicas?: string | number;
  readonly RetentionMs?: string | number;
}

/** The provider framework's onEvent request (the fields this handler reads). */
export interface TopicResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: TopicResourceProperties & { readonly ServiceToken?: string };
  readonly OldResourceProperties?: TopicResourceProperties;
  readonly PhysicalResourceId?: string;
}

export interface TopicResourceResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string | number>;
}

/** How the handler reaches Kafka: from the environment (`JUNCTION_KAFKA_BOOTSTRAP`, `…_CLUSTER_ARN`, `AWS_REGION`). */
export function topicConnectionFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): TopicAdminConnection {
  const bootstrap = (env.JUNCTION_KAFKA_BOOTSTRAP ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (bootstrap.length === 0) {
    throw new JunctionError(
      'InvalidRequest',
      'JUNCTION_KAFKA_BOOTSTRAP must list the brokers (host:port,…)',
      {
        field: 'JUNCTION_KAFKA_BOOTSTRAP',
      },
    );
  }
  const clusterArn = env.JUNCTION_KAFKA_CLUSTER_ARN;
  const region = env.AWS_REGION || clusterArn?.split(':')[3] || 'us-east-1';
  return {
    bootstrap,
    clientId: 'junction-topic-resource',
    ...(clusterArn ? { sasl: { mechanism: 'AWS_MSK_IAM', region } } : {}),
  };
}

function whole(value: string | number | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const text = String(value);
  if (!/^-?\d{1,16}$/.test(text)) {
    throw new JunctionError(
      'InvalidRequest',
      `${field} must be a whole number; received ${JSON.stringify(value)}`,
      {
        field,
      },
    );
  }
  return Number(text);
}

/** The declared spec from the resource's properties. */
export function topicSpecOf(properties: TopicResourceProperties): TopicSpec {
  const partitions = whole(properties.Partitions, 'Partitions');
  const replicationFactor = whole(properties.ReplicationFactor, 'ReplicationFactor');
  if (partitions === undefined || replicationFactor === undefined) {
    throw new JunctionError('InvalidRequest', 'Partitions and ReplicationFactor are required', {
      field: partitions === undefined ? 'Partitions' : 'ReplicationFactor',
    });
  }
  const minInsyncReplicas = whole(properties.MinInsyncReplicas, 'MinInsyncReplicas');
  const retentionMs = whole(properties.RetentionMs, 'RetentionMs');
  return {
    topic: properties.Topic,
    partitions,
    replicationFactor,
    ...(minInsyncReplicas === undefined ? {} : { minInsyncReplicas }),
    ...(retentionMs === undefined ? {} : { retentionMs }),
  };
}

/**
 * The onEvent handler. The physical id is the topic's name: renaming the topic makes CloudFormation create the
 * new one and then "delete" the old one, which keeps it (delete never removes a topic or records).
 */
export function createTopicResourceHandler(
  connection: () => TopicAdminConnection,
  options: { readonly waitMs?: number } = {},
): (event: TopicResourceEvent) => Promise<TopicResourceResponse> {
  return async (event) => {
    const properties = event.ResourceProperties;
    if (event.RequestType === 'Delete') {
      return { PhysicalResourceId: event.PhysicalResourceId ?? String(properties.Topic) };
    }
    if (event.RequestType !== 'Create' && event.RequestType !== 'Update') {
      throw new JunctionError(
        'InvalidRequest',
        `RequestType must be Create, Update or Delete; received ${JSON.stringify(event.RequestType)}`,
        { field: 'RequestType' },
      );
    }
    const spec = topicSpecOf(properties);
    const applied = await applyTopic(connection(), spec, options);
    return {
      PhysicalResourceId: spec.topic,
      Data: {
        Topic: spec.topic,
        Partitions: applied.partitions,
        ReplicationFactor: applied.replicationFactor,
        Created: applied.created ? 'true' : 'false',
      },
    };
  };
}
