/**
 * The web console (issue #17) in a real browser: Debian's `chromium` driven by playwright-core (no browser
 * download). Flows: sign in with an API key (a 401 brings the prompt), create a rule in the console → publish an
 * event over the API → see its journey; a dead letter redriven from the console and then delivered, another deleted. Skips with a
 * message when chromium is missing, but fails under CI=true (.ci/run installs it). Screenshots go to a temp dir, or
 * to `CONSOLE_SCREENSHOTS` (e.g. docs/img, to refresh the ones docs/console.md shows).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { deferred, waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';
import { repoRoot, tempDir } from '../helpers/paths.ts';

function chromiumPath(): string | false {
  for (const name of ['chromium', 'chromium-browser']) {
    const probe = spawnSync('which', [name], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() !== '') return probe.stdout.trim();
  }
  const message = 'chromium is not installed (apt-get install chromium); CI installs it in .ci/run';
  if (process.env.CI === 'true') throw new Error(message);
  console.log(`# skipping the console browser tests: ${message}`);
  return false;
}

const executable = chromiumPath();
const shots =
  process.env.CONSOLE_SCREENSHOTS === undefined
    ? tempDir('junction-console-shots-').path
    : resolve(repoRoot, process.env.CONSOLE_SCREENSHOTS);
mkdirSync(shots, { recursive: true });

describe('web console in Chromium', { skip: executable === false }, () => {
  let bus: TestBus;
  let browser: Browser;
  let page: Page;
  let target: HttpTarget;
  let admin: string;
  let publisher: string;
  const failing = new Set<string>();
  const bearer = () => ({ authorization: `Bearer ${admin}` });

  before(async () => {
    bus = await startTestBus();
    target = await startHttpTarget((req) => {
      const id = String(req.headers['ce-id']);
      return { status: failing.has(id) ? 503 : 200 };
    });
    const key = await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' });
    assert.equal(key.status, 201);
    admin = key.body.key;
    const publisherKey = await request(
      bus.url,
      'POST',
      '/keys',
      { name: 'publisher', scope: 'publish' },
      bearer(),
    );
    assert.equal(publisherKey.status, 201);
    publisher = publisherKey.body.key;
    browser = await chromium.launch({ executablePath: executable as string, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });

  after(async () => {
    if (process.env.CONSOLE_SCREENSHOTS === undefined) rmSync(shots, { recursive: true, force: true });
    await browser?.close();
    await target?.close();
    await bus?.stop();
  });

  test('asks for an API key (401), then shows the overview with live rates', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text());
    });
    await page.goto(`${bus.url}/console#/overview`);
    await page.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(shots, 'console-key.png') });
    const refused = page.waitForResponse(
      (r) => r.request().headers().authorization === 'Bearer not-a-key' && r.status() === 401,
      { timeout: 60_000 },
    );
    await page.fill('input[name=apikey]', 'not-a-key');
    await page.click('button[type=submit]');
    await refused;
    await page.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
    await page.fill('input[name=apikey]', admin);
    await page.click('button[type=submit]');
    await page.locator('.tile[data-series=in]').waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('junction.apiKey')), admin);
    assert.deepEqual(errors, []);
  });

  test('a 401 that answers a key the user has since replaced does not ask for the new one again', async () => {
    const tab = await browser.newPage();
    try {
      // The bad key's calls (the overview's poll, the bus picker's list) are held until the good key is in use, then
      // answered: 401.
      const held = deferred();
      await tab.route('**/*', async (route) => {
        if (route.request().headers().authorization === 'Bearer stale-key') await held.promise;
        await route.continue();
      });
      await tab.goto(`${bus.url}/console#/overview`);
      await tab.locator('input[name=apikey]').waitFor({ timeout: 60_000 });
      const staleAnswered = tab.waitForResponse(
        (r) => r.request().headers().authorization === 'Bearer stale-key' && r.status() === 401,
        { timeout: 60_000 },
      );
      await tab.fill('input[name=apikey]', 'stale-key');
      await tab.click('button[type=submit]');
      await tab.waitForFunction(() => sessionStorage.getItem('junction.apiKey') === 'stale-key', null, {
        timeout: 60_000,
      });
      // The user signs out and in again with the good key while the bad key's call is still out.
      await tab.evaluate((k) => sessionStorage.setItem('junction.apiKey', k), admin);
      const good = tab.waitForResponse(
        (r) =>
          r.url().endsWith('/metrics') && r.request().headers().authorization === `Bearer ${admin}` && r.ok(),
        { timeout: 60_000 },
      );
      await good;
      held.resolve();
      await staleAnswered;
      // The next polls (every 2 s) go on with the good key; the prompt stays away.
      await tab.waitForResponse(
        (r) =>
          r.url().endsWith('/metrics') && r.request().headers().authorization === `Bearer ${admin}` && r.ok(),
        { timeout: 60_000 },
      );
      assert.equal(await tab.locator('input[name=apikey]').count(), 0, 'no prompt for the good key');
      assert.equal(await tab.evaluate(() => sessionStorage.getItem('junction.apiKey')), admin);
    } finally {
      await tab.close();
    }
  });

  test('creates a rule in the console, tests its pattern as you type, then shows a published event’s journey', async () => {
    // A real event the pattern editor tests the pattern against (the newest retained events).
    const earlier = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-0', source: '/console-shop', type: 'order', data: { total: 500 } },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(earlier.status, 202);
    await page.goto(`${bus.url}/console#/events`);
    await page.locator('tr[data-event=console-0]').waitFor({ timeout: 60_000 });
    await page.locator('tr[data-event=console-0]').getByRole('button', { name: 'JSON' }).click();
    assert.match((await page.locator('tr.detail').textContent()) ?? '', /"total": 500/);
    // A time range: from a day ahead finds nothing; up to a day ahead finds the event again.
    const local = (ms: number) => {
      const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
      return d.toISOString().slice(0, 19);
    };
    await page.fill('input[name=from]', local(Date.now() + 86_400_000));
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No matching events retained.').waitFor({ timeout: 60_000 });
    await page.fill('input[name=from]', '');
    await page.fill('input[name=to]', local(Date.now() + 86_400_000));
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator('tr[data-event=console-0]').waitFor({ timeout: 60_000 });
    await page.fill('input[name=to]', '');
    await page.screenshot({ path: join(shots, 'console-events.png') });
    await page.goto(`${bus.url}/console#/rules`);
    await page.getByRole('button', { name: 'New rule' }).click();
    await page.fill('input[name=name]', 'console-orders');
    await page.fill(
      'textarea[name=pattern]',
      JSON.stringify({ source: ['/console-shop'], data: { total: [{ numeric: ['>', 100] }] } }, null, 2),
    );
    await page.fill(
      'textarea[name=sample]',
      JSON.stringify(
        { specversion: '1.0', id: 's', source: '/console-shop', type: 't', data: { total: 90 } },
        null,
        2,
      ),
    );
    await page.locator('[data-verdict=no-match]').first().waitFor({ timeout: 60_000 });
    assert.match((await page.locator('.explain').first().textContent()) ?? '', /data\.total/);
    await page.fill(
      'textarea[name=sample]',
      JSON.stringify(
        { specversion: '1.0', id: 's', source: '/console-shop', type: 't', data: { total: 250 } },
        null,
        2,
      ),
    );
    await page.locator('[data-verdict=match]').first().waitFor({ timeout: 60_000 });
    await page.locator('[data-verdict=match]', { hasText: 'recent /console-shop console-0' }).waitFor({
      timeout: 60_000,
    });
    await page.fill(
      'textarea[name=targets]',
      JSON.stringify([{ id: 'hook', type: 'http', url: target.url, retry: { maxAttempts: 1 } }], null, 2),
    );
    await page.screenshot({ path: join(shots, 'console-rule-editor.png'), fullPage: true });
    await page.getByRole('button', { name: 'Save rule' }).click();
    await page.locator('tr[data-rule=console-orders]').waitFor({ timeout: 60_000 });
    const rule = await request(bus.url, 'GET', '/rules/console-orders', undefined, bearer());
    assert.equal(rule.status, 200);
    assert.equal(rule.body.targets[0].url, target.url);

    const published = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-1', source: '/console-shop', type: 'order', data: { total: 250 } },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(published.status, 202);
    await waitFor(() => target.received.some((r) => r.headers['ce-id'] === 'console-1'), 'delivery', 60_000);
    await page.goto(`${bus.url}/console#/journey/console-1`);
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Show journey' }).click();
        return (await page.locator('[data-kind=delivered]').count()) > 0;
      },
      'the journey shows the delivery',
      60_000,
    );
    const kinds = await page
      .locator('.timeline li')
      .evaluateAll((items) => items.map((li) => li.getAttribute('data-kind')));
    assert.deepEqual(kinds.slice(0, 2), ['received', 'matched']);
    assert.ok(kinds.includes('attempt'));
    await page.screenshot({ path: join(shots, 'console-journey.png'), fullPage: true });
  });

  test('follows a journey into the events a function emitted', async () => {
    const deployed = await request(bus.url, 'PUT', '/functions/echo', fixtureFunction('echo'), {
      'content-type': 'application/typescript',
      ...bearer(),
    });
    assert.equal(deployed.status, 200);
    const rule = await request(
      bus.url,
      'PUT',
      '/rules/console-echo',
      { pattern: { source: ['/console-fn'] }, targets: [{ id: 'echo', type: 'function', function: 'echo' }] },
      bearer(),
    );
    assert.equal(rule.status, 201);
    const published = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-fn-1', source: '/console-fn', type: 'order', data: { n: 1 } },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(published.status, 202);
    await page.goto(`${bus.url}/console#/journey/console-fn-1`);
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Show journey' }).click();
        return (await page.locator('.emitted .trace h3').count()) > 0;
      },
      'the emitted event in the journey',
      60_000,
    );
    assert.match((await page.locator('.emitted .trace h3').first().textContent()) ?? '', /console-fn-1-echo/);
    assert.ok((await page.locator('.trace >> nth=0 >> [data-kind=delivered]').count()) > 0);
  });

  test('redrives a dead letter from the console, and it is delivered', async () => {
    failing.add('console-2');
    const published = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-2', source: '/console-shop', type: 'order', data: { total: 300 } },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(published.status, 202);
    await waitFor(
      async () =>
        (await request(bus.url, 'GET', '/dead-letters?rule=console-orders', undefined, bearer())).body
          .deadLetters.length > 0,
      'the dead letter',
      60_000,
    );
    await page.goto(`${bus.url}/console#/dead-letters`);
    const row = page.locator('tr[data-event=console-2]');
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('button', { name: /attempt/ }).click();
    assert.match((await page.locator('tr.detail').textContent()) ?? '', /HTTP 503/);
    await row.getByRole('checkbox').check();
    await page.screenshot({ path: join(shots, 'console-dead-letters.png'), fullPage: true });
    failing.delete('console-2');
    const before = target.received.filter((r) => r.headers['ce-id'] === 'console-2').length;
    await page.getByRole('button', { name: /Redrive selected \(1\)/ }).click();
    await page.getByRole('status').waitFor({ timeout: 60_000 });
    assert.match((await page.getByRole('status').textContent()) ?? '', /Redriven 1/);
    await waitFor(
      () => target.received.filter((r) => r.headers['ce-id'] === 'console-2').length > before,
      'the redriven delivery',
      60_000,
    );
    await page.goto(`${bus.url}/console#/journey/console-2`);
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Show journey' }).click();
        return (await page.locator('[data-kind=delivered]').count()) > 0;
      },
      'the journey shows the delivery after the redrive',
      60_000,
    );
    assert.ok((await page.locator('[data-kind=dead-lettered]').count()) > 0);
  });

  test('deletes a dead letter from the console once the user confirms, and its journey says so', async () => {
    failing.add('console-del');
    const published = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-del', source: '/console-shop', type: 'order', data: { total: 300 } },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(published.status, 202);
    const lettersOf = async () =>
      (
        (await request(bus.url, 'GET', '/dead-letters?rule=console-orders', undefined, bearer())).body
          .deadLetters as Array<{ id: string }>
      ).filter((letter) => letter.id === 'console-del');
    await waitFor(async () => (await lettersOf()).length > 0, 'the dead letter', 60_000);
    await page.goto(`${bus.url}/console#/dead-letters`);
    const row = page.locator('tr[data-event=console-del]');
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('checkbox').check();
    const remove = page.getByRole('button', { name: /Delete selected \(1\)/ });
    // Dismissed: nothing is deleted.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await remove.click();
    assert.equal((await lettersOf()).length, 1);
    page.once('dialog', (dialog) => {
      assert.match(dialog.message(), /Delete 1 dead letter\?/);
      void dialog.accept();
    });
    await remove.click();
    await page.getByRole('status').waitFor({ timeout: 60_000 });
    assert.match((await page.getByRole('status').textContent()) ?? '', /Deleted 1/);
    assert.deepEqual(await lettersOf(), []);
    await row.waitFor({ state: 'detached', timeout: 60_000 });
    await page.goto(`${bus.url}/console#/journey/console-del`);
    await waitFor(
      async () => {
        await page.getByRole('button', { name: 'Show journey' }).click();
        return (await page.locator('[data-kind=dead-letter-deleted]').count()) > 0;
      },
      'the journey shows the deleted dead letter',
      60_000,
    );
  });

  test('retries a pending delivery now from the console, and it is delivered', async () => {
    failing.add('console-3');
    const rule = await request(
      bus.url,
      'PUT',
      '/rules/console-slow',
      {
        pattern: { source: ['/console-slow'] },
        targets: [
          {
            id: 'hook',
            type: 'http',
            url: target.url,
            retry: { maxAttempts: 3, backoff: { initialMs: 600_000, jitter: false } },
          },
        ],
      },
      bearer(),
    );
    assert.equal(rule.status, 201);
    const published = await request(
      bus.url,
      'POST',
      '/events',
      { specversion: '1.0', id: 'console-3', source: '/console-slow', type: 'order', data: {} },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
    );
    assert.equal(published.status, 202);
    await waitFor(
      async () =>
        (
          await request(bus.url, 'GET', '/deliveries?rule=console-slow', undefined, bearer())
        ).body.deliveries.some((d: { attempts: number }) => d.attempts >= 1),
      'the first failed attempt',
      60_000,
    );
    failing.delete('console-3');
    await page.goto(`${bus.url}/console#/pending`);
    const row = page.locator('tr[data-event=console-3]');
    await row.waitFor({ timeout: 60_000 });
    await row.getByRole('checkbox').check();
    await page.screenshot({ path: join(shots, 'console-pending.png'), fullPage: true });
    await page.getByRole('button', { name: /Retry selected now \(1\)/ }).click();
    await page.getByRole('status').waitFor({ timeout: 60_000 });
    assert.match((await page.getByRole('status').textContent()) ?? '', /Retried 1/);
    await waitFor(
      async () =>
        (
          await request(bus.url, 'GET', '/events/console-3/trace?source=/console-slow', undefined, bearer())
        ).body.entries.some((e: { kind: string }) => e.kind === 'delivered'),
      'the delivery retried now',
      60_000,
    );
  });

  test("previews each target's input for the test event as you type", async () => {
    await page.goto(`${bus.url}/console#/rules`);
    await page.getByRole('button', { name: 'New rule' }).click();
    await page.fill('input[name=name]', 'console-preview');
    await page.fill(
      'textarea[name=sample]',
      JSON.stringify({ specversion: '1.0', id: 'p-1', source: '/shop', type: 'order', data: { total: 42 } }),
    );
    await page.fill(
      'textarea[name=targets]',
      JSON.stringify([
        {
          id: 'shaped',
          type: 'http',
          url: 'https://hooks.example.com/x',
          input: { paths: { t: '$.data.total' }, template: '{"amount": <t>}' },
        },
        {
          id: 'jsonata',
          type: 'http',
          url: 'https://hooks.example.com/y',
          inputJsonata: '{"doubled": data.total * 2}',
        },
        { id: 'broken', type: 'http', url: 'ftp://hooks.example.com' },
      ]),
    );
    const shaped = page.locator('li[data-preview=shaped] pre');
    await shaped.waitFor({ timeout: 60_000 });
    await waitFor(
      async () => ((await shaped.textContent()) ?? '').includes('{"amount": 42}'),
      'the shaped body',
      60_000,
    );
    await waitFor(
      async () =>
        ((await page.locator('li[data-preview=jsonata] pre').textContent()) ?? '').includes('"doubled":84'),
      'the JSONata body',
      60_000,
    );
    assert.match(
      (await page.locator('li[data-preview=broken]').textContent()) ?? '',
      /target\.url must use http or https/,
    );
    await page.screenshot({ path: join(shots, 'console-target-preview.png'), fullPage: true });
    await page.getByRole('button', { name: 'Cancel' }).click();
  });

  test("signed in with a named bus's key, every page shows that bus only", async () => {
    assert.equal((await request(bus.url, 'PUT', '/buses/console-orders', {}, bearer())).status, 201);
    const key = async (name: string, scope: string) =>
      (await request(bus.url, 'POST', '/keys', { name, scope, bus: 'console-orders' }, bearer())).body
        .key as string;
    const ordersPublisher = await key('orders-pub', 'publish');
    const ordersManager = await key('orders-manage', 'manage');
    const sent = await request(
      bus.url,
      'POST',
      '/buses/console-orders/events',
      { specversion: '1.0', id: 'on-orders-1', source: '/orders', type: 'order', data: {} },
      { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${ordersPublisher}` },
    );
    assert.equal(sent.status, 202);
    // The key may read console-orders only: GET /buses lists that one, and the console switches to it.
    await page.goto(`${bus.url}/console#/events`);
    await page.evaluate((k) => sessionStorage.setItem('junction.apiKey', k), ordersManager);
    await page.reload();
    await page.locator('tr[data-event=on-orders-1]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('select[name=bus]').inputValue(), 'console-orders');
    assert.equal(
      await page.locator('tr[data-event=console-0]').count(),
      0,
      "the default bus's events are not shown",
    );
    await page.goto(`${bus.url}/console#/rules`);
    await page.getByRole('button', { name: 'New rule' }).waitFor({ timeout: 60_000 });
    assert.equal(
      await page.locator('tr[data-rule=console-orders]').count(),
      0,
      "the default bus's rules are not shown",
    );
    await page.screenshot({ path: join(shots, 'console-bus.png') });
    // Back to the default bus's admin: the picker goes back to the one bus that key reads.
    await page.evaluate((k) => sessionStorage.setItem('junction.apiKey', k), admin);
    await page.reload();
    await page.locator('tr[data-rule=console-orders]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('select[name=bus]').inputValue(), 'default');
  });

  test('tails the events that match a pattern, live', async () => {
    await page.goto(`${bus.url}/console#/events`);
    await page.fill('input[name=tail-pattern]', '{"source": ["/console-live"], "type": ["wanted"]}');
    await page.getByRole('button', { name: 'Start live tail' }).click();
    await page.getByText('Waiting for matching events…').waitFor({ timeout: 60_000 });
    const publish = async (id: string, type: string) => {
      const res = await request(
        bus.url,
        'POST',
        '/events',
        { specversion: '1.0', id, source: '/console-live', type, data: {} },
        { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
      );
      assert.equal(res.status, 202);
    };
    await publish('live-1', 'unwanted');
    await publish('live-2', 'wanted');
    await page.locator('tr[data-tail-event=live-2]').waitFor({ timeout: 60_000 });
    await publish('live-3', 'wanted');
    await page.locator('tr[data-tail-event=live-3]').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('tr[data-tail-event=live-1]').count(), 0, 'the pattern filters');
    assert.deepEqual(
      await page
        .locator('tr[data-tail-event]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-tail-event'))),
      ['live-3', 'live-2'],
      'newest first',
    );
    await page.screenshot({ path: join(shots, 'console-tail.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByRole('button', { name: 'Start live tail' }).waitFor({ timeout: 60_000 });
    // A bad pattern is the API's 400, shown in the page.
    await page.fill('input[name=tail-pattern]', '{"type": "wanted"}');
    await page.getByRole('button', { name: 'Start live tail' }).click();
    await page.locator('.tail .error').waitFor({ timeout: 60_000 });
  });

  test('deploys a function from the browser, then shows its invocations and log lines', async () => {
    await page.goto(`${bus.url}/console#/functions`);
    await page.getByRole('button', { name: 'Deploy a function' }).click();
    await page.fill('input[name=function-name]', 'browser-fn');
    await page.fill(
      'textarea[name=function-source]',
      [
        'export async function handler(event: { id: string }) {',
        "  console.log('handled ' + event.id);",
        "  if (event.id.endsWith('-bad')) throw new Error('refused');",
        '}',
      ].join('\n'),
    );
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.locator('tr[data-function=browser-fn]').waitFor({ timeout: 60_000 });
    const info = await request(bus.url, 'GET', '/functions/browser-fn', undefined, bearer());
    assert.equal(info.status, 200, 'deployed through the API');
    const rule = await request(
      bus.url,
      'PUT',
      '/rules/console-fn-live',
      {
        pattern: { source: ['/console-fn-live'] },
        targets: [{ id: 'f', type: 'function', function: 'browser-fn', retry: { maxAttempts: 1 } }],
      },
      bearer(),
    );
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    for (const id of ['fl-1', 'fl-2-bad']) {
      const res = await request(
        bus.url,
        'POST',
        '/events',
        { specversion: '1.0', id, source: '/console-fn-live', type: 'order', data: {} },
        { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
      );
      assert.equal(res.status, 202);
    }
    const panel = page.locator('section[data-activity=browser-fn]');
    await panel.waitFor({ timeout: 60_000 });
    await waitFor(
      async () =>
        (await panel.locator('[data-stat=invocations]').textContent()) === '2' &&
        (await panel.locator('[data-stat=failures]').textContent()) === '1',
      'two invocations, one failed, in the panel (refreshed every 2 s)',
      60_000,
    );
    const logs = (await panel.locator('pre.logs').textContent()) ?? '';
    assert.match(logs, /handled fl-1/);
    assert.match(logs, /handled fl-2-bad/);
    assert.match((await panel.textContent()) ?? '', /FunctionError/);
    await page.screenshot({ path: join(shots, 'console-function-activity.png'), fullPage: true });
    // A build error is the API's 400, shown in the form.
    await page.getByRole('button', { name: 'Deploy a function' }).click();
    await page.fill('input[name=function-name]', 'broken-fn');
    await page.fill('textarea[name=function-source]', 'export const handler = (;');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.locator('form .error').waitFor({ timeout: 60_000 });
  });

  test('starts a replay from the console and shows its counts; lists the functions; shows live rates', async () => {
    await page.goto(`${bus.url}/console#/replays`);
    await page.fill('input[name=from]', '2000-01-01T00:00:00Z');
    await page.fill('input[name=to]', '2100-01-01T00:00:00Z');
    await page.fill('input[name=rule]', 'console-orders');
    await page.getByRole('button', { name: 'Start replay' }).click();
    const done = page.locator('td[data-state=completed]');
    await done.first().waitFor({ timeout: 60_000 });
    const replays = await request(bus.url, 'GET', '/replays', undefined, bearer());
    assert.equal(replays.body.replays.length, 1);
    assert.equal(replays.body.replays[0].rule, 'console-orders');
    assert.equal(
      replays.body.replays[0].counts.events,
      4,
      'console-0, console-1, console-2 and console-del match console-orders',
    );
    await page.goto(`${bus.url}/console#/functions`);
    await page.locator('tr[data-function=echo]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(shots, 'console-functions.png') });
    await page.goto(`${bus.url}/console#/overview`);
    await page.locator('.tile[data-series=pending]').waitFor({ timeout: 60_000 });
    // Live: events published while the page polls show up as rates above zero, bus-wide and per rule and target
    // (console-orders delivers them to the target, which answers 200: an error ratio of 0 % and a latency).
    let n = 0;
    await waitFor(
      async () => {
        const published = await request(
          bus.url,
          'POST',
          '/events',
          {
            specversion: '1.0',
            id: `console-live-${n++}`,
            source: '/console-shop',
            type: 'tick',
            data: { total: 101 },
          },
          { 'content-type': 'application/cloudevents+json', authorization: `Bearer ${publisher}` },
        );
        assert.equal(published.status, 202);
        const shown = await page.locator('.tile[data-series=in] .value').textContent();
        const lane = page.locator('tr[data-lane="console-orders/hook"]');
        if ((await lane.count()) === 0) return false;
        const delivered = await lane.locator('[data-col=delivered]').textContent();
        const p50 = await lane.locator('[data-col=p50]').textContent();
        const ratio = await lane.locator('[data-col=error-ratio]').textContent();
        return Number(shown) > 0 && Number(delivered) > 0 && /ms$/.test(p50 ?? '') && ratio === '0 %';
      },
      'rates of events in and delivered above zero, a p50 and a 0 % error ratio on the overview',
      60_000,
    );
    await page.locator('tr[data-lane="console-slow/hook"]').waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(shots, 'console-overview.png') });
  });
});
