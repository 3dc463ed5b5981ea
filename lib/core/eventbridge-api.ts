/**
 * The pure half of the EventBridge management API (docs/eventbridge.md): ARNs, the mapping between EventBridge's
 * rules and targets and Junction's, request parameters and paging. Errors carry the AWS exception name.
 * @see https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Operations.html
 */

import { parsePostgresConnection } from './connector.ts';
import { JunctionError } from './errors.ts';
import type { PostgresTarget, Rule, Target } from './rule-types.ts';
import { parseSchedule } from './schedule.ts';
import { isObject, show } from './values.ts';

/** Where the ARNs the bus answers point: AWS's partition, a region and an account id (none of them checked). */
export interface ArnContext {
  /** @default 'us-east-1' */
  readonly region: string;
  /** @default '000000000000' */
  readonly account: string;
}

export const DEFAULT_ARN_CONTEXT: ArnContext = Object.freeze({
  region: 'us-east-1',
  account: '000000000000',
});

/** The one bus of a process, and the name of its one (implicit) archive: the retained log. */
export const DEFAULT_BUS_NAME = 'default';
export const LOG_ARCHIVE_NAME = 'default';

/** Most targets one PutTargets/RemoveTargets call may carry, as EventBridge allows. */
export const MAX_TARGETS_PER_CALL = 10;
/** Largest `Limit` of a List call. */
export const MAX_LIST_LIMIT = 100;

const NAME = /^[.\-_A-Za-z0-9]{1,64}$/;
const FUNCTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** An error in AWS's shape: `awsCode` is the exception name the answer's `__type` carries. */
export function awsError(awsCode: string, message: string, field?: string): JunctionError {
  return new JunctionError(awsCode === 'ResourceNotFoundException' ? 'NotFound' : 'InvalidRequest', message, {
    ...(field === undefined ? {} : { field }),
    details: { awsErrorCode: awsCode },
  });
}

/** The AWS exception name of an error: its own, or the one of its Junction code. */
export function awsCodeOf(error: JunctionError): string {
  const own = error.details?.awsErrorCode;
  if (typeof own === 'string') return own;
  switch (error.code) {
    case 'InvalidPattern':
      return 'InvalidEventPatternException';
    case 'NotFound':
      return 'ResourceNotFoundException';
    case 'ReplayExists':
    case 'Conflict':
      return 'ResourceAlreadyExistsException';
    case 'RateLimited':
      return 'ThrottlingException';
    case 'Forbidden':
    case 'Unauthorized':
      return 'AccessDeniedException';
    case 'InvalidJson':
      return 'SerializationException';
    default:
      return error.status >= 500 ? 'InternalException' : 'ValidationException';
  }
}

function validation(message: string, field: string): JunctionError {
  return awsError('ValidationException', message, field);
}

/** The request body as an object, or a ValidationException. */
export function params(body: unknown, operation: string): Record<string, unknown> {
  if (!isObject(body))
    throw validation(`a ${operation} request must be a JSON object, got ${show(body)}`, '');
  return body;
}

export function requiredName(p: Record<string, unknown>, field: string): string {
  const value = p[field];
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw validation(
      `${field} is required: 1-64 letters, digits, ".", "_" or "-", got ${show(value)}`,
      field,
    );
  }
  return value;
}

export function optionalString(p: Record<string, unknown>, field: string, max = 2048): string | undefined {
  const value = p[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw validation(`${field} must be a string of at most ${max} characters, got ${show(value)}`, field);
  }
  return value;
}

export function optionalBoolean(p: Record<string, unknown>, field: string): boolean {
  const value = p[field];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw validation(`${field} must be a boolean, got ${show(value)}`, field);
  return value;
}

/** `Limit` of a List call: 1..100, `MAX_LIST_LIMIT` when absent. */
export function listLimit(p: Record<string, unknown>): number {
  const value = p.Limit;
  if (value === undefined || value === null) return MAX_LIST_LIMIT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIST_LIMIT) {
    throw validation(`Limit must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${show(value)}`, 'Limit');
  }
  return value;
}

