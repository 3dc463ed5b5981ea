/** Tests of the RFC 3986 URI-reference and absolute URI checks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAbsoluteUri, isUriReference } from '../../../lib/core/codec/uri.ts';

test('accepts URI-references of every form', () => {
  for (const text of [
    'https://cloudevents.io',
    '#fragment',
    '/a/b?c=d',
    'a/b',
    '1-555-123-4567',
    '//authority/path',
    'urn:isbn:0451450523',
    'mailto:a@b.c',
    'http://[2001:db8::7]/c=GB?objectClass?one',
    '',
    "/x!$&'()*+,;=:@",
    '%7e',
  ]) {
    assert.equal(isUriReference(text), true, text);
  }
});

test('rejects what is not a URI-reference', () => {
  for (const text of [
    'a b',
    '<x>',
    '%zz',
    '%4',
    ':x',
    '1a:b',
    'a#b#c',
    'http://x/[y]',
    'ü',
    'a\\b',
    'x^y',
    'a`b',
    '{x}',
    '"q"',
  ]) {
    assert.equal(isUriReference(text), false, text);
  }
});

test('requires a scheme for an absolute URI', () => {
  assert.equal(isAbsoluteUri('https://example.com/schema.json'), true);
  assert.equal(isAbsoluteUri('urn:example:x'), true);
  for (const text of ['/relative', '//host/path', 'example.com', '#x', ''])
    assert.equal(isAbsoluteUri(text), false, text);
});
