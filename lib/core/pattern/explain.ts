/** Explain: for a pattern and an event, which field and which condition failed, and what the event held there. */
import { compilePattern } from './compile.ts';
import { describeMatcher, matchLeaf } from './leaf.ts';
import type { FieldCondition } from './model.ts';
import type { FlatLeaf } from './reference.ts';
import { flattenNormalized } from './reference.ts';
import { normalizeEvent, satisfiesNormalized } from './satisfy.ts';

/** One failing field of one branch. */
export interface Explanation {
  /** The dotted path into the event, e.g. `data.total`. */
  readonly path: string;
  /** The condition as written, e.g. `numeric [">", 100]`; alternatives are joined with ` | `. */
  readonly condition: string;
  /** What the event holds at the path (one value, or a list when several leaves share the path). */
  readonly actual?: unknown;
  readonly reason: string;
  /** Which sub-pattern (`$or` branch, in expansion order) this belongs to, when there are several. */
  readonly branch?: number;
}

function describeField(f: FieldCondition): string {
  return f.mode === 'absent' ? 'exists false' : f.matchers.map(describeMatcher).join(' | ');
}

/**
 * Matches `pattern` against `event` (any JSON object) and, when it does not match, says why: one explanation per
 * failing field, per `$or` branch. Linear in the event and the pattern (safe for user input). Throws `JunctionError('InvalidPattern')`,
 * or `InvalidRequest` for an event nested deeper than `MAX_EVENT_DEPTH` levels.
 */
export function explain(pattern: unknown, event: unknown): { matches: boolean; explanation: Explanation[] } {
  const compiled = compilePattern(pattern);
  const tree = normalizeEvent(event);
  const byPath = new Map<string, FlatLeaf[]>();
  for (const leaf of flattenNormalized(tree)) {
    const list = byPath.get(leaf.path);
    if (list === undefined) byPath.set(leaf.path, [leaf]);
    else list.push(leaf);
  }
  const many = compiled.subPatterns.length > 1;
  const explanation: Explanation[] = [];
  for (const [i, sub] of compiled.subPatterns.entries()) {
    if (satisfiesNormalized(sub, tree)) return { matches: true, explanation: [] };
    const branch = many ? { branch: i } : {};
    let failed = false;
    for (const f of sub.fields) {
      const here = byPath.get(f.path) ?? [];
      const values = here.map((l) =>
        l.leaf.kind === 'n' ? (l.leaf.value ?? l.leaf.text) : leafValue(l.leaf.kind, l.leaf.text),
      );
      const actual = values.length === 1 ? values[0] : values;
      const condition = describeField(f);
      if (f.mode === 'absent') {
        if (here.length > 0) {
          failed = true;
          explanation.push({
            path: f.path,
            condition,
            actual,
            reason: 'the field is present but must not exist',
            ...branch,
          });
        }
      } else if (here.length === 0) {
        failed = true;
        explanation.push({
          path: f.path,
          condition,
          reason: 'the field is missing (or holds no value, only objects or empty arrays)',
          ...branch,
        });
      } else if (!here.some((l) => f.matchers.some((m) => matchLeaf(m, l.leaf)))) {
        failed = true;
        explanation.push({
          path: f.path,
          condition,
          actual,
          reason: 'no value at this path satisfies the condition',
          ...branch,
        });
      }
    }
    if (!failed) {
      const first = sub.fields[0];
      explanation.push({
        path: first?.path ?? '',
        condition: sub.fields.map((f) => `${f.path}: ${describeField(f)}`).join(', '),
        reason:
          'each field matches somewhere, but not within one element of the arrays they share (matching is array-consistent)',
        ...branch,
      });
    }
  }
  return { matches: false, explanation };
}

function leafValue(kind: string, text: string): unknown {
  if (kind === 's') return text;
  if (kind === 't') return true;
  if (kind === 'f') return false;
  return null;
}
