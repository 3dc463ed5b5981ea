/** Tests of media type parsing and the payload kind of each datacontenttype. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMediaType, parseMediaType, payloadKind } from '../../../lib/core/codec/media-type.ts';

test('parses type, subtype and parameters case-insensitively', () => {
  const media = parseMediaType('TEXT/Plain; CharSet="UTF-8";  format=flowed');
  assert.equal(media?.essence, 'text/plain');
  assert.deepEqual(
    [...(media?.params ?? [])],
    [
      ['charset', 'UTF-8'],
      ['format', 'flowed'],
    ],
  );
  assert.equal(parseMediaType('a/b; q="x\\"y"')?.params.get('q'), 'x"y');
});

test('rejects what RFC 2046 does not allow', () => {
  for (const text of [
    '',
    'xyz',
    'text/',
    '/json',
    'text/plain;',
    'text/plain; x',
    'text/plain; x=',
    'a b/c',
    'text/plain; x="open',
    'text/plain x=y',
    'a/b/c',
  ]) {
    assert.equal(isMediaType(text), false, text);
  }
});

test('maps content types to JSON, text or bytes', () => {
  const cases: Array<[string | undefined, string]> = [
    [undefined, 'json'],
    ['application/json', 'json'],
    ['Application/JSON; charset=utf-8', 'json'],
    ['text/json', 'json'],
    ['application/vnd.api+json', 'json'],
    ['application/cloudevents+json', 'json'],
    ['text/plain', 'text'],
    ['text/plain; charset=us-ascii', 'text'],
    ['text/html; charset=UTF-8', 'text'],
    ['text/plain; charset=iso-8859-1', 'binary'],
    ['application/xml', 'text'],
    ['application/atom+xml', 'text'],
    ['application/octet-stream', 'binary'],
    ['image/png', 'binary'],
    ['application/protobuf', 'binary'],
  ];
  for (const [contentType, kind] of cases) assert.equal(payloadKind(contentType), kind, String(contentType));
  assert.equal(payloadKind('xyz'), null);
});
