/** The selective reader: only the members a trie names, numbers with their lexeme, the same answer as a full parse. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type FieldTrie, fieldTrie, selectJson } from '../../../lib/core/codec/json-select.ts';
import { loadAscii, NamesBlock, skipInMemory } from '../../../lib/core/codec/json-wasm.ts';
import { JsonNumber, parseEventText, RepeatedKey } from '../../../lib/core/pattern/index.ts';

/**
 * A trie from paths (a path ending at a node makes it whole), its names tables in one block as the router's
 * (`fieldTrieOf`) are, or (`copied`) each copied into the module's memory a call.
 */
function trie(...paths: string[][]): FieldTrie {
  return trieOf(paths, new NamesBlock());
}

function copiedTrie(...paths: string[][]): FieldTrie {
  return trieOf(paths, undefined);
}

function trieOf(paths: string[][], block: NamesBlock | undefined): FieldTrie {
  type Node = { children: Map<string, Node>; whole: boolean };
  const root: Node = { children: new Map(), whole: false };
  for (const path of paths) {
    let node = root;
    for (const seg of path) {
      let child = node.children.get(seg);
      if (child === undefined) {
        child = { children: new Map(), whole: false };
        node.children.set(seg, child);
      }
      node = child;
    }
    node.whole = true;
  }
  const build = (node: Node): FieldTrie =>
    fieldTrie(new Map([...node.children].map(([name, child]) => [name, build(child)])), node.whole, block);
  return build(root);
}

