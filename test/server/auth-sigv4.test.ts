import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalRequest, parseSigV4Header, verifySigV4 } from '../../lib/server/auth-sigv4.ts';

// AWS's published SigV4 test suite, "get-vanilla".
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AUTH =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31';
const request = (authorization = AUTH) => ({
  method: 'GET',
  path: '/',
  query: new URLSearchParams(),
  headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z', authorization },
  body: new Uint8Array(),
});
const NOW = Date.UTC(2015, 7, 30, 12, 36, 0);
const secretOf = async (id: string) => (id === 'AKIDEXAMPLE' ? SECRET : undefined);

test("verifies AWS's get-vanilla test vector", async () => {
  assert.equal(
    canonicalRequest(request(), ['host', 'x-amz-date']),
    'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
  assert.equal(await verifySigV4(request(), secretOf, NOW), 'AKIDEXAMPLE');
});

test('refuses a changed signature, an unknown key, a stale date and a malformed header', async () => {
  await assert.rejects(verifySigV4(request(AUTH.replace(/5fa0/, '5fa1')), secretOf, NOW), {
    awsCode: 'InvalidSignatureException',
  });
  await assert.rejects(verifySigV4(request(AUTH.replace('AKIDEXAMPLE', 'AKIDOTHER')), secretOf, NOW), {
    awsCode: 'UnrecognizedClientException',
  });
  await assert.rejects(verifySigV4(request(), secretOf, NOW + 16 * 60_000), {
    awsCode: 'InvalidSignatureException',
  });
  await assert.rejects(verifySigV4(request('AWS4-HMAC-SHA256 Signature=x'), secretOf, NOW), {
    awsCode: 'IncompleteSignatureException',
  });
  const tampered = { ...request(), headers: { ...request().headers, host: 'attacker.example' } };
  await assert.rejects(verifySigV4(tampered, secretOf, NOW), { awsCode: 'InvalidSignatureException' });
  assert.deepEqual(parseSigV4Header(AUTH).signedHeaders, ['host', 'x-amz-date']);
});
