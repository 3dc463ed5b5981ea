import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JunctionError } from '../../lib/core/errors.ts';
import {
  awsCodeOf,
  awsError,
  checkBus,
  DEFAULT_ARN_CONTEXT,
  describeRule,
  describeTarget,
  page,
  parseArn,
  ruleBodyOfPutRule,
  ruleNameOfArn,
  sameDestination,
  targetBodyOf,
  targetField,
} from '../../lib/core/eventbridge-api.ts';
import { validateRule, validateTarget } from '../../lib/core/rule.ts';

/** The AWS code and field of what `fn` throws. */
function thrown(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof JunctionError, String(error));
    return { code: awsCodeOf(error), field: error.field, message: error.message };
  }
  throw new Error('did not throw');
}

describe('target ARNs', () => {
  test('maps the Junction forms and Lambda ARNs to targets', () => {
    assert.deepEqual(targetBodyOf({ Id: 'a', Arn: 'arn:junction:function:::echo' }, 0), {
      type: 'function',
      function: 'echo',
      id: 'a',
    });
    // A Lambda ARN is a function written for EventBridge: it gets the event in EventBridge's shape.
    assert.deepEqual(
      targetBodyOf({ Id: 'a', Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:echo' }, 0),
      {
        type: 'function',
        function: 'echo',
        format: 'eventbridge',
        id: 'a',
      },
    );
    assert.equal(
      targetBodyOf({ Id: 'a', Arn: 'arn:aws:lambda:eu-west-1:1:function:echo:$LATEST' }, 0).function,
      'echo',
    );
    assert.deepEqual(targetBodyOf({ Id: 'a', Arn: 'arn:junction:http:::https://h.example/p?q=1' }, 0), {
      type: 'http',
      url: 'https://h.example/p?q=1',
      mode: 'binary',
      id: 'a',
    });
    assert.deepEqual(
      targetBodyOf({ Id: 'a', Arn: 'arn:junction:http-eventbridge:::https://h.example/p' }, 0),
      { type: 'http', url: 'https://h.example/p', format: 'eventbridge', id: 'a' },
    );
    assert.equal(targetBodyOf({ Id: 'a', Arn: 'arn:junction:kafka:::orders.v1' }, 0).topic, 'orders.v1');
    assert.equal(
      targetBodyOf({ Id: 'a', Arn: 'arn:junction:bus:::http://other:8080' }, 0).url,
      'http://other:8080',
    );
  });

  test("maps an event-bus ARN to a bus target of this deployment, but not to the rule's own bus", () => {
    assert.deepEqual(targetBodyOf({ Id: 'a', Arn: 'arn:aws:events:eu-west-1:1:event-bus/orders' }, 0), {
      type: 'bus',
      bus: 'orders',
      id: 'a',
    });
    assert.deepEqual(
      targetBodyOf({ Id: 'a', Arn: 'arn:aws:events:us-east-1:1:event-bus/default' }, 0, undefined, 'orders'),
      { type: 'bus', bus: 'default', id: 'a' },
    );
    const loop = thrown(() =>
      targetBodyOf({ Id: 'a', Arn: 'arn:aws:events:us-east-1:1:event-bus/orders' }, 2, undefined, 'orders'),
    );
    assert.equal(loop.code, 'ValidationException');
    assert.equal(loop.field, 'Targets[2].Arn');
    assert.match(loop.message, /bus orders itself \(it would loop\)/);
  });

  test('refuses what it cannot deliver to, naming Targets[i].Arn', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['arn:aws:sqs:us-east-1:1:q', 'ValidationException', /sqs resources are not supported/],
      ['arn:aws:lambda:us-east-1:1:function:f:prod', 'ValidationException', /qualifier/],
      ['arn:aws:lambda:us-east-1:1:layer:x', 'ValidationException', /not a Lambda function ARN/],
      ['arn:aws:events:us-east-1:1:event-bus/default', 'ValidationException', /loop/],
      ['arn:aws:events:us-east-1:1:api-destination/d/1', 'ValidationException', /arn:junction:http/],
      ['arn:junction:queue:::x', 'ValidationException', /unknown Junction target kind/],
      ['arn:junction:function:::-bad', 'ValidationException', /invalid function name/],
      ['arn:other:lambda:r:a:function:f', 'ValidationException', /partition/],
      ['lambda:function:f', 'ValidationException', /not in correct format/],
    ];
    for (const [arn, code, message] of cases) {
      const e = thrown(() => targetBodyOf({ Id: 't', Arn: arn }, 3));
      assert.equal(e.code, code, arn);
      assert.equal(e.field, 'Targets[3].Arn', arn);
      assert.match(e.message, message, arn);
    }
  });

  test('refuses unsupported and unknown target parameters by name', () => {
    const base = { Id: 't', Arn: 'arn:junction:http:::http://h' };
    assert.equal(
      thrown(() => targetBodyOf({ ...base, DeadLetterConfig: { Arn: 'x' } }, 0)).field,
      'Targets[0].DeadLetterConfig',
    );
    assert.equal(
      thrown(() => targetBodyOf({ ...base, SqsParameters: {} }, 0)).field,
      'Targets[0].SqsParameters',
    );
    assert.equal(thrown(() => targetBodyOf({ ...base, Bogus: 1 }, 0)).field, 'Targets[0].Bogus');
    assert.equal(
      thrown(() => targetBodyOf({ ...base, HttpParameters: { QueryStringParameters: {} } }, 0)).field,
      'Targets[0].HttpParameters.QueryStringParameters',
    );
    assert.equal(
      thrown(() => targetBodyOf({ Id: 't', Arn: 'arn:junction:function:::f', HttpParameters: {} }, 0)).field,
      'Targets[0].HttpParameters',
    );
    assert.equal(thrown(() => targetBodyOf({ ...base, Input: 'not json' }, 0)).field, 'Targets[0].Input');
    assert.equal(
      thrown(() => targetBodyOf({ ...base, Input: '{}', InputPath: '$' }, 0)).field,
      'Targets[0].InputPath',
    );
    assert.equal(
      thrown(() => targetBodyOf({ ...base, RetryPolicy: { MaximumRetryAttempts: 186 } }, 0)).field,
      'Targets[0].RetryPolicy.MaximumRetryAttempts',
    );
    assert.equal(
      thrown(() => targetBodyOf({ ...base, RetryPolicy: { MaximumEventAgeInSeconds: 59 } }, 0)).field,
      'Targets[0].RetryPolicy.MaximumEventAgeInSeconds',
    );
    assert.equal(thrown(() => targetBodyOf({ Id: 'bad id', Arn: base.Arn }, 0)).field, 'Targets[0].Id');
  });

  test('round-trips inputs, retry policies and headers through a Junction target', () => {
    const cases = [
      { Input: '{"fixed": true}' },
      { InputPath: '$.data.order' },
      { InputTransformer: { InputPathsMap: { n: '$.data.n' }, InputTemplate: '{"n": <n>}' } },
    ];
    for (const input of cases) {
      const target = validateTarget(
        targetBodyOf(
          {
            Id: 't',
            Arn: 'arn:junction:http:::https://h.example/x',
            RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
            HttpParameters: { HeaderParameters: { 'x-k': 'v' } },
            ...input,
          },
          0,
        ),
        0,
      );
      assert.equal(target.retry.maxAttempts, 1);
      assert.deepEqual(describeTarget(target), {
        Id: 't',
        Arn: 'arn:junction:http:::https://h.example/x',
        ...input,
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        HttpParameters: { HeaderParameters: { 'x-k': 'v' } },
      });
    }
  });

  test('answers the ARN an EventBridge-shaped target was given as, and knows one destination in both shapes', () => {
    const ctx = { region: 'eu-west-1', account: '123456789012' };
    const lambda = validateTarget(
      targetBodyOf({ Id: 'l', Arn: 'arn:aws:lambda:eu-west-1:123456789012:function:echo' }, 0),
      0,
    );
    assert.equal(describeTarget(lambda, ctx).Arn, 'arn:aws:lambda:eu-west-1:123456789012:function:echo');
    const plain = validateTarget(targetBodyOf({ Id: 'f', Arn: 'arn:junction:function:::echo' }, 0), 0);
    assert.equal(describeTarget(plain, ctx).Arn, 'arn:junction:function:::echo');
    assert.equal(sameDestination(lambda, plain), true);
    const hook = validateTarget(
      targetBodyOf({ Id: 'h', Arn: 'arn:junction:http-eventbridge:::https://h.example/x' }, 0),
      0,
    );
    assert.equal(describeTarget(hook).Arn, 'arn:junction:http-eventbridge:::https://h.example/x');
    const binary = validateTarget(
      targetBodyOf({ Id: 'b', Arn: 'arn:junction:http:::https://h.example/x' }, 0),
      0,
    );
    assert.equal(sameDestination(hook, binary), true);
    assert.equal(sameDestination(hook, plain), false);
    // Replacing a structured-mode target by an EventBridge-shaped one does not keep the mode.
    const structured = validateTarget({ id: 't', type: 'http', url: 'http://a', mode: 'structured' }, 0);
    const body = targetBodyOf({ Id: 't', Arn: 'arn:junction:http-eventbridge:::http://a' }, 0, structured);
    const replaced = validateTarget(body, 0);
    assert.equal(replaced.type === 'http' ? replaced.mode : undefined, 'binary');
    // A bus of this deployment answers as its event-bus ARN; two buses are two destinations.
    const orders = validateTarget(
      targetBodyOf({ Id: 'o', Arn: 'arn:aws:events:r:1:event-bus/orders' }, 0),
      0,
    );
    assert.equal(describeTarget(orders, ctx).Arn, 'arn:aws:events:eu-west-1:123456789012:event-bus/orders');
    const audit = validateTarget({ id: 'a', type: 'bus', bus: 'audit' }, 0);
    const ordersAgain = validateTarget({ id: 'x', type: 'bus', bus: 'orders' }, 0);
    assert.equal(sameDestination(orders, audit), false);
    assert.equal(sameDestination(orders, ordersAgain), true);
    assert.equal(
      sameDestination(orders, validateTarget({ id: 'u', type: 'bus', url: 'http://h' }, 0)),
      false,
    );
  });

  test('keeps the Junction-only settings of the target it replaces when the kind is the same', () => {
    const previous = validateTarget(
      {
        id: 't',
        type: 'http',
        url: 'http://a',
        mode: 'structured',
        concurrency: 2,
        delivery: 'exactly-once',
      },
      0,
    );
    const same = targetBodyOf({ Id: 't', Arn: 'arn:junction:http:::http://b' }, 0, previous);
    assert.deepEqual([same.mode, same.concurrency, same.delivery], ['structured', 2, 'exactly-once']);
    const other = targetBodyOf({ Id: 't', Arn: 'arn:junction:function:::f' }, 0, previous);
    assert.equal(other.concurrency, undefined);
  });

  test('names the EventBridge parameter a Junction validation path came from', () => {
    assert.equal(targetField(2, 'targets[2].url'), 'Targets[2].Arn');
    assert.equal(targetField(2, 'targets[2].input.template'), 'Targets[2].Input');
    assert.equal(targetField(2, 'targets[2].headers.x-a'), 'Targets[2].HttpParameters.HeaderParameters');
    assert.equal(targetField(2, undefined), 'Targets[2]');
  });

  test('parses ARNs, keeping colons in the resource', () => {
    assert.deepEqual(parseArn('arn:junction:http:::http://h:8080/x'), {
      partition: 'junction',
      service: 'http',
      region: '',
      account: '',
      resource: 'http://h:8080/x',
    });
    assert.equal(parseArn('arn:aws:sqs'), undefined);
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/orders'), 'orders');
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/default/orders'), 'orders');
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/other/orders'), undefined);
    // On a named bus, its rules' ARNs carry the bus: `rule/<name>` is a rule of the default bus.
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/other/orders', 'other'), 'orders');
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/orders', 'other'), undefined);
    assert.equal(ruleNameOfArn('arn:aws:events:r:1:rule/default/orders', 'other'), undefined);
  });
});