/** What the selection must equal: the full value, pruned to the trie in every object on its paths. */
function prune(value: unknown, node: FieldTrie): unknown {
  if (node.whole) return value;
  if (value instanceof RepeatedKey) return new RepeatedKey(value.values.map((v) => prune(v, node)));
  if (Array.isArray(value)) return value.map((v) => prune(v, node));
  if (typeof value !== 'object' || value === null || value instanceof JsonNumber) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const child = node.children.get(key);
    if (child !== undefined)
      Object.defineProperty(out, key, {
        value: prune(v, child),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else if (key.includes('.'))
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

describe('selectJson', () => {
  it('keeps the named members and drops the rest, at any depth and through arrays', () => {
    const text = '{"a":{"b":1,"c":[1,2,{"x":"y"}]},"d":[{"e":true,"f":null},{"e":false}],"g":"skip \\" me"}';
    assert.deepEqual(selectJson(text, trie(['a', 'b'], ['d', 'e'])), {
      a: { b: 1 },
      d: [{ e: true }, { e: false }],
    });
    assert.deepEqual(selectJson(text, trie(['a'])), { a: { b: 1, c: [1, 2, { x: 'y' }] } });
    assert.deepEqual(selectJson(text, trie(['g'])), { g: 'skip " me' });
    assert.deepEqual(selectJson(text, trie()), {});
  });

  it('finds members among many names (compared by hash) as among few (compared in place)', () => {
    const names = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const text = JSON.stringify(Object.fromEntries(names.map((n, i) => [n, i])));
    const expected = Object.fromEntries(names.map((n, i) => [n, i]).filter((_, i) => i % 2 === 0));
    assert.deepEqual(
      selectJson(text, trie(...names.filter((_, i) => i % 2 === 0).map((n) => [n]))),
      expected,
    );
    assert.deepEqual(selectJson(text, trie(['k3'], ['k13'])), { k3: 3, k13: 13 });
  });

  it('steps over long skipped values in the WebAssembly module as in JS: brackets in strings, escapes, nesting', () => {
    const noise = JSON.stringify({
      s: 'brackets ] } [ { inside, a quote " and a backslash \\',
      deep: [[[{ a: [1, 2, { b: '}' }] }]]],
      e: '\\',
    });
    const text = `{"skip":${noise.repeat(1).replace(/^/, '')},"list":[${Array(20).fill(noise).join(',')}],"keep":{"x":1},"after":"]"}`;
    assert.ok(text.length > 256);
    assert.deepEqual(selectJson(text, trie(['keep', 'x'], ['after'])), { keep: { x: 1 }, after: ']' });
    const nonAscii = text.replace('"x":1', '"x":"é"');
    assert.deepEqual(selectJson(nonAscii, trie(['keep', 'x'])), { keep: { x: 'é' } });
  });

  it('reads the names tables of a trie from its block, and those of nodes built in another trie by copying', () => {
    const pad = 'p'.repeat(300);
    const text = JSON.stringify({ pad, x: { a: { b: 1, c: 2 }, d: 3 }, y: { b: 4, zz: 5 } });
    const own = trie(['x', 'a', 'b'], ['y', 'zz']);
    assert.deepEqual(selectJson(text, own), { x: { a: { b: 1 } }, y: { zz: 5 } });
    // A root without a block over a node of `other`'s block: the node's table is not in what was copied.
    const other = trie(['zz'], ['b']);
    const joined = fieldTrie(new Map([['y', other]]), false);
    assert.equal(other.tableAt >= 0 && joined.block === undefined, true);
    // Another trie's block, of other names, copied at the same place just before.
    assert.deepEqual(selectJson(text, trie(['pad'], ['x', 'd'])), { pad, x: { d: 3 } });
    assert.deepEqual(selectJson(text, joined), { y: { b: 4, zz: 5 } });
  });

  it('keeps members whose name holds a dot whole (a pattern may address them as a dotted path)', () => {
    assert.deepEqual(selectJson('{"a.b":{"c":1},"z":2}', trie(['a', 'b', 'c'])), { 'a.b': { c: 1 } });
  });

  it('decodes escaped names and values, and keeps every value of a repeated name, as parseEventText does', () => {
    const text = '{ "k\\u0065y" : "v\\u00e9\\n" , "key": "last", "other": {"key": 1} }';
    assert.deepEqual(selectJson(text, trie(['key'])), { key: new RepeatedKey(['v\u00e9\n', 'last']) });
    assert.deepEqual(
      selectJson('{"q":"a\\\\","n":1}', trie(['n'])),
      { n: 1 },
      'a value ending in an escaped backslash',
    );
    const repeated = '{"a":{"b":1,"z":0},"a":{"c":2},"x":1,"x":[2],"x":{"y":3},"skip":1,"skip":2}';
    const t = trie(['a', 'b'], ['a', 'c'], ['x', 'y']);
    assert.deepEqual(selectJson(repeated, t), prune(parseEventText(repeated), t));
    assert.deepEqual(selectJson(repeated, t), {
      a: new RepeatedKey([{ b: 1 }, { c: 2 }]),
      x: new RepeatedKey([1, [2], { y: 3 }]),
    });
  });

  it('keeps __proto__ as an own member, never as the prototype', () => {
    const selected = selectJson('{"__proto__":{"polluted":true}}', trie(['__proto__'])) as object;
    assert.equal(Object.getPrototypeOf(selected), Object.prototype);
    assert.deepEqual(Object.keys(selected), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('keeps the lexeme of numbers a double would change', () => {
    const selected = selectJson(
      '{"a":1.50,"b":-0,"c":12345678901234567890,"d":3.0e2,"e":42,"f":-7.25}',
      trie(['a'], ['b'], ['c'], ['d'], ['e'], ['f']),
    ) as Record<string, unknown>;
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(selected).map(([k, v]) => [k, v instanceof JsonNumber ? `lexeme ${v.lexeme}` : v]),
      ),
      {
        a: 'lexeme 1.50',
        b: 'lexeme -0',
        c: 'lexeme 12345678901234567890',
        d: 'lexeme 3.0e2',
        e: 42,
        f: -7.25,
      },
    );
  });

  it('reads nesting deeper than its recursion bound without recursing further', () => {
    const depth = 600;
    const text = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    let expected: unknown = 1;
    for (let i = 0; i < depth; i++) expected = { a: expected };
    assert.deepEqual(selectJson(text, trie(Array.from({ length: depth + 5 }, () => 'a'))), expected);
    assert.deepEqual(selectJson(text, trie(['a'])), expected);
    assert.deepEqual(
      selectJson(`[${text},{"b":[${'['.repeat(depth)}${']'.repeat(depth)}]}]`, trie(['a', 'a'])),
      [{ a: { a: (expected as { a: { a: unknown } }).a.a } }, {}],
    );
  });

  it('equals the full parse pruned to the trie, for any JSON text and any paths', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'a.b', '', '__proto__', 'é', 'x"y');
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(null, true, false, 0, -0.5, 1.5, 12345678901234567000, 1e21),
        fc.string({ maxLength: 6 }),
        fc.constantFrom('1.50', '-0', '3.0e2', '9007199254740993').map((n) => ({ __raw: n })),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const pathArb = fc.array(fc.array(key, { minLength: 1, maxLength: 3 }), { maxLength: 4 });
    fc.assert(
      fc.property(json, pathArb, fc.boolean(), (value, paths, spaced) => {
        const text = JSON.stringify(value, null, spaced ? 1 : undefined).replace(
          /\{\s*"__raw":\s*"([^"]+)"\s*\}/g,
          '$1',
        );
        const t = trie(...paths);
        const expected = prune(parseEventText(text), t);
        assert.deepEqual(selectJson(text, t), expected);
        // Long enough to be stepped over in the WebAssembly module's memory (when ASCII).
        assert.deepEqual(selectJson(`${' '.repeat(300)}${text}`, t), expected);
      }),
      { numRuns: 2000, seed: 20261203 },
    );
  });

  it('reads objects in the WebAssembly module as in JS: long strings, escaped and dotted names, many members', () => {
    // In the module's memory (ASCII texts of 256 characters and more) the module lists an object's members and JS
    // reads only the kept ones; the answer must be the full parse pruned to the trie, as for the JS walk.
    const char = fc.constantFrom('a', '.', ' ', '"', '\\', '[', ']', '{', '}', ',', ':', '0');
    const text = fc.array(char, { maxLength: 40 }).map((chars) => chars.join(''));
    // Names around the module's 16-byte compare: shorter, equal, longer, and differing only in the last byte.
    const long = [
      'abcdefghijklmno',
      'abcdefghijklmnop',
      'abcdefghijklmnoq',
      'abcdefghijklmnopq',
      'a'.repeat(32),
    ];
    const key = fc.oneof(fc.constantFrom('a', 'b', 'a.b', 'x"y', 'k\\', '', ...long), text);
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(null, true, false, 0, -122.47628352090716, 1e21),
        text,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 6 }),
      ),
    })).value;
    const pathArb = fc.array(
      fc.array(fc.constantFrom('a', 'b', 'a.b', 'x"y', '', ...long), { minLength: 1, maxLength: 3 }),
      {
        maxLength: 4,
      },
    );
    fc.assert(
      fc.property(json, pathArb, fc.boolean(), fc.boolean(), (value, paths, spaced, escapeDot) => {
        let body = JSON.stringify(value, null, spaced ? 2 : undefined);
        // A name whose dot is written as an escape is a dotted name too.
        if (escapeDot) body = body.replaceAll('"a.b":', '"a\\u002eb":');
        const t = trie(...paths);
        const expected = prune(parseEventText(body), t);
        assert.deepEqual(selectJson(`${' '.repeat(300)}${body}`, t), expected, body);
        assert.deepEqual(selectJson(`${' '.repeat(300)}${body}`, copiedTrie(...paths)), expected, body);
      }),
      { numRuns: 2000, seed: 20261205 },
    );
    // More named members than the module records in one call (a repeated name): it stops and is resumed.
    const repeated = `{${Array.from({ length: 700 }, (_, i) => `"a":${i},"b":"${i}"`).join(',')}}`;
    const expected = prune(parseEventText(repeated), trie(['a']));
    assert.equal((expected as { a: RepeatedKey }).a.values.length, 700);
    assert.deepEqual(selectJson(repeated, trie(['a'])), expected);
    // An object of 300 members, the two named ones first and last: the module steps over the others between them.
    const many = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`m${i}`, { a: i, b: 'x'.repeat(i % 40) }]),
    );
    assert.deepEqual(selectJson(JSON.stringify({ a: many }), trie(['a', 'm299', 'a'], ['a', 'm0', 'b'])), {
      a: { m0: { b: '' }, m299: { a: 299 } },
    });
  });

  it('steps over any object or array in the WebAssembly module to just after its end, 16 bytes at a time or one', () => {
    // The SIMD skip takes blocks whole: brackets inside strings, quotes that pair up or not within a block,
    // backslashes, closing brackets that may end the value mid-block, values shorter and longer than a block,
    // at every alignment. The answer must be exactly where the value's text ends.
    const char = fc.constantFrom('a', ' ', '"', '\\', '[', ']', '{', '}', ',', ':', '0');
    const text = fc.array(char, { maxLength: 40 }).map((chars) => chars.join(''));
    const json = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(null, true, 0, -122.47628352090716, 1e21),
        text,
        fc.array(tie('value'), { maxLength: 6 }),
        fc.dictionary(text, tie('value'), { maxKeys: 5 }),
      ),
    })).value;
    const container = fc.oneof(fc.array(json, { maxLength: 8 }), fc.dictionary(text, json, { maxKeys: 8 }));
    fc.assert(
      fc.property(container, fc.nat({ max: 40 }), fc.boolean(), (value, pad, spaced) => {
        const body = JSON.stringify(value, null, spaced ? 2 : undefined);
        const whole = `${' '.repeat(pad)}${body},"after":[1]}`;
        assert.ok(loadAscii(whole));
        assert.equal(skipInMemory(pad, whole.length), pad + body.length, whole);
        // Cut before its last byte, the value has no end.
        const cut = `${' '.repeat(pad)}${body.slice(0, -1)}`;
        assert.ok(loadAscii(cut));
        assert.equal(skipInMemory(pad, cut.length), -1, cut);
      }),
      { numRuns: 3000, seed: 20261205 },
    );
  });
});
