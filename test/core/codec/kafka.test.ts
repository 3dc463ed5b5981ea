/** Tests of the Kafka protocol binding for log records: both modes, the key, and records the SDK writes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Kafka, CloudEvent as SdkEvent } from 'cloudevents';
import fc from 'fast-check';
import { validateEvent } from '../../../lib/core/cloudevent.ts';
import { fromKafkaRecord, toKafkaRecord } from '../../../lib/core/codec/kafka.ts';
import { JunctionError } from '../../../lib/core/errors.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const required = { specversion: '1.0', id: 'k1', source: '/orders', type: 'com.example.order' };

function headersOf(record: { headers: Array<[string, Uint8Array]> }): Record<string, string> {
  return Object.fromEntries(record.headers.map(([name, value]) => [name, dec.decode(value)]));
}

describe('toKafkaRecord', () => {
  test('writes structured mode by default, keyed by source', () => {
    const event = validateEvent({ ...required, data: { total: 5 } });
    const record = toKafkaRecord(event);
    assert.equal(record.key, '/orders');
    assert.deepEqual(headersOf(record), { 'content-type': 'application/cloudevents+json; charset=utf-8' });
    assert.deepEqual(JSON.parse(dec.decode(record.value)), event);
  });

  test('keys by partitionkey when present, leaving the event unchanged', () => {
    const event = validateEvent({ ...required, partitionkey: 'customer-7' });
    const record = toKafkaRecord(event);
    assert.equal(record.key, 'customer-7');
    assert.deepEqual(fromKafkaRecord(record), event);
  });

  test('writes binary mode with ce_ headers (UTF-8, not percent-encoded) and the data as value', () => {
    const event = validateEvent({
      ...required,
      subject: 'Euro € 😀',
      count: 3,
      datacontenttype: 'text/plain',
      data: 'hi',
    });
    const record = toKafkaRecord(event, 'binary');
    assert.deepEqual(headersOf(record), {
      ce_specversion: '1.0',
      ce_id: 'k1',
      ce_source: '/orders',
      ce_type: 'com.example.order',
      ce_subject: 'Euro € 😀',
      ce_count: '3',
      'content-type': 'text/plain',
    });
    assert.equal(dec.decode(record.value), 'hi');
  });

  test('sets content-type application/json for JSON data without a datacontenttype', () => {
    const record = toKafkaRecord(validateEvent({ ...required, data: [1] }), 'binary');
    assert.equal(headersOf(record)['content-type'], 'application/json');
    assert.equal(dec.decode(record.value), '[1]');
  });
});

describe('fromKafkaRecord', () => {
  test('round-trips events in both modes', () => {
    const events = [
      validateEvent({
        ...required,
        time: '2018-04-05T03:56:24Z',
        data: { a: 'é' },
        datacontenttype: 'application/json',
      }),
      validateEvent({ ...required, datacontenttype: 'image/png', data_base64: 'iVBORw0KGgo=' }),
      validateEvent({ ...required, datacontenttype: 'text/plain; charset=utf-8', data: 'line\n' }),
      validateEvent({ ...required, subject: 'no data' }),
    ];
    for (const event of events) {
      assert.deepEqual(fromKafkaRecord(toKafkaRecord(event, 'structured')), event);
      assert.deepEqual(fromKafkaRecord(toKafkaRecord(event, 'binary')), event);
    }
  });

  test('round-trips any bytes byte for byte in binary mode', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (bytes) => {
        const event = fromKafkaRecord({
          value: bytes,
          headers: [
            ['ce_specversion', enc.encode('1.0')],
            ['ce_id', enc.encode('x')],
            ['ce_source', enc.encode('/s')],
            ['ce_type', enc.encode('t')],
            ['content-type', enc.encode('application/octet-stream')],
          ],
        });
        assert.deepEqual(toKafkaRecord(event, 'binary').value, bytes);
      }),
    );
  });

  test('reads the conformance scenarios for binary and structured records', () => {
    const attrs = {
      specversion: '1.0',
      id: '1234-1234-1234',
      type: 'com.example.someevent',
      source: '/mycontext/subcontext',
      time: '2018-04-05T03:56:24Z',
    };
    const binary = fromKafkaRecord({
      key: 'ignored',
      value: enc.encode('{"message":"Hello World!"}'),
      headers: new Map([
        ...Object.entries(attrs).map(([k, v]) => [`ce_${k}`, enc.encode(v)] as const),
        ['content-type', enc.encode('application/json')],
      ]),
    });
    assert.deepEqual(
      { ...binary },
      { ...attrs, datacontenttype: 'application/json', data: { message: 'Hello World!' } },
    );
    for (const contentType of [
      'application/cloudevents+json',
      'Application/CloudEvents+JSON; charset=UTF-8',
    ]) {
      const sent = { ...attrs, datacontenttype: 'application/json', data: { message: 'Hello World!' } };
      const structured = fromKafkaRecord({
        value: enc.encode(JSON.stringify(sent)),
        headers: [['Content-Type', enc.encode(contentType)]],
      });
      assert.deepEqual({ ...structured }, sent);
    }
  });

  test('rejects bad records with a code and the field', () => {
    const base = [
      ['ce_specversion', enc.encode('1.0')],
      ['ce_id', enc.encode('x')],
      ['ce_source', enc.encode('/s')],
    ] as Array<[string, Uint8Array]>;
    const cases: Array<[Parameters<typeof fromKafkaRecord>[0], string, string | undefined]> = [
      [{ value: null, headers: base }, 'InvalidEvent', 'type'],
      [
        { value: null, headers: [...base, ['ce_type', enc.encode('t')], ['ce_time', enc.encode('noon')]] },
        'InvalidEvent',
        'time',
      ],
      [
        { value: null, headers: [...base, ['ce_type', Uint8Array.from([0xc0, 0xa0])]] },
        'InvalidEvent',
        'type',
      ],
      [
        { value: null, headers: [...base, ['ce_type', enc.encode('t')], ['ce_type', enc.encode('u')]] },
        'InvalidEvent',
        'type',
      ],
      [
        { value: null, headers: [...base, ['ce_type', enc.encode('t')], ['ce_Bad', enc.encode('u')]] },
        'InvalidEvent',
        'Bad',
      ],
      [
        {
          value: enc.encode('{"a":'),
          headers: [['content-type', enc.encode('application/cloudevents+json')]],
        },
        'InvalidJson',
        undefined,
      ],
      [
        { value: enc.encode('<e/>'), headers: [['content-type', enc.encode('application/cloudevents+xml')]] },
        'UnsupportedMediaType',
        'content-type',
      ],
      [
        { value: null, headers: [['content-type', enc.encode('application/cloudevents+json')]] },
        'InvalidEvent',
        undefined,
      ],
    ];
    for (const [record, code, field] of cases) {
      assert.throws(
        () => fromKafkaRecord(record),
        (error: unknown) => error instanceof JunctionError && error.code === code && error.field === field,
        `${code} ${field}`,
      );
    }
  });

  test('reads the records the cloudevents SDK writes (header values converted to bytes)', () => {
    const sdk = new SdkEvent({
      id: 's1',
      source: '/sdk',
      type: 'com.example.sdk',
      datacontenttype: 'application/json',
      data: { n: 1 },
      partitionkey: 'p',
    });
    for (const message of [Kafka.structured(sdk), Kafka.binary(sdk)]) {
      const headers: Array<[string, Uint8Array]> = [];
      for (const [name, value] of Object.entries(message.headers)) {
        if (value !== undefined) headers.push([name, enc.encode(String(value))]);
      }
      const body = message.body;
      const value = typeof body === 'string' ? enc.encode(body) : enc.encode(JSON.stringify(body));
      const event = fromKafkaRecord({ key: message.key as string, value, headers });
      assert.equal(event.id, 's1');
      assert.equal(event.partitionkey, 'p');
      assert.deepEqual(event.data, { n: 1 });
    }
  });
});

describe('robustness', () => {
  test('answers any record with an event or a JunctionError, never anything else', () => {
    const name = fc.constantFrom(
      'ce_specversion',
      'ce_id',
      'ce_source',
      'ce_type',
      'ce_x',
      'ce_Bad',
      'content-type',
      'Content-Type',
    );
    const value = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc
        .constantFrom('1.0', '/s', 'application/cloudevents+json', 'application/json', 'text/plain')
        .map((text) => enc.encode(text)),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 8 }),
        fc.option(
          fc.oneof(
            fc.uint8Array({ maxLength: 50 }),
            fc.json().map((text) => enc.encode(text)),
          ),
        ),
        (headers, body) => {
          try {
            fromKafkaRecord({ value: body, headers });
          } catch (error) {
            assert.ok(error instanceof JunctionError, String(error));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
