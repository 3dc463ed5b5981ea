/**
 * The EventBridge management API driven by boto3 and the AWS CLI (`aws events …`), each a real client in its own
 * process, and by `@aws-sdk/client-eventbridge`, against a real bus on 127.0.0.1: rule and target created, PutEvents
 * delivered, the rule managed, and AWS-shaped errors; a pattern copied from AWS routes PutEvents' events, targets get
 * the event in EventBridge's shape when asked, and a Detail integer beyond 2^53 arrives exact. Without python3+boto3
 * or the `aws` CLI their tests skip (and fail under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { startTestBus, type TestBus, traceOf } from '../helpers/bus.ts';
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

describe('EventBridge from boto3, the AWS CLI and @aws-sdk/client-eventbridge', () => {
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

  test("boto3 on a named bus: the rule ARN carries the bus, and a missing bus is AWS's error", async (t) => {
    if (boto3) return t.skip(boto3);
    value(await viaBoto3('create_event_bus', { Name: 'py-bus' }));
    const rule = value(
      await viaBoto3('put_rule', {
        Name: 'py-r',
        EventBusName: 'py-bus',
        EventPattern: '{"source": ["com.py"]}',
      }),
    );
    assert.equal(rule.RuleArn, 'arn:aws:events:us-east-1:000000000000:rule/py-bus/py-r');
    const described = value(await viaBoto3('describe_rule', { Name: 'py-r', EventBusName: 'py-bus' }));
    assert.equal(described.EventBusName, 'py-bus');
    refused(
      await viaBoto3('list_rules', { EventBusName: 'py-none' }),
      'ResourceNotFoundException',
      /^Event bus py-none does not exist\.$/,
    );
    value(await viaBoto3('delete_event_bus', { Name: 'py-bus' }));
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
  /** The operations the EventBridge scenario needs, as one client calls them. */
  interface Client {
    putRule(name: string, pattern: string): Promise<Answer>;
    putTargets(rule: string, targets: Array<{ Id: string; Arn: string }>): Promise<Answer>;
    putEvents(entries: Array<Record<string, unknown>>): Promise<Answer>;
    testEventPattern(pattern: string, event: string): Promise<Answer>;
  }

  const boto3Client: Client = {
    putRule: (Name, EventPattern) => viaBoto3('put_rule', { Name, EventPattern }),
    putTargets: (Rule, Targets) => viaBoto3('put_targets', { Rule, Targets }),
    putEvents: (Entries) => viaBoto3('put_events', { Entries }),
    testEventPattern: (EventPattern, Event) => viaBoto3('test_event_pattern', { EventPattern, Event }),
  };

  const cliClient: Client = {
    putRule: (name, pattern) => viaCli(['put-rule', '--name', name, '--event-pattern', pattern]),
    putTargets: (rule, targets) =>
      viaCli(['put-targets', '--rule', rule, '--targets', JSON.stringify(targets)]),
    putEvents: (entries) => viaCli(['put-events', '--entries', JSON.stringify(entries)]),
    testEventPattern: (pattern, event) =>
      viaCli(['test-event-pattern', '--event-pattern', pattern, '--event', event]),
  };

  /** `@aws-sdk/client-eventbridge`, its answers and exceptions in the shape of the others'. */
  function sdkClient(): Client & { destroy(): void } {
    const client = new EventBridgeClient({
      endpoint: bus.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const call = async (send: () => Promise<object>): Promise<Answer> => {
      try {
        const { $metadata: _m, ...value } = (await send()) as { $metadata: unknown };
        return { ok: true, value };
      } catch (error) {
        return { ok: false, code: (error as Error).name, message: (error as Error).message };
      }
    };
    return {
      putRule: (Name, EventPattern) => call(() => client.send(new PutRuleCommand({ Name, EventPattern }))),
      putTargets: (Rule, Targets) => call(() => client.send(new PutTargetsCommand({ Rule, Targets }))),
      putEvents: (Entries) => call(() => client.send(new PutEventsCommand({ Entries }))),
      testEventPattern: (EventPattern, Event) =>
        call(() => client.send(new TestEventPatternCommand({ EventPattern, Event }))),
      destroy: () => client.destroy(),
    };
  }

  /** A Detail integer a double cannot hold: it must reach the targets with every digit. */
  const BIG = '9007199254740993';

  /**
   * A rule with a pattern copied from AWS, one CloudEvents target and one EventBridge-shaped target; PutEvents of an
   * event it matches (a big integer in its Detail), one it does not, one from an "aws." source and one from a source
   * that is no URI; TestEventPattern on the same pattern.
   */
  async function eventBridgeScenario(client: Client, name: string): Promise<void> {
    const source = `com.shop.${name}`;
    const pattern = JSON.stringify({
      source: [source],
      'detail-type': ['order.created'],
      detail: { total: [{ numeric: ['>', 100] }] },
    });
    assert.match(String(value(await client.putRule(`${name}-orders`, pattern)).RuleArn), /:rule\//);
    const put = value(
      await client.putTargets(`${name}-orders`, [
        { Id: 'ce', Arn: `arn:junction:http:::${sink.url}/${name}-ce` },
        { Id: 'eb', Arn: `arn:junction:http-eventbridge:::${sink.url}/${name}-eb` },
      ]),
    );
    assert.equal(put.FailedEntryCount, 0, JSON.stringify(put));
    const detail = `{"total": 120, "id": ${BIG}}`;
    const sent = value(
      await client.putEvents([
        { Source: source, DetailType: 'order.created', Detail: '{"total": 50}' },
        {
          Source: source,
          DetailType: 'order.created',
          Detail: detail,
          Resources: ['arn:aws:dynamodb:us-east-1:123456789012:table/orders'],
        },
        { Source: 'aws.ec2', DetailType: 'order.created', Detail: '{}' },
        { Source: 'my app', DetailType: 'order.created', Detail: '{}' },
      ]),
    );
    const entries = sent.Entries as Array<{ EventId?: string; ErrorCode?: string }>;
    assert.equal(sent.FailedEntryCount, 1, JSON.stringify(sent));
    assert.equal(entries[2]?.ErrorCode, 'NotAuthorizedForSourceException');
    assert.equal(typeof entries[3]?.EventId, 'string');
    const matchedId = entries[1]?.EventId as string;

    const at = (path: string) => sink.received.filter((r) => r.url === `/${path}`);
    await waitFor(
      () => at(`${name}-ce`).length === 1 && at(`${name}-eb`).length === 1,
      `${name}: both targets`,
    );
    // The CloudEvents target: binary mode, the data the producer's text.
    const ce = at(`${name}-ce`)[0]!;
    assert.equal(ce.body.toString('utf8'), detail);
    assert.equal(ce.headers['ce-type'], 'order.created');
    assert.equal(ce.headers['ce-id'], matchedId);
    // The EventBridge-shaped target: the envelope as EventBridge writes it, no CloudEvents headers.
    const eb = at(`${name}-eb`)[0]!;
    const text = eb.body.toString('utf8');
    assert.ok(text.includes(`"detail":{"total": 120, "id": ${BIG}}`), text);
    assert.equal(eb.headers['content-type'], 'application/json');
    assert.equal(
      Object.keys(eb.headers).some((h) => h.startsWith('ce-')),
      false,
    );
    const envelope = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(envelope), [
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
      { ...envelope, time: undefined, detail: undefined },
      {
        version: '0',
        id: matchedId,
        'detail-type': 'order.created',
        source,
        account: '000000000000',
        time: undefined,
        region: 'us-east-1',
        resources: ['arn:aws:dynamodb:us-east-1:123456789012:table/orders'],
        detail: undefined,
      },
    );
    assert.ok(!Number.isNaN(Date.parse(envelope.time as string)));
    // The event under the threshold matched nothing.
    const unmatchedId = entries[0]?.EventId as string;
    await waitFor(
      async () => (await traceOf(bus, unmatchedId, source)).some((e) => e.kind === 'unmatched'),
      `${name}: the small order routed`,
    );

    // TestEventPattern answers as routing did, and requires EventBridge's envelope.
    const event = {
      version: '0',
      id: 'x',
      'detail-type': 'order.created',
      source,
      account: '123456789012',
      time: '2026-01-02T03:04:05Z',
      region: 'eu-west-1',
      resources: [],
      detail: { total: 101 },
    };
    assert.equal(value(await client.testEventPattern(pattern, JSON.stringify(event))).Result, true);
    const small = { ...event, detail: { total: 100 } };
    assert.equal(value(await client.testEventPattern(pattern, JSON.stringify(small))).Result, false);
    const { account: _a, ...withoutAccount } = event;
    refused(
      await client.testEventPattern(pattern, JSON.stringify(withoutAccount)),
      'ValidationException',
      /Parameter Event is not valid.*"account"/,
    );
  }

  test('boto3: an AWS pattern routes PutEvents; EventBridge-shaped and CloudEvents targets; int64 Detail exact', async (t) => {
    if (boto3) return t.skip(boto3);
    await eventBridgeScenario(boto3Client, 'boto3');
  });

  test('the AWS CLI: an AWS pattern routes PutEvents; EventBridge-shaped and CloudEvents targets; int64 Detail exact', async (t) => {
    if (awsCli) return t.skip(awsCli);
    await eventBridgeScenario(cliClient, 'cli');
  });

  test('@aws-sdk/client-eventbridge: an AWS pattern routes PutEvents; EventBridge-shaped and CloudEvents targets; int64 Detail exact', async () => {
    const client = sdkClient();
    try {
      await eventBridgeScenario(client, 'sdk');
    } finally {
      client.destroy();
    }
  });
});
