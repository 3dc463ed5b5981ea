/**
 * EventBridge's event shape beside the CloudEvent (lib/core/eventbridge-shape.ts): the pattern translation, the
 * views a pattern is matched against, and the EventBridge JSON a target of format `eventbridge` receives. The
 * property at the end is the promise of the mapping: an EventBridge pattern routes a CloudEvent exactly as the
 * pattern language answers for that event's EventBridge form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseEventJson, validateEvent } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { mapPutEventsRequest } from '../../lib/core/eventbridge.ts';
import {
  checkEnvelope,
  cloudEventOfEventBridge,
  cloudEventsPattern,
  eventBridgeDelivery,
  eventBridgeJson,
  isEventBridgeEvent,
  patternSubject,
  resourcesOf,
  toEventBridgeEvent,
} from '../../lib/core/eventbridge-shape.ts';
import { explain, matchesPattern, validatePattern } from '../../lib/core/pattern/index.ts';
import { validateRule } from '../../lib/core/rule.ts';
import type { Rule } from '../../lib/core/rule-types.ts';
import { RuleMatcher } from '../../lib/engine/rule-matcher.ts';

/** The pattern of issue #14, copied from AWS. */
const AWS_PATTERN = {
  source: ['com.shop'],
  'detail-type': ['order.created'],
  detail: { total: [{ numeric: ['>', 100] }] },
};

function rule(name: string, pattern: unknown): Rule {
  return { name, enabled: true, pattern, targets: [] } as unknown as Rule;
}

function routes(pattern: unknown, event: CloudEvent): boolean {
  const matcher = new RuleMatcher();
  matcher.set(rule('r', pattern));
  return matcher.match(event).length === 1;
}

function refusal(pattern: unknown): { path: string | undefined; message: string } {
  try {
    cloudEventsPattern(pattern);
  } catch (error) {
    assert.ok(error instanceof JunctionError && error.code === 'InvalidPattern', String(error));
    return { path: error.path, message: error.message };
  }
  throw new Error(`accepted ${JSON.stringify(pattern)}`);
}

