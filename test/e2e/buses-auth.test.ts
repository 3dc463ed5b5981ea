/**
 * Bus isolation under authentication (issue #13): a credential of bus A can neither read nor change bus B through
 * any endpoint — the REST paths under /buses/B, the EventBridge calls naming B (EventBusName, PutEvents entries,
 * rule ARNs), bus administration, keys and the audit log — while the same calls on A work; lists and /metrics show
 * only what the key may read; a rule of A cannot forward into B; deleting A leaves B intact and revokes A's keys.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventBridgeClient, PutEventsCommand, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const amz = (key: string, op: string) => ({
  ...bearer(key),
  'x-amz-target': `AWSEvents.${op}`,
  'content-type': 'application/x-amz-json-1.1',
});
const ce = (id: string) => ({ specversion: '1.0', id, source: '/t', type: 't' });
const CE = { 'content-type': 'application/cloudevents+json' };

// Each bus in the deployment's process, then each in a bus process of its own (the front door authenticates; the bus
// process gets who calls with each request).
for (const isolation of ['shared', 'process'] as const) {
  const busBody = (extra: Record<string, unknown> = {}) =>
    isolation === 'process' ? { ...extra, isolation } : extra;
  describe(`bus isolation under authentication (isolation: ${isolation})`, () => {
    let bus: TestBus;
    let admin = '';
    /** A manager of bus B (the default bus's admin creates it: it administers keys, not B's contents). */
    let bAdmin = '';
    const keys: Record<string, string> = {};
    let aws: { accessKeyId: string; secretAccessKey: string };

    before(async () => {
      bus = await startTestBus({ pollMs: 50 });
      const first = await request(bus.url, 'POST', '/keys', { name: 'admin', scope: 'manage' });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      admin = first.body.key;
      for (const name of ['a', 'b']) {
        assert.equal((await request(bus.url, 'PUT', `/buses/${name}`, busBody(), bearer(admin))).status, 201);
      }
      for (const scope of ['publish', 'read', 'manage']) {
        const made = await request(
          bus.url,
          'POST',
          '/keys',
          { name: `a-${scope}`, scope, bus: 'a' },
          bearer(admin),
        );
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.equal(made.body.bus, 'a');
        keys[scope] = made.body.key;
      }
      const made = await request(
        bus.url,
        'POST',
        '/keys',
        { name: 'a-aws', scope: 'publish', bus: 'a', aws: true },
        bearer(admin),
      );
      aws = { accessKeyId: made.body.accessKeyId, secretAccessKey: made.body.secretAccessKey };
      bAdmin = (
        await request(
          bus.url,
          'POST',
          '/keys',
          { name: 'b-manage', scope: 'manage', bus: 'b' },
          bearer(admin),
        )
      ).body.key;
      const bPub = await request(
        bus.url,
        'POST',
        '/keys',
        { name: 'b-publish', scope: 'publish', bus: 'b' },
        bearer(admin),
      );
      // B's state, made by the admin: a rule, an event.
      const rule = await request(
        bus.url,
        'PUT',
        '/buses/b/rules/r',
        { pattern: { type: ['t'] }, targets: [{ id: 'x', type: 'http', url: 'http://127.0.0.1:9/x' }] },
        bearer(bAdmin),
      );
      assert.equal(rule.status, 201, JSON.stringify(rule.body));
      assert.equal(
        (await request(bus.url, 'POST', '/buses/b/events', ce('b-1'), { ...CE, ...bearer(bPub.body.key) }))
          .status,
        202,
      );
    });
    after(async () => {
      await bus?.stop();
    });

    const rest: Array<[string, string, unknown?]> = [
      ['POST', '/events', ce('x-1')],
      ['GET', '/events?limit=1'],
      ['GET', '/events/b-1/trace?source=%2Ft'],
      ['GET', '/rules'],
      ['GET', '/rules/r'],
      ['PUT', '/rules/r', { pattern: { type: ['t'] }, enabled: false, targets: [] }],
      ['DELETE', '/rules/r'],
      ['POST', '/rules/r/disable', {}],
      ['POST', '/rules/r/enable', {}],
      ['POST', '/rules/r/simulate', { from: 0, to: Date.now() }],
      ['POST', '/patterns/test', { pattern: { type: ['t'] }, event: ce('p') }],
      ['GET', '/functions'],
      ['GET', '/functions/f'],
      ['PUT', '/functions/f', 'export const handler = () => {};'],
      ['DELETE', '/functions/f'],
      ['GET', '/dead-letters'],
      ['POST', '/dead-letters/redrive', { all: true }],
      ['GET', '/deliveries'],
      ['POST', '/deliveries/retry', { all: true }],
      ['GET', '/replays'],
      ['POST', '/replays', { from: 0, to: Date.now(), name: 'r1' }],
      ['GET', '/replays/r1'],
      ['GET', '/metrics'],
      ['GET', '/healthz'],
      ['GET', ''],
    ];

    test('every REST path of bus B is refused to every key of bus A, and the same path on A is not', async () => {
      for (const [method, path, body] of rest) {
        for (const [scope, key] of Object.entries(keys)) {
          const headers = { ...bearer(key), ...(typeof body === 'string' ? {} : CE) };
          const onB = await request(bus.url, method, `/buses/b${path}`, body, headers);
          assert.equal(
            onB.status,
            403,
            `${scope} key: ${method} /buses/b${path} answered ${onB.status} ${JSON.stringify(onB.body)}`,
          );
          assert.equal(onB.body.error.code, 'Forbidden');
        }
      }
      // The manager of A reaches the same paths on A (whatever they answer there, it is not 403).
      for (const [method, path, body] of rest) {
        const key =
          method === 'POST' && path === '/events' ? (keys.publish as string) : (keys.manage as string);
        const onA = await request(bus.url, method, `/buses/a${path}`, body, {
          ...bearer(key),
          ...(typeof body === 'string' ? {} : CE),
        });
        assert.notEqual(onA.status, 403, `${method} /buses/a${path}: ${JSON.stringify(onA.body)}`);
        assert.notEqual(onA.status, 401);
      }
      // B is as it was.
      const rule = await request(bus.url, 'GET', '/buses/b/rules/r', undefined, bearer(bAdmin));
      assert.equal(rule.status, 200);
      assert.equal(rule.body.enabled, true);
      assert.equal(
        (await request(bus.url, 'GET', '/buses/b/functions', undefined, bearer(bAdmin))).body.functions
          .length,
        0,
      );
    });

    test('bus administration, keys and the audit log need the default bus; the default bus itself is out of reach', async () => {
      for (const key of Object.values(keys)) {
        for (const [method, path, body] of [
          ['PUT', '/buses/b', {}],
          ['PUT', '/buses/a', { quota: { eventsPerSecond: 1000000 } }],
          ['DELETE', '/buses/b?force=true'],
          ['PUT', '/buses/c', {}],
          ['GET', '/buses/b'],
          ['GET', '/keys'],
          ['POST', '/keys', { name: 'mine', scope: 'manage', bus: 'b' }],
          ['DELETE', '/keys/admin'],
          ['GET', '/audit'],
          ['POST', '/buses/a/keys', { name: 'mine', scope: 'manage' }],
          ['GET', '/buses/a/audit'],
          ['GET', '/rules'],
          ['POST', '/events', ce('d-1')],
        ] as Array<[string, string, unknown?]>) {
          const answer = await request(bus.url, method, path, body, { ...bearer(key), ...CE });
          assert.equal(
            answer.status,
            403,
            `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`,
          );
        }
      }
      const names = (
        await request(bus.url, 'GET', '/buses', undefined, bearer(keys.read as string))
      ).body.buses.map((b: { name: string }) => b.name);
      assert.deepEqual(names, ['a']);
      assert.deepEqual(
        (await request(bus.url, 'GET', '/buses', undefined, bearer(admin))).body.buses.map(
          (b: { name: string }) => b.name,
        ),
        ['default'],
      );
    });

    test('EventBridge calls naming bus B are refused, wherever they name it', async () => {
      const key = keys.manage as string;
      const calls: Array<[string, unknown]> = [
        ['PutEvents', { Entries: [{ EventBusName: 'b', Source: 's', DetailType: 'd', Detail: '{}' }] }],
        [
          'PutEvents',
          {
            Entries: [
              { EventBusName: 'a', Source: 's', DetailType: 'd', Detail: '{}' },
              {
                EventBusName: 'arn:aws:events:us-east-1:1:event-bus/b',
                Source: 's',
                DetailType: 'd',
                Detail: '{}',
              },
            ],
          },
        ],
        ['PutEvents', { Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] }],
        ['PutRule', { Name: 'r', EventBusName: 'b', EventPattern: '{"source":["s"]}' }],
        ['PutRule', { Name: 'r', 'EventBus\u004eame': 'b', EventPattern: '{"source":["s"]}' }],
        ['ListRules', { EventBusName: 'b' }],
        ['DescribeRule', { Name: 'r', EventBusName: 'b' }],
        ['DeleteRule', { Name: 'r', EventBusName: 'b', Force: true }],
        ['DisableRule', { Name: 'r', EventBusName: 'b' }],
        ['ListTargetsByRule', { Rule: 'arn:aws:events:us-east-1:1:rule/b/r' }],
        [
          'PutTargets',
          {
            Rule: 'r',
            EventBusName: 'b',
            Targets: [{ Id: 'x', Arn: 'arn:junction:http:::http://127.0.0.1:9/' }],
          },
        ],
        ['DescribeEventBus', { Name: 'b' }],
        ['DeleteEventBus', { Name: 'b' }],
        ['CreateEventBus', { Name: 'c' }],
        ['UpdateEventBus', { Name: 'b', Description: 'x' }],
        // A bus's archive is named as the bus: its name or ARN reaches the bus.
        ['DescribeArchive', { ArchiveName: 'b' }],
        ['ListReplays', { EventSourceArn: 'arn:aws:events:us-east-1:1:archive/b' }],
        ['ListArchives', { EventSourceArn: 'arn:aws:events:us-east-1:1:event-bus/b' }],
        [
          'StartReplay',
          {
            ReplayName: 'x',
            EventSourceArn: 'arn:aws:events:us-east-1:1:archive/b',
            EventStartTime: 1,
            EventEndTime: 2,
            Destination: { Arn: 'arn:aws:events:us-east-1:1:event-bus/a' },
          },
        ],
        // Named by nothing but their name, replays are looked for across buses: that needs the default bus.
        ['DescribeReplay', { ReplayName: 'x' }],
        ['ListReplays', {}],
      ];
      for (const [op, body] of calls) {
        const answer = await request(bus.url, 'POST', '/', JSON.stringify(body), amz(key, op));
        assert.equal(
          answer.status,
          403,
          `${op} ${JSON.stringify(body)}: ${answer.status} ${JSON.stringify(answer.body)}`,
        );
      }
      const listed = await request(bus.url, 'POST', '/', '{}', amz(key, 'ListEventBuses'));
      assert.deepEqual(
        listed.body.EventBuses.map((b: { Name: string }) => b.Name),
        ['a'],
      );
      // The same kind of call on A works.
      const archiveOfA = await request(
        bus.url,
        'POST',
        '/',
        '{"ArchiveName": "a"}',
        amz(key, 'DescribeArchive'),
      );
      assert.equal(archiveOfA.status, 200, JSON.stringify(archiveOfA.body));
      assert.equal(archiveOfA.body.EventSourceArn, 'arn:aws:events:us-east-1:000000000000:event-bus/a');
      const onA = await request(
        bus.url,
        'POST',
        '/',
        JSON.stringify({ Name: 'ra', EventBusName: 'a', EventPattern: '{"source":["s"]}' }),
        amz(key, 'PutRule'),
      );
      assert.equal(onA.status, 200, JSON.stringify(onA.body));
      assert.equal(
        (await request(bus.url, 'GET', '/buses/b/rules', undefined, bearer(bAdmin))).body.rules.length,
        1,
      );
    });

    test('a SigV4 key of bus A, through the SDK: A works, B is refused', async () => {
      const client = new EventBridgeClient({
        endpoint: bus.url,
        region: 'us-east-1',
        credentials: aws,
        maxAttempts: 1,
      });
      try {
        const ok = await client.send(
          new PutEventsCommand({
            Entries: [{ EventBusName: 'a', Source: 's', DetailType: 'd', Detail: '{}' }],
          }),
        );
        assert.equal(ok.FailedEntryCount, 0);
        await assert.rejects(
          client.send(new PutRuleCommand({ Name: 'r', EventBusName: 'b', EventPattern: '{"source":["s"]}' })),
          (e: Error) => /AccessDenied|Forbidden/.test(`${e.name} ${e.message}`),
        );
      } finally {
        client.destroy();
      }
    });

    test('a rule of A may forward to B only when its author may publish on B', async () => {
      const forward = {
        pattern: { type: ['t'] },
        targets: [{ id: 'to-b', type: 'bus', bus: 'b' }],
      };
      const refused = await request(
        bus.url,
        'PUT',
        '/buses/a/rules/fwd',
        forward,
        bearer(keys.manage as string),
      );
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.equal(refused.body.error.field, 'targets[0].bus');
      // B accepts A's rules (its resource policy, set by the deployment's admin): now A's manager may forward there.
      const accept = await request(bus.url, 'PUT', '/buses/b', busBody({ acceptFrom: ['a'] }), bearer(admin));
      assert.equal(accept.status, 200, JSON.stringify(accept.body));
      assert.deepEqual(accept.body.acceptFrom, ['a']);
      const allowed = await request(
        bus.url,
        'PUT',
        '/buses/a/rules/fwd',
        forward,
        bearer(keys.manage as string),
      );
      assert.equal(allowed.status, 201, JSON.stringify(allowed.body));
      // …but not to a bus that does not list A, unless the author may publish there.
      assert.equal((await request(bus.url, 'PUT', '/buses/c', busBody(), bearer(admin))).status, 201);
      const toC = await request(
        bus.url,
        'PUT',
        '/buses/a/rules/fwd2',
        { pattern: { type: ['t'] }, targets: [{ id: 'to-c', type: 'bus', bus: 'c' }] },
        bearer(keys.manage as string),
      );
      assert.equal(toC.status, 403);
      const made = await request(
        bus.url,
        'POST',
        '/keys',
        { name: 'b-pub', scope: 'publish', bus: 'b' },
        bearer(admin),
      );
      assert.equal(made.status, 201);
    });

    test('/metrics shows only the buses the key may read', async () => {
      const text = String(
        (await request(bus.url, 'GET', '/metrics', undefined, bearer(keys.read as string))).body,
      );
      assert.equal(text.length > 0, true);
      const all = String(
        (await request(bus.url, 'GET', '/buses/a/metrics', undefined, bearer(keys.read as string))).body,
      );
      assert.match(all, /bus="a"/);
      assert.doesNotMatch(all, /bus="b"/);
      // The process's own series (CPU, memory, the event loop) describe every bus's load: the default bus's readers
      // see them, a key of bus A does not.
      assert.doesNotMatch(text, /^process_cpu_seconds_total /m);
      assert.doesNotMatch(text, /^nodejs_eventloop_lag_p99_seconds /m);
      const admins = String((await request(bus.url, 'GET', '/metrics', undefined, bearer(admin))).body);
      assert.match(admins, /^process_cpu_seconds_total /m);
      assert.match(admins, /^nodejs_eventloop_lag_p99_seconds /m);
    });

    test('deleting bus A leaves B intact and revokes the keys of A', async () => {
      assert.equal(
        (await request(bus.url, 'DELETE', '/buses/a?force=true', undefined, bearer(admin))).status,
        204,
      );
      const keysLeft = (await request(bus.url, 'GET', '/keys', undefined, bearer(admin))).body.keys.map(
        (k: { name: string }) => k.name,
      );
      assert.deepEqual(keysLeft.sort(), ['admin', 'b-manage', 'b-pub', 'b-publish']);
      assert.equal(
        (await request(bus.url, 'GET', '/buses/a/rules', undefined, bearer(keys.manage as string))).status,
        401,
      );
      const rule = await request(bus.url, 'GET', '/buses/b/rules/r', undefined, bearer(bAdmin));
      assert.equal(rule.status, 200);
      const trace = await request(
        bus.url,
        'GET',
        '/buses/b/events/b-1/trace?source=%2Ft',
        undefined,
        bearer(bAdmin),
      );
      assert.equal(trace.status, 200);
    });
  });
}
