/**
 * The EventBridge management API driven by boto3 and the AWS CLI (`aws events …`), each a real client in its own
 * process, against a real bus on 127.0.0.1: rule and target created, PutEvents delivered, the rule managed, and
 * AWS-shaped errors. Without python3+boto3 or the `aws` CLI the tests skip (and fail under CI=true).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestBus, type TestBus } from '../helpers/bus.ts';
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
});
