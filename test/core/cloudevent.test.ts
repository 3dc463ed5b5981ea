/** Tests of strict CloudEvents validation: the conformance format tests, each rule, freezing, size and serialization. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  eventSize,
  eventWithJsonText,
  invalidCharAt,
  isAttributeName,
  MAX_DATA_DEPTH,
  parseEventJson,
  serializeEvent,
  serializeStoredEvent,
  validateEvent,
} from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import { JunctionError } from '../../lib/core/errors.ts';
import { corpusDir } from '../helpers/paths.ts';

interface FormatTest {
  id: string;
  event?: unknown;
  batch?: unknown[];
}

const formatDir = join(corpusDir, 'cloudevents', 'conformance', 'format-tests', 'format', 'json');

function formatTests(file: string): FormatTest[] {
  return (JSON.parse(readFileSync(join(formatDir, file), 'utf8')) as { tests: FormatTest[] }).tests;
}

const base = { specversion: '1.0', id: 'e1', source: 'https://example.com/x', type: 'com.example.t' };

function rejects(raw: unknown, field: string | undefined, code = 'InvalidEvent'): JunctionError {
  let caught: unknown;
  try {
    validateEvent(raw);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof JunctionError, `expected a JunctionError (field ${field})`);
  assert.equal(caught.code, code);
  assert.equal(caught.field, field);
  return caught;
}

describe('conformance format tests (JSON)', () => {
  for (const t of formatTests('valid-events.json')) {
    test(`accepts ${t.id}`, () => {
      const event = validateEvent(t.event);
      const input = t.event as Record<string, unknown>;
      for (const [key, value] of Object.entries(input)) {
        if (value === null) assert.equal(key in event, false, `${key}: null is dropped`);
        else assert.deepEqual(event[key], value, `${key} is kept as sent`);
      }
    });
  }

  for (const t of formatTests('invalid-events.json')) {
    test(`rejects ${t.id} naming the field`, () => {
      assert.throws(
        () => validateEvent(t.event),
        (error: unknown) =>
          error instanceof JunctionError &&
          error.code === 'InvalidEvent' &&
          typeof error.field === 'string' &&
          error.field.length > 0,
      );
    });
  }

  for (const t of formatTests('valid-batches.json')) {
    test(`accepts every entry of ${t.id}`, () => {
      for (const entry of t.batch ?? []) validateEvent(entry);
    });
  }

  for (const t of formatTests('invalid-batches.json')) {
    test(`rejects an entry of ${t.id}`, () => {
      const failures = (t.batch ?? []).filter((entry) => {
        try {
          validateEvent(entry);
          return false;
        } catch (error) {
          return error instanceof JunctionError && error.code === 'InvalidEvent';
        }
      });
      assert.ok(failures.length >= 1);
    });
  }

  test('names the expected field for each invalid event', () => {
    const expected: Record<string, string> = {
      invalidNoSpecVersion: 'specversion',
      invalidNoId: 'id',
      invalidNoType: 'type',
      invalidNoSource: 'source',
      invalidTimeGarbage: 'time',
      invalidTimeToMinute: 'time',
      invalidTimeOffsetX: 'time',
      invalidTimeOffsetOutOfRange: 'time',
      invalidTimeOffsetNonInteger: 'time',
      invalidTimeOffsetHourOnly: 'time',
      invalidEmptyId: 'id',
      invalidEmptyType: 'type',
      invalidEmptySource: 'source',
      invalidEmptySpecVersion: 'specversion',
      invalidUnknownSpecVersion: 'specversion',
      invalidNonRfc2046DataContentType: 'datacontenttype',
      invalidEmptyDataContentType: 'datacontenttype',
      invalidEmptyDataSchema: 'dataschema',
      invalidEmptySubject: 'subject',
      invalidNumericId: 'id',
      invalidObjectId: 'id',
      invalidCapitalizedExtension: 'MyExtension',
      invalidPunctuatedExtension: 'my.extension',
      invalidNonIntegerExtensionValue: 'my.extension',
      invalidBothDataAndDataBase64: 'data_base64',
    };
    const tests = formatTests('invalid-events.json');
    assert.equal(tests.length, 25);
    for (const t of tests) rejects(t.event, expected[t.id]);
  });
});

describe('validateEvent', () => {
  test('returns a new frozen event with frozen data', () => {
    const raw = { ...base, data: { a: [1, { b: 2 }] } };
    const event = validateEvent(raw);
    assert.notEqual(event, raw);
    assert.ok(Object.isFrozen(event));
    const data = event.data as { a: [number, { b: number }] };
    assert.ok(Object.isFrozen(data));
    assert.ok(Object.isFrozen(data.a));
    assert.ok(Object.isFrozen(data.a[1]));
  });

  test('keeps time exactly as sent and fills in nothing', () => {
    const event = validateEvent({ ...base, time: '2018-04-05T17:31:00.123456789+01:00' });
    assert.equal(event.time, '2018-04-05T17:31:00.123456789+01:00');
    assert.deepEqual(Object.keys(event).sort(), ['id', 'source', 'specversion', 'time', 'type']);
  });

  test('shows the bad value in the message', () => {
    const error = rejects({ ...base, time: 'lunchtime' }, 'time');
    assert.match(error.message, /"lunchtime"/);
  });

  test('rejects a value that is not an object', () => {
    for (const raw of [null, 5, 'x', [base]]) rejects(raw, undefined);
  });

  test('accepts the RFC 3339 forms the spec allows', () => {
    for (const time of [
      '2018-04-05T17:31:00Z',
      '2018-04-05t17:31:00z',
      '2016-12-31T23:59:60Z',
      '2020-02-29T00:00:00.5-00:30',
      '2018-04-05T17:31:00.000000000Z',
    ]) {
      assert.equal(validateEvent({ ...base, time }).time, time);
    }
  });

  test('rejects times that are not RFC 3339', () => {
    for (const time of [
      '2018-04-05 17:31:00Z',
      '2018-13-05T17:31:00Z',
      '2019-02-29T17:31:00Z',
      '2018-04-05T24:00:00Z',
      '2018-04-05T17:31:00.Z',
      '2018-04-05T17:31:00+0100',
      '2018-04-05T17:31:00+01:60',
      '2018-04-05T17:31:00Z ',
      '18-04-05T17:31:00Z',
      '',
      12345,
    ]) {
      rejects({ ...base, time }, 'time');
    }
  });

  test('accepts relative and absolute URI-references as source', () => {
    for (const source of [
      '#fragment',
      '/sensors/x',
      '1-555-123-4567',
      'urn:uuid:6e8bc430',
      '//authority/path',
      'http://[::1]:80/a?b=c#d',
      'a%20b',
    ]) {
      assert.equal(validateEvent({ ...base, source }).source, source);
    }
  });

  test('rejects sources that are not URI-references', () => {
    for (const source of ['has space', 'a%2', ':nope', '1abc:x', 'a#b#c', '/p[1]', 'café', 7])
      rejects({ ...base, source }, 'source');
  });

  test('requires dataschema to be an absolute URI', () => {
    assert.equal(
      validateEvent({ ...base, dataschema: 'https://example.com/s.json' }).dataschema,
      'https://example.com/s.json',
    );
    for (const dataschema of ['/relative', 'example.com/s', '', 5])
      rejects({ ...base, dataschema }, 'dataschema');
  });

  test('checks datacontenttype against the media type grammar', () => {
    for (const datacontenttype of [
      'application/json',
      'text/plain; charset=utf-8',
      'TEXT/Plain;CharSet="utf-8"',
      'application/vnd.a+json',
    ]) {
      assert.equal(validateEvent({ ...base, datacontenttype }).datacontenttype, datacontenttype);
    }
    for (const datacontenttype of [
      'xyz',
      'text/',
      '/plain',
      'text/plain;',
      'text/plain; charset',
      'text /plain',
      'text/plain; a="b',
    ]) {
      rejects({ ...base, datacontenttype }, 'datacontenttype');
    }
  });

  test('accepts long extension names and rejects bad ones', () => {
    const long = 'a'.repeat(40);
    assert.equal(validateEvent({ ...base, [long]: 'x' })[long], 'x');
    assert.equal(isAttributeName('abc123'), true);
    for (const name of ['Abc', 'a_b', 'a-b', 'é']) rejects({ ...base, [name]: 'x' }, name);
  });

  test('types extension values as string, boolean or int32', () => {
    const event = validateEvent({ ...base, s: 'x', b: false, i: -2147483648, j: 2147483647, n: null });
    assert.deepEqual(
      [event.s, event.b, event.i, event.j, 'n' in event],
      ['x', false, -2147483648, 2147483647, false],
    );
    for (const value of [1.5, 2147483648, -2147483649, { a: 1 }, [1], Number.NaN])
      rejects({ ...base, myext: value }, 'myext');
  });

  test('rejects strings with control characters, noncharacters or lone surrogates', () => {
    rejects({ ...base, id: 'a\u0000b' }, 'id');
    rejects({ ...base, subject: 'bell\u0007' }, 'subject');
    assert.equal(validateEvent({ ...base, subject: 'tab\there\r\n' }).subject, 'tab\there\r\n');
    rejects({ ...base, type: 'x\u0085' }, 'type');
    rejects({ ...base, myext: 'bad\ud800' }, 'myext');
    rejects({ ...base, myext: '\ufffe' }, 'myext');
    assert.equal(invalidCharAt('Euro € 😀'), -1);
    assert.equal(invalidCharAt('x\udfff'), 1);
    assert.equal(invalidCharAt('\u{10FFFF}'), 0);
  });

  test('rejects data and data_base64 together, and bad base64', () => {
    rejects({ ...base, data: null, data_base64: 'AA==' }, 'data_base64');
    for (const data_base64 of ['A', 'AA=A', 'AA===', 'A A=', '@@@@', 5])
      rejects({ ...base, data_base64 }, 'data_base64');
    assert.equal(validateEvent({ ...base, data_base64: 'TWE=' }).data_base64, 'TWE=');
    assert.equal(validateEvent({ ...base, data_base64: 'TWE' }).data_base64, 'TWE');
  });

  test('reads data as JSON when datacontenttype is null', () => {
    const event = validateEvent({ ...base, datacontenttype: null, data: { a: 1 } });
    assert.deepEqual(event.data, { a: 1 });
    assert.equal('datacontenttype' in event, false);
  });

  test('keeps an explicit null data and drops a null data_base64', () => {
    const event = validateEvent({ ...base, data: null, data_base64: null });
    assert.equal(event.data, null);
    assert.equal('data_base64' in event, false);
  });

  test('requires string data for a datacontenttype that is not JSON', () => {
    assert.equal(validateEvent({ ...base, datacontenttype: 'text/plain', data: 'hi' }).data, 'hi');
    rejects({ ...base, datacontenttype: 'text/plain', data: { a: 1 } }, 'data');
    rejects({ ...base, datacontenttype: 'application/octet-stream', data: 5 }, 'data');
    assert.deepEqual(
      validateEvent({ ...base, datacontenttype: 'application/cloudevents+json', data: [1] }).data,
      [1],
    );
  });

  test('rejects data that JSON cannot hold', () => {
    for (const data of [
      10n,
      () => 1,
      Symbol('s'),
      Number.POSITIVE_INFINITY,
      { a: [Number.NaN] },
      { b: 1n },
    ]) {
      rejects({ ...base, data }, 'data');
    }
  });

  test('accepts any value only if it serializes and parses back', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withNullPrototype: true, withBoxedValues: true }),
        fc.anything({ withBigInt: true }),
        (data, ext) => {
          let event: ReturnType<typeof validateEvent>;
          try {
            event = validateEvent({ ...base, data, ext });
          } catch (error) {
            assert.ok(error instanceof JunctionError, String(error));
            return;
          }
          assert.ok(eventSize(event) > 0);
          assert.equal(parseEventJson(serializeEvent(event)).id, 'e1');
        },
      ),
      { numRuns: 300 },
    );
  });

  test('rejects data nested deeper than the limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_DATA_DEPTH; i++) deep = [deep];
    validateEvent({ ...base, data: deep });
    rejects({ ...base, data: [deep] }, 'data');
  });

  test('does not let __proto__ through as an extension', () => {
    const raw = JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"x":1}}');
    rejects(raw, '__proto__');
  });

  test('throws PayloadTooLarge over maxEventBytes', () => {
    const raw = { ...base, data: 'x'.repeat(1000) };
    const size = eventSize(validateEvent(raw));
    assert.equal(validateEvent(raw, { maxEventBytes: size }).id, 'e1');
    assert.throws(
      () => validateEvent(raw, { maxEventBytes: size - 1 }),
      (error: unknown) => error instanceof JunctionError && error.code === 'PayloadTooLarge',
    );
  });
});

describe('eventSize, serializeEvent and parseEventJson', () => {
  test('eventSize counts UTF-8 bytes of the JSON serialization', () => {
    const event = validateEvent({ ...base, subject: 'Euro € 😀', data: { t: 'é' } });
    assert.equal(eventSize(event), new TextEncoder().encode(serializeEvent(event)).length);
  });

  test('serializeEvent and parseEventJson round-trip', () => {
    const event = validateEvent({ ...base, time: '2020-01-01T00:00:00Z', myext: 3, data: { a: 'b' } });
    assert.deepEqual(parseEventJson(serializeEvent(event)), event);
  });

  test('parseEventJson reports invalid JSON with its position', () => {
    assert.throws(
      () => parseEventJson('{"id": }'),
      (error: unknown) =>
        error instanceof JunctionError && error.code === 'InvalidJson' && error.details?.position === 7,
    );
  });
});

describe('eventWithJsonText', () => {
  /** What an event is, as far as anyone can tell: its stored text (data as kept), its members' order, frozen. */
  const outcome = (make: () => CloudEvent) => {
    try {
      const event = make();
      return {
        text: serializeStoredEvent(event).text,
        keys: Object.keys(event),
        frozen: Object.isFrozen(event),
        raw: rawDataText(event),
      };
    } catch (error) {
      if (!(error instanceof JunctionError)) throw error;
      return { code: error.code, field: error.field, message: error.message };
    }
  };
  const written = (attributes: Record<string, unknown>, dataText: string) => {
    const head = JSON.stringify(attributes);
    return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"data":${dataText}}`;
  };
  const same = (attributes: Record<string, unknown>, dataText: string) => {
    let data: unknown;
    try {
      data = JSON.parse(dataText);
    } catch {
      return; // The caller parses the text first: only text that parses reaches it.
    }
    assert.deepEqual(
      outcome(() => eventWithJsonText(attributes, dataText, data)),
      outcome(() => parseEventJson(written(attributes, dataText))),
      `${JSON.stringify(attributes)} with ${dataText}`,
    );
  };
  const attributes = {
    specversion: '1.0',
    id: 'e-1',
    source: '/shop',
    type: 'order.placed',
    time: '2026-12-07T10:00:00.123Z',
    datacontenttype: 'application/json',
    resources: '["arn:a","arn:b"]',
    eventbusname: 'orders',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  };

  test('answers what parseEventJson answers for the event written out, an object or array kept as its text', () => {
    for (const dataText of [
      '{"a":1}',
      '{ "big": 123456789012345678901234567890, "f": 1.50 }',
      '{"s":"\\ud83d\\ude00 \\u00e9","n":null,"l":[1,[2,[3]]]}',
      '{}',
      '[1,2]',
    ]) {
      same(attributes, dataText);
      assert.equal(rawDataText(eventWithJsonText(attributes, dataText, JSON.parse(dataText))), dataText);
    }
    // Other values are kept as values, as the scanner keeps them.
    for (const dataText of ['"text"', '""', '12', '-0.5e3', 'true', 'null']) same(attributes, dataText);
  });

  test('data it cannot keep as text takes parseEventJson’s path: the same event or the same error', () => {
    const deep = `${'['.repeat(MAX_DATA_DEPTH + 1)}${']'.repeat(MAX_DATA_DEPTH + 1)}`;
    const notDeep = `${'['.repeat(MAX_DATA_DEPTH)}${']'.repeat(MAX_DATA_DEPTH)}`;
    for (const dataText of [deep, notDeep, '{"x":1e999}', '{"s":"\ud800"}', '"\udc00"']) {
      same(attributes, dataText);
    }
    for (const datacontenttype of [
      'text/plain',
      'application/cloudevents+json',
      'application/xml',
      undefined,
    ]) {
      same({ ...attributes, datacontenttype }, '{"a":1}');
      same({ ...attributes, datacontenttype }, '"plain text"');
    }
  });

  test('refuses bad attributes with parseEventJson’s error', () => {
    for (const change of [
      { specversion: '0.3' },
      { id: '' },
      { id: 7 },
      { source: '' },
      { source: 'not a uri' },
      { type: undefined },
      { time: 'yesterday' },
      { resources: 3 },
      { 'Bad-Name': 'x' },
      { data_base64: 'AAAA' },
      { subject: null },
      { myext: undefined },
    ]) {
      same({ ...attributes, ...change }, '{"a":1}');
    }
  });

  test('agrees with parseEventJson on generated events', () => {
    const name = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(
        fc.dictionary(name, fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), {
          maxKeys: 5,
        }),
        fc.json({ maxDepth: 4 }),
        fc.constantFrom('application/json', 'text/plain', 'application/vnd.x+json', undefined),
        (extensions, dataText, datacontenttype) => {
          same({ ...attributes, ...extensions, datacontenttype }, dataText);
        },
      ),
      { numRuns: 500 },
    );
  });
});
