/** API Gateway proxy events (recorded HTTP API 2.0 and REST API 1.0 shapes) to ApiRequest, and results back. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  apiGatewayVersion,
  fromApiGatewayEvent,
  toApiGatewayResult,
} from '../../../lib/adapters/aws/apigateway.ts';
import { repoRoot } from '../../helpers/paths.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('fromApiGatewayEvent', () => {
  it('reads an HTTP API (2.0) event: method, path, lower-case headers, body', () => {
    const request = fromApiGatewayEvent(fixture('apigw-http-v2-ingest'));
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/events');
    assert.equal(request.headers['ce-id'], 'order-1');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(text(request.body), '{"id":"o-1","total":120,"n":1}');
    assert.equal(request.query.size, 0);
  });

  it('reads a REST API (1.0) event: base64 body, multi-value headers, the path without the stage', () => {
    const request = fromApiGatewayEvent(fixture('apigw-rest-v1-ingest'));
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/events');
    assert.equal(request.headers['content-type'], 'application/cloudevents-batch+json');
    const batch = JSON.parse(text(request.body)) as Array<{ id: string }>;
    assert.deepEqual(
      batch.map((e) => e.id),
      ['order-2', 'order-3'],
    );
  });

  it('encodes again the path an HTTP API hands over decoded, so the app can decode each segment', () => {
    const recorded = fixture('apigw-http-v2-put-rule');
    assert.equal(fromApiGatewayEvent(recorded).method, 'PUT');
    assert.equal(fromApiGatewayEvent(recorded).path, '/rules/big-orders');
    const request = fromApiGatewayEvent({ ...recorded, rawPath: '/events/order 1?/trace' });
    assert.equal(request.path, '/events/order%201%3F/trace');
  });

  it('keeps a function URL path as sent and strips a named stage', () => {
    const base = fixture('apigw-http-v2-ingest') as { requestContext: Record<string, unknown> };
    const viaUrl = fromApiGatewayEvent({
      ...base,
      rawPath: '/events/a%2Fb/trace',
      requestContext: { ...base.requestContext, domainName: 'abc.lambda-url.eu-west-1.on.aws' },
    });
    assert.equal(viaUrl.path, '/events/a%2Fb/trace');
    const staged = fromApiGatewayEvent({
      ...base,
      rawPath: '/prod/rules',
      rawQueryString: 'limit=5&rule=a&rule=b',
      requestContext: { ...base.requestContext, stage: 'prod' },
    });
    assert.equal(staged.path, '/rules');
    assert.equal(staged.query.get('limit'), '5');
    assert.deepEqual(staged.query.getAll('rule'), ['a', 'b']);
  });

  it('reads REST query parameters, multi-value first', () => {
    const base = fixture('apigw-rest-v1-ingest');
    const request = fromApiGatewayEvent({
      ...base,
      httpMethod: 'GET',
      path: '/dead-letters',
      queryStringParameters: { rule: 'b' },
      multiValueQueryStringParameters: { rule: ['a', 'b'] },
      body: null,
      isBase64Encoded: false,
    });
    assert.deepEqual(request.query.getAll('rule'), ['a', 'b']);
    assert.equal(request.body.length, 0);
  });

  it('rejects an event of neither payload format', () => {
    assert.throws(() => apiGatewayVersion({ Records: [] }), { code: 'InvalidRequest', field: 'version' });
    assert.throws(() => fromApiGatewayEvent(null), { code: 'InvalidRequest' });
  });
});

describe('toApiGatewayResult', () => {
  it('passes JSON through as text', () => {
    const result = toApiGatewayResult({
      status: 202,
      headers: { 'content-type': 'application/json' },
      body: '{"id":"1"}',
    });
    assert.deepEqual(result, {
      statusCode: 202,
      headers: { 'content-type': 'application/json' },
      body: '{"id":"1"}',
      isBase64Encoded: false,
    });
  });

  it('base64-encodes binary bodies and moves Set-Cookie to cookies in 2.0', () => {
    const result = toApiGatewayResult({
      status: 200,
      headers: { 'content-type': 'application/octet-stream', 'set-cookie': 'a=1' },
      body: new Uint8Array([0, 255, 1]),
    });
    assert.equal(result.isBase64Encoded, true);
    assert.equal(result.body, 'AP8B');
    assert.deepEqual(result.cookies, ['a=1']);
    assert.equal(result.headers['set-cookie'], undefined);
    const v1 = toApiGatewayResult({ status: 200, headers: { 'set-cookie': 'a=1' }, body: '' }, '1.0');
    assert.equal(v1.headers['set-cookie'], 'a=1');
  });
});
