/**
 * `junction schemas discover` and `junction schemas promote` (issue #16) against a real bus with discovery on: the
 * drafts listed, one printed as JSON, a draft promoted into the registry and then refused when incompatible; with
 * discovery off the list says how to turn it on; bad input names the flag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EXIT } from '../../lib/cli/cli.ts';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';

const TYPE = 'com.shop.order.created';

describe('junction schemas discover / promote', () => {
  let bus: TestBus;
  let url: string[];

  before(async () => {
    bus = await startTestBus({ schemaDiscovery: true });
    url = ['--url', bus.url];
    const sent = [
      { id: 'o-1', data: { order: 'A-1', total: 10 } },
      { id: 'o-2', data: { order: 'A-2', total: 12.5, coupon: 'X' } },
    ];
    for (const { id, data } of sent) {
      const res = await publishBinary(
        bus,
        { id, source: '/shop', type: TYPE },
        JSON.stringify(data),
        'application/json',
      );
      assert.equal(res.status, 202);
    }
    await waitFor(
      async () => (await request(bus.url, 'GET', `/schemas/discovered/%2Fshop/${TYPE}`)).body?.events === 2,
      'the draft to read both events',
      60_000,
    );
  });
  after(async () => {
    await bus?.stop();
  });

  test('lists the drafts and prints one as JSON (the latest, or --draft-version)', async () => {
    const listed = await cli(['schemas', 'discover', ...url]);
    assert.equal(listed.code, EXIT.ok, listed.err);
    const lines = listed.out.trim().split('\n');
    assert.match(lines[0] ?? '', /^TYPE\s+SOURCE\s+VERSION\s+EVENTS\s+LAST SEEN$/);
    assert.match(lines[1] ?? '', new RegExp(`^${TYPE.replace(/\./g, '\\.')}\\s+/shop\\s+2\\s+2\\s+\\d{4}-`));
    const json = JSON.parse((await cli(['schemas', 'discover', '--json', ...url])).out);
    assert.equal(json.discovery, 'on');
    assert.equal(json.drafts.length, 1);

    const latest = await cli(['schemas', 'discover', '--type', TYPE, '--source', '/shop', ...url]);
    assert.equal(latest.code, EXIT.ok, latest.err);
    assert.deepEqual(JSON.parse(latest.out), {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { order: { type: 'string' }, total: { type: 'number' }, coupon: { type: 'string' } },
      required: ['order', 'total'],
    });
    const first = await cli([
      'schemas',
      'discover',
      '--type',
      TYPE,
      '--source',
      '/shop',
      '--draft-version',
      '1',
      ...url,
    ]);
    assert.equal(JSON.parse(first.out).properties.total.type, 'integer');
  });

  test('promotes a draft; an incompatible one is refused (exit 1) with the change named', async () => {
    const promoted = await cli(['schemas', 'promote', 'orders', '--type', TYPE, '--source', '/shop', ...url]);
    assert.equal(promoted.code, EXIT.ok, promoted.err);
    assert.equal(
      promoted.out,
      `draft version 2 of ${TYPE} from /shop registered as schema orders version 1 (type ${TYPE} from /shop*, enforcement warn)\n`,
    );
    const again = await cli(['schemas', 'promote', 'orders', '--type', TYPE, '--source', '/shop', ...url]);
    assert.equal(again.code, EXIT.ok, again.err);
    assert.match(again.out, /^schema orders unchanged: draft version 2 is its version 1 /);
    const narrower = await cli([
      'schemas',
      'promote',
      'orders',
      '--type',
      TYPE,
      '--source',
      '/shop',
      '--draft-version',
      '1',
      ...url,
    ]);
    assert.equal(narrower.code, EXIT.apiError);
    assert.match(narrower.err, /^IncompatibleSchema.*type-narrowed/);
    const got = JSON.parse((await cli(['schemas', 'get', 'orders', '--json', ...url])).out);
    assert.equal(got.latest, 1);
  });

  test('bad input names the flag; an unknown draft says how to list them', async () => {
    const noSource = await cli(['schemas', 'promote', 'x', '--type', TYPE, ...url]);
    assert.equal(noSource.code, EXIT.usage);
    assert.match(noSource.err, /--source/);
    const half = await cli(['schemas', 'discover', '--type', TYPE, ...url]);
    assert.equal(half.code, EXIT.usage);
    assert.match(half.err, /--source/);
    const badVersion = await cli([
      'schemas',
      'discover',
      '--type',
      TYPE,
      '--source',
      '/shop',
      '--draft-version',
      'x',
      ...url,
    ]);
    assert.equal(badVersion.code, EXIT.usage);
    assert.match(badVersion.err, /--draft-version/);
    const badMode = await cli([
      'schemas',
      'promote',
      'y',
      '--type',
      TYPE,
      '--source',
      '/shop',
      '--enforcement',
      'loud',
      ...url,
    ]);
    assert.equal(badMode.code, EXIT.apiError);
    assert.match(badMode.err, /--enforcement/);
    const missing = await cli(['schemas', 'discover', '--type', 'nope', '--source', '/shop', ...url]);
    assert.equal(missing.code, EXIT.apiError);
    assert.match(missing.err, /junction schemas discover/);
  });

  test('with discovery off, the list says how to turn it on', async () => {
    const off = await startTestBus();
    try {
      const listed = await cli(['schemas', 'discover', '--url', off.url]);
      assert.equal(listed.code, EXIT.ok, listed.err);
      assert.match(listed.out, /discovery is off .*--discover-schemas/);
    } finally {
      await off.stop();
    }
  });
});
