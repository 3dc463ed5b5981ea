/** The SSRF address policy: every spelling of the refused ranges, allow-lists, loopback only on request. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyAddress,
  createAddressPolicy,
  isLoopbackHost,
  parseCidr,
} from '../../../lib/core/net/address-policy.ts';

const TABLE: ReadonlyArray<readonly [string, string | undefined]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['[::ffff:127.0.0.1]', 'loopback'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['::', 'unspecified'],
  ['[::]', 'unspecified'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['172.15.255.255', 'public'],
  ['192.168.1.1', 'private'],
  ['::ffff:192.168.1.1', 'private'],
  ['100.64.0.1', 'private'],
  ['fc00::1', 'private'],
  ['fd12:3456::1', 'private'],
  ['169.254.0.1', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'public'],
  ['169.254.169.254', 'metadata'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['fd00:ec2::254', 'metadata'],
  ['224.0.0.1', 'multicast'],
  ['ff02::1', 'multicast'],
  ['255.255.255.255', 'reserved'],
  ['8.8.8.8', 'public'],
  ['93.184.216.34', 'public'],
  ['2606:4700::1111', 'public'],
  ['::ffff:8.8.8.8', 'public'],
  ['example.com', undefined],
  ['127.0.0.256', undefined],
  ['', undefined],
];

describe('classifyAddress', () => {
  for (const [address, range] of TABLE) {
    it(`classifies ${JSON.stringify(address)} as ${range ?? 'not an address'}`, () => {
      assert.equal(classifyAddress(address), range);
    });
  }
});

describe('createAddressPolicy', () => {
  it('refuses every non-public range by default, naming the range and the way to allow it', () => {
    const policy = createAddressPolicy();
    for (const [address, range] of TABLE) {
      if (range === undefined) continue;
      const verdict = policy(address);
      assert.equal(verdict.allowed, range === 'public', address);
      if (!verdict.allowed) {
        assert.equal(verdict.range, range);
        assert.match(verdict.reason, new RegExp(`is a ${range} address.*httpTargets\\.allow`));
      }
    }
  });

  it('refuses what is not an address', () => {
    const verdict = createAddressPolicy({ allowLoopback: true })('localhost');
    assert.equal(verdict.allowed, false);
  });

  it('allows loopback (and only loopback) when asked', () => {
    const policy = createAddressPolicy({ allowLoopback: true });
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.1.2.3'])
      assert.equal(policy(a).allowed, true, a);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '169.254.169.254', 'fd00:ec2::254'])
      assert.equal(policy(a).allowed, false, a);
  });

  it('allows the blocks and addresses of the allow-list, in either family spelling', () => {
    const policy = createAddressPolicy({
      allow: ['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '::ffff:192.168.0.0/112'],
    });
    for (const a of ['10.1.2.3', '::ffff:10.9.9.9', '127.0.0.1', 'fd00::5', '192.168.4.4'])
      assert.equal(policy(a).allowed, true, a);
    for (const a of ['127.0.0.2', '172.16.0.1', 'fc00::1', '192.169.0.1', '169.254.169.254'])
      assert.equal(policy(a).allowed, a === '192.169.0.1', a);
  });
});

describe('parseCidr', () => {
  it('refuses malformed entries with the field named', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0.0/8/1', 'example.com', '::/129', '10.0.0.0/x', '']) {
      assert.throws(() => parseCidr(bad, 'httpTargets.allow[0]'), {
        code: 'InvalidRequest',
        field: 'httpTargets.allow[0]',
      });
    }
  });

  it('takes single addresses as full-length blocks', () => {
    assert.deepEqual(parseCidr('127.0.0.1', 'f'), { bytes: [127, 0, 0, 1], prefix: 32 });
    assert.equal(parseCidr('fd00::/8', 'f').prefix, 8);
  });
});

describe('isLoopbackHost', () => {
  it('knows the loopback spellings a bus listens on', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.2']) assert.equal(isLoopbackHost(h), false, h);
  });
});
