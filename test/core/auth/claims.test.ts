/** A token's claims as grants: the one mapping of the embedded bus and of the api function behind API Gateway. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimValues, MAX_SCOPE_VALUES, principalOfClaims } from '../../../lib/core/auth/claims.ts';
import { permits } from '../../../lib/core/auth/scopes.ts';

describe('principalOfClaims', () => {
  test('reads junction:<scope>[:<bus>] and the Cognito resource-server form junction/<scope>', () => {
    const p = principalOfClaims({
      sub: 'ops',
      scope: 'openid junction:read junction/manage:orders junction:fly junction:read:bad/bus',
    });
    assert.equal(p.name, 'jwt:ops');
    assert.deepEqual(p.grants, [
      { scope: 'read', bus: 'default' },
      { scope: 'manage', bus: 'orders' },
    ]);
    assert.ok(permits(p, 'read'));
    assert.ok(!permits(p, 'manage'));
    assert.ok(permits(p, 'manage', 'orders'));
  });

  test('merges several claims (Cognito groups), in the shapes API Gateway hands over', () => {
    assert.deepEqual(claimValues('[junction:read junction:publish]'), ['junction:read', 'junction:publish']);
    assert.deepEqual(claimValues('junction:read,junction:manage'), ['junction:read', 'junction:manage']);
    assert.deepEqual(claimValues(['a', 3, 'b']), ['a', 'b']);
    assert.deepEqual(claimValues({ not: 'a list' }), []);
    const p = principalOfClaims(
      {
        scope: 'openid',
        'cognito:groups': '[junction:publish junction:publish]',
        'junction:source_prefix': 'shop/',
      },
      { scopeClaims: ['scope', 'cognito:groups'] },
    );
    assert.deepEqual(p.grants, [{ scope: 'publish', bus: 'default', sourcePrefix: 'shop/' }]);
    assert.equal(p.name, 'jwt:unknown');
  });

  test('reads a bounded number of values', () => {
    const many = Array.from({ length: MAX_SCOPE_VALUES + 10 }, (_, i) => `junction:read:b${i}`);
    assert.equal(principalOfClaims({ scope: many }).grants.length, MAX_SCOPE_VALUES);
  });
});
