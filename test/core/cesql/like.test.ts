/** The LIKE matcher: wildcards, escapes, code points, and agreement with a reference matcher on random input. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compileLike, matchLike } from '../../../lib/core/cesql/like.ts';

const like = (value: string, pattern: string) => matchLike(value, compileLike(pattern));

/** Dynamic programming over (value, pattern) positions: slow but obviously right. */
function reference(value: string, pattern: string): boolean {
  const v = Array.from(value);
  const tokens: Array<{ any: boolean; many: boolean; char?: string }> = [];
  const p = Array.from(pattern);
  for (let i = 0; i < p.length; i += 1) {
    const c = p[i]!;
    const next = p[i + 1];
    if (c === '\\' && (next === '%' || next === '_' || next === '\\')) {
      tokens.push({ any: false, many: false, char: next });
      i += 1;
    } else if (c === '%') tokens.push({ any: true, many: true });
    else if (c === '_') tokens.push({ any: true, many: false });
    else tokens.push({ any: false, many: false, char: c });
  }
  let row = new Array<boolean>(v.length + 1).fill(false);
  row[0] = true;
  for (const token of tokens) {
    const next = new Array<boolean>(v.length + 1).fill(false);
    for (let j = 0; j <= v.length; j += 1) {
      if (token.many) next[j] = row[j]! || (j > 0 && next[j - 1]!);
      else if (j > 0) next[j] = row[j - 1]! && (token.any || v[j - 1] === token.char);
    }
    row = next;
  }
  return row[v.length]!;
}

test('matches literal text exactly', () => {
  assert.equal(like('abc', 'abc'), true);
  assert.equal(like('abcd', 'abc'), false);
  assert.equal(like('', ''), true);
});

test('matches % against any run of characters, including none', () => {
  assert.equal(like('abc', '%'), true);
  assert.equal(like('', '%'), true);
  assert.equal(like('a.b.c', 'a%c'), true);
  assert.equal(like('ab', 'a%%b'), true);
  assert.equal(like('aXbXc', '%b%'), true);
  assert.equal(like('ac', 'a%b%c'), false);
});

test('matches _ against exactly one character, a whole code point', () => {
  assert.equal(like('a😀c', 'a_c'), true);
  assert.equal(like('ac', 'a_c'), false);
  assert.equal(like('😀', '_'), true);
});

test('treats \\%, \\_ and \\\\ as literals and any other backslash as itself', () => {
  assert.equal(like('50%', '50\\%'), true);
  assert.equal(like('500', '50\\%'), false);
  assert.equal(like('a_b', 'a\\_b'), true);
  assert.equal(like('axb', 'a\\_b'), false);
  assert.equal(like('a\\b', 'a\\\\b'), true);
  assert.equal(like('a\\c', 'a\\c'), true);
});

test('overlapping segments are found at their leftmost place without backtracking', () => {
  assert.equal(like('aaab', '%aab'), true);
  assert.equal(like('abab', '%ab%ab'), true);
  assert.equal(like('xaaaaaaaaaaaaaaaaaaaaaaaaaaaaay', '%a%a%a%a%a%a%a%a%a%a%a%a%z'), false);
});

test('agrees with a reference matcher on random values and patterns', () => {
  const alphabet = fc.constantFrom('a', 'b', '%', '_', '\\', '😀');
  const text = fc.array(alphabet, { maxLength: 12 }).map((chars) => chars.join(''));
  fc.assert(
    fc.property(text, text, (value, pattern) => like(value, pattern) === reference(value, pattern)),
    { numRuns: 3000 },
  );
});

test('agrees with the reference on segments longer than one 32-bit word', () => {
  // size 'max': fast-check's default size keeps arrays to ~10 items whatever maxLength says, so no segment was ever
  // longer than 32 characters. A random long segment never occurs in a random value: two runs in three put it (or a
  // one-character near miss of it) into the value, so that long segments match and barely fail to match.
  const long = (alphabet: string[], maxLength: number) =>
    fc
      .array(fc.constantFrom(...alphabet), { minLength: 0, maxLength, size: 'max' })
      .map((chars) => chars.join(''));
  let longMatches = 0;
  let longMisses = 0;
  fc.assert(
    fc.property(
      long(['a', 'b'], 120),
      long(['a', 'a', 'a', 'b', '_'], 70),
      fc.constantFrom('random', 'embedded', 'near miss'),
      fc.nat(),
      fc.nat(),
      (random, segment, how, at, flip) => {
        let value = random;
        if (how !== 'random' && segment.length > 0) {
          const chars = Array.from(segment.replaceAll('_', 'b'));
          if (how === 'near miss') {
            const i = flip % chars.length;
            if (segment[i] !== '_') chars[i] = chars[i] === 'a' ? 'b' : 'a';
          }
          const k = at % (random.length + 1);
          value = random.slice(0, k) + chars.join('') + random.slice(k);
        }
        const pattern = `%${segment}%`;
        const expected = reference(value, pattern);
        if (segment.length > 32) {
          if (expected) longMatches++;
          else longMisses++;
        }
        return like(value, pattern) === expected;
      },
    ),
    { numRuns: 1500 },
  );
  // Enough long segments of both outcomes were compared (about 280 and 470 in 1500 runs).
  assert.ok(
    longMatches > 150 && longMisses > 150,
    `long segments: ${longMatches} matched, ${longMisses} did not`,
  );
  const value = `${'ab'.repeat(40)}c${'ab'.repeat(40)}`;
  assert.equal(like(value, `%${'ab'.repeat(20)}c${'ab'.repeat(20)}%`), true);
  assert.equal(like(value, `%${'ab'.repeat(20)}_c${'ab'.repeat(20)}%`), false);
});
