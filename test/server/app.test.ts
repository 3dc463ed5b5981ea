/** The HTTP API on a real embedded bus: hostile bodies found by the fuzzer (test/fuzz) are refused with a 4xx. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_BODY_DEPTH } from '../../lib/server/app.ts';
import { request, startTestBus, type TestBus } from '../helpers/bus.ts';

const DEEP = 20_000;
const deepArray = `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`;
const deepObject = `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`;

describe('app: hostile request bodies', () => {
  let bus: TestBus;
  const errors: unknown[] = [];
  before(async () => {
    bus = await startTestBus({ onError: (error) => errors.push(error) });
  });
  after(() => bus.stop());

  const json = { 'content-type': 'application/json' };
  const cases: Array<[string, string, string, (deep: string) => string]> = [
    ['a rule field', 'PUT', '/rules/r1', (d) => `{"enabled":${d},"targets":[]}`],
    ['a rule filter', 'PUT', '/rules/r1', (d) => `{"filter":${d},"targets":[]}`],
    ['a whole rule', 'PUT', '/rules/r1', (d) => d],
    ['a tested pattern', 'POST', '/patterns/test', (d) => `{"pattern":${d},"event":{}}`],
    [
      'a tested event',
      'POST',
      '/patterns/test',
      (d) => `{"pattern":{"data":{"a":[1]}},"event":{"data":{"a":${d}}}}`,
    ],
    ['a simulation range', 'POST', '/rules/r1/simulate', (d) => `{"from":${d},"to":1}`],
    ['a replay range', 'POST', '/replays', (d) => `{"from":${d},"to":1}`],
    ['redriven ids', 'POST', '/dead-letters/redrive', (d) => `{"ids":${d}}`],
    ['deleted ids', 'POST', '/dead-letters/delete', (d) => `{"ids":${d}}`],
    ['a bus', 'PUT', '/buses/b1', (d) => `{"description":${d}}`],
    ['a new key', 'POST', '/keys', (d) => `{"name":"k","scopes":${d}}`],
  ];
  for (const [what, method, path, body] of cases) {
    for (const [shape, deep] of [
      ['array', deepArray],
      ['object', deepObject],
    ] as const) {
      it(`refuses ${what} nested ${DEEP} deep (${shape}) with 400 InvalidJson`, async () => {
        const res = await request(bus.url, method, path, body(deep), json);
        assert.deepEqual([res.status, res.body.error.code], [400, 'InvalidJson']);
        assert.match(res.body.error.message, new RegExp(`deeper than ${MAX_BODY_DEPTH} levels`));
      });
    }
  }

  it('hands bodies under the nesting guard on to the route, whose own limit then speaks', async () => {
    const nested = `${'{"a":'.repeat(MAX_BODY_DEPTH - 3)}1${'}'.repeat(MAX_BODY_DEPTH - 3)}`;
    const res = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"pattern":{"type":["t"]},"event":{"data":${nested}}}`,
      json,
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'InvalidRequest');
    assert.equal(res.body.error.field, 'event');
    const shallow = `${'{"a":'.repeat(60)}1${'}'.repeat(60)}`;
    const ok = await request(
      bus.url,
      'POST',
      '/patterns/test',
      `{"pattern":{"type":["t"]},"event":{"data":${shallow}}}`,
      json,
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.body.matches, false);
  });

  it('refuses a TestEventPattern Event nested too deep with ValidationException', async () => {
    const event = `{"id":"1","source":"s","detail-type":"t","account":"1","region":"r","time":"2026-01-01T00:00:00Z","resources":[],"detail":{"a":${deepObject}}}`;
    const res = await request(
      bus.url,
      'POST',
      '/',
      JSON.stringify({ EventPattern: '{"detail":{"a":[1]}}', Event: event }),
      { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.TestEventPattern' },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.__type, 'ValidationException');
    assert.match(res.body.message, /Event nests deeper than/);
  });

  for (const [verb, field, value] of [
    ...(['redrive', 'delete'] as const).flatMap((verb) =>
      (
        [
          ['rule', '["r1"]'],
          ['rule', '{"a":1}'],
          ['target', '7'],
          ['ids', '"dl-1"'],
          ['ids', '[1,2]'],
          ['ids', `[${Array.from({ length: 1001 }, (_, i) => `"dl-${i}"`).join(',')}]`],
          ['cursor', '12'],
        ] as const
      ).map(([field, value]) => [verb, field, value] as const),
    ),
    ['delete', 'to', '"yesterday"'],
    ['delete', 'to', '1e20'],
    ['delete', 'to', 'null'],
  ] as const) {
    it(`refuses a ${verb} whose ${field} is ${value.slice(0, 20)} with 400 InvalidRequest`, async () => {
      const res = await request(
        bus.url,
        'POST',
        `/dead-letters/${verb}`,
        `{"${field}":${value},"all":true}`,
        json,
      );
      assert.deepEqual(
        [res.status, res.body.error.code, res.body.error.field],
        [400, 'InvalidRequest', field],
      );
    });
  }

  for (const verb of ['redrive', 'delete']) {
    for (const body of ['{}', '{"all":false}', '{"target":"t"}']) {
      it(`refuses a ${verb} of ${body}, which names no letters, with 400 InvalidRequest`, async () => {
        const res = await request(bus.url, 'POST', `/dead-letters/${verb}`, body, json);
        assert.deepEqual([res.status, res.body.error.code], [400, 'InvalidRequest']);
        assert.match(res.body.error.message, new RegExp(`say what to ${verb}`));
      });
    }
    it(`refuses a ${verb} whose "all" is not a boolean with 400 InvalidRequest`, async () => {
      const res = await request(bus.url, 'POST', `/dead-letters/${verb}`, '{"all":"yes"}', json);
      assert.deepEqual(
        [res.status, res.body.error.code, res.body.error.field],
        [400, 'InvalidRequest', 'all'],
      );
    });
    it(`answers GET /dead-letters/${verb} with 405`, async () => {
      const res = await request(bus.url, 'GET', `/dead-letters/${verb}`);
      assert.equal(res.status, 405);
    });
  }

  for (const [path, body] of [
    ['/replays', '{"from":0,"to":1e20}'],
    ['/replays', '{"from":-1e17,"to":0}'],
    ['/rules/r1/simulate', '{"from":-1,"to":1e20,"pattern":{"type":["t"]}}'],
  ] as const) {
    it(`refuses ${path} with a time outside a Date's range (${body}) with 400 InvalidRequest`, async () => {
      const res = await request(bus.url, 'POST', path, body, json);
      assert.deepEqual([res.status, res.body.error.code], [400, 'InvalidRequest']);
      assert.match(res.body.error.field, /^(from|to)$/);
    });
  }

  it('reported no unexpected error', () => {
    assert.deepEqual(errors, []);
  });
});
