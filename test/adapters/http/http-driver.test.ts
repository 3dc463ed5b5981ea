/** The HTTP target driver against real node:http servers on 127.0.0.1: headers, SSRF guard, capped answers. */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHttpDriver } from '../../../lib/adapters/http/http-driver.ts';
import { createAddressPolicy } from '../../../lib/core/net/address-policy.ts';
import { validateRule } from '../../../lib/core/rule.ts';
import type { DeliveryRequest, TargetDriver } from '../../../lib/ports.ts';
import { makeEvent } from '../../helpers/events.ts';
import { tempDir } from '../../helpers/paths.ts';
import { selfSignedCert } from '../../helpers/tls.ts';

type Handler = Parameters<typeof createServer>[1];

async function listen(handler: Handler): Promise<{ server: Server; url: string; connections: () => number }> {
  const server = createServer(handler);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, connections: () => connections };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function requestFor(url: string, target: Record<string, unknown> = {}): DeliveryRequest {
  const rule = validateRule(
    'r',
    { pattern: { type: ['t'] }, targets: [{ id: 'hook', type: 'http', url, ...target }] },
    0,
  );
  return {
    rule,
    target: rule.targets[0] as DeliveryRequest['target'],
    event: makeEvent(),
    idempotencyKey: 'urn:test:source#1',
    attempt: 1,
    possibleDuplicate: false,
    timeoutMs: 10_000,
  };
}

const loopbackOk = createAddressPolicy({ allowLoopback: true });

