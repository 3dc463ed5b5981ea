/** JSONata target input through the real server: shaped bodies at an HTTP target, dead letters, hostile expressions. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { publishBinary, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { startHttpTarget } from '../helpers/http-target.ts';

const once = { maxAttempts: 1, maxAgeSeconds: 600, backoff: { kind: 'fixed', initialMs: 10, maxMs: 10 } };

describe('JSONata target input', () => {
  let bus: TestBus;
  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
  });
  after(async () => {
    await bus.stop();
  });

  test('shapes the body an HTTP target receives; a failing evaluation dead-letters with the reason', async () => {
    const target = await startHttpTarget();
    try {
      const put = await request(bus.url, 'PUT', '/rules/summary', {
        pattern: { type: ['order.created'] },
        targets: [
          {
            id: 'crm',
            type: 'http',
            url: target.url,
            retry: once,
            inputJsonata:
              '{"order": data.id, "total": $sum(data.lines.(qty * price)), "rule": $junction.ruleName, ' +
              '"big": data.total > 100 ? true : $error("not big enough")}',
          },
        ],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const data = {
        id: 'o-1',
        total: 150,
        lines: [
          { qty: 2, price: 5 },
          { qty: 1, price: 140 },
        ],
      };
      const small = { id: 'o-2', total: 5, lines: [] };
      for (const [id, d] of [
        ['j-1', data],
        ['j-2', small],
      ] as const) {
        const res = await publishBinary(
          bus,
          { id, source: '/jsonata', type: 'order.created' },
          JSON.stringify(d),
          'application/json',
        );
        assert.equal(res.status, 202);
      }
      await waitFor(() => target.received.length === 1, 'the shaped delivery', 60_000);
      const [got] = target.received;
      assert.deepEqual(JSON.parse(got!.body.toString('utf8')), {
        order: 'o-1',
        total: 150,
        rule: 'summary',
        big: true,
      });
      assert.match(String(got!.headers['content-type']), /^application\/json/);
      assert.equal(got!.headers['ce-id'], 'j-1');
      await waitFor(
        async () =>
          (await request(bus.url, 'GET', '/dead-letters?rule=summary')).body.deadLetters.length === 1,
        'the dead letter of the failing evaluation',
        60_000,
      );
      const [letter] = (await request(bus.url, 'GET', '/dead-letters?rule=summary')).body.deadLetters;
      assert.equal(letter.id, 'j-2');
      assert.match(letter.reason, /DeliveryFailed: inputJsonata failed.*not big enough/);
      assert.equal(letter.attempts.length, 1, 'an evaluation error is not retried');
      assert.equal(target.received.length, 1, 'the failed evaluation never reached the target');
    } finally {
      await target.close();
      await request(bus.url, 'DELETE', '/rules/summary');
    }
  });

  test('with format "eventbridge", the expression reads the event in EventBridge\'s shape', async () => {
    const target = await startHttpTarget();
    try {
      const put = await request(bus.url, 'PUT', '/rules/eb-shape', {
        pattern: { type: ['eb.shape'] },
        targets: [
          {
            id: 'eb',
            type: 'http',
            url: target.url,
            retry: once,
            format: 'eventbridge',
            inputJsonata: '{"kind": $."detail-type", "id": detail.id, "from": source}',
          },
        ],
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const res = await publishBinary(
        bus,
        { id: 'eb-1', source: '/shop', type: 'eb.shape' },
        JSON.stringify({ id: 'o-9' }),
        'application/json',
      );
      assert.equal(res.status, 202);
      await waitFor(() => target.received.length === 1, 'the delivery', 60_000);
      assert.deepEqual(JSON.parse(target.received[0]!.body.toString('utf8')), {
        kind: 'eb.shape',
        id: 'o-9',
        from: '/shop',
      });
    } finally {
      await target.close();
      await request(bus.url, 'DELETE', '/rules/eb-shape');
    }
  });

  test('refuses a syntax error and inputJsonata beside input at PUT', async () => {
    const bad = await request(bus.url, 'PUT', '/rules/bad', {
      pattern: { type: ['x'] },
      targets: [{ id: 't', type: 'http', url: 'http://127.0.0.1:9/', inputJsonata: '{"a": data.(' }],
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'InvalidRule');
    assert.equal(bad.body.error.field, 'targets[0].inputJsonata');
    assert.match(bad.body.error.message, /syntax error at position \d+/);
    const both = await request(bus.url, 'PUT', '/rules/bad', {
      pattern: { type: ['x'] },
      targets: [
        {
          id: 't',
          type: 'http',
          url: 'http://127.0.0.1:9/',
          input: { path: '$.data' },
          inputJsonata: 'data',
        },
      ],
    });
    assert.equal(both.status, 400);
    assert.equal(both.body.error.field, 'targets[0].inputJsonata');
  });

  test('a hostile expression runs into its deadline without freezing the bus or other targets', async () => {
    const target = await startHttpTarget();
    try {
      const hostile = await request(bus.url, 'PUT', '/rules/hostile', {
        pattern: { type: ['hostile'] },
        targets: [
          {
            id: 'spin',
            type: 'http',
            url: target.url,
            retry: once,
            concurrency: 1,
            // A billion steps: it runs into the evaluation deadline.
            inputJsonata: '$sum([1..1000].($sum([1..1000].($sum([1..1000].($ * 2))))))',
          },
        ],
      });
      assert.equal(hostile.status, 201, JSON.stringify(hostile.body));
      const friendly = await request(bus.url, 'PUT', '/rules/friendly', {
        pattern: { type: ['friendly'] },
        targets: [{ id: 'web', type: 'http', url: target.url, retry: once, inputJsonata: '{"id": id}' }],
      });
      assert.equal(friendly.status, 201, JSON.stringify(friendly.body));
      for (let i = 0; i < 3; i++) {
        const res = await publishBinary(bus, { id: `h-${i}`, source: '/hostile', type: 'hostile' });
        assert.equal(res.status, 202);
      }
      // While the hostile evaluations run, the bus answers and delivers other rules' events.
      for (let i = 0; i < 5; i++) {
        const res = await publishBinary(bus, { id: `f-${i}`, source: '/friendly', type: 'friendly' });
        assert.equal(res.status, 202);
        assert.equal((await request(bus.url, 'GET', '/rules/friendly')).status, 200);
      }
      await waitFor(() => target.received.length === 5, 'the friendly deliveries', 60_000);
      await waitFor(
        async () =>
          (await request(bus.url, 'GET', '/dead-letters?rule=hostile')).body.deadLetters.length === 3,
        'the hostile dead letters',
        60_000,
      );
      const letters = (await request(bus.url, 'GET', '/dead-letters?rule=hostile')).body.deadLetters;
      for (const letter of letters)
        assert.match(letter.reason, /inputJsonata failed.*D1012 Evaluation timeout/);
      assert.deepEqual(
        target.received.map((r) => JSON.parse(r.body.toString('utf8')).id).sort(),
        ['f-0', 'f-1', 'f-2', 'f-3', 'f-4'],
        'only friendly events reached the target',
      );
    } finally {
      await target.close();
      await request(bus.url, 'DELETE', '/rules/hostile');
      await request(bus.url, 'DELETE', '/rules/friendly');
    }
  });
});
