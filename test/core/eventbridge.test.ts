/** The EventBridge PutEvents / TestEventPattern mapping, checked against what the real SDK sends and parses. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand, TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { serializeEvent } from '../../lib/core/cloudevent.ts';
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
  test('maps the captured SDK request to validated CloudEvents', () => {
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
      account: '000000000000',
      region: 'us-east-1',
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
      account: '000000000000',
      region: 'us-east-1',
    });
  });

  test('uses crypto.randomUUID for ids by default', () => {
    const event = eventOf(mapPutEventsRequest({ Entries: [valid] }).entries[0]!);
    assert.match(event.id as string, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
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

  test('keeps the text of Detail: an integer beyond 2^53 stays exact', () => {
    const text = '{"id": 9007199254740993, "n": [1.50, -0]}';
    const event = eventOf(only({ Entries: [{ ...valid, Detail: text }] }));
    assert.equal(rawDataText(event), text);
    assert.equal(serializeEvent(event as CloudEvent).includes('"data":{"id": 9007199254740993'), true);
  });

  test('fails an entry whose Source starts with "aws." as AWS does, and takes any other text', () => {
    for (const source of ['aws.ec2', 'aws.']) {
      const entry = failure(only({ Entries: [{ ...valid, Source: source }] }));
      assert.equal(entry.errorCode, 'NotAuthorizedForSourceException');
      assert.match(entry.errorMessage, /^Not authorized for the source\. Source "aws\./);
    }
    for (const source of ['my app', 'café.orders', 'aws', 'awsome.shop', 'AWS.x', '  spaced  ']) {
      assert.equal(eventOf(only({ Entries: [{ ...valid, Source: source }] })).source, source);
    }
    const control = failure(only({ Entries: [{ ...valid, Source: 'a\u0001b' }] }));
    assert.equal(control.errorCode, 'InvalidArgument');
    assert.match(control.errorMessage, /source/);
  });

  test('stamps the account and region of the bus, which are an option', () => {
    const event = eventOf(
      mapPutEventsRequest({ Entries: [valid] }, { arn: { account: '123456789012', region: 'eu-west-1' } })
        .entries[0]!,
    );
    assert.equal(event.account, '123456789012');
    assert.equal(event.region, 'eu-west-1');
  });

  test('keeps the sub-millisecond digits of epoch seconds', () => {
    const cases: Array<[number, string]> = [
      [1767225600.123456, '2026-01-01T00:00:00.123456Z'],
      [1767225600.1234, '2026-01-01T00:00:00.1234Z'],
      [1767225600.123, '2026-01-01T00:00:00.123Z'],
      [1767225600, '2026-01-01T00:00:00.000Z'],
      [0.0000001, '1970-01-01T00:00:00.000Z'],
    ];
    for (const [seconds, time] of cases) {
      assert.equal(eventOf(only({ Entries: [{ ...valid, Time: seconds }] })).time, time, String(seconds));
    }
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

  test('answers InvalidArgument for a Time that is neither epoch seconds nor RFC 3339', () => {
    for (const time of ['yesterday', true, 1e20, -1, 253402300800]) {
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
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: ['arn:a'],
    detail: { n: 1 },
  };

  test('parses EventPattern and Event from their JSON texts; the event comes back as its CloudEvent', () => {
    const pattern = { source: ['com.example'] };
    assert.deepEqual(
      mapTestEventPatternRequest({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(envelope) }),
      {
        pattern,
        event: {
          specversion: '1.0',
          id: 'e-1',
          source: 'com.example',
          account: '123456789012',
          time: '2026-01-01T00:00:00Z',
          region: 'us-east-1',
          resources: ['arn:a'],
          type: 'x',
          data: { n: 1 },
        },
      },
    );
  });

  test('requires the envelope members AWS requires of an Event (resources and detail may be left out)', () => {
    const { resources: _r, detail: _d, version: _v, ...least } = envelope;
    assert.equal(
      mapTestEventPatternRequest({ EventPattern: '{}', Event: JSON.stringify(least) }).event.type,
      'x',
    );
    for (const name of ['id', 'account', 'source', 'time', 'region', 'detail-type']) {
      const { [name]: _gone, ...event } = envelope as Record<string, unknown>;
      assert.throws(
        () => mapTestEventPatternRequest({ EventPattern: '{}', Event: JSON.stringify(event) }),
        (error: unknown) =>
          error instanceof JunctionError &&
          error.code === 'InvalidRequest' &&
          error.field === `Event.${name}` &&
          error.message.startsWith(`Parameter Event is not valid. Reason: the event has no "${name}"`),
        name,
      );
    }
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
      const { status, body } = reply(captured);
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
        Event: JSON.stringify({ id: '1', source: 'com.example', 'detail-type': 'x', detail: {} }),
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
