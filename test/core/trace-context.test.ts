/** W3C trace context: what is read, what is refused (ignored, never an error), and stamping an event. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseEventJson, serializeEvent } from '../../lib/core/cloudevent.ts';
import {
  eventTraceContext,
  formatTraceparent,
  parseTraceparent,
  parseTracestate,
  readTraceContext,
  withTraceContext,
} from '../../lib/core/trace-context.ts';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('traceparent', () => {
  test('reads a valid version-00 value', () => {
    assert.deepEqual(parseTraceparent(VALID), {
      version: '00',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 1,
    });
    assert.equal(parseTraceparent(' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ')?.flags, 0);
  });

  test('reads a later version by its first four fields', () => {
    assert.equal(parseTraceparent(`01${VALID.slice(2)}-what-comes-next`)?.spanId, '00f067aa0ba902b7');
  });

  test('refuses every malformed value', () => {
    for (const bad of [
      undefined,
      42,
      '',
      '00-ab-cd-01',
      VALID.toUpperCase(),
      `ff${VALID.slice(2)}`,
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      `${VALID}-extra`,
      VALID.replace(/-/g, '_'),
      `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1`,
      `00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01`,
      `${VALID}${'x'.repeat(600)}`,
    ]) {
      assert.equal(parseTraceparent(bad), undefined, String(bad));
    }
  });

  test('formats ids and flags', () => {
    assert.equal(formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1), VALID);
    assert.equal(formatTraceparent('a'.repeat(32), 'b'.repeat(16), 0).slice(-3), '-00');
  });
});

describe('tracestate', () => {
  test('keeps valid members, drops empty ones', () => {
    assert.equal(
      parseTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE'),
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    assert.equal(parseTracestate('tenant@vendor=x,,a=b'), 'tenant@vendor=x,a=b');
  });

  test('refuses the whole header when anything is malformed or too long', () => {
    for (const bad of [
      '',
      ',',
      'novalue',
      '=x',
      'UPPER=x',
      'a=b=c',
      'a=bell\u0007',
      `a=${'x'.repeat(600)}`,
      Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','),
      7,
    ]) {
      assert.equal(parseTracestate(bad), undefined, String(bad));
    }
  });

  test('only beside a valid traceparent', () => {
    assert.equal(readTraceContext('nope', 'a=b'), undefined);
    assert.deepEqual(readTraceContext(VALID, 'a=b'), { traceparent: VALID, tracestate: 'a=b' });
    assert.deepEqual(readTraceContext(VALID, 'bad header'), { traceparent: VALID });
  });
});

describe('an event and its distributed-tracing extension', () => {
  test('reads the extension', () => {
    const event = parseEventJson(
      `{"specversion":"1.0","id":"1","source":"/s","type":"t","traceparent":"${VALID}","tracestate":"a=b"}`,
    );
    assert.deepEqual(eventTraceContext(event), { traceparent: VALID, tracestate: 'a=b' });
    assert.equal(eventTraceContext({ traceparent: '00-ab-cd-01' }), undefined);
  });

  test('stamps a context, replacing the old one, keeping the JSON data as its text', () => {
    const event = parseEventJson(
      '{"specversion":"1.0","id":"1","source":"/s","type":"t","tracestate":"old=1","data":{"big":12345678901234567890}}',
    );
    const stamped = withTraceContext(event, { traceparent: VALID });
    assert.ok(Object.isFrozen(stamped));
    assert.equal(stamped.traceparent, VALID);
    assert.equal('tracestate' in stamped, false, 'the old tracestate belongs to the old trace');
    assert.match(serializeEvent(stamped), /"big":12345678901234567890/);
    assert.equal(event.traceparent, undefined, 'the original is unchanged');
    const withState = withTraceContext(stamped, { traceparent: VALID, tracestate: 'a=b' });
    assert.equal(withState.tracestate, 'a=b');
  });
});