/** A page of a list sorted by `key` (ASCII names), after the key in `NextToken`; the token is the last key in base64. */
export function page<T>(
  items: readonly T[],
  key: (item: T) => string,
  p: Record<string, unknown>,
): { items: T[]; nextToken?: string } {
  const limit = listLimit(p);
  const token = optionalString(p, 'NextToken');
  let after: string | undefined;
  if (token !== undefined) {
    try {
      after = atob(token);
    } catch {
      after = undefined;
    }
    if (after === undefined || after === '' || btoa(after) !== token) {
      throw validation('NextToken is not a token this bus answered', 'NextToken');
    }
  }
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const rest = after === undefined ? sorted : sorted.filter((item) => key(item) > (after as string));
  const items_ = rest.slice(0, limit);
  const last = items_[items_.length - 1];
  return rest.length > limit && last !== undefined
    ? { items: items_, nextToken: btoa(key(last)) }
    : { items: items_ };
}

/** An ARN split into its six parts (the resource keeps any further colons). */
export interface Arn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(text: string): Arn | undefined {
  const parts = text.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition, service, region, account] = parts as [string, string, string, string, string];
  const resource = parts.slice(5).join(':');
  if (partition === '' || service === '' || resource === '') return undefined;
  return { partition, service, region, account, resource };
}

export function busArn(ctx: ArnContext, name = DEFAULT_BUS_NAME): string {
  return `arn:aws:events:${ctx.region}:${ctx.account}:event-bus/${name}`;
}

/** A rule's ARN: `rule/<name>` on the default bus, `rule/<bus>/<name>` on a named bus (as EventBridge's). */
export function ruleArn(ctx: ArnContext, name: string, bus = DEFAULT_BUS_NAME): string {
  const path = bus === DEFAULT_BUS_NAME ? name : `${bus}/${name}`;
  return `arn:aws:events:${ctx.region}:${ctx.account}:rule/${path}`;
}

export function archiveArn(ctx: ArnContext, name = LOG_ARCHIVE_NAME): string {
  return `arn:aws:events:${ctx.region}:${ctx.account}:archive/${name}`;
}

export function replayArn(ctx: ArnContext, name: string): string {
  return `arn:aws:events:${ctx.region}:${ctx.account}:replay/${name}`;
}

/** The resource name of an `arn:aws:events:…:<kind>/<name>` ARN, or undefined when it is not one. */
function eventsResource(text: string, kind: string): string | undefined {
  const arn = parseArn(text);
  if (arn === undefined || arn.service !== 'events' || !arn.resource.startsWith(`${kind}/`)) return undefined;
  return arn.resource.slice(kind.length + 1);
}

/**
 * Checks `EventBusName` (a name or an event-bus ARN) names `bus`, the bus the call reached (the buses app routes each
 * call to the bus it names). Any region and account are accepted in an ARN: the bus does not know which it stands for.
 */
export function checkBus(p: Record<string, unknown>, field = 'EventBusName', bus = DEFAULT_BUS_NAME): void {
  const value = p[field];
  if (value === undefined || value === null) return;
  if (typeof value !== 'string') throw validation(`${field} must be a string, got ${show(value)}`, field);
  const name = value.startsWith('arn:') ? eventsResource(value, 'event-bus') : value;
  if (name !== bus) {
    throw awsError('ResourceNotFoundException', `Event bus ${value} does not exist.`, field);
  }
}

/**
 * The name of a rule of `bus` from its ARN (`…:rule/<bus>/<name>`; on the default bus also `…:rule/<name>`), or
 * undefined when the ARN is not a rule ARN of that bus.
 */
export function ruleNameOfArn(text: string, bus = DEFAULT_BUS_NAME): string | undefined {
  const rest = eventsResource(text, 'rule');
  if (rest === undefined) return undefined;
  const parts = rest.split('/');
  if (parts.length === 1) return bus === DEFAULT_BUS_NAME ? parts[0] : undefined;
  return parts.length === 2 && parts[0] === bus ? parts[1] : undefined;
}

