import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkCrossSite,
  checkHost,
  checkOrigin,
  isLoopback,
  splitHost,
} from '../../../lib/core/auth/request-guard.ts';

const opts = { port: 8080 };

test('accepts loopback names with the bus port only', () => {
  for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST:8080', '[::1]:8080', 'localhost.:8080'])
    assert.equal(checkHost({ host }, opts), undefined, host);
  for (const host of [
    '127.0.0.1:9090',
    'attacker.example',
    'attacker.example:8080',
    '127.0.0.1',
    '',
    '[::1]',
  ])
    assert.equal(checkHost({ host }, opts)?.code, 'MisdirectedRequest', host);
  assert.equal(checkHost({}, opts)?.status, 421);
  assert.equal(checkHost({ ':authority': 'localhost:8080' }, opts), undefined, 'HTTP/2 :authority');
});

test('accepts configured names, with any port unless the entry names one', () => {
  const o = { port: 8080, allowedHosts: ['bus.example.com', 'api.example.com:8443'] };
  assert.equal(checkHost({ host: 'bus.example.com' }, o), undefined);
  assert.equal(checkHost({ host: 'bus.example.com:443' }, o), undefined);
  assert.equal(checkHost({ host: 'api.example.com:8443' }, o), undefined);
  assert.equal(checkHost({ host: 'api.example.com' }, o)?.code, 'MisdirectedRequest');
  assert.equal(checkHost({ host: 'evil.bus.example.com' }, o)?.code, 'MisdirectedRequest');
  assert.equal(
    checkHost({ host: 'localhost' }, { port: 443, tls: true }),
    undefined,
    'the default port of https',
  );
});

test('splits hosts and tells loopback addresses', () => {
  assert.deepEqual(splitHost('[::1]:80'), { name: '[::1]', port: '80' });
  assert.deepEqual(splitHost('Example.COM.'), { name: 'example.com', port: undefined });
  assert.equal(isLoopback('127.0.0.2'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('0.0.0.0'), false);
  assert.equal(isLoopback('10.0.0.1'), false);
});

test('refuses any Origin that is not allowed, and none by default', () => {
  assert.equal(checkOrigin({}, opts), undefined);
  assert.equal(checkOrigin({ origin: 'https://attacker.example' }, opts)?.code, 'Forbidden');
  assert.equal(checkOrigin({ origin: 'null' }, opts)?.field, 'origin');
  assert.equal(
    checkOrigin(
      { origin: 'https://console.example' },
      { ...opts, allowedOrigins: ['https://console.example'] },
    ),
    undefined,
  );
});

test("allows the bus's own origin (its console: same scheme and Host), and no other", () => {
  const host = { host: '127.0.0.1:8080' };
  assert.equal(checkOrigin({ ...host, origin: 'http://127.0.0.1:8080' }, opts), undefined);
  assert.equal(checkOrigin({ ...host, origin: 'https://127.0.0.1:8080' }, opts)?.code, 'Forbidden');
  assert.equal(checkOrigin({ ...host, origin: 'http://127.0.0.1:8081' }, opts)?.code, 'Forbidden');
  assert.equal(checkOrigin({ ...host, origin: 'http://localhost:8080' }, opts)?.code, 'Forbidden');
  assert.equal(checkOrigin({ origin: 'http://127.0.0.1:8080' }, opts)?.code, 'Forbidden');
  assert.equal(checkOrigin({ ...host, origin: 'https://127.0.0.1:8080' }, { ...opts, tls: true }), undefined);
});

test('refuses a POST a cross-site form could send, unless a preflighted header comes with it', () => {
  for (const type of [
    undefined,
    'text/plain',
    'TEXT/PLAIN; charset=utf-8',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
  ]) {
    const headers = type === undefined ? {} : { 'content-type': type };
    assert.equal(checkCrossSite('POST', headers)?.field, 'content-type', String(type));
    for (const extra of ['authorization', 'x-api-key', 'ce-specversion', 'x-amz-target'])
      assert.equal(checkCrossSite('POST', { ...headers, [extra]: 'x' }), undefined, `${type} + ${extra}`);
  }
  for (const type of ['application/json', 'application/cloudevents+json', 'application/x-amz-json-1.1'])
    assert.equal(checkCrossSite('POST', { 'content-type': type }), undefined, type);
  assert.equal(checkCrossSite('GET', {}), undefined);
  assert.equal(checkCrossSite('DELETE', {}), undefined, 'browsers preflight DELETE');
  assert.equal(checkCrossSite('PUT', { 'content-type': 'text/plain' }), undefined, 'browsers preflight PUT');
});
