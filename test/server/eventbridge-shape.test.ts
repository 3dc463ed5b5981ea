/**
 * One semantics for EventBridge-shaped patterns over REST, through a real bus and a real HTTP target on 127.0.0.1
 * (#14 §2): the pattern copied from AWS answers the same in `/patterns/test`, routing, rule simulation and replay,
 * for CloudEvents and for PutEvents events alike; a target of format `eventbridge` gets EventBridge's JSON.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const AWS_PATTERN = {
  source: ['com.shop'],
  'detail-type': ['order.created'],
  detail: { total: [{ numeric: ['>', 100] }] },
};
const ALL_TIME = { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
const AMZ = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' };

/** A CloudEvent in structured mode as JSON text, its data written with an integer beyond 2^53. */
function orderText(id: string, total: number): string {
  return (
    `{"specversion":"1.0","id":"${id}","source":"com.shop","type":"order.created","time":"2026-05-01T10:00:00.123456Z",` +
    `"resources":"[\\"arn:aws:shop:::order/${id}\\"]","data":{"total": ${total}, "ref": 9007199254740993}}`
  );
}

describe('EventBridge patterns and shapes over REST', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
  });
  after(async () => {
    await bus.stop();
    await sink.close();
  });

  const at = (path: string) => sink.received.filter((r) => r.url === path);

  it('POST /patterns/test matches the AWS pattern on a CloudEvent and on an EventBridge event alike', async () => {
    const cloudEvent = {
      specversion: '1.0',
      id: '1',
      source: 'com.shop',
      type: 'order.created',
      data: { total: 120 },
    };
    const eventBridge = {
      version: '0',
      id: '1',
      'detail-type': 'order.created',
      source: 'com.shop',
      account: '123456789012',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: { total: 120 },
    };
    for (const event of [cloudEvent, eventBridge]) {
      const res = await request(bus.url, 'POST', '/patterns/test', { pattern: AWS_PATTERN, event });
      assert.deepEqual(res.body, { matches: true });
    }
    const small = await request(bus.url, 'POST', '/patterns/test', {
      pattern: AWS_PATTERN,
      event: { ...eventBridge, detail: { total: 90 } },
    });
    assert.equal(small.body.matches, false);
    assert.equal(small.body.explanation[0].path, 'data.total');
    const mixed = await request(bus.url, 'POST', '/patterns/test', {
      pattern: { ...AWS_PATTERN, type: ['order.created'] },
      event: cloudEvent,
    });
    assert.equal(mixed.status, 400);
    assert.equal(mixed.body.error.code, 'InvalidPattern');
    assert.equal(mixed.body.error.path, 'pattern.type');
  });

  it('routes, simulates and replays the AWS pattern; a target of format eventbridge gets EventBridge JSON', async () => {
    const put = await request(bus.url, 'PUT', '/rules/eb-orders', {
      pattern: AWS_PATTERN,
      targets: [
        { id: 'shaped', type: 'http', url: `${sink.url}/shaped`, format: 'eventbridge' },
        {
          id: 'picked',
          type: 'http',
          url: `${sink.url}/picked`,
          input: {
            paths: { total: '$.detail.total', resource: '$.resources[0]' },
            template: '{"total": <total>, "resource": "<resource>", "rule": "<aws.events.rule-arn>"}',
          },
        },
      ],
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(put.body.pattern, AWS_PATTERN, 'the rule keeps its pattern as written');
    assert.equal(put.body.targets[0].format, 'eventbridge');

    for (const [id, total] of [
      ['o-1', 120],
      ['o-2', 90],
    ] as const) {
      const res = await request(bus.url, 'POST', '/events', orderText(id, total), {
        'content-type': 'application/cloudevents+json',
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    const amz = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({
        Entries: [
          {
            Source: 'com.shop',
            DetailType: 'order.created',
            Detail: '{"total": 300, "ref": 9007199254740993}',
          },
        ],
      }),
      AMZ,
    );
    assert.equal(amz.body.FailedEntryCount, 0);
    const fromPutEvents = amz.body.Entries[0].EventId as string;

    await waitFor(
      () => at('/shaped').length === 2 && at('/picked').length === 2,
      'two orders at both targets',
    );
    const bodies = at('/shaped').map((r) => r.body.toString('utf8'));
    for (const text of bodies) assert.match(text, /"ref": 9007199254740993\}/);
    const shaped = bodies.map((text) => JSON.parse(text)).sort((a, b) => a.detail.total - b.detail.total);
    assert.deepEqual(
      shaped.map((e) => [e.id, e['detail-type'], e.account, e.region, e.resources, e.detail.total]),
      [
        ['o-1', 'order.created', '000000000000', 'us-east-1', ['arn:aws:shop:::order/o-1'], 120],
        [fromPutEvents, 'order.created', '000000000000', 'us-east-1', [], 300],
      ],
    );
    assert.equal(shaped[0].time, '2026-05-01T10:00:00.123456Z');
    assert.equal(at('/shaped')[0]?.headers['ce-id'], undefined);
    const picked = at('/picked').map((r) => JSON.parse(r.body.toString('utf8')));
    assert.deepEqual(
      picked.sort((a, b) => a.total - b.total),
      [
        {
          total: 120,
          resource: 'arn:aws:shop:::order/o-1',
          rule: 'arn:aws:events:us-east-1:000000000000:rule/eb-orders',
        },
        { total: 300, resource: '', rule: 'arn:aws:events:us-east-1:000000000000:rule/eb-orders' },
      ],
    );

    const simulated = await request(bus.url, 'POST', '/rules/eb-orders/simulate', ALL_TIME);
    assert.equal(simulated.status, 200, JSON.stringify(simulated.body));
    assert.deepEqual([simulated.body.scanned, simulated.body.matched], [3, 2]);
    const narrower = await request(bus.url, 'POST', '/rules/eb-orders/simulate', {
      ...ALL_TIME,
      pattern: { 'detail-type': ['order.created'], detail: { total: [{ numeric: ['>', 200] }] } },
    });
    assert.equal(narrower.body.matched, 1);
    assert.equal(narrower.body.sample[0].id, fromPutEvents);

    const replay = await request(bus.url, 'POST', '/replays', {
      ...ALL_TIME,
      rule: 'eb-orders',
      name: 'again',
    });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.equal(replay.body.events, 2);
    await waitFor(() => at('/shaped').length === 4, 'the replayed orders');
    const replayed = at('/shaped')
      .slice(2)
      .map((r) => JSON.parse(r.body.toString('utf8')));
    assert.deepEqual(
      replayed.map((e) => e['replay-name']),
      ['again', 'again'],
    );
    assert.equal(Object.keys(replayed[0]).at(-1), 'replay-name');
  });
});