describe('cloudEventsPattern', () => {
  it('renames detail-type and detail (nested, dotted and in top-level $or branches) and keeps the rest', () => {
    assert.deepEqual(cloudEventsPattern(AWS_PATTERN), {
      source: ['com.shop'],
      type: ['order.created'],
      data: { total: [{ numeric: ['>', 100] }] },
    });
    assert.deepEqual(
      cloudEventsPattern({
        'detail.state': ['on'],
        account: ['123456789012'],
        region: [{ prefix: 'eu-' }],
        resources: ['arn:a'],
        time: [{ prefix: '2026' }],
        id: [{ exists: true }],
        $or: [{ 'detail-type': ['a'] }, { detail: { $or: [{ x: [1] }, { y: [2] }] } }],
      }),
      {
        'data.state': ['on'],
        account: ['123456789012'],
        region: [{ prefix: 'eu-' }],
        resources: ['arn:a'],
        time: [{ prefix: '2026' }],
        id: [{ exists: true }],
        // Below the top, names are the event's own: a $or inside detail is data's.
        $or: [{ type: ['a'] }, { data: { $or: [{ x: [1] }, { y: [2] }] } }],
      },
    );
  });

  it('leaves a CloudEvents pattern as it is, including data members named like EventBridge fields', () => {
    const pattern = {
      type: ['t'],
      subject: ['s'],
      data: { detail: ['x'], 'detail-type': ['y'], version: ['0'] },
      $or: [{ specversion: ['1.0'] }, { traceparent: [{ exists: true }] }],
    };
    assert.deepEqual(cloudEventsPattern(pattern), pattern);
  });

  it('decides version when it compiles: every EventBridge event has version "0"', () => {
    const cases: Array<[unknown, boolean]> = [
      [['0'], true],
      [['1'], false],
      [[{ prefix: '0' }], true],
      [[{ 'anything-but': '0' }], false],
      [[{ exists: true }], true],
      [[{ exists: false }], false],
      [[{ numeric: ['=', 0] }], false],
    ];
    for (const [condition, holds] of cases) {
      assert.deepEqual(
        cloudEventsPattern({ source: ['s'], version: condition }),
        { source: ['s'], specversion: [{ exists: holds }] },
        JSON.stringify(condition),
      );
    }
    // A path below version is a path no event has.
    assert.deepEqual(cloudEventsPattern({ 'version.x': [{ exists: false }] }), {
      specversion: [{ exists: true }],
    });
  });

  it('refuses a pattern that spells one field both ways in one combination, naming where', () => {
    assert.deepEqual(refusal({ 'detail-type': ['a'], type: ['b'] }).path, 'pattern.type');
    assert.match(refusal({ type: ['b'], 'detail-type': ['a'] }).message, /both "detail-type" and "type"/);
    assert.equal(refusal({ detail: { a: [1] }, 'data.b': [2] }).path, 'pattern.data.b');
    assert.equal(
      refusal({ detail: { a: [1] }, $or: [{ data: { b: [1] } }, { c: [1] }] }).path,
      'pattern.$or[0].data',
    );
    assert.match(refusal({ version: ['0'], specversion: ['1.0'] }).message, /"version".*"specversion"/);
    assert.equal(
      refusal({ version: ['0'], $or: [{ version: ['0'] }, { a: [1] }] }).path,
      'pattern.$or[0].version',
    );
    // Separate branches are separate combinations: each may use either vocabulary.
    assert.deepEqual(cloudEventsPattern({ $or: [{ 'detail-type': ['a'] }, { type: ['b'] }] }), {
      $or: [{ type: ['a'] }, { type: ['b'] }],
    });
  });

  it('is applied by rule validation, which refuses the mixed pattern with InvalidPattern', () => {
    assert.throws(
      () => validateRule('r', { pattern: { detail: {}, data: { a: [1] } }, targets: [], enabled: false }, 0),
      (error: unknown) => error instanceof JunctionError && error.code === 'InvalidPattern',
    );
    // The rule keeps the pattern as written (DescribeRule answers it back).
    assert.deepEqual(
      validateRule('r', { pattern: AWS_PATTERN, targets: [], enabled: false }, 0).pattern,
      AWS_PATTERN,
    );
  });
});

describe('the views a pattern is matched against', () => {
  const shaped = {
    version: '0',
    id: 'e-1',
    'detail-type': 'order.created',
    source: 'com.shop',
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'eu-west-1',
    resources: ['arn:a', 'arn:b'],
    detail: { total: 120 },
    'replay-name': 'again',
  };

  it('reads an EventBridge-shaped event as its CloudEvent', () => {
    assert.equal(isEventBridgeEvent(shaped), true);
    assert.equal(isEventBridgeEvent({ specversion: '1.0', detail: {} }), false);
    assert.equal(isEventBridgeEvent({ source: 's', type: 't' }), false);
    assert.deepEqual(cloudEventOfEventBridge(shaped), {
      specversion: '1.0',
      id: 'e-1',
      source: 'com.shop',
      account: '123456789012',
      time: '2026-01-01T00:00:00Z',
      region: 'eu-west-1',
      resources: ['arn:a', 'arn:b'],
      type: 'order.created',
      data: { total: 120 },
      replayname: 'again',
    });
    assert.deepEqual(patternSubject(shaped), cloudEventOfEventBridge(shaped));
  });

  it('reads the resources extension as the array its JSON text holds, and nothing else', () => {
    assert.deepEqual(resourcesOf('["arn:a,b","arn:c"]'), ['arn:a,b', 'arn:c']);
    assert.deepEqual(resourcesOf(['x']), ['x']);
    for (const other of ['arn:a', '[1]', '[', '["a"', 7, undefined, '{"a":1}']) {
      assert.equal(resourcesOf(other), undefined, String(other));
    }
    const event = { specversion: '1.0', id: '1', source: 's', type: 't', resources: '["arn:a"]' };
    assert.deepEqual(patternSubject(event).resources, ['arn:a']);
    assert.equal(patternSubject({ ...event, resources: 'arn:a' }).resources, 'arn:a');
  });

  it('requires the members AWS requires of a TestEventPattern event', () => {
    checkEnvelope(shaped);
    assert.throws(
      () => checkEnvelope({ ...shaped, region: undefined }),
      (error: unknown) => error instanceof JunctionError && error.field === 'Event.region',
    );
  });

  it('matches the AWS pattern against the same order arriving through PutEvents, as a CloudEvent and as EventBridge JSON', () => {
    const put = mapPutEventsRequest({
      Entries: [{ Source: 'com.shop', DetailType: 'order.created', Detail: '{"total": 120}' }],
    }).entries[0];
    assert.ok(put?.ok);
    const cloudEvent = validateEvent({
      specversion: '1.0',
      id: 'c-1',
      source: 'com.shop',
      type: 'order.created',
      data: { total: 120 },
    });
    for (const event of [put.event, cloudEvent]) {
      assert.equal(routes(AWS_PATTERN, event), true);
      assert.equal(explain(cloudEventsPattern(AWS_PATTERN), patternSubject(event)).matches, true);
      assert.equal(
        explain(cloudEventsPattern(AWS_PATTERN), patternSubject({ ...toEventBridgeEvent(event) })).matches,
        true,
      );
      assert.equal(routes({ ...AWS_PATTERN, detail: { total: [{ numeric: ['>', 200] }] } }, event), false);
    }
  });
});

