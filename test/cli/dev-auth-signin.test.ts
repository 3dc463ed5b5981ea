/** `junction dev`'s console sign-in flags: the three go together, with a JWKS; the env variables work the same. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDevAuth } from '../../lib/cli/keys.ts';

describe('parseDevAuth: the console sign-in', () => {
  const jwks = { 'jwt-jwks-url': 'https://idp.example.com/jwks.json' };
  test('takes the client id and both endpoints into jwt.signIn', () => {
    const parsed = parseDevAuth(
      {
        ...jwks,
        'jwt-client-id': 'console',
        'jwt-authorize-url': 'https://idp.example.com/authorize',
      },
      { JUNCTION_JWT_TOKEN_URL: 'https://idp.example.com/token' },
    );
    assert.deepEqual(typeof parsed === 'string' ? parsed : parsed.jwt?.signIn, {
      clientId: 'console',
      authorizationEndpoint: 'https://idp.example.com/authorize',
      tokenEndpoint: 'https://idp.example.com/token',
    });
  });
  test('refuses a partial sign-in, or one without a JWKS, naming the flags', () => {
    assert.match(
      String(parseDevAuth({ ...jwks, 'jwt-client-id': 'console' }, {})),
      /--jwt-client-id, --jwt-authorize-url and --jwt-token-url together/,
    );
    assert.match(
      String(
        parseDevAuth(
          { 'jwt-client-id': 'c', 'jwt-authorize-url': 'https://i/a', 'jwt-token-url': 'https://i/t' },
          {},
        ),
      ),
      /with --jwt-jwks-url/,
    );
    assert.equal(typeof parseDevAuth(jwks, {}), 'object');
  });
});
