/** Options of the Kafka EventLog, validated once, and the connection options (TLS, SASL, MSK IAM) they give the client. */
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { JunctionError } from '../../core/errors.ts';
import type { Clock } from '../../ports.ts';
import { systemClock } from '../../ports.ts';
import type { DedupStore } from './dedup.ts';
import { type MskTokenGenerator, mskIamTokenProvider } from './msk-iam.ts';

/** SASL with a username and password. */
export interface SaslPasswordOptions {
  readonly mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly username: string;
  readonly password: string;
}

/** SASL/OAUTHBEARER with a token (or a function that answers a fresh one). */
export interface SaslOAuthBearerOptions {
  readonly mechanism: 'OAUTHBEARER';
  readonly token: string | (() => Promise<string>);
}

/** Amazon MSK IAM: OAUTHBEARER with a token signed from the AWS credential chain (needs TLS, on by default). */
export interface SaslMskIamOptions {
  readonly mechanism: 'AWS_MSK_IAM';
  /** The AWS region of the cluster. */
  readonly region: string;
  /** Replaces the signer (tests). @default generateAuthToken from aws-msk-iam-sasl-signer-js */
  readonly generate?: MskTokenGenerator;
}

export type KafkaSaslOptions = SaslPasswordOptions | SaslOAuthBearerOptions | SaslMskIamOptions;

export interface KafkaEventLogOptions {
  /** Bootstrap brokers, `host:port` each. */
  readonly bootstrap: readonly string[];
  /** The topic; created when missing. */
  readonly topic: string;
  /** Partitions of a topic this log creates (an existing topic keeps its own count). @default 6 */
  readonly partitions?: number;
  /** Replication factor of a topic this log creates; -1 takes the broker's `default.replication.factor`. @default 1 */
  readonly replication?: number;
  /** `retention.ms` of a topic this log creates; -1 keeps records forever. @default the broker's default */
  readonly retentionMs?: number;
  /** @default 'junction' */
  readonly clientId?: string;
  /** TLS: `true` for the system's CAs, or Node's TLS options. @default false (true with AWS_MSK_IAM) */
  readonly tls?: boolean | TlsOptions;
  /** SASL authentication. @default none */
  readonly sasl?: KafkaSaslOptions;
  /**
   * Where `(source, id)` pairs are remembered for `AppendOptions.dedupWindowMs`.
   * @default an in-memory store of this log (one process only)
   */
  readonly dedup?: DedupStore;
  /** An append that has not been acknowledged by then rejects with `BufferUnavailable`. @default 5000 */
  readonly appendTimeoutMs?: number;
  /** First retry delay after a handler rejected; doubles per failure up to `retryMaxMs`. @default 100 */
  readonly retryBaseMs?: number;
  /** @default 5000 */
  readonly retryMaxMs?: number;
  /** Consumer-group session timeout. @default 10000 */
  readonly sessionTimeoutMs?: number;
  /** Record timestamps, dedup windows. @default systemClock */
  readonly clock?: Clock;
  /** Told about what the log skips or cannot do but answers anyway (an undecodable record, a failed `remember`). */
  readonly onWarning?: (message: string, error?: unknown) => void;
}

/** The options with their defaults applied. */
export interface ResolvedKafkaOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly partitions: number;
  readonly replication: number;
  readonly retentionMs: number | undefined;
  readonly clientId: string;
  readonly tls: TlsOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly dedup: DedupStore | undefined;
  readonly appendTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly sessionTimeoutMs: number;
  readonly clock: Clock;
  readonly onWarning: (message: string, error?: unknown) => void;
}

const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

function invalid(field: string, message: string, value: unknown): JunctionError {
  return new JunctionError('InvalidRequest', `Kafka option ${field} ${message}; received ${show(value)}`, {
    field,
  });
}

function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function integer(field: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(field, `must be an integer ≥ ${min}`, value);
  }
  return value;
}

