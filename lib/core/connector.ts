/**
 * Source connectors (issue #18): what `PUT /connectors/{name}` takes, and how a record that is not a CloudEvent becomes
 * one. Pure rules, no I/O. A connector reads from a system that cannot push (a Kafka topic today), turns what it reads
 * into CloudEvents whose ids derive from the position they were read at (so the bus's idempotent publish drops what a
 * restart reads again), and commits that position only after the log accepted them.
 */
import { validateEvent } from './cloudevent.ts';
import type { CloudEvent } from './cloudevent-types.ts';
import { encodeBase64 } from './codec/base64.ts';
import { fromKafkaRecord } from './codec/kafka.ts';
import { JunctionError } from './errors.ts';
import { redactConnection } from './redact.ts';
import { isObject } from './values.ts';

/** Connector names: as rule names, 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
export const CONNECTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Most connectors one bus runs. */
export const MAX_CONNECTORS = 50;

/** The types of connector this build runs. */
export const CONNECTOR_TYPES = ['kafka', 'postgres-cdc'] as const;

/**
 * How a Kafka record that is not a CloudEvent becomes one: each attribute a template over the record, where
 * `{topic}`, `{partition}`, `{offset}`, `{key}`, `{header.NAME}` and `{value.PATH}` (a dotted path into a JSON value)
 * are replaced by what the record holds.
 */
export interface RecordMapping {
  /** @default "{topic}" prefixed by `kafka.`: `kafka.{topic}` */
  readonly type: string;
  /** @default `kafka://{topic}` */
  readonly source: string;
  /** @default `{topic}-{partition}-{offset}`: the record's position, so a record read twice has one id. */
  readonly id: string;
  readonly subject?: string;
  /** The event's `partitionkey` extension (its order in the bus's log). @default none */
  readonly partitionkey?: string;
}

/** A Kafka topic source: a consumer group on an existing topic. */
export interface KafkaConnectorSpec {
  readonly type: 'kafka';
  /** Bootstrap brokers; @default the bus's own Kafka (embedded with `--kafka`). */
  readonly brokers?: readonly string[];
  readonly topic: string;
  /** The consumer group: its committed offsets are the connector's position. */
  readonly group: string;
  /** Where a group with no committed offset starts. @default "earliest" */
  readonly startFrom: 'earliest' | 'latest';
  /** Records that are not CloudEvents in the Kafka binding become events through this. */
  readonly mapping: RecordMapping;
  /** Records per batch handed to the log at most. @default 500 */
  readonly maxBatch: number;
}

/** Where a PostgreSQL source connects, parsed from its connection string (the password kept for the connection only). */
export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password?: string;
  /** `disable` (plaintext), `require` (TLS, any certificate) or `verify-full` (TLS, a verified certificate). */
  readonly sslmode: 'disable' | 'require' | 'verify-full';
}

/** PostgreSQL change data capture: logical replication (`pgoutput`) of a publication through a replication slot. */
export interface PostgresCdcConnectorSpec {
  readonly type: 'postgres-cdc';
  /** `postgres://user:password@host:port/database?sslmode=…`; shown with the password redacted. */
  readonly connection: string;
  /** The publication to stream (it must exist: `CREATE PUBLICATION p FOR TABLE …`). */
  readonly publication: string;
  /** The logical replication slot: its confirmed LSN is the connector's position (created when missing). */
  readonly slot: string;
  /**
   * Whether a new slot starts with an initial snapshot: every row of the publication's tables, read in the slot's
   * exported snapshot, as `<typePrefix>.<schema>.<table>.read` events (ids from the table and the primary key), then
   * the changes from the slot's LSN. @default false
   */
  readonly snapshot: boolean;
  /** Event types are `<typePrefix>.<schema>.<table>.insert|update|delete|truncate`. @default "postgres" */
  readonly typePrefix: string;
  /** The events' `source` (with the ids, the deduplication key). @default `postgres://host:port/database/slot` */
  readonly source: string;
  /** `change`: data is `{before, after}`; `row`: data is the row (after, or before for a delete). @default "change" */
  readonly data: 'change' | 'row';
  /** Row changes per batch handed to the log at most. @default 500 */
  readonly maxBatch: number;
}

export type ConnectorSpec = KafkaConnectorSpec | PostgresCdcConnectorSpec;

