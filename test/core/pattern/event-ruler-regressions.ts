/**
 * Fixed regression cases for the classes where Junction answered differently from event-ruler (issue #14 §1), as
 * JSON texts (so that repeated keys and number lexemes are kept). `expected` is Junction's answer: a match, no
 * match, or an invalid pattern. `ruler` is event-ruler 2.1.0's answer where it differs (a documented event-ruler
 * bug, see docs/patterns.md, "Where Junction and event-ruler differ"); otherwise event-ruler gives `expected`.
 * test/core/pattern/event-ruler-regressions.test.ts checks Junction's three matchers against `expected`;
 * test/peers/differential.test.ts checks the real event-ruler jar against `ruler ?? expected`.
 */

export type Answer = boolean | 'invalid';

export interface RegressionCase {
  /** The mismatch class (issue #14's table, or the policy entry). */
  readonly class: string;
  readonly pattern: string;
  readonly event: string;
  readonly expected: Answer;
  /** event-ruler's answer, when it is not `expected` (`varies`: it changes from one event-ruler process to another). */
  readonly ruler?: Answer | 'varies';
}

export const REGRESSIONS: readonly RegressionCase[] = [
  // A path given twice in one combination: the last one written wins.
  {
    class: 'path-twice',
    pattern: '{"$or":[{"a":["y"]},{"b":["z"]}],"a":["x"]}',
    event: '{"a":"y"}',
    expected: false,
  },
  {
    class: 'path-twice',
    pattern: '{"$or":[{"a":["y"]},{"b":["z"]}],"a":["x"]}',
    event: '{"a":"x","b":"z"}',
    expected: true,
  },
  {
    class: 'path-twice',
    pattern: '{"a":["x"],"$or":[{"a":["y"]},{"b":["z"]}]}',
    event: '{"a":"y"}',
    expected: true,
  },
  {
    class: 'path-twice',
    pattern: '{"a":["x"],"$or":[{"a":["y"]},{"b":["z"]}]}',
    event: '{"a":"x"}',
    expected: false,
  },
  {
    class: 'path-twice',
    pattern: '{"a.b":["x"],"a":{"b":["y"]}}',
    event: '{"a":{"b":"x"}}',
    expected: false,
  },
  { class: 'path-twice', pattern: '{"a":{"b":["y"]},"a.b":["x"]}', event: '{"a":{"b":"x"}}', expected: true },
  // Scalar elements of arrays carry no array membership.
  {
    class: 'array-scalars',
    pattern: '{"a":["x"],"a.b":["y"]}',
    event: '{"a":["x",{"b":"y"}]}',
    expected: true,
  },
  {
    class: 'array-scalars',
    pattern: '{"a":["x"],"a.b":["y"]}',
    event: '{"a":[{"b":"y"},["x"]]}',
    expected: false,
  },
  {
    class: 'array-scalars',
    pattern: '{"a":{"b":["x"],"c":["y"]}}',
    event: '{"a":[{"b":"x"},{"c":"y"}]}',
    expected: false,
  },
  // Repeated keys in the event: every value is kept.
  { class: 'event-repeated-key', pattern: '{"d":["A"]}', event: '{"d":"A","d":""}', expected: true },
  { class: 'event-repeated-key', pattern: '{"d":[""]}', event: '{"d":"A","d":""}', expected: true },
  {
    class: 'event-repeated-key',
    pattern: '{"d":{"x":[1],"y":[2]}}',
    event: '{"d":{"x":1},"d":{"y":2}}',
    expected: true,
  },
  {
    class: 'event-repeated-key',
    pattern: '{"d":[{"exists":false}]}',
    event: '{"d":{},"d":1}',
    expected: false,
  },
  // Repeated keys in the pattern: objects add their fields, a field's last list wins, an operator twice is invalid.
  {
    class: 'pattern-repeated-key',
    pattern: '{"a":{"b":[1]},"a":{"c":[2]}}',
    event: '{"a":{"c":2}}',
    expected: false,
  },
  {
    class: 'pattern-repeated-key',
    pattern: '{"a":{"b":[1]},"a":{"c":[2]}}',
    event: '{"a":{"b":1,"c":2}}',
    expected: true,
  },
  { class: 'pattern-repeated-key', pattern: '{"a":["x"],"a":["y"]}', event: '{"a":"x"}', expected: false },
  {
    class: 'pattern-repeated-key',
    pattern: '{"a":[{"prefix":"x","prefix":"y"}]}',
    event: '{"a":"xy"}',
    expected: 'invalid',
  },
  // anything-but with a number it cannot compare.
  {
    class: 'anything-but-number',
    pattern: '{"b":[{"anything-but":[9007199254740993]}]}',
    event: '{"b":1}',
    expected: 'invalid',
  },
  {
    class: 'anything-but-number',
    pattern: '{"b":[{"anything-but":12345678901234567890}]}',
    event: '{"b":1}',
    expected: 'invalid',
  },
  // Reserved names at every depth inside $or.
  {
    class: 'reserved-in-or',
    pattern: '{"$or":[{"regex":[""]},{"b":[2]}]}',
    event: '{"b":2}',
    expected: 'invalid',
  },
  {
    class: 'reserved-in-or',
    pattern: '{"$or":[{"q":{"regex":[""]}},{"b":[2]}]}',
    event: '{"b":2}',
    expected: 'invalid',
  },
  {
    class: 'reserved-in-or',
    pattern: '{"$or":[{"q":{"prefix":["x"]}},{"b":[2]}]}',
    event: '{"b":2}',
    expected: 'invalid',
  },
  {
    class: 'reserved-in-or',
    pattern: '{"regex":[""],"q":{"<":["x"]}}',
    event: '{"regex":"","q":{"<":"x"}}',
    expected: true,
  },
  // equals-ignore-case outside ASCII: per character, its lower or upper case.
  {
    class: 'ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"ß"}]}',
    event: '{"a":"SS"}',
    expected: true,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"ß"}]}',
    event: '{"a":"ss"}',
    expected: false,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"AΣ"}]}',
    event: '{"a":"aς"}',
    expected: false,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"aσ"}]}',
    event: '{"a":"AΣ"}',
    expected: true,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"prefix":{"equals-ignore-case":"ß"}}]}',
    event: '{"a":"SSx"}',
    expected: true,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"suffix":{"equals-ignore-case":"aσ"}}]}',
    event: '{"a":"xAΣ"}',
    expected: true,
  },
  {
    class: 'ignore-case',
    pattern: '{"a":[{"anything-but":{"equals-ignore-case":"ß"}}]}',
    event: '{"a":"SS"}',
    expected: false,
  },
  { class: 'ignore-case', pattern: '{"a":[{"equals-ignore-case":"ϴ"}]}', event: '{"a":"θ"}', expected: true },
  // Exact strings that are IP addresses compare as addresses.
  { class: 'ip-string', pattern: '{"d":["2001:db8::1"]}', event: '{"d":"2001:DB8:0::1"}', expected: true },
  { class: 'ip-string', pattern: '{"d":["010.0.0.1"]}', event: '{"d":"10.0.0.1"}', expected: true },
  { class: 'ip-string', pattern: '{"d":["::ffff:a00:1"]}', event: '{"d":"10.0.0.1"}', expected: true },
  {
    class: 'ip-string',
    pattern: '{"d":[{"exactly":"2001:db8::1"}]}',
    event: '{"d":"2001:DB8:0::1"}',
    expected: false,
  },
  // cidr against a dotted IPv6 tail: no address to event-ruler.
  {
    class: 'cidr-dotted-tail',
    pattern: '{"a":[{"cidr":"10.0.0.0/24"}]}',
    event: '{"a":"::ffff:10.0.0.1"}',
    expected: false,
  },
  {
    class: 'cidr-dotted-tail',
    pattern: '{"a":[{"cidr":"10.0.0.0/24"}]}',
    event: '{"a":"::ffff:a00:1"}',
    expected: true,
  },
  {
    class: 'cidr-dotted-tail',
    pattern: '{"a":[{"cidr":"::ffff:10.0.0.0/120"}]}',
    event: '{"a":"x"}',
    expected: 'invalid',
  },
  // Exact numbers beyond double precision compare by their text.
  {
    class: 'big-number',
    pattern: '{"a":[12345678901234567890]}',
    event: '{"a":12345678901234567000}',
    expected: false,
  },
  {
    class: 'big-number',
    pattern: '{"a":[12345678901234567890]}',
    event: '{"a":12345678901234567890}',
    expected: true,
  },
  { class: 'big-number', pattern: '{"a":[300]}', event: '{"a":3.0e2}', expected: true },
  // Empty key segments.
  { class: 'empty-key', pattern: '{"":{"d":{"a":["x"]}}}', event: '{"":{"d":{"a":"x"}}}', expected: true },
  { class: 'empty-key', pattern: '{".d":["x"]}', event: '{"":{"d":"x"}}', expected: true },
  { class: 'empty-key', pattern: '{"":["x"]}', event: '{"":"x"}', expected: true },
  // exists:false is checked against the fields before it in path order.
  {
    class: 'exists-false-order',
    pattern: '{"a":{"x":[{"exists":false}],"y":["1"]}}',
    event: '{"a":[{"y":"1"},{"x":"z"}]}',
    expected: false,
  },
  {
    class: 'exists-false-order',
    pattern: '{"a":{"z":[{"exists":false}],"y":["1"]}}',
    event: '{"a":[{"y":"1"},{"z":"z"}]}',
    expected: true,
  },
  // A field that ends on an array may take a scalar inside a nested array element, which binds the outer array for
  // an exists:false field after it.
  {
    class: 'exists-false-order',
    pattern: '{"a":["x"],"a.f":[{"exists":false}]}',
    event: '{"a":["x",{"f":1},["x"]]}',
    expected: true,
  },
  {
    class: 'exists-false-order',
    pattern: '{"a":["x"],"a.f":[{"exists":false}]}',
    event: '{"a":["x",{"f":1}]}',
    expected: false,
  },
  // Subnormal and extreme numbers.
  { class: 'numbers', pattern: '{"a":[5e-324]}', event: '{"a":5e-324}', expected: true },
  {
    class: 'jdk-dependent-number',
    pattern: '{"a":[{"numeric":[">",0]}]}',
    event: '{"a":5e-324}',
    expected: true,
    ruler: false,
  },
  { class: 'numbers', pattern: '{"a":[0]}', event: '{"a":-0}', expected: true },
  { class: 'numbers', pattern: '{"a":[{"numeric":["<",0]}]}', event: '{"a":-0}', expected: false },

  // The policy list: event-ruler is wrong, Junction keeps the right answer.
  {
    class: 'cidr-other-family',
    pattern: '{"a":[{"cidr":"10.0.0.0/8"}]}',
    event: '{"a":"a00::1"}',
    expected: false,
    ruler: true,
  },
  {
    class: 'cidr-other-family',
    pattern: '{"a":[{"cidr":"0.0.0.0/0"}]}',
    event: '{"a":1}',
    expected: false,
    ruler: true,
  },
  {
    class: 'empty-anything-but',
    pattern: '{"a":[{"anything-but":{"prefix":[]}}]}',
    event: '{"a":"x"}',
    expected: 'invalid',
  },
  {
    class: 'astral-ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"𐐀"}]}',
    event: '{"a":"𐐨"}',
    expected: true,
    ruler: false,
  },
  {
    class: 'astral-ignore-case',
    pattern: '{"a":[{"equals-ignore-case":"😀"}]}',
    event: '{"a":"??"}',
    expected: false,
    ruler: true,
  },
  {
    class: 'quote-in-operand',
    pattern: '{"a":[{"prefix":"x\\""}]}',
    event: '{"a":"x"}',
    expected: false,
    ruler: true,
  },
  {
    class: 'empty-top-key',
    pattern: '{"":{"a":["x"]}}',
    event: '{"":{"a":"x"}}',
    expected: true,
    ruler: false,
  },
  { class: 'empty-top-key', pattern: '{"":{"a":["x"]}}', event: '{"a":"x"}', expected: false, ruler: true },
  {
    class: 'trailing-empty-key',
    pattern: '{"a.":["x"]}',
    event: '{"a":{"":"x"}}',
    expected: true,
    ruler: false,
  },
  {
    class: 'largest-double-bound',
    pattern: '{"a":[{"numeric":[">",1.7976931348623157e308]}]}',
    event: '{"a":1}',
    expected: false,
    ruler: 'invalid',
  },
  {
    class: 'strings-beside-range',
    pattern: '{"a":["x",{"numeric":[">",-1,"<",5]},{"prefix":"y"}]}',
    event: '{"a":"x"}',
    expected: true,
    ruler: 'varies',
  },
  {
    class: 'strings-beside-range',
    pattern: '{"c":["x",{"numeric":[">",-2.5]},"y"]}',
    event: '{"c":"x"}',
    expected: true,
    ruler: 'varies',
  },
  {
    class: 'one-array-per-path',
    pattern: '{"a":{"x":[1],"y":[2]}}',
    event: '{"a":[{"x":1}],"a.y":2}',
    expected: false,
    ruler: true,
  },
];