describe('http driver: what is sent', () => {
  let received: IncomingHttpHeaders[] = [];
  let target: Awaited<ReturnType<typeof listen>>;
  let driver: TargetDriver;
  before(async () => {
    target = await listen((req, res) => {
      received.push(req.headers);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    driver = createHttpDriver({ addressPolicy: loopbackOk });
  });
  after(async () => {
    await driver.close?.();
    await close(target.server);
  });

  it('sends only what a server-to-server client should: no browser headers', async () => {
    received = [];
    const result = await driver.deliver(
      requestFor(`${target.url}/hook`, { headers: { Authorization: 'Bearer s3cret', 'X-Team': 'a' } }),
    );
    assert.deepEqual(result, { ok: true, status: 200 });
    const headers = received[0] as IncomingHttpHeaders;
    for (const name of [
      'sec-fetch-mode',
      'accept-language',
      'accept-encoding',
      'accept',
      'origin',
      'referer',
    ])
      assert.equal(headers[name], undefined, `${name} is not sent`);
    const allowed =
      /^(host|content-length|content-type|connection|user-agent|idempotency-key|authorization|x-team|ce-.+)$/;
    for (const name of Object.keys(headers)) assert.match(name, allowed);
    assert.equal(headers['user-agent'], 'junction');
    assert.equal(headers['idempotency-key'], 'urn:test:source#1');
    assert.equal(headers.authorization, 'Bearer s3cret');
    assert.equal(headers['ce-specversion'], '1.0');
  });

  it('keeps connections alive across deliveries', async () => {
    const before = target.connections();
    for (let i = 0; i < 5; i++)
      assert.equal((await driver.deliver(requestFor(`${target.url}/hook`))).ok, true);
    assert.ok(target.connections() - before <= 1, `${target.connections() - before} new connections`);
  });
});

describe('http driver: the SSRF guard', () => {
  let hits = 0;
  let target: Awaited<ReturnType<typeof listen>>;
  before(async () => {
    target = await listen((req, res) => {
      hits++;
      req.resume();
      res.end();
    });
  });
  after(() => close(target.server));

  it('refuses loopback in every spelling by default, as a final failure, without connecting', async () => {
    const driver = createHttpDriver();
    const { port } = target.server.address() as AddressInfo;
    for (const host of [
      '127.0.0.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '0.0.0.0',
      '[::]',
      '2130706433',
      '0x7f.1',
      'localhost',
    ]) {
      const result = await driver.deliver(requestFor(`http://${host}:${port}/hook`));
      assert.equal(result.ok, false, host);
      assert.ok(!result.ok);
      assert.equal(result.retriable, false, host);
      assert.match(result.error, /refused: .*(loopback|unspecified) address/, host);
    }
    assert.equal(hits, 0);
    await driver.close?.();
  });

  it('checks what a name resolves to when connecting (private, metadata)', async () => {
    const answers: Record<string, string> = {
      'metadata.test': '169.254.169.254',
      'intranet.test': '10.1.2.3',
      'v6.test': 'fd00:ec2::254',
    };
    const lookup = ((hostname: string, options: { all?: boolean }, callback: (...a: unknown[]) => void) => {
      const address = answers[hostname] ?? '127.0.0.1';
      const family = address.includes(':') ? 6 : 4;
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    }) as unknown as LookupFunction;
    const driver = createHttpDriver({ lookup });
    for (const [host, range] of [
      ['metadata.test', 'metadata'],
      ['intranet.test', 'private'],
      ['v6.test', 'metadata'],
    ] as const) {
      const result = await driver.deliver(requestFor(`http://${host}/latest/meta-data`));
      assert.ok(!result.ok);
      assert.equal(result.retriable, false);
      assert.match(result.error, new RegExp(`${host} resolves to .* ${range} address`));
    }
    await driver.close?.();
  });

  it('lets the allow-list through', async () => {
    const driver = createHttpDriver({ addressPolicy: createAddressPolicy({ allow: ['127.0.0.1'] }) });
    const before = hits;
    assert.equal((await driver.deliver(requestFor(`${target.url}/hook`))).ok, true);
    assert.equal(hits, before + 1);
    await driver.close?.();
  });
});

describe('http driver: what is read of an answer', () => {
  it('reads at most 64 KiB of a huge answer and drops the connection', async () => {
    const total = 400 * 1024 * 1024;
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const target = await listen((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.on('close', () => {
        closed = true;
      });
      const pump = () => {
        while (written < total && !closed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const driver = createHttpDriver({ addressPolicy: loopbackOk });
    const result = await driver.deliver(requestFor(`${target.url}/hook`));
    assert.equal(result.ok, true);
    const deadline = Date.now() + 10_000;
    while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(closed, true, 'the connection is dropped');
    assert.ok(written < 64 * 1024 * 1024, `the server wrote ${written} bytes before the bus hung up`);
    await driver.close?.();
    await close(target.server);
  });

  it('keeps a few hundred bytes of an error page, marked truncated, and not in the error text', async () => {
    const page = `<!DOCTYPE HTML><html><body>${'<p>Error code: 501</p>'.repeat(200)}</body></html>`;
    const target = await listen((req, res) => {
      req.resume();
      res.writeHead(501, { 'content-type': 'text/html', server: 'SimpleHTTP/0.6' });
      res.end(page);
    });
    const driver = createHttpDriver({ addressPolicy: loopbackOk });
    const result = await driver.deliver(requestFor(`${target.url}/hook?token=abc`));
    assert.ok(!result.ok);
    assert.equal(result.status, 501);
    assert.equal(result.retriable, true);
    assert.equal(result.error, `POST ${target.url}/hook answered 501`);
    assert.equal(result.response?.headers['content-type'], 'text/html');
    assert.equal(result.response?.headers.server, 'SimpleHTTP/0.6');
    assert.equal(result.response?.body, page.slice(0, 256));
    assert.equal(result.response?.bodyTruncated, true);
    await driver.close?.();
    await close(target.server);
  });
});

describe('http driver: deadlines', () => {
  /** A target that reads each request and never answers; `held` counts the requests it holds. */
  async function silent() {
    let held = 0;
    const target = await listen((req) => {
      held++;
      req.resume();
    });
    return { ...target, held: () => held };
  }

  it('times out a target that does not answer, as a retriable failure', async () => {
    const target = await silent();
    const driver = createHttpDriver({ addressPolicy: loopbackOk });
    const result = await driver.deliver({ ...requestFor(`${target.url}/hook`), timeoutMs: 200 });
    assert.deepEqual(result, {
      ok: false,
      retriable: true,
      error: `POST ${target.url}/hook failed: timed out after 200 ms`,
    });
    await driver.close?.();
    await close(target.server);
  });

  it('times out a request still waiting for a connection, which is then never sent', async () => {
    const target = await silent();
    const driver = createHttpDriver({ addressPolicy: loopbackOk, connectionsPerOrigin: 1 });
    const first = driver.deliver({ ...requestFor(`${target.url}/hook`), timeoutMs: 2_000 });
    const queued = await driver.deliver({ ...requestFor(`${target.url}/hook`), timeoutMs: 100 });
    assert.equal(queued.ok, false);
    assert.match((queued as { error: string }).error, /timed out after 100 ms$/);
    assert.match(((await first) as { error: string }).error, /timed out after 2000 ms$/);
    assert.equal(target.held(), 1, 'the queued request was not sent');
    await driver.close?.();
    await close(target.server);
  });

  it('aborts every request in flight when the stop signal fires, and refuses to start once it has', async () => {
    const target = await silent();
    const driver = createHttpDriver({ addressPolicy: loopbackOk });
    const stop = new AbortController();
    const running = [1, 2, 3].map(() =>
      driver.deliver({ ...requestFor(`${target.url}/hook`), signal: stop.signal }),
    );
    const deadline = Date.now() + 10_000;
    while (target.held() < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    stop.abort(new Error('the bus is stopping'));
    for (const result of await Promise.all(running)) {
      assert.deepEqual(result, {
        ok: false,
        retriable: true,
        error: `POST ${target.url}/hook failed: Error: the bus is stopping`,
      });
    }
    const late = await driver.deliver({ ...requestFor(`${target.url}/hook`), signal: stop.signal });
    assert.equal(
      (late as { error: string }).error,
      `POST ${target.url}/hook failed: Error: the bus is stopping`,
    );
    assert.equal(target.held(), 3);
    await driver.close?.();
    await close(target.server);
  });
});

describe('http driver: HTTPS and HTTP/2', () => {
  const dir = tempDir('junction-h2-');
  const { cert, key } = selfSignedCert(dir.path);
  const versions: string[] = [];
  const h2Sessions: string[] = [];
  let h2: Http2SecureServer;
  let h1: HttpsServer;
  let h2Url = '';
  let h1Url = '';
  let driver: TargetDriver;
  before(async () => {
    h2 = createSecureServer({ cert, key, allowHTTP1: true }, (req, res) => {
      versions.push(`h2-server:${req.httpVersion}`);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    h2.on('session', () => h2Sessions.push('session'));
    h1 = createHttpsServer({ cert, key }, (req, res) => {
      versions.push(`h1-server:${req.httpVersion}`);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    for (const server of [h2, h1]) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    h2Url = `https://127.0.0.1:${(h2.address() as AddressInfo).port}`;
    h1Url = `https://127.0.0.1:${(h1.address() as AddressInfo).port}`;
    driver = createHttpDriver({ addressPolicy: loopbackOk, ca: cert });
  });
  after(async () => {
    await driver.close?.();
    await new Promise<void>((r) => h2.close(() => r()));
    h1.closeAllConnections();
    await new Promise<void>((r) => h1.close(() => r()));
    dir.remove();
  });

  it('delivers over HTTP/2 to a server that offers it, many deliveries on one connection', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => driver.deliver(requestFor(`${h2Url}/hook`))),
    );
    assert.deepEqual(
      results.map((r) => r.ok),
      results.map(() => true),
    );
    assert.deepEqual(new Set(versions.filter((v) => v.startsWith('h2-server'))), new Set(['h2-server:2.0']));
    assert.equal(h2Sessions.length, 1, 'twenty concurrent deliveries multiplexed on one HTTP/2 session');
  });

  it('delivers over HTTP/1.1 to an HTTPS server without HTTP/2', async () => {
    assert.equal((await driver.deliver(requestFor(`${h1Url}/hook`))).ok, true);
    assert.ok(versions.includes('h1-server:1.1'), versions.join(' '));
  });

  it('refuses a certificate it does not trust, as a retriable failure naming the cause', async () => {
    const untrusting = createHttpDriver({ addressPolicy: loopbackOk });
    try {
      const result = await untrusting.deliver(requestFor(`${h2Url}/hook`));
      assert.equal(result.ok, false);
      assert.match(String(result.ok ? '' : result.error), /SELF_SIGNED|certificate/i);
    } finally {
      await untrusting.close?.();
    }
  });
});