/** A connector as stored and as `GET /connectors/{name}` shows its definition. */
export interface ConnectorDefinition {
  readonly name: string;
  readonly spec: ConnectorSpec;
  readonly paused: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const GROUP = /^[A-Za-z0-9._-]{1,249}$/;
const HOST_PORT = /^[^\s:]+:\d{1,5}$/;
const MAX_TEMPLATE = 512;
const KAFKA_KEYS = new Set(['type', 'brokers', 'topic', 'group', 'startFrom', 'mapping', 'maxBatch']);
const MAPPING_KEYS = new Set(['type', 'source', 'id', 'subject', 'partitionkey']);
const PLACEHOLDER = /\{([^{}]*)\}/g;
const PLACEHOLDER_NAME =
  /^(topic|partition|offset|key|header\.[A-Za-z0-9._-]{1,128}|value(\.[A-Za-z0-9_-]{1,128}){0,16})$/;

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidRequest', message, { field });
}

/** Checks a connector name from the path; throws `InvalidRequest` naming it. */
export function validateConnectorName(name: string): string {
  if (!CONNECTOR_NAME.test(name)) {
    throw invalid(
      `connector name must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit; got "${name.slice(0, 80)}"`,
      'name',
    );
  }
  return name;
}

function template(value: unknown, field: string, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEMPLATE) {
    throw invalid(`${field} must be a template string of 1-${MAX_TEMPLATE} characters`, field);
  }
  for (const match of value.matchAll(PLACEHOLDER)) {
    if (!PLACEHOLDER_NAME.test(match[1] as string)) {
      throw invalid(
        `${field} uses {${(match[1] as string).slice(0, 80)}}; the placeholders are {topic}, {partition}, {offset}, {key}, {header.NAME} and {value.PATH}`,
        field,
      );
    }
  }
  return value;
}

/** Checks a record mapping (absent: the defaults); throws `InvalidRequest` naming the field. */
export function validateMapping(value: unknown, field = 'mapping'): RecordMapping {
  if (value === undefined) value = {};
  if (!isObject(value)) throw invalid(`${field} must be an object`, field);
  for (const key of Object.keys(value)) {
    if (!MAPPING_KEYS.has(key)) {
      throw invalid(
        `${field}.${key} is not a mapping field; use type, source, id, subject or partitionkey`,
        `${field}.${key}`,
      );
    }
  }
  const subject = template(value.subject, `${field}.subject`, undefined);
  const partitionkey = template(value.partitionkey, `${field}.partitionkey`, undefined);
  return Object.freeze({
    type: template(value.type, `${field}.type`, 'kafka.{topic}') as string,
    source: template(value.source, `${field}.source`, 'kafka://{topic}') as string,
    id: template(value.id, `${field}.id`, '{topic}-{partition}-{offset}') as string,
    ...(subject === undefined ? {} : { subject }),
    ...(partitionkey === undefined ? {} : { partitionkey }),
  });
}

/**
 * Checks what `PUT /connectors/{name}` takes and applies the defaults; throws `InvalidRequest` naming the field.
 * `hasOwnKafka` says whether `brokers` may be left out.
 */
export function validateConnectorSpec(
  value: unknown,
  options: { hasOwnKafka?: boolean } = {},
): ConnectorSpec {
  if (!isObject(value)) throw invalid('the body must be a JSON object describing the connector', 'body');
  if (value.type === 'postgres-cdc') return validatePostgresCdcSpec(value);
  if (value.type !== 'kafka') {
    throw invalid(
      `type must be one of ${CONNECTOR_TYPES.map((t) => `"${t}"`).join(', ')}; got ${JSON.stringify(value.type) ?? 'nothing'}`,
      'type',
    );
  }
  for (const key of Object.keys(value)) {
    if (!KAFKA_KEYS.has(key)) {
      throw invalid(`${key} is not a field of a kafka connector; use ${[...KAFKA_KEYS].join(', ')}`, key);
    }
  }
  let brokers: readonly string[] | undefined;
  if (value.brokers !== undefined) {
    if (!Array.isArray(value.brokers) || value.brokers.length === 0 || value.brokers.length > 32) {
      throw invalid('brokers must be a list of 1-32 "host:port"', 'brokers');
    }
    brokers = Object.freeze(
      value.brokers.map((broker, i) => {
        if (typeof broker !== 'string' || !HOST_PORT.test(broker) || broker.length > 255) {
          throw invalid(`brokers[${i}] must be "host:port"`, `brokers[${i}]`);
        }
        return broker;
      }),
    );
  } else if (!options.hasOwnKafka) {
    throw invalid('brokers is required: this bus has no Kafka of its own (start it with --kafka)', 'brokers');
  }
  if (typeof value.topic !== 'string' || !TOPIC.test(value.topic)) {
    throw invalid('topic must be a Kafka topic name: 1-249 of letters, digits, ".", "_" or "-"', 'topic');
  }
  if (typeof value.group !== 'string' || !GROUP.test(value.group)) {
    throw invalid('group must be a consumer group name: 1-249 of letters, digits, ".", "_" or "-"', 'group');
  }
  const startFrom = value.startFrom ?? 'earliest';
  if (startFrom !== 'earliest' && startFrom !== 'latest') {
    throw invalid('startFrom must be "earliest" or "latest"', 'startFrom');
  }
  const maxBatch = value.maxBatch ?? 500;
  if (typeof maxBatch !== 'number' || !Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 5000) {
    throw invalid('maxBatch must be an integer from 1 to 5000', 'maxBatch');
  }
  return Object.freeze({
    type: 'kafka',
    ...(brokers === undefined ? {} : { brokers }),
    topic: value.topic,
    group: value.group,
    startFrom,
    mapping: validateMapping(value.mapping),
    maxBatch,
  });
}

