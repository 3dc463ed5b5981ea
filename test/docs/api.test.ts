/**
 * docs/api.md against a real embedded bus: every ```http example is sent in document order and its status,
 * headers and body shape checked; every endpoint the prose names has an example; every error code is documented.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ERROR_CODES, statusOf } from '../../lib/core/errors.ts';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
import {
  captures,
  documentedEndpoints,
  errorTable,
  fitsTemplate,
  fitsText,
  type HttpExample,
  httpExamples,
  shapeDifferences,
  substitute,
  withCaptures,
} from '../helpers/doc-examples.ts';
import { repoRoot } from '../helpers/paths.ts';

const API = join(repoRoot, 'docs', 'api.md');
const examples = httpExamples(API, 'docs/api.md');

/** How long an `eventually` example may take to fit (it is re-sent until it does). */
const EVENTUALLY_MS = 30_000;

/**
 * Sends an example's request as written, over node:http (`fetch` would replace a `Host` header and add a
 * `content-type` to a body that has none, and both are what some examples show).
 */
function send(
  bus: TestBus,
  example: HttpExample,
): Promise<{ status: number; headers: Headers; text: string }> {
  const body = Buffer.from(example.request.body);
  const headers: Record<string, string> = { ...example.request.headers };
  if (body.length > 0) headers['content-length'] ??= String(body.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${bus.url}${example.target}`, { method: example.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const answer = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value])
            answer.append(name, v);
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: answer,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** What differs between an answer and the documented one (empty when it fits). */
function differences(
  example: HttpExample,
  actual: { status: number; headers: Headers; text: string },
): string[] {
  const found: string[] = [];
  if (actual.status !== example.status)
    found.push(`status: documented ${example.status}, got ${actual.status}`);
  for (const [name, value] of Object.entries(example.response.headers)) {
    const got = actual.headers.get(name);
    if (got === null || !fitsText(got, value))
      found.push(`header ${name}: documented "${value}", got "${got}"`);
  }
  const documented = example.response.body;
  if (documented === '') {
    if (actual.text !== '') found.push(`body: documented none, got ${actual.text}`);
  } else if (actual.headers.get('content-type')?.includes('json')) {
    let doc: unknown;
    try {
      doc = JSON.parse(documented);
    } catch (error) {
      return [
        ...found,
        `the documented body is not JSON (use "…" for any value): ${(error as Error).message}`,
      ];
    }
    let got: unknown;
    try {
      got = JSON.parse(actual.text);
    } catch {
      return [...found, `the answer is not JSON: ${actual.text}`];
    }
    found.push(...shapeDifferences(got, doc).map((d) => `body ${d}`));
  } else if (!fitsText(actual.text.trim(), documented)) {
    found.push(`body: documented\n${documented}\ngot\n${actual.text}`);
  }
  return found;
}

describe('the example checker', () => {
  it('refuses a missing, extra or different field and accepts wildcards', () => {
    assert.deepEqual(shapeDifferences({ a: 1, b: 'x' }, { a: 1, b: '…' }), []);
    assert.deepEqual(shapeDifferences({ a: 1 }, { a: 1, b: '…' }), ['$.b: missing']);
    assert.deepEqual(shapeDifferences({ a: 1, c: 2 }, { a: 1 }), ['$.c: not documented (2)']);
    assert.deepEqual(shapeDifferences({ a: 1, c: 2 }, { a: 1, '…': '…' }), []);
    assert.deepEqual(shapeDifferences({ a: 2 }, { a: 1 }), ['$.a: expected 1, got 2']);
  });

  it('matches arrays element by element, with a trailing "…" for more', () => {
    assert.deepEqual(shapeDifferences([1, 2], [1, 2]), []);
    assert.deepEqual(shapeDifferences([1, 2, 3], [1, 2]), ['$: expected 2 elements, got 3']);
    assert.deepEqual(shapeDifferences([1, 2, 3], [1, '…']), []);
    assert.deepEqual(shapeDifferences([], [1, '…']), ['$: expected at least 1 elements, got 0']);
  });

  it('matches text with … as any run of characters', () => {
    assert.ok(fitsText('junction_events_total 3', 'junction_events_total …'));
    assert.ok(!fitsText('other 3', 'junction_events_total …'));
  });

  it('captures "{{name}}" values of an answer and puts them into later requests', () => {
    assert.deepEqual(shapeDifferences({ key: 'jk_1', n: 2 }, { key: '{{key}}', n: 2 }), []);
    assert.deepEqual(shapeDifferences({ n: 2 }, { key: '{{key}}', n: 2 }), ['$.key: missing']);
    const got = captures(
      { key: 'jk_1', page: { next: 7 }, list: [{ id: 'a' }] },
      { key: '{{key}}', page: { next: '{{next}}' }, list: [{ id: '{{first}}' }, '…'] },
    );
    assert.deepEqual(Object.fromEntries(got), { key: 'jk_1', next: '7', first: 'a' });
    assert.equal(substitute('Bearer {{key}}, {{key}}', got, 'x'), 'Bearer jk_1, jk_1');
    assert.throws(
      () => substitute('{{nope}}', got, 'docs/api.md:9'),
      /docs\/api\.md:9: \{\{nope\}\} is used/,
    );
    const example = withCaptures(
      {
        where: 'w',
        flags: new Set(),
        method: 'GET',
        target: '/deliveries?cursor={{next}}',
        request: { headers: { authorization: 'Bearer {{key}}' }, body: '{"id": "{{first}}"}' },
        status: 200,
        response: { headers: {}, body: '' },
      },
      got,
    );
    assert.equal(example.target, '/deliveries?cursor=7');
    assert.deepEqual(example.request, { headers: { authorization: 'Bearer jk_1' }, body: '{"id": "a"}' });
  });

  it('fits concrete paths to templates segment by segment', () => {
    assert.ok(fitsTemplate('/rules/big-orders', '/rules/{name}'));
    assert.ok(fitsTemplate('/events/order-1/trace?source=/shop', '/events/{id}/trace'));
    assert.ok(!fitsTemplate('/rules/a/b', '/rules/{name}'));
    assert.ok(!fitsTemplate('/rules', '/rules/{name}'));
  });
});

describe('docs/api.md', () => {
  it('has an example for every endpoint it names', () => {
    const missing = documentedEndpoints(API, 'docs/api.md').filter(
      (e) => !examples.some((x) => x.method === e.method && fitsTemplate(x.target, e.path)),
    );
    assert.deepEqual(
      missing.map((e) => `${e.method} ${e.path} (${e.where})`),
      [],
      'add a ```http example (request, then "HTTP/1.1 NNN" and the answer) for each',
    );
  });

  it('has an example for every EventBridge operation it names', () => {
    const sent = new Set(examples.map((x) => x.request.headers['x-amz-target']));
    const named = new Set(
      [...readFileSync(API, 'utf8').matchAll(/X-Amz-Target: (AWSEvents\.\w+)/g)].map((m) => m[1]),
    );
    assert.ok(named.size > 0, 'the EventBridge operations are named as `X-Amz-Target: AWSEvents.…`');
    assert.deepEqual(
      [...named].filter((t) => !sent.has(t)),
      [],
    );
  });

  it('documents every error code of lib/core/errors.ts with its status, and no other', () => {
    const table = errorTable(API, '## Errors');
    const wrong = ERROR_CODES.filter((code) => table.get(code) !== statusOf(code)).map(
      (code) => `${code}: documented ${table.get(code) ?? 'nowhere'}, served ${statusOf(code)}`,
    );
    const stale = [...table.keys()].filter((code) => !(ERROR_CODES as readonly string[]).includes(code));
    assert.deepEqual(wrong, []);
    assert.deepEqual(stale, [], 'codes documented in "## Errors" that lib/core/errors.ts does not have');
  });

  it('has examples, each with a status the server can send', () => {
    assert.ok(examples.length >= 20, `only ${examples.length} examples found`);
    for (const x of examples) assert.ok(x.status >= 200 && x.status < 600, x.where);
  });
});

