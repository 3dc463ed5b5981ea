/**
 * The mapping between EventBridge's event shape and CloudEvents: pattern translation, EventBridge-shaped events read
 * as CloudEvents, what patterns see of derived fields, and the EventBridge shape of a CloudEvent. Pure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEventJson, validateEvent } from '../../lib/core/cloudevent.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import {
  eventBridgeEnvelope,
  eventBridgeEvent,
  eventBridgeJson,
  eventBridgeOverrides,
  eventBridgeReads,
  fromEventBridgeEvent,
  isEventBridgeEvent,
  matchingView,
  READS_ACCOUNT,
  READS_REGION,
  READS_RESOURCES,
  resourcesOf,
  toCloudEventsPattern,
} from '../../lib/core/eventbridge-shape.ts';
import { explain, matchesPattern, PatternIndex, validatePattern } from '../../lib/core/pattern/index.ts';

const AWS_PATTERN = {
  source: ['com.shop'],
  'detail-type': ['order.created'],
  detail: { total: [{ numeric: ['>', 100] }] },
};

/** A CloudEvent as PutEvents makes one. */
const putEvent = parseEventJson(
  '{"specversion":"1.0","id":"e-1","source":"com.shop","type":"order.created","time":"2026-01-02T03:04:05.123456Z","datacontenttype":"application/json","resources":"[\\"arn:aws:s3:::a\\",\\"arn:aws:s3:::b\\"]","data":{"total":120,"id":9007199254740993}}',
);

/** Matches as every entry point does: the translated pattern on the matching view, by the index and by explain. */
function matches(pattern: unknown, event: Record<string, unknown>): boolean {
  validatePattern(pattern);
  const translated = toCloudEventsPattern(pattern);
  validatePattern(translated);
  const view = matchingView(event);
  const index = new PatternIndex();
  index.add('p', translated);
  const byIndex = index.match(view).length === 1;
  assert.equal(explain(translated, view).matches, byIndex, 'explain and the index agree');
  assert.equal(matchesPattern(translated, view), byIndex, 'the reference interpreter and the index agree');
  return byIndex;
}

function patternError(run: () => unknown): JunctionError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof JunctionError);
    assert.equal(error.code, 'InvalidPattern');
    return error;
  }
  assert.fail('expected InvalidPattern');
}

describe('toCloudEventsPattern', () => {
  test('renames EventBridge envelope names to their CloudEvents counterparts, at the top and in $or branches', () => {
    assert.deepEqual(toCloudEventsPattern(AWS_PATTERN), {
      source: ['com.shop'],
      type: ['order.created'],
      data: { total: [{ numeric: ['>', 100] }] },
    });
    assert.deepEqual(
      toCloudEventsPattern({
        'detail.state': ['on'],
        'replay-name': [{ exists: false }],
        $or: [{ 'detail-type': ['a'] }, { detail: { n: [1] } }],
      }),
      {
        'data.state': ['on'],
        replayname: [{ exists: false }],
        $or: [{ type: ['a'] }, { data: { n: [1] } }],
      },
    );
  });

  test('keeps CloudEvents names and anything below data as written (a nested detail is the data’s own field)', () => {
    const pattern = { type: ['t'], subject: ['s'], data: { detail: ['x'], 'detail-type': ['y'] } };
    assert.deepEqual(toCloudEventsPattern(pattern), pattern);
    assert.deepEqual(toCloudEventsPattern({ 'detail-type': ['t'], subject: ['s'] }), {
      type: ['t'],
      subject: ['s'],
    });
  });

  test('refuses two names for one field in one object, naming both', () => {
    const error = patternError(() => toCloudEventsPattern({ 'detail-type': ['a'], type: ['b'] }));
    assert.equal(error.path, 'pattern.type');
    assert.match(error.message, /"detail-type" and "type" both name the CloudEvent's "type"/);
    patternError(() => toCloudEventsPattern({ data: { a: [1] }, detail: { b: [2] } }));
    patternError(() => toCloudEventsPattern({ $or: [{ 'detail.a': [1], 'data.a': [2] }, { id: ['x'] }] }));
    // Different paths under one field are no clash (the language merges them as it does for data.a beside data).
    assert.deepEqual(toCloudEventsPattern({ 'detail.a': [1], data: { b: [2] } }), {
      'data.a': [1],
      data: { b: [2] },
    });
  });

  test('decides a condition on version against "0"', () => {
    assert.deepEqual(toCloudEventsPattern({ version: ['0'], source: ['s'] }), { source: ['s'] });
    assert.deepEqual(toCloudEventsPattern({ version: ['0'] }), { specversion: [{ exists: true }] });
    assert.deepEqual(toCloudEventsPattern({ version: ['1'], source: ['s'] }), {
      source: ['s'],
      specversion: [{ exists: false }],
    });
    for (const [pattern, expected] of [
      [{ version: ['0'] }, true],
      [{ version: [{ 'anything-but': '0' }] }, false],
      [{ version: [{ numeric: ['=', 0] }] }, false],
      [{ version: [{ prefix: '' }], 'detail-type': ['order.created'] }, true],
      [{ $or: [{ version: ['9'] }, { source: ['com.shop'] }] }, true],
      [{ $or: [{ version: ['9'] }, { source: ['other'] }] }, false],
    ] as const) {
      assert.equal(matches(pattern, putEvent), expected, JSON.stringify(pattern));
    }
  });

  test('leaves anything that is no object alone (validation reports it)', () => {
    assert.equal(toCloudEventsPattern('x'), 'x');
    assert.deepEqual(toCloudEventsPattern([1]), [1]);
  });

  test('keeps a __proto__ key as a member', () => {
    const pattern = JSON.parse('{"__proto__": {"a": ["x"]}, "detail-type": ["t"]}') as object;
    const out = toCloudEventsPattern(pattern) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ['__proto__', 'type']);
  });
});

