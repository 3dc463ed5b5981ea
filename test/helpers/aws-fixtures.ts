/** The recorded AWS events in test/fixtures/aws, and API Gateway (HTTP API v2) requests made from the recorded one. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.ts';

/** A recorded event, `test/fixtures/aws/<name>.json`. */
export const awsFixture = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;

/** The recorded API Gateway request with another method, path, body (JSON unless a string) and query string. */
export function apiGatewayRequest(method: string, rawPath: string, body?: unknown, rawQueryString = '') {
  const base = awsFixture('apigw-http-v2-put-rule') as { requestContext: { http: Record<string, unknown> } };
  return {
    ...base,
    rawPath,
    rawQueryString,
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { ...base.requestContext, http: { ...base.requestContext.http, method, path: rawPath } },
  };
}