describe('the examples of docs/api.md, in order, against a real bus', () => {
  let bus: TestBus;
  /** The values captured by `"{{name}}"` in the answers so far. */
  const values = new Map<string, string>();
  before(async () => {
    // Schema discovery on: the examples of "Discovered schemas" read the drafts it infers.
    bus = await startTestBus({ schemaDiscovery: true });
  });
  after(() => bus.stop());

  for (const documented of examples) {
    it(`answers ${documented.method} ${documented.target} as documented (${documented.where})`, async () => {
      const example = withCaptures(documented, values);
      const deadline = Date.now() + (example.flags.has('eventually') ? EVENTUALLY_MS : 0);
      for (;;) {
        const answer = await send(bus, example);
        const found = differences(example, answer);
        if (found.length === 0) {
          if (example.response.body.includes('{{')) {
            for (const [name, value] of captures(JSON.parse(answer.text), JSON.parse(example.response.body)))
              values.set(name, value);
          }
          return;
        }
        if (Date.now() >= deadline) assert.fail(`${example.where}:\n  ${found.join('\n  ')}`);
        await delay(50);
      }
    });
  }
});

describe('the batch limit of docs/api.md', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(() => bus.stop());

  it('states the status the server answers for a batch over 1,000 events (issue #11: documented 413)', async () => {
    const batch = (n: number, prefix: string) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          specversion: '1.0',
          id: `${prefix}-${i}`,
          source: '/limits',
          type: 't',
        })),
      );
    const headers = { 'content-type': 'application/cloudevents-batch+json' };
    const over = await fetch(`${bus.url}/events`, { method: 'POST', headers, body: batch(1001, 'over') });
    const body = (await over.json()) as { error: Record<string, unknown> };
    assert.equal(over.status, 400);
    assert.deepEqual(
      { code: body.error.code, count: body.error.count, limit: body.error.limit },
      { code: 'InvalidBatch', count: 1001, limit: 1000 },
    );
    const rows = readFileSync(API, 'utf8')
      .split('\n')
      .filter((l) => /^\|\s*\d{3}\s*\|/.test(l) && l.includes('1,000 events'));
    assert.ok(rows.length > 0, 'docs/api.md states the batch limit of 1,000 events in a status table');
    for (const row of rows) assert.match(row, /^\|\s*400\s*\|/, row);
    const within = await fetch(`${bus.url}/events`, { method: 'POST', headers, body: batch(1000, 'within') });
    assert.equal(within.status, 200);
    assert.equal(((await within.json()) as { accepted: number }).accepted, 1000);
  });
});