describe('one semantics: an AWS pattern on events from PutEvents, CloudEvents and EventBridge-shaped JSON', () => {
  const cloudEvent = validateEvent({
    specversion: '1.0',
    id: 'c-1',
    source: 'com.shop',
    type: 'order.created',
    data: { total: 150 },
  });
  const ebEvent = {
    version: '0',
    id: 'x',
    'detail-type': 'order.created',
    source: 'com.shop',
    account: '123456789012',
    time: '2026-01-02T03:04:05Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::a'],
    detail: { total: 101 },
  };

  test('the pattern copied from AWS matches each', () => {
    assert.equal(matches(AWS_PATTERN, putEvent), true);
    assert.equal(matches(AWS_PATTERN, cloudEvent), true);
    assert.equal(matches(AWS_PATTERN, fromEventBridgeEvent(ebEvent)), true);
    assert.equal(matches(AWS_PATTERN, { ...putEvent, data: { total: 100 } }), false);
    assert.equal(matches(AWS_PATTERN, fromEventBridgeEvent({ ...ebEvent, 'detail-type': 'x' })), false);
  });

  test('resources match element by element, from the extension’s JSON text or an array', () => {
    assert.equal(matches({ resources: ['arn:aws:s3:::b'] }, putEvent), true);
    assert.equal(matches({ resources: [{ prefix: 'arn:aws:s3:::' }] }, putEvent), true);
    assert.equal(matches({ resources: ['arn:aws:s3:::c'] }, putEvent), false);
    assert.equal(matches({ resources: ['arn:aws:s3:::a'] }, fromEventBridgeEvent(ebEvent)), true);
    assert.equal(matches({ resources: [{ exists: false }] }, cloudEvent), true);
    // A resources extension that is one plain string is a list of one.
    assert.equal(matches({ resources: ['r-1'] }, { ...cloudEvent, resources: 'r-1' }), true);
  });

  test('account and region: the extension, else the bus’s', () => {
    assert.equal(matches({ account: ['000000000000'], region: ['us-east-1'] }, putEvent), true);
    assert.equal(matches({ account: ['123456789012'] }, fromEventBridgeEvent(ebEvent)), true);
    assert.equal(matches({ region: ['us-east-1'] }, fromEventBridgeEvent(ebEvent)), false);
    assert.equal(matches({ account: [{ exists: false }] }, cloudEvent), false);
  });

  test('a source PutEvents had to encode is matched as the producer wrote it', () => {
    const encoded = validateEvent({
      specversion: '1.0',
      id: 'e',
      source: 'caf%C3%A9.orders',
      type: 't',
      ebsource: 'café.orders',
    });
    assert.equal(matches({ source: ['café.orders'] }, encoded), true);
    assert.equal(matches({ source: [{ prefix: 'café' }] }, encoded), true);
    assert.equal(matches({ source: ['caf%C3%A9.orders'] }, encoded), false);
  });

  test('replay-name is the replayname extension', () => {
    assert.equal(matches({ 'replay-name': [{ exists: false }] }, putEvent), true);
    assert.equal(matches({ 'replay-name': ['r1'] }, { ...putEvent, replayname: 'r1' }), true);
  });
});

