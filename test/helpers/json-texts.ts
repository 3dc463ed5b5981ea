/** Generated JSON and near-JSON texts for property tests of the JSON scanners, and JSON.parse as the judge. */
import fc from 'fast-check';

/** Whether `JSON.parse` takes the text: what every scanner must agree with. */
export function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Near-JSON texts: documents from `documents`, then with one character of `alphabet` inserted or put in place of
 * another, or one character removed.
 */
export function mutatedJson(documents: fc.Arbitrary<string>, alphabet: string): fc.Arbitrary<string> {
  return fc
    .tuple(documents, fc.nat(), fc.nat(alphabet.length - 1), fc.integer({ min: 0, max: 2 }))
    .map(([text, at, pick, how]) => {
      const i = at % (text.length + 1);
      const c = alphabet[pick] ?? ' ';
      if (how === 0) return text.slice(0, i) + c + text.slice(i);
      if (how === 1) return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + c + text.slice(i + 1);
    });
}

/** Valid ASCII JSON texts at the edges of the grammar (numbers, escapes, whitespace, nesting). */
export const VALID_JSON: readonly string[] = [
  '0',
  '-0',
  '1e5',
  '1E+5',
  '-1.5e-10',
  '-1.5E-10',
  '"\\u00e9\\ud800"',
  '"\\"\\\\\\/\\b\\f\\n\\r\\t"',
  ' \t\n\r[ ] ',
  '{"a":{"b":[true,false,null]}}',
  '"x\u007f"',
  `"${'a'.repeat(40)}"`,
];

/** ASCII texts JSON.parse rejects, each one step away from valid JSON. */
export const INVALID_JSON: readonly string[] = [
  '',
  ' ',
  '01',
  '1.',
  '.5',
  '+1',
  '1e',
  '-',
  '"\\x"',
  '"\\u12"',
  '"a\tb"',
  '"abc',
  `"${'a'.repeat(40)}`,
  '[1,]',
  '{"a":1,}',
  '{"a" 1}',
  '{a:1}',
  'tru',
  'nul',
  'falsy',
  '[1 2]',
  '{} {}',
  '\u000b1',
];
