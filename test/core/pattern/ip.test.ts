/** IP addresses and CIDR blocks as comparable keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrRange, ipKey } from '../../../lib/core/pattern/ip.ts';

describe('ip', () => {
  it('reads IPv4, IPv6 and IPv4-mapped IPv6 addresses as event-ruler does', () => {
    assert.equal(ipKey('10.0.0.1'), '40a000001');
    assert.equal(ipKey('010.0.0.001'), '40a000001');
    assert.equal(ipKey('::ffff:a00:1'), '40a000001');
    // A dotted IPv4 tail is no address to event-ruler (its check of the text allows hex digits and colons only).
    assert.equal(ipKey('::ffff:10.0.0.1'), undefined);
    assert.equal(ipKey('2001:db8::1'), '620010db8000000000000000000000001');
    assert.equal(ipKey('10.0.0.256'), undefined);
    assert.equal(ipKey('not an ip'), undefined);
  });

  it('computes the range of a CIDR block, masking host bits', () => {
    assert.deepEqual(cidrRange('10.0.0.1/22'), { low: '40a000000', high: '40a0003ff' });
    assert.throws(() => cidrRange('::/128'), /IPv6 mask bits must be < 128/);
  });
});