describe('EventBridge-shaped events', () => {
  test('isEventBridgeEvent: detail-type and no specversion', () => {
    assert.equal(isEventBridgeEvent({ 'detail-type': 'x', source: 's' }), true);
    assert.equal(isEventBridgeEvent({ 'detail-type': 'x', specversion: '1.0' }), false);
    assert.equal(isEventBridgeEvent({ type: 'x' }), false);
  });

  test('fromEventBridgeEvent maps the envelope and keeps other members; a renamed member wins', () => {
    assert.deepEqual(
      fromEventBridgeEvent({
        version: '0',
        id: 'i',
        'detail-type': 'dt',
        type: 'shadowed',
        source: 's',
        detail: { a: 1 },
        'replay-name': 'r',
        extra: true,
      }),
      { specversion: '1.0', id: 'i', type: 'dt', source: 's', data: { a: 1 }, replayname: 'r', extra: true },
    );
  });
});

describe('eventBridgeOverrides and reads', () => {
  test('nothing to override allocates nothing', () => {
    assert.equal(eventBridgeOverrides(putEvent, 0), undefined);
    assert.equal(matchingView(putEvent, 0), putEvent);
  });

  test('reads come from the top-level names patterns use', () => {
    const names = new Set(['resources', 'region']);
    assert.equal(
      eventBridgeReads((n) => names.has(n)),
      READS_RESOURCES | READS_REGION,
    );
    assert.deepEqual(eventBridgeOverrides({ id: 'x' }, READS_ACCOUNT), { account: '000000000000' });
    assert.deepEqual(eventBridgeOverrides({ id: 'x', account: '1' }, READS_ACCOUNT), undefined);
  });

  test('resourcesOf', () => {
    assert.deepEqual(resourcesOf('["a","b"]'), ['a', 'b']);
    assert.deepEqual(resourcesOf('[1]'), ['[1]']);
    assert.deepEqual(resourcesOf('[oops'), ['[oops']);
    assert.deepEqual(resourcesOf(['x']), ['x']);
    assert.equal(resourcesOf(undefined), undefined);
  });
});

describe('the EventBridge shape of a CloudEvent', () => {
  test('eventBridgeJson: the envelope in EventBridge’s order, detail as the data’s own text', () => {
    const json = eventBridgeJson(putEvent);
    assert.equal(
      json,
      '{"version":"0","id":"e-1","detail-type":"order.created","source":"com.shop","account":"000000000000","time":"2026-01-02T03:04:05.123456Z","region":"us-east-1","resources":["arn:aws:s3:::a","arn:aws:s3:::b"],"detail":{"total":120,"id":9007199254740993}}',
    );
  });

  test('extensions account, region, ebsource and replayname; defaults for the rest', () => {
    const event = validateEvent({
      specversion: '1.0',
      id: 'i',
      source: 'my%20app',
      type: 't',
      ebsource: 'my app',
      account: '123456789012',
      region: 'eu-west-1',
      replayname: 'again',
      data: 'plain text',
      datacontenttype: 'text/plain',
    });
    assert.deepEqual(JSON.parse(eventBridgeJson(event, { ingestionTime: '2026-05-06T07:08:09Z' })), {
      version: '0',
      id: 'i',
      'detail-type': 't',
      source: 'my app',
      account: '123456789012',
      time: '2026-05-06T07:08:09Z',
      region: 'eu-west-1',
      resources: [],
      detail: 'plain text',
      'replay-name': 'again',
    });
    assert.deepEqual(
      eventBridgeEnvelope(event, { arn: { account: '1', region: 'r' }, ingestionTime: 't0' }).time,
      't0',
    );
  });

  test('detail of an event without data is {}; of binary data its base64 text', () => {
    const bare = validateEvent({ specversion: '1.0', id: 'i', source: 's', type: 't' });
    assert.deepEqual(JSON.parse(eventBridgeJson(bare, { ingestionTime: 'x' })).detail, {});
    assert.deepEqual(eventBridgeEvent(bare, { ingestionTime: 'x' }).detail, {});
    const bytes = validateEvent({ specversion: '1.0', id: 'i', source: 's', type: 't', data_base64: 'AAE=' });
    assert.equal(JSON.parse(eventBridgeJson(bytes, { ingestionTime: 'x' })).detail, 'AAE=');
    assert.equal(eventBridgeEvent(bytes, { ingestionTime: 'x' }).detail, 'AAE=');
  });

  test('eventBridgeEvent is the same event as a value', () => {
    const value = eventBridgeEvent(putEvent);
    assert.deepEqual(value, JSON.parse(eventBridgeJson(putEvent)));
  });
});
