/** The EventBridge PutEvents / TestEventPattern mapping, checked against what the real SDK sends and parses. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { serializeEvent, validateEvent } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import {
  awsErrorBody,
  mapPutEventsRequest,
  mapTestEventPatternRequest,
  type PutEventsEntryResult,
  putEventsResponse,
  testEventPatternResponse,
} from '../../lib/core/eventbridge.ts';
import { UUID_V7, uuidv7Millis } from '../helpers/events.ts';
import { repoRoot } from '../helpers/paths.ts';

const fixture = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'fixtures', 'eventbridge', 'put-events-request.json'), 'utf8'),
) as { headers: Record<string, string>; body: string };

function sequentialIds(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

const fixedNow = () => Date.parse('2026-01-02T03:04:05.678Z');

function only(body: unknown): PutEventsEntryResult {
  const [entry] = mapPutEventsRequest(body, { newId: sequentialIds(), now: fixedNow }).entries;
  assert.ok(entry);
  return entry;
}

function failure(entry: PutEventsEntryResult): { errorCode: string; errorMessage: string } {
  assert.equal(entry.ok, false);
  return entry as { errorCode: string; errorMessage: string };
}

function eventOf(entry: PutEventsEntryResult): Record<string, unknown> {
  assert.equal(entry.ok, true, JSON.stringify(entry));
  return (entry as { event: Record<string, unknown> }).event;
}

const valid = { Source: 'com.example', DetailType: 'Thing', Detail: '{"a":1}' };

describe('mapPutEventsRequest', () => {
  test('an entry without Time gets the time of its own mapping, to the millisecond', () => {
    const times = [1_767_323_045_678, 1_767_323_045_678, 1_767_323_045_679, 1_767_323_045_678];
    let call = 0;
    const { entries } = mapPutEventsRequest(
      { Entries: times.map(() => valid) },
      { newId: sequentialIds(), now: () => times[call++] as number },
    );
    assert.deepEqual(
      entries.map((entry) => eventOf(entry).time),
      times.map((ms) => new Date(ms).toISOString()),
    );
  });

  test('maps the captured SDK request to CloudEvents that validateEvent accepts', () => {
    const { entries } = mapPutEventsRequest(JSON.parse(fixture.body), {
      newId: sequentialIds(),
      now: fixedNow,
    });
    assert.equal(fixture.headers['x-amz-target'], 'AWSEvents.PutEvents');
    assert.equal(fixture.headers['content-type'], 'application/x-amz-json-1.1');
    const [first, second] = entries.map(eventOf);
    assert.deepEqual(first, {
      specversion: '1.0',
      id: 'id-1',
      source: 'com.shop.orders',
      type: 'OrderCreated',
      time: '2026-11-27T10:15:30.250Z',
      datacontenttype: 'application/json',
      data: { id: 'o-1', total: 120, items: [{ sku: 'A1', qty: 2 }] },
      resources: '["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]',
      traceheader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    });
    assert.deepEqual(second, {
      specversion: '1.0',
      id: 'id-2',
      source: 'com.shop.orders',
      type: 'OrderCancelled',
      time: '2026-01-02T03:04:05.678Z',
      datacontenttype: 'application/json',
      data: { id: 'o-2' },
    });
    for (const event of [first, second]) assert.equal(validateEvent(event).id, event!.id);
  });

  test('mints time-ordered ids (UUID v7) by default', () => {
    const before = Date.now();
    const ids = mapPutEventsRequest({ Entries: [valid, valid] }).entries.map((e) => eventOf(e).id as string);
    for (const id of ids) {
      assert.match(id, UUID_V7);
      const millis = uuidv7Millis(id);
      assert.ok(millis >= before && millis <= Date.now(), `${id} carries the time it was made`);
    }
    assert.notEqual(ids[0], ids[1]);
  });

  test('answers InvalidArgument for each missing required parameter', () => {
    for (const parameter of ['Source', 'DetailType', 'Detail'] as const) {
      const entry = { ...valid, [parameter]: undefined };
      assert.deepEqual(failure(only({ Entries: [entry] })), {
        ok: false,
        errorCode: 'InvalidArgument',
        errorMessage: `Parameter ${parameter} is not valid. Reason: ${parameter} is a required argument.`,
      });
    }
  });

  test('answers InvalidArgument for an empty Source and for a Source that is not a string', () => {
    assert.equal(failure(only({ Entries: [{ ...valid, Source: '' }] })).errorCode, 'InvalidArgument');
    const wrongType = failure(only({ Entries: [{ ...valid, Source: 42 }] }));
    assert.equal(wrongType.errorCode, 'InvalidArgument');
    assert.match(wrongType.errorMessage, /Source must be a string, received number 42/);
  });

  test('answers MalformedDetail for Detail that is not JSON or not a JSON object', () => {
    const notJson = failure(only({ Entries: [{ ...valid, Detail: '{"a":' }] }));
    assert.equal(notJson.errorCode, 'MalformedDetail');
    assert.match(notJson.errorMessage, /^Detail is malformed\. Detail is not valid JSON/);
    for (const detail of ['[1,2]', '"text"', '5', 'null']) {
      const entry = failure(only({ Entries: [{ ...valid, Detail: detail }] }));
      assert.equal(entry.errorCode, 'MalformedDetail');
      assert.match(entry.errorMessage, /must be a JSON object/);
    }
  });

  test('keeps good entries when others in the request fail', () => {
    const { entries } = mapPutEventsRequest({ Entries: [valid, { ...valid, Detail: 'nope' }, 'x', valid] });
    assert.deepEqual(
      entries.map((e) => e.ok),
      [true, false, false, true],
    );
    assert.match(
      failure(entries[2]!).errorMessage,
      /Entries\[2\] must be an object, received the string "x"/,
    );
  });

  test('converts Time from epoch seconds and keeps an RFC 3339 string as sent', () => {
    assert.equal(eventOf(only({ Entries: [{ ...valid, Time: 0 }] })).time, '1970-01-01T00:00:00.000Z');
    assert.equal(
      eventOf(only({ Entries: [{ ...valid, Time: 1700000000.5 }] })).time,
      '2023-11-14T22:13:20.500Z',
    );
    const text = '2024-05-06T07:08:09+02:00';
    assert.equal(eventOf(only({ Entries: [{ ...valid, Time: text }] })).time, text);
  });

  test('keeps every fractional digit of Time, given as epoch seconds or as RFC 3339', () => {
    assert.equal(
      eventOf(only({ Entries: [{ ...valid, Time: 1700000000.123456 }] })).time,
      '2023-11-14T22:13:20.123456Z',
    );
    assert.equal(
      eventOf(only({ Entries: [{ ...valid, Time: 1700000000 }] })).time,
      '2023-11-14T22:13:20.000Z',
    );
    const text = '2023-11-14T22:13:20.123456789Z';
    assert.equal(eventOf(only({ Entries: [{ ...valid, Time: text }] })).time, text);
    assert.equal(eventOf(only({ Entries: [{ ...valid, Time: -1.5 }] })).time, '1969-12-31T23:59:58.500Z');
  });

  test('keeps the text of Detail as the data: integers beyond 2^53 arrive exact', () => {
    const detail = '{"id": 9007199254740993, "big": 12345678901234567890123}';
    const event = eventOf(only({ Entries: [{ ...valid, Detail: detail }] })) as CloudEvent;
    assert.equal(rawDataText(event), detail);
    assert.ok(serializeEvent(event).endsWith(`"data":${detail}}`));
  });

  test('fails an entry whose Source starts with "aws." as EventBridge does', () => {
    const entry = failure(only({ Entries: [{ ...valid, Source: 'aws.ec2' }] }));
    assert.equal(entry.errorCode, 'NotAuthorizedForSourceException');
    assert.match(entry.errorMessage, /"aws\.ec2"/);
    assert.equal(eventOf(only({ Entries: [{ ...valid, Source: 'awsome' }] })).source, 'awsome');
  });

  test('accepts a Source that is no URI-reference: percent-encoded as source, as written in ebsource', () => {
    for (const [given, source] of [
      ['my app', 'my%20app'],
      ['café.orders', 'caf%C3%A9.orders'],
      ['100%', '100%25'],
      ['a:b c', 'a%3Ab%20c'],
    ]) {
      const event = eventOf(only({ Entries: [{ ...valid, Source: given }] }));
      assert.equal(event.source, source);
      assert.equal(event.ebsource, given);
    }
    const plain = eventOf(only({ Entries: [{ ...valid, Source: 'com.example' }] }));
    assert.equal('ebsource' in plain, false);
    const lone = failure(only({ Entries: [{ ...valid, Source: 'a\ud800' }] }));
    assert.equal(lone.errorCode, 'InvalidArgument');
    assert.match(lone.errorMessage, /^Parameter Source is not valid/);
  });

  test('names the PutEvents parameter when the CloudEvent made of an entry is invalid', () => {
    const entry = failure(only({ Entries: [{ ...valid, DetailType: 'bad\u0001type' }] }));
    assert.equal(entry.errorCode, 'InvalidArgument');
    assert.match(entry.errorMessage, /^Parameter DetailType is not valid\. Reason: type /);
  });

  test('answers InvalidArgument for a Time that is neither epoch seconds nor RFC 3339', () => {
    for (const time of ['yesterday', true, 1e20]) {
      const entry = failure(only({ Entries: [{ ...valid, Time: time }] }));
      assert.equal(entry.errorCode, 'InvalidArgument');
      assert.match(entry.errorMessage, /^Parameter Time is not valid/);
    }
  });

  test('maps Resources to a JSON array text and leaves out an empty list', () => {
    const event = eventOf(only({ Entries: [{ ...valid, Resources: ['arn:a,b', 'arn:c'] }] }));
    assert.deepEqual(JSON.parse(event.resources as string), ['arn:a,b', 'arn:c']);
    assert.equal('resources' in eventOf(only({ Entries: [{ ...valid, Resources: [] }] })), false);
    assert.equal(failure(only({ Entries: [{ ...valid, Resources: [1] }] })).errorCode, 'InvalidArgument');
  });

  test('maps EventBusName to eventbusname unless it names the default bus', () => {
    assert.equal(eventOf(only({ Entries: [{ ...valid, EventBusName: 'orders' }] })).eventbusname, 'orders');
    const arn = 'arn:aws:events:us-east-1:123456789012:event-bus/payments';
    assert.equal(eventOf(only({ Entries: [{ ...valid, EventBusName: arn }] })).eventbusname, 'payments');
    for (const name of ['default', 'arn:aws:events:us-east-1:123456789012:event-bus/default']) {
      assert.equal('eventbusname' in eventOf(only({ Entries: [{ ...valid, EventBusName: name }] })), false);
    }
  });

  test('keeps TraceHeader as traceheader and copies a W3C traceparent to traceparent', () => {
    const w3c = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const event = eventOf(only({ Entries: [{ ...valid, TraceHeader: w3c }] }));
    assert.equal(event.traceheader, w3c);
    assert.equal(event.traceparent, w3c);
    const xray = eventOf(only({ Entries: [{ ...valid, TraceHeader: 'Root=1-abc' }] }));
    assert.equal(xray.traceheader, 'Root=1-abc');
    assert.equal('traceparent' in xray, false);
  });

  test('throws InvalidRequest for a body that is not a PutEvents request', () => {
    for (const body of [null, 'x', [], {}, { Entries: 'x' }]) {
      assert.throws(
        () => mapPutEventsRequest(body),
        (error: unknown) => error instanceof JunctionError && error.code === 'InvalidRequest',
      );
    }
  });

  test('throws InvalidRequest for no entries or more than the limit, which is an option', () => {
    const eleven = { Entries: Array.from({ length: 11 }, () => valid) };
    assert.throws(() => mapPutEventsRequest({ Entries: [] }), /between 1 and 10 entries, received 0/);
    assert.throws(() => mapPutEventsRequest(eleven), /between 1 and 10 entries, received 11/);
    assert.equal(mapPutEventsRequest(eleven, { maxEntries: 100 }).entries.length, 11);
  });
});

describe('responses', () => {
  test('putEventsResponse counts the failed entries and keeps the order', () => {
    assert.deepEqual(
      putEventsResponse([
        { eventId: 'a' },
        { errorCode: 'InvalidArgument', errorMessage: 'bad' },
        { eventId: 'b' },
      ]),
      {
        FailedEntryCount: 1,
        Entries: [{ EventId: 'a' }, { ErrorCode: 'InvalidArgument', ErrorMessage: 'bad' }, { EventId: 'b' }],
      },
    );
  });

  test('testEventPatternResponse and awsErrorBody have the AWS JSON shapes', () => {
    assert.deepEqual(testEventPatternResponse(false), { Result: false });
    assert.deepEqual(awsErrorBody('ValidationException', 'no'), {
      __type: 'ValidationException',
      message: 'no',
    });
  });
});

describe('mapTestEventPatternRequest', () => {
  const envelope = {
    version: '0',
    id: 'e-1',
    'detail-type': 'x',
    source: 'com.example',
    account: '123456789012',
    time: '2026-01-02T03:04:05Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::b'],
    detail: { n: 1 },
  };

  test('parses EventPattern and Event from their JSON texts; the event is read as PutEvents maps one', () => {
    const pattern = { source: ['com.example'] };
    assert.deepEqual(
      mapTestEventPatternRequest({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(envelope) }),
      {
        pattern,
        event: {
          specversion: '1.0',
          id: 'e-1',
          type: 'x',
          source: 'com.example',
          account: '123456789012',
          time: '2026-01-02T03:04:05Z',
          region: 'eu-west-1',
          resources: ['arn:aws:s3:::b'],
          data: { n: 1 },
        },
      },
    );
    // resources is listed by AWS's reference but not required by EventBridge.
    const { resources: _r, ...withoutResources } = envelope;
    assert.equal(
      mapTestEventPatternRequest({ EventPattern: '{"id":["e-1"]}', Event: JSON.stringify(withoutResources) })
        .event.id,
      'e-1',
    );
  });

  test('refuses an Event without the members EventBridge requires, naming them (ValidationException)', () => {
    for (const name of ['id', 'account', 'source', 'time', 'region', 'detail-type']) {
      const { [name]: _dropped, ...event } = envelope as Record<string, unknown>;
      assert.throws(
        () => mapTestEventPatternRequest({ EventPattern: '{"id":["e-1"]}', Event: JSON.stringify(event) }),
        (error: unknown) =>
          error instanceof JunctionError &&
          error.code === 'InvalidRequest' &&
          error.field === 'Event' &&
          error.message.startsWith('Parameter Event is not valid.') &&
          error.message.includes(JSON.stringify(name)),
        name,
      );
    }
    // A CloudEvent is no EventBridge event.
    assert.throws(
      () =>
        mapTestEventPatternRequest({
          EventPattern: '{"id":["e-1"]}',
          Event: '{"specversion":"1.0","id":"e-1","source":"s","type":"t"}',
        }),
      /"account", "time", "region", "detail-type"/,
    );
  });

  test('throws InvalidPattern for a missing or malformed EventPattern and InvalidRequest for a bad Event', () => {
    const cases: Array<[unknown, string, string]> = [
      [{ Event: '{}' }, 'InvalidPattern', 'EventPattern'],
      [{ EventPattern: '{"source":', Event: '{}' }, 'InvalidPattern', 'EventPattern'],
      [{ EventPattern: '[1]', Event: '{}' }, 'InvalidPattern', 'EventPattern'],
      [{ EventPattern: '{}' }, 'InvalidRequest', 'Event'],
      [{ EventPattern: '{}', Event: 'nope' }, 'InvalidRequest', 'Event'],
      ['x', 'InvalidRequest', ''],
      [
        { EventPattern: '{}', Event: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}` },
        'InvalidRequest',
        'Event',
      ],
      [{ EventPattern: '{}', Event: JSON.stringify({ a: 'é'.repeat(600_000) }) }, 'PayloadTooLarge', 'Event'],
    ];
    for (const [body, code, field] of cases) {
      assert.throws(
        () => mapTestEventPatternRequest(body),
        (error: unknown) =>
          error instanceof JunctionError && error.code === code && (field === '' || error.field === field),
        JSON.stringify(body),
      );
    }
  });
});

interface Captured {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('with @aws-sdk/client-eventbridge against a local endpoint', () => {
  let reply: (captured: Captured) => { status: number; body: unknown } = () => ({ status: 500, body: {} });
  const requests: Captured[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const captured = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(captured);
      let answer: { status: number; body: unknown };
      try {
        answer = reply(captured);
      } catch (error) {
        answer = { status: 500, body: { __type: 'InternalException', message: String(error) } };
      }
      const { status, body } = answer;
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    });
  });
  let client: EventBridgeClient;

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    client = new EventBridgeClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
  });

  after(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('PutEvents: the SDK request maps and the SDK parses the mapped response', async () => {
    reply = (captured) => {
      const { entries } = mapPutEventsRequest(JSON.parse(captured.body), { newId: sequentialIds() });
      const results = entries.map((entry) =>
        entry.ok
          ? { eventId: entry.event.id as string }
          : { errorCode: entry.errorCode, errorMessage: entry.errorMessage },
      );
      return { status: 200, body: putEventsResponse(results) };
    };
    const output = await client.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'com.example',
            DetailType: 'Created',
            Detail: '{"n":1}',
            Time: new Date('2025-06-07T08:09:10.123Z'),
          },
          { Source: 'com.example', DetailType: 'Broken', Detail: 'not json' },
        ],
      }),
    );
    const request = requests.at(-1)!;
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/');
    assert.equal(request.headers['x-amz-target'], 'AWSEvents.PutEvents');
    assert.equal(request.headers['content-type'], 'application/x-amz-json-1.1');
    const sent = JSON.parse(request.body) as { Entries: Array<{ Time?: unknown }> };
    assert.equal(sent.Entries[0]!.Time, Date.parse('2025-06-07T08:09:10.123Z') / 1000);
    assert.equal(output.FailedEntryCount, 1);
    assert.deepEqual(output.Entries, [
      { EventId: 'id-1' },
      { ErrorCode: 'MalformedDetail', ErrorMessage: output.Entries?.[1]?.ErrorMessage },
    ]);
    assert.match(output.Entries?.[1]?.ErrorMessage ?? '', /^Detail is malformed/);
  });

  test('PutEvents: the SDK raises an awsErrorBody as an exception with its name and message', async () => {
    reply = () => ({
      status: 400,
      body: awsErrorBody('ValidationException', 'Entries must hold between 1 and 10'),
    });
    await assert.rejects(
      client.send(new PutEventsCommand({ Entries: [{ Source: 'a', DetailType: 'b', Detail: '{}' }] })),
      (error: unknown) => {
        const e = error as { name: string; message: string; $metadata: { httpStatusCode: number } };
        return (
          e.name === 'ValidationException' &&
          e.message === 'Entries must hold between 1 and 10' &&
          e.$metadata.httpStatusCode === 400
        );
      },
    );
  });

  test('TestEventPattern: the SDK request maps and the SDK parses the response', async () => {
    reply = (captured) => {
      const { pattern, event } = mapTestEventPatternRequest(JSON.parse(captured.body));
      const sources = (pattern as { source: string[] }).source;
      return {
        status: 200,
        body: testEventPatternResponse(sources.includes((event as { source: string }).source)),
      };
    };
    const output = await client.send(
      new TestEventPatternCommand({
        EventPattern: JSON.stringify({ source: ['com.example'] }),
        Event: JSON.stringify({
          id: '1',
          account: '123456789012',
          source: 'com.example',
          time: '2026-01-02T03:04:05Z',
          region: 'us-east-1',
          'detail-type': 'x',
          detail: {},
        }),
      }),
    );
    assert.equal(requests.at(-1)!.headers['x-amz-target'], 'AWSEvents.TestEventPattern');
    assert.equal(output.Result, true);
  });

  test('TestEventPattern: the SDK raises InvalidEventPatternException from awsErrorBody', async () => {
    reply = () => ({
      status: 400,
      body: awsErrorBody('InvalidEventPatternException', 'Event pattern is not valid'),
    });
    await assert.rejects(
      client.send(new TestEventPatternCommand({ EventPattern: '{', Event: '{}' })),
      (error: unknown) => (error as Error).name === 'InvalidEventPatternException',
    );
  });
});
