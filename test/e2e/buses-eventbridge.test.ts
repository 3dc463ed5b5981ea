/**
 * Named buses through the EventBridge SDK (issue #13): `@aws-sdk/client-eventbridge` creates a bus, puts a rule and a
 * target on it, publishes with `EventBusName`, lists and deletes it; the default bus never sees the bus's events, and
 * one PutEvents naming two buses lands each entry on its own bus.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateEventBusCommand,
  DeleteEventBusCommand,
  DescribeEventBusCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRulesCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

describe('named buses through @aws-sdk/client-eventbridge', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  let client: EventBridgeClient;
  const paths = () => sink.received.map((r) => r.url);

  before(async () => {
    bus = await startTestBus({ pollMs: 50 });
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
    await bus?.stop();
    await sink?.close();
  });

  test('creates a bus, puts a rule on it and publishes to it with EventBusName', async () => {
    const created = await client.send(new CreateEventBusCommand({ Name: 'orders', Description: 'the shop' }));
    assert.match(created.EventBusArn ?? '', /:event-bus\/orders$/);
    const described = await client.send(new DescribeEventBusCommand({ Name: 'orders' }));
    assert.equal(described.Name, 'orders');
    assert.equal(described.Description, 'the shop');
    const listed = await client.send(new ListEventBusesCommand({}));
    assert.deepEqual(
      listed.EventBuses?.map((b) => b.Name),
      ['default', 'orders'],
    );

    for (const [busName, path] of [
      ['orders', '/orders'],
      ['default', '/default'],
    ] as const) {
      await client.send(
        new PutRuleCommand({
          Name: 'placed',
          EventBusName: busName,
          EventPattern: '{"source":["com.shop"]}',
        }),
      );
      const targets = await client.send(
        new PutTargetsCommand({
          Rule: 'placed',
          EventBusName: busName,
          Targets: [{ Id: 'sink', Arn: `arn:junction:http:::${sink.url}${path}` }],
        }),
      );
      assert.equal(targets.FailedEntryCount, 0, JSON.stringify(targets.FailedEntries));
    }
    const rules = await client.send(new ListRulesCommand({ EventBusName: 'orders' }));
    assert.deepEqual(
      rules.Rules?.map((r) => r.Name),
      ['placed'],
    );

    const put = await client.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: 'orders', Source: 'com.shop', DetailType: 'placed', Detail: '{"n":1}' }],
      }),
    );
    assert.equal(put.FailedEntryCount, 0, JSON.stringify(put.Entries));
    await waitFor(() => paths().includes('/orders'), 'the orders bus delivering');
    // Give the default bus every chance to (wrongly) deliver it too: a second event on default must arrive first.
    await client.send(
      new PutEventsCommand({ Entries: [{ Source: 'com.shop', DetailType: 'placed', Detail: '{"n":2}' }] }),
    );
    await waitFor(() => paths().includes('/default'), 'the default bus delivering its own event');
    assert.equal(paths().filter((p) => p === '/default').length, 1);
    assert.equal(paths().filter((p) => p === '/orders').length, 1);
  });

  test('one PutEvents naming two buses (by name and by ARN) and a missing one answers per entry', async () => {
    const before = sink.received.length;
    const put = await client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'orders', Source: 'com.shop', DetailType: 'placed', Detail: '{"n":3}' },
          { EventBusName: 'nope', Source: 'com.shop', DetailType: 'placed', Detail: '{"n":4}' },
          {
            EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/default',
            Source: 'com.shop',
            DetailType: 'placed',
            Detail: '{"n":5}',
          },
        ],
      }),
    );
    assert.equal(put.FailedEntryCount, 1);
    assert.ok(put.Entries?.[0]?.EventId);
    assert.equal(put.Entries?.[1]?.ErrorCode, 'ResourceNotFoundException');
    assert.ok(put.Entries?.[2]?.EventId);
    await waitFor(() => sink.received.length === before + 2, 'both entries delivered, each by its own bus');
    assert.deepEqual(
      sink.received
        .slice(before)
        .map((r) => r.url)
        .sort(),
      ['/default', '/orders'],
    );
  });

  test('deletes the bus; the default bus stays', async () => {
    await client.send(new DeleteEventBusCommand({ Name: 'orders' }));
    const listed = await client.send(new ListEventBusesCommand({}));
    assert.deepEqual(
      listed.EventBuses?.map((b) => b.Name),
      ['default'],
    );
    assert.equal((await request(bus.url, 'GET', '/rules/placed')).status, 200);
  });
});
