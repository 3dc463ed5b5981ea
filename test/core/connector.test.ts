import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  eventOfRecord,
  isCloudEventRecord,
  type KafkaConnectorSpec,
  mapRecord,
  type PostgresCdcConnectorSpec,
  parsePostgresConnection,
  redactConnectorSpec,
  type SourceRecord,
  validateConnectorName,
  validateConnectorSpec,
  validateMapping,
} from '../../lib/core/connector.ts';
import { JunctionError } from '../../lib/core/errors.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

function record(overrides: Partial<SourceRecord> = {}): SourceRecord {
  return {
    topic: 'orders',
    partition: 2,
    offset: 41,
    key: utf8('order-7'),
    value: utf8('{"orderId":"o-7","customer":{"id":"c-1"},"total":12.5}'),
    headers: [['tenant', utf8('acme')]],
    timestamp: Date.UTC(2026, 11, 3, 12, 0, 0),
    ...overrides,
  };
}

function fails(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof JunctionError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.field, field);
    return true;
  });
}

test('a kafka connector spec gets its defaults', () => {
  const spec = validateConnectorSpec({
    type: 'kafka',
    brokers: ['127.0.0.1:9092'],
    topic: 'orders',
    group: 'g',
  });
  assert.deepEqual(spec, {
    type: 'kafka',
    brokers: ['127.0.0.1:9092'],
    topic: 'orders',
    group: 'g',
    startFrom: 'earliest',
    mapping: { type: 'kafka.{topic}', source: 'kafka://{topic}', id: '{topic}-{partition}-{offset}' },
    maxBatch: 500,
  });
  assert.ok(Object.isFrozen(spec));
});

test('a connector spec that is wrong is refused, naming the field', () => {
  const base = { type: 'kafka', brokers: ['127.0.0.1:9092'], topic: 'orders', group: 'g' };
  fails(() => validateConnectorSpec(null), 'InvalidRequest', 'body');
  fails(() => validateConnectorSpec({ ...base, type: 'mysql' }), 'InvalidRequest', 'type');
  fails(() => validateConnectorSpec({ ...base, brokers: [] }), 'InvalidRequest', 'brokers');
  fails(() => validateConnectorSpec({ ...base, brokers: ['nohost'] }), 'InvalidRequest', 'brokers[0]');
  fails(() => validateConnectorSpec({ ...base, topic: 'a b' }), 'InvalidRequest', 'topic');
  fails(() => validateConnectorSpec({ ...base, group: '' }), 'InvalidRequest', 'group');
  fails(() => validateConnectorSpec({ ...base, startFrom: 'now' }), 'InvalidRequest', 'startFrom');
  fails(() => validateConnectorSpec({ ...base, maxBatch: 0 }), 'InvalidRequest', 'maxBatch');
  fails(() => validateConnectorSpec({ ...base, extra: 1 }), 'InvalidRequest', 'extra');
  fails(() => validateConnectorSpec({ ...base, mapping: { kind: 'x' } }), 'InvalidRequest', 'mapping.kind');
  fails(
    () => validateConnectorSpec({ ...base, mapping: { type: '{nope}' } }),
    'InvalidRequest',
    'mapping.type',
  );
  fails(
    () => validateConnectorSpec({ ...base, mapping: { id: 'x'.repeat(513) } }),
    'InvalidRequest',
    'mapping.id',
  );
  // Without brokers only where the bus has a Kafka of its own.
  const { brokers: _omitted, ...own } = base;
  fails(() => validateConnectorSpec(own), 'InvalidRequest', 'brokers');
  assert.equal((validateConnectorSpec(own, { hasOwnKafka: true }) as KafkaConnectorSpec).brokers, undefined);
});

test('a postgres-cdc spec: defaults, every field checked, the password redacted on read', () => {
  const base = {
    type: 'postgres-cdc',
    connection: 'postgres://app:s3cret@db.example.com:6543/shop',
    publication: 'p',
    slot: 's',
  };
  const spec = validateConnectorSpec(base) as PostgresCdcConnectorSpec;
  assert.equal(spec.typePrefix, 'postgres');
  assert.equal(spec.source, 'postgres://db.example.com:6543/shop/s');
  assert.equal(spec.data, 'change');
  assert.equal(spec.maxBatch, 500);
  assert.equal(spec.snapshot, false);
  const shown = redactConnectorSpec(spec) as PostgresCdcConnectorSpec;
  assert.equal(shown.connection, 'postgres://app:***@db.example.com:6543/shop');
  assert.ok(!JSON.stringify(shown).includes('s3cret'));
  assert.deepEqual(parsePostgresConnection(base.connection), {
    host: 'db.example.com',
    port: 6543,
    database: 'shop',
    user: 'app',
    password: 's3cret',
    sslmode: 'disable',
  });
  for (const [bad, field] of [
    [{ connection: 'mysql://a@b/c' }, 'connection'],
    [{ connection: 'postgres://b/c' }, 'connection'],
    [{ connection: 'postgres://a@b/' }, 'connection'],
    [{ connection: 'postgres://a@b/c?sslmode=prefer' }, 'connection'],
    [{ connection: 'postgres://a@b/c?options=-c' }, 'connection'],
    [{ publication: 'P; DROP' }, 'publication'],
    [{ slot: 'x'.repeat(64) }, 'slot'],
    [{ snapshot: 'yes' }, 'snapshot'],
    [{ typePrefix: '.x' }, 'typePrefix'],
    [{ data: 'rows' }, 'data'],
    [{ maxBatch: 0 }, 'maxBatch'],
    [{ topic: 't' }, 'topic'],
  ] as const) {
    fails(() => validateConnectorSpec({ ...base, ...bad }), 'InvalidRequest', field);
  }
  // The connection string is never echoed in an error (it may hold a password).
  try {
    validateConnectorSpec({ ...base, connection: 'postgres://a:hunter2@b/c?x=1' });
    assert.fail('accepted');
  } catch (error) {
    assert.ok(!String((error as Error).message).includes('hunter2'));
  }
});