describe('rules', () => {
  const stored = validateRule(
    'r',
    {
      pattern: { source: ['a'] },
      filter: "type = 'x'",
      enabled: false,
      targets: [{ id: 't', type: 'function', function: 'f' }],
    },
    1,
  );

  test('keeps targets, filter and state on PutRule, and takes the new pattern and description', () => {
    const body = ruleBodyOfPutRule({ Name: 'r', EventPattern: '{"source":["b"]}', Description: 'd' }, stored);
    assert.deepEqual(body, {
      pattern: { source: ['b'] },
      patternText: '{"source":["b"]}',
      description: 'd',
      filter: "type = 'x'",
      enabled: false,
      targets: stored.targets,
    });
    assert.equal(ruleBodyOfPutRule({ EventPattern: '{}', State: 'ENABLED' }, stored).enabled, true);
    assert.equal(ruleBodyOfPutRule({ EventPattern: '{}' }, undefined).enabled, true);
  });

  test('maps a schedule; refuses a bad one, a schedule with a pattern, a missing or non-JSON pattern and an unknown state', () => {
    assert.deepEqual(
      ruleBodyOfPutRule({ ScheduleExpression: 'rate(1 hour)', State: 'DISABLED' }, undefined),
      {
        schedule: { expression: 'rate(1 hour)' },
        enabled: false,
        targets: [],
      },
    );
    assert.equal(
      thrown(() => ruleBodyOfPutRule({ ScheduleExpression: 'rate(1 hours)' }, undefined)).field,
      'ScheduleExpression',
    );
    assert.equal(
      thrown(() => ruleBodyOfPutRule({ ScheduleExpression: 'rate(1 hour)', EventPattern: '{}' }, undefined))
        .field,
      'ScheduleExpression',
    );
    assert.deepEqual(
      [
        thrown(() => ruleBodyOfPutRule({}, undefined)).code,
        thrown(() => ruleBodyOfPutRule({}, undefined)).field,
      ],
      ['ValidationException', 'EventPattern'],
    );
    assert.equal(
      thrown(() => ruleBodyOfPutRule({ EventPattern: '{' }, undefined)).code,
      'InvalidEventPatternException',
    );
    assert.equal(
      thrown(() =>
        ruleBodyOfPutRule(
          { EventPattern: '{}', State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' },
          undefined,
        ),
      ).field,
      'State',
    );
  });

  test('describes a rule as EventBridge does', () => {
    assert.deepEqual(describeRule(stored, DEFAULT_ARN_CONTEXT), {
      Name: 'r',
      Arn: 'arn:aws:events:us-east-1:000000000000:rule/r',
      EventPattern: '{"source":["a"]}',
      State: 'DISABLED',
      EventBusName: 'default',
    });
    // A rule of a named bus: its ARN carries the bus (`rule/<bus>/<name>`), as EventBridge's do.
    assert.deepEqual(describeRule(stored, DEFAULT_ARN_CONTEXT, 'orders'), {
      Name: 'r',
      Arn: 'arn:aws:events:us-east-1:000000000000:rule/orders/r',
      EventPattern: '{"source":["a"]}',
      State: 'DISABLED',
      EventBusName: 'orders',
    });
  });

  test('accepts the default bus by name or ARN and refuses any other', () => {
    checkBus({});
    checkBus({ EventBusName: 'default' });
    checkBus({ EventBusName: 'arn:aws:events:eu-west-1:123456789012:event-bus/default' });
    for (const bus of ['orders', 'arn:aws:events:r:1:event-bus/orders', 'arn:aws:sqs:r:1:default']) {
      const e = thrown(() => checkBus({ EventBusName: bus }));
      assert.deepEqual([e.code, e.field], ['ResourceNotFoundException', 'EventBusName'], bus);
    }
    assert.equal(thrown(() => checkBus({ EventBusName: 1 })).code, 'ValidationException');
  });
});

describe('lists and errors', () => {
  test('pages in key order with a token that is the last key', () => {
    const items = ['c', 'a', 'd', 'b'];
    const first = page(items, (x) => x, { Limit: 3 });
    assert.deepEqual(first.items, ['a', 'b', 'c']);
    const second = page(items, (x) => x, { Limit: 3, NextToken: first.nextToken });
    assert.deepEqual(second, { items: ['d'] });
    assert.deepEqual(page(items, (x) => x, {}).items, ['a', 'b', 'c', 'd']);
    assert.equal(thrown(() => page(items, (x) => x, { NextToken: '%%' })).field, 'NextToken');
    assert.equal(thrown(() => page(items, (x) => x, { Limit: 0 })).field, 'Limit');
    assert.equal(thrown(() => page(items, (x) => x, { Limit: 101 })).field, 'Limit');
  });

  test('maps Junction codes to AWS exceptions, keeping an explicit one', () => {
    assert.equal(awsCodeOf(new JunctionError('InvalidPattern', 'x')), 'InvalidEventPatternException');
    assert.equal(awsCodeOf(new JunctionError('NotFound', 'x')), 'ResourceNotFoundException');
    assert.equal(awsCodeOf(new JunctionError('ReplayExists', 'x')), 'ResourceAlreadyExistsException');
    assert.equal(awsCodeOf(new JunctionError('InvalidRule', 'x')), 'ValidationException');
    assert.equal(awsCodeOf(new JunctionError('Internal', 'x')), 'InternalException');
    assert.equal(awsCodeOf(awsError('LimitExceededException', 'x')), 'LimitExceededException');
  });
});
