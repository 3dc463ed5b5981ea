/** Tests of the payload mapping between bodies and data / data_base64. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateEvent } from '../../../lib/core/cloudevent.ts';
import { payloadFromBytes, payloadToBytes } from '../../../lib/core/codec/payload.ts';
import { JsonText } from '../../../lib/core/codec/raw-data.ts';

const enc = new TextEncoder();
const base = { specversion: '1.0', id: '1', source: '/s', type: 't' };

test('maps bodies by content type', () => {
  assert.deepEqual(payloadFromBytes('application/json', enc.encode('{"a":1}')), {
    data: new JsonText('{"a":1}', 0),
  });
  assert.deepEqual(payloadFromBytes('application/json', enc.encode(' "a" ')), { data: 'a' });
  assert.deepEqual(payloadFromBytes('application/json', enc.encode('null')), { data: null });
  assert.deepEqual(payloadFromBytes('text/plain', enc.encode('hi')), { data: 'hi' });
  assert.deepEqual(payloadFromBytes('image/png', Uint8Array.from([1, 2, 3])), { data_base64: 'AQID' });
  assert.deepEqual(payloadFromBytes(undefined, enc.encode('{"a":1}')), { data_base64: 'eyJhIjoxfQ==' });
  assert.deepEqual(payloadFromBytes('application/json', new Uint8Array()), {});
});

test('writes data as bytes with the content type it needs', () => {
  assert.deepEqual(payloadToBytes(validateEvent({ ...base, data: 'x' })), {
    contentType: 'application/json',
    body: enc.encode('"x"'),
  });
  assert.deepEqual(payloadToBytes(validateEvent({ ...base, datacontenttype: 'text/plain', data: 'x' })), {
    contentType: 'text/plain',
    body: enc.encode('x'),
  });
  assert.deepEqual(payloadToBytes(validateEvent({ ...base, data_base64: 'AQID' })), {
    contentType: undefined,
    body: Uint8Array.from([1, 2, 3]),
  });
  assert.deepEqual(payloadToBytes(validateEvent(base)).body, new Uint8Array());
});