describe('the EventBridge JSON of a CloudEvent', () => {
  const text =
    '{"specversion":"1.0","id":"o-1","source":"com.shop","type":"order.created","time":"2026-01-01T00:00:00.123456Z",' +
    '"account":"123456789012","region":"eu-west-1","resources":"[\\"arn:a\\"]","subject":"s","replayname":"again",' +
    '"data":{"id": 9007199254740993, "total": 1.50}}';

  it('has EventBridge members in EventBridge order, detail as the producer wrote it', () => {
    const event = parseEventJson(text);
    const json = eventBridgeJson(event);
    assert.equal(
      json,
      '{"version":"0","id":"o-1","detail-type":"order.created","source":"com.shop","account":"123456789012",' +
        '"time":"2026-01-01T00:00:00.123456Z","region":"eu-west-1","resources":["arn:a"],' +
        '"detail":{"id": 9007199254740993, "total": 1.50},"replay-name":"again"}',
    );
    assert.deepEqual(JSON.parse(json), toEventBridgeEvent(event));
  });

  it('fills what the CloudEvent lacks: the bus account and region, the ingestion time, no resources, {} for no data', () => {
    const bare = validateEvent({ specversion: '1.0', id: '1', source: '/s', type: 't' });
    assert.deepEqual(toEventBridgeEvent(bare, { ingestionTime: '2026-02-03T04:05:06.000Z' }), {
      version: '0',
      id: '1',
      'detail-type': 't',
      source: '/s',
      account: '000000000000',
      time: '2026-02-03T04:05:06.000Z',
      region: 'us-east-1',
      resources: [],
      detail: {},
    });
    const other = toEventBridgeEvent(bare, { arn: { account: '111122223333', region: 'ap-south-1' } });
    assert.deepEqual([other.account, other.region], ['111122223333', 'ap-south-1']);
  });

  it('carries text data as a string and binary data as its base64 text', () => {
    const text = validateEvent({
      specversion: '1.0',
      id: '1',
      source: '/s',
      type: 't',
      datacontenttype: 'text/plain',
      data: 'hello',
    });
    assert.equal(JSON.parse(eventBridgeJson(text)).detail, 'hello');
    const binary = validateEvent({
      specversion: '1.0',
      id: '1',
      source: '/s',
      type: 't',
      data_base64: 'AAE=',
    });
    assert.equal(JSON.parse(eventBridgeJson(binary)).detail, 'AAE=');
    assert.equal(
      JSON.parse(eventBridgeJson(validateEvent({ ...text, resources: 'arn:x' }))).resources[0],
      'arn:x',
    );
  });

  it('hands a target of format eventbridge a CloudEvent whose data is that JSON, kept as text', () => {
    const event = parseEventJson(text);
    const delivered = eventBridgeDelivery(event);
    assert.equal(rawDataText(delivered), eventBridgeJson(event));
    assert.equal(delivered.id, 'o-1');
    assert.equal(delivered.datacontenttype, 'application/json');
    assert.equal((delivered.data as { version: string }).version, '0');
    assert.equal(Object.isFrozen(delivered), true);
  });
});

