/** The fixed regression cases of the event-ruler differential: Junction's three matchers give the expected answer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  explain,
  matchesPattern,
  PatternIndex,
  parseEventText,
  parsePatternText,
} from '../../../lib/core/pattern/index.ts';
import { type Answer, REGRESSIONS } from './event-ruler-regressions.ts';

/** Junction's answer through one matcher. */
function answer(patternText: string, eventText: string, matcher: 'index' | 'reference' | 'explain'): Answer {
  let pattern: unknown;
  const index = new PatternIndex();
  try {
    pattern = parsePatternText(patternText);
    index.add('p', pattern);
  } catch {
    return 'invalid';
  }
  const event = parseEventText(eventText);
  if (matcher === 'index') return index.match(event).length > 0;
  if (matcher === 'reference') return matchesPattern(pattern, event);
  return explain(pattern, event).matches;
}

describe('event-ruler regression cases', () => {
  for (const c of REGRESSIONS) {
    it(`${c.class}: ${c.pattern} ~ ${c.event} → ${c.expected}`, () => {
      for (const matcher of ['index', 'reference', 'explain'] as const) {
        assert.equal(answer(c.pattern, c.event, matcher), c.expected, matcher);
      }
    });
  }
});
