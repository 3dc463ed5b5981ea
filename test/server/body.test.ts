/**
 * A request body is decoded and parsed once however many layers read it (lib/server/body.ts): an EventBridge call
 * is read by the auth layer and the buses app for the buses it names, then by the bus's app; PutEvents paid for
 * three parses of its body before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bodyJson, bodyText } from '../../lib/server/body.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('request bodies', () => {
  test('one parse per body: the same value to every reader, the same error for bad JSON', () => {
    const body = encode('{"a":[1,{"b":"\\u00e9"}]}');
    const first = bodyJson(body);
    assert.deepEqual(first, { a: [1, { b: 'é' }] });
    assert.equal(bodyJson(body), first);
    assert.equal(bodyText(body), '{"a":[1,{"b":"\\u00e9"}]}');
    // Other bytes with the same text are another body.
    assert.notEqual(bodyJson(encode('{"a":[1,{"b":"\\u00e9"}]}')), first);
    const bad = encode('{"a":');
    let thrown: unknown;
    assert.throws(
      () => bodyJson(bad),
      (error) => {
        thrown = error;
        return error instanceof SyntaxError;
      },
    );
    assert.throws(
      () => bodyJson(bad),
      (error) => error === thrown,
    );
  });

  describe('an EventBridge call through auth and the buses app', () => {
    let bus: TestBus;
    let key = '';
    before(async () => {
      bus = await startTestBus({ pollMs: 50 });
      const admin = await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' });
      assert.equal(admin.status, 201, JSON.stringify(admin.body));
      const made = await request(
        bus.url,
        'POST',
        '/keys',
        { name: 'publisher', scope: 'publish' },
        { authorization: `Bearer ${admin.body.key}` },
      );
      assert.equal(made.status, 201, JSON.stringify(made.body));
      key = made.body.key;
    });
    after(() => bus.stop());

    test('PutEvents: its body is parsed once', async () => {
      // Detail is a JSON string: its escapes make the routing layers parse the body for bus names.
      const text = JSON.stringify({
        Entries: Array.from({ length: 3 }, (_, i) => ({
          Source: 'com.shop',
          DetailType: 'order',
          Detail: JSON.stringify({ n: i, note: 'parse me once' }),
          EventBusName: 'default',
        })),
      });
      const parse = JSON.parse;
      let parses = 0;
      JSON.parse = function (this: unknown, source: string, reviver?: Parameters<typeof parse>[1]) {
        if (source === text) parses += 1;
        return parse.call(this, source, reviver);
      } as typeof JSON.parse;
      let answer: Awaited<ReturnType<typeof request<{ FailedEntryCount: number; Entries: unknown[] }>>>;
      try {
        answer = await request(bus.url, 'POST', '/', text, {
          authorization: `Bearer ${key}`,
          'x-amz-target': 'AWSEvents.PutEvents',
          'content-type': 'application/x-amz-json-1.1',
        });
      } finally {
        JSON.parse = parse;
      }
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.FailedEntryCount, 0);
      assert.equal(answer.body.Entries.length, 3);
      assert.equal(parses, 1, 'the body text was parsed more than once');
    });
  });
});