/**
 * Generated EventBridge patterns and CloudEvents as PutEvents makes them (account and region stamped, resources as
 * JSON text, detail as JSON text): routing (the index on the translated pattern) answers what the reference
 * interpreter answers for the untranslated pattern on the event's EventBridge form, and so does `explain`.
 */
describe('one semantics: routing a CloudEvent answers as the pattern does on its EventBridge form', () => {
  const word = fc.constantFrom(
    'a',
    'b',
    'com.shop',
    'order.created',
    '0',
    '123456789012',
    'eu-west-1',
    'arn:a',
  );
  const condition = fc.oneof(
    word,
    fc.integer({ min: -2, max: 200 }),
    word.map((w) => ({ prefix: w.slice(0, 1) })),
    word.map((w) => ({ 'anything-but': w })),
    fc.constantFrom({ exists: true }, { exists: false }),
    fc.integer({ min: 0, max: 150 }).map((n) => ({ numeric: ['>', n] })),
    word.map((w) => ({ 'equals-ignore-case': w.toUpperCase() })),
  );
  const conditions = fc.array(condition, { minLength: 1, maxLength: 3 });
  const envelope = fc.constantFrom(
    'source',
    'detail-type',
    'account',
    'region',
    'resources',
    'id',
    'version',
    'time',
  );
  const level = fc.dictionary(envelope, conditions, { minKeys: 0, maxKeys: 3 });
  const pattern = fc
    .tuple(
      level,
      fc.dictionary(fc.constantFrom('total', 'state', 'tags'), conditions, { maxKeys: 2 }),
      fc.boolean(),
    )
    .map(([top, detail, dotted]) => {
      const out: Record<string, unknown> = { ...top };
      if (Object.keys(detail).length > 0) {
        if (dotted) for (const [k, v] of Object.entries(detail)) out[`detail.${k}`] = v;
        else out.detail = detail;
      }
      return Object.keys(out).length === 0 ? { source: [{ exists: true }] } : out;
    });
  const eventOf = fc
    .record({
      source: word,
      type: word,
      account: word,
      region: word,
      resources: fc.array(word, { maxLength: 2 }),
      total: fc.integer({ min: 0, max: 200 }),
      state: word,
      tags: fc.array(word, { maxLength: 2 }),
    })
    .map((e) => {
      const detail = JSON.stringify({ total: e.total, state: e.state, tags: e.tags });
      return parseEventJson(
        JSON.stringify({
          specversion: '1.0',
          id: 'e-1',
          source: e.source,
          type: e.type,
          time: '2026-01-01T00:00:00Z',
          account: e.account,
          region: e.region,
          ...(e.resources.length === 0 ? {} : { resources: JSON.stringify(e.resources) }),
          datacontenttype: 'application/json',
          data: '@',
        }).replace('"@"', detail),
      );
    });

  it('agrees on generated patterns and events (index, explain and the EventBridge form)', () => {
    fc.assert(
      fc.property(pattern, eventOf, (p, event) => {
        try {
          validatePattern(p);
        } catch {
          return; // the generator may build an invalid combination (e.g. numeric on several types)
        }
        const expected = matchesPattern(p, toEventBridgeEvent(event));
        assert.equal(routes(p, event), expected, 'routing');
        assert.equal(explain(cloudEventsPattern(p), patternSubject(event)).matches, expected, 'explain');
        assert.equal(
          explain(cloudEventsPattern(p), patternSubject({ ...toEventBridgeEvent(event) })).matches,
          expected,
          'explain on the EventBridge JSON',
        );
      }),
      { numRuns: 3000, seed: 14_2 },
    );
  });
});
