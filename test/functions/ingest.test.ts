/** The `ingest` handler with recorded API Gateway events: CloudEvents in, appended to the log, answers per CONTRACT.md. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEmfPublisher } from '../../lib/adapters/aws/emf.ts';
import { createIngestHandler } from '../../lib/adapters/aws/handlers.ts';
import { awsFixture as fixture } from '../helpers/aws-fixtures.ts';
import { startTestRuntime, type TestRuntime } from './runtime.ts';

describe('ingest handler', () => {
  let rt: TestRuntime;
  let handler: ReturnType<typeof createIngestHandler>;

  before(async () => {
    rt = await startTestRuntime();
    handler = createIngestHandler(async () => rt);
  });
  after(() => rt.close());

  it('accepts a binary-mode event from an HTTP API and appends it to the log', async () => {
    const result = await handler(fixture('apigw-http-v2-ingest'));
    assert.equal(result.statusCode, 202);
    assert.equal(result.isBase64Encoded, false);
    assert.deepEqual(JSON.parse(result.body), { id: 'order-1', duplicate: false });
    const records = [...(await rt.stores.log.read(0, 0, 10)), ...(await rt.stores.log.read(1, 0, 10))];
    const stored = records.find((r) => r.event.id === 'order-1');
    assert.equal(stored?.event.source, '/shop');
    assert.equal(stored?.event.time, '2026-11-27T17:30:00Z');
    assert.deepEqual(stored?.event.data, { id: 'o-1', total: 120, n: 1 });
  });

  it('writes the counters that moved as CloudWatch EMF records after the invocation', async () => {
    const lines: string[] = [];
    const emf = createEmfPublisher(rt.junction.metrics, { output: { log: (line) => void lines.push(line) } });
    const metered = createIngestHandler(async () => ({ ...rt, emf }));
    const event = fixture('apigw-http-v2-ingest');
    const result = await metered({
      ...event,
      headers: { ...(event.headers as Record<string, string>), 'ce-id': 'order-emf' },
    });
    assert.equal(result.statusCode, 202, result.body);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const accepted = records.find((r) => 'junction_events_in_total' in r);
    assert.ok(accepted, `an EMF record of events in: ${lines.join('\n')}`);
    assert.ok(Number(accepted.junction_events_in_total) >= 1);
    assert.ok('_aws' in accepted);
  });

  it('reports the same event again as a duplicate', async () => {
    const result = await handler(fixture('apigw-http-v2-ingest'));
    assert.deepEqual(JSON.parse(result.body), { id: 'order-1', duplicate: true });
  });

  it('answers a REST API batch per entry: the valid one accepted, the one without source failed', async () => {
    const result = await handler(fixture('apigw-rest-v1-ingest'));
    assert.equal(result.statusCode, 200);
    const body = JSON.parse(result.body) as {
      accepted: number;
      failed: number;
      results: Array<Record<string, unknown>>;
    };
    assert.equal(body.accepted, 1);
    assert.equal(body.failed, 1);
    assert.deepEqual(body.results[0], { id: 'order-2' });
    assert.equal((body.results[1]?.error as { code: string } | undefined)?.code, 'InvalidEvent');
  });

  it('rejects an invalid event with 400 naming the field', async () => {
    const event = fixture('apigw-http-v2-ingest') as { headers: Record<string, string> };
    const { 'ce-source': _source, ...headers } = event.headers;
    const result = await handler({ ...event, headers });
    assert.equal(result.statusCode, 400);
    const error = (JSON.parse(result.body) as { error: { code: string; field: string } }).error;
    assert.equal(error.code, 'InvalidEvent');
    assert.equal(error.field, 'source');
  });

  it('answers 404 for a management route: those are the api handler’s', async () => {
    const result = await handler(fixture('apigw-http-v2-put-rule'));
    assert.equal(result.statusCode, 404);
    assert.equal((JSON.parse(result.body) as { error: { code: string } }).error.code, 'NotFound');
  });

  it('rejects an event that is not from API Gateway', async () => {
    await assert.rejects(handler({ eventSource: 'aws:kafka' }), { code: 'InvalidRequest' });
  });
});