/** The archive name of an archive ARN, or undefined. */
export function archiveNameOfArn(text: string): string | undefined {
  return eventsResource(text, 'archive');
}

/** Whether the text names the default bus (by name or ARN). */
export function isDefaultBus(text: string): boolean {
  return text === DEFAULT_BUS_NAME || eventsResource(text, 'event-bus') === DEFAULT_BUS_NAME;
}

/** The EventBridge view of a rule (DescribeRule; ListRules without `CreatedBy`). */
export interface EventBridgeRule {
  Name: string;
  Arn: string;
  EventPattern?: string;
  ScheduleExpression?: string;
  State: 'ENABLED' | 'DISABLED';
  Description?: string;
  EventBusName: string;
}

/** The EventBridge view of a rule of the bus `bus`. */
export function describeRule(rule: Rule, ctx: ArnContext, bus = DEFAULT_BUS_NAME): EventBridgeRule {
  return {
    Name: rule.name,
    Arn: ruleArn(ctx, rule.name, bus),
    ...(rule.pattern === undefined ? {} : { EventPattern: rule.patternText ?? JSON.stringify(rule.pattern) }),
    ...(rule.schedule === undefined ? {} : { ScheduleExpression: rule.schedule.expression }),
    State: rule.enabled ? 'ENABLED' : 'DISABLED',
    ...(rule.description === undefined ? {} : { Description: rule.description }),
    EventBusName: bus,
  };
}

/**
 * The Junction rule body of a PutRule on top of the stored rule (`previous`): pattern, description and state
 * replace the stored ones; targets (and a CESQL filter) are kept. `State` absent keeps the stored state (enabled
 * for a new rule).
 */
export function ruleBodyOfPutRule(
  p: Record<string, unknown>,
  previous: Rule | undefined,
): Record<string, unknown> {
  const state = p.State;
  if (state !== undefined && state !== null && state !== 'ENABLED' && state !== 'DISABLED') {
    throw validation(`State must be ENABLED or DISABLED, got ${show(state)}`, 'State');
  }
  const enabled = state === undefined || state === null ? (previous?.enabled ?? true) : state === 'ENABLED';
  if (p.ScheduleExpression !== undefined && p.ScheduleExpression !== null && p.ScheduleExpression !== '') {
    if (p.EventPattern !== undefined && p.EventPattern !== null && p.EventPattern !== '') {
      throw validation(
        'give EventPattern or ScheduleExpression, not both: a scheduled rule delivers the events of its schedule',
        'ScheduleExpression',
      );
    }
    if (typeof p.ScheduleExpression !== 'string') {
      throw validation(
        `ScheduleExpression must be a string, got ${show(p.ScheduleExpression)}`,
        'ScheduleExpression',
      );
    }
    try {
      parseSchedule(p.ScheduleExpression, 'UTC', 'ScheduleExpression');
    } catch (error) {
      throw validation((error as Error).message, 'ScheduleExpression');
    }
    const description = optionalString(p, 'Description', 512);
    return {
      // EventBridge's scheduled rules are in UTC; the event is its "Scheduled Event" from "aws.events".
      schedule: { expression: p.ScheduleExpression },
      ...(description === undefined ? {} : { description }),
      enabled,
      targets: previous?.targets ?? [],
    };
  }
  const text = p.EventPattern;
  if (text === undefined || text === null || text === '') {
    throw validation('Parameter(s) EventPattern or ScheduleExpression must be specified.', 'EventPattern');
  }
  if (typeof text !== 'string') {
    throw awsError(
      'InvalidEventPatternException',
      `EventPattern must be JSON text, got ${show(text)}`,
      'EventPattern',
    );
  }
  let pattern: unknown;
  try {
    pattern = JSON.parse(text);
  } catch (error) {
    throw awsError(
      'InvalidEventPatternException',
      `EventPattern is not valid JSON: ${(error as Error).message}`,
      'EventPattern',
    );
  }
  const description = optionalString(p, 'Description', 512);
  return {
    pattern,
    // The text as sent: matching reads number lexemes and repeated keys from it, and DescribeRule answers it.
    patternText: text,
    ...(description === undefined ? {} : { description }),
    ...(previous?.filter === undefined ? {} : { filter: previous.filter }),
    enabled,
    targets: previous?.targets ?? [],
  };
}

