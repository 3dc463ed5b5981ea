/** The input transformer: InputPath, InputTransformer templates with EventBridge's quoting, and validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventJson } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { compileInput } from '../../lib/core/transform.ts';

const event: CloudEvent = Object.freeze({
  specversion: '1.0',
  id: 'e-1',
  source: 'shop',
  type: 'com.shop.order.created',
  time: '2026-01-02T03:04:05Z',
  data: { id: 'o-9', total: 150, state: 'RUN"NING', lines: [{ sku: 'A' }], 'odd.key': true },
});
const context = { ruleName: 'big-orders', targetId: 'fulfil' };

function errorOf(run: () => unknown): JunctionError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidRule');
    return error;
  }
  assert.fail('expected an InvalidRule error');
}

describe('compileInput', () => {
  it('delivers the value at an InputPath as JSON', () => {
    const render = compileInput({ path: '$.data.lines[0]' });
    assert.deepEqual(render(event, context), { body: '{"sku":"A"}', contentType: 'application/json' });
    assert.equal(compileInput({ path: '$' })(event, context).body, JSON.stringify(event));
    assert.equal(compileInput({ path: '$.data.missing' })(event, context).body, 'null');
  });

  it('inserts unquoted placeholders as JSON values', () => {
    const render = compileInput({
      paths: { order: '$.data.id', total: '$.data.total' },
      template: '{"order": <order>, "t": [<total>]}',
    });
    assert.deepEqual(render(event, context), {
      body: '{"order": "o-9", "t": [150]}',
      contentType: 'application/json',
    });
  });

  it('inserts quoted placeholders as escaped string content', () => {
    const render = compileInput({
      paths: { s: '$.data.state', l: '$.data.lines' },
      template: '{"state": "is <s>", "l": "<l>"}',
    });
    const body = render(event, context).body;
    assert.deepEqual(JSON.parse(body), { state: 'is RUN"NING', l: '[{"sku":"A"}]' });
  });

  it('renders a JSON string template as JSON and a plain template as text', () => {
    const paths = { i: '$.data.id', s: '$.data.total' };
    assert.deepEqual(compileInput({ paths, template: '"<i> is at <s>"' })(event, context), {
      body: '"o-9 is at 150"',
      contentType: 'application/json',
    });
    assert.deepEqual(compileInput({ paths, template: 'order <i> is at <s>' })(event, context), {
      body: 'order o-9 is at 150',
      contentType: 'text/plain',
    });
  });

  it("maps the predefined variables to Junction's", () => {
    const render = compileInput({
      template:
        '{"rule": "<junction.rule-name>", "target": "<junction.target-id>", "at": "<junction.event.ingestion-time>", "event": <junction.event>, "aws": "<aws.events.rule-name>"}',
    });
    const out = JSON.parse(render(event, { ...context, ingestionTime: '2026-01-02T03:04:06Z' }).body);
    assert.deepEqual(out, {
      rule: 'big-orders',
      target: 'fulfil',
      at: '2026-01-02T03:04:06Z',
      event,
      aws: 'big-orders',
    });
    const json = JSON.parse(
      compileInput({ template: '{"e": "<junction.event.json>"}' })(event, context).body,
    );
    assert.deepEqual(JSON.parse(json.e), event);
  });

  it('reads bracketed keys and leaves unknown placeholders as text', () => {
    const render = compileInput({ paths: { k: "$.data['odd.key']" }, template: 'k=<k> <b>bold</b>' });
    assert.equal(render(event, context).body, 'k=true <b>bold</b>');
  });

  it('fills missing values with null in JSON and nothing in text', () => {
    const paths = { m: '$.data.nope' };
    assert.equal(
      compileInput({ paths, template: '{"m": <m>, "q": "<m>"}' })(event, context).body,
      '{"m": null, "q": ""}',
    );
    assert.equal(compileInput({ paths, template: 'm=<m>' })(event, context).body, 'm=');
  });

  it('rejects bad settings with a path under the given prefix', () => {
    assert.equal(
      errorOf(() => compileInput({ paths: { i: 'data.id' }, template: '<i>' }, 'targets[0].input')).path,
      'targets[0].input.paths.i',
    );
    assert.equal(
      errorOf(() => compileInput({ path: '$.a', template: 'x' }, 'targets[1].input')).path,
      'targets[1].input',
    );
    assert.equal(errorOf(() => compileInput({ paths: { i: '$.a' } })).path, 'input');
    assert.equal(
      errorOf(() => compileInput({ paths: { i: '$.a' }, template: '{"a": <i>' })).path,
      'input.template',
    );
    assert.match(
      errorOf(() => compileInput({ paths: { 'junction.x': '$.a' }, template: 'x' })).message,
      /reserved/,
    );
    assert.match(errorOf(() => compileInput({ path: '$.a[*]' })).message, /unsupported bracket/);
  });
});

describe('compileInput on EventBridge names (the event in EventBridge’s shape)', () => {
  /** As PutEvents makes one: Detail's text kept, a big integer included. */
  const put = parseEventJson(
    '{"specversion":"1.0","id":"e-2","source":"my%20app","type":"order.created","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","ebsource":"my app","resources":"[\\"arn:aws:s3:::a\\"]","data":{"total":120,"id":9007199254740993}}',
  );
  const ctx = { ruleName: 'orders', targetId: 't', ingestionTime: '2026-01-02T03:04:06Z' };

  it('reads $.detail…, $.detail-type, $.account, $.resources in the EventBridge shape, the rest in the CloudEvent', () => {
    const render = compileInput({
      paths: {
        total: '$.detail.total',
        kind: '$.detail-type',
        source: '$.source',
        account: '$.account',
        region: '$.region',
        resource: '$.resources[0]',
        version: '$.version',
        type: '$.type',
        data: '$.data.total',
      },
      template: '[<total>, <kind>, <source>, <account>, <region>, <resource>, <version>, <type>, <data>]',
    });
    assert.deepEqual(JSON.parse(render(put, ctx).body), [
      120,
      'order.created',
      'my app',
      '000000000000',
      'us-east-1',
      'arn:aws:s3:::a',
      '0',
      'order.created',
      120,
    ]);
  });

  it('keeps the data’s own text for $.detail and $.data (an integer beyond 2^53 arrives exact)', () => {
    const exact = '{"total":120,"id":9007199254740993}';
    assert.equal(compileInput({ path: '$.detail' })(put, ctx).body, exact);
    assert.equal(compileInput({ path: '$.data' })(put, ctx).body, exact);
    assert.equal(
      compileInput({ paths: { d: '$.detail' }, template: '{"d": <d>}' })(put, ctx).body,
      `{"d": ${exact}}`,
    );
    assert.ok(compileInput({ path: '$' })(put, ctx).body.endsWith(`"data":${exact}}`));
    // Below the data too: the number is kept as written, in JSON, in a JSON string and in text.
    assert.equal(compileInput({ path: '$.detail.id' })(put, ctx).body, '9007199254740993');
    assert.equal(
      compileInput({ paths: { i: '$.data.id' }, template: '{"n": <i>, "s": "<i>"}' })(put, ctx).body,
      '{"n": 9007199254740993, "s": "9007199254740993"}',
    );
    assert.equal(
      compileInput({ paths: { i: '$.detail.id' }, template: 'id=<i>' })(put, ctx).body,
      'id=9007199254740993',
    );
    assert.equal(compileInput({ path: '$.detail.id.rawJSON' })(put, ctx).body, 'null');
  });

  it('with format eventbridge every path reads the EventBridge shape, $ included', () => {
    const whole = compileInput({ path: '$' }, 'input', { format: 'eventbridge' })(put, ctx).body;
    assert.equal(
      whole,
      '{"version":"0","id":"e-2","detail-type":"order.created","source":"my app","account":"000000000000","time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":["arn:aws:s3:::a"],"detail":{"total":120,"id":9007199254740993}}',
    );
    const render = compileInput({ paths: { t: '$.type', d: '$.data' }, template: '[<t>, <d>]' }, 'input', {
      format: 'eventbridge',
    });
    assert.equal(render(put, ctx).body, '[null, null]');
  });

  it('EventBridge’s predefined variables: the event without and with detail, the rule ARN, the ingestion time', () => {
    const render = compileInput({
      template:
        '{"e": <aws.events.event>, "j": <aws.events.event.json>, "arn": "<aws.events.rule-arn>", "name": "<aws.events.rule-name>", "at": "<aws.events.event.ingestion-time>"}',
    });
    const body = render(put, ctx).body;
    assert.ok(body.includes('"detail":{"total":120,"id":9007199254740993}'), body);
    const parsed = JSON.parse(body);
    assert.deepEqual(parsed.e, {
      version: '0',
      id: 'e-2',
      'detail-type': 'order.created',
      source: 'my app',
      account: '000000000000',
      time: '2026-01-02T03:04:05Z',
      region: 'us-east-1',
      resources: ['arn:aws:s3:::a'],
    });
    assert.equal(parsed.j['detail-type'], 'order.created');
    assert.equal(parsed.arn, 'arn:aws:events:us-east-1:000000000000:rule/orders');
    assert.equal(parsed.name, 'orders');
    // A rule of a named bus: its ARN carries the bus, as EventBridge's do.
    const onBus = JSON.parse(render(put, { ...ctx, bus: 'shop' }).body);
    assert.equal(onBus.arn, 'arn:aws:events:us-east-1:000000000000:rule/shop/orders');
    assert.equal(parsed.at, '2026-01-02T03:04:06Z');
    // Inside a JSON string, the event's JSON is escaped text.
    const quoted = compileInput({ template: '{"s": "<aws.events.event.json>"}' })(put, ctx).body;
    assert.equal(JSON.parse(JSON.parse(quoted).s).detail.total, 120);
    // Junction's own name still gives the CloudEvent.
    const ce = JSON.parse(compileInput({ template: '{"e": <junction.event>}' })(put, ctx).body).e;
    assert.equal(ce.type, 'order.created');
  });
});
