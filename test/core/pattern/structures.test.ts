/** The lookup structures: the character trie and the interval index, against brute force. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CharTrie, FilteredMap, IntervalIndex } from '../../../lib/core/pattern/structures.ts';

describe('CharTrie', () => {
  it('reports every key that is a prefix of the value', () => {
    const trie = new CharTrie<string>();
    for (const k of ['', 'a', 'ab', 'abc', 'b']) trie.add(k, k);
    const seen: string[] = [];
    trie.collect('abd', (k) => seen.push(k));
    assert.deepEqual(seen, ['', 'a', 'ab']);
  });

  it('reads keys and values from the end when backward, surrogate pairs included', () => {
    const trie = new CharTrie<string>(true);
    for (const k of ['z', 'yz', '😀z', 'x']) trie.add(k, k);
    const seen: string[] = [];
    trie.collect('a😀z', (k) => seen.push(k));
    assert.deepEqual(seen, ['z', '😀z']);
  });

  it('forgets removed keys and prunes empty branches', () => {
    const trie = new CharTrie<string>();
    trie.add('abc', 'abc');
    trie.remove('abc', 'abc');
    assert.equal(trie.isEmpty, true);
  });
});

describe('IntervalIndex', () => {
  it('finds exactly the ranges that contain a point, through adds and removes', () => {
    // Weighted towards adds, so that an index grows to tens of ranges: the tree is built when more than 32 + √n
    // changes wait (adds, or removes of ranges in the tree), or when a 'put' gives an id used before (live or
    // removed) a new range. Puts make every lookup rebuild, so some runs have none.
    const range = {
      a: fc.integer({ min: -20, max: 20 }),
      b: fc.integer({ min: -20, max: 20 }),
      li: fc.boolean(),
      hi: fc.boolean(),
    };
    const add = fc.record({ kind: fc.constant('add' as const), ...range });
    const put = fc.record({ kind: fc.constant('put' as const), at: fc.nat(), ...range });
    const remove = fc.record({ kind: fc.constant('remove' as const), at: fc.nat() });
    const query = fc.record({ kind: fc.constant('query' as const), x: fc.integer({ min: -22, max: 22 }) });
    // size 'max': fast-check's default size keeps arrays to ~10 items whatever maxLength says, and then no index
    // ever held more than 32 + √n pending changes: the tree was never built, only the pending list was searched.
    const changes = (puts: number) =>
      fc.array(
        fc.oneof(
          { weight: 4, arbitrary: add },
          { weight: puts, arbitrary: put },
          { weight: 2, arbitrary: remove },
          { weight: 3, arbitrary: query },
        ),
        { maxLength: 300, size: 'max' },
      );
    // Grows, then mostly removes: more than 32 + √n ranges removed from the tree make a lookup rebuild it.
    const drain = fc
      .tuple(
        changes(0),
        fc.array(fc.oneof({ weight: 3, arbitrary: remove }, { weight: 1, arbitrary: query }), {
          maxLength: 150,
          size: 'max',
        }),
      )
      .map(([grow, shrink]) => [...grow, ...shrink]);
    fc.assert(
      fc.property(fc.oneof(changes(0), changes(1), drain), (ops) => {
        const index = new IntervalIndex<number, number>();
        const live = new Map<number, { low: number; high: number; li: boolean; hi: boolean }>();
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'add' || o.kind === 'put') {
            const r = { low: Math.min(o.a, o.b), high: Math.max(o.a, o.b), li: o.li, hi: o.hi };
            // put: an id used before (live or removed) gets a new range.
            const item = o.kind === 'put' && id > 0 ? o.at % id : id++;
            index.add({ low: r.low, high: r.high, lowInclusive: r.li, highInclusive: r.hi, item });
            live.set(item, r);
          } else if (o.kind === 'remove') {
            const ids = [...live.keys()];
            if (ids.length === 0) continue;
            const victim = ids[o.at % ids.length] as number;
            index.remove(victim);
            live.delete(victim);
          } else {
            const got: number[] = [];
            index.collect(o.x, (i) => got.push(i));
            const want = [...live]
              .filter(([, r]) => (r.li ? o.x >= r.low : o.x > r.low) && (r.hi ? o.x <= r.high : o.x < r.high))
              .map(([i]) => i);
            assert.deepEqual(
              got.sort((a, b) => a - b),
              want.sort((a, b) => a - b),
            );
          }
        }
        assert.equal(index.size, live.size);
      }),
      { numRuns: 300 },
    );
  });
});

describe('FilteredMap', () => {
  it('answers like a Map through growth past the filter threshold and many deletes', () => {
    const map = new FilteredMap<number>();
    const plain = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      map.set(`k${i}`, i);
      plain.set(`k${i}`, i);
      if (i % 3 === 0) {
        map.delete(`k${i >> 1}`);
        plain.delete(`k${i >> 1}`);
      }
    }
    for (let i = 0; i < 6000; i++) {
      map.delete(`k${i}`);
      plain.delete(`k${i}`);
    }
    assert.equal(map.size, plain.size);
    for (let i = 0; i < 12_000; i++) assert.equal(map.get(`k${i}`), plain.get(`k${i}`));
  });
});