const PG_KEYS = new Set([
  'type',
  'connection',
  'publication',
  'slot',
  'snapshot',
  'typePrefix',
  'source',
  'data',
  'maxBatch',
]);
/** Slot and publication names: PostgreSQL identifiers that need no quoting (the slot's own rule). */
const PG_NAME = /^[a-z0-9_]{1,63}$/;
const TYPE_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SSL_MODES = new Set(['disable', 'require', 'verify-full']);

/** Parses a `postgres://` connection string; throws `InvalidRequest` naming `connection` (never echoing it). */
export function parsePostgresConnection(text: unknown): PostgresConnection {
  const fail = (why: string) =>
    invalid(`connection must be "postgres://user:password@host:port/database": ${why}`, 'connection');
  if (typeof text !== 'string' || text.length === 0 || text.length > 1024)
    throw fail('a string of 1-1024 characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail('it does not parse as a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw fail('the scheme is postgres://');
  if (url.hostname === '') throw fail('a host is required');
  const port = url.port === '' ? 5432 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw fail('the port is 1-65535');
  const user = decodeURIComponent(url.username);
  if (user === '') throw fail('a user is required');
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/') || database.length > 63) throw fail('a database is required');
  let sslmode = 'disable';
  for (const [key, value] of url.searchParams) {
    if (key !== 'sslmode') throw fail(`the only parameter is sslmode (got ${key.slice(0, 40)})`);
    if (!SSL_MODES.has(value)) throw fail('sslmode is disable, require or verify-full');
    sslmode = value;
  }
  if (url.hash !== '') throw fail('no fragment');
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return Object.freeze({
    host,
    port,
    database,
    user,
    ...(password === undefined ? {} : { password }),
    sslmode: sslmode as PostgresConnection['sslmode'],
  });
}

function validatePostgresCdcSpec(value: Record<string, unknown>): PostgresCdcConnectorSpec {
  for (const key of Object.keys(value)) {
    if (!PG_KEYS.has(key)) {
      throw invalid(`${key} is not a field of a postgres-cdc connector; use ${[...PG_KEYS].join(', ')}`, key);
    }
  }
  const connection = parsePostgresConnection(value.connection);
  for (const field of ['publication', 'slot'] as const) {
    if (typeof value[field] !== 'string' || !PG_NAME.test(value[field])) {
      throw invalid(`${field} must be 1-63 of lower-case letters, digits and "_"`, field);
    }
  }
  const snapshot = value.snapshot ?? false;
  if (typeof snapshot !== 'boolean') throw invalid('snapshot must be true or false', 'snapshot');
  const typePrefix = value.typePrefix ?? 'postgres';
  if (typeof typePrefix !== 'string' || !TYPE_PREFIX.test(typePrefix)) {
    throw invalid(
      'typePrefix must be 1-128 of letters, digits, ".", "_" or "-", starting with a letter or digit',
      'typePrefix',
    );
  }
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  const source =
    value.source ??
    `postgres://${host}:${connection.port}/${encodeURIComponent(connection.database)}/${value.slot}`;
  if (typeof source !== 'string' || source.length === 0 || source.length > 512) {
    throw invalid('source must be a URI reference of 1-512 characters', 'source');
  }
  const data = value.data ?? 'change';
  if (data !== 'change' && data !== 'row') throw invalid('data must be "change" or "row"', 'data');
  const maxBatch = value.maxBatch ?? 500;
  if (typeof maxBatch !== 'number' || !Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 5000) {
    throw invalid('maxBatch must be an integer from 1 to 5000', 'maxBatch');
  }
  return Object.freeze({
    type: 'postgres-cdc',
    connection: value.connection as string,
    publication: value.publication as string,
    slot: value.slot as string,
    snapshot,
    typePrefix,
    source,
    data,
    maxBatch,
  });
}

/** A spec as every read shows it: a connection string's password replaced by `***`. */
export function redactConnectorSpec(spec: ConnectorSpec): ConnectorSpec {
  if (spec.type !== 'postgres-cdc') return spec;
  const connection = redactConnection(spec.connection);
  return connection === spec.connection ? spec : Object.freeze({ ...spec, connection });
}

/** A record as a Kafka source reads it. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<readonly [string, Uint8Array]>;
  /** The record's timestamp, ms since the epoch. */
  readonly timestamp: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array | null): string | undefined {
  if (bytes === null) return undefined;
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A value at a dotted path in parsed JSON, as text (objects as JSON); undefined when missing. */
function valueAt(json: unknown, path: readonly string[]): string | undefined {
  let node = json;
  for (const step of path) {
    if (Array.isArray(node) && /^\d+$/.test(step)) node = node[Number(step)];
    else if (isObject(node) && Object.hasOwn(node, step)) node = node[step];
    else return undefined;
  }
  if (node === undefined || node === null) return undefined;
  return typeof node === 'string' ? node : JSON.stringify(node);
}

/**
 * Fills a template from a record; throws `InvalidEvent` naming the attribute when a placeholder has no value in it
 * (a missing header, key or JSON member).
 */
function fill(templateText: string, record: SourceRecord, json: () => unknown, attribute: string): string {
  return templateText.replace(PLACEHOLDER, (_whole, name: string) => {
    let out: string | undefined;
    if (name === 'topic') out = record.topic;
    else if (name === 'partition') out = String(record.partition);
    else if (name === 'offset') out = String(record.offset);
    else if (name === 'key') out = text(record.key);
    else if (name.startsWith('header.')) {
      const wanted = name.slice('header.'.length).toLowerCase();
      const header = record.headers.find(([n]) => n.toLowerCase() === wanted);
      out = header === undefined ? undefined : text(header[1] as Uint8Array);
    } else out = valueAt(json(), name.split('.').slice(1));
    if (out === undefined) {
      throw new JunctionError('InvalidEvent', `mapping.${attribute}: the record has no value for {${name}}`, {
        field: `mapping.${attribute}`,
      });
    }
    return out;
  });
}

/**
 * The CloudEvent a record that is not a CloudEvent becomes: the attributes from the mapping's templates, the value
 * as data (JSON when it parses as JSON, else text when it is UTF-8, else `data_base64`), `time` from the record's
 * timestamp. Throws `InvalidEvent` (naming the attribute) when the result is not a valid event.
 */
export function mapRecord(record: SourceRecord, mapping: RecordMapping): CloudEvent {
  const valueText = text(record.value);
  let parsed: { ok: boolean; value?: unknown } | undefined;
  const json = (): unknown => {
    if (parsed === undefined) {
      try {
        parsed = valueText === undefined ? { ok: false } : { ok: true, value: JSON.parse(valueText) };
      } catch {
        parsed = { ok: false };
      }
    }
    return parsed.ok ? parsed.value : undefined;
  };
  const event: Record<string, unknown> = {
    specversion: '1.0',
    id: fill(mapping.id, record, json, 'id'),
    source: fill(mapping.source, record, json, 'source'),
    type: fill(mapping.type, record, json, 'type'),
    time: new Date(record.timestamp).toISOString(),
  };
  if (mapping.subject !== undefined) event.subject = fill(mapping.subject, record, json, 'subject');
  if (mapping.partitionkey !== undefined)
    event.partitionkey = fill(mapping.partitionkey, record, json, 'partitionkey');
  if (record.value !== null && record.value.length > 0) {
    json();
    if (parsed?.ok) {
      event.datacontenttype = 'application/json';
      event.data = parsed.value;
    } else if (valueText !== undefined) {
      event.datacontenttype = 'text/plain';
      event.data = valueText;
    } else {
      event.datacontenttype = 'application/octet-stream';
      event.data_base64 = encodeBase64(record.value);
    }
  }
  return validateEvent(event);
}

/** Whether a record carries a CloudEvent in the Kafka binding: a `ce_specversion` header, or a CloudEvents content type. */
export function isCloudEventRecord(record: SourceRecord): boolean {
  for (const [name, value] of record.headers) {
    const lower = name.toLowerCase();
    if (lower === 'ce_specversion') return true;
    if (
      lower === 'content-type' &&
      text(value as Uint8Array)
        ?.trim()
        .toLowerCase()
        .startsWith('application/cloudevents')
    ) {
      return true;
    }
  }
  return false;
}

/**
 * The CloudEvent a source record holds: a CloudEvent in the Kafka binding (binary or structured) as it is, any other
 * record through the mapping. Throws `InvalidEvent` naming what is wrong.
 */
export function eventOfRecord(record: SourceRecord, mapping: RecordMapping): CloudEvent {
  if (isCloudEventRecord(record)) {
    return fromKafkaRecord({ key: record.key, value: record.value, headers: record.headers });
  }
  return mapRecord(record, mapping);
}
