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
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        a: fc.integer({ min: -20, max: 20 }),
        b: fc.integer({ min: -20, max: 20 }),
        li: fc.boolean(),
        hi: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('query' as const), x: fc.integer({ min: -22, max: 22 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const index = new IntervalIndex<number, number>();
        const live = new Map<number, { low: number; high: number; li: boolean; hi: boolean }>();
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'add') {
            const r = { low: Math.min(o.a, o.b), high: Math.max(o.a, o.b), li: o.li, hi: o.hi };
            index.add({ low: r.low, high: r.high, lowInclusive: r.li, highInclusive: r.hi, item: id });
            live.set(id++, r);
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
