/** Rule validation: turns an untrusted rule body into a frozen `Rule` with every default filled in. */
import { aggregateBody, validateAggregate } from './aggregate.ts';
import { BUS_NAME } from './bus.ts';
import { compileFilter } from './cesql/index.ts';
import { parsePostgresConnection } from './connector.ts';
import { validateCorrelate } from './correlate.ts';
import { JunctionError } from './errors.ts';
import { toCloudEventsPattern } from './eventbridge-shape.ts';
import { compileJsonata } from './jsonata.ts';
import { compileOrderingKey } from './ordering.ts';
import { parsePatternText, validatePattern } from './pattern/index.ts';
import { DEFAULT_RETRY_POLICY } from './retry.ts';
import type {
  DeliveryMode,
  OrderingOption,
  PostgresTarget,
  RetryPolicy,
  Rule,
  RuleSchedule,
  Target,
  TargetInput,
} from './rule-types.ts';
import { parseSchedule } from './schedule.ts';
import { compileInput, parseJsonPath } from './transform.ts';
import { isObject, show } from './values.ts';

export type { Rule, Target } from './rule-types.ts';

const NAME = /^[A-Za-z0-9._-]{1,64}$/;
const TARGET_ID = /^[A-Za-z0-9._-]{1,64}$/;
const FUNCTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers a target may not set: the binding and the engine own them. */
const RESERVED_HEADERS = /^(ce-|content-length$|content-type$|host$|idempotency-key$|transfer-encoding$)/i;
const TARGET_TYPES = ['function', 'http', 'kafka', 'bus', 'postgres'] as const;
const RULE_KEYS = new Set([
  'schedule',
  'name',
  'description',
  'enabled',
  'pattern',
  'patternText',
  'filter',
  'targets',
  'aggregate',
  'correlate',
  'createdAt',
  'updatedAt',
]);

/** Limits on a rule. */
export const RULE_LIMITS = Object.freeze({ maxTargets: 10, maxDescription: 512, maxConcurrency: 1024 });

function invalid(message: string, path: string): JunctionError {
  return new JunctionError('InvalidRule', message, { path, field: path });
}