/** An EventBridge target as ListTargetsByRule answers it. */
export interface EventBridgeTarget {
  Id: string;
  Arn: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  RetryPolicy?: { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
  HttpParameters?: { HeaderParameters: Record<string, string> };
}

/**
 * The ARN a Junction target answers as (docs/eventbridge.md, "Target ARNs"): a function that takes the event in
 * EventBridge's shape as a Lambda ARN (as it was most likely given), an HTTP endpoint that does as
 * `arn:junction:http-eventbridge:::<url>`, a bus of this deployment as its event-bus ARN.
 */
export function targetArn(target: Target, ctx: ArnContext = DEFAULT_ARN_CONTEXT): string {
  switch (target.type) {
    case 'function':
      return target.format === 'eventbridge'
        ? `arn:aws:lambda:${ctx.region}:${ctx.account}:function:${target.function}`
        : `arn:junction:function:::${target.function}`;
    case 'http':
      return target.format === 'eventbridge'
        ? `arn:junction:http-eventbridge:::${target.url}`
        : `arn:junction:http:::${target.url}`;
    case 'kafka':
      return `arn:junction:kafka:::${target.topic}`;
    case 'bus':
      return target.bus === undefined ? `arn:junction:bus:::${target.url}` : busArn(ctx, target.bus);
    case 'postgres':
      return `arn:junction:postgres:::${postgresPlace(target)}`;
  }
}

/** Where a postgres target writes, without its credentials: `host:port/database/table`. */
function postgresPlace(target: PostgresTarget): string {
  const { host, port, database } = parsePostgresConnection(target.connection);
  return `${host.includes(':') ? `[${host}]` : host}:${port}/${database}/${target.table}`;
}

/** Whether two targets deliver to the same place (whatever the shape they deliver in). */
export function sameDestination(a: Target, b: Target): boolean {
  switch (a.type) {
    case 'function':
      return b.type === 'function' && a.function === b.function;
    case 'kafka':
      return b.type === 'kafka' && a.topic === b.topic && a.brokers?.join() === b.brokers?.join();
    case 'bus':
      return b.type === 'bus' && a.bus === b.bus && a.url === b.url;
    case 'postgres':
      return b.type === 'postgres' && postgresPlace(a) === postgresPlace(b);
    default:
      return b.type === a.type && a.url === (b as typeof a).url;
  }
}

export function describeTarget(target: Target, ctx: ArnContext = DEFAULT_ARN_CONTEXT): EventBridgeTarget {
  const out: EventBridgeTarget = { Id: target.id, Arn: targetArn(target, ctx) };
  const input = target.input;
  if (input?.path !== undefined) out.InputPath = input.path;
  else if (input?.template !== undefined && input.paths === undefined) out.Input = input.template;
  else if (input?.template !== undefined) {
    out.InputTransformer = { InputPathsMap: { ...input.paths }, InputTemplate: input.template };
  }
  out.RetryPolicy = {
    MaximumRetryAttempts: target.retry.maxAttempts - 1,
    MaximumEventAgeInSeconds: target.retry.maxAgeSeconds,
  };
  if (target.type === 'http' && target.headers !== undefined) {
    out.HttpParameters = { HeaderParameters: { ...target.headers } };
  }
  return out;
}

/** EventBridge target parameters Junction has no counterpart for: refused, naming the field. */
const UNSUPPORTED_TARGET_FIELDS = [
  'DeadLetterConfig',
  'KinesisParameters',
  'RunCommandParameters',
  'EcsParameters',
  'BatchParameters',
  'SqsParameters',
  'RedshiftDataParameters',
  'SageMakerPipelineParameters',
  'AppSyncParameters',
];
const KNOWN_TARGET_FIELDS = new Set([
  'Id',
  'Arn',
  'RoleArn',
  'Input',
  'InputPath',
  'InputTransformer',
  'RetryPolicy',
  'HttpParameters',
  ...UNSUPPORTED_TARGET_FIELDS,
]);

/** The Junction target body (before `validateTarget`) an ARN stands for, on a rule of the bus `bus`. */
function destination(arnText: string, field: string, bus: string): Record<string, unknown> {
  const arn = parseArn(arnText);
  if (arn === undefined) throw validation(`${field} is not in correct format: ${show(arnText)}`, field);
  const unsupported = (what: string) =>
    validation(
      `${field}: ${what} are not supported targets; Junction delivers to functions (arn:junction:function:::<name>, or a Lambda ARN for the event in EventBridge's shape), HTTP endpoints (arn:junction:http:::<url>, or arn:junction:http-eventbridge:::<url> for the event in EventBridge's shape), Kafka topics (arn:junction:kafka:::<topic>), the other buses of this deployment (their event-bus ARNs) and other Junctions' buses (arn:junction:bus:::<url>)`,
      field,
    );
  if (arn.partition === 'junction') {
    switch (arn.service) {
      case 'function':
        if (!FUNCTION_NAME.test(arn.resource)) {
          throw validation(`${field} names an invalid function name ${show(arn.resource)}`, field);
        }
        return { type: 'function', function: arn.resource };
      case 'http':
        return { type: 'http', url: arn.resource, mode: 'binary' };
      case 'http-eventbridge':
        return { type: 'http', url: arn.resource, format: 'eventbridge' };
      case 'kafka':
        return { type: 'kafka', topic: arn.resource };
      case 'bus':
        return { type: 'bus', url: arn.resource };
      default:
        throw validation(
          `${field}: unknown Junction target kind ${show(arn.service)} (function, http, http-eventbridge, kafka or bus)`,
          field,
        );
    }
  }
  if (!/^aws(-[a-z-]+)?$/.test(arn.partition)) {
    throw validation(`${field} has an unknown partition ${show(arn.partition)}`, field);
  }
  if (arn.service === 'lambda') {
    const m = /^function:([^:]+)(?::(.+))?$/.exec(arn.resource);
    if (m === null) throw validation(`${field} is not a Lambda function ARN: ${show(arnText)}`, field);
    const [, name, qualifier] = m as unknown as [string, string, string | undefined];
    if (qualifier !== undefined && qualifier !== '$LATEST') {
      throw validation(
        `${field}: Junction functions have no versions or aliases; drop the qualifier ${show(qualifier)}`,
        field,
      );
    }
    if (!FUNCTION_NAME.test(name))
      throw validation(`${field} names an invalid function name ${show(name)}`, field);
    // A Lambda ARN stands for a function written for EventBridge: it gets the event in EventBridge's shape.
    return { type: 'function', function: name, format: 'eventbridge' };
  }
  if (arn.service === 'events') {
    if (arn.resource.startsWith('event-bus/')) {
      const name = arn.resource.slice('event-bus/'.length);
      if (name === bus) {
        throw validation(
          `${field}: a rule of the bus ${bus} cannot target the bus ${bus} itself (it would loop)`,
          field,
        );
      }
      // Another bus of this deployment (the cross-bus pattern): the event is published there (any region and
      // account: the deployment's buses are all in one). Whether it exists is checked with the target.
      return { type: 'bus', bus: name };
    }
    if (arn.resource.startsWith('api-destination/')) {
      throw validation(
        `${field}: API destinations are not supported; target the endpoint with arn:junction:http:::<url>`,
        field,
      );
    }
  }
  throw unsupported(`${arn.service} resources`);
}

/**
 * Maps one EventBridge target (`Targets[index]` of PutTargets) to a Junction target body for `validateTarget`.
 * `previous` (the stored target with the same Id) keeps Junction-only settings (delivery, concurrency, timeout,
 * mode) when the destination kind is unchanged.
 */
export function targetBodyOf(
  value: unknown,
  index: number,
  previous?: Target,
  bus = DEFAULT_BUS_NAME,
): Record<string, unknown> {
  const at = `Targets[${index}]`;
  if (!isObject(value)) throw validation(`${at} must be an object, got ${show(value)}`, at);
  for (const key of Object.keys(value)) {
    if (!KNOWN_TARGET_FIELDS.has(key))
      throw validation(`${at}.${key} is not a target parameter`, `${at}.${key}`);
  }
  for (const key of UNSUPPORTED_TARGET_FIELDS) {
    if (value[key] !== undefined && value[key] !== null) {
      throw validation(
        key === 'DeadLetterConfig'
          ? `${at}.DeadLetterConfig is not supported: Junction keeps dead letters itself (GET /dead-letters)`
          : `${at}.${key} is not supported by Junction`,
        `${at}.${key}`,
      );
    }
  }
  const id = value.Id;
  if (typeof id !== 'string' || !NAME.test(id)) {
    throw validation(
      `${at}.Id is required: 1-64 letters, digits, ".", "_" or "-", got ${show(id)}`,
      `${at}.Id`,
    );
  }
  if (typeof value.Arn !== 'string' || value.Arn === '') {
    throw validation(`${at}.Arn is required, got ${show(value.Arn)}`, `${at}.Arn`);
  }
  const body: Record<string, unknown> = { ...destination(value.Arn, `${at}.Arn`, bus), id };
  if (previous !== undefined && previous.type === body.type) {
    body.delivery = previous.delivery;
    body.concurrency = previous.concurrency;
    body.timeoutMs = previous.timeoutMs;
    // An EventBridge-shaped HTTP body has no binding mode to keep.
    if ('mode' in previous && body.format === undefined) body.mode = previous.mode;
  }
  const inputs = ['Input', 'InputPath', 'InputTransformer'].filter(
    (k) => value[k] !== undefined && value[k] !== null,
  );
  if (inputs.length > 1) {
    throw validation(
      `${at}: give at most one of Input, InputPath and InputTransformer`,
      `${at}.${inputs[1]}`,
    );
  }
  if (value.Input !== undefined && value.Input !== null) {
    if (typeof value.Input !== 'string') throw validation(`${at}.Input must be JSON text`, `${at}.Input`);
    try {
      JSON.parse(value.Input);
    } catch {
      throw validation(`${at}.Input must be valid JSON text, got ${show(value.Input)}`, `${at}.Input`);
    }
    body.input = { template: value.Input };
  }
  if (value.InputPath !== undefined && value.InputPath !== null) {
    if (typeof value.InputPath !== 'string') {
      throw validation(`${at}.InputPath must be a JSONPath string`, `${at}.InputPath`);
    }
    body.input = { path: value.InputPath };
  }
  const transformer = value.InputTransformer;
  if (transformer !== undefined && transformer !== null) {
    if (!isObject(transformer) || typeof transformer.InputTemplate !== 'string') {
      throw validation(`${at}.InputTransformer needs InputTemplate`, `${at}.InputTransformer.InputTemplate`);
    }
    const map = transformer.InputPathsMap ?? {};
    if (!isObject(map) || !Object.values(map).every((v) => typeof v === 'string')) {
      throw validation(
        `${at}.InputTransformer.InputPathsMap must map names to JSONPath strings`,
        `${at}.InputTransformer.InputPathsMap`,
      );
    }
    body.input = { paths: map, template: transformer.InputTemplate };
  }
  const retry = value.RetryPolicy;
  if (retry !== undefined && retry !== null) {
    if (!isObject(retry)) throw validation(`${at}.RetryPolicy must be an object`, `${at}.RetryPolicy`);
    const attempts = retry.MaximumRetryAttempts;
    const age = retry.MaximumEventAgeInSeconds;
    if (
      attempts !== undefined &&
      (!Number.isInteger(attempts) || (attempts as number) < 0 || (attempts as number) > 185)
    ) {
      throw validation(
        `${at}.RetryPolicy.MaximumRetryAttempts must be an integer from 0 to 185, got ${show(attempts)}`,
        `${at}.RetryPolicy.MaximumRetryAttempts`,
      );
    }
    if (age !== undefined && (!Number.isInteger(age) || (age as number) < 60 || (age as number) > 86_400)) {
      throw validation(
        `${at}.RetryPolicy.MaximumEventAgeInSeconds must be an integer from 60 to 86400, got ${show(age)}`,
        `${at}.RetryPolicy.MaximumEventAgeInSeconds`,
      );
    }
    body.retry = {
      ...(attempts === undefined ? {} : { maxAttempts: (attempts as number) + 1 }),
      ...(age === undefined ? {} : { maxAgeSeconds: age }),
    };
  }
  const http = value.HttpParameters;
  if (http !== undefined && http !== null) {
    if (body.type !== 'http') {
      throw validation(`${at}.HttpParameters applies to HTTP targets only`, `${at}.HttpParameters`);
    }
    if (!isObject(http)) throw validation(`${at}.HttpParameters must be an object`, `${at}.HttpParameters`);
    for (const key of Object.keys(http)) {
      if (key !== 'HeaderParameters') {
        throw validation(
          `${at}.HttpParameters.${key} is not supported (only HeaderParameters; put query strings in the URL)`,
          `${at}.HttpParameters.${key}`,
        );
      }
    }
    if (http.HeaderParameters !== undefined) body.headers = http.HeaderParameters;
  }
  return body;
}

/** Renames a Junction validation path (`targets[0].url`) to the EventBridge parameter it came from. */
export function targetField(index: number, junctionPath: string | undefined): string {
  const at = `Targets[${index}]`;
  const rest = (junctionPath ?? '').replace(/^targets\[\d+\]\.?/, '');
  if (rest === '') return at;
  if (/^(function|url|bus|topic|type|brokers|mode|method)\b/.test(rest)) return `${at}.Arn`;
  if (rest.startsWith('input')) return `${at}.Input`;
  if (rest.startsWith('retry')) return `${at}.RetryPolicy`;
  if (rest.startsWith('headers')) return `${at}.HttpParameters.HeaderParameters`;
  return `${at}.${rest}`;
}

/** A replay's state in EventBridge's words. */
export function replayState(state: string): 'RUNNING' | 'COMPLETED' | 'FAILED' {
  return state === 'running' ? 'RUNNING' : state === 'completed' ? 'COMPLETED' : 'FAILED';
}

/** JSON 1.1 timestamps: epoch seconds (with a fraction), as the SDKs send and read them. */
export function epochSeconds(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && Math.abs(value) < 8.64e12) return value;
  if (typeof value === 'string') {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return t / 1000;
  }
  throw validation(`${field} is required: a timestamp (epoch seconds), got ${show(value)}`, field);
}

