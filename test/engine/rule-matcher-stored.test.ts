/**
 * The router matches a record the SQLite log marked on its stored text (`RuleMatcher.matchStored` on the attributes
 * and data span `readStored` reads), building the event only when a rule matched. Its answers must be those of
 * `RuleMatcher.match` on the event built from the same row, for every family of event-ruler's citylots2 rules, with
 * attributes patterns read, EventBridge-shaped patterns, CESQL filters, and events whose texts have escapes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readRecord, readStored } from '../../lib/adapters/sqlite/event-log.ts';
import { parseEventJson, serializeStoredEvent, storedEvent } from '../../lib/core/cloudevent.ts';
import type { CloudEvent } from '../../lib/core/cloudevent-types.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import type { Rule } from '../../lib/core/rule-types.ts';
import { RuleMatcher } from '../../lib/engine/rule-matcher.ts';
import { lot, random } from '../bench/matching.ts';
import { corpusDir } from '../helpers/paths.ts';

interface Group {
  readonly rule_type: string;
  readonly rules: { pattern: Record<string, unknown> }[];
}

function rule(name: string, pattern: unknown, extra: Partial<Rule> = {}): Rule {
  return { name, enabled: true, pattern, targets: [], ...extra } as unknown as Rule;
}

const names = (rules: readonly Rule[]) => rules.map((r) => r.name);

/** Rules beside a family's: on attributes, on EventBridge's names, with filters, and a filter alone. */
const EXTRA: readonly Rule[] = [
  rule('x-source', { source: [{ prefix: 'city' }], data: { properties: { ODD_EVEN: ['E'] } } }),
  rule('x-subject', { subject: [{ 'equals-ignore-case': 'LOT "A"' }] }),
  rule('x-no-subject', { subject: [{ exists: false }], data: { type: ['Feature'] } }),
  rule('x-ext', { ext: [{ numeric: ['>', 3] }] }),
  rule('x-flag', { flag: [true] }),
  rule('x-eb', { 'detail-type': ['lot'], source: ['city.eb'], detail: { properties: { ODD_EVEN: ['O'] } } }),
  rule('x-account', { account: [{ exists: true }], detail: { type: ['Feature'] } }),
  rule('x-filtered', { data: { type: ['Feature'] } }, { filter: "subject LIKE 'lot%'" } as Partial<Rule>),
  rule('x-filter-only', {}, { pattern: undefined, filter: "type = 'lot' AND ext > 5" } as Partial<Rule>),
];

const spec = JSON.parse(
  readFileSync(join(corpusDir, 'event-ruler', 'derived', 'citylots2-benchmark.json'), 'utf8'),
) as { groups: Group[] };

/** One matcher per citylots2 family (its rules under `data`), and one with the extras besides. */
const matchers = spec.groups.flatMap((group) => {
  const plain = new RuleMatcher();
  const mixed = new RuleMatcher();
  group.rules.forEach((r, i) => {
    plain.set(rule(`r${i}`, { data: r.pattern }));
    mixed.set(rule(`r${i}`, { data: r.pattern }));
  });
  for (const extra of EXTRA) mixed.set(extra);
  return [
    { family: group.rule_type, matcher: plain },
    { family: `${group.rule_type} with extras`, matcher: mixed },
  ];
});

/** A row as the SQLite log stores a validated event (`serializeStoredEvent`), and what `readStored` reads of it. */
function rowOf(event: CloudEvent) {
  const { text, dataAt, dataEnd } = serializeStoredEvent(event);
  return { event: text, data_at: dataAt, data_end: dataEnd };
}

describe('RuleMatcher.matchStored', () => {
  it('covers every citylots2 family', () => {
    assert.equal(spec.groups.length, 14);
  });

  it('answers as match on the built event, for citylots2 lots and every family', () => {
    const attributes = fc.record(
      {
        subject: fc.constantFrom('lot "a"', 'LOT "A"', 'lot-7', 'é-lot', 'a\\b'),
        ext: fc.integer({ min: 0, max: 9 }),
        flag: fc.boolean(),
        ebsource: fc.constantFrom('city.eb', 'other'),
        account: fc.constantFrom('123456789012'),
        causationid: fc.constantFrom('c-1'),
      },
      { requiredKeys: [] },
    );
    let built = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), attributes, (seed, extra) => {
        const next = random(seed);
        const data = JSON.stringify(lot(next, seed % 1000));
        const ext = Object.entries(extra)
          .map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`)
          .join('');
        const event = parseEventJson(
          `{"specversion":"1.0","id":"lot-${seed}","source":"citylots","type":"lot"${ext},"data":${data}}`,
        );
        const row = rowOf(event);
        const stored = readStored(row);
        assert.ok(stored !== undefined, 'a row the bus wrote is read by its layout');
        const whole = readRecord(row);
        assert.deepEqual(storedEvent(stored), whole, 'the stored event builds into the event the row holds');
        assert.equal(rawDataText(storedEvent(stored)), rawDataText(whole));
        for (const { family, matcher } of matchers) {
          const expected = names(matcher.match(whole));
          const got = names(
            matcher.matchStored(stored, () => {
              built++;
              return storedEvent(stored);
            }),
          );
          assert.deepEqual(got, expected, `${family}: ${row.event}`);
        }
      }),
      { numRuns: 150 },
    );
    assert.ok(built > 0, 'filters were checked on the built event');
  });

  it('builds the event only for a filter: patterns alone are matched on the stored text', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('street', { data: { properties: { STREET: [{ prefix: 'MA' }] } } }));
    const event = parseEventJson(
      `{"specversion":"1.0","id":"1","source":"citylots","type":"lot","data":${JSON.stringify(lot(random(7), 1))}}`,
    );
    const stored = readStored(rowOf(event));
    assert.ok(stored !== undefined);
    matcher.matchStored(stored, () => assert.fail('no rule has a filter: the event is not built'));
    matcher.set(
      rule('filtered', { data: { type: ['Feature'] } }, { filter: "source = 'citylots'" } as Partial<Rule>),
    );
    let calls = 0;
    const matched = matcher.matchStored(stored, () => {
      calls++;
      return event;
    });
    assert.deepEqual(names(matched), names(matcher.match(event)));
    assert.ok(names(matched).includes('filtered'));
    assert.ok(calls > 0);
  });
});
