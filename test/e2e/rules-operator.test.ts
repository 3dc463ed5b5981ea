/**
 * Issue 11, rules: switched on and off from the API (a disabled rule routes nothing, and stays disabled across a
 * restart); rules that could never deliver are refused at `PUT /rules/{name}`; a function that rules still deliver
 * to cannot be deleted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

/** A body-less POST still says JSON: the bus refuses one that a web page could send (CSRF, docs/security.md). */
const JSON_BODY = { 'content-type': 'application/json' };

function publish(bus: TestBus, id: string): Promise<unknown> {
  return request(bus.url, 'POST', '/events', '', {
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': '/ops',
    'ce-type': 'ops.test',
  });
}

describe('enabling and disabling rules', () => {
  let bus: TestBus;
  let web: HttpTarget;
  before(async () => {
    web = await startHttpTarget();
    bus = await startTestBus();
    const put = await request(bus.url, 'PUT', '/rules/switch', {
      pattern: { type: ['ops.test'] },
      targets: [{ id: 'web', type: 'http', url: web.url }],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  });
  after(async () => {
    await bus.stop();
    await web.close();
  });

  test('a disabled rule routes nothing; enabled again, it delivers', async () => {
    const off = await request(bus.url, 'POST', '/rules/switch/disable', undefined, JSON_BODY);
    assert.equal(off.status, 200);
    assert.equal(off.body.name, 'switch');
    assert.equal(off.body.enabled, false);
    assert.equal(off.body.targets[0].id, 'web');
    assert.equal((await request(bus.url, 'GET', '/rules/switch')).body.enabled, false);
    await publish(bus, 'while-off');
    await waitFor(
      async () => (await traceOf(bus, 'while-off', '/ops')).some((e) => e.kind === 'unmatched'),
      'the event routed as unmatched',
    );
    const on = await request(bus.url, 'POST', '/rules/switch/enable', undefined, JSON_BODY);
    assert.equal(on.status, 200);
    assert.equal(on.body.enabled, true);
    await publish(bus, 'while-on');
    await waitFor(() => web.received.some((r) => r.headers['ce-id'] === 'while-on'), 'delivery once enabled');
    assert.ok(!web.received.some((r) => r.headers['ce-id'] === 'while-off'), 'nothing delivered while off');
  });

  test('keeps a rule disabled across a restart', async () => {
    assert.equal((await request(bus.url, 'POST', '/rules/switch/disable', undefined, JSON_BODY)).status, 200);
    await bus.stop({ keepData: true });
    bus = await bus.restart();
    assert.equal((await request(bus.url, 'GET', '/rules/switch')).body.enabled, false);
    await publish(bus, 'after-restart');
    await waitFor(
      async () => (await traceOf(bus, 'after-restart', '/ops')).some((e) => e.kind === 'unmatched'),
      'the event routed as unmatched',
    );
    assert.equal((await request(bus.url, 'POST', '/rules/switch/enable', undefined, JSON_BODY)).status, 200);
  });

  test('answers 404 for an unknown rule and 405 for another method', async () => {
    for (const action of ['enable', 'disable']) {
      const res = await request(bus.url, 'POST', `/rules/nope/${action}`, undefined, JSON_BODY);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, 'NotFound');
    }
    assert.equal((await request(bus.url, 'GET', '/rules/switch/enable')).status, 405);
  });
});

describe('rules that could never deliver', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(() => bus.stop());

  async function refused(name: string, body: unknown, field: string): Promise<string> {
    const res = await request(bus.url, 'PUT', `/rules/${name}`, body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'InvalidRule');
    assert.equal(res.body.error.field, field);
    assert.equal((await request(bus.url, 'GET', `/rules/${name}`)).status, 404, 'nothing was stored');
    return res.body.error.message as string;
  }

  test('refuses a function target whose function is not deployed, and takes it once deployed', async () => {
    const rule = {
      pattern: { type: ['x'] },
      targets: [
        { id: 'web', type: 'http', url: 'http://127.0.0.1:9/hook' },
        { id: 'fn', type: 'function', function: 'enrich' },
      ],
    };
    const message = await refused('enrich-orders', rule, 'targets[1].function');
    assert.match(message, /"enrich" is not deployed/);
    assert.equal((await request(bus.url, 'PUT', '/functions/enrich', fixtureFunction('noop'))).status, 200);
    assert.equal((await request(bus.url, 'PUT', '/rules/enrich-orders', rule)).status, 201);
  });

  test('refuses a kafka target naming no brokers on a bus without Kafka', async () => {
    const message = await refused(
      'to-kafka',
      { pattern: { type: ['x'] }, targets: [{ id: 'k', type: 'kafka', topic: 'orders' }] },
      'targets[0].brokers',
    );
    assert.match(message, /no Kafka/);
    const named = await request(bus.url, 'PUT', '/rules/to-kafka', {
      pattern: { type: ['x'] },
      targets: [{ id: 'k', type: 'kafka', topic: 'orders', brokers: ['127.0.0.1:9092'] }],
    });
    assert.equal(named.status, 201, 'a target with its own brokers is accepted');
  });

  test('refuses an enabled rule without targets; a disabled draft is kept but cannot be enabled', async () => {
    const message = await refused('empty', { pattern: { type: ['x'] }, targets: [] }, 'targets');
    assert.match(message, /"enabled": false/);
    const draft = await request(bus.url, 'PUT', '/rules/empty', {
      pattern: { type: ['x'] },
      targets: [],
      enabled: false,
    });
    assert.equal(draft.status, 201, JSON.stringify(draft.body));
    const enable = await request(bus.url, 'POST', '/rules/empty/enable', undefined, JSON_BODY);
    assert.equal(enable.status, 400);
    assert.equal(enable.body.error.field, 'targets');
    assert.equal((await request(bus.url, 'GET', '/rules/empty')).body.enabled, false);
  });

  test('refuses to delete a function that rules deliver to, naming them (409)', async () => {
    assert.equal((await request(bus.url, 'PUT', '/functions/shared', fixtureFunction('noop'))).status, 200);
    for (const name of ['uses-a', 'uses-b']) {
      const put = await request(bus.url, 'PUT', `/rules/${name}`, {
        pattern: { type: ['x'] },
        targets: [{ id: 'fn', type: 'function', function: 'shared' }],
      });
      assert.equal(put.status, 201);
    }
    const conflict = await request(bus.url, 'DELETE', '/functions/shared');
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.error.code, 'Conflict');
    assert.deepEqual(conflict.body.error.rules, ['uses-a', 'uses-b']);
    assert.match(conflict.body.error.message, /uses-a, uses-b/);
    assert.equal((await request(bus.url, 'GET', '/functions/shared')).status, 200, 'still deployed');
    for (const name of ['uses-a', 'uses-b']) await request(bus.url, 'DELETE', `/rules/${name}`);
    assert.equal((await request(bus.url, 'DELETE', '/functions/shared')).status, 204);
    assert.equal((await request(bus.url, 'DELETE', '/functions/shared')).status, 404);
  });
});