export function toEpochSeconds(rfc3339: string | undefined): number | undefined {
  if (rfc3339 === undefined) return undefined;
  const t = Date.parse(rfc3339);
  return Number.isNaN(t) ? undefined : t / 1000;
}

/** A bus name from `EventBusName` or an event-bus ARN (any region and account), or undefined for neither. */
export function busNameOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return value.startsWith('arn:') ? eventsResource(value, 'event-bus') : value;
}

/** Most strings `busesNamedIn` looks at: a PutEvents of 10 entries has a few dozen, a PutTargets of 10 a few hundred. */
const MAX_SCANNED = 10_000;

/**
 * Every bus an EventBridge API body names, wherever it names it: `EventBusName` members (PutEvents entries too),
 * `Name` of the event-bus operations, `ArchiveName` of the archive operations and archive ARNs (a bus's one archive
 * is named as the bus), and event-bus and rule ARNs (`rule/<bus>/<name>`) in any string. What the
 * auth layer checks the caller against, so that no parameter reaches a bus the credential does not cover. A body
 * past `MAX_SCANNED` strings answers undefined (refuse it). One exception: the event-bus ARN a PutTargets target
 * forwards to (`Targets[i].Arn`) is not counted — forwarding neither reads nor changes that bus, and the call itself
 * checks it as `PUT /rules` does (the caller may publish there, or that bus's `acceptFrom` lists the rule's bus).
 */
