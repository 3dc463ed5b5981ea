/**
 * EventBridge-shaped rules, events and targets on a real bus over its REST API: a pattern copied from AWS routes
 * events from PutEvents and from CloudEvents producers alike, a function written for EventBridge runs unchanged, an
 * HTTP target gets EventBridge's JSON (through an input transformer too), and simulation, replay and
 * `/patterns/test` answer as routing does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixtureFunction, request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const AWS_PATTERN = {
  source: ['com.shop'],
  'detail-type': ['order.created'],
  detail: { total: [{ numeric: ['>', 100] }] },
};

const AMZ = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' };

describe('EventBridge-shaped rules, events and targets', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  const from = Date.now() - 1000;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
    assert.equal(
      (await request(bus.url, 'PUT', '/functions/ebfn', fixtureFunction('eventbridge-handler'))).status,
      200,
    );
  });
  after(async () => {
    await bus.stop();
    await sink.close();
  });

  const bodies = (path: string) =>
    sink.received.filter((r) => r.url === path).map((r) => r.body.toString('utf8'));

  async function putRule(name: string, body: unknown): Promise<void> {
    const res = await request(bus.url, 'PUT', `/rules/${name}`, body);
    assert.equal(res.status < 300, true, JSON.stringify(res.body));
  }

  async function putEvents(entries: unknown[]): Promise<string[]> {
    const res = await request(bus.url, 'POST', '/', JSON.stringify({ Entries: entries }), AMZ);
    assert.equal(res.status, 200);
    assert.equal(res.body.FailedEntryCount, 0, JSON.stringify(res.body));
    return res.body.Entries.map((e: { EventId: string }) => e.EventId);
  }

  test('a function written for EventBridge runs unchanged on events from PutEvents and from CloudEvents', async () => {
    await putRule('eb-fn', {
      pattern: AWS_PATTERN,
      targets: [{ id: 'fn', type: 'function', function: 'ebfn', format: 'eventbridge' }],
    });
    await putRule('eb-seen', {
      pattern: { source: ['/functions/ebfn'], 'detail-type': ['order.seen'] },
      targets: [{ id: 'sink', type: 'http', url: `${sink.url}/seen` }],
    });
    const [fromPut] = await putEvents([
      {
        Source: 'com.shop',
        DetailType: 'order.created',
        Detail: '{"total": 120}',
        Resources: ['arn:aws:s3:::orders'],
      },
      { Source: 'com.shop', DetailType: 'order.created', Detail: '{"total": 99}' },
    ]);
    const published = await request(
      bus.url,
      'POST',
      '/events',
      JSON.stringify({
        specversion: '1.0',
        id: 'ce-1',
        source: 'com.shop',
        type: 'order.created',
        account: '123456789012',
        data: { total: 150 },
      }),
      { 'content-type': 'application/cloudevents+json' },
    );
    assert.equal(published.status < 300, true, JSON.stringify(published.body));
    await waitFor(() => bodies('/seen').length === 2, 'what the function saw, twice');
    const seen = bodies('/seen')
      .map((b) => JSON.parse(b))
      .sort((a, b) => a.total - b.total);
    assert.deepEqual(seen, [
      {
        version: '0',
        id: fromPut,
        detailType: 'order.created',
        source: 'com.shop',
        account: '000000000000',
        region: 'us-east-1',
        resources: ['arn:aws:s3:::orders'],
        total: 120,
      },
      {
        version: '0',
        id: 'ce-1',
        detailType: 'order.created',
        source: 'com.shop',
        account: '123456789012',
        region: 'us-east-1',
        resources: [],
        total: 150,
      },
    ]);
  });

  test('an HTTP target gets EventBridge’s JSON, through an input transformer on $.detail too', async () => {
    await putRule('eb-hook', {
      pattern: { source: ['com.hook'], 'detail-type': [{ prefix: 'order.' }] },
      targets: [
        { id: 'whole', type: 'http', url: `${sink.url}/whole`, format: 'eventbridge' },
        {
          id: 'shaped',
          type: 'http',
          url: `${sink.url}/shaped`,
          format: 'eventbridge',
          input: {
            paths: { id: '$.detail.id', kind: '$.detail-type' },
            template: '{"id": <id>, "kind": "<kind>", "rule": "<aws.events.rule-arn>"}',
          },
        },
      ],
    });
    const [id] = await putEvents([
      { Source: 'com.hook', DetailType: 'order.paid', Detail: '{"id": 9007199254740993}' },
    ]);
    await waitFor(() => bodies('/whole').length === 1 && bodies('/shaped').length === 1, 'both deliveries');
    const whole = bodies('/whole')[0] as string;
    assert.ok(whole.endsWith('"detail":{"id": 9007199254740993}}'), whole);
    assert.equal(JSON.parse(whole).id, id);
    const received = sink.received.find((r) => r.url === '/whole');
    assert.equal(received?.headers['content-type'], 'application/json');
    assert.equal(received?.headers['ce-id'], undefined);
    assert.equal(
      bodies('/shaped')[0],
      '{"id": 9007199254740993, "kind": "order.paid", "rule": "arn:aws:events:us-east-1:000000000000:rule/eb-hook"}',
    );
  });

  test('simulation and replay read an EventBridge pattern as routing does; a replayed event says so', async () => {
    const to = Date.now() + 60_000;
    const sim = await request(bus.url, 'POST', '/rules/sim/simulate', {
      from,
      to,
      pattern: { 'detail-type': ['order.created'], detail: { total: [{ numeric: ['>', 100] }] } },
    });
    assert.equal(sim.status, 200, JSON.stringify(sim.body));
    assert.equal(sim.body.matched, 2);
    const replay = await request(bus.url, 'POST', '/replays', { from, to, rule: 'eb-hook', name: 'again' });
    assert.equal(replay.status < 300, true, JSON.stringify(replay.body));
    await waitFor(() => bodies('/whole').length === 2, 'the replayed delivery');
    assert.equal(JSON.parse(bodies('/whole')[1] as string)['replay-name'], 'again');
    // A pattern that leaves replays out, as EventBridge users write it.
    const live = await request(bus.url, 'POST', '/patterns/test', {
      pattern: { 'replay-name': [{ exists: false }] },
      event: { specversion: '1.0', id: 'x', source: 's', type: 't', replayname: 'again' },
    });
    assert.equal(live.body.matches, false);
  });

  test('/patterns/test reads an EventBridge-shaped event as PutEvents would map it', async () => {
    const event = {
      version: '0',
      id: 'x',
      'detail-type': 'order.created',
      source: 'com.shop',
      account: '123456789012',
      time: '2026-01-02T03:04:05Z',
      region: 'eu-west-1',
      resources: ['arn:aws:s3:::a'],
      detail: { total: 101 },
    };
    const hit = await request(bus.url, 'POST', '/patterns/test', {
      pattern: { ...AWS_PATTERN, resources: ['arn:aws:s3:::a'], region: ['eu-west-1'] },
      event,
    });
    assert.deepEqual(hit.body, { matches: true });
    const miss = await request(bus.url, 'POST', '/patterns/test', {
      pattern: AWS_PATTERN,
      event: { ...event, detail: { total: 100 } },
    });
    assert.equal(miss.body.matches, false);
    assert.equal(miss.body.explanation[0].path, 'data.total');
  });

  test('refuses what cannot be: two names for one field, the eventbridge format where it cannot apply', async () => {
    const clash = await request(bus.url, 'PUT', '/rules/clash', {
      pattern: { detail: { a: [1] }, data: { b: [2] } },
      targets: [{ id: 'h', type: 'http', url: `${sink.url}/x` }],
    });
    assert.equal(clash.status, 400);
    assert.equal(clash.body.error.code, 'InvalidPattern');
    assert.match(clash.body.error.message, /"detail" and "data" both name/);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: 'kafka', topic: 't', format: 'eventbridge' }, 'targets[0].format'],
      [{ type: 'http', url: `${sink.url}/x`, mode: 'structured', format: 'eventbridge' }, 'targets[0].mode'],
      [
        { type: 'http', url: `${sink.url}/x`, batch: { maxSize: 2 }, format: 'eventbridge' },
        'targets[0].batch',
      ],
      [{ type: 'http', url: `${sink.url}/x`, format: 'json' }, 'targets[0].format'],
    ];
    for (const [target, field] of cases) {
      const res = await request(bus.url, 'PUT', '/rules/bad-format', {
        pattern: { source: ['x'] },
        targets: [{ id: 't', ...target }],
      });
      assert.equal(res.status, 400, JSON.stringify(target));
      assert.equal(res.body.error.code, 'InvalidRule');
      assert.equal(res.body.error.field, field, res.body.error.message);
    }
  });
});
