/**
 * The CloudFormation custom resource `Custom::JunctionRule` (the `rule` Lambda behind CDK's provider framework, see
 * `JunctionRule` in lib/infra): deploys a rule through the bus's own management API at deploy time. It invokes the
 * bus's `api` function directly (Lambda Invoke, no API Gateway) with the HTTP API request the API would get:
 * `PUT /rules/{name}` on create and update, `DELETE /rules/{name}` on delete (a rule already gone is no failure).
 * A refusal of the API (400 InvalidRule naming the field, …) fails the deployment with the API's code and message.
 */
import { ERROR_CODES, type ErrorCode, JunctionError } from '../../core/errors.ts';

/** The resource's properties, as CloudFormation passes them (the rule body as JSON text). */
export interface RuleResourceProperties {
  /** The rule's name (`PUT /rules/{name}`). */
  readonly RuleName: string;
  /** The rule body as JSON text: what `PUT /rules/{name}` takes. */
  readonly Rule: string;
}

/** The provider framework's onEvent request (the fields this handler reads). */
export interface RuleResourceEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResourceProperties: RuleResourceProperties & { readonly ServiceToken?: string };
  readonly OldResourceProperties?: RuleResourceProperties;
  readonly PhysicalResourceId?: string;
}

export interface RuleResourceResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** What the api function answers (an API Gateway proxy result). */
export interface ApiAnswer {
  readonly statusCode: number;
  readonly body?: string;
}

/** Invokes the bus's api function with an API Gateway (payload 2.0) event and answers its result. */
export type ApiInvoker = (event: Record<string, unknown>) => Promise<ApiAnswer>;

/** A rule body of a resource is at most this long (the API's own body limit is larger; a template's is 1 MB). */
export const MAX_RULE_TEXT = 256 * 1024;

/** As the rule store's name rule (lib/core/rule.ts): the API refuses anything else with the field. */
const RULE_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function invalid(message: string, field: string): JunctionError {
  return new JunctionError('InvalidRequest', message, { field });
}

/** The HTTP API request (payload format 2.0) the api function gets from API Gateway, built for a direct invoke. */
export function apiEvent(method: string, path: string, body?: string): Record<string, unknown> {
  return {
    version: '2.0',
    routeKey: 'ANY /{proxy+}',
    // HTTP APIs pass the path percent-decoded; the adapter encodes each segment again.
    rawPath: path,
    rawQueryString: '',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    requestContext: {
      stage: '$default',
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'junction-rule-resource',
      },
      routeKey: 'ANY /{proxy+}',
    },
    body: body ?? null,
    isBase64Encoded: false,
  };
}

function ruleNameOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || !RULE_NAME.test(value)) {
    throw invalid(
      `${field} must be 1-64 letters, digits, ".", "_" or "-"; received ${JSON.stringify(value)?.slice(0, 80)}`,
      field,
    );
  }
  return value;
}

function ruleTextOf(value: unknown): string {
  if (typeof value !== 'string') throw invalid('Rule must be the rule body as JSON text', 'Rule');
  if (value.length > MAX_RULE_TEXT) {
    throw invalid(`Rule must be at most ${MAX_RULE_TEXT} characters, got ${value.length}`, 'Rule');
  }
  try {
    JSON.parse(value);
  } catch {
    throw invalid('Rule must be JSON text', 'Rule');
  }
  return value;
}

/** The API's error as a JunctionError (its code, message and field), or a generic one for a non-JSON answer. */
function refused(what: string, answer: ApiAnswer): JunctionError {
  let error: { code?: unknown; message?: unknown; field?: unknown } | undefined;
  try {
    error = (JSON.parse(answer.body ?? '') as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  const code = ERROR_CODES.find((c) => c === error?.code) ?? ('Internal' satisfies ErrorCode);
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${answer.statusCode}`;
  return new JunctionError(
    code,
    `${what}: ${answer.statusCode} ${message}`.slice(0, 2000),
    typeof error?.field === 'string' ? { field: error.field } : {},
  );
}

/**
 * The onEvent handler. The physical id is the rule's name: renaming makes CloudFormation create the new rule, then
 * delete the old one (the rule the old physical id names).
 */
export function createRuleResourceHandler(
  invoke: ApiInvoker,
): (event: RuleResourceEvent) => Promise<RuleResourceResponse> {
  return async (event) => {
    const type = event.RequestType;
    if (type === 'Delete') {
      // A create that failed before it named a rule leaves CloudFormation's own request id as the physical id.
      const physical = event.PhysicalResourceId;
      if (physical === undefined || !RULE_NAME.test(physical)) return { PhysicalResourceId: physical ?? '' };
      const path = `/rules/${physical}`;
      const answer = await invoke(apiEvent('DELETE', path));
      if (answer.statusCode !== 204 && answer.statusCode !== 200 && answer.statusCode !== 404) {
        throw refused(`DELETE ${path}`, answer);
      }
      return { PhysicalResourceId: physical };
    }
    if (type !== 'Create' && type !== 'Update') {
      throw invalid(
        `RequestType must be Create, Update or Delete; received ${JSON.stringify(type)?.slice(0, 40)}`,
        'RequestType',
      );
    }
    const properties = event.ResourceProperties ?? ({} as RuleResourceProperties);
    const name = ruleNameOf(properties.RuleName, 'RuleName');
    const body = ruleTextOf(properties.Rule);
    const path = `/rules/${name}`;
    const answer = await invoke(apiEvent('PUT', path, body));
    if (answer.statusCode !== 200 && answer.statusCode !== 201) throw refused(`PUT ${path}`, answer);
    return {
      PhysicalResourceId: name,
      Data: { RuleName: name, Created: answer.statusCode === 201 ? 'true' : 'false' },
    };
  };
}

/** The api function to invoke (`JUNCTION_API_FUNCTION`: its name or ARN), from the environment. */
export function apiFunctionFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  const name = env.JUNCTION_API_FUNCTION?.trim() ?? '';
  if (name === '') {
    throw invalid(
      'JUNCTION_API_FUNCTION must name the bus api function (name or ARN)',
      'JUNCTION_API_FUNCTION',
    );
  }
  return name;
}
