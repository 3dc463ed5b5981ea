/** Tests of the HTTP binding: conformance/main in binary and structured mode, modes, decoding, limits, batches, output. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { emitterFor, HTTP, httpTransport, Mode, CloudEvent as SdkEvent } from 'cloudevents';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { validateEvent } from '../../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../../lib/core/cloudevent-types.ts';
import { decodeBase64 } from '../../../lib/core/codec/base64.ts';
import { percentEncode } from '../../../lib/core/codec/header-value.ts';
import {
  BATCH_CONTENT_TYPE,
  DEFAULT_INGEST_LIMITS,
  type HttpHeaders,
  type ParsedRequest,
  parseHttpRequest,
  STRUCTURED_CONTENT_TYPE,
  toHttpBatch,
  toHttpMessage,
} from '../../../lib/core/codec/http.ts';
import { JunctionError } from '../../../lib/core/errors.ts';
import { corpusDir } from '../../helpers/paths.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

function single(parsed: ParsedRequest): CloudEvent {
  assert.notEqual(parsed.mode, 'batch');
  if (parsed.mode === 'batch') throw new Error('unreachable');
  return parsed.event;
}

function binaryHeaders(attrs: Record<string, string>, contentType?: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(attrs)) headers[`ce-${name}`] = percentEncode(value);
  if (contentType !== undefined) headers['content-type'] = contentType;
  return headers;
}

const required = { specversion: '1.0', id: 'e1', source: '/mycontext', type: 'com.example.t' };

function failsWith(fn: () => unknown, code: string, field?: string): JunctionError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof JunctionError, 'expected a JunctionError');
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.field, field);
  return caught;
}

// --- conformance/main: every YAML event document, sent in binary and in structured mode ---

interface YamlEvent {
  file: string;
  index: number;
  attrs: Record<string, string>;
  extensions: Record<string, string>;
  transport: Record<string, string>;
  data: string | undefined;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return name.endsWith('.yaml') ? [path] : [];
  });
}

function conformanceEvents(): YamlEvent[] {
  const root = join(corpusDir, 'cloudevents', 'conformance', 'main');
  const events: YamlEvent[] = [];
  for (const path of yamlFiles(root).sort()) {
    const docs = parseAllDocuments(readFileSync(path, 'utf8'), { schema: 'failsafe' });
    for (const [index, doc] of docs.entries()) {
      const value = doc.toJS() as {
        ContextAttributes?: Record<string, unknown>;
        TransportExtensions?: Record<string, string>;
        Data?: string;
      } | null;
      if (value?.ContextAttributes === undefined) continue;
      const { Extensions, ...attrs } = value.ContextAttributes as Record<string, string> & {
        Extensions?: Record<string, string>;
      };
      events.push({
        file: path.slice(root.length + 1),
        index,
        attrs,
        extensions: Extensions ?? {},
        transport: value.TransportExtensions ?? {},
        data: value.Data,
      });
    }
  }
  return events;
}

function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  return essence.endsWith('/json') || essence.endsWith('+json');
}

function assertAttributesIntact(event: CloudEvent, sample: YamlEvent): void {
  for (const [name, value] of Object.entries({ ...sample.attrs, ...sample.extensions })) {
    assert.equal(event[name], value, `${sample.file}#${sample.index}: ${name}`);
  }
}

describe('conformance/main events', () => {
  const samples = conformanceEvents();

  test('the corpus holds 1.0 and 0.3 events', () => {
    assert.equal(samples.filter((s) => s.attrs.specversion === '1.0').length, 30);
    // 9 of the diff command's partial "want" patterns and one broken "got" event have no source
    assert.equal(samples.filter((s) => s.attrs.source === undefined).length, 10);
    assert.equal(samples.filter((s) => s.attrs.specversion === '0.3').length, 7);
  });

  for (const sample of samples) {
    const name = `${sample.file}#${sample.index} (${sample.attrs.id})`;
    const { datacontenttype, ...headerAttrs } = sample.attrs;
    const body = enc.encode(sample.data ?? '');
    const binary = {
      ...sample.transport,
      ...binaryHeaders({ ...headerAttrs, ...sample.extensions }, datacontenttype),
    };
    const structuredBody: Record<string, unknown> = { ...sample.attrs, ...sample.extensions };
    if (sample.data !== undefined) {
      structuredBody.data = isJsonType(datacontenttype) ? JSON.parse(sample.data) : sample.data;
    }
    const structured = { ...sample.transport, 'content-type': 'application/cloudevents+json; charset=UTF-8' };

    const missing = ['specversion', 'id', 'source', 'type'].find((key) => sample.attrs[key] === undefined);
    if (missing !== undefined) {
      test(`rejects ${name}: it has no ${missing}`, () => {
        failsWith(() => parseHttpRequest(binary, body), 'InvalidEvent', missing);
        failsWith(
          () => parseHttpRequest(structured, enc.encode(JSON.stringify(structuredBody))),
          'InvalidEvent',
          missing,
        );
      });
      continue;
    }
    if (sample.attrs.specversion !== '1.0') {
      test(`rejects ${name}: specversion ${sample.attrs.specversion} is not 1.0`, () => {
        failsWith(() => parseHttpRequest(binary, body), 'InvalidEvent', 'specversion');
        failsWith(
          () => parseHttpRequest(structured, enc.encode(JSON.stringify(structuredBody))),
          'InvalidEvent',
          'specversion',
        );
      });
      continue;
    }

    test(`accepts ${name} in binary mode with attributes and data intact`, () => {
      const event = single(parseHttpRequest(binary, body));
      assertAttributesIntact(event, sample);
      const out = toHttpMessage(event, 'binary');
      if (datacontenttype !== undefined && isJsonType(datacontenttype)) {
        assert.deepEqual(JSON.parse(dec.decode(out.body)), JSON.parse(sample.data ?? 'null'));
      } else assert.deepEqual(out.body, body);
    });

    test(`accepts ${name} in binary mode with raw UTF-8 headers read as latin1`, () => {
      const raw: Record<string, string> = { ...sample.transport };
      for (const [key, value] of Object.entries({ ...headerAttrs, ...sample.extensions })) {
        if (/[\r\n]/.test(value)) continue; // a raw header cannot carry a line break
        raw[`ce-${key}`] = String.fromCharCode(...enc.encode(value));
      }
      if (datacontenttype !== undefined) raw['content-type'] = datacontenttype;
      const event = single(parseHttpRequest(raw, body));
      assert.equal(event.id, sample.attrs.id);
      assert.equal(event.source, sample.attrs.source);
    });

    test(`accepts ${name} in structured mode with attributes and data intact`, () => {
      const event = single(parseHttpRequest(structured, enc.encode(JSON.stringify(structuredBody))));
      assertAttributesIntact(event, sample);
      assert.deepEqual(event.data, structuredBody.data);
    });
  }
});

// --- the conformance repo's Gherkin scenarios (features/http-protocol-binding.feature) ---

describe('HTTP binding scenarios', () => {
  const attrs = {
    specversion: '1.0',
    type: 'com.example.someevent',
    time: '2018-04-05T03:56:24Z',
    id: '1234-1234-1234',
    source: '/mycontext/subcontext',
  };
  for (const contentType of ['application/json', 'application/json; charset=utf-8']) {
    test(`reads binary mode with Content-Type ${contentType}`, () => {
      const event = single(
        parseHttpRequest(binaryHeaders(attrs, contentType), enc.encode('{"message":"Hello World!"}')),
      );
      assert.deepEqual(
        { ...event },
        { ...attrs, datacontenttype: contentType, data: { message: 'Hello World!' } },
      );
    });
  }
  for (const contentType of ['application/cloudevents+json', 'application/cloudevents+json; charset=utf-8']) {
    test(`reads structured mode with Content-Type ${contentType}`, () => {
      const sent = { ...attrs, datacontenttype: 'application/json', data: { message: 'Hello World!' } };
      const event = single(
        parseHttpRequest({ 'content-type': contentType }, enc.encode(JSON.stringify(sent))),
      );
      assert.deepEqual({ ...event }, sent);
    });
  }
});

describe('content modes', () => {
  const event = { ...required, data: { a: 1 } };
  test('matches structured and batch media types case-insensitively, charset allowed', () => {
    for (const contentType of [
      'application/cloudevents+json',
      'Application/CloudEvents+JSON',
      'application/cloudevents+json;charset=utf-8',
      'application/cloudevents+json; charset="UTF-8"',
    ]) {
      assert.equal(
        parseHttpRequest({ 'content-type': contentType }, enc.encode(JSON.stringify(event))).mode,
        'structured',
      );
    }
    const batch = parseHttpRequest(
      { 'content-type': 'APPLICATION/CLOUDEVENTS-BATCH+JSON; charset=utf-8' },
      enc.encode('[]'),
    );
    assert.deepEqual(batch, { mode: 'batch', entries: [] });
  });

  test('reads ce- headers whatever their case', () => {
    const parsed = single(
      parseHttpRequest(
        { 'Ce-Specversion': '1.0', 'CE-ID': 'x', 'ce-Source': '/s', 'Ce-Type': 't', 'Ce-MyExt': 'v' },
        new Uint8Array(),
      ),
    );
    assert.deepEqual({ ...parsed }, { specversion: '1.0', id: 'x', source: '/s', type: 't', myext: 'v' });
  });

  test('answers UnsupportedMediaType for formats it does not read, listing what it accepts', () => {
    for (const contentType of [
      'application/cloudevents+xml',
      'application/cloudevents-batch+avro',
      'application/cloudevents',
      'application/cloudevents+json; charset=iso-8859-1',
      'application/cloudevents+json;;',
    ]) {
      const error = failsWith(
        () => parseHttpRequest({ 'content-type': contentType }, enc.encode('{}')),
        'UnsupportedMediaType',
        'content-type',
      );
      assert.match(error.message, /application\/cloudevents\+json/);
      assert.equal(error.status, 415);
    }
  });

  test('answers UnsupportedMediaType for a request without ce- headers', () => {
    const error = failsWith(
      () => parseHttpRequest({ 'content-type': 'text/plain' }, enc.encode('hi')),
      'UnsupportedMediaType',
    );
    assert.match(error.message, /ce-specversion/);
  });

  test('names the missing attribute in binary mode', () => {
    failsWith(
      () => parseHttpRequest({ 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-type': 't' }, new Uint8Array()),
      'InvalidEvent',
      'source',
    );
  });
});

describe('binary mode header values', () => {
  function subjectOf(value: string | string[]): unknown {
    return single(parseHttpRequest({ ...binaryHeaders(required), 'ce-subject': value }, new Uint8Array()))
      .subject;
  }

  test('percent-decodes once, accepting lower-case hex and needless escapes', () => {
    assert.equal(subjectOf('Euro%20%E2%82%AC%20%F0%9F%98%80'), 'Euro € 😀');
    assert.equal(subjectOf('%e2%82%ac%41'), '€A');
    assert.equal(subjectOf('%2541'), '%41');
  });

  test('keeps a % that does not start an escape', () => {
    assert.equal(subjectOf('50% off'), '50% off');
  });

  test('re-decodes raw UTF-8 that arrived as latin1', () => {
    assert.equal(subjectOf('Euro \u00e2\u0082\u00ac x'), 'Euro € x');
  });

  test('unescapes a quoted-string', () => {
    assert.equal(subjectOf('"a \\"b\\" c"'), 'a "b" c');
  });

  test('rejects invalid UTF-8 after decoding, naming the attribute', () => {
    for (const value of ['%C0%A0', '%FF', '%E2%82', '\u00e9']) {
      failsWith(() => subjectOf(value), 'InvalidEvent', 'subject');
    }
  });

  test('rejects a decoded control character', () => {
    failsWith(() => subjectOf('bell%07'), 'InvalidEvent', 'subject');
  });

  test('rejects a repeated attribute header', () => {
    failsWith(() => subjectOf(['a', 'b']), 'InvalidEvent', 'subject');
    assert.equal(subjectOf(['only']), 'only');
    failsWith(
      () =>
        parseHttpRequest(
          { ...binaryHeaders(required), 'ce-subject': 'a', 'Ce-Subject': 'b' },
          new Uint8Array(),
        ),
      'InvalidEvent',
      'subject',
    );
  });

  test('rejects ce-datacontenttype and invalid attribute names', () => {
    failsWith(
      () =>
        parseHttpRequest(
          { ...binaryHeaders(required), 'ce-datacontenttype': 'text/plain' },
          new Uint8Array(),
        ),
      'InvalidEvent',
      'datacontenttype',
    );
    failsWith(
      () => parseHttpRequest({ ...binaryHeaders(required), 'ce-my_ext': 'x' }, new Uint8Array()),
      'InvalidEvent',
      'my_ext',
    );
    failsWith(
      () => parseHttpRequest({ ...binaryHeaders(required), 'ce-data': 'x' }, new Uint8Array()),
      'InvalidEvent',
      'data',
    );
  });

  test('reads headers given as arrays, as headersDistinct gives them', () => {
    const distinct = Object.fromEntries(
      Object.entries(binaryHeaders(required, 'text/plain')).map(([name, value]) => [name, [value]]),
    );
    const event = single(parseHttpRequest(distinct, enc.encode('hi')));
    assert.deepEqual({ ...event }, { ...required, datacontenttype: 'text/plain', data: 'hi' });
    failsWith(
      () => parseHttpRequest({ ...distinct, 'content-type': ['text/plain', 'text/html'] }, enc.encode('hi')),
      'InvalidRequest',
      'content-type',
    );
  });

  test('forwards unknown extensions', () => {
    const event = single(
      parseHttpRequest(
        { ...binaryHeaders(required), 'ce-partitionkey': 'k1', 'ce-traceparent': '00-ab-cd-01' },
        new Uint8Array(),
      ),
    );
    assert.equal(event.partitionkey, 'k1');
    assert.equal(event.traceparent, '00-ab-cd-01');
  });
});

describe('payload mapping', () => {
  function parseBinary(contentType: string | undefined, body: Uint8Array): CloudEvent {
    return single(parseHttpRequest(binaryHeaders(required, contentType), body));
  }

  test('parses JSON types into data', () => {
    assert.deepEqual(parseBinary('application/json', enc.encode(' {"a":[1,2]} ')).data, { a: [1, 2] });
    assert.equal(parseBinary('application/vnd.x+json', enc.encode('1.5')).data, 1.5);
    assert.equal(parseBinary('text/json', enc.encode('"s"')).data, 's');
  });

  test('rejects a JSON type whose body is not JSON, with the position', () => {
    const error = failsWith(
      () => parseBinary('application/json', enc.encode('{"a":}')),
      'InvalidJson',
      'data',
    );
    assert.equal(error.details?.position, 5);
  });

  test('keeps text as a string, BOM and all', () => {
    const body = enc.encode('\ufeffhello 🌎\r\n');
    const event = parseBinary('text/plain; charset=utf-8', body);
    assert.equal(event.data, '\ufeffhello 🌎\r\n');
    assert.deepEqual(toHttpMessage(event, 'binary').body, body);
  });

  test('keeps bytes that are not UTF-8, or not text, as data_base64', () => {
    const bytes = Uint8Array.from([0xff, 0x00, 0xc0, 0xa0, 0x41]);
    for (const contentType of [
      'text/plain',
      'image/png',
      'application/octet-stream',
      'text/plain; charset=latin1',
      undefined,
    ]) {
      const event = parseBinary(contentType, bytes);
      assert.deepEqual(decodeBase64(event.data_base64 as string), bytes);
      assert.deepEqual(toHttpMessage(event, 'binary').body, bytes);
    }
  });

  test('round-trips any bytes byte for byte in binary mode', () => {
    // size 'max': fast-check's default size kept the bytes to 10 at most, so a text body never took the native
    // UTF-8 decoder (used past 64 bytes). Any bytes (mostly not UTF-8), or UTF-8 text with or without a BOM.
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300, size: 'max' }),
      fc
        .tuple(fc.boolean(), fc.string({ unit: 'grapheme', maxLength: 150, size: 'max' }))
        .map(([bom, text]) => enc.encode(`${bom ? '\ufeff' : ''}${text}`)),
    );
    fc.assert(
      fc.property(
        bytes,
        fc.constantFrom('application/octet-stream', 'text/plain', 'application/xml'),
        (body, type) => {
          const event = parseBinary(type, body);
          assert.ok(Buffer.from(toHttpMessage(event, 'binary').body).equals(body));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('round-trips attribute strings through percent-encoded headers', () => {
    // Graphemes (size 'max') and the characters percent-encoding must escape, which fast-check's graphemes hardly
    // ever are: tab, space, '"', '%' (alone or before hex digits), Latin-1 (CloudEvents strings exclude the rest).
    const piece = fc.oneof(
      fc.constantFrom('\t', ' ', '"', '%', '%41', '\\', '\xa0', '\xff', '€', '😀'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }),
    );
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30, size: 'max' }),
      fc.array(piece, { minLength: 1, maxLength: 20, size: 'max' }).map((parts) => parts.join('')),
    );
    const stringChar = text.filter((s) => {
      try {
        validateEvent({ ...required, subject: s });
        return true;
      } catch {
        return false;
      }
    });
    fc.assert(
      fc.property(stringChar, (subject) => {
        const event = validateEvent({ ...required, subject, myext: subject });
        const message = toHttpMessage(event, 'binary');
        for (const value of Object.values(message.headers)) assert.match(value, /^[\x21-\x7e]*$/);
        const back = single(parseHttpRequest(message.headers, message.body));
        assert.equal(back.subject, subject);
        assert.equal(back.myext, subject);
      }),
      { numRuns: 300 },
    );
  });

  test('treats an empty body as no data', () => {
    const event = parseBinary('application/json', new Uint8Array());
    assert.equal('data' in event, false);
    assert.equal(event.datacontenttype, 'application/json');
  });
});

describe('limits', () => {
  const structured = { 'content-type': 'application/cloudevents+json' };
  const batch = { 'content-type': 'application/cloudevents-batch+json' };

  test('has the documented defaults', () => {
    assert.deepEqual(
      { ...DEFAULT_INGEST_LIMITS },
      { maxEventBytes: 1048576, maxBatchBytes: 10485760, maxBatchEvents: 1000 },
    );
  });

  test('uses the default for a limit given as undefined', () => {
    const body = enc.encode(JSON.stringify({ ...required, data: 'x'.repeat(2 * 1024 * 1024) }));
    failsWith(() => parseHttpRequest(structured, body, { maxEventBytes: undefined }), 'PayloadTooLarge');
  });

  test('rejects a single event over maxEventBytes with 413', () => {
    const body = enc.encode(JSON.stringify({ ...required, data: 'x'.repeat(200) }));
    assert.equal(single(parseHttpRequest(structured, body, { maxEventBytes: body.length })).id, 'e1');
    assert.equal(
      failsWith(
        () => parseHttpRequest(structured, body, { maxEventBytes: body.length - 1 }),
        'PayloadTooLarge',
      ).status,
      413,
    );
    failsWith(
      () =>
        parseHttpRequest(binaryHeaders(required, 'text/plain'), new Uint8Array(300), { maxEventBytes: 200 }),
      'PayloadTooLarge',
    );
  });

  test('bounds the serialized event too, which can be longer than the wire form', () => {
    const extensions = Array.from({ length: 40 }, (_, i) => `"e${i}":1e9`).join(',');
    const body = enc.encode(JSON.stringify(required).replace(/}$/, `,${extensions}}`));
    const wireLimit = { maxEventBytes: body.length + 10 };
    failsWith(() => parseHttpRequest(structured, body, wireLimit), 'PayloadTooLarge');
    const binary = binaryHeaders(required, 'text/plain');
    const control = new Uint8Array(100).fill(1);
    failsWith(() => parseHttpRequest(binary, control, { maxEventBytes: 300 }), 'PayloadTooLarge');
    assert.equal(
      single(parseHttpRequest(binary, control, { maxEventBytes: 1000 })).data,
      '\u0001'.repeat(100),
    );
  });

  test('rejects a batch over maxBatchBytes with 413 and over maxBatchEvents with InvalidBatch', () => {
    const body = toHttpBatch([validateEvent(required), validateEvent({ ...required, id: 'e2' })]).body;
    failsWith(() => parseHttpRequest(batch, body, { maxBatchBytes: body.length - 1 }), 'PayloadTooLarge');
    failsWith(() => parseHttpRequest(batch, body, { maxBatchEvents: 1 }), 'InvalidBatch');
    const ok = parseHttpRequest(batch, body, { maxBatchEvents: 2, maxBatchBytes: body.length });
    assert.equal(ok.mode === 'batch' && ok.entries.length, 2);
  });

  test('rejects one oversized entry of a batch and keeps the rest', () => {
    const big = { ...required, id: 'big', data: 'x'.repeat(500) };
    const body = enc.encode(JSON.stringify([required, big]));
    const parsed = parseHttpRequest(batch, body, { maxEventBytes: 300 });
    assert.ok(parsed.mode === 'batch');
    assert.equal(parsed.entries[0]?.ok, true);
    const entry = parsed.entries[1];
    assert.ok(entry !== undefined && !entry.ok);
    assert.equal(entry.id, 'big');
    assert.equal(entry.error.code, 'PayloadTooLarge');
  });
});

describe('structured and batched bodies', () => {
  const structured = { 'content-type': 'application/cloudevents+json' };
  const batch = { 'content-type': 'application/cloudevents-batch+json' };

  test('reports invalid JSON with its position', () => {
    const error = failsWith(
      () => parseHttpRequest(structured, enc.encode('{"id": "x",\n "a": tru}')),
      'InvalidJson',
    );
    assert.equal(error.details?.position, 18);
    assert.match(error.message, /line 2/);
  });

  test('rejects a body that is not UTF-8', () => {
    failsWith(() => parseHttpRequest(structured, Uint8Array.from([0x7b, 0xff, 0x7d])), 'InvalidJson');
  });

  test('rejects an array in structured mode and a non-array batch', () => {
    failsWith(() => parseHttpRequest(structured, enc.encode('[]')), 'InvalidEvent');
    failsWith(() => parseHttpRequest(batch, enc.encode(JSON.stringify(required))), 'InvalidBatch');
  });

  test('gives per-entry results in request order; invalid entries do not affect the rest', () => {
    const entries = [
      required,
      'not an object',
      { ...required, id: 'bad-time', time: 'noon' },
      { ...required, id: 'e4' },
      { ...required, specversion: '0.9', id: 'old' },
    ];
    const parsed = parseHttpRequest(batch, enc.encode(JSON.stringify(entries)));
    assert.ok(parsed.mode === 'batch');
    assert.deepEqual(
      parsed.entries.map((e) =>
        e.ok ? { ok: e.event.id } : { id: e.id, code: e.error.code, field: e.error.field },
      ),
      [
        { ok: 'e1' },
        { id: undefined, code: 'InvalidEvent', field: undefined },
        { id: 'bad-time', code: 'InvalidEvent', field: 'time' },
        { ok: 'e4' },
        { id: 'old', code: 'InvalidEvent', field: 'specversion' },
      ],
    );
  });

  test('reads the conformance batches: valid ones fully, invalid ones with a failed entry', () => {
    const dir = join(corpusDir, 'cloudevents', 'conformance', 'format-tests', 'format', 'json');
    for (const [file, valid] of [
      ['valid-batches.json', true],
      ['invalid-batches.json', false],
    ] as const) {
      const tests = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { tests: { batch: unknown[] }[] })
        .tests;
      for (const t of tests) {
        const parsed = parseHttpRequest(batch, enc.encode(JSON.stringify(t.batch)));
        assert.ok(parsed.mode === 'batch');
        assert.equal(parsed.entries.length, t.batch.length);
        assert.equal(
          parsed.entries.every((e) => e.ok),
          valid,
        );
      }
    }
  });
});

describe('toHttpMessage and toHttpBatch', () => {
  const event = validateEvent({
    ...required,
    subject: 'Euro € 😀 "q" 100%',
    time: '2018-04-05T17:31:00+01:00',
    count: 10,
    flag: true,
    data: { a: 1 },
  });

  test('writes binary mode with percent-encoded ce- headers and canonical extension strings', () => {
    const message = toHttpMessage(event, 'binary');
    assert.deepEqual(message.headers, {
      'ce-specversion': '1.0',
      'ce-id': 'e1',
      'ce-source': '/mycontext',
      'ce-type': 'com.example.t',
      'ce-subject': 'Euro%20%E2%82%AC%20%F0%9F%98%80%20%22q%22%20100%25',
      'ce-time': '2018-04-05T17:31:00+01:00',
      'ce-count': '10',
      'ce-flag': 'true',
      'content-type': 'application/json',
    });
    assert.equal(dec.decode(message.body), '{"a":1}');
  });

  test('writes structured mode as the JSON format', () => {
    const message = toHttpMessage(event, 'structured');
    assert.deepEqual(message.headers, { 'content-type': STRUCTURED_CONTENT_TYPE });
    assert.deepEqual(JSON.parse(dec.decode(message.body)), event);
  });

  test('round-trips through parseHttpRequest in both modes', () => {
    const structured = toHttpMessage(event, 'structured');
    assert.deepEqual(single(parseHttpRequest(structured.headers, structured.body)), event);
    const binary = toHttpMessage(event, 'binary');
    const back = single(parseHttpRequest(binary.headers, binary.body));
    assert.deepEqual(
      { ...back, count: Number(back.count), flag: back.flag === 'true' },
      { ...event, datacontenttype: 'application/json' },
    );
  });

  test('writes a batch that parses back entry for entry', () => {
    const events = [
      event,
      validateEvent({ ...required, id: 'e2', datacontenttype: 'text/plain', data: 'hi' }),
    ];
    const message = toHttpBatch(events);
    assert.equal(message.headers['content-type'], BATCH_CONTENT_TYPE);
    const parsed = parseHttpRequest(message.headers, message.body);
    assert.ok(parsed.mode === 'batch');
    assert.deepEqual(
      parsed.entries.map((e) => e.ok && e.event),
      events,
    );
  });
});

// --- the cloudevents SDK as the real client ---

async function withServer(
  handle: (headers: HttpHeaders, body: Uint8Array) => void,
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        handle(req.headers, new Uint8Array(Buffer.concat(chunks)));
        res.writeHead(202).end();
      } catch (error) {
        res.writeHead(error instanceof JunctionError ? error.status : 500).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('interoperability with the cloudevents SDK', () => {
  const sdkEvents: SdkEvent<unknown>[] = [
    new SdkEvent({
      id: 'j1',
      source: '/sdk',
      type: 'com.example.json',
      datacontenttype: 'application/json',
      data: { n: 1, s: 'é' },
      myext: 'v',
    }),
    new SdkEvent({
      id: 't1',
      source: 'urn:sdk',
      type: 'com.example.text',
      datacontenttype: 'text/plain',
      data: 'hello',
      subject: 'sub',
    }),
    // (the SDK's binary emitter cannot send an event without data: it writes an undefined body)
    new SdkEvent({
      id: 'p1',
      source: '/sdk',
      type: 'com.example.list',
      datacontenttype: 'application/json',
      data: [1, 2],
      partitionkey: 'p1',
    }),
  ];

  for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
    test(`receives what the SDK emitter sends over real HTTP in ${mode} mode`, async () => {
      const received: CloudEvent[] = [];
      await withServer(
        (headers, body) => received.push(single(parseHttpRequest(headers, body))),
        async (url) => {
          const emit = emitterFor(httpTransport(url), { mode });
          for (const e of sdkEvents) await emit(e);
        },
      );
      assert.equal(received.length, sdkEvents.length);
      for (const [i, e] of sdkEvents.entries()) {
        const got = received[i]!;
        for (const key of [
          'id',
          'source',
          'type',
          'time',
          'subject',
          'myext',
          'partitionkey',
          'datacontenttype',
        ] as const) {
          assert.equal(got[key], e[key], `${e.id}.${key}`);
        }
        assert.deepEqual(got.data, e.data);
      }
    });
  }

  test('writes messages the SDK reads', () => {
    const ours = validateEvent({
      ...required,
      time: '2018-04-05T17:31:00Z',
      datacontenttype: 'application/json',
      data: { a: 1 },
      myext: 'x',
    });
    for (const mode of ['binary', 'structured'] as const) {
      const message = toHttpMessage(ours, mode);
      const theirs = HTTP.toEvent({ headers: message.headers, body: dec.decode(message.body) }) as SdkEvent;
      assert.equal(theirs.id, 'e1');
      assert.equal(theirs.source, '/mycontext');
      assert.equal(theirs.myext, 'x');
      assert.deepEqual(theirs.data, { a: 1 });
    }
  });
});

describe('robustness', () => {
  const contentTypes = fc.constantFrom(
    undefined,
    'application/json',
    'text/plain',
    'application/cloudevents+json',
    'application/cloudevents-batch+json',
    'application/cloudevents+xml',
    'xyz',
  );
  const headerName = fc.constantFrom(
    'ce-specversion',
    'ce-id',
    'ce-source',
    'ce-type',
    'ce-time',
    'ce-x',
    'Ce-Id',
    'ce-',
    'ce-A_b',
  );
  const headerValue = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('1.0', '%', '%C0%A0', '"', '/s'),
  );

  test('answers any request with an event or a JunctionError, never anything else', () => {
    // The required headers usually present and plausible (else any of headerValue), a few odd headers now and
    // then, and bodies that are events, batches, any JSON or any bytes: before, with every header drawn at random,
    // no request in 500 was a binary or structured event, only batches.
    const attribute = (plausible: string) =>
      fc.option(
        fc.oneof({ weight: 8, arbitrary: fc.constant(plausible) }, { weight: 1, arbitrary: headerValue }),
        { freq: 8 },
      );
    const headers = fc
      .tuple(
        fc.record({
          'ce-specversion': attribute('1.0'),
          'ce-id': attribute('e1'),
          'ce-source': attribute('/s'),
          'ce-type': attribute('t'),
          'ce-time': attribute('2024-01-02T03:04:05Z'),
        }),
        fc.oneof(
          { weight: 4, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.dictionary(headerName, headerValue, { maxKeys: 3 }) },
        ),
      )
      .map(([known, odd]) => {
        const out: Record<string, string> = {};
        for (const [name, value] of Object.entries(known)) if (value !== null) out[name] = value;
        return { ...out, ...odd };
      });
    const eventText = fc
      .record(
        {
          specversion: fc.constant('1.0'),
          id: fc.constantFrom('e1', ''),
          source: fc.constant('/s'),
          type: fc.constant('t'),
          data: fc.jsonValue({ maxDepth: 2 }),
          myext: fc.oneof(fc.integer(), fc.string()),
        },
        { requiredKeys: ['specversion', 'id', 'source', 'type'] },
      )
      .map((event) => JSON.stringify(event));
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 100, size: 'max' }),
      fc.json().map((text) => enc.encode(text)),
      eventText.map((text) => enc.encode(text)),
      fc.array(eventText, { maxLength: 3 }).map((texts) => enc.encode(`[${texts.join(',')}]`)),
    );
    fc.assert(
      fc.property(contentTypes, headers, body, (contentType, ce, bytes) => {
        const all: Record<string, string> = { ...ce };
        if (contentType !== undefined) all['content-type'] = contentType;
        try {
          parseHttpRequest(all, bytes);
        } catch (error) {
          assert.ok(error instanceof JunctionError, String(error));
        }
      }),
      { numRuns: 500 },
    );
  });

  test('validates any JSON value without crashing, and what it accepts round-trips', () => {
    // Each attribute usually plausible, sometimes any string: before, with every attribute any string and each
    // present or not, 3 of 500 values were events, so the round trip was hardly ever checked.
    const or = <T>(plausible: fc.Arbitrary<T>) =>
      fc.oneof({ weight: 6, arbitrary: plausible }, { weight: 1, arbitrary: fc.string() });
    const optional = <T>(plausible: fc.Arbitrary<T>) =>
      fc.oneof(
        { weight: 6, arbitrary: fc.constant(null) },
        { weight: 6, arbitrary: plausible },
        { weight: 1, arbitrary: fc.string() },
      );
    const event = fc.record(
      {
        specversion: or(fc.constant('1.0')),
        id: or(fc.constantFrom('e1', 'A-234-1234-1234')),
        source: or(
          fc.constantFrom('/mycontext', 'urn:event:from:myapi/resource/123', 'https://x.example/a?b#c'),
        ),
        type: or(fc.constantFrom('com.example.t', 't')),
        datacontenttype: optional(
          fc.constantFrom('text/plain', 'application/json', 'image/png', 'application/vnd.x+json'),
        ),
        time: optional(
          fc.oneof(
            fc
              .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
              .map((d) => d.toISOString()),
            fc.constantFrom('1990-12-31T23:59:60Z', '2024-02-29T00:00:00.5+05:30'),
          ),
        ),
        subject: fc.oneof(fc.constant(null), fc.string({ maxLength: 200, size: 'max' })),
        dataschema: optional(fc.webUrl()),
        data: fc.oneof(fc.jsonValue(), fc.string({ unit: 'grapheme', maxLength: 200, size: 'max' })),
        data_base64: optional(fc.base64String({ maxLength: 40 })),
        myext: fc.oneof(
          { weight: 2, arbitrary: fc.oneof(fc.constant(null), fc.integer(), fc.boolean(), fc.string()) },
          { weight: 1, arbitrary: fc.double() },
        ),
      },
      { requiredKeys: ['specversion', 'id', 'source', 'type'] },
    );
    // JSON writes −0 as `0`, so a value holding one (fc.jsonValue and fc.double draw it, in data or an extension, at
    // any depth) cannot round-trip through a message: every drawn value has its −0s made 0 first.
    const withoutNegativeZero = (value: unknown): unknown => {
      if (Object.is(value, -0)) return 0;
      if (Array.isArray(value)) return value.map(withoutNegativeZero);
      if (typeof value === 'object' && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
      }
      return value;
    };
    fc.assert(
      fc.property(
        fc
          .oneof(
            { weight: 1, arbitrary: fc.jsonValue() },
            {
              weight: 1,
              arbitrary: fc.record(
                {
                  specversion: fc.constant('1.0'),
                  id: fc.string(),
                  source: fc.string(),
                  type: fc.string(),
                  data: fc.jsonValue(),
                  myext: fc.oneof(fc.integer(), fc.string()),
                },
                { requiredKeys: [] },
              ),
            },
            { weight: 4, arbitrary: event },
          )
          .map(withoutNegativeZero),
        (raw) => {
          try {
            const event = validateEvent(raw);
            const message = toHttpMessage(event, 'structured');
            assert.deepEqual(single(parseHttpRequest(message.headers, message.body)), event);
          } catch (error) {
            assert.ok(error instanceof JunctionError, String(error));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