function integer(value: unknown, path: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${path} must be an integer from ${min} to ${max}, got ${show(value)}`, path);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(
      `${path} must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${show(value)}`,
      path,
    );
  }
  return value as T;
}

function requiredString(value: unknown, path: string, pattern?: RegExp, hint?: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw invalid(`${path} is required and must be a non-empty string, got ${show(value)}`, path);
  }
  if (pattern && !pattern.test(value))
    throw invalid(`${path} ${hint ?? 'is malformed'}, got ${show(value)}`, path);
  return value;
}

function validateRetry(value: unknown, path: string): RetryPolicy {
  if (value === undefined) return DEFAULT_RETRY_POLICY;
  if (!isObject(value)) throw invalid(`${path} must be an object, got ${show(value)}`, path);
  const base = DEFAULT_RETRY_POLICY;
  const backoffIn = value.backoff;
  if (backoffIn !== undefined && !isObject(backoffIn)) {
    throw invalid(`${path}.backoff must be an object, got ${show(backoffIn)}`, `${path}.backoff`);
  }
  const b = backoffIn ?? {};
  const initialMs = integer(b.initialMs, `${path}.backoff.initialMs`, 0, 86_400_000, base.backoff.initialMs);
  const maxMs = integer(
    b.maxMs,
    `${path}.backoff.maxMs`,
    0,
    86_400_000,
    Math.max(initialMs, base.backoff.maxMs),
  );
  if (maxMs < initialMs) {
    throw invalid(
      `${path}.backoff.maxMs (${maxMs}) must not be below initialMs (${initialMs})`,
      `${path}.backoff.maxMs`,
    );
  }
  if (b.jitter !== undefined && typeof b.jitter !== 'boolean') {
    throw invalid(
      `${path}.backoff.jitter must be a boolean, got ${show(b.jitter)}`,
      `${path}.backoff.jitter`,
    );
  }
  return Object.freeze({
    maxAttempts: integer(value.maxAttempts, `${path}.maxAttempts`, 1, 10_000, base.maxAttempts),
    maxAgeSeconds: integer(value.maxAgeSeconds, `${path}.maxAgeSeconds`, 1, 7 * 86_400, base.maxAgeSeconds),
    backoff: Object.freeze({
      kind: oneOf(b.kind, `${path}.backoff.kind`, ['exponential', 'fixed'] as const, base.backoff.kind),
      initialMs,
      maxMs,
      jitter: (b.jitter as boolean | undefined) ?? base.backoff.jitter,
    }),
  });
}

function validateUrl(value: unknown, path: string): string {
  const text = requiredString(value, path);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${path} must be an absolute http(s) URL, got ${show(text)}`, path);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${path} must use http or https, got ${show(url.protocol)}`, path);
  }
  return text;
}

function validateHeaders(value: unknown, path: string): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid(`${path} must be an object of header names to strings`, path);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(value)) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.test(name)) {
      throw invalid(`${path} may not set the header ${show(name)}`, `${path}.${name}`);
    }
    if (typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw invalid(`${path}.${name} must be a single-line string, got ${show(v)}`, `${path}.${name}`);
    }
    out[name] = v;
  }
  return Object.freeze(out);
}

/**
 * The cap of an HTTP target's adaptive concurrency, when given: at least its starting `concurrency` when that was
 * given too. Absent, `concurrency` is the cap (the limit only shrinks under load and grows back to it).
 */
function maxConcurrencyOf(
  value: Record<string, unknown>,
  concurrency: number,
  path: string,
): { maxConcurrency?: number } {
  if (value.maxConcurrency === undefined) return {};
  const max = integer(value.maxConcurrency, `${path}.maxConcurrency`, 1, RULE_LIMITS.maxConcurrency, 0);
  if (value.concurrency !== undefined && max < concurrency) {
    throw invalid(
      `${path}.maxConcurrency (${max}) must be at least ${path}.concurrency (${concurrency})`,
      `${path}.maxConcurrency`,
    );
  }
  return { maxConcurrency: max };
}

/**
 * A target's `format`: `cloudevents` (the default, not stored) or `eventbridge`, which only `http` and `function`
 * targets take (a Kafka topic and another bus carry CloudEvents).
 */
function formatOf(
  value: Record<string, unknown>,
  type: Target['type'],
  path: string,
): { format?: 'eventbridge' } {
  const format = oneOf(
    value.format,
    `${path}.format`,
    ['cloudevents', 'eventbridge'] as const,
    'cloudevents',
  );
  if (format === 'cloudevents') return {};
  if (type !== 'http' && type !== 'function') {
    throw invalid(
      `${path}.format "eventbridge" applies to http and function targets; a ${type} target carries CloudEvents`,
      `${path}.format`,
    );
  }
  return { format };
}

function validateOrdering(value: unknown, path: string): OrderingOption | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid(`${path} must be an object like {"key": "$.data.orderId"}`, path);
  for (const k of Object.keys(value)) {
    if (k !== 'key' && k !== 'onFailure') {
      throw invalid(`${path}.${k} is not an ordering setting (allowed: key, onFailure)`, `${path}.${k}`);
    }
  }
  const key = requiredString(value.key, `${path}.key`);
  if (key.length > 256) throw invalid(`${path}.key is longer than 256 characters`, `${path}.key`);
  if (key !== 'partitionkey') {
    try {
      compileOrderingKey(key);
    } catch (error) {
      throw invalid(
        `${path}.key must be "partitionkey" or a JSON path into the event: ${(error as Error).message}`,
        `${path}.key`,
      );
    }
  }
  const onFailure = oneOf(value.onFailure, `${path}.onFailure`, ['continue', 'hold'] as const, 'continue');
  return Object.freeze({ key, onFailure });
}

/** Validates one target body (the `targets[index]` of a rule body) and returns the frozen target. */
export function validateTarget(value: unknown, index: number): Target {
  const path = `targets[${index}]`;
  if (!isObject(value)) throw invalid(`${path} must be an object, got ${show(value)}`, path);
  const type = oneOf(value.type, `${path}.type`, TARGET_TYPES, 'function');
  if (value.type === undefined)
    throw invalid(`${path}.type is required (one of ${TARGET_TYPES.join(', ')})`, `${path}.type`);
  const input = value.input as TargetInput | undefined;
  const format = formatOf(value, type, path);
  if (input !== undefined) compileInput(input, `${path}.input`, format);
  const inputJsonata = value.inputJsonata;
  if (inputJsonata !== undefined) {
    if (input !== undefined) {
      throw invalid(
        `${path}.inputJsonata cannot be combined with ${path}.input (an input path or transformer): a target's body is shaped one way`,
        `${path}.inputJsonata`,
      );
    }
    compileJsonata(inputJsonata, `${path}.inputJsonata`);
  }
  const ordering = validateOrdering(value.ordering, `${path}.ordering`);
  if (ordering !== undefined && value.batch !== undefined) {
    throw invalid(
      `${path}.ordering cannot be combined with ${path}.batch: ordered deliveries go one at a time per key`,
      `${path}.ordering`,
    );
  }
  const base = {
    id: requiredString(value.id, `${path}.id`, TARGET_ID, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    delivery: oneOf<DeliveryMode>(
      value.delivery,
      `${path}.delivery`,
      ['at-least-once', 'exactly-once'],
      'at-least-once',
    ),
    retry: validateRetry(value.retry, `${path}.retry`),
    concurrency: integer(value.concurrency, `${path}.concurrency`, 1, RULE_LIMITS.maxConcurrency, 16),
    timeoutMs: integer(value.timeoutMs, `${path}.timeoutMs`, 10, 900_000, 10_000),
    ...(input === undefined ? {} : { input: Object.freeze({ ...input }) }),
    ...(typeof inputJsonata === 'string' ? { inputJsonata } : {}),
    ...(ordering === undefined ? {} : { ordering }),
  };
  switch (type) {
    case 'function':
      return Object.freeze({
        ...base,
        type,
        function: requiredString(
          value.function,
          `${path}.function`,
          FUNCTION_NAME,
          'is not a valid function name',
        ),
        ...format,
      });
    case 'http': {
      const headers = validateHeaders(value.headers, `${path}.headers`);
      let batch: { maxSize: number; windowMs: number } | undefined;
      if (value.batch !== undefined) {
        if (!isObject(value.batch)) throw invalid(`${path}.batch must be an object`, `${path}.batch`);
        batch = Object.freeze({
          maxSize: integer(value.batch.maxSize, `${path}.batch.maxSize`, 1, 1000, 100),
          windowMs: integer(value.batch.windowMs, `${path}.batch.windowMs`, 0, 60_000, 100),
        });
      }
      if (value.keepResponseBody !== undefined && typeof value.keepResponseBody !== 'boolean') {
        throw invalid(
          `${path}.keepResponseBody must be a boolean, got ${show(value.keepResponseBody)}`,
          `${path}.keepResponseBody`,
        );
      }
      if (value.reply !== undefined && typeof value.reply !== 'boolean') {
        throw invalid(`${path}.reply must be a boolean, got ${show(value.reply)}`, `${path}.reply`);
      }
      if (format.format !== undefined && (batch !== undefined || value.mode === 'structured')) {
        const field = batch !== undefined ? 'batch' : 'mode';
        throw invalid(
          `${path}.${field} cannot be combined with ${path}.format "eventbridge": the body is one event in EventBridge's shape`,
          `${path}.${field}`,
        );
      }
      if (value.reply === true && batch !== undefined) {
        throw invalid(
          `${path}.reply cannot be combined with ${path}.batch: a reply answers one delivered event`,
          `${path}.reply`,
        );
      }
      return Object.freeze({
        ...base,
        type,
        url: validateUrl(value.url, `${path}.url`),
        ...maxConcurrencyOf(value, base.concurrency, path),
        ...(value.keepResponseBody === true ? { keepResponseBody: true } : {}),
        ...(value.reply === true ? { reply: true } : {}),
        ...format,
        method: oneOf(value.method, `${path}.method`, ['POST', 'PUT'] as const, 'POST'),
        mode: oneOf(value.mode, `${path}.mode`, ['binary', 'structured'] as const, 'binary'),
        ...(headers === undefined ? {} : { headers }),
        ...(batch === undefined ? {} : { batch }),
      });
    }
    case 'kafka': {
      let brokers: readonly string[] | undefined;
      if (value.brokers !== undefined) {
        if (!Array.isArray(value.brokers) || value.brokers.length === 0) {
          throw invalid(`${path}.brokers must be a non-empty array of "host:port"`, `${path}.brokers`);
        }
        brokers = Object.freeze(
          value.brokers.map((b, i) =>
            requiredString(b, `${path}.brokers[${i}]`, /^[^\s:]+:\d{1,5}$/, 'must be "host:port"'),
          ),
        );
      }
      return Object.freeze({
        ...base,
        type,
        topic: requiredString(
          value.topic,
          `${path}.topic`,
          /^[A-Za-z0-9._-]{1,249}$/,
          'is not a valid Kafka topic name',
        ),
        mode: oneOf(value.mode, `${path}.mode`, ['binary', 'structured'] as const, 'structured'),
        ...(brokers === undefined ? {} : { brokers }),
      });
    }
    case 'postgres':
      return validatePostgresTarget(value, base, path);
    case 'bus': {
      if ((value.url === undefined) === (value.bus === undefined)) {
        throw invalid(
          `${path} must name either a bus of this deployment ("bus") or another Junction's URL ("url"), not ${value.url === undefined ? 'neither' : 'both'}`,
          value.url === undefined ? `${path}.bus` : `${path}.url`,
        );
      }
      return Object.freeze({
        ...base,
        type,
        ...(value.bus === undefined
          ? { url: validateUrl(value.url, `${path}.url`) }
          : {
              bus: requiredString(
                value.bus,
                `${path}.bus`,
                BUS_NAME,
                'must be a bus name: 1-64 letters, digits, ".", "_" or "-"',
              ),
            }),
        ...maxConcurrencyOf(value, base.concurrency, path),
      }) as Target;
    }
  }
}

