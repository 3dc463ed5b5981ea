/** The event-ruler peer: the real jar answers match, no match, invalid pattern and bench requests over its pipe. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type EventRulerPeer, eventRulerSkip, startEventRuler } from './event-ruler.ts';

const skip = eventRulerSkip();
let peer: EventRulerPeer;

before(
  async () => {
    if (skip === false) peer = await startEventRuler();
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  await peer?.close();
});

test('event-ruler answers a match, a no-match and an invalid pattern', {
  skip,
  timeout: 60_000,
}, async () => {
  assert.match(peer.runtime, /^Java \d+/);
  assert.deepEqual(await peer.check({ a: ['x'] }, '{"a":"x"}'), { valid: true, match: true });
  assert.deepEqual(await peer.check('{"a":[{"prefix":"x"}]}', '{"a":"yx"}'), { valid: true, match: false });
  const invalid = await peer.check({ a: [{ nope: 1 }] }, '{"a":"x"}');
  assert.equal(invalid.valid, false);
  assert.equal(invalid.valid === false && invalid.stage, 'pattern');
  assert.equal((await peer.check('{"a":', '{"a":"x"}')).valid, false);
  const badEvent = await peer.check({ a: ['x'] }, '{"a":');
  assert.equal(badEvent.valid === false && badEvent.stage, 'event');
  // Still answering after the errors: the process survives bad requests.
  assert.deepEqual(await peer.check({ a: [{ numeric: ['>', 1] }] }, '{"a":2}'), { valid: true, match: true });
});

test('the pattern text reaches event-ruler as written: a repeated key is not lost on the way', {
  skip,
  timeout: 60_000,
}, async () => {
  // A JSON value cannot hold a repeated key; the text can, and event-ruler rejects a repeated operator.
  const answer = await peer.check('{"a":[{"prefix":"x","prefix":"y"}]}', '{"a":"xy"}');
  assert.equal(answer.valid, false);
});

test('checkMany pipelines thousands of cases and keeps their order', { skip, timeout: 120_000 }, async () => {
  const cases = Array.from({ length: 3000 }, (_, i) => ({
    pattern: { n: [{ numeric: ['>=', i] }] },
    event: JSON.stringify({ n: i % 2 === 0 ? i : i - 1 }),
  }));
  const answers = await peer.checkMany(cases);
  assert.equal(answers.length, cases.length);
  answers.forEach((answer, i) => {
    assert.deepEqual(answer, { valid: true, match: i % 2 === 0 }, `case ${i}`);
  });
});

test('bench times rulesForJSONEvent per round and counts the matches', {
  skip,
  timeout: 120_000,
}, async () => {
  const rules = [
    { name: 'x', pattern: { a: ['x'] } },
    { name: 'any', pattern: '{"a":[{"exists":true}]}' },
  ];
  const lines = ['{"a":"x"}', '{"a":"y"}', '{"b":1}'];
  const rounds = await peer.bench(rules, lines, 3);
  assert.equal(rounds.length, 3);
  for (const round of rounds) {
    assert.equal(round.events, 3);
    assert.equal(round.matches, 3);
    assert.ok(round.nanos > 0 && round.cpuNanos >= 0);
  }
});