export function busesNamedIn(operation: string, body: unknown): Set<string> | undefined {
  const found = new Set<string>();
  let seen = 0;
  const busOperation = /^(Create|Delete|Describe|Update)EventBus$/.test(operation);
  const archiveOperation = /^(Create|Delete|Describe|Update)Archive$/.test(operation);
  /** Where the value is: PutTargets' `Targets` array, one of its targets, or a member of one. */
  type Where = 'targets' | 'target' | 'member' | undefined;
  const visit = (value: unknown, key: string | undefined, depth: number, where?: Where): boolean => {
    if (++seen > MAX_SCANNED || depth > 32) return false;
    if (typeof value === 'string') {
      if (where === 'member' && key === 'Arn' && eventsResource(value, 'event-bus') !== undefined) {
        return true; // a target's destination: PutTargets checks it itself
      }
      // A bus's one archive is named as the bus: an archive's name or ARN names its bus.
      if (archiveOperation && depth === 1 && key === 'ArchiveName' && value !== '') found.add(value);
      if (key === 'EventBusName' || (busOperation && depth === 1 && key === 'Name')) {
        const name = busNameOf(value);
        if (name !== undefined) found.add(name);
        else found.add(value);
      }
      if (value.startsWith('arn:')) {
        const bus = eventsResource(value, 'event-bus');
        if (bus !== undefined) found.add(bus);
        const archive = eventsResource(value, 'archive');
        if (archive !== undefined && archive !== '') found.add(archive);
        const rule = eventsResource(value, 'rule');
        if (rule?.includes('/')) found.add(rule.slice(0, rule.indexOf('/')));
      }
      return true;
    }
    if (Array.isArray(value)) {
      return value.every((item) =>
        visit(item, undefined, depth + 1, where === 'targets' ? 'target' : undefined),
      );
    }
    if (typeof value === 'object' && value !== null) {
      return Object.entries(value).every(([k, v]) =>
        visit(
          v,
          k,
          depth + 1,
          where === 'target'
            ? 'member'
            : depth === 0 && k === 'Targets' && operation === 'PutTargets'
              ? 'targets'
              : undefined,
        ),
      );
    }
    return true;
  };
  return visit(body, undefined, 0) ? found : undefined;
}

