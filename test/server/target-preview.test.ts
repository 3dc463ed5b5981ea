/** `POST /targets/test` (issue #17, the console's transformer preview): a target's input for an event, nothing delivered. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

const event = {
  specversion: '1.0',
  id: 'o-1',
  source: '/shop',
  type: 'order.created',
  data: { total: 250 },
};
const hook = { id: 'h', type: 'http', url: 'https://hooks.example.com/x' };

describe('POST /targets/test', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus();
  });
  after(async () => {
    await bus?.stop();
  });

  test('shapes the event as a delivery would: input, inputJsonata, the eventbridge format, and as it is', async () => {
    const cases: Array<[unknown, unknown]> = [
      [{ ...hook, input: { path: '$.data.total' } }, '250'],
      [
        {
          ...hook,
          input: { paths: { s: '$.source' }, template: '"<s> by <aws.events.rule-name>"' },
        },
        undefined,
      ],
      [{ ...hook, inputJsonata: '{"t": data.total}' }, '{"t":250}'],
      [{ id: 'f', type: 'function', function: 'f' }, JSON.stringify(event.data)],
    ];
    for (const [target, body] of cases) {
      const res = await request(bus.url, 'POST', '/targets/test', { event, target, rule: 'orders' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ok, true, JSON.stringify(res.body));
      if (body !== undefined) assert.equal(res.body.body, body);
      assert.equal(res.body.event.id, 'o-1');
    }
    const named = await request(bus.url, 'POST', '/targets/test', {
      event,
      target: { ...hook, input: { template: '<aws.events.rule-name>' } },
      rule: 'orders',
    });
    assert.equal(named.body.body, 'orders');
    const eb = await request(bus.url, 'POST', '/targets/test', {
      event,
      target: { ...hook, format: 'eventbridge' },
    });
    const shaped = JSON.parse(eb.body.body);
    assert.equal(shaped['detail-type'], 'order.created');
    assert.equal(shaped.detail.total, 250);
  });

  test('reads an EventBridge-shaped event as PutEvents would', async () => {
    const res = await request(bus.url, 'POST', '/targets/test', {
      event: { id: 'eb-1', 'detail-type': 'order.created', source: 'shop', detail: { total: 5 } },
      target: { ...hook, input: { path: '$.data.total' } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.body, '5');
  });

  test('names the field of a bad event or target; a failing transformation answers ok: false', async () => {
    for (const [body, code, field] of [
      [{ event: { ...event, specversion: undefined }, target: hook }, 'InvalidEvent', 'event.specversion'],
      [{ event: 'x', target: hook }, 'InvalidRequest', 'event'],
      [{ event, target: { ...hook, url: 'ftp://x' } }, 'InvalidRule', 'target.url'],
      [{ event, target: { ...hook, inputJsonata: '{{' } }, 'InvalidRule', 'target.inputJsonata'],
      [{ event, target: hook, rule: 7 }, 'InvalidRequest', 'rule'],
      [[], 'InvalidRequest', undefined],
    ] as const) {
      const res = await request(bus.url, 'POST', '/targets/test', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
    const failed = await request(bus.url, 'POST', '/targets/test', {
      event,
      target: { ...hook, inputJsonata: '$error("nope")' },
    });
    assert.equal(failed.status, 200);
    assert.equal(failed.body.ok, false);
    assert.equal(failed.body.error.code, 'DeliveryFailed');
    const big = await request(bus.url, 'POST', '/targets/test', {
      event: { ...event, data: { blob: 'x'.repeat(300 * 1024) } },
      target: hook,
    });
    assert.equal(big.status, 413);
  });

  test('any valid key may call it, as POST /patterns/test', async () => {
    const admin = (await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' })).body.key;
    const pub = (
      await request(
        bus.url,
        'POST',
        '/keys',
        { name: 'pub', scope: 'publish' },
        { authorization: `Bearer ${admin}` },
      )
    ).body.key;
    const res = await request(
      bus.url,
      'POST',
      '/targets/test',
      { event, target: hook },
      {
        authorization: `Bearer ${pub}`,
      },
    );
    assert.equal(res.status, 200);
    const none = await request(bus.url, 'POST', '/targets/test', { event, target: hook });
    assert.equal(none.status, 401);
  });
});