test('connector names follow the rule-name rules', () => {
  assert.equal(validateConnectorName('orders-in.1'), 'orders-in.1');
  fails(() => validateConnectorName('-x'), 'InvalidRequest', 'name');
  fails(() => validateConnectorName('x'.repeat(65)), 'InvalidRequest', 'name');
});

test('a record becomes an event through the default mapping: its id is its position', () => {
  const event = mapRecord(record(), validateMapping(undefined));
  assert.equal(event.id, 'orders-2-41');
  assert.equal(event.source, 'kafka://orders');
  assert.equal(event.type, 'kafka.orders');
  assert.equal(event.time, '2026-12-03T12:00:00.000Z');
  assert.equal(event.datacontenttype, 'application/json');
  assert.deepEqual(event.data, { orderId: 'o-7', customer: { id: 'c-1' }, total: 12.5 });
  // The same record read twice is the same event.
  assert.deepEqual(mapRecord(record(), validateMapping(undefined)), event);
});

test('mapping templates read the key, headers and JSON members of the value', () => {
  const mapping = validateMapping({
    type: 'com.shop.{header.tenant}.order',
    source: '/shop/{topic}/{partition}',
    id: 'order-{value.orderId}-{offset}',
    subject: '{value.customer.id}',
    partitionkey: '{key}',
  });
  const event = mapRecord(record(), mapping);
  assert.equal(event.type, 'com.shop.acme.order');
  assert.equal(event.source, '/shop/orders/2');
  assert.equal(event.id, 'order-o-7-41');
  assert.equal(event.subject, 'c-1');
  assert.equal(event.partitionkey, 'order-7');
});

test('a placeholder with no value in the record fails that record, naming the attribute', () => {
  fails(
    () => mapRecord(record({ headers: [] }), validateMapping({ type: 'x.{header.tenant}' })),
    'InvalidEvent',
    'mapping.type',
  );
  fails(
    () => mapRecord(record({ key: null }), validateMapping({ subject: '{key}' })),
    'InvalidEvent',
    'mapping.subject',
  );
  fails(
    () => mapRecord(record({ value: utf8('not json') }), validateMapping({ id: '{value.orderId}' })),
    'InvalidEvent',
    'mapping.id',
  );
});

test('values that are not JSON are text when UTF-8, else base64', () => {
  const mapping = validateMapping(undefined);
  const text = mapRecord(record({ value: utf8('plain words') }), mapping);
  assert.equal(text.datacontenttype, 'text/plain');
  assert.equal(text.data, 'plain words');
  const bytes = mapRecord(record({ value: new Uint8Array([0xff, 0x00, 0xfe]) }), mapping);
  assert.equal(bytes.datacontenttype, 'application/octet-stream');
  assert.equal(bytes.data_base64, '/wD+');
  const empty = mapRecord(record({ value: null }), mapping);
  assert.equal(empty.data, undefined);
});

test('CloudEvents in the Kafka binding are taken as they are, binary and structured', () => {
  const binary = record({
    value: utf8('{"n":1}'),
    headers: [
      ['ce_specversion', utf8('1.0')],
      ['ce_id', utf8('b-1')],
      ['ce_source', utf8('/producer')],
      ['ce_type', utf8('com.example.binary')],
      ['content-type', utf8('application/json')],
    ],
  });
  assert.ok(isCloudEventRecord(binary));
  const fromBinary = eventOfRecord(binary, validateMapping(undefined));
  assert.equal(fromBinary.id, 'b-1');
  assert.equal(fromBinary.type, 'com.example.binary');
  assert.deepEqual(fromBinary.data, { n: 1 });
  const structured = record({
    value: utf8(JSON.stringify({ specversion: '1.0', id: 's-1', source: '/p', type: 't.s', data: { m: 2 } })),
    headers: [['content-type', utf8('application/cloudevents+json; charset=utf-8')]],
  });
  assert.ok(isCloudEventRecord(structured));
  assert.equal(eventOfRecord(structured, validateMapping(undefined)).id, 's-1');
  assert.ok(!isCloudEventRecord(record()));
});

test('a record that claims to be a CloudEvent and is not one is refused with the reason', () => {
  const broken = record({
    value: utf8('{"specversion":"1.0","id":"x"}'),
    headers: [['content-type', utf8('application/cloudevents+json')]],
  });
  assert.throws(
    () => eventOfRecord(broken, validateMapping(undefined)),
    (error: unknown) => {
      assert.ok(error instanceof JunctionError);
      assert.equal(error.code, 'InvalidEvent');
      assert.match(error.message, /source|type/);
      return true;
    },
  );
});
