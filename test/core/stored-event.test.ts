/** Records the bus wrote itself, read back without the codec's scan (`serializeStoredEvent`, `readStoredEvent`). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  parseEventJson,
  readStoredEvent,
  serializeEvent,
  serializeStoredEvent,
  validateEvent,
  withExtension,
} from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { rawDataOf, rawDataText } from '../../lib/core/codec/raw-data.ts';
import { withTraceContext } from '../../lib/core/trace-context.ts';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

/** What a full read of `text` gives, to compare a trusted read with: same members, same order, same text out. */
function assertSameAsFullRead(read: CloudEvent | undefined, text: string): void {
  assert.ok(read !== undefined, 'the trusted read took the record');
  const full = parseEventJson(text);
  assert.deepEqual(read, full);
  assert.deepEqual(Object.keys(read), Object.keys(full));
  assert.equal(serializeEvent(read), serializeEvent(full));
  assert.equal(rawDataText(read), rawDataText(full), 'data stays the stored text');
  assert.ok(Object.isFrozen(read));
}

test('a record the bus wrote reads back as the full check reads it, data left as text', () => {
  const events = [
    parseEventJson('{"specversion":"1.0","id":"a","source":"s","type":"t","data":{"n":1.50,"s":"x"}}'),
    parseEventJson(
      '{"specversion":"1.0","id":"é \\"quoted\\" \\u00e9 \\\\","source":"urn:s","type":"t","subject":"a,\\"data\\":b",' +
        '"time":"2026-12-04T00:00:00Z","datacontenttype":"application/json","n1":-12,"flag":true,"off":false,' +
        '"data":{"data":{"data":1},"x":[1,2,{"data":"}"}]}}',
    ),
    parseEventJson('{"specversion":"1.0","id":"b","source":"s","type":"t","data":"just a string"}'),
    parseEventJson('{"specversion":"1.0","id":"c","source":"s","type":"t","data":12345678901234567890123}'),
    parseEventJson(
      '{"specversion":"1.0","id":"d","source":"s","type":"t","datacontenttype":"text/plain","data":"plain"}',
    ),
  ];
  // Trace context is set after the data: data is then not the last member of the text.
  events.push(withTraceContext(events[0] as CloudEvent, { traceparent: TRACEPARENT, tracestate: 'k=v' }));
  let spans = 0;
  for (const event of events) {
    const { text, dataAt, dataEnd } = serializeStoredEvent(event);
    assert.equal(text, serializeEvent(event));
    if (rawDataText(event) === undefined) {
      assert.equal(dataAt, -1, 'data that is not JSON text has no span');
      continue;
    }
    spans++;
    assert.equal(text.slice(dataAt, dataEnd), rawDataText(event));
    assertSameAsFullRead(readStoredEvent(text, dataAt, dataEnd), text);
  }
  assert.equal(spans, 4);
  const traced = serializeStoredEvent(events.at(-1) as CloudEvent);
  assert.ok(traced.dataEnd < traced.text.length - 1, 'the traced event has members after its data');
});

test('events without data text have no span: they are read with the full check', () => {
  for (const event of [
    parseEventJson('{"specversion":"1.0","id":"a","source":"s","type":"t"}'),
    parseEventJson('{"specversion":"1.0","id":"a","source":"s","type":"t","data_base64":"AAEC"}'),
    validateEvent({ specversion: '1.0', id: 'a', source: 's', type: 't', data: { n: 1 } }),
  ]) {
    const stored = serializeStoredEvent(event);
    assert.equal(stored.text, serializeEvent(event));
    assert.equal(stored.dataAt, -1);
    assert.equal(readStoredEvent(stored.text, stored.dataAt, stored.dataEnd), undefined);
  }
});

