/**
 * The console's assets as the bus serves them (no browser needed; test/e2e/console.test.ts drives Chromium): the
 * page, the bundled script and the style sheet with a strict CSP, the Host guard in front of them, and the Origin
 * guard letting the bus's own origin (the console's calls) through but no other.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { CONSOLE_CSP } from '../../lib/server/console.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';

/** A request over node:http, which sends the Host and Origin headers given (fetch would not). */
function raw(
  url: string,
  method: string,
  headers: Record<string, string>,
  body = '',
): Promise<{ status: number | undefined; text: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

describe('the console at /console', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(async () => {
    await bus?.stop();
  });

  test('serves the page, its bundled script and its style sheet with a strict CSP and no inline script', async () => {
    for (const path of ['/console', '/console/', '/console/index.html']) {
      const page = await fetch(`${bus.url}${path}`);
      assert.equal(page.status, 200, path);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.equal(page.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      const text = await page.text();
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)/, 'no inline script');
      assert.doesNotMatch(text, /\bstyle=|<style/, 'no inline style');
      assert.doesNotMatch(text, /https?:\/\//, 'nothing from elsewhere');
    }
    assert.match(CONSOLE_CSP, /default-src 'none'/);
    assert.match(CONSOLE_CSP, /script-src 'self';/);
    assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
    const js = await fetch(`${bus.url}/console/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal(js.headers.get('content-security-policy'), CONSOLE_CSP);
    const script = await js.text();
    assert.ok(script.length > 5_000, 'the console bundled with Preact');
    assert.doesNotMatch(script, /from\s*["']https?:/, 'no import from elsewhere');
    const css = await fetch(`${bus.url}/console/app.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
  });

  test('answers 404 for other paths and 405 for other methods, as JSON errors', async () => {
    const missing = await fetch(`${bus.url}/console/../../etc/passwd`);
    assert.equal(missing.status, 404);
    const other = await fetch(`${bus.url}/console/secret.ts`);
    assert.equal(other.status, 404);
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'NotFound');
    const post = await fetch(`${bus.url}/console`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });

  test('the Host guard applies to the console (DNS rebinding is 421)', async () => {
    const rebound = await raw(`${bus.url}/console`, 'GET', { host: `evil.example:${bus.port}` });
    assert.equal(rebound.status, 421);
  });

  test("the Origin guard lets the bus's own origin through (the console's calls) and no other", async () => {
    const body = JSON.stringify({ pattern: { source: ['/a'] }, event: { source: '/a' } });
    const json = { 'content-type': 'application/json' };
    const own = await raw(`${bus.url}/patterns/test`, 'POST', { ...json, origin: bus.url }, body);
    assert.equal(own.status, 200, own.text);
    const otherPort = await raw(
      `${bus.url}/patterns/test`,
      'POST',
      { ...json, origin: `http://127.0.0.1:${bus.port + 1}` },
      body,
    );
    assert.equal(otherPort.status, 403);
    const otherName = await raw(
      `${bus.url}/patterns/test`,
      'POST',
      { ...json, origin: `http://localhost:${bus.port}` },
      body,
    );
    assert.equal(otherName.status, 403, 'the origin must be the Host the request was sent to');
  });
});
