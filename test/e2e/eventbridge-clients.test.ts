/**
 * The EventBridge management API driven by boto3 and the AWS CLI (`aws events …`), each a real client in its own
 * process, and by `@aws-sdk/client-eventbridge`, against a real bus on 127.0.0.1: rule and target created, PutEvents
 * delivered, the rule managed, and AWS-shaped errors; and EventBridge-shaped events (#14 §2): a pattern copied from
 * AWS routes PutEvents, targets receive EventBridge's JSON when asked, an int64 in Detail arrives exact, a Lambda
 * written for EventBridge runs unchanged. Without python3+boto3 or the `aws` CLI their tests skip (and fail under
 * CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { fixtureFunction, request, startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
import { waitFor } from '../helpers/events.ts';
import { type HttpTarget, startHttpTarget } from '../helpers/http-target.ts';

const run = promisify(execFile);

/** Credentials and settings so the clients talk to nothing but the bus. */
const AWS_ENV = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '/tmp',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: 'us-east-1',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_MAX_ATTEMPTS: '1',
  AWS_RETRY_MODE: 'standard',
  AWS_PAGER: '',
};

async function available(file: string, args: string[]): Promise<boolean> {
  try {
    await run(file, args, { env: AWS_ENV, timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** Skips with a message, or fails under CI=true, when a client is missing. */
function missing(what: string, install: string): string | false {
  const message = `${what} is not installed (${install}); CI installs it in .ci/run`;
  if (process.env.CI === 'true') throw new Error(message);
  return message;
}

type Answer = { ok: true; value: Record<string, unknown> } | { ok: false; code: string; message: string };

const BOTO3_RUNNER = `
import json, sys, boto3, botocore
eb = boto3.client('events', endpoint_url=sys.argv[1], region_name='us-east-1',
                  config=botocore.config.Config(retries={'max_attempts': 1}))
op, params = sys.argv[2], json.loads(sys.argv[3])
try:
    out = getattr(eb, op)(**params)
    out.pop('ResponseMetadata', None)
    print(json.dumps({'ok': True, 'value': out}, default=str))
except botocore.exceptions.ClientError as e:
    print(json.dumps({'ok': False, 'code': e.response['Error']['Code'], 'message': e.response['Error']['Message']}))
`;

describe('EventBridge management API from boto3 and the AWS CLI', () => {
  let bus: TestBus;
  let sink: HttpTarget;
  let boto3: string | false = false;
  let awsCli: string | false = false;

  before(async () => {
    bus = await startTestBus();
    sink = await startHttpTarget();
    if (!(await available('python3', ['-c', 'import boto3']))) boto3 = missing('boto3', 'pip install boto3');
    if (!(await available('aws', ['--version']))) awsCli = missing('the AWS CLI', 'pip install awscli');
  });
  after(async () => {
    await bus.stop();
    await sink.close();
  });

  async function viaBoto3(operation: string, params: Record<string, unknown>): Promise<Answer> {
    const { stdout } = await run(
      'python3',
      ['-c', BOTO3_RUNNER, bus.url, operation, JSON.stringify(params)],
      { env: AWS_ENV, timeout: 60_000 },
    );
    return JSON.parse(stdout) as Answer;
  }

  async function viaCli(args: string[]): Promise<Answer> {
    try {
      const { stdout } = await run(
        'aws',
        ['events', ...args, '--endpoint-url', bus.url, '--output', 'json'],
        {
          env: AWS_ENV,
          timeout: 60_000,
        },
      );
      return { ok: true, value: stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>) };
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? '');
      const m = /An error occurred \(([A-Za-z]+)\) when calling the \w+ operation(?: \([^)]*\))?: (.*)/s.exec(
        stderr,
      );
      if (m === null) throw error;
      return { ok: false, code: m[1] as string, message: (m[2] as string).trim() };
    }
  }

  function value(answer: Answer): Record<string, unknown> {
    if (!answer.ok) assert.fail(`refused: ${answer.code}: ${answer.message}`);
    return answer.value;
  }

  function refused(answer: Answer, code: string, message: RegExp): void {
    assert.equal(answer.ok, false, `expected ${code}, got ${JSON.stringify(answer)}`);
    if (answer.ok) return;
    assert.equal(answer.code, code, answer.message);
    assert.match(answer.message, message);
  }

  const received = (path: string) =>
    sink.received.filter((r) => r.url === path).map((r) => JSON.parse(r.body.toString('utf8')));

  /** One EventBridge operation through one client: its answer, or the AWS error it raised. */
  type Call = (operation: string, params: Record<string, unknown>) => Promise<Answer>;

  const boto3Call: Call = (operation, params) =>
    viaBoto3(
      operation.replace(/[A-Z]/g, (c, i) => (i === 0 ? '' : '_') + c.toLowerCase()),
      params,
    );

  const cliCall: Call = (operation, params) =>
    viaCli([
      operation.replace(/[A-Z]/g, (c, i) => (i === 0 ? '' : '-') + c.toLowerCase()),
      '--cli-input-json',
      JSON.stringify(params),
    ]);

  function sdkCall(client: EventBridgeClient): Call {
    const commands: Record<string, (input: never) => unknown> = {
      PutRule: (input) => new PutRuleCommand(input),
      PutTargets: (input) => new PutTargetsCommand(input),
      PutEvents: (input) => new PutEventsCommand(input),
      TestEventPattern: (input) => new TestEventPatternCommand(input),
      DeleteRule: (input) => new DeleteRuleCommand(input),
    };
    return async (operation, params) => {
      const command = commands[operation];
      if (command === undefined) throw new Error(`no command ${operation}`);
      try {
        const answer = (await client.send(command(params as never) as never)) as unknown;
        const { $metadata: _m, ...out } = answer as Record<string, unknown>;
        return { ok: true, value: out };
      } catch (error) {
        const e = error as { name?: string; message?: string; $metadata?: unknown };
        if (e.$metadata === undefined) throw error;
        return { ok: false, code: String(e.name), message: String(e.message) };
      }
    };
  }

  function newSdkClient(): EventBridgeClient {
    return new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  }

  /** The pattern of issue #14, copied from AWS, for one client's source. */
  const awsPattern = (source: string) =>
    JSON.stringify({
      source: [source],
      'detail-type': ['order.created'],
      detail: { total: [{ numeric: ['>', 100] }] },
    });

  /**
   * One client's round trip: a rule with an EventBridge pattern and two HTTP targets (EventBridge's JSON and
   * CloudEvents), PutEvents with a matching order (an int64 in its Detail), a small one, an `aws.` source and a
   * free-text source; TestEventPattern on the delivered event.
   */
  async function eventBridgeShapes(name: string, call: Call): Promise<void> {
    const source = `com.${name}`;
    const pattern = awsPattern(source);
    value(await call('PutRule', { Name: `${name}-shape`, EventPattern: pattern }));
    const put = value(
      await call('PutTargets', {
        Rule: `${name}-shape`,
        Targets: [
          { Id: 'eb', Arn: `arn:junction:api-destination:::${sink.url}/${name}-eb` },
          { Id: 'ce', Arn: `arn:junction:http:::${sink.url}/${name}-ce` },
        ],
      }),
    );
    assert.equal(put.FailedEntryCount, 0, JSON.stringify(put));
    const detail = '{"total": 120, "orderId": 9007199254740993}';
    const resource = `arn:aws:shop:us-east-1:123456789012:order/${name}`;
    const sent = value(
      await call('PutEvents', {
        Entries: [
          { Source: source, DetailType: 'order.created', Detail: detail, Resources: [resource] },
          { Source: source, DetailType: 'order.created', Detail: '{"total": 50}' },
          { Source: 'aws.shop', DetailType: 'order.created', Detail: '{"total": 500}' },
          { Source: 'my app', DetailType: 'order.created', Detail: '{"total": 500}' },
        ],
      }),
    );
    const entries = sent.Entries as Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }>;
    assert.equal(sent.FailedEntryCount, 1, JSON.stringify(sent));
    assert.equal(entries[2]?.ErrorCode, 'NotAuthorizedForSourceException');
    assert.match(entries[2]?.ErrorMessage ?? '', /^Not authorized for the source/);
    assert.ok(entries[3]?.EventId, 'a Source with a space is accepted');
    const [matchedId, smallId] = [entries[0]?.EventId as string, entries[1]?.EventId as string];

    const at = (path: string) => sink.received.filter((r) => r.url === path);
    await waitFor(
      () => at(`/${name}-eb`).length === 1 && at(`/${name}-ce`).length === 1,
      `${name}'s deliveries`,
    );
    const shaped = at(`/${name}-eb`)[0]!;
    const text = shaped.body.toString('utf8');
    assert.equal(shaped.headers['content-type'], 'application/json');
    assert.deepEqual(
      Object.keys(shaped.headers).filter((h) => h.startsWith('ce-')),
      [],
    );
    assert.ok(text.includes(`"detail":${detail}`), `Detail's text, int64 exact: ${text}`);
    const event = JSON.parse(text);
    assert.deepEqual(Object.keys(event), [
      'version',
      'id',
      'detail-type',
      'source',
      'account',
      'time',
      'region',
      'resources',
      'detail',
    ]);
    assert.deepEqual(
      [
        event.version,
        event.id,
        event['detail-type'],
        event.source,
        event.account,
        event.region,
        event.resources,
      ],
      ['0', matchedId, 'order.created', source, '000000000000', 'us-east-1', [resource]],
    );
    assert.equal(event.detail.total, 120);
    const cloud = at(`/${name}-ce`)[0]!;
    assert.equal(cloud.headers['ce-type'], 'order.created');
    assert.equal(cloud.headers['ce-id'], matchedId);
    assert.equal(cloud.body.toString('utf8'), detail);
    await waitFor(
      async () => (await traceOf(bus, smallId, source)).some((e) => e.kind === 'unmatched'),
      'the small order routed to no rule',
    );

    assert.equal(value(await call('TestEventPattern', { EventPattern: pattern, Event: text })).Result, true);
    const small = { ...event, detail: { total: 50 } };
    assert.equal(
      value(await call('TestEventPattern', { EventPattern: pattern, Event: JSON.stringify(small) })).Result,
      false,
    );
    const { account: _a, ...noAccount } = event;
    refused(
      await call('TestEventPattern', { EventPattern: pattern, Event: JSON.stringify(noAccount) }),
      'ValidationException',
      /Parameter Event is not valid\. Reason: the event has no "account"/,
    );
    value(await call('DeleteRule', { Name: `${name}-shape`, Force: true }));
  }

  test('boto3 creates a rule and a target, publishes, manages and deletes the rule, and gets AWS errors', async (t) => {
    if (boto3) return t.skip(boto3);
    const rule = value(
      await viaBoto3('put_rule', {
        Name: 'py-orders',
        EventPattern: '{"source": ["com.py"]}',
        Description: 'py',
      }),
    );
    assert.match(String(rule.RuleArn), /:rule\/py-orders$/);
    const put = value(
      await viaBoto3('put_targets', {
        Rule: 'py-orders',
        Targets: [{ Id: 'sink', Arn: `arn:junction:http:::${sink.url}/py` }],
      }),
    );
    assert.equal(put.FailedEntryCount, 0);
    const sent = value(
      await viaBoto3('put_events', {
        Entries: [{ Source: 'com.py', DetailType: 'order', Detail: '{"n": 1}' }],
      }),
    );
    assert.equal(sent.FailedEntryCount, 0);
    await waitFor(() => received('/py').length === 1, 'the boto3 event at the target');
    assert.equal(received('/py')[0].n, 1);

    const listed = value(await viaBoto3('list_rules', { NamePrefix: 'py-' }));
    assert.deepEqual(
      (listed.Rules as Array<{ Name: string }>).map((r) => r.Name),
      ['py-orders'],
    );
    value(await viaBoto3('disable_rule', { Name: 'py-orders' }));
    assert.equal(value(await viaBoto3('describe_rule', { Name: 'py-orders' })).State, 'DISABLED');
    value(await viaBoto3('enable_rule', { Name: 'py-orders' }));
    const targets = value(await viaBoto3('list_targets_by_rule', { Rule: 'py-orders' }));
    assert.deepEqual(
      (targets.Targets as Array<{ Id: string }>).map((x) => x.Id),
      ['sink'],
    );

    refused(
      await viaBoto3('put_rule', { Name: 'py-bad', EventPattern: '{"source": [{"numeric": ["<"]}]}' }),
      'InvalidEventPatternException',
      /numeric/,
    );
    refused(await viaBoto3('describe_rule', { Name: 'py-none' }), 'ResourceNotFoundException', /py-none/);
    refused(
      await viaBoto3('put_targets', { Rule: 'py-orders', Targets: [{ Id: 'x', Arn: 'nonsense' }] }),
      'ValidationException',
      /Targets\[0\]\.Arn/,
    );
    refused(await viaBoto3('delete_rule', { Name: 'py-orders' }), 'ValidationException', /targets/);
    const removed = value(await viaBoto3('remove_targets', { Rule: 'py-orders', Ids: ['sink'] }));
    assert.equal(removed.FailedEntryCount, 0);
    value(await viaBoto3('delete_rule', { Name: 'py-orders' }));
    refused(await viaBoto3('describe_rule', { Name: 'py-orders' }), 'ResourceNotFoundException', /py-orders/);
  });

  test('the AWS CLI creates a rule and a target, publishes, manages and deletes the rule, and gets AWS errors', async (t) => {
    if (awsCli) return t.skip(awsCli);
    const rule = value(
      await viaCli(['put-rule', '--name', 'cli-orders', '--event-pattern', '{"source": ["com.cli"]}']),
    );
    assert.match(String(rule.RuleArn), /:rule\/cli-orders$/);
    const put = value(
      await viaCli([
        'put-targets',
        '--rule',
        'cli-orders',
        '--targets',
        JSON.stringify([{ Id: 'sink', Arn: `arn:junction:http:::${sink.url}/cli` }]),
      ]),
    );
    assert.equal(put.FailedEntryCount, 0);
    const sent = value(
      await viaCli([
        'put-events',
        '--entries',
        JSON.stringify([{ Source: 'com.cli', DetailType: 'order', Detail: '{"n": 2}' }]),
      ]),
    );
    assert.equal(sent.FailedEntryCount, 0);
    await waitFor(() => received('/cli').length === 1, 'the CLI event at the target');
    assert.deepEqual(received('/cli'), [{ n: 2 }]);

    const listed = value(await viaCli(['list-rules', '--name-prefix', 'cli-']));
    assert.deepEqual(
      (listed.Rules as Array<{ Name: string; State: string }>).map((r) => [r.Name, r.State]),
      [['cli-orders', 'ENABLED']],
    );
    value(await viaCli(['disable-rule', '--name', 'cli-orders']));
    assert.equal(value(await viaCli(['describe-rule', '--name', 'cli-orders'])).State, 'DISABLED');
    value(await viaCli(['enable-rule', '--name', 'cli-orders']));
    const targets = value(await viaCli(['list-targets-by-rule', '--rule', 'cli-orders']));
    assert.deepEqual(
      (targets.Targets as Array<{ Id: string; Arn: string }>).map((x) => [x.Id, x.Arn]),
      [['sink', `arn:junction:http:::${sink.url}/cli`]],
    );

    refused(
      await viaCli(['put-rule', '--name', 'cli-bad', '--event-pattern', '{"source": "not-an-array"}']),
      'InvalidEventPatternException',
      /source/,
    );
    refused(await viaCli(['describe-rule', '--name', 'cli-none']), 'ResourceNotFoundException', /cli-none/);
    refused(
      await viaCli([
        'put-targets',
        '--rule',
        'cli-orders',
        '--targets',
        JSON.stringify([{ Id: 'x', Arn: 'arn:aws:sqs:us-east-1:123456789012:q' }]),
      ]).then((a) => {
        // A well-formed ARN of a service Junction does not deliver to fails that entry, not the call.
        const v = value(a);
        const [entry] = v.FailedEntries as Array<{ ErrorCode: string; ErrorMessage: string }>;
        return { ok: false as const, code: entry?.ErrorCode ?? '', message: entry?.ErrorMessage ?? '' };
      }),
      'ValidationException',
      /Targets\[0\]\.Arn: sqs/,
    );
    value(await viaCli(['remove-targets', '--rule', 'cli-orders', '--ids', 'sink']));
    value(await viaCli(['delete-rule', '--name', 'cli-orders']));
    refused(
      await viaCli(['describe-rule', '--name', 'cli-orders']),
      'ResourceNotFoundException',
      /cli-orders/,
    );
  });

  test('boto3: an EventBridge pattern routes PutEvents; EventBridge JSON when asked; int64 Detail exact', async (t) => {
    if (boto3) return t.skip(boto3);
    await eventBridgeShapes('py', boto3Call);
  });

  test('the AWS CLI: an EventBridge pattern routes PutEvents; EventBridge JSON when asked; int64 Detail exact', async (t) => {
    if (awsCli) return t.skip(awsCli);
    await eventBridgeShapes('cli', cliCall);
  });

  test('@aws-sdk/client-eventbridge: an EventBridge pattern routes PutEvents; EventBridge JSON when asked; int64 Detail exact', async () => {
    const client = newSdkClient();
    try {
      await eventBridgeShapes('sdk', sdkCall(client));
    } finally {
      client.destroy();
    }
  });

  test('a Lambda written for EventBridge, named by its Lambda ARN, runs unchanged', async () => {
    const deployed = await request(
      bus.url,
      'PUT',
      '/functions/eb-lambda',
      fixtureFunction('eventbridge-lambda'),
    );
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    const client = newSdkClient();
    const call = sdkCall(client);
    try {
      value(await call('PutRule', { Name: 'lambda-orders', EventPattern: awsPattern('com.lambda') }));
      const put = value(
        await call('PutTargets', {
          Rule: 'lambda-orders',
          Targets: [{ Id: 'fn', Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:eb-lambda' }],
        }),
      );
      assert.equal(put.FailedEntryCount, 0, JSON.stringify(put));
      // What the function answers is routed by a second rule, in EventBridge's vocabulary too.
      value(await call('PutRule', { Name: 'lambda-saw', EventPattern: '{"detail-type": ["lambda.saw"]}' }));
      value(
        await call('PutTargets', {
          Rule: 'lambda-saw',
          Targets: [{ Id: 'sink', Arn: `arn:junction:http:::${sink.url}/saw` }],
        }),
      );
      const sent = value(
        await call('PutEvents', {
          Entries: [
            {
              Source: 'com.lambda',
              DetailType: 'order.created',
              Detail: '{"total": 250}',
              Resources: ['arn:aws:shop:::order/7'],
            },
          ],
        }),
      );
      assert.equal(sent.FailedEntryCount, 0);
      await waitFor(() => received('/saw').length === 1, "the function's answer at the sink");
      assert.deepEqual(received('/saw')[0], {
        version: '0',
        detailType: 'order.created',
        source: 'com.lambda',
        account: '000000000000',
        region: 'us-east-1',
        resources: ['arn:aws:shop:::order/7'],
        total: 250,
        keys: ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'],
      });
      value(await call('DeleteRule', { Name: 'lambda-orders', Force: true }));
      value(await call('DeleteRule', { Name: 'lambda-saw', Force: true }));
    } finally {
      client.destroy();
    }
  });
});
