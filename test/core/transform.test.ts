/** The input transformer: InputPath, InputTransformer templates with EventBridge's quoting, and validation. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventJson } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { eventBridgeJson, toEventBridgeEvent } from '../../lib/core/eventbridge-shape.ts';
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

  it('reads $.detail…, $.detail-type and the other EventBridge-only names from the EventBridge form', () => {
    const render = compileInput({
      paths: {
        total: '$.detail.total',
        kind: '$.detail-type',
        account: '$.account',
        resources: '$.resources',
        version: '$.version',
        type: '$.type',
        data: '$.data.id',
      },
      template:
        '{"total": <total>, "kind": "<kind>", "account": "<account>", "resources": <resources>, "v": "<version>", "type": "<type>", "data": "<data>"}',
    });
    assert.deepEqual(JSON.parse(render(event, context).body), {
      total: 150,
      kind: 'com.shop.order.created',
      account: '000000000000',
      resources: [],
      v: '0',
      type: 'com.shop.order.created',
      data: 'o-9',
    });
    assert.equal(compileInput({ path: '$.detail.lines[0].sku' })(event, context).body, '"A"');
  });

  it("gives EventBridge's predefined variables the EventBridge form and the rule's ARN", () => {
    const shaped = parseEventJson(
      '{"specversion":"1.0","id":"e-2","source":"com.shop","type":"t","time":"2026-01-02T03:04:05Z","data":{"n":9007199254740993}}',
    );
    const render = compileInput({
      template:
        '{"event": <aws.events.event>, "json": "<aws.events.event.json>", "arn": "<aws.events.rule-arn>"}',
    });
    const out = JSON.parse(render(shaped, context).body);
    assert.deepEqual(out.event, JSON.parse(JSON.stringify(toEventBridgeEvent(shaped))));
    assert.equal(out.json, eventBridgeJson(shaped));
    assert.match(out.json, /"detail":\{"n":9007199254740993\}/);
    assert.equal(out.arn, 'arn:aws:events:us-east-1:000000000000:rule/big-orders');
  });

  it('reads every path from the EventBridge form for a target of format eventbridge ($ is that form)', () => {
    const at = { ...context, ingestionTime: '2026-01-02T03:04:06Z' };
    assert.deepEqual(
      JSON.parse(compileInput({ path: '$' }, 'input', 'eventbridge')(event, at).body),
      JSON.parse(JSON.stringify(toEventBridgeEvent(event, at))),
    );
    assert.equal(compileInput({ path: '$.data' }, 'input', 'eventbridge')(event, at).body, 'null');
    assert.equal(compileInput({ path: '$.source' }, 'input', 'eventbridge')(event, at).body, '"shop"');
  });
});