/**
 * The buses an EventBridge API request reaches (`X-Amz-Target` operation, raw body text), and its parsed body when a
 * bus other than the default may be named. One function for the auth layer (which checks the caller on each of
 * them) and the buses app (which routes by them), so that the two cannot disagree. A body that names no bus (none
 * of `EventBusName`, `"Name"`, `"ArchiveName"`, an ARN or an escape in its text: a key cannot be spelled without its
 * letters or an escape)
 * reaches the default bus and is not parsed here. `buses` is undefined for a body too large to scan (refuse it).
 * `parse` parses the text (the server passes one that parses each request's body once for all its layers).
 */
export function amzBuses(
  operation: string,
  text: string,
  parse: (text: string) => unknown = JSON.parse,
): { buses: Set<string> | undefined; body?: unknown } {
  if (
    operation === 'TestEventPattern' ||
    !/EventBusName|"Name"|"ArchiveName"|\\|event-bus|:rule\/|:archive\//.test(text)
  ) {
    return { buses: new Set([DEFAULT_BUS_NAME]) };
  }
  let body: unknown;
  try {
    body = parse(text);
  } catch {
    return { buses: new Set([DEFAULT_BUS_NAME]) }; // the default bus answers the JSON error
  }
  const buses = busesNamedIn(operation, body);
  if (buses !== undefined && buses.size === 0) buses.add(DEFAULT_BUS_NAME);
  return { buses, body };
}
