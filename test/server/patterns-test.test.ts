/**
 * The pattern-testing routes of lib/server/app.ts through a real server: `POST /patterns/test` and
 * `AWSEvents.TestEventPattern` keep the ingest limits (issue #12), and answer bad input with a code, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dottedAndNested } from '../helpers/adversarial-patterns.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

const AMZ = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.TestEventPattern' };

/** `{"a":{"a":…}}` as JSON text, `depth` levels deep (JSON.stringify would overflow the stack building it). */
function deepText(depth: number): string {
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

describe('POST /patterns/test and TestEventPattern', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(async () => {
    await bus.stop();
  });

  it('answers the 64-field dotted-and-nested rule of issue #12 (both routes)', async () => {
    const { pattern, event } = dottedAndNested(64);
    const res = await request(bus.url, 'POST', '/patterns/test', { pattern, event });
    assert.equal(res.status, 200);
    assert.equal(res.body.matches, false);
    assert.equal(res.body.explanation[0].path, 'data.order.k63');
    // TestEventPattern takes the event in EventBridge's shape: the data is its detail.
    const envelope = {
      version: '0',
      id: 'e-1',
      'detail-type': 'order.placed',
      source: 'shop',
      account: '000000000000',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: [],
      detail: (event as { data: unknown }).data,
    };
    const amz = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(envelope) }),
      AMZ,
    );
    assert.equal(amz.status, 200);
    assert.deepEqual(amz.body, { Result: false });
  });

  it('refuses a body over 256 KiB with 413 PayloadTooLarge before parsing it', async () => {
    const event = { type: 'x', data: { blob: 'x'.repeat(300 * 1024) } };
    const res = await request(bus.url, 'POST', '/patterns/test', { pattern: { type: ['x'] }, event });
    assert.equal(res.status, 413);
    assert.equal(res.body.error.code, 'PayloadTooLarge');
    assert.match(res.body.error.message, /262144/);
    const amz = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: '{"type":["x"]}', Event: JSON.stringify(event) }),
      AMZ,
    );
    assert.equal(amz.status, 413);
    assert.equal(amz.body.__type, 'ValidationException');
    assert.match(amz.body.message, /262144/);
  });

  it('refuses an event 20,000 levels deep with 400 naming the limit, not a 500', async () => {
    // The body as a whole meets the request guard first (256 levels, InvalidJson); under it, the event limit.
    const guard = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"pattern":{"a":["x"]},"event":{"a":${deepText(20_000)}}}`,
      { 'content-type': 'application/json' },
    );
    assert.equal(guard.status, 400);
    assert.equal(guard.body.error.code, 'InvalidJson');
    assert.match(guard.body.error.message, /deeper than 256 levels/);
    const res = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"pattern":{"a":["x"]},"event":{"a":${deepText(200)}}}`,
      { 'content-type': 'application/json' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidRequest');
    assert.equal(res.body.error.field, 'event');
    assert.match(res.body.error.message, /deeper than 64 levels/);
    const filterOnly = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"filter":"type = 'x'","event":{"a":${deepText(200)}}}`,
      { 'content-type': 'application/json' },
    );
    assert.equal(filterOnly.status, 400);
    assert.equal(filterOnly.body.error.field, 'event');
    const amz = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: '{"a":["x"]}', Event: `{"a":${deepText(20_000)}}` }),
      AMZ,
    );
    assert.equal(amz.status, 400);
    assert.equal(amz.body.__type, 'ValidationException');
    assert.match(amz.body.message, /Event nests deeper than 256 levels/);
    const amzUnderGuard = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: '{"a":["x"]}', Event: `{"a":${deepText(200)}}` }),
      AMZ,
    );
    assert.equal(amzUnderGuard.status, 400);
    assert.equal(amzUnderGuard.body.__type, 'ValidationException');
    assert.match(amzUnderGuard.body.message, /Event nests deeper than 64 levels/);
  });

  it('refuses a pattern 20,000 levels deep with 400 InvalidPattern (both routes)', async () => {
    // Over the request guard's 256 levels the body is InvalidJson; under it, the pattern's own limit speaks.
    const res = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"pattern":${deepText(200)},"event":{"a":1}}`,
      { 'content-type': 'application/json' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidPattern');
    assert.match(res.body.error.message, /nested deeper than 64 levels/);
    const amz = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: deepText(20_000), Event: '{"a":1}' }),
      AMZ,
    );
    assert.equal(amz.status, 400);
    assert.equal(amz.body.__type, 'InvalidEventPatternException');
  });

  it('refuses a pattern over 64 KiB with 400 InvalidPattern', async () => {
    const pattern = { a: Array.from({ length: 4000 }, (_, i) => `value-${i}-${'p'.repeat(10)}`) };
    const res = await request(bus.url, 'POST', '/patterns/test', { pattern, event: { a: 'x' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidPattern');
    assert.match(res.body.error.message, /more than the limit of 65536/);
  });
});
