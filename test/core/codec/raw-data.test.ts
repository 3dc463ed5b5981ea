/** Tests of JSON data kept as text: the lazy `data` behaves like a plain property, and the text is forwarded unchanged. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { eventSize, parseEventJson, serializeEvent, validateEvent } from '../../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import {
  type HttpHeaders,
  parseHttpRequest,
  toHttpBatch,
  toHttpMessage,
} from '../../../lib/core/codec/http.ts';
import { fromKafkaRecord, toKafkaRecord } from '../../../lib/core/codec/kafka.ts';
import { rawDataText } from '../../../lib/core/codec/raw-data.ts';
import { utf8Length } from '../../../lib/core/codec/utf8.ts';
import { matchesPattern, PatternIndex } from '../../../lib/core/pattern/index.ts';
import { compileInput } from '../../../lib/core/transform.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const attributes = { specversion: '1.0', id: 'o-1', source: '/shop', type: 'order.created', subject: 'o/1' };
const data = { order: 'o-1', total: 12.5, lines: [{ sku: 'a', qty: 2 }], tags: ['x'], gift: null, ok: true };
const plain = validateEvent({ ...attributes, datacontenttype: 'application/json', data });

/** A structured-mode event whose data is kept as text (the scanner's path), as ingest produces it. */
function ingested(
  body: string = JSON.stringify({ ...attributes, datacontenttype: 'application/json', data }),
) {
  const parsed = parseHttpRequest({ 'content-type': 'application/cloudevents+json' }, enc.encode(body));
  assert.equal(parsed.mode, 'structured');
  return (parsed as { event: CloudEvent }).event;
}

test('keeps JSON data as text until it is read, then parses it once, deeply frozen', () => {
  const event = ingested();
  assert.equal(rawDataText(event), JSON.stringify(data));
  const first = event.data;
  assert.deepEqual(first, data);
  assert.equal(event.data, first, 'memoized: the same value on every read');
  assert.ok(Object.isFrozen(event));
  assert.ok(Object.isFrozen(first));
  assert.ok(Object.isFrozen((first as { lines: object[] }).lines[0]));
  assert.throws(() => {
    (event as { data: unknown }).data = 1;
  }, TypeError);
});

test('reads like a plain property: keys, spread, entries, in, JSON.stringify', () => {
  const event = ingested();
  assert.deepEqual(Object.keys(event), Object.keys(plain));
  assert.ok('data' in event);
  assert.ok(Object.hasOwn(event, 'data'));
  const copy = { ...event };
  assert.deepEqual(copy.data, data);
  assert.equal(
    Object.getOwnPropertyDescriptor(copy, 'data')?.value,
    copy.data,
    'the copy holds a plain value',
  );
  assert.deepEqual(Object.fromEntries(Object.entries(event)), JSON.parse(JSON.stringify(plain)));
  assert.equal(JSON.stringify(event), JSON.stringify(plain));
  const enumerableSymbols = Object.getOwnPropertySymbols(event).filter(
    (key) => Object.getOwnPropertyDescriptor(event, key)?.enumerable,
  );
  assert.deepEqual(enumerableSymbols, [], 'the text is kept out of sight of copies and comparisons');
});

test('compares equal to the same event with plain data, and unequal to other data', () => {
  const event = ingested();
  assert.deepStrictEqual(event, plain);
  assert.deepEqual(event, plain);
  assert.notDeepStrictEqual(event, validateEvent({ ...plain, data: { ...data, total: 13 } }));
});

test('survives structuredClone and postMessage (MessageChannel) with its data', () => {
  const event = ingested();
  assert.deepStrictEqual(structuredClone(event), JSON.parse(JSON.stringify(plain)));
  const { port1, port2 } = new MessageChannel();
  port1.postMessage({ event });
  const received = receiveMessageOnPort(port2)?.message as { event: CloudEvent };
  assert.deepStrictEqual(received.event, JSON.parse(JSON.stringify(plain)));
  port1.close();
});

