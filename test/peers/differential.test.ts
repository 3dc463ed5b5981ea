/**
 * The seeded differential in the suite: a bounded run of generated cases through event-ruler (the real jar) and
 * Junction's three matchers, and the fixed regression cases through event-ruler. A longer run:
 * `npm run differential -- --cases=200000 --seed=N`.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { REGRESSIONS } from '../core/pattern/event-ruler-regressions.ts';
import { PatternCaseGenerator } from '../helpers/pattern-cases.ts';
import { junctionAnswer, type Mismatch, POLICY, runDifferential } from './differential.ts';
import { type EventRulerPeer, eventRulerSkip, startEventRuler } from './event-ruler.ts';

/** The seed and size of the bounded run (a failure prints them; rerun with `npm run differential`). */
const SEED = 20261203;
const CASES = 3000;

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

function describeMismatch(m: Mismatch): string {
  return `#${m.index} ${m.kind}: ${m.case.pattern} ~ ${m.case.event}: Junction ${JSON.stringify(m.junction)}, event-ruler ${JSON.stringify(m.ruler)}`;
}

test('the generator makes cases that match, fail and are invalid, and Junction’s three matchers agree on them', () => {
  const generator = new PatternCaseGenerator(SEED);
  let valid = 0;
  let matches = 0;
  for (let i = 0; i < CASES; i++) {
    const c = generator.next();
    const answer = junctionAnswer(c);
    if (!answer.valid) continue;
    valid++;
    if (answer.index) matches++;
    assert.equal(answer.reference, answer.index, `seed ${SEED} case #${i}: ${c.pattern} ~ ${c.event}`);
    assert.equal(answer.explain, answer.index, `seed ${SEED} case #${i}: ${c.pattern} ~ ${c.event}`);
  }
  // Enough of each kind that the differential means something.
  assert.ok(valid > CASES * 0.3 && valid < CASES * 0.9, `${valid} valid patterns of ${CASES}`);
  assert.ok(matches > valid * 0.2 && matches < valid * 0.8, `${matches} matches of ${valid}`);
});

test(`event-ruler and Junction agree on ${CASES} seeded cases outside the policy list`, {
  skip,
  timeout: 10 * 60_000,
}, async () => {
  const result = await runDifferential(peer, SEED, CASES, startEventRuler);
  assert.deepEqual(
    result.mismatches.map(describeMismatch),
    [],
    `seed ${SEED}, ${CASES} cases: rerun with npm run differential -- --cases=${CASES} --seed=${SEED}`,
  );
  // Every excluded difference is named by a policy entry (or is an answer event-ruler itself changes).
  const names = new Set([...POLICY.map((p) => p.name), 'unstable']);
  for (const name of Object.keys(result.excluded)) assert.ok(names.has(name), name);
});

test('event-ruler gives the recorded answer on every fixed regression case', {
  skip,
  timeout: 120_000,
}, async () => {
  const answers = await peer.checkMany(REGRESSIONS.map((c) => ({ pattern: c.pattern, event: c.event })));
  const wrong = REGRESSIONS.flatMap((c, i) => {
    const a = answers[i];
    const got = a === undefined ? undefined : a.valid ? a.match : 'invalid';
    if (c.ruler === 'varies' || got === (c.ruler ?? c.expected)) return [];
    return [`${c.class}: ${c.pattern} ~ ${c.event}: event-ruler ${got}`];
  });
  assert.deepEqual(wrong, []);
});
