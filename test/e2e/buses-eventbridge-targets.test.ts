/**
 * The EventBridge API per bus (issue #13), through `@aws-sdk/client-eventbridge` against a real embedded bus: rule
 * ARNs carry the bus (`rule/<bus>/<name>`) and rules their `EventBusName`; a target whose ARN is an event bus of the
 * deployment forwards there (the cross-bus pattern), with the loop guard; calls on a bus that does not exist answer
 * AWS's ResourceNotFoundException; under authentication a key may forward only where it may publish, or where the
 * bus accepts the rule's bus (`acceptFrom`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateEventBusCommand,
  DescribeArchiveCommand,
  DescribeReplayCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListArchivesCommand,
  ListReplaysCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  StartReplayCommand,
  UpdateEventBusCommand,
} from '@aws-sdk/client-eventbridge';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const ACCOUNT = 'arn:aws:events:us-east-1:000000000000';
const busArn = (name: string) => `${ACCOUNT}:event-bus/${name}`;

function clientFor(url: string, credentials = { accessKeyId: 'test', secretAccessKey: 'test' }) {
  return new EventBridgeClient({ endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1 });
}

/** The AWS error a call fails with (its name and message). */
async function failure(call: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await call;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  assert.fail('the call succeeded');
}

describe('the EventBridge API per bus, through @aws-sdk/client-eventbridge', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  let client: EventBridgeClient;

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    sink = await startHttpTarget();
    client = clientFor(bus.url);
    for (const name of ['orders', 'audit']) await client.send(new CreateEventBusCommand({ Name: name }));
  });
  after(async () => {
    client.destroy();
    await bus?.stop();
    await sink?.close();
  });

  test('rule ARNs carry the bus, and rules their EventBusName', async () => {
    const onOrders = await client.send(
      new PutRuleCommand({ Name: 'placed', EventBusName: 'orders', EventPattern: '{"source":["com.shop"]}' }),
    );
    assert.equal(onOrders.RuleArn, `${ACCOUNT}:rule/orders/placed`);
    const byArn = await client.send(
      new PutRuleCommand({
        Name: 'placed',
        EventBusName: busArn('orders'),
        EventPattern: '{"source":["com.shop"]}',
      }),
    );
    assert.equal(byArn.RuleArn, `${ACCOUNT}:rule/orders/placed`);
    const onDefault = await client.send(
      new PutRuleCommand({ Name: 'placed', EventPattern: '{"source":["com.shop"]}' }),
    );
    assert.equal(onDefault.RuleArn, `${ACCOUNT}:rule/placed`);

    const described = await client.send(new DescribeRuleCommand({ Name: 'placed', EventBusName: 'orders' }));
    assert.equal(described.Arn, `${ACCOUNT}:rule/orders/placed`);
    assert.equal(described.EventBusName, 'orders');
    const listed = await client.send(new ListRulesCommand({ EventBusName: 'orders' }));
    assert.deepEqual(
      listed.Rules?.map((r) => [r.Name, r.Arn, r.EventBusName]),
      [['placed', `${ACCOUNT}:rule/orders/placed`, 'orders']],
    );
    const onDefaultListed = await client.send(new ListRulesCommand({}));
    assert.deepEqual(
      onDefaultListed.Rules?.map((r) => [r.Name, r.Arn, r.EventBusName]),
      [['placed', `${ACCOUNT}:rule/placed`, 'default']],
    );
    const missingRule = await failure(
      client.send(new DescribeRuleCommand({ Name: 'nope', EventBusName: 'orders' })),
    );
    assert.deepEqual(missingRule, {
      name: 'ResourceNotFoundException',
      message: 'Rule nope does not exist on EventBus orders.',
    });
  });

  test('a target with an event-bus ARN forwards to that bus of the deployment', async () => {
    const put = await client.send(
      new PutTargetsCommand({
        Rule: 'placed',
        EventBusName: 'orders',
        Targets: [{ Id: 'to-audit', Arn: busArn('audit') }],
      }),
    );
    assert.equal(put.FailedEntryCount, 0, JSON.stringify(put.FailedEntries));
    await client.send(
      new PutRuleCommand({
        Name: 'everything',
        EventBusName: 'audit',
        EventPattern: '{"source":["com.shop"]}',
      }),
    );
    const sinkTarget = await client.send(
      new PutTargetsCommand({
        Rule: 'everything',
        EventBusName: 'audit',
        Targets: [
          {
            Id: 'sink',
            Arn: `arn:junction:http:::${sink.url}/audit`,
            InputTransformer: { InputTemplate: '{"rule": <aws.events.rule-arn>}' },
          },
        ],
      }),
    );
    assert.equal(sinkTarget.FailedEntryCount, 0, JSON.stringify(sinkTarget.FailedEntries));

    const targets = await client.send(
      new ListTargetsByRuleCommand({ Rule: 'placed', EventBusName: 'orders' }),
    );
    assert.deepEqual(
      targets.Targets?.map((t) => [t.Id, t.Arn]),
      [['to-audit', busArn('audit')]],
    );
    const names = await client.send(
      new ListRuleNamesByTargetCommand({ TargetArn: busArn('audit'), EventBusName: 'orders' }),
    );
    assert.deepEqual(names.RuleNames, ['placed']);
    const elsewhere = await client.send(
      new ListRuleNamesByTargetCommand({ TargetArn: busArn('default'), EventBusName: 'orders' }),
    );
    assert.deepEqual(elsewhere.RuleNames, [], 'a bus target names one bus');

    const sent = await client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: 'orders', Source: 'com.shop', DetailType: 'placed', Detail: '{"n":1}' }],
      }),
    );
    assert.equal(sent.FailedEntryCount, 0, JSON.stringify(sent.Entries));
    await waitFor(() => sink.received.some((r) => r.url === '/audit'), 'the audit bus delivering', 60_000);
    const delivered = sink.received.find((r) => r.url === '/audit');
    assert.equal(delivered?.headers['ce-id'], sent.Entries?.[0]?.EventId);
    assert.equal(delivered?.headers['ce-junctionhops'], '1', 'one bus hop');
    assert.deepEqual(JSON.parse(delivered?.body.toString('utf8') ?? ''), {
      rule: `${ACCOUNT}:rule/audit/everything`,
    });
  });

  test("a named bus's archive is named as the bus: describe, list, replay from it, describe and list the replay", async () => {
    const archive = await client.send(new DescribeArchiveCommand({ ArchiveName: 'orders' }));
    assert.equal(archive.ArchiveArn, `${ACCOUNT}:archive/orders`);
    assert.equal(archive.EventSourceArn, busArn('orders'));
    const mine = await client.send(new ListArchivesCommand({ EventSourceArn: busArn('orders') }));
    assert.deepEqual(
      mine.Archives?.map((a) => a.ArchiveName),
      ['orders'],
    );
    const all = await client.send(new ListArchivesCommand({}));
    assert.ok(all.Archives?.some((a) => a.ArchiveName === 'default'));
    assert.ok(all.Archives?.some((a) => a.ArchiveName === 'orders'));
    const missing = await failure(client.send(new DescribeArchiveCommand({ ArchiveName: 'nope' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.message, 'Archive nope does not exist.');

    const now = Date.now();
    const replay = (name: string, filter: string, source = archive.ArchiveArn) =>
      client.send(
        new StartReplayCommand({
          ReplayName: name,
          EventSourceArn: source,
          EventStartTime: new Date(now - 3_600_000),
          EventEndTime: new Date(now + 60_000),
          Destination: { Arn: busArn('orders'), FilterArns: [filter] },
        }),
      );
    const started = await replay('orders-again', `${ACCOUNT}:rule/orders/placed`);
    assert.equal(started.State, 'COMPLETED');
    const wrongBus = await failure(replay('orders-wrong', `${ACCOUNT}:rule/placed`));
    assert.equal(wrongBus.name, 'ValidationException');
    assert.match(wrongBus.message, /FilterArns\[0\] must be a rule ARN/);
    const otherArchive = await failure(
      replay('orders-other', `${ACCOUNT}:rule/orders/placed`, `${ACCOUNT}:archive/default`),
    );
    assert.equal(otherArchive.name, 'ResourceNotFoundException');
    assert.match(otherArchive.message, /archive\/orders/);

    // A replay is named only by its name: it is found on the bus that ran it.
    const described = await client.send(new DescribeReplayCommand({ ReplayName: 'orders-again' }));
    assert.equal(described.EventSourceArn, `${ACCOUNT}:archive/orders`);
    assert.equal(described.Destination?.Arn, busArn('orders'));
    const listed = await client.send(new ListReplaysCommand({ NamePrefix: 'orders-' }));
    assert.deepEqual(
      listed.Replays?.map((r) => [r.ReplayName, r.EventSourceArn]),
      [['orders-again', `${ACCOUNT}:archive/orders`]],
    );
    const bySource = await client.send(
      new ListReplaysCommand({ EventSourceArn: `${ACCOUNT}:archive/default` }),
    );
    assert.ok(!bySource.Replays?.some((r) => r.ReplayName === 'orders-again'));
    const none = await failure(client.send(new DescribeReplayCommand({ ReplayName: 'never-ran' })));
    assert.equal(none.name, 'ResourceNotFoundException');

    // Replay names are unique across the deployment, as in an EventBridge account: the default bus cannot reuse it,
    // neither through StartReplay nor through POST /replays.
    const taken = await failure(
      client.send(
        new StartReplayCommand({
          ReplayName: 'orders-again',
          EventSourceArn: `${ACCOUNT}:archive/default`,
          EventStartTime: new Date(now - 3_600_000),
          EventEndTime: new Date(now + 60_000),
          Destination: { Arn: busArn('default') },
        }),
      ),
    );
    assert.equal(taken.name, 'ResourceAlreadyExistsException');
    const rest = await request(bus.url, 'POST', '/replays', {
      name: 'orders-again',
      from: now - 1000,
      to: now,
    });
    assert.equal(rest.status, 409);
    assert.equal(rest.body.error.code, 'ReplayExists');
    assert.equal(rest.body.error.field, 'name');
    assert.equal((await request(bus.url, 'PUT', '/buses/replay-b', {})).status, 201);
    const restOnBus = await request(bus.url, 'POST', '/buses/replay-b/replays', {
      name: 'orders-again',
      from: now - 1000,
      to: now,
    });
    assert.equal(restOnBus.status, 409, JSON.stringify(restOnBus.body));
    const fresh = await request(bus.url, 'POST', '/replays', {
      name: 'default-again',
      from: now - 1000,
      to: now,
    });
    assert.equal(fresh.status, 202, JSON.stringify(fresh.body));
  });

  test('replays of one name started at once on several buses: one is started, the others are refused', async () => {
    const now = Date.now();
    for (const name of ['race-a', 'race-b', 'race-c'])
      assert.equal((await request(bus.url, 'PUT', `/buses/${name}`, {})).status, 201);
    for (let round = 0; round < 5; round++) {
      const name = `raced-${round}`;
      const body = { name, from: now - 1000, to: now };
      const answers = await Promise.all([
        request(bus.url, 'POST', '/buses/race-a/replays', body),
        request(bus.url, 'POST', '/buses/race-b/replays', body),
        request(bus.url, 'POST', '/replays', body),
        client
          .send(
            new StartReplayCommand({
              ReplayName: name,
              EventSourceArn: `${ACCOUNT}:archive/race-c`,
              EventStartTime: new Date(now - 1000),
              EventEndTime: new Date(now),
              Destination: { Arn: busArn('race-c') },
            }),
          )
          .then(
            () => ({ status: 202, body: {} }),
            (error: Error) => ({ status: 409, body: { error: { code: error.name } } }),
          ),
      ]);
      const statuses = answers.map((a) => a.status);
      assert.equal(
        statuses.filter((s) => s === 202).length,
        1,
        `round ${round}: ${JSON.stringify(answers.map((a) => a.body))}`,
      );
      assert.equal(
        statuses.filter((s) => s === 409).length,
        3,
        `round ${round}: ${JSON.stringify(statuses)}`,
      );
    }
  });

  test('UpdateEventBus changes the description and keeps the other settings', async () => {
    assert.equal(
      (await request(bus.url, 'PUT', '/buses/billing', { retentionMs: 3 * 86_400_000 })).status,
      201,
    );
    const updated = await client.send(
      new UpdateEventBusCommand({ Name: 'billing', Description: 'invoices' }),
    );
    assert.equal(updated.Description, 'invoices');
    assert.equal(updated.Arn, busArn('billing'));
    const described = await request(bus.url, 'GET', '/buses/billing');
    assert.equal(described.body.description, 'invoices');
    assert.equal(described.body.retentionMs, 3 * 86_400_000, 'the retention stays');
    const missing = await failure(client.send(new UpdateEventBusCommand({ Name: 'nope', Description: 'x' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    const kms = await failure(
      client.send(new UpdateEventBusCommand({ Name: 'billing', KmsKeyIdentifier: 'alias/x' })),
    );
    assert.equal(kms.name, 'ValidationException');
    assert.match(kms.message, /KmsKeyIdentifier/);
    const defaultBus = await failure(
      client.send(new UpdateEventBusCommand({ Name: 'default', Description: 'x' })),
    );
    assert.equal(defaultBus.name, 'ValidationException');
  });

  test("refuses a target on the rule's own bus and on a bus that does not exist, per target", async () => {
    const put = await client.send(
      new PutTargetsCommand({
        Rule: 'placed',
        EventBusName: 'orders',
        Targets: [
          { Id: 'self', Arn: busArn('orders') },
          { Id: 'missing', Arn: busArn('nope') },
        ],
      }),
    );
    assert.equal(put.FailedEntryCount, 2);
    const byId = new Map(put.FailedEntries?.map((f) => [f.TargetId, f]));
    assert.equal(byId.get('self')?.ErrorCode, 'ValidationException');
    assert.match(
      byId.get('self')?.ErrorMessage ?? '',
      /Targets\[0\]\.Arn: .*bus orders itself \(it would loop\)/,
    );
    assert.match(byId.get('missing')?.ErrorMessage ?? '', /Targets\[1\]\.Arn: .*no bus named "nope"/);
  });

  test('a loop between two buses by event-bus ARNs ends at the loop guard', async () => {
    for (const name of ['ping', 'pong']) await client.send(new CreateEventBusCommand({ Name: name }));
    for (const [from, to] of [
      ['ping', 'pong'],
      ['pong', 'ping'],
    ] as const) {
      await client.send(
        new PutRuleCommand({ Name: 'bounce', EventBusName: from, EventPattern: '{"source":["loop"]}' }),
      );
      const put = await client.send(
        new PutTargetsCommand({ Rule: 'bounce', EventBusName: from, Targets: [{ Id: to, Arn: busArn(to) }] }),
      );
      assert.equal(put.FailedEntryCount, 0, JSON.stringify(put.FailedEntries));
    }
    await client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: 'ping', Source: 'loop', DetailType: 'x', Detail: '{}' }],
      }),
    );
    // The loop guard: back on ping, the event (same source and id) is a duplicate and goes no further; an event
    // that bounces with new ids stops at the hop limit (test/e2e/buses.test.ts).
    await waitFor(
      async () =>
        /junction_events_duplicate_total\{bus="ping"\} 1/.test(
          String((await request(bus.url, 'GET', '/metrics')).body),
        ),
      'the event back on ping as a duplicate',
      60_000,
    );
  });

  test('calls on a bus that does not exist answer ResourceNotFoundException, as EventBridge does', async () => {
    const expected = { name: 'ResourceNotFoundException', message: 'Event bus nope does not exist.' };
    const pattern = '{"source":["s"]}';
    assert.deepEqual(
      await failure(
        client.send(new PutRuleCommand({ Name: 'r', EventBusName: 'nope', EventPattern: pattern })),
      ),
      expected,
    );
    assert.deepEqual(
      await failure(client.send(new DescribeRuleCommand({ Name: 'r', EventBusName: 'nope' }))),
      expected,
    );
    assert.deepEqual(
      await failure(client.send(new ListRulesCommand({ EventBusName: busArn('nope') }))),
      expected,
    );
    assert.deepEqual(
      await failure(
        client.send(
          new PutTargetsCommand({
            Rule: 'r',
            EventBusName: 'nope',
            Targets: [{ Id: 't', Arn: `arn:junction:http:::${sink.url}/x` }],
          }),
        ),
      ),
      expected,
    );
    assert.deepEqual(
      await failure(client.send(new ListTargetsByRuleCommand({ Rule: 'r', EventBusName: 'nope' }))),
      expected,
    );
  });
});