test('reaches a worker thread with its data, as user functions receive events', async () => {
  const event = ingested();
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.once('message', (event) => parentPort.postMessage({ total: event.data.total, sku: event.data.lines[0].sku, keys: Object.keys(event) }));`,
    { eval: true },
  );
  try {
    const reply = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage(event);
    });
    assert.deepEqual(reply, { total: 12.5, sku: 'a', keys: Object.keys(plain) });
  } finally {
    await worker.terminate();
  }
});

test('feeds the pattern matcher and input transforms like plain data', () => {
  const pattern = {
    type: ['order.created'],
    data: { total: [{ numeric: ['>', 10] }], lines: { sku: ['a'] } },
  };
  assert.equal(matchesPattern(pattern, ingested()), true);
  assert.equal(matchesPattern({ data: { total: [{ numeric: ['>', 100] }] } }, ingested()), false);
  const index = new PatternIndex();
  index.add('big', pattern);
  assert.deepEqual(index.match(ingested()), ['big']);
  const context = { ruleName: 'r', targetId: 't' };
  assert.deepEqual(compileInput({ path: '$.data.lines[0]' })(ingested(), context), {
    body: '{"sku":"a","qty":2}',
    contentType: 'application/json',
  });
  assert.equal(compileInput({ path: '$' })(ingested(), context).body, JSON.stringify(plain));
});

test('is not parsed at ingest, nor by serialization, sizing or any encoder', () => {
  const calls = countingParse();
  try {
    const event = ingested();
    serializeEvent(event);
    eventSize(event);
    toHttpMessage(event, 'binary');
    toHttpMessage(event, 'structured');
    toHttpBatch([event, event]);
    toKafkaRecord(event);
    toKafkaRecord(event, 'binary');
    assert.equal(calls.count, 0);
    assert.deepEqual(event.data, data);
    assert.equal(calls.count, 1, 'the first read parses');
  } finally {
    calls.restore();
  }
});

/** Counts JSON.parse calls until restored. */
function countingParse(): { count: number; restore: () => void } {
  const original = JSON.parse;
  const state = { count: 0, restore: () => Object.assign(JSON, { parse: original }) };
  Object.assign(JSON, {
    parse: (text: string, reviver?: (key: string, value: unknown) => unknown) => {
      state.count++;
      return original(text, reviver);
    },
  });
  return state;
}

test('forwards the producer text unchanged: big integers keep their digits, whitespace stays', () => {
  const raw = '{ "id" : 12345678901234567890123,\n\t"price": 1.50, "list": [ 1 , 2 ] }';
  const body = `{"specversion":"1.0","id":"e1","source":"/s","type":"t","datacontenttype":"application/json","data":${raw}}`;
  const event = ingested(body);
  assert.equal(serializeEvent(event), body);
  assert.equal(eventSize(event), utf8Length(body));
  assert.equal(dec.decode(toHttpMessage(event, 'structured').body), body);
  assert.equal(dec.decode(toHttpMessage(event, 'binary').body), raw);
  assert.equal(dec.decode(toHttpBatch([event]).body), `[${body}]`);
  assert.equal(dec.decode(toKafkaRecord(event).value), body);
  assert.equal(dec.decode(toKafkaRecord(event, 'binary').value), raw);
  assert.equal((event.data as { id: number }).id, 1.2345678901234568e22, 'read as a JSON.parse number');
  assert.equal(serializeEvent(event), body, 'reading data does not change what is forwarded');
});

test('forwards a binary-mode JSON body byte for byte', () => {
  const raw = ' [ 1, {"a" : 99999999999999999999} ] \n';
  const headers: HttpHeaders = {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': 'b1',
    'ce-source': '/s',
    'ce-type': 't',
  };
  const parsed = parseHttpRequest(headers, enc.encode(raw));
  const event = (parsed as { event: CloudEvent }).event;
  assert.equal(rawDataText(event), raw);
  assert.equal(dec.decode(toHttpMessage(event, 'binary').body), raw);
  assert.equal(
    serializeEvent(event),
    `{"specversion":"1.0","id":"b1","source":"/s","type":"t","datacontenttype":"application/json","data":${raw}}`,
  );
  assert.deepEqual(event.data, [1, { a: 1e20 }]);
});

test('round-trips through the log format and Kafka records with the text kept', () => {
  const raw = '{"n":123456789012345678901234567890}';
  const event = ingested(
    `{"specversion":"1.0","id":"e1","source":"/s","type":"t","data":${raw},"partitionkey":"k"}`,
  );
  const again = parseEventJson(serializeEvent(event));
  assert.equal(rawDataText(again), raw);
  assert.deepStrictEqual(again, event);
  const fromKafka = fromKafkaRecord(toKafkaRecord(event));
  assert.equal(rawDataText(fromKafka), raw);
  const fromBinary = fromKafkaRecord(toKafkaRecord(event, 'binary'));
  assert.equal(rawDataText(fromBinary), raw);
  assert.deepStrictEqual(fromBinary, { ...event, datacontenttype: 'application/json' });
});

test('parseEventJson gives the same answers as JSON.parse + validateEvent for odd strings', () => {
  const event = '{"specversion":"1.0","id":"e1","source":"/s","type":"t","data":{"a":1}}';
  assert.throws(() => parseEventJson(`\uFEFF${event}`), { code: 'InvalidJson' });
  const unpaired = parseEventJson(event.replace('"a"', '"\ud800"')); // a raw lone surrogate
  assert.deepEqual(unpaired.data, { '\ud800': 1 });
  assert.equal(rawDataText(unpaired), undefined, 'no UTF-8 form: parsed at once');
  const escaped = parseEventJson(event.replace('"a"', '"\\ud800"')); // the escape \ud800
  assert.deepEqual(escaped.data, { '\ud800': 1 });
  assert.equal(rawDataText(escaped), '{"\\ud800":1}');
});

test('keeps strings and null as plain values', () => {
  const text = ingested(JSON.stringify({ ...attributes, datacontenttype: 'text/plain', data: 'hi' }));
  assert.equal(rawDataText(text), undefined);
  assert.equal(Object.getOwnPropertyDescriptor(text, 'data')?.value, 'hi');
  const none = ingested(JSON.stringify({ ...attributes, data: null }));
  assert.equal(rawDataText(none), undefined);
  assert.equal(none.data, null);
});
