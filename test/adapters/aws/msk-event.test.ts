/** Decoding the MSK event source mapping's event (recorded shape) and building it back from raw Kafka records. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  buildMskEvent,
  decodeMskEvent,
  headerBytes,
  type MskEvent,
  signedBytes,
  toMskRecord,
} from '../../../lib/adapters/aws/msk-event.ts';
import { toKafkaRecord } from '../../../lib/core/codec/kafka.ts';
import { repoRoot } from '../../helpers/paths.ts';

const fixture = JSON.parse(
  readFileSync(join(repoRoot, 'test', 'fixtures', 'aws', 'msk-event.json'), 'utf8'),
) as MskEvent;

describe('decodeMskEvent', () => {
  it('decodes the recorded event into one batch per partition, read from each record (topics contain "-")', () => {
    const batches = decodeMskEvent(fixture);
    assert.deepEqual(
      batches.map((b) => [b.topic, b.partition]),
      [
        ['junction-events', 0],
        ['junction-events', 1],
      ],
    );
    const [p0, p1] = batches;
    assert.equal(p0?.records.length, 1);
    assert.deepEqual(p0?.records[0], {
      partition: 0,
      offset: 15,
      key: '/shop',
      timestamp: 1764264651002,
      event: {
        specversion: '1.0',
        id: 'order-1',
        source: '/shop',
        type: 'com.shop.order.created',
        datacontenttype: 'application/json',
        data: { id: 'o-1', total: 120 },
      },
    });
    // Binary mode: ce_ headers arrive as signed bytes (é, ë are negative); the key is UTF-8.
    const binary = p1?.records[0];
    assert.equal(binary?.key, 'café');
    assert.equal(binary?.event.id, 'order-2');
    assert.equal(binary?.event.source, '/cafe');
    assert.equal(binary?.event.subject, 'Zoë');
    assert.deepEqual(binary?.event.data, { name: 'Zoë', total: 80 });
  });

  it('puts a record that is not a CloudEvent aside with its raw bytes and the reason', () => {
    const [p0] = decodeMskEvent(fixture);
    assert.equal(p0?.undecodable.length, 1);
    const bad = p0?.undecodable[0];
    assert.equal(bad?.offset, 16);
    assert.equal(bad?.topic, 'junction-events');
    assert.equal(Buffer.from(bad?.value ?? '', 'base64').toString('utf8'), '{"not":"a cloudevent"');
    assert.equal(bad?.error.code, 'InvalidJson');
    assert.deepEqual(
      bad?.headers.map((h) => [h.name, Buffer.from(h.value, 'base64').toString('utf8')]),
      [['content-type', 'application/cloudevents+json; charset=utf-8']],
    );
  });

  it('sorts each partition by offset and accepts records without key or headers', () => {
    const value = (id: string) =>
      Buffer.from(JSON.stringify({ specversion: '1.0', id, source: '/s', type: 't' })).toString('base64');
    const structured = [{ 'content-type': signedBytes(Buffer.from('application/cloudevents+json')) }];
    const batches = decodeMskEvent({
      eventSource: 'aws:kafka',
      bootstrapServers: 'b:9098',
      records: {
        'a-b-c-3': [
          {
            topic: 'a-b-c',
            partition: 3,
            offset: 9,
            timestamp: 2,
            timestampType: 'CREATE_TIME',
            value: value('2'),
            headers: structured,
          },
          {
            topic: 'a-b-c',
            partition: 3,
            offset: 4,
            timestamp: 1,
            timestampType: 'CREATE_TIME',
            value: value('1'),
            headers: structured,
          },
        ],
      },
    });
    assert.equal(batches.length, 1);
    assert.equal(batches[0]?.topic, 'a-b-c');
    assert.equal(batches[0]?.partition, 3);
    assert.deepEqual(
      batches[0]?.records.map((r) => [r.offset, r.event.id, r.key]),
      [
        [4, '1', '/s'],
        [9, '2', '/s'],
      ],
    );
  });

  it('sets aside a record with a malformed field instead of failing the batch', () => {
    const batches = decodeMskEvent({
      eventSource: 'aws:kafka',
      bootstrapServers: 'b:9098',
      records: {
        't-0': [{ topic: 't', partition: 0, offset: 1, timestamp: 1, value: 'not base64!', headers: [] }],
        't-1': [{ topic: 't', partition: 1, offset: 'x', timestamp: 1, headers: [] }],
      },
    });
    assert.equal(batches.flatMap((b) => b.undecodable).length, 2);
    assert.match(batches[0]?.undecodable[0]?.error.message ?? '', /value must be base64/);
    assert.equal(batches[1]?.undecodable[0]?.partition, 1);
  });

  it('rejects an event that is not from a Kafka mapping, naming the field', () => {
    assert.throws(() => decodeMskEvent({ Records: [] }), { code: 'InvalidRequest', field: 'eventSource' });
    assert.throws(() => decodeMskEvent({ eventSource: 'aws:kafka', records: [] }), {
      code: 'InvalidRequest',
      field: 'records',
    });
    assert.throws(() => decodeMskEvent('x'), { code: 'InvalidRequest', field: 'event' });
  });
});

describe('header bytes', () => {
  it('maps signed Java bytes to bytes and back', () => {
    const bytes = Buffer.from('ë€', 'utf8');
    const signed = signedBytes(bytes);
    assert.deepEqual(signed, [-61, -85, -30, -126, -84]);
    assert.deepEqual(Buffer.from(headerBytes(signed)), bytes);
    assert.deepEqual(Buffer.from(headerBytes([195, 171])), Buffer.from('ë'));
  });

  it('rejects values outside -128..255', () => {
    assert.throws(() => headerBytes([300]), { code: 'InvalidRequest', field: 'headers[0]' });
    assert.throws(() => headerBytes([1.5]), { code: 'InvalidRequest' });
  });
});

describe('buildMskEvent', () => {
  it('builds the documented shape that decodes back to the same events', () => {
    const ce = {
      specversion: '1.0',
      id: 'x-1',
      source: '/u',
      subject: 'ü',
      type: 't',
      datacontenttype: 'application/json',
      data: { ok: true },
    } as const;
    const kafka = toKafkaRecord(ce, 'binary');
    const event = buildMskEvent({
      eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/c/1',
      bootstrapServers: ['127.0.0.1:9092', '127.0.0.1:9093'],
      records: [
        {
          topic: 'my-topic',
          partition: 2,
          offset: 41,
          timestamp: 1000,
          key: Buffer.from(kafka.key),
          value: kafka.value,
          headers: kafka.headers.map(([n, v]) => [n, v] as const),
        },
      ],
    });
    assert.equal(event.eventSource, 'aws:kafka');
    assert.equal(event.bootstrapServers, '127.0.0.1:9092,127.0.0.1:9093');
    assert.deepEqual(Object.keys(event.records), ['my-topic-2']);
    const record = event.records['my-topic-2']?.[0];
    assert.equal(record?.timestampType, 'CREATE_TIME');
    assert.equal(record?.key, Buffer.from('/u').toString('base64'));
    assert.ok(record?.headers.every((h) => Object.keys(h).length === 1));
    assert.ok(
      record?.headers.some((h) => (h.ce_subject ?? []).some((b) => b < 0)),
      'non-ASCII as negative bytes',
    );
    const [batch] = decodeMskEvent(JSON.parse(JSON.stringify(event)));
    assert.deepEqual(batch?.records[0]?.event, ce);
  });

  it('omits key and value when the record has none', () => {
    const record = toMskRecord({
      topic: 't',
      partition: 0,
      offset: 0,
      timestamp: 0,
      key: null,
      value: null,
      headers: [],
    });
    assert.equal('key' in record, false);
    assert.equal('value' in record, false);
  });
});
