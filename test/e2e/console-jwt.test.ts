/**
 * The console with bearer JWTs (issues #15 and #17), in Debian's Chromium (playwright-core): the embedded bus
 * verifies tokens this test signs (ES256, `jose`) against a JWKS served on 127.0.0.1 (issuer, audience, expiry
 * checked), the scopes the token carries decide what the console may do, and the sign-in runs the OAuth 2.0
 * authorization-code flow with PKCE against a small issuer on 127.0.0.1 that checks the verifier — as the console
 * does against Cognito's Hosted UI on AWS. Skips with a message when chromium is missing (fails under CI=true).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { type Browser, chromium } from 'playwright-core';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

function chromiumPath(): string | false {
  for (const name of ['chromium', 'chromium-browser']) {
    const probe = spawnSync('which', [name], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() !== '') return probe.stdout.trim();
  }
  const message = 'chromium is not installed (apt-get install chromium); CI installs it in .ci/run';
  if (process.env.CI === 'true') throw new Error(message);
  console.log(`# skipping the console JWT browser tests: ${message}`);
  return false;
}

const executable = chromiumPath();
const ISSUER = 'https://idp.test';
const AUDIENCE = 'junction';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

describe('the console with JWTs in Chromium', { skip: executable === false }, () => {
  let bus: TestBus;
  let browser: Browser;
  let idp: Server;
  let idpUrl: string;
  let sign: (claims: JWTPayload, expires?: string | number) => Promise<string>;
  let forge: (claims: JWTPayload) => Promise<string>;
  /** Codes the authorization endpoint issued: their PKCE challenge, redirect URI and client. */
  const codes = new Map<string, { challenge: string; redirect: string; client: string }>();
  const exchanges: Array<{ ok: boolean; reason?: string }> = [];

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    const build = (claims: JWTPayload, expires: string | number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(String(claims.sub ?? 'operator'))
        .setIssuedAt()
        .setExpirationTime(expires);
    sign = (claims, expires = '10m') => build(claims, expires).sign(privateKey);
    forge = (claims) => build(claims, '10m').sign(other.privateKey);
    // The issuer: its JWKS, an authorization endpoint that signs the user straight in, a token endpoint that checks
    // the code and its PKCE verifier (and answers CORS, as Cognito's does).
    idp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://idp');
      if (url.pathname === '/jwks.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
        return;
      }
      if (url.pathname === '/authorize') {
        const q = url.searchParams;
        if (q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256') {
          res.writeHead(400).end('bad request');
          return;
        }
        const code = randomUUID();
        const redirect = q.get('redirect_uri') ?? '';
        codes.set(code, {
          challenge: q.get('code_challenge') ?? '',
          redirect,
          client: q.get('client_id') ?? '',
        });
        const back = new URL(redirect);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        res.writeHead(302, { location: back.toString() }).end();
        return;
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
          const issued = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          const reason =
            issued === undefined
              ? 'unknown code'
              : base64url(createHash('sha256').update(verifier).digest()) !== issued.challenge
                ? 'verifier does not match the challenge'
                : form.get('redirect_uri') !== issued.redirect || form.get('client_id') !== issued.client
                  ? 'redirect_uri or client_id differ'
                  : undefined;
          exchanges.push({ ok: reason === undefined, ...(reason === undefined ? {} : { reason }) });
          const cors = { 'access-control-allow-origin': req.headers.origin ?? '*' };
          if (reason !== undefined) {
            res.writeHead(400, { 'content-type': 'application/json', ...cors });
            res.end(JSON.stringify({ error: 'invalid_grant' }));
            return;
          }
          const token = await sign({ sub: 'signed-in', scope: 'openid junction:read' });
          res.writeHead(200, { 'content-type': 'application/json', ...cors });
          res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 600 }));
        });
        return;
      }
      res.writeHead(404).end();
    });
    idpUrl = await listen(idp);
    bus = await startTestBus({
      auth: {
        jwt: {
          jwksUrl: `${idpUrl}/jwks.json`,
          issuer: ISSUER,
          audience: AUDIENCE,
          signIn: {
            clientId: 'junction-console',
            authorizationEndpoint: `${idpUrl}/authorize`,
            tokenEndpoint: `${idpUrl}/token`,
            scopes: ['openid'],
          },
        },
      },
    });
    browser = await chromium.launch({ executablePath: executable as string, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await bus?.stop();
    await new Promise<void>((r) => (idp === undefined ? r() : idp.close(() => r())));
  });

  test('a pasted token is kept in the tab and sent as Authorization: Bearer; bad tokens bring the prompt back', async () => {
    const page = await browser.newPage();
    // The overview's tiles render before its first call answers, so the test waits for the calls themselves: each
    // bad token's 401, the good token's 200 (a check of a list of requests seen by then raced the page).
    const answered = (token: string, status: number) =>
      page.waitForResponse(
        (r) => r.request().headers().authorization === `Bearer ${token}` && r.status() === status,
        { timeout: 60_000 },
      );
    await page.goto(`${bus.url}/console#/overview`);
    await page.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
    // Signed by a key that is not in the JWKS, then expired: refused, and the prompt says why.
    for (const token of [
      await forge({ scope: 'junction:manage' }),
      await sign({ scope: 'junction:manage' }, 1),
    ]) {
      const refused = answered(token, 401);
      await page.fill('input[name=apikey]', token);
      await page.click('button[type=submit]');
      await refused;
      await page.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
      await page.getByText(/not a valid JWT for this bus/).waitFor({ timeout: 60_000 });
    }
    const token = await sign({ sub: 'ops', scope: 'openid junction:manage' });
    const accepted = answered(token, 200);
    await page.fill('input[name=apikey]', token);
    await page.click('button[type=submit]');
    await accepted;
    await page.locator('.tile[data-series=in]').waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('junction.apiKey')), token);
    await page.close();
  });

  test("the token's scopes decide: a read token sees the rules and cannot change them", async () => {
    const manager = await sign({ sub: 'ops', scope: 'junction:manage' });
    const created = await request(
      bus.url,
      'PUT',
      '/rules/jwt-rule',
      { pattern: { source: ['shop'] }, targets: [], enabled: false },
      { authorization: `Bearer ${manager}` },
    );
    assert.equal(created.status, 201);
    const reader = await sign({ sub: 'viewer', scope: 'junction:read' });
    const page = await browser.newPage();
    await page.goto(`${bus.url}/console#/rules`);
    await page.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
    await page.fill('input[name=apikey]', reader);
    await page.click('button[type=submit]');
    await page.getByText('jwt-rule').first().waitFor({ timeout: 60_000 });
    // The same call the console's rule editor makes, from the page with its token: refused by scope.
    const status = await page.evaluate(async () => {
      const response = await fetch('/rules/jwt-rule', {
        method: 'DELETE',
        headers: { authorization: `Bearer ${sessionStorage.getItem('junction.apiKey')}` },
      });
      return { status: response.status, body: (await response.json()) as { error: { message: string } } };
    });
    assert.equal(status.status, 403);
    assert.match(
      status.body.error.message,
      /jwt:viewer may not DELETE \/rules\/jwt-rule: it needs the manage scope/,
    );
    await page.close();
  });

  test('signs in with the authorization-code flow and PKCE, then calls the API with the access token', async () => {
    const page = await browser.newPage();
    await page.goto(`${bus.url}/console#/overview`);
    await page.locator('button[name=signin]').waitFor({ timeout: 60_000 });
    const csp = (await request(bus.url, 'GET', '/console')).headers.get('content-security-policy') ?? '';
    assert.match(csp, new RegExp(`connect-src 'self' ${idpUrl.replace(/[.]/g, '\\.')};`));
    await page.click('button[name=signin]');
    await page.locator('.tile[data-series=in]').waitFor({ timeout: 60_000 });
    assert.deepEqual(exchanges, [{ ok: true }], 'one code exchanged, with the verifier of its challenge');
    const token = await page.evaluate(() => sessionStorage.getItem('junction.apiKey'));
    assert.match(token ?? '', /^eyJ/);
    assert.equal(new URL(page.url()).search, '', 'the code is gone from the address bar');
    assert.equal(
      await page.evaluate(() => sessionStorage.getItem('junction.pkce')),
      null,
      'the verifier is spent',
    );
    // A replayed redirect (same code again) is refused: the state no longer matches anything this tab asked for.
    await page.goto(`${bus.url}/console/?code=replayed&state=forged#/overview`);
    await page.getByText(/does not match the request this tab made/).waitFor({ timeout: 60_000 });
    assert.equal(exchanges.length, 1, 'no exchange for a state the tab did not make');
    await page.close();
  });
});
