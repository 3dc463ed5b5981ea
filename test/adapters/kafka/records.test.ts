/** Kafka messages of events: the CloudEvents binding (structured), the key, and the Java client's partitioner. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { partitionOf, recordsFromBatches, toMessage } from '../../../lib/adapters/kafka/records.ts';
import { makeEvent } from '../../helpers/events.ts';

test('places keys in the partitions the Java client picks', () => {
  // Computed with org.apache.kafka.common.utils.Utils (toPositive(murmur2(bytes)) % n) from kafka-clients 4.1.1.
  const expected: Array<[string, number, number]> = [
    ['urn:test:source', 5, 2],
    ['order-42', 0, 1],
    ['', 3, 2],
    ['héllo', 0, 2],
    ['com.example/orders', 5, 2],
  ];
  for (const [key, of6, of7] of expected) {
    assert.equal(partitionOf(Buffer.from(key, 'utf8'), 6), of6, `${key} of 6`);
    assert.equal(partitionOf(Buffer.from(key, 'utf8'), 7), of7, `${key} of 7`);
  }
});

test('writes an event as a structured record keyed by partitionkey, else source', () => {
  const keyed = makeEvent({ partitionkey: 'order-42' });
  const message = toMessage(keyed, 'events', 6, 1234);
  assert.equal(message.key.toString(), 'order-42');
  assert.equal(message.partition, 0);
  assert.equal(message.timestamp, 1234n);
  assert.deepEqual(JSON.parse(message.value.toString()), keyed);
  const headers = [...message.headers].map(([k, v]) => [k.toString(), v.toString()]);
  assert.deepEqual(headers, [['content-type', 'application/cloudevents+json; charset=utf-8']]);
  assert.equal(toMessage(makeEvent({ source: 'urn:a' }), 'events', 6, 0).key.toString(), 'urn:a');
});

test('reads records back from batches from an offset, skipping what does not decode', () => {
  const events = [makeEvent(), makeEvent(), makeEvent()];
  const messages = events.map((e) => toMessage(e, 't', 1, 5000));
  const record = (i: number, value: Buffer) => ({
    length: 0,
    attributes: 0,
    timestampDelta: BigInt(i),
    offsetDelta: i,
    key: messages[0]!.key,
    value,
    headers: [...messages[0]!.headers] as [Buffer, Buffer][],
  });
  const batch = {
    firstOffset: 10n,
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes: 0,
    lastOffsetDelta: 3,
    firstTimestamp: 5000n,
    maxTimestamp: 5003n,
    producerId: 0n,
    producerEpoch: 0,
    firstSequence: 0,
    records: [
      record(0, messages[0]!.value),
      record(1, messages[1]!.value),
      record(2, Buffer.from('not json')),
      record(3, messages[2]!.value),
    ],
  };
  const skipped: number[] = [];
  const records = recordsFromBatches([batch], 0, 11, (offset) => skipped.push(offset));
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.event.id]),
    [
      [11, 5001, events[1]!.id],
      [13, 5003, events[2]!.id],
    ],
  );
  assert.deepEqual(skipped, [12]);
});