/** A PostgreSQL identifier as written unquoted: letters, digits, `_` and `$`, not starting with a digit. */
const PG_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;
/** Most columns one postgres target writes. */
const MAX_PG_COLUMNS = 64;

function pgIdentifier(value: unknown, path: string): string {
  return requiredString(
    value,
    path,
    PG_IDENTIFIER,
    'must be a PostgreSQL identifier (letters, digits, _ or $; 1-63)',
  );
}

function validatePostgresTarget(
  value: Record<string, unknown>,
  base: Omit<PostgresTarget, 'type' | 'connection' | 'table' | 'columns'>,
  path: string,
): Target {
  for (const field of ['format', 'batch', 'url', 'headers', 'mode', 'method', 'reply']) {
    if (value[field] !== undefined) {
      throw invalid(`${path}.${field} is not a setting of a postgres target`, `${path}.${field}`);
    }
  }
  try {
    parsePostgresConnection(value.connection);
  } catch (error) {
    if (!(error instanceof JunctionError)) throw error;
    throw invalid(`${path}.${error.message}`, `${path}.connection`);
  }
  if (typeof value.table !== 'string')
    throw invalid(`${path}.table is required ("table" or "schema.table")`, `${path}.table`);
  const parts = value.table.split('.');
  if (parts.length > 2) throw invalid(`${path}.table must be "table" or "schema.table"`, `${path}.table`);
  for (const part of parts) pgIdentifier(part, `${path}.table`);
  if (!isObject(value.columns) || Object.keys(value.columns).length === 0) {
    throw invalid(
      `${path}.columns must map column names to JSON paths into the event, e.g. {"id": "$.id"}`,
      `${path}.columns`,
    );
  }
  const entries = Object.entries(value.columns);
  if (entries.length > MAX_PG_COLUMNS) {
    throw invalid(
      `${path}.columns has ${entries.length} columns, more than ${MAX_PG_COLUMNS}`,
      `${path}.columns`,
    );
  }
  const columns: Record<string, string> = {};
  for (const [column, jsonPath] of entries) {
    const field = `${path}.columns.${column}`;
    pgIdentifier(column, field);
    if (typeof jsonPath !== 'string')
      throw invalid(`${field} must be a JSON path string such as "$.data.id"`, field);
    try {
      parseJsonPath(jsonPath);
    } catch (error) {
      throw invalid(`${field}: ${(error as Error).message}`, field);
    }
    columns[column] = jsonPath;
  }
  const key = value.key === undefined ? undefined : pgIdentifier(value.key, `${path}.key`);
  if (key !== undefined && columns[key] !== undefined) {
    throw invalid(`${path}.key names the column ${key}, which columns already fills`, `${path}.key`);
  }
  let upsert: string[] | undefined;
  if (value.upsert !== undefined) {
    if (key !== undefined) {
      throw invalid(
        `${path}.upsert cannot be combined with ${path}.key: the row is found by one unique constraint`,
        `${path}.upsert`,
      );
    }
    if (!Array.isArray(value.upsert) || value.upsert.length === 0 || value.upsert.length > MAX_PG_COLUMNS) {
      throw invalid(`${path}.upsert must list the columns of a unique constraint`, `${path}.upsert`);
    }
    upsert = value.upsert.map((c, i) => {
      const column = pgIdentifier(c, `${path}.upsert[${i}]`);
      if (columns[column] === undefined) {
        throw invalid(
          `${path}.upsert[${i}] names ${column}, which columns does not fill`,
          `${path}.upsert[${i}]`,
        );
      }
      return column;
    });
  }
  return Object.freeze({
    ...base,
    type: 'postgres' as const,
    connection: value.connection as string,
    table: value.table,
    columns: Object.freeze(columns),
    ...(key === undefined ? {} : { key }),
    ...(upsert === undefined ? {} : { upsert: Object.freeze(upsert) }),
  });
}