describe('bus-to-bus targets through the EventBridge API under authentication', () => {
  let bus: TestBus;
  let admin = '';
  let client: EventBridgeClient;

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
    admin = (await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' })).body.key;
    const auth = { authorization: `Bearer ${admin}` };
    for (const name of ['a', 'b'])
      assert.equal((await request(bus.url, 'PUT', `/buses/${name}`, {}, auth)).status, 201);
    const made = await request(
      bus.url,
      'POST',
      '/keys',
      { name: 'a-sdk', scope: 'manage', bus: 'a', aws: true },
      auth,
    );
    assert.equal(made.status, 201, JSON.stringify(made.body));
    client = clientFor(bus.url, {
      accessKeyId: made.body.accessKeyId,
      secretAccessKey: made.body.secretAccessKey,
    });
    await client.send(
      new PutRuleCommand({ Name: 'fwd', EventBusName: 'a', EventPattern: '{"source":["s"]}' }),
    );
  });
  after(async () => {
    client?.destroy();
    await bus?.stop();
  });

  test('a manager of bus A may target bus B only once B accepts A', async () => {
    const toB = new PutTargetsCommand({
      Rule: 'fwd',
      EventBusName: 'a',
      Targets: [{ Id: 'b', Arn: busArn('b') }],
    });
    const refused = await client.send(toB);
    assert.equal(refused.FailedEntryCount, 1);
    assert.equal(refused.FailedEntries?.[0]?.ErrorCode, 'AccessDeniedException');
    assert.match(refused.FailedEntries?.[0]?.ErrorMessage ?? '', /acceptFrom/);
    const accept = await request(
      bus.url,
      'PUT',
      '/buses/b',
      { acceptFrom: ['a'] },
      { authorization: `Bearer ${admin}` },
    );
    assert.equal(accept.status, 200, JSON.stringify(accept.body));
    const allowed = await client.send(toB);
    assert.equal(allowed.FailedEntryCount, 0, JSON.stringify(allowed.FailedEntries));
    const targets = await client.send(new ListTargetsByRuleCommand({ Rule: 'fwd', EventBusName: 'a' }));
    assert.deepEqual(
      targets.Targets?.map((t) => t.Arn),
      [busArn('b')],
    );
    // The target's bus is no way into B: a call that acts on B is still refused.
    const onB = await failure(
      client.send(new PutRuleCommand({ Name: 'r', EventBusName: 'b', EventPattern: '{"source":["s"]}' })),
    );
    assert.match(`${onB.name} ${onB.message}`, /AccessDenied|Forbidden/);
  });
});