test('a span that does not fit the record is refused (the caller then reads it with the full check)', () => {
  const text =
    '{"specversion":"1.0","id":"a","source":"s","type":"t","data":{"a":1,"data":2,"b":{"data":"x"}},"ext":"y"}';
  const real = serializeStoredEvent(parseEventJson(text));
  assert.ok(readStoredEvent(real.text, real.dataAt, real.dataEnd) !== undefined);
  const nested = text.indexOf(',"data":2') + 8;
  const nestedString = text.indexOf(',"data":"x"') + 8;
  const forged: [number, number][] = [
    [nested, nested + 1], // a member named data inside the data
    [nestedString, nestedString + 3],
    [real.dataAt + 1, real.dataEnd], // off by one
    [real.dataAt, real.dataEnd - 1],
    [real.dataAt, real.dataEnd + 1],
    [real.dataAt, text.length], // out of range
    [-5, 3],
    [0, 0],
    [real.dataAt + 0.5, real.dataEnd],
    [Number.NaN, real.dataEnd],
  ];
  for (const [at, end] of forged) {
    assert.equal(readStoredEvent(text, at, end), undefined, `span [${at}, ${end}) is refused`);
  }
  // Members the bus never writes: a nested value, a null, required attributes out of order or missing, bad names.
  for (const bad of [
    '{"specversion":"1.0","id":"a","source":"s","type":"t","ext":{"x":1},"data":1}',
    '{"specversion":"1.0","id":"a","source":"s","type":"t","ext":null,"data":1}',
    '{"id":"a","specversion":"1.0","source":"s","type":"t","data":1}',
    '{"specversion":"1.0","id":"a","source":"s","data":1}',
    '{"specversion":"1.0","id":7,"source":"s","type":"t","data":1}',
    '{"specversion":"1.0","id":"a","source":"s","type":"t","Bad-Name":"x","data":1}',
    '{"specversion":"1.0","id":"a","source":"s","type":"t","n":1e999,"data":1}',
    '{"specversion":"1.0","id":"a","source":"s","type":"t","x":"unterminated,"data":1}',
  ]) {
    const at = bad.lastIndexOf(',"data":') + 8;
    assert.equal(readStoredEvent(bad, at, bad.length - 1), undefined, bad);
  }
});

test('withExtension sets one extension on a copy and leaves JSON data as unparsed text (a replay marks events so)', () => {
  const text =
    '{"specversion":"1.0","id":"a","source":"s","type":"t","ext":"x","data":{"n":12345678901234567890123}}';
  const event = parseEventJson(text);
  const replayed = withExtension(event, 'replayname', 'r1');
  assert.equal(rawDataText(replayed), '{"n":12345678901234567890123}', 'the data is still the text');
  assert.equal(rawDataOf(replayed)?.parsed, false, 'and was not parsed');
  assert.equal(
    serializeEvent(replayed),
    '{"specversion":"1.0","id":"a","source":"s","type":"t","ext":"x","data":{"n":12345678901234567890123},"replayname":"r1"}',
  );
  assert.ok(Object.isFrozen(replayed));
  assert.equal(event.replayname, undefined, 'the event itself is unchanged');
  // An extension the event has keeps its place.
  assert.deepEqual(Object.keys(withExtension(event, 'ext', 'y')), Object.keys(event));
  assert.equal(withExtension(event, 'ext', 'y').ext, 'y');
  // Data read later is parsed and frozen then, once.
  assert.ok(Object.isFrozen(replayed.data));
});

test('for random events, the trusted read equals the full read (attributes, extensions, data, trace context)', () => {
  const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
  const name = fc
    .stringMatching(/^[a-z][a-z0-9]{0,6}$/)
    .filter((n) => !['specversion', 'id', 'source', 'type', 'data', 'traceparent', 'tracestate'].includes(n));
  const extension = fc.oneof(text, fc.integer({ min: -2147483648, max: 2147483647 }), fc.boolean());
  const input = fc.record({
    id: text,
    type: text,
    subject: fc.option(text, { nil: undefined }),
    time: fc.option(fc.constant('2026-12-04T06:00:00.123+01:00'), { nil: undefined }),
    extensions: fc.dictionary(name, extension, { maxKeys: 4 }),
    data: fc.json({ maxDepth: 3 }),
    traced: fc.boolean(),
  });
  fc.assert(
    fc.property(input, (e) => {
      const raw: Record<string, unknown> = { specversion: '1.0', id: e.id, source: 'urn:s', type: e.type };
      if (e.subject !== undefined) raw.subject = e.subject;
      if (e.time !== undefined) raw.time = e.time;
      Object.assign(raw, e.extensions);
      let event: CloudEvent;
      try {
        event = parseEventJson(`${JSON.stringify(raw).slice(0, -1)},"data":${e.data}}`);
      } catch {
        return; // not a valid event (a control character, say): ingest would have refused it
      }
      if (e.traced) event = withTraceContext(event, { traceparent: TRACEPARENT });
      const stored = serializeStoredEvent(event);
      if (stored.dataAt < 0) return; // data that is not JSON text (a string): no span, the full check
      const read = readStoredEvent(stored.text, stored.dataAt, stored.dataEnd);
      if (read === undefined) {
        // Only a record that does not start with specversion (an extension named like an array index) is left to
        // the full check.
        assert.ok(!stored.text.startsWith('{"specversion":'), stored.text);
        return;
      }
      assertSameAsFullRead(read, stored.text);
    }),
    { numRuns: 500 },
  );
});