/** The most bytes of JSON a scheduled event's `data` may have. */
const MAX_SCHEDULE_DATA_BYTES = 64 * 1024;

function validateSchedule(value: unknown): RuleSchedule {
  if (!isObject(value))
    throw invalid('schedule must be an object {"expression", "timezone"?, "event"?}', 'schedule');
  for (const key of Object.keys(value)) {
    if (!['expression', 'timezone', 'event'].includes(key)) {
      throw invalid(
        `schedule.${key} is not a schedule setting (expression, timezone, event)`,
        `schedule.${key}`,
      );
    }
  }
  const timezone = value.timezone ?? 'UTC';
  parseSchedule(value.expression, timezone);
  const event = value.event ?? {};
  if (!isObject(event))
    throw invalid(
      'schedule.event must be an object {"source"?, "type"?, "subject"?, "data"?}',
      'schedule.event',
    );
  for (const key of Object.keys(event)) {
    if (!['source', 'type', 'subject', 'data'].includes(key)) {
      throw invalid(
        `schedule.event.${key} is not settable (source, type, subject, data)`,
        `schedule.event.${key}`,
      );
    }
  }
  for (const key of ['source', 'type', 'subject'] as const) {
    const v = event[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 256)) {
      throw invalid(`schedule.event.${key} must be a string of 1-256 characters`, `schedule.event.${key}`);
    }
  }
  const data = event.data ?? {};
  const text = JSON.stringify(data);
  if (text === undefined || new TextEncoder().encode(text).length > MAX_SCHEDULE_DATA_BYTES) {
    throw invalid(
      `schedule.event.data must be JSON of at most ${MAX_SCHEDULE_DATA_BYTES} bytes`,
      'schedule.event.data',
    );
  }
  return deepFreeze({
    expression: value.expression as string,
    timezone: timezone as string,
    event: {
      source: (event.source as string | undefined) ?? 'aws.events',
      type: (event.type as string | undefined) ?? 'Scheduled Event',
      ...(event.subject === undefined ? {} : { subject: event.subject as string }),
      data: structuredClone(data),
    },
  }) as RuleSchedule;
}

