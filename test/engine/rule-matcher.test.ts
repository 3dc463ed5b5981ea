/**
 * The router's matcher reads `data` selectively from the event's JSON text: its answers must be those of the pattern
 * index on the fully parsed event (numbers with their lexeme), and of event-ruler where they differ from a double.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseEventJson } from '../../lib/core/cloudevent.ts';
import { rawDataText } from '../../lib/core/codec/raw-data.ts';
import { PatternIndex, parseEventText, parseJsonPreservingNumbers } from '../../lib/core/pattern/index.ts';
import type { Rule } from '../../lib/core/rule-types.ts';
import { RuleMatcher } from '../../lib/engine/rule-matcher.ts';

function rule(name: string, pattern: unknown, extra: Partial<Rule> = {}): Rule {
  return { name, enabled: true, pattern, targets: [], ...extra } as unknown as Rule;
}

function event(data: string, extra = ''): ReturnType<typeof parseEventJson> {
  return parseEventJson(`{"specversion":"1.0","id":"e","source":"s","type":"t"${extra},"data":${data}}`);
}

function names(rules: readonly Rule[]): string[] {
  return rules.map((r) => r.name);
}

describe('RuleMatcher on events with JSON data text', () => {
  it('compares numbers by their lexeme, as event-ruler does (never by a rounded double)', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('positive', { data: { n: [{ numeric: ['>', 0] }] } }));
    matcher.set(rule('id', parseJsonPreservingNumbers('{"data":{"id":[12345678901234567890]}}')));
    matcher.set(rule('one-and-a-half', { data: { n: [1.5] } }));
    // event-ruler 2.1.0: a number no double holds exactly is not compared, so neither a range nor a neighbour matches.
    assert.deepEqual(names(matcher.match(event('{"n":12345678901234567890123}'))), []);
    assert.deepEqual(names(matcher.match(event('{"id":12345678901234567000}'))), []);
    assert.deepEqual(names(matcher.match(event('{"id":12345678901234567890}'))), ['id']);
    assert.deepEqual(names(matcher.match(event('{"n":1.50}'))), ['one-and-a-half', 'positive']);
  });

  it('answers the matched rules in name order, few or many, as rules come and go', () => {
    const matcher = new RuleMatcher();
    const all = Array.from({ length: 40 }, (_, i) => `r-${(i * 7919) % 101}`);
    const sorted = (list: string[]) => [...list].sort();
    // Three matches (ordered by insertion), then forty (by sort), each set in an order other than the names'.
    for (const name of all.slice(0, 3)) matcher.set(rule(name, { data: { n: [1] } }));
    assert.deepEqual(names(matcher.match(event('{"n":1}'))), sorted(all.slice(0, 3)));
    for (const name of all.slice(3)) matcher.set(rule(name, { data: { n: [1] } }));
    assert.deepEqual(names(matcher.match(event('{"n":1}'))), sorted(all));
    // Rules set after a match (not ranked yet), a filter-only rule among them, and rules deleted.
    matcher.set(rule('a-first', { data: { n: [1] } }));
    matcher.set(rule('zz-filter', undefined, { filter: "type = 't'" }));
    matcher.set(rule('m-middle', { data: { n: [1] } }, { filter: 'data.n = 1' }));
    for (const name of all.slice(10, 30)) matcher.delete(name);
    const expected = sorted([...all.slice(0, 10), ...all.slice(30), 'a-first', 'zz-filter', 'm-middle']);
    assert.deepEqual(names(matcher.match(event('{"n":1}'))), expected);
    matcher.delete('a-first');
    matcher.delete('zz-filter');
    assert.deepEqual(
      names(matcher.match(event('{"n":1}'))),
      expected.filter((n) => n !== 'a-first' && n !== 'zz-filter'),
    );
  });

  it('keeps every value of a key the event repeats, as event-ruler does', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('d', { data: { d: ['A'] } }));
    assert.deepEqual(names(matcher.match(event('{"d":"A","d":""}'))), ['d']);
    assert.deepEqual(names(matcher.match(event('{"d":"","d":"A"}'))), ['d']);
    assert.deepEqual(names(matcher.match(event('{"d":"B","d":""}'))), []);
  });

  it('leaves the event itself untouched: data stays unparsed text for whatever reads it later', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('r', { data: { a: ['x'] } }));
    const e = event('{"a":"x","big":[1,2,3]}');
    assert.deepEqual(names(matcher.match(e)), ['r']);
    assert.equal(rawDataText(e), '{"a":"x","big":[1,2,3]}');
  });

  it('follows rule changes: a path added after matching started is read from then on', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('a', { data: { a: ['x'] } }));
    const e = event('{"a":"x","b":{"c":1}}');
    assert.deepEqual(names(matcher.match(e)), ['a']);
    matcher.set(rule('c', { data: { b: { c: [1] } } }));
    assert.deepEqual(names(matcher.match(e)), ['a', 'c']);
    matcher.delete('a');
    matcher.set(rule('not-a', { data: { a: [{ exists: false }] } }));
    assert.deepEqual(names(matcher.match(e)), ['c']);
    assert.deepEqual(names(matcher.match(event('{"b":{"c":1}}'))), ['c', 'not-a']);
    matcher.delete('c');
    assert.deepEqual(names(matcher.match(e)), []);
  });

  it('reads the attributes the patterns name beside the selected data, and their absence', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('source', { source: ['s'] }));
    matcher.set(rule('no-subject', { subject: [{ exists: false }], data: { a: ['x'] } }));
    matcher.set(rule('subject', { subject: [{ prefix: 'sub' }] }));
    matcher.set(rule('not-type', { type: [{ 'anything-but': 't' }] }));
    matcher.set(rule('ext', { ext: [7], data: { a: [{ exists: true }] } }));
    matcher.set(rule('ext-absent', { ext: [{ exists: false }] }));
    matcher.set(rule('constructor', { constructor: [{ exists: true }] }));
    assert.deepEqual(names(matcher.match(event('{"a":"x"}'))), ['ext-absent', 'no-subject', 'source']);
    assert.deepEqual(names(matcher.match(event('{"a":"y"}', ',"subject":"subject","ext":7'))), [
      'ext',
      'source',
      'subject',
    ]);
  });

  it('checks a CESQL filter on the event and a pattern on its selected data together', () => {
    const matcher = new RuleMatcher();
    matcher.set(rule('both', { data: { a: ['x'] } }, { filter: "type = 't'" } as Partial<Rule>));
    assert.deepEqual(names(matcher.match(event('{"a":"x"}'))), ['both']);
  });

  it('answers as the index does on the fully parsed event, for random data and patterns', () => {
    const key = fc.constantFrom('a', 'b', 'c.d', '');
    const leaf = fc.oneof(
      fc.constantFrom('x', 'y', '10.0.0.1', '', 'X'),
      fc.constantFrom(0, 1, -1, 1.5, 100),
      fc.constantFrom(true, false, null),
    );
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(key, tie('value'), { maxKeys: 3 }),
      ),
    })).value;
    const matcherArb = fc.oneof(
      leaf.map((v) => [v]),
      fc.constantFrom(
        [{ exists: true }],
        [{ exists: false }],
        [{ prefix: 'x' }],
        [{ numeric: ['>', 0] }],
        [{ 'anything-but': 'x' }],
        [{ 'equals-ignore-case': 'x' }],
        [{ cidr: '10.0.0.0/8' }],
        [{ wildcard: '*' }],
      ),
    );
    const path = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { minLength: 1, maxLength: 3 });
    const patternArb = fc.array(fc.tuple(path, matcherArb), { minLength: 1, maxLength: 3 }).map((fields) => {
      const data: Record<string, unknown> = {};
      for (const [segments, m] of fields) {
        let node = data;
        for (const seg of segments.slice(0, -1)) {
          const next = node[seg];
          node[seg] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {};
          node = node[seg] as Record<string, unknown>;
        }
        node[segments.at(-1) as string] = m;
      }
      return { data };
    });
    fc.assert(
      fc.property(json, fc.array(patternArb, { minLength: 1, maxLength: 4 }), (value, patterns) => {
        const text = JSON.stringify(value);
        const matcher = new RuleMatcher();
        const index = new PatternIndex();
        const valid: string[] = [];
        patterns.forEach((p, i) => {
          try {
            index.add(`r${i}`, p);
          } catch {
            return; // an invalid combination (e.g. a path that is both a leaf and an object)
          }
          matcher.set(rule(`r${i}`, p));
          valid.push(`r${i}`);
        });
        const e = event(text);
        const full = {
          specversion: '1.0',
          id: 'e',
          source: 's',
          type: 't',
          data: parseEventText(text),
        };
        assert.deepEqual(names(matcher.match(e)), index.match(full).sort());
      }),
      { numRuns: 1500, seed: 3122026 },
    );
  });
});
