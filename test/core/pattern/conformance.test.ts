/** Conformance with AWS's event-ruler corpus: every case, through the compiled index and the reference interpreter. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isJunctionError } from '../../../lib/core/errors.ts';
import {
  compilePattern,
  matchesPattern,
  PatternIndex,
  parseJsonPreservingNumbers,
  validatePattern,
} from '../../../lib/core/pattern/index.ts';
import { corpusDir } from '../../helpers/paths.ts';

const rulerDir = join(corpusDir, 'event-ruler');
const derived = (name: string): unknown => JSON.parse(readFileSync(join(rulerDir, 'derived', name), 'utf8'));
const upstream = (path: string): unknown =>
  parseJsonPreservingNumbers(readFileSync(join(rulerDir, path), 'utf8'));

interface Case {
  id: string;
  pattern: unknown;
  event: unknown;
  matches: boolean;
  pattern_text?: string;
  event_text?: string;
  flags?: string[];
}

/**
 * Cases whose outcome Junction decides differently from event-ruler, by id, with Junction's outcome. Listed with
 * the reason in docs/patterns.md ("Flagged cases").
 */
const REJECTED_CASES = new Set(['s0045', 's0046']);

/** Patterns of pattern-validity.json that Junction decides differently (JSON text → Junction accepts?). */
const VALIDITY_DECISIONS = new Map<string, boolean>([
  ['{"$or":[{"cidr":"10.0.0.0/24"}]}', false],
  [
    '{"source":["aws.cloudwatch"],"$or":{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"]}}',
    false,
  ],
  [
    '{"time":[{"prefix":"2017-10-02"}],"detail":{"$or":[{"numeric":[">",0,"<=",5]},{"cidr":"10.0.0.0/8"}]}}',
    false,
  ],
  ['{"detail":{"$or":[{"numeric":[">",0,"<=",5]},{"numeric":[">",10]}]}}', false],
  ['{"a":[{"numeric":[">",1.7976931348623157e+308]}]}', true],
]);

function patternOf(c: { pattern: unknown; pattern_text?: string }): unknown {
  return c.pattern_text === undefined ? c.pattern : parseJsonPreservingNumbers(c.pattern_text);
}

function eventOf(c: { event: unknown; event_text?: string }): unknown {
  return c.event_text === undefined ? c.event : parseJsonPreservingNumbers(c.event_text);
}

function rejects(pattern: unknown): boolean {
  try {
    validatePattern(pattern);
    return false;
  } catch (error) {
    assert.ok(isJunctionError(error), `a rejection is a JunctionError, got ${String(error)}`);
    assert.equal(error.code, 'InvalidPattern');
    assert.ok(error.path?.startsWith('pattern'), `the error has a path into the pattern: ${error.path}`);
    return true;
  }
}

function runCases(file: string): void {
  const cases = derived(file) as Case[];
  it(`matches every case of ${file} with the compiled index and the reference interpreter`, () => {
    const failures: string[] = [];
    for (const c of cases) {
      const pattern = patternOf(c);
      const event = eventOf(c);
      if (REJECTED_CASES.has(c.id)) {
        assert.ok(rejects(pattern), `${c.id} is rejected under Junction's policy`);
        continue;
      }
      const index = new PatternIndex();
      index.add(c.id, pattern);
      const viaIndex = index.match(event).includes(c.id);
      const viaReference = matchesPattern(pattern, event);
      if (viaIndex !== c.matches || viaReference !== c.matches) {
        failures.push(`${c.id}: want ${c.matches}, index ${viaIndex}, reference ${viaReference}`);
      }
    }
    assert.deepEqual(failures, []);
  });
  it(`matches every case of ${file} with all of its patterns in one index`, () => {
    const index = new PatternIndex();
    const kept = cases.filter((c) => !REJECTED_CASES.has(c.id));
    for (const c of kept) index.add(c.id, patternOf(c));
    const failures = kept
      .filter((c) => index.match(eventOf(c)).includes(c.id) !== c.matches)
      .map((c) => c.id);
    assert.deepEqual(failures, []);
  });
}

describe('event-ruler corpus', () => {
  runCases('cases.json');
  runCases('cases-supplement.json');

  it('agrees with every expected value of correctness-cases.expected.json', () => {
    const cases = derived('correctness-cases.expected.json') as {
      name: string;
      rule: unknown;
      event: unknown;
      matches: boolean;
    }[];
    assert.equal(cases.length, 51);
    const index = new PatternIndex();
    cases.forEach((c, i) => {
      index.add(String(i), c.rule);
    });
    const failures = cases
      .map((c, i) => ({ c, i }))
      .filter(
        ({ c, i }) =>
          index.match(c.event).includes(String(i)) !== c.matches ||
          matchesPattern(c.rule, c.event) !== c.matches,
      )
      .map(({ c }) => c.name);
    assert.deepEqual(failures, []);
  });

  it('agrees with the rule-file × event-file matrix of data-file-expectations.json', () => {
    const expectations = derived('data-file-expectations.json') as {
      matrix: { pattern_file: string; event_file: string; matches: boolean }[];
    };
    assert.equal(expectations.matrix.length, 25);
    for (const m of expectations.matrix) {
      const pattern = upstream(m.pattern_file);
      const event = upstream(m.event_file);
      const index = new PatternIndex();
      index.add('r', pattern);
      assert.equal(index.match(event).length === 1, m.matches, `${m.pattern_file} × ${m.event_file}`);
      assert.equal(
        matchesPattern(pattern, event),
        m.matches,
        `reference: ${m.pattern_file} × ${m.event_file}`,
      );
    }
  });

  it('accepts every $or rule of orRelationshipRules.json with the expected number of sub-patterns', () => {
    const expectations = derived('data-file-expectations.json') as Record<
      string,
      { expected_subrule_counts: number[] }
    >;
    const rules = upstream('upstream/src/test/data/orRelationshipRules.json') as unknown[];
    const counts = rules.map((r) => compilePattern(r).subPatterns.length);
    assert.deepEqual(counts, expectations['orRelationshipRules.json']?.expected_subrule_counts);
  });

  it('rejects both rules of wrongOrRelationshipRules.json', () => {
    const rules = upstream('upstream/src/test/data/wrongOrRelationshipRules.json') as unknown[];
    assert.equal(rules.length, 2);
    for (const r of rules) assert.ok(rejects(r));
  });

  it('rejects the legacy "$or as a field name" rules of normalRulesWithOrWording.json (Junction policy)', () => {
    const rules = upstream('upstream/src/test/data/normalRulesWithOrWording.json') as unknown[];
    assert.equal(rules.length, 4);
    for (const r of rules) assert.ok(rejects(r));
  });

  it('agrees with every accept/reject of pattern-validity.json (documented decisions aside)', () => {
    const entries = derived('pattern-validity.json') as {
      pattern: unknown;
      pattern_text?: string;
      machine_addRule_accepts: boolean;
    }[];
    assert.equal(entries.length, 265);
    const failures: string[] = [];
    let decided = 0;
    for (const e of entries) {
      let pattern: unknown;
      let accepted: boolean;
      try {
        pattern = patternOf(e);
        accepted = !rejects(pattern);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        accepted = false;
      }
      const key = JSON.stringify(e.pattern);
      const want = VALIDITY_DECISIONS.get(key) ?? e.machine_addRule_accepts;
      if (VALIDITY_DECISIONS.has(key)) decided++;
      if (accepted !== want) failures.push(`${key}: want ${want}`);
    }
    assert.deepEqual(failures, []);
    assert.equal(decided, VALIDITY_DECISIONS.size);
  });
});