/**
 * Validates a rule body (the JSON of `PUT /rules/{name}`) and returns the frozen rule.
 * Throws `InvalidRule` (or `InvalidPattern` / `InvalidFilter`) with the path of the offending field.
 */
export function validateRule(name: string, body: unknown, now: number, previous?: Rule): Rule {
  if (!NAME.test(name)) {
    throw invalid(`the rule name must be 1-64 letters, digits, ".", "_" or "-", got ${show(name)}`, 'name');
  }
  if (!isObject(body)) throw invalid(`a rule must be a JSON object, got ${show(body)}`, '');
  for (const key of Object.keys(body)) {
    if (!RULE_KEYS.has(key)) throw invalid(`unknown rule field ${show(key)}`, key);
  }
  if (body.name !== undefined && body.name !== name) {
    throw invalid(
      `name in the body (${show(body.name)}) differs from the name in the path (${show(name)})`,
      'name',
    );
  }
  if (
    body.description !== undefined &&
    (typeof body.description !== 'string' || body.description.length > 512)
  ) {
    throw invalid('description must be a string of at most 512 characters', 'description');
  }
  if (body.enabled !== undefined && typeof body.enabled !== 'boolean') {
    throw invalid(`enabled must be a boolean, got ${show(body.enabled)}`, 'enabled');
  }
  const schedule = body.schedule === undefined ? undefined : validateSchedule(body.schedule);
  if (schedule !== undefined && (body.pattern !== undefined || body.filter !== undefined)) {
    throw invalid(
      'a scheduled rule has no pattern or filter: it delivers the events of its schedule (another rule may match them)',
      body.pattern !== undefined ? 'pattern' : 'filter',
    );
  }
  if (body.correlate !== undefined) {
    const other = ['schedule', 'pattern', 'filter', 'aggregate'].find((k) => body[k] !== undefined);
    if (other !== undefined) {
      throw invalid(
        `a correlation rule selects its events with correlate.first and correlate.followedBy: it has no ${other}`,
        other,
      );
    }
  }
  if (
    schedule === undefined &&
    body.correlate === undefined &&
    body.pattern === undefined &&
    body.filter === undefined
  ) {
    throw invalid('a rule needs a pattern, a filter, or both (or a schedule)', 'pattern');
  }
  if (
    body.patternText !== undefined &&
    (typeof body.patternText !== 'string' || body.pattern === undefined)
  ) {
    throw invalid('patternText must be the JSON text of pattern', 'patternText');
  }
  if (body.pattern !== undefined) {
    // The text as written when there is one (a repeated operator is refused there), else the value.
    const written = typeof body.patternText === 'string' ? parsePatternText(body.patternText) : body.pattern;
    validatePattern(written);
    // The pattern as it is indexed (EventBridge's names read as CloudEvents'): refuses two names for one field.
    validatePattern(toCloudEventsPattern(written));
  }
  if (body.filter !== undefined) {
    if (typeof body.filter !== 'string')
      throw invalid(`filter must be a CESQL string, got ${show(body.filter)}`, 'filter');
    compileFilter(body.filter, { path: 'filter' });
  }
  if (schedule !== undefined && body.aggregate !== undefined) {
    throw invalid(
      'a scheduled rule cannot aggregate: aggregate the events it publishes with a rule of their own',
      'aggregate',
    );
  }
  const aggregate = body.aggregate === undefined ? undefined : validateAggregate(body.aggregate, name);
  const correlate = body.correlate === undefined ? undefined : validateCorrelate(body.correlate, name);
  const bodyTargets: unknown =
    (aggregate !== undefined || correlate !== undefined) && body.targets === undefined ? [] : body.targets;
  if (!Array.isArray(bodyTargets)) throw invalid('targets must be an array (it may be empty)', 'targets');
  if (correlate !== undefined && bodyTargets.length > 0) {
    throw invalid(
      'a correlation rule has no targets: route the events it publishes (correlate.emit) with a rule of their own',
      'targets',
    );
  }
  if (aggregate !== undefined && bodyTargets.length > 0) {
    throw invalid(
      'an aggregation rule has no targets: route the events it publishes (aggregate.emit) with a rule of their own',
      'targets',
    );
  }
  if (bodyTargets.length > RULE_LIMITS.maxTargets) {
    throw invalid(
      `a rule has at most ${RULE_LIMITS.maxTargets} targets, got ${bodyTargets.length}`,
      'targets',
    );
  }
  const targets = bodyTargets.map((t, i) => validateTarget(t, i));
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    if (seen.has(t.id)) throw invalid(`target id ${show(t.id)} is used twice`, `targets[${i}].id`);
    seen.add(t.id);
  });
  return Object.freeze({
    name,
    ...(body.description === undefined ? {} : { description: body.description as string }),
    enabled: (body.enabled as boolean | undefined) ?? true,
    ...(body.pattern === undefined ? {} : { pattern: deepFreeze(structuredClone(body.pattern)) }),
    ...(typeof body.patternText === 'string' ? { patternText: body.patternText } : {}),
    ...(body.filter === undefined ? {} : { filter: body.filter as string }),
    ...(schedule === undefined ? {} : { schedule }),
    targets: Object.freeze(targets),
    ...(aggregate === undefined ? {} : { aggregate: deepFreeze(aggregateBody(aggregate)) }),
    ...(correlate === undefined ? {} : { correlate: deepFreeze(structuredClone(correlate)) }),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
