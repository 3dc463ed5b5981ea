/** The EventBridge management API through @aws-sdk/client-eventbridge against a real bus on 127.0.0.1. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CancelReplayCommand,
  CreateArchiveCommand,
  CreateEventBusCommand,
  DeleteRuleCommand,
  DescribeArchiveCommand,
  DescribeReplayCommand,
  DescribeRuleCommand,
  DisableRuleCommand,
  EnableRuleCommand,
  EventBridgeClient,
  ListArchivesCommand,
  ListReplaysCommand,
  ListRuleNamesByTargetCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  StartReplayCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { fixtureFunction, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { cli } from '../helpers/cli.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

/** The AWS exception name and message of a refused call. */
async function refusal(
  promise: Promise<unknown>,
): Promise<{ name: string; message: string; requestId?: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { requestId?: string } };
    return {
      name: e.name,
      message: e.message,
      ...(e.$metadata?.requestId === undefined ? {} : { requestId: e.$metadata.requestId }),
    };
  }
  throw new Error('the call succeeded; expected a refusal');
}

describe('EventBridge management API (@aws-sdk/client-eventbridge)', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  let client: EventBridgeClient;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
    client = new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await bus.stop();
    await sink.close();
  });

  const bodies = (path: string) =>
    sink.received.filter((r) => r.url === path).map((r) => JSON.parse(r.body.toString('utf8')));

  test('creates a rule and a target, delivers a PutEvents event, and manages the rule through its life', async () => {
    const put = await client.send(
      new PutRuleCommand({
        Name: 'orders',
        EventPattern: JSON.stringify({ source: ['com.shop'] }),
        Description: 'shop orders',
      }),
    );
    assert.equal(put.RuleArn, 'arn:aws:events:us-east-1:000000000000:rule/orders');
    assert.ok(put.$metadata.requestId, 'x-amzn-RequestId on PutRule');
    const targets = await client.send(
      new PutTargetsCommand({
        Rule: 'orders',
        Targets: [{ Id: 'sink', Arn: `arn:junction:http:::${sink.url}/orders` }],
      }),
    );
    assert.equal(targets.FailedEntryCount, 0);
    assert.deepEqual(targets.FailedEntries, []);

    const sent = await client.send(
      new PutEventsCommand({
        Entries: [{ Source: 'com.shop', DetailType: 'order.created', Detail: '{"total": 120}' }],
      }),
    );
    assert.ok(sent.$metadata.requestId, 'x-amzn-RequestId on PutEvents');
    await waitFor(() => bodies('/orders').length === 1, 'the delivery to the target');
    assert.deepEqual(bodies('/orders'), [{ total: 120 }]);
    const delivered = sink.received.find((r) => r.url === '/orders');
    assert.equal(delivered?.headers['ce-id'], sent.Entries?.[0]?.EventId);
    assert.equal(delivered?.headers['ce-type'], 'order.created');

    const described = await client.send(new DescribeRuleCommand({ Name: 'orders' }));
    assert.equal(described.Name, 'orders');
    assert.equal(described.Arn, put.RuleArn);
    assert.equal(described.State, 'ENABLED');
    assert.equal(described.Description, 'shop orders');
    assert.equal(described.EventBusName, 'default');
    assert.deepEqual(JSON.parse(described.EventPattern ?? ''), { source: ['com.shop'] });

    const listed = await client.send(new ListTargetsByRuleCommand({ Rule: 'orders' }));
    assert.deepEqual(
      listed.Targets?.map((t) => [t.Id, t.Arn]),
      [['sink', `arn:junction:http:::${sink.url}/orders`]],
    );
    assert.equal(listed.Targets?.[0]?.RetryPolicy?.MaximumRetryAttempts, 184);

    await client.send(new DisableRuleCommand({ Name: 'orders' }));
    assert.equal((await client.send(new DescribeRuleCommand({ Name: 'orders' }))).State, 'DISABLED');
    assert.equal((await request(bus.url, 'GET', '/rules/orders')).body.enabled, false);
    await client.send(new EnableRuleCommand({ Name: 'orders' }));
    assert.equal((await client.send(new DescribeRuleCommand({ Name: 'orders' }))).State, 'ENABLED');

    const byTarget = await client.send(
      new ListRuleNamesByTargetCommand({ TargetArn: `arn:junction:http:::${sink.url}/orders` }),
    );
    assert.deepEqual(byTarget.RuleNames, ['orders']);

    const undeletable = await refusal(client.send(new DeleteRuleCommand({ Name: 'orders' })));
    assert.equal(undeletable.name, 'ValidationException');
    assert.match(undeletable.message, /has targets/);
    const removed = await client.send(new RemoveTargetsCommand({ Rule: 'orders', Ids: ['sink'] }));
    assert.equal(removed.FailedEntryCount, 0);
    assert.deepEqual((await client.send(new ListTargetsByRuleCommand({ Rule: 'orders' }))).Targets, []);
    // EventBridge keeps an enabled rule without targets; so does the bus.
    assert.equal((await client.send(new DescribeRuleCommand({ Name: 'orders' }))).State, 'ENABLED');
    await client.send(new DeleteRuleCommand({ Name: 'orders' }));
    const gone = await refusal(client.send(new DescribeRuleCommand({ Name: 'orders' })));
    assert.equal(gone.name, 'ResourceNotFoundException');
    assert.match(gone.message, /Rule orders does not exist/);
    // Deleting a rule that does not exist succeeds, as on EventBridge.
    await client.send(new DeleteRuleCommand({ Name: 'orders' }));
  });

  test('keeps an enabled rule without targets from PutRule while the REST API still refuses one', async () => {
    await client.send(new PutRuleCommand({ Name: 'bare', EventPattern: '{"source":["x"]}' }));
    assert.equal((await request(bus.url, 'GET', '/rules/bare')).body.enabled, true);
    const rest = await request(bus.url, 'PUT', '/rules/bare-rest', {
      pattern: { source: ['x'] },
      targets: [],
    });
    assert.equal(rest.status, 400);
    assert.equal(rest.body.error.code, 'InvalidRule');
    assert.equal(rest.body.error.field, 'targets');
    // PutRule again changes the pattern and keeps the state and targets.
    await client.send(new DisableRuleCommand({ Name: 'bare' }));
    await client.send(new PutRuleCommand({ Name: 'bare', EventPattern: '{"source":["y"]}' }));
    const again = await client.send(new DescribeRuleCommand({ Name: 'bare' }));
    assert.equal(again.State, 'DISABLED');
    assert.equal(again.EventPattern, '{"source":["y"]}');
    await client.send(new DeleteRuleCommand({ Name: 'bare' }));
  });

  test('lists rules by prefix, a page at a time', async () => {
    for (const name of ['page-c', 'page-a', 'page-b', 'other']) {
      await client.send(
        new PutRuleCommand({ Name: name, EventPattern: '{"source":["p"]}', State: 'DISABLED' }),
      );
    }
    const first = await client.send(new ListRulesCommand({ NamePrefix: 'page-', Limit: 2 }));
    assert.deepEqual(
      first.Rules?.map((r) => [r.Name, r.State]),
      [
        ['page-a', 'DISABLED'],
        ['page-b', 'DISABLED'],
      ],
    );
    assert.ok(first.NextToken);
    const second = await client.send(
      new ListRulesCommand({ NamePrefix: 'page-', Limit: 2, NextToken: first.NextToken }),
    );
    assert.deepEqual(
      second.Rules?.map((r) => r.Name),
      ['page-c'],
    );
    assert.equal(second.NextToken, undefined);
    const badToken = await refusal(client.send(new ListRulesCommand({ NextToken: 'not a token' })));
    assert.equal(badToken.name, 'ValidationException');
    assert.match(badToken.message, /NextToken/);
    const badLimit = await refusal(client.send(new ListRulesCommand({ Limit: 1000 })));
    assert.equal(badLimit.name, 'ValidationException');
    assert.match(badLimit.message, /Limit/);
    for (const name of ['page-c', 'page-a', 'page-b', 'other'])
      await client.send(new DeleteRuleCommand({ Name: name }));
  });

  test('answers AWS-shaped errors for a bad pattern, a missing rule, a schedule, another bus and bad ARNs', async () => {
    const pattern = await refusal(
      client.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":[{"prefix":1}]}' })),
    );
    assert.equal(pattern.name, 'InvalidEventPatternException');
    assert.ok(pattern.requestId, 'x-amzn-RequestId on an error');
    const notJson = await refusal(
      client.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":' })),
    );
    assert.equal(notJson.name, 'InvalidEventPatternException');
    const schedule = await refusal(
      client.send(new PutRuleCommand({ Name: 'cron', ScheduleExpression: 'rate(5 minute)' })),
    );
    assert.equal(schedule.name, 'ValidationException');
    assert.match(schedule.message, /ScheduleExpression: write rate\(5 minutes\)/);
    // A valid one is a scheduled rule, described with its expression.
    await client.send(
      new PutRuleCommand({ Name: 'cron', ScheduleExpression: 'cron(0 12 * * ? *)', State: 'DISABLED' }),
    );
    const cron = await client.send(new DescribeRuleCommand({ Name: 'cron' }));
    assert.equal(cron.ScheduleExpression, 'cron(0 12 * * ? *)');
    assert.equal(cron.EventPattern, undefined);
    await client.send(new DeleteRuleCommand({ Name: 'cron' }));
    const noPattern = await refusal(client.send(new PutRuleCommand({ Name: 'none' })));
    assert.equal(noPattern.name, 'ValidationException');
    assert.match(noPattern.message, /EventPattern/);
    const otherBus = await refusal(
      client.send(
        new PutRuleCommand({ Name: 'x', EventPattern: '{"source":["a"]}', EventBusName: 'orders-bus' }),
      ),
    );
    assert.equal(otherBus.name, 'ResourceNotFoundException');
    assert.match(otherBus.message, /orders-bus/);
    await client.send(
      new PutRuleCommand({
        Name: 'by-arn',
        EventPattern: '{"source":["a"]}',
        EventBusName: 'arn:aws:events:eu-west-1:123456789012:event-bus/default',
        State: 'DISABLED',
      }),
    );
    const missing = await refusal(
      client.send(
        new PutTargetsCommand({ Rule: 'nope', Targets: [{ Id: 't', Arn: 'arn:junction:function:::echo' }] }),
      ),
    );
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.match(missing.message, /Rule nope does not exist/);
    const malformed = await refusal(
      client.send(new PutTargetsCommand({ Rule: 'by-arn', Targets: [{ Id: 't', Arn: 'not-an-arn' }] })),
    );
    assert.equal(malformed.name, 'ValidationException');
    assert.match(malformed.message, /Targets\[0\]\.Arn/);

    const mixed = await client.send(
      new PutTargetsCommand({
        Rule: 'by-arn',
        Targets: [
          { Id: 'queue', Arn: 'arn:aws:sqs:us-east-1:123456789012:orders' },
          { Id: 'fn', Arn: 'arn:aws:lambda:us-east-1:123456789012:function:not-deployed' },
          { Id: 'ftp', Arn: 'arn:junction:http:::ftp://example.com/x' },
          { Id: 'self', Arn: 'arn:aws:events:us-east-1:123456789012:event-bus/default' },
          {
            Id: 'dlq',
            Arn: `arn:junction:http:::${sink.url}/x`,
            DeadLetterConfig: { Arn: 'arn:aws:sqs:::dlq' },
          },
          { Id: 'ok', Arn: `arn:junction:http:::${sink.url}/ok` },
        ],
      }),
    );
    assert.equal(mixed.FailedEntryCount, 5);
    const byId = new Map(mixed.FailedEntries?.map((f) => [f.TargetId, f]));
    assert.equal(byId.get('queue')?.ErrorCode, 'ValidationException');
    assert.match(byId.get('queue')?.ErrorMessage ?? '', /Targets\[0\]\.Arn: sqs resources are not supported/);
    assert.match(
      byId.get('fn')?.ErrorMessage ?? '',
      /Targets\[1\]\.Arn: function "not-deployed" is not deployed/,
    );
    assert.match(byId.get('ftp')?.ErrorMessage ?? '', /Targets\[2\]\.Arn: .*http or https/);
    assert.match(byId.get('self')?.ErrorMessage ?? '', /loop/);
    assert.match(byId.get('dlq')?.ErrorMessage ?? '', /Targets\[4\]\.DeadLetterConfig/);
    assert.deepEqual(
      (await client.send(new ListTargetsByRuleCommand({ Rule: 'by-arn' }))).Targets?.map((t) => t.Id),
      ['ok'],
    );
    const forced = await client.send(new DeleteRuleCommand({ Name: 'by-arn', Force: true }));
    assert.ok(forced.$metadata.requestId);
    // Named buses exist now (#13): a second CreateEventBus of the same name is the refusal.
    const created = await client.send(new CreateEventBusCommand({ Name: 'orders-bus' }));
    assert.match(created.EventBusArn ?? '', /:event-bus\/orders-bus$/);
    const again = await refusal(client.send(new CreateEventBusCommand({ Name: 'orders-bus' })));
    assert.equal(again.name, 'ResourceAlreadyExistsException');
  });

  test('maps a Lambda ARN to the function, and InputTransformer and RetryPolicy to the target', async () => {
    assert.equal((await request(bus.url, 'PUT', '/functions/echo', fixtureFunction('echo'))).status, 200);
    await client.send(new PutRuleCommand({ Name: 'shaped', EventPattern: '{"source":["com.shaped"]}' }));
    const out = await client.send(
      new PutTargetsCommand({
        Rule: 'shaped',
        Targets: [
          { Id: 'fn', Arn: 'arn:aws:lambda:us-east-1:123456789012:function:echo' },
          {
            Id: 'web',
            Arn: `arn:junction:http:::${sink.url}/shaped`,
            InputTransformer: {
              InputPathsMap: { total: '$.data.total', kind: '$.type' },
              InputTemplate: '{"total": <total>, "kind": "<kind>", "rule": "<aws.events.rule-name>"}',
            },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 120 },
            HttpParameters: { HeaderParameters: { 'x-team': 'shop' } },
          },
        ],
      }),
    );
    assert.equal(out.FailedEntryCount, 0, JSON.stringify(out.FailedEntries));
    const rest = (await request(bus.url, 'GET', '/rules/shaped')).body;
    assert.deepEqual(
      rest.targets.map((t: { type: string; function?: string }) => [t.type, t.function]),
      [
        ['function', 'echo'],
        ['http', undefined],
      ],
    );
    assert.equal(rest.targets[1].retry.maxAttempts, 3);
    assert.equal(rest.targets[1].retry.maxAgeSeconds, 120);
    const listed = await client.send(new ListTargetsByRuleCommand({ Rule: 'shaped' }));
    // A Lambda ARN is a function written for EventBridge (the event in EventBridge's shape); it is answered as one,
    // in the bus's region and account.
    assert.equal(rest.targets[0].format, 'eventbridge');
    assert.equal(listed.Targets?.[0]?.Arn, 'arn:aws:lambda:us-east-1:000000000000:function:echo');
    assert.deepEqual(listed.Targets?.[1]?.RetryPolicy, {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 120,
    });
    assert.deepEqual(listed.Targets?.[1]?.InputTransformer?.InputPathsMap, {
      total: '$.data.total',
      kind: '$.type',
    });
    assert.deepEqual(listed.Targets?.[1]?.HttpParameters?.HeaderParameters, { 'x-team': '***' });

    const sent = await client.send(
      new PutEventsCommand({ Entries: [{ Source: 'com.shaped', DetailType: 'k', Detail: '{"total": 7}' }] }),
    );
    await waitFor(() => bodies('/shaped').length === 1, 'the transformed delivery');
    assert.deepEqual(bodies('/shaped'), [{ total: 7, kind: 'k', rule: 'shaped' }]);
    assert.equal(sink.received.find((r) => r.url === '/shaped')?.headers['x-team'], 'shop');
    const id = sent.Entries?.[0]?.EventId as string;
    await waitFor(
      async () =>
        (await traceOf(bus, id, 'com.shaped')).some((e) => e.kind === 'delivered' && e.target === 'fn'),
      'the delivery to the function',
    );
    // PutTargets with an existing Id replaces that target and keeps the others.
    await client.send(
      new PutTargetsCommand({
        Rule: 'shaped',
        Targets: [{ Id: 'web', Arn: `arn:junction:http:::${sink.url}/v2` }],
      }),
    );
    assert.deepEqual(
      (await client.send(new ListTargetsByRuleCommand({ Rule: 'shaped' }))).Targets?.map((t) => [
        t.Id,
        t.Arn,
      ]),
      [
        ['fn', 'arn:aws:lambda:us-east-1:000000000000:function:echo'],
        ['web', `arn:junction:http:::${sink.url}/v2`],
      ],
    );
    await client.send(new DeleteRuleCommand({ Name: 'shaped', Force: true }));
  });

  test('replays the retained log (the one archive) to a rule, and describes and lists the replay', async () => {
    const archive = await client.send(new DescribeArchiveCommand({ ArchiveName: 'default' }));
    assert.equal(archive.ArchiveArn, 'arn:aws:events:us-east-1:000000000000:archive/default');
    assert.equal(archive.State, 'ENABLED');
    assert.equal(archive.RetentionDays, 7);
    // Each bus has its archive, named as the bus: the list without EventSourceArn has every bus's.
    assert.deepEqual(
      (await client.send(new ListArchivesCommand({}))).Archives?.map((a) => a.ArchiveName),
      ['default', 'orders-bus'],
    );
    assert.deepEqual(
      (
        await client.send(
          new ListArchivesCommand({
            EventSourceArn: 'arn:aws:events:us-east-1:000000000000:event-bus/default',
          }),
        )
      ).Archives?.map((a) => a.ArchiveName),
      ['default'],
    );
    const exists = await refusal(
      client.send(
        new CreateArchiveCommand({
          ArchiveName: 'default',
          EventSourceArn: 'arn:aws:events:us-east-1:1:event-bus/default',
        }),
      ),
    );
    assert.equal(exists.name, 'ResourceAlreadyExistsException');
    const more = await refusal(
      client.send(
        new CreateArchiveCommand({
          ArchiveName: 'orders',
          EventSourceArn: 'arn:aws:events:us-east-1:1:event-bus/default',
        }),
      ),
    );
    assert.equal(more.name, 'LimitExceededException');
    assert.match(more.message, /one archive per bus/);

    await client.send(new PutRuleCommand({ Name: 'replayed', EventPattern: '{"source":["com.replay"]}' }));
    await client.send(
      new PutTargetsCommand({
        Rule: 'replayed',
        Targets: [{ Id: 'r', Arn: `arn:junction:http:::${sink.url}/replayed` }],
      }),
    );
    const start = new Date(Date.now() - 60_000);
    await client.send(
      new PutEventsCommand({ Entries: [{ Source: 'com.replay', DetailType: 't', Detail: '{"n": 1}' }] }),
    );
    await waitFor(() => bodies('/replayed').length === 1, 'the first delivery');
    const started = await client.send(
      new StartReplayCommand({
        ReplayName: 'again-1',
        EventSourceArn: archive.ArchiveArn,
        EventStartTime: start,
        EventEndTime: new Date(Date.now() + 60_000),
        Destination: {
          Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/default',
          FilterArns: ['arn:aws:events:us-east-1:000000000000:rule/replayed'],
        },
      }),
    );
    assert.equal(started.ReplayArn, 'arn:aws:events:us-east-1:000000000000:replay/again-1');
    assert.equal(started.State, 'COMPLETED');
    await waitFor(() => bodies('/replayed').length === 2, 'the replayed delivery');
    assert.equal(sink.received.filter((r) => r.url === '/replayed')[1]?.headers['ce-replayname'], 'again-1');
    const described = await client.send(new DescribeReplayCommand({ ReplayName: 'again-1' }));
    assert.equal(described.State, 'COMPLETED');
    assert.deepEqual(described.Destination?.FilterArns, [
      'arn:aws:events:us-east-1:000000000000:rule/replayed',
    ]);
    assert.ok(described.EventStartTime instanceof Date);
    assert.equal(
      Math.round((described.EventStartTime as Date).getTime() / 1000),
      Math.round(start.getTime() / 1000),
    );
    const listed = await client.send(new ListReplaysCommand({ NamePrefix: 'again' }));
    assert.deepEqual(
      listed.Replays?.map((r) => [r.ReplayName, r.State]),
      [['again-1', 'COMPLETED']],
    );
    const cancel = await refusal(client.send(new CancelReplayCommand({ ReplayName: 'again-1' })));
    assert.equal(cancel.name, 'IllegalStatusException');
    const twice = await refusal(
      client.send(
        new StartReplayCommand({
          ReplayName: 'again-1',
          EventSourceArn: archive.ArchiveArn,
          EventStartTime: start,
          EventEndTime: new Date(),
          Destination: { Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
        }),
      ),
    );
    assert.equal(twice.name, 'ResourceAlreadyExistsException');
    const badName = await refusal(
      client.send(
        new StartReplayCommand({
          ReplayName: 'Again',
          EventSourceArn: archive.ArchiveArn,
          EventStartTime: start,
          EventEndTime: new Date(),
          Destination: { Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
        }),
      ),
    );
    assert.equal(badName.name, 'ValidationException');
    assert.match(badName.message, /ReplayName/);
    const unknown = await refusal(client.send(new DescribeReplayCommand({ ReplayName: 'never' })));
    assert.equal(unknown.name, 'ResourceNotFoundException');
    await client.send(new DeleteRuleCommand({ Name: 'replayed', Force: true }));
  });

  test('answers x-amzn-RequestId on TestEventPattern and on an unknown operation', async () => {
    const tested = await client.send(
      new TestEventPatternCommand({
        EventPattern: '{"source":["a"]}',
        Event: JSON.stringify({
          id: '1',
          source: 'a',
          'detail-type': 't',
          account: '1',
          region: 'r',
          time: '2025-01-01T00:00:00Z',
          resources: [],
          detail: {},
        }),
      }),
    );
    assert.ok(tested.$metadata.requestId);
    const res = await fetch(bus.url, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSEvents.PutPartnerEvents', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('x-amzn-requestid') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(((await res.json()) as { __type: string }).__type, 'UnknownOperationException');
  });
});

describe('EventBridge management API scopes (SigV4 keys)', () => {
  let bus: TestBus;

  before(async () => {
    bus = await startTestBus();
  });
  after(() => bus.stop());

  /** A SigV4 client for a new key of the scope, created with the admin key. */
  async function clientOf(admin: string, scope: string): Promise<EventBridgeClient> {
    const created = await request(
      bus.url,
      'POST',
      '/keys',
      { name: `aws-${scope}`, scope, aws: true },
      { authorization: `Bearer ${admin}` },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { accessKeyId, secretAccessKey } = created.body;
    return new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 1,
    });
  }

  test('lets read keys list and describe, manage keys change rules, and publish keys neither', async () => {
    const made = await cli([
      'keys',
      'create',
      'admin',
      '--scope',
      'manage',
      '--data-dir',
      bus.dataDir,
      '--json',
    ]);
    assert.equal(made.code, 0, made.err);
    const admin = JSON.parse(made.out).key as string;
    const manage = await clientOf(admin, 'manage');
    const read = await clientOf(admin, 'read');
    const publish = await clientOf(admin, 'publish');
    try {
      await manage.send(new PutRuleCommand({ Name: 'scoped', EventPattern: '{"source":["a"]}' }));
      assert.deepEqual(
        (await read.send(new ListRulesCommand({}))).Rules?.map((r) => r.Name),
        ['scoped'],
      );
      assert.equal((await read.send(new DescribeRuleCommand({ Name: 'scoped' }))).State, 'ENABLED');
      const denied = await refusal(read.send(new DisableRuleCommand({ Name: 'scoped' })));
      assert.equal(denied.name, 'AccessDeniedException');
      assert.match(denied.message, /manage/);
      assert.ok(denied.requestId, 'x-amzn-RequestId on an auth refusal');
      assert.equal((await refusal(publish.send(new ListRulesCommand({})))).name, 'AccessDeniedException');
      assert.equal(
        (await refusal(publish.send(new PutRuleCommand({ Name: 'p', EventPattern: '{"source":["a"]}' }))))
          .name,
        'AccessDeniedException',
      );
      assert.equal((await read.send(new DescribeRuleCommand({ Name: 'scoped' }))).State, 'ENABLED');
    } finally {
      for (const c of [manage, read, publish]) c.destroy();
    }
  });
});