/** Validates the options and applies defaults; throws `InvalidRequest` naming the option and the value. */
export function resolveKafkaOptions(options: KafkaEventLogOptions): ResolvedKafkaOptions {
  const { bootstrap, topic } = options;
  if (!Array.isArray(bootstrap) || bootstrap.length === 0) {
    throw invalid('bootstrap', 'must be a non-empty list of host:port', bootstrap);
  }
  for (const broker of bootstrap) {
    if (typeof broker !== 'string' || !HOST_PORT.test(broker)) {
      throw invalid('bootstrap', 'entries must be host:port', broker);
    }
  }
  if (typeof topic !== 'string' || !TOPIC.test(topic) || topic === '.' || topic === '..') {
    throw invalid('topic', 'must be 1-249 of a-z A-Z 0-9 . _ -', topic);
  }
  const retentionMs =
    options.retentionMs === undefined ? undefined : integer('retentionMs', options.retentionMs, -1, 0);
  const clientId = options.clientId ?? 'junction';
  if (typeof clientId !== 'string' || !/^[a-zA-Z0-9._-]+$/.test(clientId)) {
    throw invalid('clientId', 'must be letters, digits, . _ -', clientId);
  }
  const sasl = options.sasl === undefined ? undefined : validateSasl(options.sasl);
  let tls: TlsOptions | undefined;
  if (options.tls === true) tls = {};
  else if (options.tls === false) tls = undefined;
  else if (options.tls === undefined) tls = sasl?.mechanism === 'AWS_MSK_IAM' ? {} : undefined;
  else if (typeof options.tls === 'object' && options.tls !== null) tls = options.tls;
  else throw invalid('tls', 'must be a boolean or TLS options', options.tls);
  if (options.dedup !== undefined) {
    const store = options.dedup as Partial<DedupStore>;
    if (typeof store.seen !== 'function' || typeof store.remember !== 'function') {
      throw invalid('dedup', 'must have seen(keys) and remember(keys, windowMs)', options.dedup);
    }
  }
  const retryBaseMs = integer('retryBaseMs', options.retryBaseMs, 1, 100);
  return {
    bootstrap: [...bootstrap],
    topic,
    partitions: integer('partitions', options.partitions, 1, 6),
    replication: options.replication === -1 ? -1 : integer('replication', options.replication, 1, 1),
    retentionMs,
    clientId,
    tls,
    sasl,
    dedup: options.dedup,
    appendTimeoutMs: integer('appendTimeoutMs', options.appendTimeoutMs, 1, 5000),
    retryBaseMs,
    retryMaxMs: integer('retryMaxMs', options.retryMaxMs, retryBaseMs, Math.max(5000, retryBaseMs)),
    sessionTimeoutMs: integer('sessionTimeoutMs', options.sessionTimeoutMs, 1000, 10_000),
    clock: options.clock ?? systemClock,
    onWarning: options.onWarning ?? (() => undefined),
  };
}

function validateSasl(sasl: KafkaSaslOptions): KafkaSaslOptions {
  const mechanism = (sasl as { mechanism?: unknown }).mechanism;
  switch (mechanism) {
    case 'PLAIN':
    case 'SCRAM-SHA-256':
    case 'SCRAM-SHA-512': {
      const { username, password } = sasl as SaslPasswordOptions;
      if (typeof username !== 'string' || username === '')
        throw invalid('sasl.username', 'must be a string', username);
      if (typeof password !== 'string') throw invalid('sasl.password', 'must be a string', '(not a string)');
      return sasl;
    }
    case 'OAUTHBEARER': {
      const { token } = sasl as SaslOAuthBearerOptions;
      if (typeof token !== 'string' && typeof token !== 'function') {
        throw invalid('sasl.token', 'must be a string or a function answering one', typeof token);
      }
      return sasl;
    }
    case 'AWS_MSK_IAM': {
      const { region } = sasl as SaslMskIamOptions;
      if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region)) {
        throw invalid('sasl.region', 'must be an AWS region such as eu-west-1', region);
      }
      return sasl;
    }
    default:
      throw invalid(
        'sasl.mechanism',
        'must be PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM',
        mechanism,
      );
  }
}

/** The connection part of @platformatic/kafka's client options. */
export interface ClientConnectionOptions {
  clientId: string;
  bootstrapBrokers: string[];
  tls?: TlsOptions;
  sasl?:
    | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string }
    | { mechanism: 'OAUTHBEARER'; token: string | (() => Promise<string>) };
}

/** Client options for one role (`producer`, `consumer`, `admin`, …): brokers, client id, TLS and SASL. */
export function clientConnectionOptions(
  options: ResolvedKafkaOptions,
  role: string,
): ClientConnectionOptions {
  const out: ClientConnectionOptions = {
    clientId: `${options.clientId}-${role}`,
    bootstrapBrokers: [...options.bootstrap],
  };
  if (options.tls !== undefined) out.tls = options.tls;
  const sasl = options.sasl;
  if (sasl === undefined) return out;
  if (sasl.mechanism === 'AWS_MSK_IAM') {
    const provider = mskIamTokenProvider(
      sasl.generate === undefined
        ? { region: sasl.region }
        : { region: sasl.region, generate: sasl.generate },
    );
    out.sasl = { mechanism: 'OAUTHBEARER', token: provider };
  } else if (sasl.mechanism === 'OAUTHBEARER') {
    out.sasl = { mechanism: 'OAUTHBEARER', token: sasl.token };
  } else {
    out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password };
  }
  return out;
}
