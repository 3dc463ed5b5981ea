/**
 * Rules match by the pattern as the client wrote it (#14): number lexemes beyond a double and repeated keys survive
 * the REST API and EventBridge's PutRule, on the bus as in event-ruler.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

describe('patterns as written', () => {
  let bus: TestBus;
  let target: HttpTarget;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    target = await startHttpTarget();
  });
  after(async () => {
    await bus.stop();
    await target.close();
  });

  async function putRawRule(name: string, patternText: string): Promise<void> {
    const body = `{"pattern":${patternText},"targets":[{"id":"t","type":"http","url":"${target.url}"}]}`;
    const res = await request(bus.url, 'PUT', `/rules/${name}`, body, { 'content-type': 'application/json' });
    assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  }

  async function matched(id: string, data: string): Promise<string[]> {
    assert.equal(
      (await publishBinary(bus, { id, source: '/text', type: 't' }, data, 'application/json')).status,
      202,
    );
    await waitFor(async () => (await traceOf(bus, id, '/text')).some((e) => e.kind === 'received'), 'routed');
    const trace = await traceOf(bus, id, '/text');
    return trace.filter((e) => e.kind === 'matched').map((e) => String(e.rule));
  }

  test('a rule on a 64-bit id does not match its neighbour, whose double is the same', async () => {
    await putRawRule('big-id', '{"source":["/text"],"data":{"id":[12345678901234567890]}}');
    assert.deepEqual(await matched('n-1', '{"id":12345678901234567000}'), []);
    assert.deepEqual(await matched('n-2', '{"id":12345678901234567890}'), ['big-id']);
    // Reads show the pattern as written (a parsed value would print 12345678901234567000), and no second field.
    const read = await (await fetch(`${bus.url}/rules/big-id`)).text();
    assert.ok(read.includes('"pattern":{"source":["/text"],"data":{"id":[12345678901234567890]}}'), read);
    assert.ok(!read.includes('patternText'), read);
    const listed = await (await fetch(`${bus.url}/rules`)).text();
    assert.ok(listed.includes('[12345678901234567890]'), listed);
    assert.equal(JSON.parse(read).name, 'big-id');
    await request(bus.url, 'DELETE', '/rules/big-id');
  });

  test('a key repeated in the pattern adds its fields, as event-ruler reads it', async () => {
    await putRawRule('both', '{"source":["/text"],"data":{"a":{"b":[1]},"a":{"c":[2]}}}');
    assert.deepEqual(await matched('r-1', '{"a":{"c":2}}'), []);
    assert.deepEqual(await matched('r-2', '{"a":{"b":1,"c":2}}'), ['both']);
    await request(bus.url, 'DELETE', '/rules/both');
  });

  test('a repeated operator is refused, naming the pattern', async () => {
    const body = '{"pattern":{"a":[{"prefix":"x","prefix":"y"}]},"targets":[]}';
    const res = await request(bus.url, 'PUT', '/rules/twice', body, { 'content-type': 'application/json' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidPattern');
  });

  test('PutRule keeps EventPattern as sent; DescribeRule answers it', async () => {
    const pattern = '{"source":["/text"],"data":{"id":[12345678901234567891]}}';
    const call = (target: string, body: unknown) =>
      fetch(`${bus.url}/`, {
        method: 'POST',
        headers: { 'x-amz-target': `AWSEvents.${target}`, 'content-type': 'application/x-amz-json-1.1' },
        body: JSON.stringify(body),
      });
    assert.equal((await call('PutRule', { Name: 'eb-big', EventPattern: pattern })).status, 200);
    const described = (await (await call('DescribeRule', { Name: 'eb-big' })).json()) as {
      EventPattern: string;
    };
    assert.equal(described.EventPattern, pattern);
    assert.deepEqual(await matched('e-1', '{"id":12345678901234567890}'), []);
    assert.deepEqual(await matched('e-2', '{"id":12345678901234567891}'), ['eb-big']);
  });

  test("a pattern in EventBridge's vocabulary keeps its text too: detail's 64-bit id and repeated keys", async () => {
    await putRawRule('eb-big-id', '{"source":["/text"],"detail":{"id":[12345678901234567890]}}');
    assert.deepEqual(await matched('d-1', '{"id":12345678901234567000}'), []);
    assert.deepEqual(await matched('d-2', '{"id":12345678901234567890}'), ['eb-big-id']);
    await request(bus.url, 'DELETE', '/rules/eb-big-id');
    await putRawRule('eb-both', '{"source":["/text"],"detail":{"a":{"b":[1]},"a":{"c":[2]}}}');
    assert.deepEqual(await matched('d-3', '{"a":{"c":2}}'), []);
    assert.deepEqual(await matched('d-4', '{"a":{"b":1,"c":2}}'), ['eb-both']);
    await request(bus.url, 'DELETE', '/rules/eb-both');
    // A key repeated at the top: the last one written wins, as in the CloudEvents vocabulary.
    await putRawRule('eb-last', '{"source":["/text"],"detail-type":["x"],"detail-type":["t"]}');
    assert.deepEqual(await matched('d-5', '{}'), ['eb-last']);
    await request(bus.url, 'DELETE', '/rules/eb-last');
  });
});
